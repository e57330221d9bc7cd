//! The session actor: one task per chat session, the only owner of its
//! `SessionState`, its subscribers and its run tasks. Everyone else holds a
//! `SessionHandle` and sends commands; the actor handles one at a time, so no
//! two updates of a session ever interleave.

use super::agent_slots::{Acquired, SlotGuard};
use super::event_log::EventLog;
pub use super::runtime::{SessionRuntime, Stats};
use super::state::{AgentEvent, ConnId, Effect, Input, ProcId, SessionConfig, SessionState};
use crate::log_safe::log_safe;
use crate::process::{self, Control, ProcHandle};
use crate::protocol::server::{Frame, Reply};
use crate::store::{Cmd, Commit};
use activity::Activity;
use handle::Command;
pub use handle::{SessionError, SessionHandle, StoreGap, Subscription};
use outbox::Outbox;
use slots::{slot_news, PendingSpawn, SlotNews};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};

/// Commands waiting for the actor. Producers await capacity, so a flood of
/// commands slows its senders instead of growing memory.
const COMMAND_QUEUE: usize = 256;
/// Agent events waiting for the actor (all processes of the session).
const AGENT_QUEUE: usize = 256;
/// Agent lines taken in one actor step when they are already waiting.
const AGENT_BURST: usize = 64;

/// When a burst of agent lines was taken from the queue: on the monotonic
/// clock (for the delay histogram) and the wall clock (for event times).
#[derive(Clone, Copy)]
struct Arrival {
    at: std::time::Instant,
    wall_ms: i64,
}

impl Arrival {
    fn now() -> Self {
        Arrival {
            at: std::time::Instant::now(),
            wall_ms: crate::store::now_ms(),
        }
    }
}

/// Lines an agent event carries (1 for any other event: a step's share).
fn lines_in(event: &AgentEvent) -> usize {
    match event {
        AgentEvent::Lines(lines) => lines.len(),
        _ => 1,
    }
}

/// After a failed commit, events are offered to the store again this often.
const STORE_RETRY: Duration = Duration::from_secs(1);

impl SessionHandle {
    /// Starts the actor of session `id`; the handle is how everyone else
    /// reaches it (`handle.rs`).
    /// `quiet` is rung when the session turns quiet (the registry's sweep).
    pub fn spawn(
        id: &str,
        cfg: SessionConfig,
        rt: SessionRuntime,
        quiet: Arc<tokio::sync::Notify>,
    ) -> Self {
        let (tx, rx) = mpsc::channel(COMMAND_QUEUE);
        let (agent_tx, agent_rx) = mpsc::channel(AGENT_QUEUE);
        let agent_tx = process::AgentEvents::new(agent_tx, rt.bytes.agent_lines);
        let (commit_tx, commit_rx) = watch::channel(Commit::default());
        let agent: Arc<str> = cfg.agent.label().into();
        let activity = Arc::new(Activity::new(quiet));
        let actor = Actor {
            activity: activity.clone(),
            id: id.into(),
            agent,
            log: EventLog::new(rt.tail_cap, rt.bytes.tail, 0, Vec::new()),
            state: SessionState::new(cfg.clone()),
            commands: rx,
            agent_tx,
            file_calls: Arc::default(),
            agent_rx,
            subscribers: HashMap::new(),
            procs: HashMap::new(),
            pgids: HashMap::new(),
            timers: Timers::default(),
            hold_due: None,
            adopted: 0,
            line_at: None,
            outbox: Outbox::default(),
            commit_tx: Arc::new(commit_tx),
            commit_rx,
            closers: Vec::new(),
            proc_records: Vec::new(),
            deferred: Vec::new(),
            effects: Vec::new(),
            pending: None,
            slots: HashMap::new(),
            slot_idle: false,
            release_wanted: Arc::new(tokio::sync::Notify::new()),
            rt: rt.clone(),
        };
        rt.tracker.spawn(actor.run(cfg));
        Self {
            id: id.into(),
            tx,
            activity,
        }
    }
}

struct Subscriber {
    events: mpsc::Sender<Frame>,
    private: mpsc::Sender<Frame>,
    lagged: Arc<std::sync::atomic::AtomicBool>,
    queued: Arc<std::sync::atomic::AtomicUsize>,
}

/// A session's few pending deadlines (a stop grace, a store retry). A
/// sorted Vec: a timer wheel would cost kilobytes per idle session.
#[derive(Default)]
struct Timers {
    due: Vec<(tokio::time::Instant, Timer)>,
}

