//! The session actor: one task per chat session, the only owner of its
//! `SessionState`, its subscribers and its run tasks. Everyone else holds a
//! `SessionHandle` and sends commands; the actor handles one at a time, so no
//! two updates of a session ever interleave.

use super::state::{
    AgentEvent, ConnId, Effect, Input, ProcId, SessionConfig, SessionSnapshot, SessionState,
};
use crate::process::{self, Control, ProcHandle, ProcLimits};
use crate::protocol::server::{Frame, Reply};
use futures_util::StreamExt;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tokio_util::time::DelayQueue;

/// Commands waiting for the actor. Producers await capacity, so a flood of
/// commands slows its senders instead of growing memory.
const COMMAND_QUEUE: usize = 256;
/// Agent events waiting for the actor (all processes of the session).
const AGENT_QUEUE: usize = 256;
/// How long a caller waits for the actor to answer before giving up.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// What every session shares: where agents run, limits, the task tracker and
/// the shutdown signal.
#[derive(Clone)]
pub struct SessionRuntime {
    pub cwd: PathBuf,
    pub limits: ProcLimits,
    pub subscriber_queue: usize,
    pub tracker: TaskTracker,
    pub shutdown: CancellationToken,
    pub stats: Arc<Stats>,
}

/// Counters shared by all sessions, for logs and load figures.
#[derive(Debug, Default)]
pub struct Stats {
    pub dropped_subscribers: AtomicU64,
    pub live_processes: AtomicU64,
}

#[derive(Debug, Error)]
pub enum SessionError {
    #[error("the session has ended")]
    Gone,
    #[error("the session did not answer within {0:?}")]
    Timeout(Duration),
}

/// A joined tab: the `session` reply, the replay, then live events.
#[derive(Debug)]
pub struct Subscription {
    pub hello: Frame,
    pub replay: Vec<Frame>,
    pub events: mpsc::Receiver<Frame>,
}

enum Command {
    Subscribe {
        conn: ConnId,
        last_seq: Option<u64>,
        private: mpsc::Sender<Frame>,
        reply: oneshot::Sender<Subscription>,
    },
    Unsubscribe {
        conn: ConnId,
    },
    Input {
        input: Input,
        reply_to: Option<mpsc::Sender<Frame>>,
    },
    Adopt {
        id: String,
        reply: oneshot::Sender<u64>,
    },
    Snapshot {
        reply: oneshot::Sender<SessionSnapshot>,
    },
}

#[derive(Clone)]
pub struct SessionHandle {
    id: Arc<str>,
    tx: mpsc::Sender<Command>,
}

impl SessionHandle {
    pub fn spawn(id: &str, cfg: SessionConfig, rt: SessionRuntime) -> Self {
        let (tx, rx) = mpsc::channel(COMMAND_QUEUE);
        let (agent_tx, agent_rx) = mpsc::channel(AGENT_QUEUE);
        let actor = Actor {
            id: id.into(),
            state: SessionState::new(cfg),
            commands: rx,
            agent_tx,
            agent_rx,
            subscribers: HashMap::new(),
            procs: HashMap::new(),
            timers: DelayQueue::new(),
            adopted: 0,
            rt: rt.clone(),
        };
        rt.tracker.spawn(actor.run());
        Self { id: id.into(), tx }
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

    pub async fn unsubscribe(&self, conn: ConnId) {
        let _ = self.send(Command::Unsubscribe { conn }).await;
    }

    /// Feeds one input; replies meant for the sender go to `reply_to`.
    pub async fn input(
        &self,
        input: Input,
        reply_to: Option<mpsc::Sender<Frame>>,
    ) -> Result<(), SessionError> {
        self.send(Command::Input { input, reply_to }).await
    }

    /// Adds an agent session id to the history; returns the order in which
    /// the actor applied it (1, 2, 3 …).
    pub async fn adopt_agent_session(&self, id: String) -> Result<u64, SessionError> {
        self.ask(|reply| Command::Adopt { id, reply }).await
    }

    pub async fn snapshot(&self) -> Result<SessionSnapshot, SessionError> {
        self.ask(|reply| Command::Snapshot { reply }).await
    }
}

struct Subscriber {
    events: mpsc::Sender<Frame>,
    private: mpsc::Sender<Frame>,
}

struct Actor {
    id: Arc<str>,
    state: SessionState,
    commands: mpsc::Receiver<Command>,
    agent_tx: process::AgentEvents,
    agent_rx: mpsc::Receiver<(ProcId, AgentEvent)>,
    subscribers: HashMap<ConnId, Subscriber>,
    procs: HashMap<ProcId, ProcHandle>,
    timers: DelayQueue<u64>,
    adopted: u64,
    rt: SessionRuntime,
}

impl Actor {
    async fn run(mut self) {
        let mut shutting_down = false;
        let mut commands_open = true;
        loop {
            // Every branch is cancel-safe: `recv`, a token and a DelayQueue.
            // Commands go first, so a stop is never queued behind agent output.
            tokio::select! {
                biased;
                _ = self.rt.shutdown.cancelled(), if !shutting_down => {
                    shutting_down = true;
                    self.feed(Input::Shutdown, None);
                }
                cmd = self.commands.recv(), if commands_open => match cmd {
                    Some(cmd) => self.on_command(cmd),
                    None => {
                        // Every handle is gone: nobody can reach this session
                        // again, so it winds down like at shutdown.
                        commands_open = false;
                        if !shutting_down {
                            shutting_down = true;
                            self.feed(Input::Shutdown, None);
                        }
                    }
                },
                Some((proc, event)) = self.agent_rx.recv() => {
                    let last = matches!(event, AgentEvent::Exited { .. } | AgentEvent::SpawnFailed { .. });
                    self.feed(Input::Agent { proc, event }, None);
                    if last && self.procs.remove(&proc).is_some() {
                        self.rt.stats.live_processes.fetch_sub(1, Ordering::Relaxed);
                    }
                }
                Some(expired) = self.timers.next() => {
                    self.feed(Input::StopGraceElapsed { run_id: expired.into_inner() }, None);
                }
            }
            if shutting_down && self.state.is_quiescent() && self.procs.is_empty() {
                break;
            }
        }
        tracing::debug!(session = %self.id, "session actor ended");
        // Dropping the subscribers ends every tab's event stream after the
        // frames already queued (exec_end included) have been delivered.
    }

