//! What a session owes the store and its tabs, with no I/O: events numbered
//! but not yet durable (`unacked`), the part of them still to hand to the
//! store (`to_store`), the session's meta, and the store's last failure.
//!
//! The rule it keeps: an event reaches tabs only once the store reports it
//! committed, in seq order, and a failed commit holds events — never drops
//! them — until a retry or a later success stores them.

use crate::protocol::server::Frame;
use crate::store::{Commit, SessionMeta};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

#[derive(Default)]
pub struct Outbox {
    /// Numbered events waiting for their commit, oldest first.
    unacked: VecDeque<(u64, Frame)>,
    /// Bytes of the frames in `unacked`.
    unacked_bytes: usize,
    /// (seq, when its agent line arrived) for events made from agent lines.
    line_stamps: VecDeque<(u64, Instant)>,
    /// Events to hand to the store after the current step.
    to_store: Vec<(u64, Frame)>,
    /// Since when `to_store` has held events (it was empty before).
    waiting_since: Option<Instant>,
    meta: Option<SessionMeta>,
    error: Option<String>,
    retry_armed: bool,
}

/// What a commit report released.
#[derive(Default)]
pub struct Released {
    /// Now durable, in seq order: for the memory tail and every tab.
    pub frames: Vec<(u64, Frame)>,
    /// Arrival times of the agent lines behind them.
    pub line_arrivals: Vec<Instant>,
    /// The store works again after a failure: everything held was offered
    /// again, and the caller must offer the session's meta too.
    pub recovered: bool,
    /// The store failed with events still unstored.
    pub failed: Option<Failure>,
}

/// What to do about a failure.
#[derive(Debug, PartialEq)]
pub struct Failure {
    /// A new error (not the one tabs were already told about).
    pub tell_tabs: bool,
    /// Arm the retry timer (it is not running yet).
    pub arm_retry: bool,
}

impl Outbox {
    /// A numbered event: held for its commit, and handed to the store unless
    /// storing is failing (then the retry offers it with the rest).
    pub fn push(&mut self, seq: u64, frame: Frame, line_at: Option<Instant>) {
        self.unacked_bytes += frame.len();
        self.unacked.push_back((seq, frame.clone()));
        if let Some(at) = line_at {
            self.line_stamps.push_back((seq, at));
        }
        if self.error.is_none() {
            self.to_store.push((seq, frame));
            self.waiting_since.get_or_insert_with(Instant::now);
        }
    }

    pub fn set_meta(&mut self, meta: SessionMeta) {
        self.meta = Some(meta);
    }

    pub fn take_meta(&mut self) -> Option<SessionMeta> {
        self.meta.take()
    }

    pub fn take_events(&mut self) -> Vec<(u64, Frame)> {
        self.waiting_since = None;
        std::mem::take(&mut self.to_store)
    }

    /// Until when the events waiting to be handed over may be held back to
    /// gather more (`window` after the first of them came), or `None`: hand
    /// them over now (no window, nothing waiting, the window has passed, or
    /// `max_bytes` wait for their commit already, more could not be read).
    pub fn hold_until(&self, now: Instant, window: Duration, max_bytes: usize) -> Option<Instant> {
        if self.to_store.is_empty() {
            return None;
        }
        let due = self.waiting_since? + window;
        (now < due && self.unacked_bytes < max_bytes).then_some(due)
    }

    pub fn unacked_bytes(&self) -> usize {
        self.unacked_bytes
    }

    /// Nothing waits for the store, nothing is to be handed to it, and it
    /// is not failing.
    pub fn is_settled(&self) -> bool {
        self.unacked.is_empty()
            && self.to_store.is_empty()
            && self.meta.is_none()
            && self.error.is_none()
    }

    /// Everything numbered is durable, or storing failed (at shutdown there
    /// is nothing more to wait for then).
    pub fn flushed(&self) -> bool {
        self.unacked.is_empty() || self.error.is_some()
    }

    /// The store reports the highest seq of this session stored without a
    /// gap, and its last error.
    pub fn on_commit(&mut self, commit: &Commit) -> Released {
        let mut out = Released::default();
        // Both queues are in seq order: the released part is a prefix,
        // taken at its size (a list grown by doubling copied itself and
        // touched fresh pages at every commit of a long burst).
        let n = self
            .unacked
            .partition_point(|(seq, _)| *seq <= commit.committed);
        out.frames = self.unacked.drain(..n).collect();
        self.unacked_bytes -= out.frames.iter().map(|(_, f)| f.len()).sum::<usize>();
        let n = self
            .line_stamps
            .partition_point(|(seq, _)| *seq <= commit.committed);
        out.line_arrivals = self.line_stamps.drain(..n).map(|(_, at)| at).collect();
        match &commit.error {
            Some(e) if !self.unacked.is_empty() => out.failed = Some(self.failed(e.clone())),
            _ => {
                // Events made while storing failed were only held, never
                // offered: offer them now that the store works again.
                if self.error.take().is_some() {
                    self.to_store.extend(self.unacked.iter().cloned());
                    self.waiting_since.get_or_insert(Instant::now());
                    out.recovered = true;
                }
            }
        }
        out
    }

    /// Storing failed with `error`: held events stay held.
    pub fn failed(&mut self, error: String) -> Failure {
        let tell_tabs = self.error.as_deref() != Some(error.as_str());
        self.error = Some(error);
        let arm_retry = !self.retry_armed;
        self.retry_armed = true;
        Failure {
            tell_tabs,
            arm_retry,
        }
    }

