//! `SessionState`: everything one chat session knows, as a pure state machine.
//!
//! `handle(input) -> effects` does no I/O, reads no clock and never blocks;
//! the actor feeds it inputs one at a time and performs the effects. Every
//! race of the seed report becomes an ordering of inputs here, and orderings
//! can be tested exhaustively without threads.

use super::history::History;
use super::tool_cache::{ToolCache, ToolUse};
use crate::agent::acp::client::{AcpClient, FileCall};
use crate::agent::attachments::{self, Attachment};
use crate::agent::claude::past::PastConversation;
use crate::agent::claude::{self, lines};
use crate::agent::{valid_agent_session_id, AgentSpec, ClaudeMode, SpawnSpec};
use crate::permissions::{PermissionMode, Permissions};
use crate::protocol::server::{Frame, Reply, SessionEvent, TurnStatus};
use crate::protocol::Decision;
use crate::store::SessionMeta;
use serde_json::Value;
use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

/// A WebSocket connection, as the session knows it.
pub type ConnId = u64;

/// Generation number of an agent process within its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProcId(pub u64);

#[derive(Debug, Clone)]
pub struct SessionConfig {
    pub agent: AgentSpec,
    pub history_cap: usize,
    pub tool_cache_cap: usize,

    pub queue_cap: usize,
    pub stop_grace: Duration,
    /// How long an ACP agent may take to open its session (initialize and
    /// session/new or load) before the turn fails.
    pub agent_start_timeout: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    UserMessage {
        from: ConnId,
        content: String,
        agent_session_hint: Option<String>,
        /// Files attached to it (read from the store by the connection).
        attachments: Vec<Attachment>,
    },
    Stop {
        from: ConnId,
        run_id: Option<u64>,
    },
    PermissionAnswer {
        from: ConnId,
        request_id: String,
        decision: Decision,
        reason: Option<String>,
        /// AskUserQuestion: question text → the chosen answer(s).
        answers: Option<Value>,
        /// ACP: the agent's option picked explicitly (overrides `decision`).
        option_id: Option<String>,
    },
    /// Switch Claude Code's permission mode for this session.
    SetPermissionMode {
        mode: PermissionMode,
    },
    LegacyPermission {
        allowed_tools: Vec<String>,
        skip: bool,
    },
    CancelQueued {
        from: ConnId,
        queue_id: u64,
    },
    /// Continue an existing agent conversation in this session.
    AdoptAgentSession {
        id: String,
    },
    /// Continue a Claude Code conversation, opening with its past turns as
    /// read from its transcript (a session that has events keeps them and
    /// only adopts the id).
    ImportConversation {
        id: String,
        past: Box<PastConversation>,
    },
    Agent {
        proc: ProcId,
        event: AgentEvent,
    },
    StopGraceElapsed {
        run_id: u64,
    },
    /// `agent_start_timeout` after an ACP process was spawned.
    AgentStartElapsed {
        proc: ProcId,
    },
    /// Nobody watches and nothing runs: end the idle agent process.
    ReleaseAgent,
    Shutdown,
}

/// What a run task reports about its process. `Exited` or `SpawnFailed` is
/// always the last event of a process.
#[derive(Debug, Clone, PartialEq)]
pub enum AgentEvent {
    /// The process runs, as the leader of process group `pid`; it had
    /// started by `started_by` (clock ticks since boot, see
    /// `process::kill_leftovers`).
    Started {
        pid: i32,
        started_by: Option<u64>,
    },
    Line(String),
    /// Lines that one read brought, in order: handed over together (one
    /// queue slot and one budget take for a burst). The actor feeds them
    /// as `Line`s one by one; fed whole, they are those lines in one step.
    Lines(Vec<String>),
    LineTooLong {
        len: usize,
        limit: usize,
    },
    Stderr(String),
    Exited {
        code: Option<i32>,
        signal: Option<i32>,
    },
    SpawnFailed {
        error: String,
    },
    /// Not started yet: waiting for one of `--max-agents` slots, with
    /// `ahead` turns before it.
    Waiting {
        ahead: usize,
    },
    /// A `FileCall` effect was carried out.
    FileCallDone {
        rpc_id: String,
        outcome: FileOutcome,
    },
}

/// What serving an agent's file call came to.
#[derive(Debug, Clone, PartialEq)]
pub enum FileOutcome {
    Read(String),
    Written {
        path: String,
        old_text: Option<String>,
        new_text: String,
    },
    Failed(String),
}

