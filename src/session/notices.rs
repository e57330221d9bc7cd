//! Notices for every open tab, whatever session it shows: a session's
//! status changed (running, needs an answer), or the list of sessions did
//! (created, renamed, deleted). One bounded broadcast; a tab that falls
//! behind loses notices, and is told to refresh its list instead. This is
//! the seam a multi-server set-up would feed from its broker.

use crate::protocol::server::Frame;
use serde_json::json;
use tokio::sync::broadcast;

/// Notices held for tabs that have not taken them yet.
const CAPACITY: usize = 256;

#[derive(Clone)]
pub struct Notices {
    tx: broadcast::Sender<Frame>,
}

impl Default for Notices {
    fn default() -> Self {
        Self {
            tx: broadcast::channel(CAPACITY).0,
        }
    }
}

impl Notices {
    pub fn subscribe(&self) -> broadcast::Receiver<Frame> {
        self.tx.subscribe()
    }

    /// Sends the notice `make` builds, built only when a tab watches: a
    /// turn makes three, and writing one costs more than its turn's lines
    /// cost to read (a JSON map built and written out).
    fn send(&self, make: impl FnOnce() -> serde_json::Value) {
        // No tab watches: nobody to tell (a send would be dropped too).
        if self.tx.receiver_count() == 0 {
            return;
        }
        let _ = self.tx.send(make().to_string().into());
    }

    /// `change`: `created`, `renamed` or `deleted`.
    pub fn sessions_changed(&self, session: &str, change: &str) {
        self.send(|| json!({"type": "sessions_changed", "session": session, "change": change}));
    }

    pub fn status(&self, session: &str, running: bool, needs_you: bool) {
        self.send(|| json!({"type": "session_status", "session": session, "running": running, "needsYou": needs_you}));
    }

    /// What a tab that missed notices gets: refresh everything.
    pub fn missed() -> Frame {
        json!({"type": "sessions_changed", "change": "missed"})
            .to_string()
            .into()
    }
}
