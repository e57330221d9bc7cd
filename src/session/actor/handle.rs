//! What the rest of the server holds of a session: its `SessionHandle`,
//! the commands it sends the actor, and what joining a session returns.

use super::activity::Activity;
use crate::agent::claude::past::PastConversation;
use crate::protocol::server::Frame;
use crate::session::state::{ConnId, Input, SessionSnapshot};
use crate::store::Store;
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;
use tokio::sync::{mpsc, oneshot};

/// How long a caller waits for the actor to answer before giving up.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Error)]
pub enum SessionError {
    #[error("the session has ended")]
    Gone,
    #[error("the session did not answer within {0:?}")]
    Timeout(Duration),
}

impl SessionError {
    /// The stable `code` of the `error` a client gets: either way the
    /// session cannot take the request now; the tab may join it again.
    pub fn code(&self) -> &'static str {
        match self {
            SessionError::Gone | SessionError::Timeout(_) => "session_unavailable",
        }
    }
}

/// A joined tab: the `session` reply, then `from_store` (events older than
/// the memory tail, read by the tab's writer), `replay`, then live events.
pub struct Subscription {
    pub hello: Frame,
    pub from_store: Option<StoreGap>,
    pub replay: Vec<Frame>,
    pub events: mpsc::Receiver<Frame>,
    /// Set by the session before it lets go of a tab that did not keep up
    /// (its queue was full). The end of `events` alone does not say why:
    /// the tab may have switched sessions.
    pub lagged: Arc<std::sync::atomic::AtomicBool>,
    /// Bytes of the frames in `events`: the session adds what it queues, the
    /// tab's writer takes off what it receives.
    pub queued: Arc<std::sync::atomic::AtomicUsize>,
}

/// Events `after < seq < before` of `session`, to read from `store`.
pub struct StoreGap {
    pub store: Store,
    pub session: Arc<str>,
    pub after: u64,
    pub before: u64,
    /// Bytes per page read (`--replay-page-bytes`).
    pub page_bytes: usize,
    /// Where the reader counts the page it holds (`replay_bytes`).
    pub stats: Arc<crate::session::runtime::Stats>,
}

pub(super) enum Command {
    Subscribe {
        conn: ConnId,
        last_seq: Option<u64>,
        private: mpsc::Sender<Frame>,
        reply: oneshot::Sender<Subscription>,
    },
    Unsubscribe {
        conn: ConnId,
    },
    /// Boxed: a command queue allocates room for 32 commands up front, and
    /// there is one per session.
    Input {
        input: Box<Input>,
        reply_to: Option<mpsc::Sender<Frame>>,
    },
    Adopt {
        id: String,
        past: Option<Box<PastConversation>>,
        reply: oneshot::Sender<u64>,
    },
    Snapshot {
        reply: oneshot::Sender<SessionSnapshot>,
    },
    /// The session is quiet and nobody watches it: end its idle agent
    /// process (the next turn starts one again, resuming the conversation).
    ReleaseAgent,
    /// Run this agent (a catalog name): only while the session has no
    /// events; a session keeps the agent it started with.
    ChooseAgent {
        name: String,
    },
    /// Stop the run, save everything, end the actor, then answer.
    Close {
        reply: oneshot::Sender<()>,
    },
}

#[derive(Clone)]
pub struct SessionHandle {
    pub(super) id: Arc<str>,
    pub(super) tx: mpsc::Sender<Command>,
    pub(super) activity: Arc<Activity>,
}

impl SessionHandle {
    /// How long the session has been quiet (no tab, no turn, all saved).
    pub fn quiet_for(&self) -> Option<std::time::Duration> {
        self.activity.quiet_for()
    }

    /// Nothing of the session is stored yet.
    pub fn has_no_events(&self) -> bool {
        self.activity.is_empty()
    }

    pub fn has_agent_process(&self) -> bool {
        self.activity.has_proc()
    }

    /// No other handle exists: nothing but the holder can reach the actor.
    pub fn is_only_handle(&self) -> bool {
        self.tx.strong_count() == 1
    }

    /// Asks a quiet actor to end its idle agent process (never waits).
    pub fn release_agent(&self) {
        let _ = self.tx.try_send(Command::ReleaseAgent);
    }

    /// The actor has ended (shut down, or a bug made its task panic).
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    async fn send(&self, cmd: Command) -> Result<(), SessionError> {
        match tokio::time::timeout(REPLY_TIMEOUT, self.tx.send(cmd)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(SessionError::Gone),
            Err(_) => Err(SessionError::Timeout(REPLY_TIMEOUT)),
        }
    }

    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, SessionError> {
        let (tx, rx) = oneshot::channel();
        self.send(make(tx)).await?;
        match tokio::time::timeout(REPLY_TIMEOUT, rx).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(_)) => Err(SessionError::Gone),
            Err(_) => Err(SessionError::Timeout(REPLY_TIMEOUT)),
        }
    }

    /// Joins the session. The replay and the registration happen in one actor
    /// step, so the subscriber gets every event after `last_seq` exactly once.
    /// `None` means live events only.
    pub async fn subscribe(
        &self,
        conn: ConnId,
        last_seq: Option<u64>,
        private: mpsc::Sender<Frame>,
    ) -> Result<Subscription, SessionError> {
        self.ask(|reply| Command::Subscribe {
            conn,
            last_seq,
            private,
            reply,
        })
        .await
    }

    /// Asks a new session to run agent `name` (ignored once it has events).
    pub async fn choose_agent(&self, name: String) -> Result<(), SessionError> {
        self.send(Command::ChooseAgent { name }).await
    }

    pub async fn unsubscribe(&self, conn: ConnId) {
        let _ = self.send(Command::Unsubscribe { conn }).await;
    }

    /// Feeds one input; replies meant for the sender go to `reply_to`.
    pub async fn input(
        &self,
        input: Input,
        reply_to: Option<mpsc::Sender<Frame>>,
    ) -> Result<(), SessionError> {
        self.send(Command::Input {
            input: Box::new(input),
            reply_to,
        })
        .await
    }

    /// Adds an agent session id to the history; returns the order in which
    /// the actor applied it (1, 2, 3 …).
    pub async fn adopt_agent_session(&self, id: String) -> Result<u64, SessionError> {
        self.ask(|reply| Command::Adopt {
            id,
            past: None,
            reply,
        })
        .await
    }

    /// Continues Claude Code conversation `id`, opening with its past turns
    /// (only in a session that has no events yet).
    pub async fn import_conversation(
        &self,
        id: String,
        past: PastConversation,
    ) -> Result<u64, SessionError> {
        self.ask(|reply| Command::Adopt {
            id,
            past: Some(Box::new(past)),
            reply,
        })
        .await
    }

    pub async fn snapshot(&self) -> Result<SessionSnapshot, SessionError> {
        self.ask(|reply| Command::Snapshot { reply }).await
    }

    /// Ends the session: its run is stopped, its events are handed to the
    /// store, and the actor is gone when this returns. Waits up to the stop
    /// grace plus the reply timeout.
    pub async fn close(&self, grace: Duration) -> Result<(), SessionError> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::Close { reply: tx }).await?;
        match tokio::time::timeout(grace + REPLY_TIMEOUT, rx).await {
            Ok(_) => Ok(()),
            Err(_) => Err(SessionError::Timeout(grace + REPLY_TIMEOUT)),
        }
    }
}
