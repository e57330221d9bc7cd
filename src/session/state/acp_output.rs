//! ACP agents: starting one for a turn, and what its protocol client makes
//! of each line, turned into events, answers and effects. The protocol
//! itself (ids, handshake, replay) lives in `agent::acp::client`.

use super::*;
use crate::agent::acp::client::AcpOut;
use crate::protocol::server::RawJson;

impl SessionState {
    /// A new ACP process for the current turn: it loads the session's newest
    /// agent conversation when the agent can, and gets the prompt once its
    /// session is open.
    pub(super) fn spawn_acp_for_turn(&mut self) {
        let AgentSpec::Acp(spec) = self.cfg.agent.clone() else {
            return;
        };
        let Some((prompt, images)) = self
            .turn
            .as_ref()
            .map(|t| (t.prompt.clone(), t.images.clone()))
        else {
            return;
        };
        let resume = self.history.newest_first().first().cloned();
        self.spawn(spec.spawn_spec(), resume.clone());
        let mut client = AcpClient::new(spec.cwd.clone(), resume);
        let first = client.start();
        let queued = client.prompt(&prompt, images);
        let Some(p) = self.proc.as_mut() else { return };
        p.acp = Some(client);
        let proc = p.id;
        self.out.push(Effect::ArmStartTimer {
            proc,
            after: self.cfg.agent_start_timeout,
        });
        self.on_acp(vec![first]);
        self.on_acp(queued);
    }

    /// The next turn on a live process.
    pub(super) fn acp_prompt(&mut self, text: &str) {
        let images = self
            .turn
            .as_ref()
            .map(|t| t.images.clone())
            .unwrap_or_default();
        let outs = match self.proc.as_mut().and_then(|p| p.acp.as_mut()) {
            Some(c) => c.prompt(text, images),
            None => return,
        };
        self.on_acp(outs);
    }

    pub(super) fn on_acp_line(&mut self, line: &str) {
        let outs = match self.proc.as_mut().and_then(|p| p.acp.as_mut()) {
            Some(c) => c.on_line(line),
            None => return,
        };
        self.on_acp(outs);
    }

    fn on_acp(&mut self, outs: Vec<AcpOut>) {
        for out in outs {
            match out {
                AcpOut::Write(line) => self.write(line),
                AcpOut::Update(update) => self.emit(SessionEvent::AgentUpdate { update }),
                AcpOut::Opened { session_id, note } => {
                    self.adopt(&session_id);
                    if let Some(note) = note {
                        self.info(note);
                    }
                }
                AcpOut::Permission(ask) => self.on_acp_permission(ask),
                AcpOut::TurnEnded { stop_reason } => self.on_acp_turn_end(&stop_reason),
                AcpOut::TurnFailed(message) => {
                    let stopping = self.turn.as_ref().is_some_and(|t| t.stopping);
                    if stopping {
                        self.finish_turn(TurnStatus::Stopped, None, Some("stopped".into()));
                    } else {
                        let msg = format!("the agent `{}`: {message}", self.command());
                        self.finish_turn(TurnStatus::Error, None, Some(msg));
                    }
                }
                AcpOut::Failed(message) => self.acp_fail(message),
                AcpOut::FileCall(call) => {
                    if let Some(p) = &self.proc {
                        let proc = p.id;
                        self.out.push(Effect::FileCall { proc, call });
                    }
                }
                AcpOut::NotJsonRpc(line) => self.on_acp_garbage(line),
                AcpOut::Note(note) => self.info(note),
            }
        }
    }

    fn command(&self) -> String {
        self.proc
            .as_ref()
            .map(|p| p.command.display())
            .unwrap_or_else(|| self.cfg.agent.program().to_owned())
    }

    fn on_acp_permission(&mut self, ask: crate::agent::acp::client::PermissionAsk) {
        let active = self.turn.as_ref().is_some_and(|t| !t.stopping);
        if !active {
            return self.write(AcpClient::answer_permission(&ask.rpc_id, None));
        }
        let call = &ask.tool_call;
        let tool = call["title"]
            .as_str()
            .or_else(|| call["kind"].as_str())
            .unwrap_or("tool")
            .to_owned();
        let input = call.get("rawInput").cloned().unwrap_or(Value::Null);
        let tool_use_id = call["toolCallId"].as_str().map(str::to_owned);
        self.open_prompt(
            tool,
            input,
            Some(ask.rpc_id),
            tool_use_id,
            Some((ask.tool_call, ask.options)),
        );
    }

