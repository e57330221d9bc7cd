//! Turns: starting one (spawning or writing to the agent), ending one (and
//! starting the next queued message), classic mode's reruns after answers,
//! and releasing an idle agent process.

use super::*;

impl SessionState {
    pub(super) fn start_turn(
        &mut self,
        content: String,
        files: Vec<Attachment>,
        queue_id: Option<u64>,
    ) {
        let run_id = self.next_run;
        self.next_run += 1;
        let first_turn = run_id == 1;
        if self.title.is_none() {
            self.title =
                Some(crate::session::title::from_message(&content)).filter(|t| !t.is_empty());
        }
        self.emit(SessionEvent::UserMessage {
            content: content.clone(),
            run_id,
            queue_id,
            at: self.now_ms,
            attachments: files.iter().map(Attachment::meta).collect(),
        });
        self.emit(SessionEvent::ExecStart { run_id });
        // Images go as images to agents that take them (Claude Code in
        // duplex mode; an ACP agent decides when its session is open); text
        // files are inlined for every agent; the rest is named, not sent.
        let images_ok = self.cfg.agent.is_duplex() || matches!(self.cfg.agent, AgentSpec::Acp(_));
        let ready = attachments::prepare(&content, &files, images_ok);
        for what in &ready.left_out {
            self.info(format!("Not sent to the agent: {what}."));
        }
        let images: Vec<Attachment> = ready.images.into_iter().cloned().collect();
        let content = ready.text;
        self.turn = Some(Turn {
            run_id,
            prompt: content.clone(),
            images,
            stopping: false,
            result: None,
            fallback: self.history.newest_first().into(),
            prompts: Vec::new(),
            once_allowed: BTreeSet::new(),
            told_denial: false,
        });
        match self.cfg.agent.clone() {
            AgentSpec::Claude { .. } => self.claude_start_turn(&content),
            AgentSpec::Template(t) => {
                let spec = t.spawn_spec(&content, first_turn);
                self.spawn(spec, None);
            }
            AgentSpec::Unavailable(_) => {
                let message = self.cfg.agent.install_hint();
                self.finish_turn(TurnStatus::Error, None, Some(message));
            }
            // As in duplex mode: one process for the session's turns.
            AgentSpec::Acp(_) => {
                if self.proc.as_ref().is_none_or(|p| p.terminating) {
                    self.spawn_acp_for_turn();
                } else {
                    self.acp_prompt(&content);
                }
            }
        }
    }

    /// Ends an idle process; a no-op while a turn runs or waits.
    pub(super) fn release_agent(&mut self) {
        if !self.is_calm() {
            return;
        }
        self.terminate(self.cfg.stop_grace);
    }

    pub(super) fn spawn(&mut self, spec: SpawnSpec, resumed: Option<String>) {
        let id = ProcId(self.next_proc);
        self.next_proc += 1;
        let spec = Arc::new(spec);
        self.proc = Some(Proc {
            id,
            command: spec.clone(),
            resumed,
            no_conversation: false,
            terminating: false,
            stderr_tail: VecDeque::new(),
            acp: None,
            told_not_json: false,
            cost_seen: 0.0,
        });
        self.out.push(Effect::Spawn { proc: id, spec });
    }

    pub(super) fn finish_turn(
        &mut self,
        status: TurnStatus,
        exit_code: Option<i32>,
        message: Option<String>,
    ) {
        self.void_prompts("the turn ended");
        let Some(turn) = self.turn.take() else {
            return;
        };
        // A stop swe-swe made itself while shutting down is not the user's.
        let (status, message) = if status == TurnStatus::Stopped && self.shutting_down {
            (
                TurnStatus::Interrupted,
                Some("interrupted: the server was shut down during this turn".to_owned()),
            )
        } else {
            (status, message)
        };
        if status == TurnStatus::Error {
            self.emit(SessionEvent::Error {
                message: message.clone().unwrap_or_else(|| "the agent failed".into()),
                code: "agent_failed",
            });
        }
        self.emit(SessionEvent::ExecEnd {
            run_id: turn.run_id,
            status,
            exit_code,
            message,
            at: self.now_ms,
        });
        if !self.shutting_down {
            if let Some(next) = self.queue.pop_front() {
                self.start_turn(next.content, next.attachments, Some(next.id));
            }
        }
    }
}
