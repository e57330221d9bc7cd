//! What the agent printed, and how its process ended, turned into events
//! and state changes.

use super::*;

impl SessionState {
    pub(super) fn on_agent(&mut self, event: AgentEvent) {
        match event {
            AgentEvent::Started { .. } => {}
            AgentEvent::Waiting { ahead } => {
                if let Some(run_id) = self.running() {
                    self.emit(SessionEvent::WaitingForAgent { run_id, ahead });
                }
            }
            AgentEvent::Line(line) => self.on_line(line),
            AgentEvent::Lines(lines) => lines.into_iter().for_each(|l| self.on_line(l)),
            AgentEvent::LineTooLong { len, limit } => self.emit(SessionEvent::Error {
                message: format!(
                    "the agent printed a line of {len} bytes, over the {limit}-byte limit; that line was skipped"
                ),
                code: "agent_line_too_long",
            }),
            AgentEvent::Stderr(line) => {
                let missing = self.cfg.agent.is_claude() && Self::claude_says_no_conversation(&line);
                if let Some(p) = self.proc.as_mut() {
                    p.no_conversation |= missing;
                    if p.stderr_tail.len() == STDERR_TAIL {
                        p.stderr_tail.pop_front();
                    }
                    p.stderr_tail.push_back(line.clone());
                }
                self.emit(SessionEvent::Stderr { content: line });
            }
            AgentEvent::Exited { code, signal } => self.on_exit(code, signal),
            AgentEvent::FileCallDone { rpc_id, outcome } => self.on_file_call_done(&rpc_id, outcome),
            AgentEvent::SpawnFailed { error } => {
                let command = self
                    .proc
                    .take()
                    .map(|p| p.command.display())
                    .unwrap_or_default();
                let message = format!(
                    "Could not start the agent `{command}`: {error}. {}",
                    self.cfg.agent.install_hint()
                );
                self.finish_turn(TurnStatus::Error, None, Some(message));
            }
        }
    }

    pub(super) fn on_line(&mut self, line: String) {
        match &self.cfg.agent {
            AgentSpec::Acp(_) => self.on_acp_line(&line),
            AgentSpec::Claude { .. } => self.on_claude_line(line),
            AgentSpec::Template(_) | AgentSpec::Unavailable(_) => {
                self.emit(SessionEvent::Content { content: line })
            }
        }
    }

    pub(super) fn on_exit(&mut self, code: Option<i32>, signal: Option<i32>) {
        let Some(proc) = self.proc.take() else {
            return;
        };
        let Some(stopping) = self.turn.as_ref().map(|t| t.stopping) else {
            return; // an idle process ended; the next turn starts one
        };
        if self.cfg.agent.is_claude() && self.claude_resume_failed(&proc) {
            return;
        }
        let how = match (code, signal) {
            (Some(c), _) => format!("exit code {c}"),
            (None, Some(s)) => format!("signal {s}"),
            _ => "unknown status".to_owned(),
        };
        let stderr: Vec<String> = proc.stderr_tail.into_iter().collect();
        let detail = if stderr.is_empty() {
            String::new()
        } else {
            format!(": {}", stderr.join(" | "))
        };
        if stopping {
            return self.finish_turn(TurnStatus::Stopped, code, Some("stopped".into()));
        }
        match self.cfg.agent.clone() {
            AgentSpec::Claude { mode, .. } => self.on_claude_exit(mode, code, &how, &detail),
            AgentSpec::Acp(_) => {
                let msg = format!(
                    "the agent `{}` exited during the turn ({how}){detail}",
                    proc.command.display()
                );
                self.finish_turn(TurnStatus::Error, code, Some(msg));
            }
            AgentSpec::Template(_) | AgentSpec::Unavailable(_) => {
                if code == Some(0) {
                    self.finish_turn(TurnStatus::Success, code, None)
                } else {
                    let msg = format!("the agent failed ({how}){detail}");
                    self.finish_turn(TurnStatus::Error, code, Some(msg))
                }
            }
        }
    }
}
