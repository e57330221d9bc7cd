//! Feeding the state machine and carrying out what it asks for: events held
//! until the store commits them, replies, process spawns / writes / signals,
//! timers, and the fan-out of committed events to every subscribed tab.

use super::*;
use crate::agent::acp::client::FileCall;
use crate::session::state::FileOutcome;

impl Actor {
    pub(super) fn feed(&mut self, input: Input, reply_to: Option<mpsc::Sender<Frame>>) {
        self.feed_at(input, reply_to, crate::store::now_ms());
    }

    /// `feed` at wall-clock time `now_ms` (read once for a burst of agent
    /// lines: a clock read per line was ~1 % of the runtime's CPU).
    pub(super) fn feed_at(
        &mut self,
        input: Input,
        reply_to: Option<mpsc::Sender<Frame>>,
        now_ms: i64,
    ) {
        let (was_running, was_waiting) =
            (self.state.running().is_some(), self.state.prompts_waiting());

        self.state.set_now(now_ms);
        self.step(input, reply_to.as_ref());
        // What the step's effects had to say back (a turn waiting for an
        // agent slot, a spawn that will not happen): fed after every effect
        // of the step is carried out, so one input's effects stay in order.
        while !self.deferred.is_empty() {
            for (proc, event) in std::mem::take(&mut self.deferred) {
                self.step(Input::Agent { proc, event }, reply_to.as_ref());
            }
        }
        // Gauges for /metrics move by this session's change.
        let stats = &self.rt.stats;
        let running = self.state.running().is_some();
        if running != was_running {
            stats
                .runs_active
                .fetch_add(if running { 1 } else { -1 }, Ordering::Relaxed);
        }
        let waiting = self.state.prompts_waiting() as i64 - was_waiting as i64;
        if waiting != 0 {
            stats.prompts_waiting.fetch_add(waiting, Ordering::Relaxed);
        }
        // Every tab's session list shows who runs and who waits for an answer.
        let now_waiting = self.state.prompts_waiting();
        if running != was_running || (now_waiting > 0) != (was_waiting > 0) {
            self.rt.notices.status(&self.id, running, now_waiting > 0);
        }
    }

    /// One input through the state machine, its effects carried out in
    /// order. The effects' list is the actor's, reused (a step within a
    /// step, if an effect ever fed one, would take a fresh list).
    fn step(&mut self, input: Input, reply_to: Option<&mpsc::Sender<Frame>>) {
        let mut effects = std::mem::take(&mut self.effects);
        self.state.handle_into(input, &mut effects);
        for effect in effects.drain(..) {
            self.perform(effect, reply_to);
        }
        self.effects = effects;
    }

    pub(super) fn perform(&mut self, effect: Effect, reply_to: Option<&mpsc::Sender<Frame>>) {
        match effect {
            // Sent to nobody until the store has it (see `on_commit`).
            Effect::Event { seq, frame } => self.outbox.push(seq, frame, self.line_at),
            Effect::SaveMeta(meta) => self.outbox.set_meta(meta),
            Effect::Reply { to, frame } => {
                let target = reply_to.or_else(|| self.subscribers.get(&to).map(|s| &s.private));
                if let Some(tx) = target {
                    // A connection whose private queue is full is being
                    // dropped anyway; replies are never worth blocking for.
                    let _ = tx.try_send(frame);
                }
            }
            Effect::Spawn { proc, spec } => match self.rt.slots.acquire() {
                Acquired::Now(slot) => self.start_agent(proc, spec, slot),
                Acquired::Queued(ticket) => {
                    // The state runs one process at a time: at most one
                    // spawn waits per session.
                    let ahead = *ticket.position.borrow();
                    tracing::info!(session = %self.id, proc = proc.0, ahead, "waiting for an agent slot (--max-agents)");
                    self.pending = Some(PendingSpawn {
                        proc,
                        spec,
                        ticket,
                        writes: Vec::new(),
                    });
                    self.deferred.push((proc, AgentEvent::Waiting { ahead }));
                }
            },
            Effect::Terminate { proc, .. }
                if self.pending.as_ref().is_some_and(|p| p.proc == proc) =>
            {
                // Stopped while waiting: leave the queue; the process that
                // never started has "exited".
                self.pending = None;
                self.deferred.push((
                    proc,
                    AgentEvent::Exited {
                        code: None,
                        signal: None,
                    },
                ));
            }
            Effect::Write { proc, line }
                if self.pending.as_ref().is_some_and(|p| p.proc == proc) =>
            {
                // Written once the agent has its slot and has started.
                if let Some(p) = self.pending.as_mut() {
                    p.writes.push(line);
                }
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
                self.timers.insert(Timer::StopGrace(run_id), after);
            }
            Effect::ArmStartTimer { proc, after } => {
                self.timers.insert(Timer::AgentStart(proc), after);
            }
            Effect::FileCall { proc, call } => self.serve_file_call(proc, call),
        }
    }

