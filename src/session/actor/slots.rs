//! A session's side of the agent slots (`--max-agents`): starting an agent
//! with its slot, a spawn that waits for one, and telling the slots when
//! this session's agent is between turns.

use super::*;
use crate::session::agent_slots::Ticket;

pub(super) struct PendingSpawn {
    pub proc: ProcId,
    pub spec: std::sync::Arc<crate::agent::SpawnSpec>,
    pub ticket: Ticket,
    /// Lines for its stdin (the prompt), in order.
    pub writes: Vec<String>,
}

/// News about a spawn waiting for a slot.
pub(super) enum SlotNews {
    Granted(SlotGuard),
    Ahead(usize),
}

/// Resolves when the waiting spawn gets its slot or moves up; never when
/// nothing waits.
pub(super) async fn slot_news(pending: &mut Option<PendingSpawn>) -> SlotNews {
    let Some(p) = pending.as_mut() else {
        return std::future::pending().await;
    };
    tokio::select! {
        Ok(slot) = &mut p.ticket.granted => SlotNews::Granted(slot),
        Ok(()) = p.ticket.position.changed() => SlotNews::Ahead(*p.ticket.position.borrow_and_update()),
        else => std::future::pending().await,
    }
}

impl Actor {
    /// Starts an agent process holding `slot` until it ends.
    pub(super) fn start_agent(
        &mut self,
        proc: ProcId,
        spec: std::sync::Arc<crate::agent::SpawnSpec>,
        slot: SlotGuard,
    ) {
        // The command line holds the prompt: only at debug level.
        tracing::info!(session = %self.id, proc = proc.0, program = %log_safe(&spec.program), "starting agent");
        tracing::debug!(session = %self.id, proc = proc.0, command = %log_safe(&spec.display()), "agent command");
        let handle = process::spawn_run(
            &self.rt.tracker,
            proc,
            spec,
            &self.rt.spawner,
            self.agent_tx.clone(),
            self.rt.limits.clone(),
        );
        self.rt.stats.live_processes.fetch_add(1, Ordering::Relaxed);
        self.procs.insert(proc, handle);
        self.slots.insert(proc, slot);
        self.slot_idle = false;
    }

    /// Tells the agent slots whether this session's agent is between turns
    /// (then it may be asked to make room); only on a change, since the
    /// slots are shared by every session.
    pub(super) fn publish_slot_idle(&mut self) {
        let idle = self.state.running().is_none();
        if idle != self.slot_idle {
            self.slot_idle = idle;
            let now = activity::now_ms();
            for slot in self.slots.values() {
                slot.set_idle(idle, &self.release_wanted, now);
            }
        }
    }
}
