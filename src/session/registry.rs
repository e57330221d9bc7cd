//! Chat-session id → actor handle. Actors are created on first use.

use super::actor::{SessionHandle, SessionRuntime};
use super::state::SessionConfig;
use super::valid_session_id;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use thiserror::Error;

#[derive(Debug, Error, PartialEq)]
pub enum RegistryError {
    #[error("invalid session id: use 1 to 128 letters, digits, '-', '_' or '.'")]
    InvalidId,
    #[error("too many sessions ({0}); the limit is set by --max-sessions")]
    TooMany(usize),
    #[error("the server is shutting down")]
    ShuttingDown,
}

impl RegistryError {
    /// The stable `code` of the `error` a client gets.
    pub fn code(&self) -> &'static str {
        match self {
            RegistryError::InvalidId => "invalid_session",
            RegistryError::TooMany(_) => "too_many_sessions",
            RegistryError::ShuttingDown => "shutting_down",
        }
    }
}

/// What one pass of `retire_idle` did, and when the next is needed.
#[derive(Debug, PartialEq)]
pub struct Sweep {
    pub retired: usize,
    pub next: Option<Duration>,
}

#[derive(Clone)]
pub struct Registry {
    inner: Arc<Inner>,
}

struct Inner {
    // Invariant: held only for a lookup/insert (spawning an actor is
    // synchronous), never across an `.await`, so it cannot deadlock and
    // contention stays short.
    sessions: Mutex<HashMap<String, SessionHandle>>,
    /// Told when a session enters memory: the idle sweep waits on it while
    /// there is none, instead of ticking on an idle server.
    added: tokio::sync::Notify,
    /// Rung when a session turns quiet: the sweep waits on it while no
    /// quiet session is due, instead of ticking.
    quiet: Arc<tokio::sync::Notify>,
    cfg: SessionConfig,
    rt: SessionRuntime,
    max_sessions: usize,
}

impl Registry {
    pub fn new(cfg: SessionConfig, rt: SessionRuntime, max_sessions: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                sessions: Mutex::new(HashMap::new()),
                added: tokio::sync::Notify::new(),
                quiet: Arc::default(),
                cfg,
                rt,
                max_sessions,
            }),
        }
    }

    pub fn runtime(&self) -> &SessionRuntime {
        &self.inner.rt
    }

    /// The session named `id`, created if it does not exist yet.
    pub fn get_or_create(&self, id: &str) -> Result<SessionHandle, RegistryError> {
        if !valid_session_id(id) {
            return Err(RegistryError::InvalidId);
        }
        if self.inner.rt.shutdown.is_cancelled() {
            return Err(RegistryError::ShuttingDown);
        }
        let mut map = self
            .inner
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        match map.get(id) {
            Some(h) if !h.is_closed() => return Ok(h.clone()),
            // An actor that died is replaced; the new one reloads the
            // session from the store.
            Some(_) => tracing::error!(session = %id, "session actor had ended; starting it again"),
            None => {}
        }
        if map.len() >= self.inner.max_sessions {
            return Err(RegistryError::TooMany(self.inner.max_sessions));
        }
        let handle = SessionHandle::spawn(
            id,
            self.inner.cfg.clone(),
            self.inner.rt.clone(),
            self.inner.quiet.clone(),
        );
        map.insert(id.to_owned(), handle.clone());
        // Stores a permit if nobody waits yet: a sweep that saw an empty
        // registry just before this insert still wakes.
        self.inner.added.notify_one();
        Ok(handle)
    }

    /// Resolves once a session has entered memory since the last call
    /// (at once if one did meanwhile).
    pub async fn session_added(&self) {
        self.inner.added.notified().await
    }

    /// Resolves once a session has turned quiet since the last call (at
    /// once if one did meanwhile).
    pub async fn session_quiet(&self) {
        self.inner.quiet.notified().await
    }

    /// A new session with a fresh id.
    pub fn create(&self) -> Result<SessionHandle, RegistryError> {
        self.get_or_create(&uuid::Uuid::new_v4().to_string())
    }

    pub fn len(&self) -> usize {
        self.inner
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Takes a session out of the registry (its actor ends once closed).
    pub fn remove(&self, id: &str) -> Option<SessionHandle> {
        self.inner
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id)
    }

    /// Retires sessions quiet for at least `after`: first their idle agent
    /// process is asked to end, then (once none is left) the actor itself
    /// leaves memory; the next use loads it again from the store.
    ///
    /// A session with no events (a tab looked at a new session and left, or
    /// a burst of `POST /api/sessions`) has nothing to lose and goes after
    /// `empty_after`: it must not hold one of `--max-sessions` for minutes.
    ///
    /// Says how many actors were retired and when to look again: when the
    /// first quiet session comes due, or after `retry` if one is due but
    /// must wait (its agent is ending, or someone holds its handle); `None`
    /// if none is quiet (`session_quiet` rings when one turns quiet).
    pub fn retire_idle(&self, after: Duration, empty_after: Duration, retry: Duration) -> Sweep {
        let mut map = self
            .inner
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let before = map.len();
        let mut next: Option<Duration> = None;
        let mut look_in = |d: Duration| next = Some(next.map_or(d, |n| n.min(d)));
        map.retain(|_, h| {
            let after = if h.has_no_events() {
                empty_after.min(after)
            } else {
                after
            };
            let Some(quiet) = h.quiet_for() else {
                return true;
            };
            if quiet < after {
                look_in(after - quiet);
                return true;
            }
            if h.has_agent_process() {
                h.release_agent();
                look_in(retry);
                return true;
            }
            // Invariant: the lock is held and this is the only handle, so
            // no command can reach the actor between this check and its
            // removal: it stays quiet, and no second actor of the session
            // can exist while it winds down (a new one is only created
            // through this map, after this handle is gone).
            let keep = !h.is_only_handle();
            if keep {
                look_in(retry);
            }
            keep
        });
        Sweep {
            retired: before - map.len(),
            next,
        }
    }

    /// Drops every handle so each actor, once shut down, can end.
    pub fn clear(&self) {
        self.inner
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}
