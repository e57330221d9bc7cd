//! Permission prompts: opening them, answers (typed and the original
//! client's), voiding them when their turn ends, and classic mode's rerun.

use super::*;

impl SessionState {
    pub(super) fn open_prompt(
        &mut self,
        tool: String,
        input: Value,
        agent_request_id: Option<String>,
        tool_use_id: Option<String>,
        acp: Option<(
            Value,
            Vec<agent_client_protocol_schema::v1::PermissionOption>,
        )>,
    ) {
        let Some(turn) = self.turn.as_mut() else {
            return;
        };
        let (tool_call, options) = match acp {
            Some((call, options)) => (Some(call), options),
            None => (None, Vec::new()),
        };
        let options_json = tool_call
            .is_some()
            .then(|| serde_json::to_value(&options).unwrap_or(Value::Null));
        let request_id = format!("perm-{}", self.next_request);
        self.next_request += 1;
        let run_id = turn.run_id;
        turn.prompts.push(Prompt {
            request_id: request_id.clone(),
            tool: tool.clone(),
            input: input.clone(),
            agent_request_id,
            answer: None,
            reason: None,
            options,
        });
        self.emit(SessionEvent::PermissionRequest {
            request_id,
            run_id,
            sender: tool,
            tool_input: input.to_string(),
            tool_use_id,
            tool_call,
            options: options_json,
        });
    }

    pub(super) fn on_answer(
        &mut self,
        from: ConnId,
        request_id: &str,
        decision: Decision,
        reason: Option<String>,
        answers: Option<Value>,
        option_id: Option<String>,
    ) {
        let open = self.turn.as_ref().and_then(|t| {
            t.prompts
                .iter()
                .position(|p| p.request_id == request_id && p.answer.is_none())
        });
        let Some(index) = open else {
            return self.reply(
                from,
                Reply::error(
                    "unknown_request",
                    format!(
                        "no open permission request {:?}: it was already answered, or its turn ended",
                        request_id.chars().take(128).collect::<String>()
                    ),
                ),
            );
        };
        let tool = self
            .turn
            .as_ref()
            .map(|t| t.prompts[index].tool.clone())
            .unwrap_or_default();
        let mut decision = decision;
        if let Some(option_id) = &option_id {
            let options = self.turn.as_ref().map(|t| &t.prompts[index].options);
            match options.and_then(|o| crate::agent::acp::choose::decision_of(o, option_id)) {
                Some(d) => decision = d,
                None => {
                    return self.reply(
                        from,
                        Reply::error(
                            "unknown_option",
                            "optionId is not one of the options the agent offered",
                        ),
                    )
                }
            }
        }
        if self.cfg.agent.is_acp() {
            // The agent keeps its own "always" rules; swe-swe remembers none.
            return self.resolve_acp(index, decision, reason, option_id);
        }
        // The whole permission value is replaced in this one step.
        match decision {
            Decision::AllowAlways => self.set_permissions(self.permissions.with_tool(&tool)),
            Decision::SkipAll => self.set_permissions(self.permissions.with_skip_all()),
            Decision::Allow | Decision::Deny => {}
        }
        // An approved plan ends plan mode, as it does inside the CLI.
        if tool == "ExitPlanMode"
            && decision != Decision::Deny
            && self.permissions.mode() == PermissionMode::Plan
        {
            self.set_permissions(self.permissions.with_mode(PermissionMode::Default));
        }
        self.resolve(index, decision, reason, answers);
    }

    /// Replaces the permission value; a changed mode is told to every tab
    /// and to a live duplex process (a new process gets it as a flag).
    pub(super) fn set_permissions(&mut self, next: Permissions) {
        let before = self.permissions.mode();
        self.permissions = next;
        self.dirty = true;
        let mode = self.permissions.mode();
        if mode == before {
            return;
        }
        self.emit(SessionEvent::PermissionMode {
            mode: mode.as_str(),
        });
        if self.cfg.agent.is_duplex() && self.proc.is_some() {
            self.claude_set_mode();
        }
    }