impl Timers {
    fn insert(&mut self, timer: Timer, after: Duration) {
        let at = tokio::time::Instant::now() + after;
        let i = self.due.partition_point(|(t, _)| *t <= at);
        self.due.insert(i, (at, timer));
    }

    /// The earliest timer, once it is due; never resolves when none is set.
    /// Cancel-safe: nothing is removed until the deadline has passed.
    async fn next(&mut self) -> Option<Timer> {
        let at = self.due.first()?.0;
        tokio::time::sleep_until(at).await;
        Some(self.due.remove(0).1)
    }
}

enum Timer {
    StopGrace(u64),
    AgentStart(ProcId),
    StoreRetry,
    /// The end of a `--coalesce` hold of agent output.
    HoldEnds,
}

struct Actor {
    activity: Arc<Activity>,
    id: Arc<str>,
    agent: Arc<str>,
    state: SessionState,
    /// Committed events only: what replay may send.
    log: EventLog,
    /// Events and meta owed to the store, held from tabs until committed.
    outbox: Outbox,
    /// When the agent line being fed arrived (set only during that feed).
    line_at: Option<std::time::Instant>,
    commit_tx: Arc<watch::Sender<Commit>>,
    commit_rx: watch::Receiver<Commit>,
    pgids: HashMap<ProcId, i32>,
    /// Process-group records for the store (started, ended).
    proc_records: Vec<Cmd>,
    /// Agent events the step's effects produced themselves (see `feed`).
    deferred: Vec<(ProcId, AgentEvent)>,
    /// The list a step's effects are written into, kept between steps (a
    /// new one per input was an allocation per agent line).
    effects: Vec<Effect>,
    /// A spawn waiting for an agent slot (`--max-agents`).
    pending: Option<PendingSpawn>,
    /// The slot each live agent process holds.
    slots: HashMap<ProcId, SlotGuard>,
    /// What the slots were last told: no turn is running.
    slot_idle: bool,
    /// Notified when someone waits for a slot and this session's agent has
    /// no turn: it is asked to end (the next turn resumes the conversation).
    release_wanted: Arc<tokio::sync::Notify>,
    /// Answered when the actor has ended (`Command::Close`).
    closers: Vec<oneshot::Sender<()>>,
    commands: mpsc::Receiver<Command>,
    agent_tx: process::AgentEvents,
    /// ACP file calls being served for this session.
    file_calls: Arc<std::sync::atomic::AtomicUsize>,
    agent_rx: mpsc::Receiver<(ProcId, AgentEvent)>,
    subscribers: HashMap<ConnId, Subscriber>,
    procs: HashMap<ProcId, ProcHandle>,
    timers: Timers,
    /// When the current hold of agent output ends (its timer is set).
    hold_due: Option<std::time::Instant>,
    adopted: u64,
    rt: SessionRuntime,
}

impl Actor {
    /// What the registry's sweep reads: quiet (no tab, no turn, nothing
    /// unstored), an agent process alive, no events at all.
    fn publish_activity(&self) {
        let quiet = self.subscribers.is_empty() && self.state.is_calm() && self.outbox.is_settled();
        self.activity
            .set(quiet, !self.procs.is_empty(), self.state.has_no_events());
    }