/// What one input asks the caller (the session actor) to do. The caller's
/// contract: the effects of one input are carried out in order, all of them
/// before the next input is fed; a `Spawn` that cannot start at once (no
/// agent slot) is answered with `AgentEvent::Waiting` in the same step,
/// after the step's other effects; `SaveMeta`, when present, is the step's
/// last effect, so the meta the store gets covers every event before it.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// A numbered session event: persist it, then send it to every subscriber.
    Event {
        seq: u64,
        frame: Frame,
    },
    /// What must survive a restart changed (history, permissions, title,
    /// the running turn, counters).
    SaveMeta(SessionMeta),
    Reply {
        to: ConnId,
        frame: Frame,
    },
    Spawn {
        proc: ProcId,
        spec: Arc<SpawnSpec>,
    },
    /// One line to the process's stdin.
    Write {
        proc: ProcId,
        line: String,
    },
    /// SIGINT → SIGTERM → SIGKILL to the process group, within `grace`.
    Terminate {
        proc: ProcId,
        grace: Duration,
    },
    /// Feed `StopGraceElapsed { run_id }` after `after`.
    ArmStopTimer {
        run_id: u64,
        after: Duration,
    },
    /// Feed `AgentStartElapsed { proc }` after `after`.
    ArmStartTimer {
        proc: ProcId,
        after: Duration,
    },
    /// Serve an ACP agent's file call (off the session's task), then feed
    /// `AgentEvent::FileCallDone` for `proc`.
    FileCall {
        proc: ProcId,
        call: FileCall,
    },
}

/// A read-only view for the public handle and tests.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionSnapshot {
    pub history: Vec<String>,
    pub permissions: Permissions,
    pub tool_cache_len: usize,
    pub running: Option<u64>,
    pub queue: Vec<(u64, String)>,
    pub last_seq: u64,
}

#[derive(Debug)]
struct Proc {
    id: ProcId,
    /// What was started; written out (`display`) only for a message: the
    /// quoting cost more than the rest of starting a turn.
    command: Arc<SpawnSpec>,
    /// The id given with `--resume`, if any.
    resumed: Option<String>,
    no_conversation: bool,
    terminating: bool,
    stderr_tail: VecDeque<String>,
    /// ACP: the protocol side of this process.
    acp: Option<AcpClient>,
    /// ACP: a line that was not JSON-RPC was already reported.
    told_not_json: bool,
    /// Claude: the running cost total this process last reported.
    cost_seen: f64,
}

#[derive(Debug)]
struct Prompt {
    request_id: String,
    tool: String,
    input: Value,
    /// Duplex: the CLI's own `request_id`, to answer on stdin.
    agent_request_id: Option<String>,
    answer: Option<Decision>,
    /// The user's words with a denial, for the agent.
    reason: Option<String>,
    /// ACP: what the agent offered to answer with.
    options: Vec<agent_client_protocol_schema::v1::PermissionOption>,
}

#[derive(Debug)]
struct Turn {
    run_id: u64,
    /// What the agent is sent: the message with its text files inlined.
    prompt: String,
    /// Attached images, for agents that take them.
    images: Vec<Attachment>,
    stopping: bool,
    result: Option<lines::TurnResult>,
    /// Resume candidates not tried yet, newest first (a snapshot taken when
    /// the turn started: the walk never sees a half-updated history).
    fallback: VecDeque<String>,
    prompts: Vec<Prompt>,
    /// Classic: tools allowed for the rerun of this turn only.
    once_allowed: BTreeSet<String>,
    /// Classic: the user's denial reasons were already passed on.
    told_denial: bool,
}

const STDERR_TAIL: usize = 20;

/// A message waiting for the running turn to end.
#[derive(Debug, Clone)]
struct Waiting {
    id: u64,
    content: String,
    attachments: Vec<Attachment>,
}

impl Waiting {
    fn listed(&self) -> (u64, String) {
        (self.id, self.content.clone())
    }
}

pub struct SessionState {
    cfg: SessionConfig,
    history: History,
    permissions: Permissions,
    tool_cache: ToolCache,
    next_seq: u64,
    title: Option<String>,
    /// Something `meta()` reports changed during this `handle` call.
    dirty: bool,
    proc: Option<Proc>,
    turn: Option<Turn>,
    queue: VecDeque<Waiting>,
    next_proc: u64,
    next_run: u64,
    next_queue: u64,
    next_request: u64,
    shutting_down: bool,
    /// The wall clock as the actor last set it (ms since the epoch): events
    /// are stamped with it. An input like any other; `None` in pure tests.
    now_ms: Option<i64>,
    /// What the session's turns have cost so far (USD).
    cost_usd: f64,
    /// Tokens of the agent's last request (its context), if reported.
    context_tokens: Option<u64>,
    out: Vec<Effect>,
}

