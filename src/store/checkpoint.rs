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
//!
//! PASSIVE alone can starve: SQLite starts the WAL over only when every
//! frame has been copied back, and a writer that never pauses always adds
//! frames while the copy runs, so the WAL grew without end (21 GB in a
//! 10-minute soak). Past `restart_frames` this thread asks the writer to
//! finish the job: right after its next commit, the writer copies the few
//! frames written since this thread's copy (no commit can run alongside
//! it), and its following commit starts the WAL from the top. A RESTART
//! checkpoint from here did the same but waited in SQLite's busy handler
//! (sleeping) while holding the writer off: p99 5–7 → 12–17 ms.

use super::writer::StoreStats;
use rusqlite::Connection;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

const EVERY: Duration = Duration::from_millis(100);

/// WAL frames (pages) past which a checkpoint makes the WAL start over:
/// 16,384 pages of 4 KiB, 64 MiB.
pub(super) const RESTART_FRAMES: i64 = 16_384;

/// Set by the checkpoint thread when the WAL is long and has just been
/// copied back; taken by the writer thread, which then finishes the copy.
#[derive(Debug, Default)]
pub(super) struct RestartWanted(AtomicBool);

impl RestartWanted {
    pub(super) fn take(&self) -> bool {
        self.0.swap(false, Ordering::AcqRel)
    }
}

/// Copies back what is left of the WAL, on the writer's own connection
/// between two commits; returns whether nothing is left (so the next commit
/// starts the WAL over).
pub(super) fn finish(conn: &Connection) -> bool {
    match checkpoint(conn, "PASSIVE") {
        Ok((frames, copied)) => frames == copied,
        Err(e) => {
            tracing::debug!("checkpoint on the writer: {e}");
            false
        }
    }
}

/// Stops the thread when dropped (its channel closes).
pub(super) struct Checkpointer {
    _stop: mpsc::Sender<()>,
}

/// `(frames in the WAL, frames copied back)` after a checkpoint in `mode`.
fn checkpoint(conn: &Connection, mode: &str) -> rusqlite::Result<(i64, i64)> {
    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
        Ok((r.get(1)?, r.get(2)?))
    })
}

pub(super) fn spawn(
    conn: Connection,
    stats: Arc<StoreStats>,
    restart: Arc<RestartWanted>,
    restart_frames: i64,
) -> Checkpointer {
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
                match checkpoint(&conn, "PASSIVE") {
                    Ok((frames, _)) if frames > restart_frames => {
                        restart.0.store(true, Ordering::Release);
                    }
                    Ok(_) => {}
                    Err(e) => tracing::debug!("checkpoint: {e}"),
                }
            }
        });
    if let Err(e) = spawned {
        // Without it the WAL only shrinks when the last connection closes.
        tracing::error!("cannot start the checkpoint thread: {e}");
    }
    Checkpointer { _stop: stop }
}
