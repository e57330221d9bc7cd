//! The agent-session-id history of one chat session: bounded, newest last,
//! each id at most once. Owned by `SessionState`; never shared.

use std::collections::VecDeque;

#[derive(Debug, Clone)]
pub struct History {
    ids: VecDeque<String>,
    cap: usize,
}

impl History {
    pub fn new(cap: usize) -> Self {
        Self {
            ids: VecDeque::new(),
            cap: cap.max(1),
        }
    }

    /// Records `id` as the newest. An id already present moves to the end, so
    /// the history stays duplicate-free; the oldest falls out past `cap`.
    /// Returns whether the history changed.
    pub fn push(&mut self, id: &str) -> bool {
        if self.ids.back().map(String::as_str) == Some(id) {
            return false;
        }
        self.ids.retain(|x| x != id);
        self.ids.push_back(id.to_owned());
        while self.ids.len() > self.cap {
            self.ids.pop_front();
        }
        true
    }

    /// Forgets an id the agent no longer knows.
    pub fn remove(&mut self, id: &str) {
        self.ids.retain(|x| x != id);
    }

    pub fn newest(&self) -> Option<&str> {
        self.ids.back().map(String::as_str)
    }

    /// Resume candidates, newest first. A snapshot: the caller walks it while
    /// the history itself keeps changing only through `push`/`remove`.
    pub fn newest_first(&self) -> Vec<String> {
        self.ids.iter().rev().cloned().collect()
    }

    pub fn to_vec(&self) -> Vec<String> {
        self.ids.iter().cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    pub fn cap(&self) -> usize {
        self.cap
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_newest_in_order_within_cap() {
        let mut h = History::new(3);
        for id in ["a", "b", "c", "d"] {
            h.push(id);
        }
        assert_eq!(h.to_vec(), ["b", "c", "d"]);
        h.push("b");
        assert_eq!(h.to_vec(), ["c", "d", "b"]);
        assert_eq!(h.newest_first(), ["b", "d", "c"]);
        h.remove("d");
        assert_eq!(h.to_vec(), ["c", "b"]);
    }
}
