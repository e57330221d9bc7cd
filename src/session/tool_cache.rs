//! tool_use id → (tool name, input), so a later tool_result or permission
//! denial can name the tool. Bounded per session; the oldest entry goes first.
//! Owned by the session actor alone (seed race 4 cannot happen: no sharing).

use serde_json::Value;
use std::collections::{HashMap, VecDeque};

#[derive(Debug, Clone, PartialEq)]
pub struct ToolUse {
    pub name: String,
    pub input: Value,
}

#[derive(Debug)]
pub struct ToolCache {
    map: HashMap<String, ToolUse>,
    order: VecDeque<String>,
    cap: usize,
}

impl ToolCache {
    pub fn new(cap: usize) -> Self {
        Self {
            map: HashMap::new(),
            order: VecDeque::new(),
            cap: cap.max(1),
        }
    }

    pub fn insert(&mut self, id: String, tool: ToolUse) {
        if self.map.insert(id.clone(), tool).is_none() {
            self.order.push_back(id);
        }
        while self.map.len() > self.cap {
            match self.order.pop_front() {
                Some(old) => {
                    self.map.remove(&old);
                }
                None => break,
            }
        }
    }

    pub fn get(&self, id: &str) -> Option<&ToolUse> {
        self.map.get(id)
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_oldest_beyond_cap() {
        let mut c = ToolCache::new(2);
        for i in 0..5 {
            c.insert(
                format!("t{i}"),
                ToolUse {
                    name: "Bash".into(),
                    input: Value::Null,
                },
            );
        }
        assert_eq!(c.len(), 2);
        assert!(c.get("t4").is_some() && c.get("t3").is_some() && c.get("t2").is_none());
    }
}
