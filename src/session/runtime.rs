//! What all sessions share: where agents run, limits, the task tracker, the
//! shutdown signal, the store and counters.

use crate::process::{ProcLimits, Spawner};
use crate::store::Store;
use std::sync::atomic::{AtomicI64, AtomicU64};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// What every session shares: where agents run, limits, the task tracker and
/// the shutdown signal.
#[derive(Clone)]
pub struct SessionRuntime {
    /// Starts agent processes in the project folder (`spawner.cwd()`).
    pub spawner: Spawner,
    pub limits: ProcLimits,
    pub subscriber_queue: usize,
    pub tracker: TaskTracker,
    pub shutdown: CancellationToken,
    pub stats: Arc<Stats>,
    pub store: Store,
    /// Events held in memory per session (older ones come from the store).
    pub tail_cap: usize,
    /// Byte budgets of what a session holds for its tabs.
    pub bytes: ByteBudgets,
    /// How long a streaming turn's output may wait to be stored and sent
    /// with the output that follows (`--coalesce`; zero: not at all).
    pub coalesce: std::time::Duration,
    /// The `--max-agents` slots, shared by every session.
    pub slots: Arc<super::agent_slots::AgentSlots>,
    /// The agents a session may run.
    pub agents: Arc<crate::agent::catalog::AgentCatalog>,
    /// Status and list changes, for every open tab.
    pub notices: super::notices::Notices,
}

/// Memory bounded in bytes, not only in counts: one agent line may be
/// megabytes (a tool reading a big file).
#[derive(Debug, Clone, Copy)]
pub struct ByteBudgets {
    /// The in-memory tail of each session's log (`--tail-bytes`).
    pub tail: usize,
    /// One page of events read from the store for a replay
    /// (`--replay-page-bytes`); a larger event is a page of its own.
    pub replay_page: usize,
    /// Events queued for one tab (`--subscriber-queue-bytes`); a tab over it
    /// is dropped and replays by seq when it reconnects.
    pub subscriber_queue: usize,
    /// Agent output read but not yet made into events, per session; the
    /// agent's pipe waits beyond it.
    pub agent_lines: usize,
    /// Events made but not yet committed, per session; the session stops
    /// reading agent output beyond it until the store catches up.
    pub unstored: usize,
}

impl ByteBudgets {
    /// The budgets the flags set. Invariant: `unstored <= subscriber_queue`.
    /// One commit releases up to `unstored` bytes (plus one line's events)
    /// to every tab at once, and a tab is dropped only once it holds its
    /// budget (`admits` in actor/effects.rs): so a tab that had drained
    /// takes any release whole.
    pub fn new(tail: usize, replay_page: usize, subscriber_queue: usize) -> Self {
        let d = Self::default();
        ByteBudgets {
            tail,
            replay_page,
            subscriber_queue,
            unstored: d.unstored.min(subscriber_queue),
            ..d
        }
    }
}

impl Default for ByteBudgets {
    fn default() -> Self {
        ByteBudgets {
            tail: 16 << 20,
            replay_page: 8 << 20,
            subscriber_queue: 32 << 20,
            agent_lines: 16 << 20,
            unstored: 32 << 20,
        }
    }
}

/// Counters shared by all sessions, for logs and load figures.
#[derive(Debug, Default)]
pub struct Stats {
    pub dropped_subscribers: AtomicU64,
    pub live_processes: AtomicU64,
    /// Turns running now, across sessions.
    pub runs_active: AtomicI64,
    /// Permission prompts waiting for an answer, across sessions.
    pub prompts_waiting: AtomicI64,
    /// Session events delivered (committed and sent to tabs).
    pub events: AtomicU64,
    /// WebSocket connections open now.
    pub connections: AtomicI64,
    /// Quiet sessions retired from memory.
    pub sessions_retired: AtomicU64,
    /// Bytes of stored events read for tabs' replays and not yet written
    /// to their sockets, and in how many pages (a page per replaying tab
    /// at most).
    pub replay_bytes: AtomicI64,
    pub replay_pages: AtomicI64,
    /// From an agent line reaching its session to its event being queued
    /// for the tabs (includes the store commit).
    pub event_delay: super::latency::Histogram,
}