    fn on_command(&mut self, cmd: Command) {
        match cmd {
            Command::Subscribe {
                conn,
                last_seq,
                private,
                reply,
            } => {
                let (tx, rx) = mpsc::channel(self.rt.subscriber_queue);
                let log = self.state.log();
                let replay = match last_seq {
                    Some(after) => log.since(after),
                    None => Vec::new(),
                };
                let hello = Reply::Session {
                    session: self.id.to_string(),
                    last_seq: log.last_seq(),
                    running: self.state.running().is_some(),
                    run_id: self.state.running(),
                    first_seq: log.first_seq(),
                }
                .to_frame();
                // Invariant: registration and replay happen in this one step;
                // the next broadcast reaches `tx` and is not in `replay`.
                self.subscribers.insert(
                    conn,
                    Subscriber {
                        events: tx,
                        private,
                    },
                );
                let _ = reply.send(Subscription {
                    hello,
                    replay,
                    events: rx,
                });
            }
            Command::Unsubscribe { conn } => {
                self.subscribers.remove(&conn);
            }
            Command::Input { input, reply_to } => self.feed(input, reply_to),
            Command::Adopt { id, reply } => {
                self.feed(Input::AdoptAgentSession { id }, None);
                self.adopted += 1;
                let _ = reply.send(self.adopted);
            }
            Command::Snapshot { reply } => {
                let _ = reply.send(self.state.snapshot());
            }
        }
    }

    fn feed(&mut self, input: Input, reply_to: Option<mpsc::Sender<Frame>>) {
        for effect in self.state.handle(input) {
            self.perform(effect, reply_to.as_ref());
        }
    }

    fn perform(&mut self, effect: Effect, reply_to: Option<&mpsc::Sender<Frame>>) {
        match effect {
            Effect::Broadcast(frame) => self.broadcast(frame),
            Effect::Reply { to, frame } => {
                let target = reply_to.or_else(|| self.subscribers.get(&to).map(|s| &s.private));
                if let Some(tx) = target {
                    // A connection whose private queue is full is being
                    // dropped anyway; replies are never worth blocking for.
                    let _ = tx.try_send(frame);
                }
            }
            Effect::Spawn { proc, spec } => {
                // The command line holds the prompt: only at debug level.
                tracing::info!(session = %self.id, proc = proc.0, program = %log_safe(&spec.program), "starting agent");
                tracing::debug!(session = %self.id, proc = proc.0, command = %log_safe(&spec.display()), "agent command");
                let handle = process::spawn_run(
                    &self.rt.tracker,
                    proc,
                    spec,
                    self.rt.cwd.clone(),
                    self.agent_tx.clone(),
                    self.rt.limits.clone(),
                );
                self.rt.stats.live_processes.fetch_add(1, Ordering::Relaxed);
                self.procs.insert(proc, handle);
            }
            Effect::Write { proc, line } => {
                let sent = self
                    .procs
                    .get(&proc)
                    .and_then(|p| p.stdin.as_ref())
                    .map(|tx| tx.try_send(line));
                if let Some(Err(e)) = sent {
                    tracing::warn!(session = %self.id, proc = proc.0, "agent stdin not accepting input: {e}");
                }
            }
            Effect::Terminate { proc, grace } => {
                if let Some(p) = self.procs.get(&proc) {
                    // The run task reads controls in a lane of their own; its
                    // queue only fills if it is already terminating.
                    let _ = p.control.try_send(Control::Terminate { grace });
                }
            }
            Effect::ArmStopTimer { run_id, after } => {
                self.timers.insert(run_id, after);
            }
        }
    }

    /// Every subscriber gets the frame or is dropped: a full queue means the
    /// tab is not keeping up; it reconnects and replays by seq. Nobody waits.
    fn broadcast(&mut self, frame: Frame) {
        let stats = &self.rt.stats;
        let id = &self.id;
        self.subscribers.retain(|conn, sub| match sub.events.try_send(frame.clone()) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                stats.dropped_subscribers.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(session = %id, conn, "dropping a subscriber that is not keeping up");
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        });
    }
}

/// Control characters escaped, length capped: agent commands contain user text.
pub fn log_safe(s: &str) -> String {
    let mut out: String = s.chars().take(300).flat_map(char::escape_debug).collect();
    if s.chars().count() > 300 {
        out.push('…');
    }
    out
}

#[cfg(test)]
#[path = "actor_tests.rs"]
mod tests;