impl SessionState {
    pub fn new(cfg: SessionConfig) -> Self {
        Self {
            history: History::new(cfg.history_cap),
            tool_cache: ToolCache::new(cfg.tool_cache_cap),
            next_seq: 1,
            title: None,
            dirty: false,
            permissions: Permissions::default(),
            proc: None,
            turn: None,
            queue: VecDeque::new(),
            next_proc: 1,
            next_run: 1,
            next_queue: 1,
            next_request: 1,
            shutting_down: false,
            now_ms: None,
            cost_usd: 0.0,
            context_tokens: None,
            out: Vec::new(),
            cfg,
        }
    }

    /// As `handle`, the effects appended to `out`: a caller that keeps one
    /// list saves an allocation per input.
    pub fn handle_into(&mut self, input: Input, out: &mut Vec<Effect>) {
        // The step writes into `self.out`, which `handle` hands back whole.
        // Invariant: `self.out` is empty between steps (each step ends in
        // `finish_step`, which takes it), so the swap drops nothing.
        debug_assert!(self.out.is_empty());
        std::mem::swap(&mut self.out, out);
        *out = self.handle(input);
    }

    pub fn handle(&mut self, input: Input) -> Vec<Effect> {
        match input {
            Input::UserMessage {
                from,
                content,
                agent_session_hint,
                attachments,
            } => self.on_user_message(from, content, agent_session_hint, attachments),
            Input::Stop { from, run_id } => self.on_stop(from, run_id),
            Input::PermissionAnswer {
                from,
                request_id,
                decision,
                reason,
                answers,
                option_id,
            } => self.on_answer(from, &request_id, decision, reason, answers, option_id),
            Input::SetPermissionMode { mode } => {
                let next = self.permissions.with_mode(mode);
                self.set_permissions(next);
            }
            Input::LegacyPermission {
                allowed_tools,
                skip,
            } => self.on_legacy_permission(allowed_tools, skip),
            Input::CancelQueued { from, queue_id } => self.on_cancel_queued(from, queue_id),
            Input::AdoptAgentSession { id } => self.adopt(&id),
            Input::ImportConversation { id, past } => self.import_conversation(&id, *past),
            Input::Agent { proc, event } => {
                if self.proc.as_ref().map(|p| p.id) == Some(proc) {
                    self.on_agent(event);
                }
                // Events of a process that is no longer current are ignored:
                // a stale run can never touch the state of a newer one.
            }
            Input::StopGraceElapsed { run_id } => self.on_stop_grace(run_id),
            Input::AgentStartElapsed { proc } => self.on_acp_start_elapsed(proc),
            Input::ReleaseAgent => self.release_agent(),
            Input::Shutdown => self.on_shutdown(),
        }
        self.finish_step()
    }

    /// Sets the clock events are stamped with from now on.
    pub fn set_now(&mut self, ms: i64) {
        self.now_ms = Some(ms);
    }

    // ---- read-only views -------------------------------------------------

    pub fn snapshot(&self) -> SessionSnapshot {
        SessionSnapshot {
            history: self.history.to_vec(),
            permissions: self.permissions.clone(),
            tool_cache_len: self.tool_cache.len(),
            running: self.turn.as_ref().map(|t| t.run_id),
            queue: self.queue.iter().map(Waiting::listed).collect(),
            last_seq: self.next_seq - 1,
        }
    }

    /// A session continued from the store: its memory, and seq, run and
    /// request numbers that go on where they stopped. A turn that was
    /// running when the last server died gets its `exec_end` now.
    pub fn restore(cfg: SessionConfig, meta: &SessionMeta, last_seq: u64) -> (Self, Vec<Effect>) {
        let mut s = Self::new(cfg);
        for id in &meta.history {
            s.history.push(id);
        }
        s.permissions = meta.permissions();
        s.title.clone_from(&meta.title);
        s.next_seq = last_seq + 1;
        s.next_run = meta.next_run.max(1);
        s.next_request = meta.next_request.max(1);
        s.next_queue = meta.next_queue.max(1);
        s.cost_usd = meta.cost_usd;
        if let Some(run_id) = meta.running {
            s.emit(SessionEvent::ExecEnd {
                run_id,
                status: TurnStatus::Interrupted,
                exit_code: None,
                message: Some(
                    "interrupted: swe-swe stopped during this turn (it was killed or crashed); the turn did not finish"
                        .into(),
                ),
                at: None,
            });
            s.dirty = true;
        }
        // Messages that were waiting when the last server died are not sent
        // behind the user's back: each is cancelled, visibly, and kept in
        // the log as it was typed.
        if !meta.queue.is_empty() {
            for (queue_id, _) in &meta.queue {
                s.emit(SessionEvent::QueueCancelled {
                    queue_id: *queue_id,
                });
            }
            let n = meta.queue.len();
            s.info(format!(
                "{n} queued message{} {} not sent because swe-swe stopped; send {} again if you still want {}.",
                if n == 1 { "" } else { "s" },
                if n == 1 { "was" } else { "were" },
                if n == 1 { "it" } else { "them" },
                if n == 1 { "it" } else { "them" },
            ));
            s.dirty = true;
        }
        let fx = s.finish_step();
        (s, fx)
    }