    async fn run(mut self, cfg: SessionConfig) {
        self.load(cfg).await;
        self.persist(false).await;
        // A session created and never used (an API call, a tab gone before
        // its hello) counts as quiet from here, so it can be retired.
        self.publish_activity();
        let mut shutting_down = false;
        let mut commands_open = true;
        loop {
            // Only agent output (and what follows it: its commit, the end
            // of a hold) may be held back by `--coalesce`.
            let mut may_hold = false;
            // Every branch is cancel-safe: `recv`, `changed`, a token and a
            // timer sleep. Commands go first, so a stop is never queued behind
            // agent output.
            tokio::select! {
                biased;
                _ = self.rt.shutdown.cancelled(), if !shutting_down => {
                    shutting_down = true;
                    self.feed(Input::Shutdown, None);
                }
                cmd = self.commands.recv(), if commands_open => match cmd {
                    Some(Command::Close { reply }) => {
                        self.closers.push(reply);
                        // Close is the delete: every tab of it hears so at once.
                        let gone: Frame = serde_json::json!({"type": "session_deleted", "session": &*self.id})
                            .to_string()
                            .into();
                        for sub in self.subscribers.values() {
                            let _ = sub.private.try_send(gone.clone());
                        }
                        if !shutting_down {
                            shutting_down = true;
                            self.feed(Input::Shutdown, None);
                        }
                    }
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
                Ok(()) = self.commit_rx.changed() => {
                    self.on_commit();
                    may_hold = true;
                }
                news = slot_news(&mut self.pending) => match news {
                    SlotNews::Granted(slot) => {
                        if let Some(p) = self.pending.take() {
                            self.start_agent(p.proc, p.spec, slot);
                            for line in p.writes {
                                self.perform(Effect::Write { proc: p.proc, line }, None);
                            }
                        }
                    }
                    SlotNews::Ahead(ahead) => {
                        if let Some(proc) = self.pending.as_ref().map(|p| p.proc) {
                            self.feed(Input::Agent { proc, event: AgentEvent::Waiting { ahead } }, None);
                        }
                    }
                },
                _ = self.release_wanted.notified() => self.feed(Input::ReleaseAgent, None),
                // Invariant: at most `unstored` bytes of events wait for the
                // store (plus what one reader's batch brings: a line and
                // the rest of its 64 KiB read); beyond it agent output stays
                // in the pipe until a commit (which always comes, or fails
                // and is retried).
                Some((proc, event)) = self.agent_rx.recv(), if self.outbox.unacked_bytes() < self.rt.bytes.unstored => {
                    may_hold = true;
                    // Every line of the burst had arrived by now.
                    let arrived = Arrival::now();
                    let mut taken = lines_in(&event);
                    self.on_agent_event(proc, event, arrived);
                    // What else the agents already wrote goes into the same
                    // step: one hand-over to the store and one loop turn for
                    // a burst instead of one per line. Bounded, and under the
                    // same byte invariant, so a command waits at most
                    // AGENT_BURST lines (and one batch of a reader).
                    while taken < AGENT_BURST {
                        if self.outbox.unacked_bytes() >= self.rt.bytes.unstored {
                            break;
                        }
                        match self.agent_rx.try_recv() {
                            Ok((proc, event)) => {
                                taken += lines_in(&event);
                                self.on_agent_event(proc, event, arrived);
                            }
                            Err(_) => break,
                        }
                    }
                }
                Some(expired) = self.timers.next() => match expired {
                    Timer::StopGrace(run_id) => self.feed(Input::StopGraceElapsed { run_id }, None),
                    Timer::AgentStart(proc) => self.feed(Input::AgentStartElapsed { proc }, None),
                    Timer::StoreRetry => self.outbox.retry(self.state.meta()),
                    Timer::HoldEnds => {
                        self.hold_due = None;
                        may_hold = true;
                    }
                },
            }
            self.persist(may_hold && !shutting_down).await;
            self.publish_activity();
            self.publish_slot_idle();
            if shutting_down
                && self.state.is_quiescent()
                && self.procs.is_empty()
                && self.outbox.flushed()
            {
                break;
            }
        }
        tracing::debug!(session = %self.id, "session actor ended");
        for c in self.closers.drain(..) {
            let _ = c.send(());
        }
        // Dropping the subscribers ends every tab's event stream after the
        // frames already queued (exec_end included) have been delivered.
    }

    fn on_agent_event(&mut self, proc: ProcId, event: AgentEvent, arrived: Arrival) {
        match event {
            AgentEvent::Started { pid, started_by } => {
                // Remembered so a server killed with SIGKILL can clean up
                // this group at its next start.
                self.pgids.insert(proc, pid);
                if let Some(start_ticks) = started_by {
                    self.proc_records.push(Cmd::ProcStarted {
                        session: self.id.clone(),
                        pgid: pid,
                        start_ticks,
                    });
                }
            }
            // Fed one by one, as the reader would have handed them over
            // without the batch; their budget comes back once, as taken.
            AgentEvent::Lines(lines) => {
                let lens: Vec<usize> = lines.iter().map(String::len).collect();
                self.line_at = Some(arrived.at);
                for line in lines {
                    self.feed_at(
                        Input::Agent {
                            proc,
                            event: AgentEvent::Line(line),
                        },
                        None,
                        arrived.wall_ms,
                    );
                }
                self.line_at = None;
                self.agent_tx.lines_done(lens);
            }
            event => {
                if let AgentEvent::SpawnFailed { error } = &event {
                    tracing::error!(session = %self.id, proc = proc.0, %error, "agent failed to start");
                }
                let last = matches!(
                    event,
                    AgentEvent::Exited { .. } | AgentEvent::SpawnFailed { .. }
                );
                let line_len = match &event {
                    AgentEvent::Line(l) => Some(l.len()),
                    _ => None,
                };
                if line_len.is_some() {
                    self.line_at = Some(arrived.at);
                }
                self.feed_at(Input::Agent { proc, event }, None, arrived.wall_ms);
                if let Some(len) = line_len {
                    // Made into events (held in the outbox now): the reader
                    // may hand over more.
                    self.agent_tx.lines_done([len]);
                }
                self.line_at = None;
                if last {
                    if let Some(pgid) = self.pgids.remove(&proc) {
                        self.proc_records.push(Cmd::ProcEnded { pgid });
                    }
                    if self.procs.remove(&proc).is_some() {
                        self.rt.stats.live_processes.fetch_sub(1, Ordering::Relaxed);
                    }
                    // Its slot goes to the next turn waiting, if any.
                    self.slots.remove(&proc);
                }
            }
        }
    }

    fn on_command(&mut self, cmd: Command) {
        match cmd {
            Command::ChooseAgent { name } => {
                let fresh = self.state.has_no_events() && self.procs.is_empty();
                if fresh && name != *self.agent {
                    if let Some(spec) = self.rt.agents.get(&name) {
                        let mut cfg = self.state.config().clone();
                        cfg.agent = spec.clone();
                        self.state = SessionState::new(cfg);
                        self.agent = name.into();
                    }
                }
            }
            Command::Subscribe {
                conn,
                last_seq,
                private,
                reply,
            } => {
                let (tx, rx) = mpsc::channel(self.rt.subscriber_queue);
                let log = &self.log;
                let replay = match last_seq {
                    Some(after) => log.since(after),
                    None => Vec::new(),
                };
                // Older than the memory tail: the tab's writer reads it from
                // the store (it is all committed) before `replay`.
                let from_store = last_seq
                    // A client may send any lastSeq, u64::MAX included.
                    .filter(|after| after.saturating_add(1) < log.first_seq())
                    .map(|after| StoreGap {
                        store: self.rt.store.clone(),
                        session: self.id.clone(),
                        after,
                        before: log.first_seq(),
                        page_bytes: self.rt.bytes.replay_page,
                        stats: self.rt.stats.clone(),
                    });
                let hello = Reply::Session {
                    session: self.id.to_string(),
                    last_seq: log.last_seq(),
                    running: self.state.running().is_some(),
                    run_id: self.state.running(),
                    first_seq: 1,
                    permission_mode: self.state.permission_mode().as_str(),
                    agent: self.agent.to_string(),
                    cost_usd: Some(self.state.cost_usd()).filter(|c| *c > 0.0),
                    takes_images: self.state.config().agent.takes_images(),
                }
                .to_frame();
                // Invariant: registration and replay happen in this one step;
                // the next broadcast reaches `tx` and is not in `replay`.
                let lagged = Arc::new(std::sync::atomic::AtomicBool::new(false));
                let queued = Arc::new(std::sync::atomic::AtomicUsize::new(0));
                self.subscribers.insert(
                    conn,
                    Subscriber {
                        events: tx,
                        private,
                        lagged: lagged.clone(),
                        queued: queued.clone(),
                    },
                );
                let _ = reply.send(Subscription {
                    hello,
                    from_store,
                    replay,
                    events: rx,
                    lagged,
                    queued,
                });
            }
            Command::Unsubscribe { conn } => {
                self.subscribers.remove(&conn);
            }
            Command::Input { input, reply_to } => self.feed(*input, reply_to),
            Command::Adopt { id, past, reply } => {
                let input = match past {
                    Some(past) => Input::ImportConversation { id, past },
                    None => Input::AdoptAgentSession { id },
                };
                self.feed(input, None);
                self.adopted += 1;
                let _ = reply.send(self.adopted);
            }
            Command::Snapshot { reply } => {
                let _ = reply.send(self.state.snapshot());
            }
            Command::ReleaseAgent => self.feed(Input::ReleaseAgent, None),
            Command::Close { reply } => self.closers.push(reply),
        }
    }
}

mod activity;
mod effects;
mod handle;
mod outbox;
mod slots;
mod store_sync;

#[cfg(test)]
mod tests;
