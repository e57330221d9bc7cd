//! WAL checkpoints off the commit path. SQLite's automatic checkpoint runs
//! inside the commit that fills the WAL, so that one commit (and every event
//! waiting for it) took 6–9 ms instead of ~0.1 ms. Here the writer's
//! automatic checkpoint is off and this thread, with its own connection,
//! copies the WAL back into the database at most every `EVERY` while commits
//! come (PASSIVE: it never blocks the writer or readers, it only does what
//! they allow), and sleeps without a timer while none do.
//!
//! Often and small beats rare and large: at 5,000 events/s the WAL grows by
//! ~65 MB/s, and copying half a second of it at once competed with the
//! commits; at 100 ms the 1,000-connection p99 went from 6.2–8.9 ms to
//! 4.3–6.9 ms (docs/PERFORMANCE.md).
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
use std::time::{Duration, Instant};

const EVERY: Duration = Duration::from_millis(100);

/// WAL frames (pages) past which a checkpoint makes the WAL start over:
/// 16,384 pages of 4 KiB, 64 MiB.
pub(super) const RESTART_FRAMES: i64 = 16_384;

/// What the writer and the checkpoint thread tell each other.
#[derive(Debug, Default)]
struct Signals {
    /// Set by the checkpoint thread when the WAL is long and has just been
    /// copied back; taken by the writer, which then finishes the copy.
    restart: AtomicBool,
    /// Set while the checkpoint thread waits for a commit, nothing to copy.
    idle: AtomicBool,
}

/// The writer's end: it rings after each commit, which wakes the checkpoint
/// thread only if it waits idle; an idle store wakes no thread at all
/// (it polled ten times a second). Dropping it ends the thread.
pub(super) struct Bell {
    signals: Arc<Signals>,
    tx: mpsc::SyncSender<()>,
}

impl Bell {
    /// Whether the checkpoint thread asked for the WAL to start over.
    pub(super) fn take_restart(&self) -> bool {
        self.signals.restart.swap(false, Ordering::AcqRel)
    }

    /// Called after a batch was counted in `StoreStats::batches`.
    pub(super) fn committed(&self) {
        // Invariant (with the thread's loop): the thread sets `idle` before
        // it reads `batches`, the writer counts the batch before it swaps
        // `idle` (all SeqCst); so either the thread sees the new count, or
        // the writer sees it idle and rings.
        if self.signals.idle.swap(false, Ordering::SeqCst) {
            let _ = self.tx.try_send(());
        }
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

/// `(frames in the WAL, frames copied back)` after a checkpoint in `mode`.
fn checkpoint(conn: &Connection, mode: &str) -> rusqlite::Result<(i64, i64)> {
    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
        Ok((r.get(1)?, r.get(2)?))
    })
}

/// Starts the checkpoint thread; it ends when the returned bell is dropped.
pub(super) fn spawn(conn: Connection, stats: Arc<StoreStats>, restart_frames: i64) -> Bell {
    let signals = Arc::new(Signals::default());
    let (tx, rx) = mpsc::sync_channel::<()>(1);
    let theirs = signals.clone();
    let spawned = std::thread::Builder::new()
        .name("swe-swe-checkpoint".into())
        .spawn(move || {
            let signals = theirs;
            let mut seen = stats.batches.load(Ordering::SeqCst);
            loop {
                // Idle until a commit comes (see `Bell::committed`); a
                // closed channel (the writer is gone) ends the loop.
                signals.idle.store(true, Ordering::SeqCst);
                if stats.batches.load(Ordering::SeqCst) == seen && rx.recv().is_err() {
                    return;
                }
                signals.idle.store(false, Ordering::SeqCst);
                // The pace: what is committed within EVERY is copied in one
                // pass. No ring comes while not idle, but one sent just
                // before may be waiting: the deadline, not a ring, ends it.
                let due = Instant::now() + EVERY;
                loop {
                    match rx.recv_timeout(due.saturating_duration_since(Instant::now())) {
                        Ok(()) => continue,
                        Err(mpsc::RecvTimeoutError::Timeout) => break,
                        Err(mpsc::RecvTimeoutError::Disconnected) => return,
                    }
                }
                seen = stats.batches.load(Ordering::SeqCst);
                match checkpoint(&conn, "PASSIVE") {
                    Ok((frames, _)) if frames > restart_frames => {
                        signals.restart.store(true, Ordering::Release);
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
    Bell { signals, tx }
}
