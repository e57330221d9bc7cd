//! `--coalesce`: a streaming turn's output may wait so that one commit and
//! one write per tab carry several events. These sessions hold output for
//! five minutes (the flag allows at most one second; the runtime takes any
//! value), so anything that arrives within the tests' 30 s wait was sent
//! because it must not be held, not because the hold ran out.

mod support;

use serde_json::Value;
use std::sync::atomic::Ordering;
use std::time::Duration;
use support::*;
use swe_swe::protocol::client::Decision;
use swe_swe::session::actor::{SessionHandle, SessionRuntime, Subscription};
use swe_swe::session::state::Input;
use swe_swe::session::Registry;
use tokio::sync::mpsc;

const HOLD: Duration = Duration::from_secs(300);

/// One session holding output for `HOLD`, with one tab joined.
struct Held {
    dir: tempfile::TempDir,
    rt: SessionRuntime,
    registry: Registry,
    h: SessionHandle,
    tab: Tab,
}

impl Held {
    async fn start(session: &str) -> Held {
        let dir = tempfile::tempdir().unwrap();
        let agent = in_process::duplex_fake_agent(dir.path());
        let rt = in_process::runtime(dir.path(), &agent, HOLD);
        let registry = in_process::registry(agent, &rt);
        let h = registry.get_or_create(session).unwrap();
        let (private, _) = mpsc::channel(16);
        let sub = h.subscribe(1, Some(0), private.clone()).await.unwrap();
        Held {
            dir,
            rt,
            registry,
            h,
            tab: Tab { sub, private },
        }
    }

    async fn end(self) {
        in_process::shut_down(&self.rt, &self.registry).await;
    }
}

struct Tab {
    sub: Subscription,
    /// The tab's own replies; kept so the session can reach it.
    private: mpsc::Sender<swe_swe::protocol::server::Frame>,
}

impl Tab {
    async fn say(&self, h: &SessionHandle, text: &str) {
        let input = Input::UserMessage {
            from: 1,
            content: text.into(),
            agent_session_hint: None,
            attachments: Vec::new(),
        };
        h.input(input, Some(self.private.clone())).await.unwrap();
    }

    /// Events until (and with) the first of type `t`; fails after `WAIT`.
    async fn until(&mut self, t: &str) -> Vec<Value> {
        let mut seen = Vec::new();
        loop {
            let f = tokio::time::timeout(WAIT, self.sub.events.recv())
                .await
                .unwrap_or_else(|_| panic!("no {t} within {WAIT:?}; saw {seen:?}"))
                .expect("the session ended");
            let v: Value = serde_json::from_str(&f).unwrap();
            let done = v["type"] == t;
            seen.push(v);
            if done {
                return seen;
            }
        }
    }
}

/// Tried: 40 agent lines 1 ms apart under a five-minute hold. Every line
/// reaches the tab in order with no seq missing as soon as the turn ends
/// (its end is never held), in far fewer commits than lines.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_streams_in_few_commits_and_its_end_is_not_held() {
    let mut s = Held::start("coalesced").await;
    let (h, t) = (&s.h, &mut s.tab);
    t.say(h, "lines 40 0 1000").await;
    // The message and the turn's start are not held either.
    t.until("exec_start").await;
    let before = s.rt.store.stats.batches.load(Ordering::SeqCst);
    let frames = t.until("exec_end").await;
    let commits = s.rt.store.stats.batches.load(Ordering::SeqCst) - before;
    let texts: Vec<String> = frames
        .iter()
        .filter(|v| v["type"] == "claudejson")
        .filter_map(|v| v["content"].as_str())
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter_map(|v| {
            v["message"]["content"][0]["text"]
                .as_str()
                .map(str::to_owned)
        })
        .filter(|text| text.starts_with("line "))
        .collect();
    let want: Vec<String> = (0..40).map(|i| format!("line {i}")).collect();
    assert_eq!(texts, want, "every line, in order");
    let seqs: Vec<u64> = frames.iter().filter_map(|v| v["seq"].as_u64()).collect();
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "no seq missing: {seqs:?}"
    );
    // Without the hold: a commit per line or per few lines. With it: the
    // lines wait for the turn's end and go in one or two.
    assert!(commits <= 5, "{commits} commits for 40 lines");
    s.end().await;
}

/// Tried: a Write that needs approval, under a five-minute hold. The
/// question reaches the tab at once (the agent waits for it), the answer
/// goes through, and the turn ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permission_question_is_not_held() {
    let mut s = Held::start("asking").await;
    let (h, t) = (&s.h, &mut s.tab);
    t.say(h, "write held.txt").await;
    let frames = t.until("permission_request").await;
    assert!(
        frames.iter().any(|v| v["type"] == "claudejson"
            && v["content"]
                .as_str()
                .is_some_and(|d| d.contains("tool_use"))),
        "the tool call before the question came with it"
    );
    let request_id = frames.last().unwrap()["requestId"]
        .as_str()
        .unwrap()
        .to_owned();
    let answer = Input::PermissionAnswer {
        from: 1,
        request_id,
        decision: Decision::Allow,
        reason: None,
        answers: None,
        option_id: None,
    };
    h.input(answer, Some(t.private.clone())).await.unwrap();
    t.until("exec_end").await;
    assert!(s.dir.path().join("held.txt").exists());
    s.end().await;
}

/// Tried: the agent's first line is held, and then someone asks the
/// session something (here a snapshot; a tab joining, a message or a stop
/// are requests alike). The held line goes out with that request, not when
/// the hold ends; then a stop ends the turn.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_to_the_session_sends_what_was_held() {
    let mut s = Held::start("asked").await;
    let (h, t) = (&s.h, &mut s.tab);
    t.say(h, "hold").await;
    let run_id = t.until("exec_start").await.last().unwrap()["runId"].as_u64();
    // Each snapshot is a request; the loop ends once one came after the
    // agent's line (no timer involved: the hold is five minutes).
    let seen_pid = async {
        loop {
            h.snapshot().await.unwrap();
            while let Ok(f) = t.sub.events.try_recv() {
                if f.contains("fake_pid") {
                    return;
                }
            }
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(WAIT, seen_pid)
        .await
        .expect("the held line went out with a request");
    h.input(Input::Stop { from: 1, run_id }, Some(t.private.clone()))
        .await
        .unwrap();
    t.until("exec_end").await;
    s.end().await;
}
