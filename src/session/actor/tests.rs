//! The actor through its public handle, with real tasks and no agent.

use super::*;
use crate::agent::template::Template;
use crate::agent::AgentSpec;
use crate::process::ProcLimits;
use crate::store::Store;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Never started in these tests.
fn never_started() -> AgentSpec {
    AgentSpec::Template(Template::parse("/nonexistent/agent ?", None).unwrap())
}

fn runtime(subscriber_queue: usize) -> SessionRuntime {
    let dir = tempfile::tempdir().unwrap().keep();
    SessionRuntime {
        store: Store::open(&dir).unwrap(),
        tail_cap: 100_000,
        bytes: Default::default(),
        coalesce: Duration::ZERO,
        slots: crate::session::agent_slots::AgentSlots::new(64),
        notices: Default::default(),
        agents: Arc::new(crate::agent::catalog::AgentCatalog::only(never_started())),
        spawner: crate::process::Spawner::start(std::env::temp_dir()).unwrap(),
        limits: ProcLimits {
            max_line_bytes: 1 << 20,
            default_grace: Duration::from_secs(1),
            output_drain: crate::process::OUTPUT_DRAIN,
        },
        subscriber_queue,
        tracker: TaskTracker::new(),
        shutdown: CancellationToken::new(),
        stats: Arc::new(Stats::default()),
    }
}

fn config(history_cap: usize) -> SessionConfig {
    SessionConfig {
        agent: never_started(),
        history_cap,
        tool_cache_cap: 10,
        queue_cap: 4,
        stop_grace: Duration::from_secs(1),
        agent_start_timeout: Duration::from_secs(5),
    }
}

fn session(history_cap: usize, subscriber_queue: usize) -> (SessionHandle, SessionRuntime) {
    let rt = runtime(subscriber_queue);
    (
        SessionHandle::spawn("s", config(history_cap), rt.clone(), Default::default()),
        rt,
    )
}

/// The idle sweep waits on `Registry::session_added` while no session is in
/// memory (an idle server then has no timer). Tried: waiting with none
/// added (no news), a session entering before the wait began (the news is
/// kept: nothing is lost between the sweep's emptiness check and its wait).
#[tokio::test]
async fn the_registry_tells_of_a_session_entering_memory() {
    let registry = crate::session::Registry::new(config(10), runtime(100), 10);
    let quiet = tokio::time::timeout(Duration::from_millis(100), registry.session_added()).await;
    assert!(quiet.is_err(), "no session entered");
    registry.get_or_create("s1").unwrap();
    tokio::time::timeout(Duration::from_secs(5), registry.session_added())
        .await
        .expect("the session that entered before the wait is told");
    // Taking a session that is already in memory is no news.
    registry.get_or_create("s1").unwrap();
    let again = tokio::time::timeout(Duration::from_millis(100), registry.session_added()).await;
    assert!(again.is_err(), "s1 was already in memory");
}

/// Tried: a session with no tab and no events, i.e. quiet from its start.
/// It rings the registry's quiet bell once; the sweep learns when it comes
/// due (and nothing while it is not quiet); once due it is retired.
#[tokio::test]
async fn a_session_turning_quiet_rings_and_the_sweep_knows_when_it_is_due() {
    use crate::session::registry::Sweep;
    let registry = crate::session::Registry::new(config(10), runtime(100), 10);
    let (hour, retry) = (Duration::from_secs(3600), Duration::from_millis(25));
    assert_eq!(
        registry.retire_idle(hour, hour, retry),
        Sweep {
            retired: 0,
            next: None
        },
        "nothing in memory: nothing to look at"
    );
    registry.get_or_create("s1").unwrap();
    tokio::time::timeout(Duration::from_secs(5), registry.session_quiet())
        .await
        .expect("the session turned quiet and said so");
    let sweep = registry.retire_idle(hour, hour, retry);
    assert_eq!(sweep.retired, 0);
    let next = sweep.next.expect("a quiet session has a due time");
    assert!(
        next <= hour && next > hour - Duration::from_secs(60),
        "{next:?}"
    );
    // Still quiet: no second ring for the same spell.
    let again = tokio::time::timeout(Duration::from_millis(100), registry.session_quiet()).await;
    assert!(again.is_err(), "rung twice for one quiet spell");
    let sweep = registry.retire_idle(Duration::ZERO, Duration::ZERO, retry);
    assert_eq!(
        sweep,
        Sweep {
            retired: 1,
            next: None
        }
    );
    assert!(registry.is_empty());
}