    fn on_acp_turn_end(&mut self, stop_reason: &str) {
        let stopping = self.turn.as_ref().is_some_and(|t| t.stopping);
        let (status, message) = match stop_reason {
            _ if stopping || stop_reason == "cancelled" => {
                (TurnStatus::Stopped, Some("stopped".to_owned()))
            }
            "end_turn" => (TurnStatus::Success, None),
            "refusal" => (
                TurnStatus::Error,
                Some("the agent refused to continue".to_owned()),
            ),
            other => (
                TurnStatus::Success,
                Some(format!("the agent stopped: {other}")),
            ),
        };
        self.finish_turn(status, None, message);
    }

    /// The process cannot serve the session: the turn fails with the
    /// agent's words, and the process ends (the next message starts anew).
    fn acp_fail(&mut self, message: String) {
        let msg = format!("the agent `{}` failed: {message}", self.command());
        self.terminate(self.cfg.stop_grace);
        if self.turn.is_some() {
            self.finish_turn(TurnStatus::Error, None, Some(msg));
        } else {
            self.emit(SessionEvent::Error {
                message: msg,
                code: "agent_failed",
            });
        }
    }

    /// The first line that is not JSON-RPC is reported as an error; later
    /// ones are shown like stderr (agents that log to stdout).
    fn on_acp_garbage(&mut self, line: String) {
        let first = self
            .proc
            .as_mut()
            .is_some_and(|p| !std::mem::replace(&mut p.told_not_json, true));
        if first {
            let shown: String = line.chars().take(200).collect();
            let message = format!(
                "the agent `{}` printed a line that is not JSON-RPC; it was ignored: {shown}",
                self.command()
            );
            self.emit(SessionEvent::Error {
                message,
                code: "agent_not_json_rpc",
            });
        } else {
            self.emit(SessionEvent::Stderr { content: line });
        }
    }

    pub(super) fn on_acp_start_elapsed(&mut self, proc: ProcId) {
        let opening = self.proc.as_ref().is_some_and(|p| {
            p.id == proc
                && !p.terminating
                && p.acp.as_ref().is_some_and(|c| c.session_id().is_none())
        });
        if opening {
            let secs = self.cfg.agent_start_timeout.as_secs_f64();
            self.acp_fail(format!(
                "it did not open a session within {secs} s (no answer to initialize or session/new)"
            ));
        }
    }

    /// A file call was served (or refused): the agent gets its answer, and a
    /// write shows in the session as a completed edit with its diff.
    pub(super) fn on_file_call_done(&mut self, rpc_id: &str, outcome: FileOutcome) {
        let (answer, diff) = match outcome {
            FileOutcome::Read(content) => (Ok(serde_json::json!({ "content": content })), None),
            FileOutcome::Written {
                path,
                old_text,
                new_text,
            } => (Ok(serde_json::json!({})), Some((path, old_text, new_text))),
            FileOutcome::Failed(message) => (Err(message), None),
        };
        self.write(AcpClient::answer_call(rpc_id, answer));
        if let Some((path, old_text, new_text)) = diff {
            let update = serde_json::json!({
                "sessionUpdate": "tool_call",
                "toolCallId": format!("swe-swe-write-{rpc_id}"),
                "title": format!("Write {path}"),
                "kind": "edit",
                "status": "completed",
                "content": [{"type": "diff", "path": path, "oldText": old_text, "newText": new_text}],
                "locations": [{"path": path}],
                "_meta": {"swe-swe": {"servedBy": "fs/write_text_file"}},
            });
            self.emit(SessionEvent::AgentUpdate {
                update: RawJson::from_value(&update),
            });
        }
    }

    /// The line answering an ACP permission request with `option` (None:
    /// `cancelled`), if the prompt came from the agent.
    pub(super) fn acp_answer_line(prompt: &Prompt, option: Option<String>) -> Option<String> {
        let agent_id = prompt.agent_request_id.as_ref()?;
        Some(AcpClient::answer_permission(agent_id, option))
    }
}
