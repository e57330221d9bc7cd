//! Chat-session id → actor handle. Actors are created on first use.

use super::actor::{SessionHandle, SessionRuntime};
use super::state::SessionConfig;
use super::valid_session_id;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
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

#[derive(Clone)]
pub struct Registry {
    inner: Arc<Inner>,
}

struct Inner {
    // Invariant: held only for a lookup/insert (spawning an actor is
    // synchronous), never across an `.await`, so it cannot deadlock and
    // contention stays short.
    sessions: Mutex<HashMap<String, SessionHandle>>,
    cfg: SessionConfig,
    rt: SessionRuntime,
    max_sessions: usize,
}

impl Registry {
    pub fn new(cfg: SessionConfig, rt: SessionRuntime, max_sessions: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                sessions: Mutex::new(HashMap::new()),
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
        let handle = SessionHandle::spawn(id, self.inner.cfg.clone(), self.inner.rt.clone());
        map.insert(id.to_owned(), handle.clone());
        Ok(handle)
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

    /// Drops every handle so each actor, once shut down, can end.
    pub fn clear(&self) {
        self.inner
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}