    /// The retry timer fired: offer every held event again, with `meta`
    /// (the failed batch may have held it).
    pub fn retry(&mut self, meta: SessionMeta) {
        self.retry_armed = false;
        self.to_store.clear();
        self.to_store.extend(self.unacked.iter().cloned());
        self.waiting_since = Some(Instant::now());
        self.meta = Some(meta);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(seq: u64) -> Frame {
        format!(r#"{{"seq":{seq}}}"#).into()
    }

    fn commit(committed: u64, error: Option<&str>) -> Commit {
        Commit {
            committed,
            error: error.map(str::to_owned),
        }
    }

    fn seqs(v: &[(u64, Frame)]) -> Vec<u64> {
        v.iter().map(|(s, _)| *s).collect()
    }

    #[test]
    fn a_partial_commit_releases_only_what_is_durable_in_order() {
        let mut o = Outbox::default();
        let t = Instant::now();
        for seq in 1..=3 {
            o.push(seq, frame(seq), (seq == 2).then_some(t));
        }
        assert_eq!(seqs(&o.take_events()), [1, 2, 3]);
        let r = o.on_commit(&commit(2, None));
        assert_eq!(seqs(&r.frames), [1, 2]);
        assert_eq!(r.line_arrivals, [t]);
        assert!(!o.is_settled() && !o.flushed());
        assert_eq!(o.unacked_bytes(), frame(3).len());
        let r = o.on_commit(&commit(3, None));
        assert_eq!(seqs(&r.frames), [3]);
        assert!(o.is_settled() && o.flushed());
    }

    #[test]
    fn a_failure_holds_everything_until_a_retry_stores_it() {
        let mut o = Outbox::default();
        o.push(1, frame(1), None);
        o.push(2, frame(2), None);
        o.take_events();
        // The batch failed: nothing released, tabs told once, retry armed.
        let r = o.on_commit(&commit(0, Some("disk full")));
        assert!(r.frames.is_empty());
        assert_eq!(
            r.failed,
            Some(Failure {
                tell_tabs: true,
                arm_retry: true
            })
        );
        // Made while failing: held, not offered.
        o.push(3, frame(3), None);
        assert!(o.take_events().is_empty());
        assert_eq!(
            o.failed("disk full".into()),
            Failure {
                tell_tabs: false,
                arm_retry: false
            },
            "the same error, the timer already armed"
        );
        assert!(o.flushed(), "at shutdown, nothing more to wait for");
        o.retry(SessionMeta::default());
        assert!(o.take_meta().is_some(), "meta goes again too");
        assert_eq!(seqs(&o.take_events()), [1, 2, 3], "nothing dropped");
        let r = o.on_commit(&commit(3, None));
        assert_eq!(seqs(&r.frames), [1, 2, 3]);
        assert!(r.recovered && r.failed.is_none());
        assert!(o.is_settled());
    }

    #[test]
    fn after_a_gap_only_the_part_before_it_is_released() {
        // Batch 1 (seq 1) committed; batch 2 (seq 2) failed; batch 3 (seq 3)
        // would leave a gap, so the store skipped it: it reports 1 and the
        // error. Seq 3 must not reach tabs before 2.
        let mut o = Outbox::default();
        for seq in 1..=3 {
            o.push(seq, frame(seq), None);
        }
        o.take_events();
        let r = o.on_commit(&commit(1, Some("I/O error")));
        assert_eq!(seqs(&r.frames), [1]);
        assert!(r.failed.is_some());
        // A success that reports no progress yet: still held, recovered.
        let r = o.on_commit(&commit(1, None));
        assert!(r.frames.is_empty() && r.recovered);
        assert_eq!(seqs(&o.take_events()), [2, 3], "offered again, in order");
    }

    #[test]
    fn a_hold_lasts_a_window_from_the_first_waiting_event() {
        let w = Duration::from_millis(100);
        let mut o = Outbox::default();
        let t0 = Instant::now();
        assert_eq!(o.hold_until(t0, w, usize::MAX), None, "nothing waits");
        o.push(1, frame(1), None);
        let due = o.hold_until(Instant::now(), w, usize::MAX).expect("held");
        assert!(due >= t0 + w && due <= Instant::now() + w);
        // A later event does not move the end of the hold.
        o.push(2, frame(2), None);
        assert_eq!(o.hold_until(Instant::now(), w, usize::MAX), Some(due));
        assert_eq!(
            o.hold_until(due, w, usize::MAX),
            None,
            "the window has passed"
        );
        assert_eq!(
            o.hold_until(Instant::now(), Duration::ZERO, usize::MAX),
            None
        );
        // As much as may wait for the store already waits: no point holding.
        let held = o.unacked_bytes();
        assert_eq!(o.hold_until(Instant::now(), w, held), None);
        assert!(o.hold_until(Instant::now(), w, held + 1).is_some());
        // Handed over: the next event starts a new window.
        assert_eq!(seqs(&o.take_events()), [1, 2]);
        assert_eq!(o.hold_until(Instant::now(), w, usize::MAX), None);
        o.push(3, frame(3), None);
        assert!(o.hold_until(Instant::now(), w, usize::MAX).unwrap() >= due);
    }

    #[test]
    fn events_offered_again_after_a_failure_may_be_held_too() {
        let w = Duration::from_secs(60);
        let mut o = Outbox::default();
        o.push(1, frame(1), None);
        o.take_events();
        o.on_commit(&commit(0, Some("disk full")));
        assert_eq!(
            o.hold_until(Instant::now(), w, usize::MAX),
            None,
            "nothing to hand over"
        );
        o.retry(SessionMeta::default());
        assert!(o.hold_until(Instant::now(), w, usize::MAX).is_some());
        assert_eq!(seqs(&o.take_events()), [1]);
    }
}
