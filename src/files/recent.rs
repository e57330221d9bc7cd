//! Files written lately (what `@` offers before the first character): the
//! watcher reports content writes, which the index itself ignores, here.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// Paths remembered; the page shows the first few.
const CAP: usize = 50;

#[derive(Clone, Default)]
pub struct Recent {
    // Invariant: locked only to push or copy out, never across an `.await`
    // (the watcher's thread and searches on the blocking pool take it).
    paths: Arc<Mutex<VecDeque<Box<str>>>>,
}

impl Recent {
    /// `rel` was written just now: it moves to the front.
    pub fn touch(&self, rel: &str) {
        let mut p = self.paths.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = p.iter().position(|x| &**x == rel) {
            p.remove(i);
        }
        p.push_front(rel.into());
        p.truncate(CAP);
    }

    /// Newest first.
    pub fn list(&self) -> Vec<Box<str>> {
        let p = self.paths.lock().unwrap_or_else(|e| e.into_inner());
        p.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_first_without_repeats_and_bounded() {
        let r = Recent::default();
        r.touch("a.rs");
        r.touch("b.rs");
        r.touch("a.rs");
        assert_eq!(
            r.list(),
            vec!["a.rs".into(), "b.rs".into()] as Vec<Box<str>>
        );
        for i in 0..100 {
            r.touch(&format!("f{i}"));
        }
        assert_eq!(r.list().len(), CAP);
        assert_eq!(&*r.list()[0], "f99");
    }
}
