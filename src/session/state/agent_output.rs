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
            AgentEvent::LineTooLong { len, limit } => self.emit(SessionEvent::Error {
                message: format!(
                    "the agent printed a line of {len} bytes, over the {limit}-byte limit; that line was skipped"
                ),
                code: "agent_line_too_long",
            }),
            AgentEvent::Stderr(line) => {
                if let Some(p) = self.proc.as_mut() {
                    p.no_conversation |= lines::is_no_conversation(&line);
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
                let command = self.proc.take().map(|p| p.command).unwrap_or_default();
                let message = format!(
                    "Could not start the agent `{command}`: {error}. {}",
                    self.cfg.agent.install_hint()
                );
                self.finish_turn(TurnStatus::Error, None, Some(message));
            }
        }
    }

    pub(super) fn on_line(&mut self, line: String) {
        if self.cfg.agent.is_acp() {
            return self.on_acp_line(&line);
        }
        if !self.cfg.agent.is_claude() {
            return self.emit(SessionEvent::Content { content: line });
        }
        let parsed = lines::parse_line(&line);
        if parsed == lines::ClaudeLine::NotJson {
            self.emit(SessionEvent::Content { content: line });
        } else {
            self.emit(SessionEvent::Claudejson { content: line });
        }
        match parsed {
            lines::ClaudeLine::Init { session_id } => self.adopt(&session_id),
            lines::ClaudeLine::Assistant { tool_uses } => {
                for t in tool_uses {
                    self.tool_cache.insert(
                        t.id,
                        ToolUse {
                            name: t.name,
                            input: t.input,
                        },
                    );
                }
            }
            lines::ClaudeLine::ToolResults { results } => {
                if self.cfg.agent.is_duplex() {
                    return;
                }
                for r in results {
                    if r.is_error && lines::is_permission_denial(&r.text) {
                        self.classic_denial(&r.tool_use_id, &r.text);
                    }
                }
            }
            lines::ClaudeLine::Result(result) => self.on_result(result),
            lines::ClaudeLine::CanUseTool {
                request_id,
                tool_name,
                input,
                tool_use_id,
            } => self.on_can_use_tool(request_id, tool_name, input, tool_use_id),
            lines::ClaudeLine::Other | lines::ClaudeLine::NotJson => {}
        }
    }

    pub(super) fn classic_denial(&mut self, tool_use_id: &str, text: &str) {
        let (tool, input) = match self.tool_cache.get(tool_use_id) {
            Some(t) => (t.name.clone(), t.input.clone()),
            None => (
                lines::denied_tool_from_text(text).unwrap_or_else(|| "unknown".into()),
                Value::Null,
            ),
        };
        let Some(turn) = self.turn.as_ref() else {
            return;
        };
        if turn.stopping || turn.prompts.iter().any(|p| p.tool == tool) {
            return;
        }
        self.open_prompt(tool, input, None, Some(tool_use_id.to_owned()), None);
    }

    pub(super) fn on_can_use_tool(
        &mut self,
        request_id: String,
        tool: String,
        input: Value,
        tool_use_id: Option<String>,
    ) {
        let active = self.turn.as_ref().is_some_and(|t| !t.stopping);
        if !active {
            return self.write(claude::deny_response(
                &request_id,
                "no turn is running",
                true,
            ));
        }
        if self.permissions.allows(&tool) {
            return self.write(claude::allow_response(&request_id, &input));
        }
        self.open_prompt(tool, input, Some(request_id), tool_use_id, None);
    }

    pub(super) fn on_result(&mut self, result: lines::TurnResult) {
        if let Some(id) = &result.session_id {
            self.adopt(id);
        }
        if result.errors.iter().any(|e| lines::is_no_conversation(e)) {
            if let Some(p) = self.proc.as_mut() {
                p.no_conversation = true;
            }
        }
        let no_conversation = self.proc.as_ref().is_some_and(|p| p.no_conversation);
        let Some(turn) = self.turn.as_mut() else {
            return;
        };
        if !self.cfg.agent.is_duplex() {
            turn.result = Some(result);
            return;
        }
        if no_conversation {
            return; // the process exits next; `on_exit` falls back
        }
        let status = if turn.stopping {
            TurnStatus::Stopped
        } else if result.failed {
            TurnStatus::Error
        } else {
            TurnStatus::Success
        };
        let message = if turn.stopping {
            // The CLI reports an interrupt as an error; for the user it is a stop.
            Some("stopped".to_owned())
        } else {
            (!result.errors.is_empty()).then(|| result.errors.join("; "))
        };
        let message = message.or_else(|| {
            result
                .failed
                .then(|| "the agent reported an error".to_owned())
        });
        self.finish_turn(status, None, message);
    }

    pub(super) fn on_exit(&mut self, code: Option<i32>, signal: Option<i32>) {
        let Some(proc) = self.proc.take() else {
            return;
        };
        let Some(turn) = self.turn.as_mut() else {
            return; // an idle duplex process ended; the next turn restarts it
        };
        if !turn.stopping && proc.no_conversation && self.cfg.agent.is_claude() {
            if let Some(gone) = &proc.resumed {
                self.history.remove(gone);
                self.dirty = true;
                turn.fallback.retain(|id| id != gone);
                let gone = gone.clone();
                let next = turn.fallback.front().cloned();
                self.info(match next {
                    Some(older) => format!(
                        "Conversation {gone} could not be resumed (no conversation found); trying the older {older}."
                    ),
                    None => format!(
                        "Conversation {gone} could not be resumed (no conversation found) and no older one is left; starting a new conversation."
                    ),
                });
                return self.spawn_claude_for_turn();
            }
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
        if turn.stopping {
            return self.finish_turn(TurnStatus::Stopped, code, Some("stopped".into()));
        }
        match &self.cfg.agent {
            AgentSpec::Claude {
                mode: ClaudeMode::Duplex,
                ..
            } => {
                let msg = format!("the agent exited during the turn ({how}){detail}");
                self.finish_turn(TurnStatus::Error, code, Some(msg));
            }
            AgentSpec::Acp(_) => {
                let msg = format!(
                    "the agent `{}` exited during the turn ({how}){detail}",
                    proc.command
                );
                self.finish_turn(TurnStatus::Error, code, Some(msg));
            }
            AgentSpec::Claude {
                mode: ClaudeMode::Classic,
                ..
            } => {
                if !turn.prompts.is_empty() {
                    return self.classic_continue_if_ready();
                }
                match &turn.result {
                    Some(r) if !r.failed => self.finish_turn(TurnStatus::Success, code, None),
                    Some(r) => {
                        let msg = if r.errors.is_empty() {
                            format!("the agent reported an error ({how}){detail}")
                        } else {
                            r.errors.join("; ")
                        };
                        self.finish_turn(TurnStatus::Error, code, Some(msg))
                    }
                    None => {
                        let msg = format!("the agent exited without a result ({how}){detail}");
                        self.finish_turn(TurnStatus::Error, code, Some(msg))
                    }
                }
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
