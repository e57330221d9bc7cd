//! The in-memory tail of a session's event log: the last `cap` frames with
//! their seq, for replay to a joining or reconnecting tab.

use crate::protocol::server::{Frame, SessionEvent};
use std::collections::VecDeque;

#[derive(Debug)]
pub struct EventLog {
    next_seq: u64,
    tail: VecDeque<(u64, Frame)>,
    cap: usize,
}

impl EventLog {
    pub fn new(cap: usize) -> Self {
        Self {
            next_seq: 1,
            tail: VecDeque::new(),
            cap: cap.max(1),
        }
    }

    /// Numbers and serialises `event`, keeps it in the tail, returns the frame.
    pub fn append(&mut self, event: &SessionEvent) -> Frame {
        let seq = self.next_seq;
        self.next_seq += 1;
        let frame = event.to_frame(seq);
        self.tail.push_back((seq, frame.clone()));
        while self.tail.len() > self.cap {
            self.tail.pop_front();
        }
        frame
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

    fn info(i: u64) -> SessionEvent {
        SessionEvent::Info {
            message: i.to_string(),
        }
    }

    #[test]
    fn replays_exactly_what_follows_last_seq() {
        let mut log = EventLog::new(3);
        for i in 0..5 {
            log.append(&info(i));
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