    pub(super) fn on_legacy_permission(&mut self, allowed_tools: Vec<String>, skip: bool) {
        // The original client sends the whole list every time: one new value.
        let next = Permissions {
            allowed_tools: allowed_tools.into_iter().collect(),
            skip_all: skip,
            mode: self.permissions.mode,
        };
        self.set_permissions(next);
        let open: Vec<(usize, String)> = self
            .turn
            .iter()
            .flat_map(|t| t.prompts.iter().enumerate())
            .filter(|(_, p)| p.answer.is_none())
            .map(|(i, p)| (i, p.tool.clone()))
            .collect();
        for (index, tool) in open {
            let decision = if self.permissions.allows(&tool) {
                Decision::Allow
            } else {
                Decision::Deny
            };
            self.resolve(index, decision, None, None);
        }
    }

    /// Records the answer to prompt `index` of the current turn and acts on it.
    pub(super) fn resolve(
        &mut self,
        index: usize,
        decision: Decision,
        reason: Option<String>,
        answers: Option<Value>,
    ) {
        let Some(turn) = self.turn.as_mut() else {
            return;
        };
        let prompt = &mut turn.prompts[index];
        prompt.answer = Some(decision);
        prompt.reason.clone_from(&reason);
        let allowed = decision != Decision::Deny;
        if allowed {
            turn.once_allowed.insert(prompt.tool.clone());
        }
        let request_id = prompt.request_id.clone();
        let agent_line = Self::claude_answer_line(prompt, allowed, reason.as_deref(), &answers);
        self.emit(SessionEvent::PermissionResolved {
            request_id,
            decision: decision.as_str(),
            reason,
            answers,
        });
        if let Some(line) = agent_line {
            self.write(line);
        }
        self.classic_continue_if_ready();
    }

    /// An ACP prompt's answer: the chosen option (or `cancelled` when the
    /// agent offered none of that kind) goes to the agent.
    fn resolve_acp(
        &mut self,
        index: usize,
        decision: Decision,
        reason: Option<String>,
        option_id: Option<String>,
    ) {
        let Some(turn) = self.turn.as_mut() else {
            return;
        };
        let prompt = &mut turn.prompts[index];
        prompt.answer = Some(decision);
        // The option the user named, else the agent's option of the
        // decision's kind (none of that kind: `cancelled`).
        let option =
            option_id.or_else(|| crate::agent::acp::choose::option_for(&prompt.options, decision));
        let line = Self::acp_answer_line(prompt, option);
        let request_id = prompt.request_id.clone();
        self.emit(SessionEvent::PermissionResolved {
            request_id,
            decision: decision.as_str(),
            reason,
            answers: None,
        });
        if let Some(line) = line {
            self.write(line);
        }
    }

    /// Tells every tab that the open prompts of this turn no longer apply;
    /// duplex prompts are denied to the CLI so it does not wait on them.
    pub(super) fn void_prompts(&mut self, why: &str) {
        let Some(turn) = self.turn.as_mut() else {
            return;
        };
        let acp = self.cfg.agent.is_acp();
        let mut voided = Vec::new();
        for p in turn.prompts.iter_mut().filter(|p| p.answer.is_none()) {
            p.answer = Some(Decision::Deny);
            // ACP: a voided request is answered `cancelled`, as the spec
            // asks of a client that cancels its prompt.
            let line = if acp {
                Self::acp_answer_line(p, None)
            } else {
                Self::claude_void_line(p, why)
            };
            voided.push((p.request_id.clone(), line));
        }
        for (request_id, line) in voided {
            if let Some(line) = line {
                self.write(line);
            }
            self.emit(SessionEvent::PermissionVoid {
                request_id,
                reason: why.to_owned(),
            });
        }
    }
}
