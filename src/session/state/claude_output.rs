//! Claude Code: its stream-json lines, its permission answers, its mode
//! switches and interrupts, the resume fallback over the session's history,
//! and classic mode's reruns. Everything of the state machine that knows
//! Claude's format lives here; the generic hooks (`start_turn`, `on_line`,
//! `on_exit`, answers, stop) reach it by matching the session's `AgentSpec`.

use super::*;

impl SessionState {
    /// A turn: written to the live duplex process, or a process started.
    pub(super) fn claude_start_turn(&mut self, content: &str) {
        // A process being ended (released while idle) gets no new turn: a
        // new one starts, and the old one's events are ignored from now on
        // (they carry its ProcId).
        if self.cfg.agent.is_duplex() && self.proc.as_ref().is_some_and(|p| !p.terminating) {
            let images = self
                .turn
                .as_ref()
                .map(|t| t.images.clone())
                .unwrap_or_default();
            self.write(claude::user_turn_with(content, &images));
        } else {
            self.spawn_claude_for_turn();
        }
    }

    pub(super) fn on_claude_line(&mut self, line: String) {
        let parsed = lines::parse_line(&line);
        if parsed == lines::ClaudeLine::NotJson {
            self.emit(SessionEvent::Content { content: line });
        } else {
            self.emit(SessionEvent::Claudejson { content: line });
        }
        match parsed {
            lines::ClaudeLine::Init { session_id } => self.adopt(&session_id),
            lines::ClaudeLine::Assistant {
                tool_uses,
                context_tokens,
            } => {
                self.context_tokens = context_tokens.or(self.context_tokens);
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

    /// The result's cost as this turn's own: Claude Code reports what its
    /// process has cost so far, so a duplex process's second turn is the
    /// difference from the first.
    fn on_claude_usage(&mut self, result: &lines::TurnResult) {
        let Some(run_id) = self.turn.as_ref().map(|t| t.run_id) else {
            return;
        };
        let cost = result.total_cost_usd.filter(|c| c.is_finite() && *c >= 0.0);
        let cost = cost.map(|total| {
            let seen = self.proc.as_ref().map_or(0.0, |p| p.cost_seen);
            if let Some(p) = self.proc.as_mut() {
                p.cost_seen = total;
            }
            // A total below what was seen is a new count (a restarted process).
            if total >= seen {
                total - seen
            } else {
                total
            }
        });
        if let Some(c) = cost {
            self.cost_usd += c;
            self.dirty = true;
        }
        self.emit(SessionEvent::Usage {
            run_id,
            cost_usd: cost,
            input_tokens: result.input_tokens,
            output_tokens: result.output_tokens,
            session_cost_usd: self.cost_usd,
            context_tokens: self.context_tokens,
            context_window: result.context_window,
        });
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
        self.on_claude_usage(&result);
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

    /// Claude Code's words (on stderr) for a `--resume` id it does not have.
    pub(super) fn claude_says_no_conversation(line: &str) -> bool {
        lines::is_no_conversation(line)
    }

    /// A resumed conversation Claude Code could not find: it leaves the
    /// history, and the turn tries the next older one (or a new one). True
    /// when that happened.
    pub(super) fn claude_resume_failed(&mut self, proc: &Proc) -> bool {
        let Some(turn) = self.turn.as_mut() else {
            return false;
        };
        if turn.stopping || !proc.no_conversation {
            return false;
        }
        let Some(gone) = &proc.resumed else {
            return false;
        };
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
        self.spawn_claude_for_turn();
        true
    }

    /// The process of a running turn ended (not stopped, not a resume miss).
    pub(super) fn on_claude_exit(
        &mut self,
        mode: ClaudeMode,
        code: Option<i32>,
        how: &str,
        detail: &str,
    ) {
        let Some(turn) = self.turn.as_ref() else {
            return;
        };
        if mode == ClaudeMode::Duplex {
            let msg = format!("the agent exited during the turn ({how}){detail}");
            return self.finish_turn(TurnStatus::Error, code, Some(msg));
        }
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

    /// The stdin line answering a duplex `can_use_tool` request.
    pub(super) fn claude_answer_line(
        prompt: &Prompt,
        allowed: bool,
        reason: Option<&str>,
        answers: &Option<Value>,
    ) -> Option<String> {
        let agent_id = prompt.agent_request_id.as_ref()?;
        Some(if let (true, Some(answers)) = (allowed, answers) {
            claude::allow_with_answers(agent_id, &prompt.input, answers)
        } else if allowed {
            claude::allow_response(agent_id, &prompt.input)
        } else {
            let msg = reason.unwrap_or("The user denied this tool use.");
            claude::deny_response(agent_id, msg, false)
        })
    }

    /// The denial of a prompt voided by its turn's end, so the CLI does not
    /// wait on it.
    pub(super) fn claude_void_line(prompt: &Prompt, why: &str) -> Option<String> {
        prompt
            .agent_request_id
            .as_ref()
            .map(|id| claude::deny_response(id, why, true))
    }

    /// Tells a live duplex process the session's new permission mode.
    pub(super) fn claude_set_mode(&mut self) {
        let id = format!("mode-{}", self.next_request);
        self.next_request += 1;
        let cli = self.permissions.cli_mode().unwrap_or_default();
        self.write(claude::set_mode_request(&id, cli));
    }

    /// Stop in duplex mode: the CLI's own interrupt first; the timer
    /// escalates to signals.
    pub(super) fn claude_interrupt(&mut self, run_id: u64, grace: Duration) {
        self.write(claude::interrupt_request(&format!("stop-{run_id}")));
        self.out.push(Effect::ArmStopTimer {
            run_id,
            after: grace / 2,
        });
    }

    /// Starts Claude Code for the current turn, resuming the next candidate
    /// of the turn's fallback list (or fresh when it is empty).
    pub(super) fn spawn_claude_for_turn(&mut self) {
        let AgentSpec::Claude { bin, mode } = self.cfg.agent.clone() else {
            return;
        };
        let Some(turn) = self.turn.as_mut() else {
            return;
        };
        let resume = turn.fallback.pop_front();
        let prompt = turn.prompt.clone();
        let images = turn.images.clone();
        match mode {
            ClaudeMode::Duplex => {
                let mode = self.permissions.cli_mode();
                self.spawn(claude::duplex_spec(&bin, resume.as_deref(), mode), resume);
                self.write(claude::user_turn_with(&prompt, &images));
            }
            ClaudeMode::Classic => {
                let once = turn.once_allowed.clone();
                let spec = claude::classic_spec(
                    &bin,
                    &prompt,
                    resume.as_deref(),
                    &self.permissions,
                    &once,
                );
                self.spawn(spec, resume);
            }
        }
    }

    /// Classic mode: once the process has exited and every prompt of the turn
    /// is answered, rerun with the granted tools, or end the turn.
    pub(super) fn classic_continue_if_ready(&mut self) {
        if self.cfg.agent.is_duplex() || self.proc.is_some() {
            return;
        }
        let Some(turn) = self.turn.as_mut() else {
            return;
        };
        if turn.stopping
            || turn.prompts.is_empty()
            || turn.prompts.iter().any(|p| p.answer.is_none())
        {
            return;
        }
        let granted: Vec<String> = turn
            .prompts
            .iter()
            .filter(|p| p.answer != Some(Decision::Deny))
            .map(|p| p.tool.clone())
            .collect();
        let reasons: Vec<String> = turn
            .prompts
            .iter()
            .filter_map(|p| Some(format!("{}: {}", p.tool, p.reason.as_deref()?)))
            .collect();
        turn.prompts.clear();
        turn.prompt = if !granted.is_empty() {
            format!(
                "Permission granted for: {}. Please continue with what you were doing.",
                granted.join(", ")
            )
        } else if !reasons.is_empty() && !turn.told_denial {
            // The CLI already ended its run; the user's reason reaches the
            // agent as the next message of the same conversation (once).
            turn.told_denial = true;
            format!("The user denied permission for {}", reasons.join("; "))
        } else {
            let failed = turn.result.as_ref().is_none_or(|r| r.failed);
            let status = if failed {
                TurnStatus::Error
            } else {
                TurnStatus::Success
            };
            return self.finish_turn(status, None, Some("permission denied".into()));
        };
        // Continue the conversation the denied run belonged to.
        turn.fallback = self.history.newest_first().into();
        self.spawn_claude_for_turn();
    }
}
