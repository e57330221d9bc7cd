//! The in-memory tail of a session's event log: the last committed frames
//! with their seq, at most `cap` of them and `max_bytes` of text, for replay
//! to a joining or reconnecting tab. Older events (and one larger than the
//! whole budget) are read back from the store.

use crate::protocol::server::Frame;
use std::collections::VecDeque;

#[derive(Debug)]
pub struct EventLog {
    next_seq: u64,
    tail: VecDeque<(u64, Frame)>,
    cap: usize,
    max_bytes: usize,
    /// Bytes of the frames in `tail`.
    bytes: usize,
}

impl EventLog {
    /// A log that continues after `last_seq`, holding `tail` (oldest first).
    pub fn new(cap: usize, max_bytes: usize, last_seq: u64, tail: Vec<(u64, Frame)>) -> Self {
        let mut log = Self {
            next_seq: last_seq + 1,
            tail: VecDeque::new(),
            cap: cap.max(1),
            max_bytes,
            bytes: 0,
        };
        for (seq, frame) in tail {
            log.push(seq, frame);
        }
        log.next_seq = last_seq + 1;
        log
    }

    /// Keeps a committed event; seqs arrive in order.
    pub fn push(&mut self, seq: u64, frame: Frame) {
        self.next_seq = seq + 1;
        self.bytes += frame.len();
        self.tail.push_back((seq, frame));
        while self.tail.len() > self.cap || self.bytes > self.max_bytes {
            match self.tail.pop_front() {
                Some((_, f)) => self.bytes -= f.len(),
                None => break,
            }
        }
    }

    /// Bytes of text held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The seq of the newest event (0 when empty).
    pub fn last_seq(&self) -> u64 {
        self.next_seq - 1
    }

    /// The oldest seq still held (`last_seq + 1` when nothing is held).
    pub fn first_seq(&self) -> u64 {
        self.tail.front().map_or(self.next_seq, |(s, _)| *s)
    }

    /// Frames with seq > `after`, oldest first, as far back as the tail goes.
    pub fn since(&self, after: u64) -> Vec<Frame> {
        let first = self.first_seq();
        let skip = after.saturating_add(1).saturating_sub(first) as usize;
        self.tail
            .iter()
            .skip(skip)
            .map(|(_, f)| f.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replays_exactly_what_follows_last_seq() {
        let mut log = EventLog::new(3, usize::MAX, 0, Vec::new());
        for seq in 1..=5 {
            log.push(seq, format!(r#"{{"seq":{seq}}}"#).into());
        }
        assert_eq!(log.last_seq(), 5);
        assert_eq!(log.first_seq(), 3);
        assert_eq!(log.since(0).len(), 3);
        assert_eq!(log.since(3).len(), 2);
        assert!(log.since(4)[0].contains(r#""seq":5"#));
        assert!(log.since(5).is_empty());
        assert!(log.since(99).is_empty());
    }

    #[test]
    fn the_byte_budget_bounds_the_tail_and_a_huge_event_is_not_held() {
        let frame = |seq: u64, n: usize| -> Frame { format!("{seq:>4}{}", "x".repeat(n)).into() };
        let mut log = EventLog::new(100, 1000, 0, Vec::new());
        for seq in 1..=10 {
            log.push(seq, frame(seq, 296)); // 300 bytes each
        }
        assert_eq!(log.since(0).len(), 3, "1000 bytes hold three");
        assert!(log.bytes() <= 1000);
        assert_eq!(log.first_seq(), 8);
        log.push(11, frame(11, 5000));
        assert!(
            log.since(0).is_empty(),
            "larger than the budget: from the store"
        );
        assert_eq!((log.first_seq(), log.last_seq(), log.bytes()), (12, 11, 0));
        log.push(12, frame(12, 10));
        assert_eq!(log.since(11).len(), 1);
    }
}