/// Seed race 1: 100 concurrent appends through the public handle.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_history_appends_lose_nothing() {
    for cap in [100, 10] {
        let (h, _) = session(cap, 16);
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..100 {
            let h = h.clone();
            tasks.spawn(async move {
                (
                    h.adopt_agent_session(format!("s-{i}")).await.unwrap(),
                    format!("s-{i}"),
                )
            });
        }
        let mut applied = tasks.join_all().await;
        applied.sort();
        let snap = h.snapshot().await.unwrap();
        if cap == 100 {
            let mut got = snap.history.clone();
            got.sort();
            let mut want: Vec<String> = (0..100).map(|i| format!("s-{i}")).collect();
            want.sort();
            assert_eq!(got, want, "all 100 present, once each");
        }
        // Newest last: the history is the tail of the order the actor applied.
        let order: Vec<String> = applied.into_iter().map(|(_, id)| id).collect();
        assert_eq!(snap.history, order[order.len() - cap.min(100)..]);
    }
}

/// Seed race 5: a subscriber that stops reading is dropped; the others get
/// every event and nobody waits for the slow one. The producer is paced by
/// the fast readers (windows of 32 < queue 64), never by the slow one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_subscriber_is_dropped_and_others_get_everything() {
    const QUEUE: usize = 64;
    let (h, rt) = session(10, QUEUE);
    let (private, _keep) = mpsc::channel(64);
    let slow = h.subscribe(1, Some(0), private.clone()).await.unwrap();
    let mut readers = Vec::new();
    let mut progress = Vec::new();
    for conn in 2..5 {
        let mut sub = h.subscribe(conn, Some(0), private.clone()).await.unwrap();
        let (tx, rx) = tokio::sync::watch::channel(0u64);
        progress.push(rx);
        readers.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            while seqs.len() < 400 {
                let f = tokio::time::timeout(Duration::from_secs(10), sub.events.recv())
                    .await
                    .expect("events keep flowing")
                    .expect("a reading subscriber is never dropped");
                let v: serde_json::Value = serde_json::from_str(&f).unwrap();
                seqs.push(v["seq"].as_u64().unwrap());
                let _ = tx.send(seqs.len() as u64);
            }
            seqs
        }));
    }
    for i in 0..400u64 {
        h.adopt_agent_session(format!("id-{i}")).await.unwrap();
        if (i + 1) % 32 == 0 {
            for p in &mut progress {
                tokio::time::timeout(Duration::from_secs(10), p.wait_for(|n| *n > i))
                    .await
                    .expect("fast readers keep up")
                    .unwrap();
            }
        }
    }
    for r in readers {
        assert_eq!(r.await.unwrap(), (1..=400).collect::<Vec<u64>>());
    }
    // The slow one got its queue's worth, then its stream ended.
    let mut slow = slow.events;
    let mut n = 0;
    while tokio::time::timeout(Duration::from_secs(5), slow.recv())
        .await
        .unwrap()
        .is_some()
    {
        n += 1;
    }
    assert_eq!(n, QUEUE);
    assert_eq!(rt.stats.dropped_subscribers.load(Ordering::Relaxed), 1);
}

/// Joining replays exactly what follows `last_seq`, then continues live:
/// no gap, no duplicate, even while events are being produced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_is_gap_free_while_events_flow() {
    let (h, _) = session(10, 100_000);
    let producer = {
        let h = h.clone();
        tokio::spawn(async move {
            for i in 0..2000 {
                h.adopt_agent_session(format!("id-{i}")).await.unwrap();
            }
        })
    };
    let (private, _keep) = mpsc::channel(64);
    let mut subs = Vec::new();
    for conn in 0..20 {
        subs.push(
            h.subscribe(conn, Some(conn * 7), private.clone())
                .await
                .unwrap(),
        );
        tokio::task::yield_now().await;
    }
    producer.await.unwrap();
    for (conn, mut sub) in subs.into_iter().enumerate() {
        let mut seqs: Vec<u64> = sub
            .replay
            .iter()
            .map(|f| {
                serde_json::from_str::<serde_json::Value>(f).unwrap()["seq"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        while seqs.last() != Some(&2000) {
            let f = sub.events.recv().await.unwrap();
            seqs.push(
                serde_json::from_str::<serde_json::Value>(&f).unwrap()["seq"]
                    .as_u64()
                    .unwrap(),
            );
        }
        // Starts right after last_seq (or at the first event produced after
        // joining, if last_seq was ahead of the log), then every seq once.
        let from = seqs[0];
        assert!(from <= conn as u64 * 7 + 1, "conn {conn} starts at {from}");
        assert!(
            seqs == (from..=2000).collect::<Vec<_>>(),
            "conn {conn}: gap or duplicate"
        );
    }
}
