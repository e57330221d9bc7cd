//! What users ask of a session: messages (queued while a turn runs), stop,
//! cancelling queued messages, adopting a conversation, shutdown.

use super::*;
use crate::agent::acp::client::AcpOut;

impl SessionState {
    pub(super) fn on_user_message(
        &mut self,
        from: ConnId,
        content: String,
        hint: Option<String>,
        attachments: Vec<Attachment>,
    ) {
        if content.trim().is_empty() && attachments.is_empty() {
            return self.reply(from, Reply::error("empty_message", "the message is empty"));
        }
        if let Some(hint) = hint {
            if !valid_agent_session_id(&hint) {
                self.reply(
                    from,
                    Reply::error(
                        "invalid_agent_session",
                        "claudeSessionID is not a valid agent session id; it was ignored",
                    ),
                );
            } else if self.history.is_empty() {
                self.adopt(&hint);
            }
        }
        if self.shutting_down {
            return self.reply(
                from,
                Reply::error("shutting_down", "the server is shutting down"),
            );
        }
        if self.turn.is_none() {
            return self.start_turn(content, attachments, None);
        }
        if self.queue.len() >= self.cfg.queue_cap {
            return self.reply(
                from,
                Reply::error(
                    "queue_full",
                    format!(
                        "{} messages are already waiting for the current turn; try again when it ends",
                        self.queue.len()
                    ),
                ),
            );
        }
        let queue_id = self.next_queue;
        self.next_queue += 1;
        self.queue.push_back(Waiting {
            id: queue_id,
            content: content.clone(),
            attachments,
        });
        self.emit(SessionEvent::Queued { queue_id, content });
    }

    pub(super) fn on_cancel_queued(&mut self, from: ConnId, queue_id: u64) {
        match self.queue.iter().position(|w| w.id == queue_id) {
            Some(i) => {
                self.queue.remove(i);
                self.emit(SessionEvent::QueueCancelled { queue_id });
            }
            None => self.reply(
                from,
                Reply::error("unknown_queue_id", format!("no queued message {queue_id}")),
            ),
        }
    }

    pub(super) fn adopt(&mut self, id: &str) {
        if valid_agent_session_id(id) && self.history.push(id) {
            self.emit(SessionEvent::AgentSession {
                agent_session_id: id.to_owned(),
            });
        }
    }

    /// Adopts `id` and, in a session without events, replays its past turns
    /// as events: each a user message, its stream-json lines and an end, in
    /// run numbers of their own, so they render and export like live turns.
    pub(super) fn import_conversation(&mut self, id: &str, past: PastConversation) {
        let fresh = self.has_no_events();
        self.adopt(id);
        if !fresh || !valid_agent_session_id(id) {
            return;
        }
        let n = past.turns.len();
        for turn in past.turns {
            let run_id = self.next_run;
            self.next_run += 1;
            if self.title.is_none() {
                self.title = Some(crate::session::title::from_message(&turn.prompt))
                    .filter(|t| !t.is_empty());
            }
            self.emit(SessionEvent::UserMessage {
                content: turn.prompt,
                run_id,
                queue_id: None,
                at: turn.at_ms,
                attachments: Vec::new(),
            });
            self.emit(SessionEvent::ExecStart { run_id });
            for content in turn.lines {
                self.emit(SessionEvent::Claudejson { content });
            }
            self.emit(SessionEvent::ExecEnd {
                run_id,
                status: if turn.interrupted {
                    TurnStatus::Stopped
                } else {
                    TurnStatus::Success
                },
                exit_code: None,
                message: None,
                at: turn.end_ms,
            });
        }
        let mut note = if n == 0 {
            format!("Resumed Claude Code conversation {id}; no earlier turns could be read from its transcript (the agent still knows them).")
        } else {
            format!(
                "Resumed Claude Code conversation {id}: {n} earlier turn{} read from its transcript.",
                if n == 1 { "" } else { "s" }
            )
        };
        if past.skipped_bytes > 0 {
            note.push_str(&format!(
                " Its first {} MB are not shown (only the last {} MB are read).",
                past.skipped_bytes.div_ceil(1 << 20),
                crate::agent::claude::past::IMPORT_MAX_BYTES >> 20
            ));
        }
        self.info(note);
    }

    pub(super) fn on_stop(&mut self, from: ConnId, run_id: Option<u64>) {
        let current = self.turn.as_ref().map(|t| t.run_id);
        let target = match (current, run_id) {
            (Some(cur), Some(asked)) if asked != cur => None,
            (cur, _) => cur,
        };
        let Some(run) = target else {
            let message = match run_id {
                Some(r) => format!("run {r} is not running"),
                None => "nothing is running".to_owned(),
            };
            return self.reply(
                from,
                Reply::StopAck {
                    run_id,
                    running: false,
                    message: Some(message),
                },
            );
        };
        self.reply(
            from,
            Reply::StopAck {
                run_id: Some(run),
                running: true,
                message: None,
            },
        );
        self.stop_turn(self.cfg.stop_grace, "stopped by the user");
    }

    /// Ends the current turn as `stopped`: the CLI's interrupt first in
    /// duplex mode, signals to the process group otherwise.
    pub(super) fn stop_turn(&mut self, grace: Duration, why: &str) {
        let Some(turn) = self.turn.as_mut() else {
            return;
        };
        if turn.stopping {
            return;
        }
        turn.stopping = true;
        let run_id = turn.run_id;
        self.void_prompts(why);
        let duplex = self.cfg.agent.is_duplex();
        // ACP: `session/cancel` when a prompt is in flight; the prompt's
        // `cancelled` answer ends the turn, or the timer escalates.
        let acp_cancel = match self.proc.as_mut().and_then(|p| p.acp.as_mut()) {
            Some(c) if !self.shutting_down => c.cancel(),
            _ => None,
        };
        if let Some(AcpOut::Write(line)) = acp_cancel {
            self.write(line);
            self.out.push(Effect::ArmStopTimer {
                run_id,
                after: grace / 2,
            });
            return;
        }
        match self.proc.as_mut() {
            None => self.finish_turn(TurnStatus::Stopped, None, Some(why.to_owned())),
            Some(_) if duplex && !self.shutting_down => self.claude_interrupt(run_id, grace),
            Some(_) => self.terminate(grace),
        }
    }

    pub(super) fn on_stop_grace(&mut self, run_id: u64) {
        let still_stopping = self
            .turn
            .as_ref()
            .is_some_and(|t| t.run_id == run_id && t.stopping);
        if still_stopping {
            self.terminate(self.cfg.stop_grace / 2);
        }
    }

    pub(super) fn on_shutdown(&mut self) {
        self.shutting_down = true;
        for w in std::mem::take(&mut self.queue) {
            self.emit(SessionEvent::QueueCancelled { queue_id: w.id });
        }
        if self.turn.is_some() {
            self.stop_turn(self.cfg.stop_grace, "the server is shutting down");
        }
        self.terminate(self.cfg.stop_grace);
    }
}
