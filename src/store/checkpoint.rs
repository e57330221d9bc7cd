//! WAL checkpoints off the commit path. SQLite's automatic checkpoint runs
//! inside the commit that fills the WAL, so that one commit (and every event
//! waiting for it) took 6–9 ms instead of ~0.1 ms. Here the writer's
//! automatic checkpoint is off and this thread, with its own connection,
//! copies the WAL back into the database every `EVERY` (PASSIVE: it never
//! blocks the writer or readers, it only does what they allow).
//!
//! Often and small beats rare and large: at 5,000 events/s the WAL grows by
//! ~65 MB/s, and copying half a second of it at once competed with the
//! commits; at 100 ms the 1,000-connection p99 went from 6.2–8.9 ms to
//! 4.3–6.9 ms (docs/PERFORMANCE.md). A quiet store is not checkpointed.

use super::writer::StoreStats;
use rusqlite::Connection;
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc};
use std::time::Duration;

const EVERY: Duration = Duration::from_millis(100);

/// Stops the thread when dropped (its channel closes).
pub(super) struct Checkpointer {
    _stop: mpsc::Sender<()>,
}

pub(super) fn spawn(conn: Connection, stats: Arc<StoreStats>) -> Checkpointer {
    let (stop, rx) = mpsc::channel::<()>();
    let spawned = std::thread::Builder::new()
        .name("swe-swe-checkpoint".into())
        .spawn(move || {
            // The timed wait is the pace; a closed channel (the store was
            // dropped) ends the loop.
            let mut seen = 0;
            while let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(EVERY) {
                let batches = stats.batches.load(Ordering::Relaxed);
                if batches == seen {
                    continue;
                }
                seen = batches;
                if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                    tracing::debug!("checkpoint: {e}");
                }
            }
        });
    if let Err(e) = spawned {
        // Without it the WAL only shrinks when the last connection closes.
        tracing::error!("cannot start the checkpoint thread: {e}");
    }
    Checkpointer { _stop: stop }
}
