//! The seed report's races, against a real server and real processes.

mod support;

/// These tests fire messages far faster than a person could; the
/// per-connection rate limit is not what they test.
const FAST_CLIENT: [&str; 2] = ["--max-messages-per-sec", "1000000"];

use serde_json::{json, Value};
use std::collections::BTreeSet;
use support::*;

fn pid_pgid(text: &str) -> Option<(i32, i32)> {
    let mut w = text.split_whitespace();
    match (w.next(), w.next(), w.next(), w.next()) {
        (Some("pid"), Some(p), Some("pgid"), Some(g)) => Some((p.parse().ok()?, g.parse().ok()?)),
        _ => None,
    }
}

/// Seed race 2. 1,000 cycles: run N holds; run N+1 is queued behind it; a
/// stop for run N is sent twice, so the second one races the start of N+1.
/// Run N+1 is never signalled, every run's process group is gone when its
/// `exec_end` arrives, and no zombie is left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_of_run_n_never_reaches_run_n_plus_1() {
    let cycles: u64 = std::env::var("RACE_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let server = Server::template()
        .args(FAST_CLIENT)
        .args(["--stop-grace", "2s"])
        .start()
        .await;
    let log = server.signal_log();
    drop(server);
    let server = Server::template()
        .args(FAST_CLIENT)
        .args(["--stop-grace", "2s"])
        .env("FAKE_AGENT_SIGNAL_LOG", log.to_string_lossy())
        .start()
        .await;
    let mut c = server.joined("race").await;
    let mut held = BTreeSet::new();
    let mut quick = BTreeSet::new();
    for i in 0..cycles {
        let n = 2 * i + 1;
        c.message("hold").await;
        // Run N is up once it printed its pid; then queue N+1 and stop N
        // twice, back to back: the second stop races the start of N+1.
        let mut frames = c.recv_until(|v| v["type"] == "content").await;
        c.message("whoami").await;
        c.send(json!({"type":"stop","runId":n})).await;
        c.send(json!({"type":"stop","runId":n})).await;
        frames.extend(
            c.recv_until(|v| v["type"] == "exec_end" && v["runId"] == n + 1)
                .await,
        );
        let ends: Vec<&Value> = of_type(&frames, "exec_end");
        assert_eq!(ends.len(), 2, "cycle {i}: {frames:?}");
        assert_eq!(ends[0]["runId"], n);
        assert_eq!(ends[0]["status"], "stopped", "cycle {i}");
        assert_eq!(
            ends[1]["status"], "success",
            "cycle {i}: run N+1 ran to its end: {frames:?}"
        );
        let mut pids = of_type(&frames, "content")
            .into_iter()
            .filter_map(|v| pid_pgid(v["content"].as_str()?));
        let (hold_pid, hold_pgid) = pids.next().expect("hold printed its pid");
        let Some((quick_pid, quick_pgid)) = pids.next() else {
            panic!("whoami printed no pid: {frames:?}")
        };
        assert_eq!(hold_pid, hold_pgid, "the agent leads its own process group");
        assert_eq!(quick_pid, quick_pgid);
        assert!(
            group_gone(hold_pgid) && group_members(hold_pgid).is_empty(),
            "cycle {i}: group of run N outlived its exec_end"
        );
        assert!(
            group_gone(quick_pgid) && group_members(quick_pgid).is_empty(),
            "cycle {i}: group of run N+1 outlived its exec_end"
        );
        held.insert(hold_pid);
        quick.insert(quick_pid);
    }
    let signalled: BTreeSet<i32> = read(&log)
        .lines()
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect();
    assert!(signalled.is_disjoint(&quick), "a run N+1 was signalled");
    assert!(signalled.is_subset(&held));
    assert!(zombies_of(server.pid()).is_empty(), "unreaped children");
    assert!(children_of(server.pid()).is_empty(), "agent processes left");
}

/// Seed race 3. Tab A keeps replacing the permission value (legacy answers
/// carry the whole allowed list and the skip flag); tab B starts runs at the
/// same time. Every run's command line holds exactly one written value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_run_sees_one_whole_permission_value() {
    const N: usize = 60;
    let server = Server::claude()
        .args(FAST_CLIENT)
        .args(["--claude-mode", "classic", "--queue-cap", "100"])
        .start()
        .await;
    let mut a = server.joined("perm").await;
    let mut b = server.joined("perm").await;
    let writer = tokio::spawn(async move {
        for i in 0..N {
            a.send(json!({"type":"permission_response","allowedTools":[format!("T{i}a"), format!("T{i}b")],
                "skipPermissions": i % 2 == 0}))
                .await;
        }
        a
    });
    for _ in 0..N {
        b.message("argv").await;
    }
    let _a = writer.await.unwrap();
    let mut seen = 0;
    while seen < N {
        let frames = b.until_type("exec_end").await;
        for line in claude_lines(&frames)
            .into_iter()
            .filter(|l| l["type"] == "fake_argv")
        {
            let argv: Vec<String> = serde_json::from_value(line["argv"].clone()).unwrap();
            let tools: BTreeSet<String> = argv
                .iter()
                .filter_map(|a| a.strip_prefix("--allowedTools="))
                .flat_map(|t| t.split(',').map(str::to_owned))
                .collect();
            let skip = argv.iter().any(|a| a == "--dangerously-skip-permissions");
            let whole = tools.is_empty() && !skip
                || (0..N).any(|i| {
                    tools == [format!("T{i}a"), format!("T{i}b")].into() && skip == (i % 2 == 0)
                });
            assert!(whole, "torn permission value: tools {tools:?} skip {skip}");
            seen += 1;
        }
    }
}

