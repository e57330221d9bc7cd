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
    let (commit, _) = watch::channel(Commit::default());
    let frame: Frame = r#"{"type":"claudejson","content":"x"}"#.into();
    store
        .send_for_bench(Cmd::Append {
            session: "s1".into(),
            agent: "claude".into(),
            events: vec![(1, frame)],
            commit: Arc::new(commit),
        })
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