    /// What the store keeps of this session besides its events.
    pub fn meta(&self) -> SessionMeta {
        SessionMeta {
            title: self.title.clone(),
            history: self.history.to_vec(),
            allowed_tools: self.permissions.allowed_tools.iter().cloned().collect(),
            skip_all: self.permissions.skip_all,
            running: self.turn.as_ref().map(|t| t.run_id),
            next_run: self.next_run,
            next_request: self.next_request,
            permission_mode: Some(self.permissions.mode)
                .filter(|m| *m != PermissionMode::Default)
                .map(|m| m.as_str().to_owned()),
            // Only the text survives a restart: queued messages are then
            // cancelled, visibly, not sent.
            queue: self.queue.iter().map(Waiting::listed).collect(),
            next_queue: self.next_queue,
            cost_usd: self.cost_usd,
        }
    }

    fn finish_step(&mut self) -> Vec<Effect> {
        if std::mem::take(&mut self.dirty) {
            let meta = self.meta();
            self.out.push(Effect::SaveMeta(meta));
        }
        std::mem::take(&mut self.out)
    }

    /// Permission prompts of the current turn still waiting for an answer.
    pub fn prompts_waiting(&self) -> usize {
        self.turn.as_ref().map_or(0, |t| {
            t.prompts.iter().filter(|p| p.answer.is_none()).count()
        })
    }

    pub fn config(&self) -> &SessionConfig {
        &self.cfg
    }

    pub fn permission_mode(&self) -> PermissionMode {
        self.permissions.mode()
    }

    pub fn cost_usd(&self) -> f64 {
        self.cost_usd
    }

    pub fn running(&self) -> Option<u64> {
        self.turn.as_ref().map(|t| t.run_id)
    }

    /// After `Shutdown`: nothing runs and no process is left.
    pub fn is_quiescent(&self) -> bool {
        self.shutting_down && self.turn.is_none() && self.proc.is_none()
    }

    /// No event has been given a seq: nothing of this session is stored.
    pub fn has_no_events(&self) -> bool {
        self.next_seq == 1
    }

    /// No turn runs and nothing is queued (an idle process may be alive).
    pub fn is_calm(&self) -> bool {
        self.turn.is_none() && self.queue.is_empty()
    }

    /// Nothing runs, nothing is queued, no process is alive.
    #[cfg(test)]
    pub fn is_idle(&self) -> bool {
        self.turn.is_none() && self.proc.is_none() && self.queue.is_empty()
    }

    // ---- output helpers --------------------------------------------------

    fn emit(&mut self, event: SessionEvent) {
        let seq = self.next_seq;
        self.next_seq += 1;
        // Events that change what `meta()` reports mark it for saving.
        self.dirty |= matches!(
            event,
            SessionEvent::ExecStart { .. }
                | SessionEvent::ExecEnd { .. }
                | SessionEvent::Queued { .. }
                | SessionEvent::QueueCancelled { .. }
                | SessionEvent::AgentSession { .. }
                | SessionEvent::PermissionResolved { .. }
        );
        let frame = event.to_frame(seq);
        self.out.push(Effect::Event { seq, frame });
    }

    fn reply(&mut self, to: ConnId, reply: Reply) {
        self.out.push(Effect::Reply {
            to,
            frame: reply.to_frame(),
        });
    }

    /// Ends the current process, once: SIGINT → SIGTERM → SIGKILL to its
    /// group within `grace` (the run task does it; the exit comes back as
    /// `AgentEvent::Exited`).
    fn terminate(&mut self, grace: Duration) {
        if let Some(p) = self.proc.as_mut().filter(|p| !p.terminating) {
            p.terminating = true;
            let proc = p.id;
            self.out.push(Effect::Terminate { proc, grace });
        }
    }

    fn write(&mut self, line: String) {
        if let Some(p) = &self.proc {
            self.out.push(Effect::Write { proc: p.id, line });
        }
    }

    fn info(&mut self, message: impl Into<String>) {
        self.emit(SessionEvent::Info {
            message: message.into(),
        });
    }
}

mod acp_output;
mod agent_output;
mod claude_output;
mod prompts;
mod turns;
mod user_input;

#[cfg(test)]
mod tests;