/// Seed race 5, end to end: a tab that never reads is closed (4001) while
/// three reading tabs of the same session get every event, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_tab_is_dropped_without_hurting_the_others() {
    const LINES: usize = 40_000;
    let server = Server::claude()
        .args(FAST_CLIENT)
        .args(["--subscriber-queue", "4096", "--tail-cap", "100000"])
        .start()
        .await;
    let mut stuck = server.joined("fan").await;
    let mut readers = Vec::new();
    for _ in 0..3 {
        let mut c = server.joined("fan").await;
        readers.push(tokio::spawn(async move {
            // Only the seq is read, so the readers stay cheap.
            let mut seqs = Vec::new();
            loop {
                let t = c.recv_text().await;
                seqs.push(seq_of(&t).expect("every event has a seq"));
                if t.contains(r#""type":"exec_end""#) {
                    return seqs;
                }
            }
        }));
    }
    let mut sender = server.joined("fan").await;
    // 40,000 lines of 1 KB: far more than socket buffers and the queue hold.
    sender.message(&format!("lines {LINES} 1000")).await;
    sender.close().await;
    let mut all = Vec::new();
    for r in readers {
        all.push(r.await.unwrap());
    }
    for seqs in &all {
        assert!(seqs.len() > LINES);
        assert_eq!(
            *seqs,
            (1..=seqs.len() as u64).collect::<Vec<_>>(),
            "gap or duplicate"
        );
    }
    // The stuck tab, read at last: some frames, then the close telling it to
    // reconnect with lastSeq.
    let mut last_seq = 0;
    let why = loop {
        match stuck.try_recv(WAIT).await {
            Ok(v) => last_seq = v["seq"].as_u64().unwrap_or(last_seq),
            Err(why) => break why,
        }
    };
    assert_eq!(why, "close 4001", "after seq {last_seq}");
    assert!(
        last_seq < all[0].len() as u64,
        "the stuck tab did not get everything"
    );
    // It reconnects and replays exactly what it missed.
    let mut again = server.client().await;
    again
        .send(json!({"type":"hello","session":"fan","lastSeq":last_seq}))
        .await;
    let hello = again.recv().await;
    assert_eq!(hello["type"], "session");
    let first = again.recv().await;
    assert_eq!(first["seq"], last_seq + 1);
}

/// Seed race 4. Twenty sessions emit tool_use blocks concurrently (1,500
/// each, over the 1,000 bound) through the public handles: nothing panics
/// and every session's cache stays within its bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_tool_use_keeps_every_cache_bounded() {
    use swe_swe::session::state::Input;

    let state = tempfile::tempdir().unwrap();
    let agent = in_process::duplex_fake_agent(state.path());
    let rt = in_process::runtime(state.path(), &agent, std::time::Duration::ZERO);
    let registry = in_process::registry(agent, &rt);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..20u64 {
        let h = registry.get_or_create(&format!("tools-{i}")).unwrap();
        tasks.spawn(async move {
            let (private, _keep) = tokio::sync::mpsc::channel(16);
            let mut sub = h.subscribe(i, Some(0), private.clone()).await.unwrap();
            h.input(
                Input::UserMessage {
                    from: i,
                    content: "tools 1500".into(),
                    agent_session_hint: None,
                    attachments: Vec::new(),
                },
                Some(private),
            )
            .await
            .unwrap();
            loop {
                let f = tokio::time::timeout(WAIT, sub.events.recv())
                    .await
                    .unwrap()
                    .unwrap();
                if f.contains(r#""type":"exec_end""#) {
                    assert!(f.contains(r#""status":"success""#), "{f}");
                    break;
                }
            }
            h.snapshot().await.unwrap().tool_cache_len
        });
    }
    while let Some(len) = tasks.join_next().await {
        assert_eq!(len.unwrap(), 1000, "full, and never over the bound");
    }
    in_process::shut_down(&rt, &registry).await;
}
