//! The store under writing that never pauses.

use super::*;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// `events` appended to `session`, as its actor sends them, reported on
/// the session's `commit`.
fn append(session: &str, events: Vec<(u64, Frame)>, commit: &Arc<watch::Sender<Commit>>) -> Cmd {
    Cmd::Append {
        session: session.into(),
        agent: "claude".into(),
        events,
        commit: commit.clone(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn constant_writing_cannot_grow_the_wal_without_end() {
    // What was tried: 100 sessions each appending an event every 10 ms for
    // three seconds (10,000 events/s, the soak's order of magnitude), one
    // command per event, never waiting for a commit: the writer is never
    // idle long enough for a PASSIVE checkpoint to copy everything, which
    // SQLite needs before the WAL can start over. With the WAL made to start
    // over past 256 pages (1 MiB), its file must stay small; before, it grew
    // by the whole write volume (~300 MB here, 21 GB in a 10-minute soak).
    let dir = tempfile::tempdir().unwrap();
    let options = StoreOptions {
        wal_restart_frames: 256,
        ..StoreOptions::default()
    };
    let store = Store::open_with(dir.path(), options).unwrap();
    let wal = dir.path().join(format!("{DB_FILE}-wal"));
    let sessions: Vec<Arc<str>> = (0..100).map(|i| format!("s{i}").into()).collect();
    let (commit, _) = watch::channel(Commit::default());
    let commit = Arc::new(commit);
    let frame: Frame = format!(r#"{{"type":"claudejson","content":"{}"}}"#, "x".repeat(300)).into();
    let (mut largest, mut seq) = (0, 0);
    let until = Instant::now() + Duration::from_secs(3);
    // The pace of the writing agents, not a synchronisation.
    let mut pace = tokio::time::interval(Duration::from_millis(10));
    while Instant::now() < until {
        pace.tick().await;
        seq += 1;
        for s in &sessions {
            store
                .send_for_bench(append(s, vec![(seq, frame.clone())], &commit))
                .await;
        }
        largest = largest.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
    }
    tokio::time::timeout(Duration::from_secs(30), store.flush())
        .await
        .expect("the writer drains")
        .unwrap();
    let written = seq * sessions.len() as u64;
    let restarts = store.stats.wal_restarts.load(Ordering::Relaxed);
    eprintln!(
        "{written} events, largest WAL {} KiB, {restarts} restarts",
        largest / 1024
    );
    assert!(restarts > 0, "the WAL was made to start over");
    assert!(
        largest < 24 * 1024 * 1024,
        "WAL reached {} MiB while writing {written} events",
        largest >> 20
    );
}

#[tokio::test]
async fn the_data_folder_and_database_are_private_to_their_owner() {
    // Tried: a data folder that already exists 0755 with a database 0644
    // (what earlier versions made: every local user could read every
    // conversation). Both are tightened, and the WAL files SQLite makes
    // next to the database take its mode.
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let t = tempfile::tempdir().unwrap();
    let fresh = t.path().join("a/b/data");
    let store = Store::open(&fresh).unwrap();
    let commit = Arc::new(watch::channel(Commit::default()).0);
    let frame: Frame = r#"{"type":"claudejson","content":"x"}"#.into();
    store
        .send_for_bench(append("s1", vec![(1, frame)], &commit))
        .await;
    store.flush().await.unwrap();
    assert_eq!(mode(&fresh), 0o700);
    for f in [
        DB_FILE,
        LOCK_FILE,
        &format!("{DB_FILE}-wal"),
        &format!("{DB_FILE}-shm"),
    ] {
        assert_eq!(mode(&fresh.join(f)), 0o600, "{f}");
    }
    drop(store);

    let old = t.path().join("old");
    std::fs::create_dir(&old).unwrap();
    std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(old.join(DB_FILE), "").unwrap();
    std::fs::set_permissions(old.join(DB_FILE), std::fs::Permissions::from_mode(0o644)).unwrap();
    let _store = Store::open(&old).unwrap();
    assert_eq!(mode(&old), 0o700);
    assert_eq!(mode(&old.join(DB_FILE)), 0o600);
}

/// Reads across rows that each hold a burst of events: what was tried is a
/// session written as bursts of 30 small events, a big event, an event
/// offered twice (after a failure), then every kind of read cutting rows in
/// the middle. Each read returns exactly the events asked for.
#[tokio::test]
async fn reads_cut_rows_of_many_events_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let (commit, mut committed) = watch::channel(Commit::default());
    let commit = Arc::new(commit);
    let frame =
        |seq: u64| -> Frame { format!(r#"{{"seq":{seq},"pad":"{}"}}"#, "p".repeat(80)).into() };
    let big: Frame = format!(r#"{{"big":"{}"}}"#, "b".repeat(200_000)).into();
    let mut all: Vec<(u64, Frame)> = (1..=90).map(|s| (s, frame(s))).collect();
    all.push((91, big.clone()));
    all.extend((92..=120).map(|s| (s, frame(s))));
    let send = |events: Vec<(u64, Frame)>| append("s", events, &commit);
    for burst in all[..90].chunks(30) {
        store.send_for_bench(send(burst.to_vec())).await;
    }
    // 85..=91 again: the stored ones are not stored twice.
    store.send_for_bench(send(all[84..91].to_vec())).await;
    store.send_for_bench(send(all[91..].to_vec())).await;
    tokio::time::timeout(
        Duration::from_secs(10),
        committed.wait_for(|c| c.committed == 120),
    )
    .await
    .expect("committed")
    .unwrap();
    let seqs = |page: &[(u64, Frame)]| page.iter().map(|(s, _)| *s).collect::<Vec<_>>();

    let page = store
        .events("s", 0, u64::MAX, 10_000, usize::MAX)
        .await
        .unwrap();
    assert_eq!(page, all, "every event once, in order");
    let page = store.events("s", 25, 64, 10_000, usize::MAX).await.unwrap();
    assert_eq!(seqs(&page), (26..64).collect::<Vec<_>>());
    let page = store
        .events("s", 25, u64::MAX, 7, usize::MAX)
        .await
        .unwrap();
    assert_eq!(seqs(&page), (26..33).collect::<Vec<_>>(), "limit in events");
    // A byte budget of three small frames.
    let one = frame(40).len();
    let page = store.events("s", 40, u64::MAX, 100, one * 3).await.unwrap();
    assert_eq!(seqs(&page), vec![41, 42, 43]);
    // The big event is a page of its own when the budget is small.
    let page = store.events("s", 90, u64::MAX, 100, 10).await.unwrap();
    assert_eq!(seqs(&page), vec![91]);

    let loaded = store.load("s", 15, usize::MAX).await.unwrap().unwrap();
    assert_eq!(loaded.last_seq, 120);
    assert_eq!(
        seqs(&loaded.tail),
        (106..=120).collect::<Vec<_>>(),
        "tail in events"
    );
    let loaded = store
        .load("s", 1_000, frame(120).len() * 5)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        seqs(&loaded.tail),
        (116..=120).collect::<Vec<_>>(),
        "tail in bytes"
    );
    // The big event is beyond the budget: the tail stops after it.
    let loaded = store.load("s", 1_000, 100_000).await.unwrap().unwrap();
    assert_eq!(seqs(&loaded.tail), (92..=120).collect::<Vec<_>>());
    let listed = store.session("s").await.unwrap().unwrap();
    assert_eq!((listed.event_count, listed.last_seq), (120, 120));
}

/// A meta save whose history is the one written last leaves the
/// conversations index as it is. Tried: the same history saved again, one
/// id added, one dropped, the session deleted and made again under its id
/// with another history; after each, the index holds exactly the
/// session's history.
#[tokio::test]
async fn the_conversations_index_follows_the_history_it_skips_rewriting() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let ids = || ["a", "b", "c"].map(String::from).to_vec();
    let save = |history: &[&str]| Cmd::SaveMeta {
        session: "s".into(),
        agent: "claude".into(),
        meta: SessionMeta {
            history: history.iter().map(|h| h.to_string()).collect(),
            ..Default::default()
        },
    };
    let owned = |store: Store| async move {
        store.flush().await.unwrap();
        let mut v: Vec<String> = store
            .owned_agent_sessions(ids())
            .await
            .unwrap()
            .into_iter()
            .collect();
        v.sort();
        v
    };
    store.send_for_bench(save(&["a"])).await;
    assert_eq!(owned(store.clone()).await, ["a"]);
    store.send_for_bench(save(&["a"])).await;
    assert_eq!(owned(store.clone()).await, ["a"]);
    store.send_for_bench(save(&["a", "b"])).await;
    assert_eq!(owned(store.clone()).await, ["a", "b"]);
    store.send_for_bench(save(&["b"])).await;
    assert_eq!(owned(store.clone()).await, ["b"]);
    assert!(store.delete("s").await.unwrap());
    assert!(owned(store.clone()).await.is_empty());
    store.send_for_bench(save(&["b"])).await;
    assert_eq!(owned(store.clone()).await, ["b"], "a session made again");
    store.send_for_bench(save(&["c"])).await;
    assert_eq!(owned(store.clone()).await, ["c"]);
}

/// Group commit (`--commit-interval`). Tried: 20 sessions appending an
/// event each every millisecond or two for 300 ms (one command per event,
/// as actors send them, never waiting for a commit), with an interval of
/// 50 ms. Each commit starts at least the interval after the previous one
/// ended, so the whole run holds at most its length over the interval
/// (plus one) transactions, and every event is stored; without the
/// interval the writer committed as the commands came, ~one per command.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_under_load_are_grouped_by_the_interval() {
    let dir = tempfile::tempdir().unwrap();
    let interval = Duration::from_millis(50);
    let options = StoreOptions {
        commit_interval: interval,
        ..StoreOptions::default()
    };
    let store = Store::open_with(dir.path(), options).unwrap();
    let sessions: Vec<Arc<str>> = (0..20).map(|i| format!("s{i}").into()).collect();
    // A watch per session, as each session has.
    let mut watches: Vec<_> = sessions
        .iter()
        .map(|_| {
            let (tx, rx) = watch::channel(Commit::default());
            (Arc::new(tx), rx)
        })
        .collect();
    let frame: Frame = r#"{"type":"claudejson","content":"x"}"#.into();
    let started = Instant::now();
    let before = store.stats.batches.load(Ordering::SeqCst);
    let mut seq = 0;
    // The pace of the writing agents, not a synchronisation.
    let mut pace = tokio::time::interval(Duration::from_millis(1));
    while started.elapsed() < Duration::from_millis(300) {
        pace.tick().await;
        seq += 1;
        for (s, (commit, _)) in sessions.iter().zip(&watches) {
            store
                .send_for_bench(append(s, vec![(seq, frame.clone())], commit))
                .await;
        }
    }
    tokio::time::timeout(Duration::from_secs(30), store.flush())
        .await
        .expect("the writer drains")
        .unwrap();
    let took = started.elapsed();
    let transactions = store.stats.batches.load(Ordering::SeqCst) - before;
    let bound = (took.as_millis() / interval.as_millis()) as u64 + 1;
    eprintln!(
        "{seq} rounds of 20 appends in {took:?}: {transactions} transactions (at most {bound})"
    );
    assert!(
        transactions <= bound,
        "{transactions} transactions in {took:?} with a {interval:?} interval"
    );
    for (s, (_, committed)) in sessions.iter().zip(watches.iter_mut()) {
        // The flush's reply may come just before the sessions are told.
        tokio::time::timeout(
            Duration::from_secs(10),
            committed.wait_for(|c| c.committed == seq),
        )
        .await
        .unwrap_or_else(|_| panic!("{s}: every event is durable"))
        .unwrap();
        let stored = store
            .events(s, 0, u64::MAX, 10_000, usize::MAX)
            .await
            .unwrap();
        assert_eq!(stored.len() as u64, seq, "{s}");
    }
}

/// The interval is a gap after a commit, never a delay before the first
/// one: tried with an interval of 30 s, a store's first append is durable
/// well within it (the next one would wait).
#[tokio::test]
async fn a_commit_after_a_quiet_spell_is_not_delayed() {
    let dir = tempfile::tempdir().unwrap();
    let options = StoreOptions {
        commit_interval: Duration::from_secs(30),
        ..StoreOptions::default()
    };
    let store = Store::open_with(dir.path(), options).unwrap();
    let (commit, mut committed) = watch::channel(Commit::default());
    let frame: Frame = r#"{"type":"claudejson","content":"x"}"#.into();
    store
        .send_for_bench(append("s", vec![(1, frame)], &Arc::new(commit)))
        .await;
    tokio::time::timeout(
        Duration::from_secs(10),
        committed.wait_for(|c| c.committed == 1),
    )
    .await
    .expect("durable well within the interval")
    .unwrap();
}
