//! What the registry may know of a session actor without asking it: since
//! when it has been quiet (no tab, no turn, nothing queued, everything
//! saved) and whether an agent process is still alive. Only the actor writes
//! it, at the end of each step; the registry's sweeper reads it, and is rung
//! when the session turns quiet, so it need not poll.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

#[derive(Debug, Default)]
pub struct Activity {
    /// Shared by the registry's sessions: rung when one turns quiet.
    bell: Arc<Notify>,
    /// Milliseconds (of `now_ms`) when the actor became quiet; 0: busy.
    quiet_since_ms: AtomicU64,
    has_proc: AtomicBool,
    /// The session has no events yet (a tab opened it, or nothing at all).
    empty: AtomicBool,
}

impl Activity {
    pub fn new(bell: Arc<Notify>) -> Self {
        Self {
            bell,
            ..Self::default()
        }
    }

    pub fn set(&self, quiet: bool, has_proc: bool, empty: bool) {
        self.has_proc.store(has_proc, Relaxed);
        self.empty.store(empty, Relaxed);
        if !quiet {
            self.quiet_since_ms.store(0, Relaxed);
        } else if self.quiet_since_ms.load(Relaxed) == 0 {
            self.quiet_since_ms.store(now_ms(), Relaxed);
            // After the store: a sweep woken by this reads the new spell
            // (`notify_one` keeps the ring if the sweep is not waiting yet).
            self.bell.notify_one();
        }
    }

    /// How long the actor has been quiet, if it is.
    pub fn quiet_for(&self) -> Option<Duration> {
        match self.quiet_since_ms.load(Relaxed) {
            0 => None,
            since => Some(Duration::from_millis(now_ms().saturating_sub(since))),
        }
    }

    pub fn has_proc(&self) -> bool {
        self.has_proc.load(Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.empty.load(Relaxed)
    }
}

/// Monotonic milliseconds since first use, never 0.
pub(super) fn now_ms() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_millis() as u64 + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_time_starts_once_and_busy_resets_it() {
        let a = Activity::default();
        assert_eq!(a.quiet_for(), None);
        a.set(true, true, false);
        let first = a.quiet_since_ms.load(Relaxed);
        a.set(true, false, true);
        assert_eq!(
            a.quiet_since_ms.load(Relaxed),
            first,
            "still the same quiet spell"
        );
        assert!(!a.has_proc());
        assert!(a.is_empty());
        assert!(a.quiet_for().is_some());
        a.set(false, false, false);
        assert_eq!(a.quiet_for(), None);
    }
}
