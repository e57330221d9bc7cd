//! The in-memory tail of a session's event log: the last `cap` committed
//! frames with their seq, for replay to a joining or reconnecting tab.
//! Older events are read back from the store.

use crate::protocol::server::Frame;
use std::collections::VecDeque;

#[derive(Debug)]
pub struct EventLog {
    next_seq: u64,
    tail: VecDeque<(u64, Frame)>,
    cap: usize,
}

impl EventLog {
    /// A log that continues after `last_seq`, holding `tail` (oldest first).
    pub fn new(cap: usize, last_seq: u64, tail: Vec<(u64, Frame)>) -> Self {
        let mut log = Self {
            next_seq: last_seq + 1,
            tail: VecDeque::new(),
            cap: cap.max(1),
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
        self.tail.push_back((seq, frame));
        while self.tail.len() > self.cap {
            self.tail.pop_front();
        }
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
        let mut log = EventLog::new(3, 0, Vec::new());
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
}
