//! One chat session: a pure state machine (`state`) owned by one actor task
//! (`actor`), reached through a cloneable `SessionHandle`; the `registry` maps
//! session ids to handles.

pub mod actor;
pub mod agent_slots;
pub mod event_log;
pub mod history;
pub mod latency;
pub mod notices;
pub mod registry;
pub mod runtime;
pub mod state;
pub mod title;
pub mod tool_cache;

pub use actor::{SessionHandle, Subscription};
pub use registry::Registry;
pub use state::{ConnId, SessionConfig, SessionSnapshot};

/// Chat-session ids name sessions in URLs, logs and (later) file names, so
/// only a short, plain alphabet is accepted.
pub fn valid_session_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !id.starts_with('.')
}

#[cfg(test)]
mod tests {
    #[test]
    fn hostile_session_ids_are_refused() {
        assert!(super::valid_session_id("tab-1"));
        assert!(!super::valid_session_id("; rm -rf /"));
        assert!(!super::valid_session_id("../etc"));
        assert!(!super::valid_session_id(&"x".repeat(10 * 1024)));
    }
}
