//! The store under writing that never pauses.

use super::*;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

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
    let store = Store::open_tuned(dir.path(), 256).unwrap();
    let wal = dir.path().join(format!("{DB_FILE}-wal"));
    let sessions: Vec<Arc<str>> = (0..100).map(|i| format!("s{i}").into()).collect();
    let agent: Arc<str> = "claude".into();
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
            let cmd = Cmd::Append {
                session: s.clone(),
                agent: agent.clone(),
                events: vec![(seq, frame.clone())],
                commit: commit.clone(),
            };
            store.send_for_bench(cmd).await;
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