    /// An ACP agent's file call, on the blocking pool; the outcome comes
    /// back through the agent event queue, so it is ordered with the
    /// process's lines and ignored once the process is gone.
    fn serve_file_call(&mut self, proc: ProcId, call: FileCall) {
        use crate::agent::acp::workdir_files;
        const MAX_IN_FLIGHT: usize = 8;
        let rpc_id = call.rpc_id().to_owned();
        let in_flight = self.file_calls.clone();
        // Bounded: an agent that floods file calls gets errors, not threads.
        if in_flight.fetch_add(1, Ordering::AcqRel) >= MAX_IN_FLIGHT {
            in_flight.fetch_sub(1, Ordering::AcqRel);
            let outcome = FileOutcome::Failed(format!(
                "more than {MAX_IN_FLIGHT} file calls at once; try again"
            ));
            self.deferred
                .push((proc, AgentEvent::FileCallDone { rpc_id, outcome }));
            return;
        }
        let workdir = self.rt.spawner.cwd().to_owned();
        let tx = self.agent_tx.tx.clone();
        self.rt.tracker.spawn(async move {
            let io = tokio::task::spawn_blocking(move || match call {
                FileCall::Read {
                    path, line, limit, ..
                } => match workdir_files::read(&workdir, &path, line, limit) {
                    Ok(text) => FileOutcome::Read(text),
                    Err(e) => FileOutcome::Failed(e.to_string()),
                },
                FileCall::Write { path, content, .. } => {
                    match workdir_files::write(&workdir, &path, &content) {
                        Ok(w) => FileOutcome::Written {
                            path: w.path.display().to_string(),
                            old_text: w.old_text,
                            new_text: content,
                        },
                        Err(e) => FileOutcome::Failed(e.to_string()),
                    }
                }
            });
            let outcome = io
                .await
                .unwrap_or_else(|e| FileOutcome::Failed(format!("the file call failed: {e}")));
            in_flight.fetch_sub(1, Ordering::AcqRel);
            // The actor drains this queue; the timeout only bounds a session
            // that is wedged on its store.
            let event = AgentEvent::FileCallDone { rpc_id, outcome };
            let _ = tokio::time::timeout(Duration::from_secs(60), tx.send((proc, event))).await;
        });
    }

    /// Every subscriber gets the frames or is dropped: a full queue (in
    /// frames or in bytes, see `admits`) means the tab is not keeping up; it
    /// reconnects and replays by seq. Nobody waits. A tab's frames are queued
    /// together, so a tab woken by the first finds the rest and sends the
    /// release in one write.
    pub(super) fn broadcast(&mut self, frames: &[(u64, Frame)]) {
        let stats = &self.rt.stats;
        stats
            .events
            .fetch_add(frames.len() as u64, Ordering::Relaxed);
        let id = &self.id;
        let budget = self.rt.bytes.subscriber_queue;
        self.subscribers.retain(|conn, sub| {
            for (_, frame) in frames {
                let len = frame.len();
                // Counted before the send, so the writer's subtraction never
                // comes first.
                let before = sub.queued.fetch_add(len, Ordering::AcqRel);
                // Err(true): behind (over its budget or queue); Err(false):
                // the tab has gone.
                let sent = if admits(before, budget) {
                    sub.events
                        .try_send(frame.clone())
                        .map_err(|e| matches!(e, mpsc::error::TrySendError::Full(_)))
                } else {
                    Err(true)
                };
                if let Err(behind) = sent {
                    sub.queued.fetch_sub(len, Ordering::AcqRel);
                    if behind {
                        // Before the sender goes: the tab's writer reads the
                        // flag once it sees the stream end.
                        sub.lagged.store(true, Ordering::Release);
                        stats.dropped_subscribers.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(session = %id, conn, queued = before, "dropping a subscriber that is not keeping up");
                    }
                    return false;
                }
            }
            true
        });
    }
}

/// Whether a tab already holding `queued` bytes takes one more frame: only a
/// tab that holds its whole budget is behind. One commit releases up to the
/// session's unstored bytes plus one line's events at once (the actor reads
/// agent output in bursts, the store acknowledges batches), never more than
/// a tab's budget (`ByteBudgets::new`); a tab that drained before it must
/// take all of it, so a tab holds at most its budget plus one frame.
fn admits(queued: usize, budget: usize) -> bool {
    queued < budget
}

#[cfg(test)]
mod budget_tests {
    use super::admits;

    /// What the memory test saw in a release build: five 7 MB lines released
    /// by one commit dropped a tab that was reading (32 MiB budget), because
    /// the fifth did not fit on top of the four before it.
    #[test]
    fn one_release_larger_than_the_budget_reaches_a_drained_tab() {
        let (budget, line) = (32 << 20, 7_000_000);
        let mut queued = 0;
        for _ in 0..5 {
            assert!(admits(queued, budget), "dropped at {queued} bytes");
            queued += line;
        }
        // Still holding all of it at the next release: behind.
        assert!(!admits(queued, budget));
        // A frame larger than the budget reaches an empty queue.
        assert!(admits(0, 1));
    }
}
