//! The client side of ACP for one agent process, as a pure state machine:
//! the session feeds it the agent's stdout lines and its own wishes (a
//! prompt, a cancel, an answer), and gets back lines to write and what they
//! mean (`AcpOut`). No I/O, no clock: the session state owns it inside its
//! process record, so every ordering is a sequence of calls a test can make.
//!
//! Handshake: `initialize` → `session/load` (resuming, when the agent
//! advertised `loadSession`) or `session/new`. A prompt asked for before the
//! session is open waits here and goes out once it is.

use crate::agent::attachments::Attachment;
use crate::protocol::server::RawJson;
use agent_client_protocol_schema::v1::{
    CancelNotification, ClientCapabilities, ContentBlock, FileSystemCapabilities, ImageContent,
    Implementation, InitializeRequest, LoadSessionRequest, NewSessionRequest, PermissionOption,
    PromptRequest, ReadTextFileRequest, RequestPermissionOutcome, RequestPermissionResponse,
    SelectedPermissionOutcome, TextContent, WriteTextFileRequest,
};
use agent_client_protocol_schema::ProtocolVersion;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;
use std::collections::HashMap;
use std::path::PathBuf;

/// JSON-RPC's "method not found".
pub const METHOD_NOT_FOUND: i64 = -32601;
/// JSON-RPC's "invalid params".
pub const INVALID_PARAMS: i64 = -32602;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// `initialize` sent, no answer yet.
    Initializing,
    /// `session/new` sent.
    Opening,
    /// `session/load` sent: the updates that arrive now are the agent
    /// replaying a conversation our log already holds.
    Loading,
    /// A session is open; prompts go out at once.
    Ready,
    /// The handshake failed; the process is of no further use.
    Broken,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    Initialize,
    NewSession,
    LoadSession,
    Prompt,
}

/// What a line (or a wish) means for the session.
#[derive(Debug, Clone, PartialEq)]
pub enum AcpOut {
    /// A line for the agent's stdin.
    Write(String),
    /// A `session/update`'s `update` object, as the agent wrote it.
    Update(RawJson),
    /// A session is open; `note` says why it is a new one when another
    /// was asked for.
    Opened {
        session_id: String,
        note: Option<String>,
    },
    Permission(PermissionAsk),
    /// The prompt's response: the turn is over.
    TurnEnded {
        stop_reason: String,
    },
    /// The prompt failed with a JSON-RPC error; the process stays usable.
    TurnFailed(String),
    /// The handshake failed: the process cannot serve this session.
    Failed(String),
    /// A file call the session carries out (inside the workdir only).
    FileCall(FileCall),
    /// A line that is not JSON-RPC (logs on stdout, garbage).
    NotJsonRpc(String),
    /// Something the user should be told (an image the agent cannot take).
    Note(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct PermissionAsk {
    /// The request's id as the agent wrote it (a number or a string).
    pub rpc_id: String,
    /// The `toolCall` object, unchanged.
    pub tool_call: Value,
    pub options: Vec<PermissionOption>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FileCall {
    Read {
        rpc_id: String,
        path: PathBuf,
        line: Option<u32>,
        limit: Option<u32>,
    },
    Write {
        rpc_id: String,
        path: PathBuf,
        content: String,
    },
}

impl FileCall {
    pub fn rpc_id(&self) -> &str {
        match self {
            FileCall::Read { rpc_id, .. } | FileCall::Write { rpc_id, .. } => rpc_id,
        }
    }
}

#[derive(Debug)]
pub struct AcpClient {
    cwd: PathBuf,
    /// The agent session to load, if the agent can.
    resume: Option<String>,
    next_id: u64,
    /// Our requests not answered yet; at most one handshake call and one
    /// prompt at a time, so this stays tiny.
    calls: HashMap<u64, Call>,
    phase: Phase,
    session_id: Option<String>,
    waiting_prompt: Option<(String, Vec<Attachment>)>,
    prompt_in_flight: bool,
    /// The agent takes image content (`promptCapabilities.image`).
    takes_images: bool,
    /// Told with `Opened`: why the session is not the one asked for.
    pending_note: Option<String>,
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
    #[serde(default)]
    method: Option<String>,
    #[serde(borrow, default)]
    params: Option<&'a RawValue>,
    #[serde(borrow, default)]
    result: Option<&'a RawValue>,
    #[serde(default)]
    error: Option<RpcError>,
}

#[derive(Deserialize)]
struct RpcError {
    #[serde(default)]
    code: i64,
    #[serde(default)]
    message: String,
}

#[derive(Deserialize)]
struct UpdateParams<'a> {
    #[serde(borrow)]
    update: &'a RawValue,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PermissionParams {
    #[serde(default)]
    tool_call: Value,
    #[serde(default)]
    options: Vec<PermissionOption>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionIdResult {
    session_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PromptResult {
    /// A string, not the schema's closed enum: an agent newer than us may
    /// stop for a reason we do not know yet, and the turn still ends.
    #[serde(default)]
    stop_reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InitResult {
    protocol_version: u16,
    #[serde(default)]
    agent_capabilities: Capabilities,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Capabilities {
    #[serde(default)]
    load_session: bool,
    #[serde(default)]
    prompt_capabilities: PromptCaps,
}

#[derive(Deserialize, Default)]
struct PromptCaps {
    #[serde(default)]
    image: bool,
}

#[derive(Serialize)]
struct Request<'a, P> {
    jsonrpc: &'static str,
    id: u64,
    method: &'a str,
    params: P,
}

#[derive(Serialize)]
struct Notification<'a, P> {
    jsonrpc: &'static str,
    method: &'a str,
    params: P,
}

fn error_line(rpc_id: &str, code: i64, message: &str) -> String {
    let message = serde_json::to_string(message).unwrap_or_else(|_| "\"error\"".into());
    format!(r#"{{"jsonrpc":"2.0","id":{rpc_id},"error":{{"code":{code},"message":{message}}}}}"#)
}

fn result_line(rpc_id: &str, result: &impl Serialize) -> String {
    let result = serde_json::to_string(result).unwrap_or_else(|_| "null".into());
    format!(r#"{{"jsonrpc":"2.0","id":{rpc_id},"result":{result}}}"#)
}

impl AcpClient {
    /// A client for a new process; `start` writes its first line.
    pub fn new(cwd: PathBuf, resume: Option<String>) -> Self {
        Self {
            cwd,
            resume,
            next_id: 1,
            calls: HashMap::new(),
            phase: Phase::Initializing,
            session_id: None,
            waiting_prompt: None,
            takes_images: false,
            prompt_in_flight: false,
            pending_note: None,
        }
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    pub fn session_id(&self) -> Option<&str> {
        self.session_id.as_deref()
    }

    pub fn prompt_in_flight(&self) -> bool {
        self.prompt_in_flight
    }

    /// `initialize`, offering what swe-swe serves: file writes inside the
    /// workdir, no file reads (Gemini CLI fails to create new files when
    /// reads are offered, see ACP-AGENTS.md) and no terminals.
    pub fn start(&mut self) -> AcpOut {
        let caps = ClientCapabilities::new().fs(FileSystemCapabilities::new()
            .read_text_file(false)
            .write_text_file(true));
        let params = InitializeRequest::new(ProtocolVersion::V1)
            .client_capabilities(caps)
            .client_info(Implementation::new("swe-swe", env!("CARGO_PKG_VERSION")));
        AcpOut::Write(self.request(Call::Initialize, "initialize", params))
    }

    /// The user's message (and its images): sent now, or once the session
    /// is open.
    pub fn prompt(&mut self, text: &str, images: Vec<Attachment>) -> Vec<AcpOut> {
        if self.phase != Phase::Ready {
            self.waiting_prompt = Some((text.to_owned(), images));
            return Vec::new();
        }
        self.send_prompt(text, &images)
    }

    /// `session/cancel` for the prompt in flight; false when there is none
    /// (the handshake is still going: the caller ends the process instead).
    pub fn cancel(&mut self) -> Option<AcpOut> {
        self.waiting_prompt = None;
        let session = self.session_id.clone()?;
        if !self.prompt_in_flight {
            return None;
        }
        let line = serde_json::to_string(&Notification {
            jsonrpc: "2.0",
            method: "session/cancel",
            params: CancelNotification::new(session),
        })
        .ok()?;
        Some(AcpOut::Write(line))
    }

    /// The line answering a `session/request_permission`: an option, or
    /// `cancelled` when `option_id` is None.
    pub fn answer_permission(rpc_id: &str, option_id: Option<String>) -> String {
        let outcome = match option_id {
            Some(id) => RequestPermissionOutcome::Selected(SelectedPermissionOutcome::new(id)),
            None => RequestPermissionOutcome::Cancelled,
        };
        result_line(rpc_id, &RequestPermissionResponse::new(outcome))
    }

    /// The line answering a file call: its result object, or an error.
    pub fn answer_call(rpc_id: &str, result: Result<Value, String>) -> String {
        match result {
            Ok(v) => result_line(rpc_id, &v),
            Err(message) => error_line(rpc_id, INVALID_PARAMS, &message),
        }
    }

    pub fn on_line(&mut self, line: &str) -> Vec<AcpOut> {
        let Ok(env) = serde_json::from_str::<Envelope>(line) else {
            return vec![AcpOut::NotJsonRpc(line.to_owned())];
        };
        match (env.method, env.id) {
            (Some(method), Some(id)) => vec![self.on_request(&method, id.get(), env.params)],
            (Some(method), None) => self.on_notification(&method, env.params),
            (None, Some(id)) => self.on_response(id.get(), env.result, env.error),
            (None, None) => vec![AcpOut::NotJsonRpc(line.to_owned())],
        }
    }

    fn on_notification(&mut self, method: &str, params: Option<&RawValue>) -> Vec<AcpOut> {
        if method != "session/update" {
            return Vec::new(); // unknown notifications are ignorable by the spec
        }
        let Some(update) = params.and_then(|p| serde_json::from_str::<UpdateParams>(p.get()).ok())
        else {
            return Vec::new();
        };
        if self.phase == Phase::Loading {
            // Replayed history: the session's log has it already.
            return Vec::new();
        }
        vec![AcpOut::Update(RawJson::from_raw(update.update))]
    }

    fn on_request(&mut self, method: &str, rpc_id: &str, params: Option<&RawValue>) -> AcpOut {
        let params = params.map_or("null", RawValue::get);
        let bad = |what: &str| {
            AcpOut::Write(error_line(
                rpc_id,
                INVALID_PARAMS,
                &format!("invalid {what} params"),
            ))
        };
        match method {
            "session/request_permission" => {
                match serde_json::from_str::<PermissionParams>(params) {
                    Ok(p) => AcpOut::Permission(PermissionAsk {
                        rpc_id: rpc_id.to_owned(),
                        tool_call: p.tool_call,
                        options: p.options,
                    }),
                    Err(_) => bad(method),
                }
            }
            "fs/write_text_file" => match serde_json::from_str::<WriteTextFileRequest>(params) {
                Ok(p) => AcpOut::FileCall(FileCall::Write {
                    rpc_id: rpc_id.to_owned(),
                    path: p.path,
                    content: p.content,
                }),
                Err(_) => bad(method),
            },
            "fs/read_text_file" => match serde_json::from_str::<ReadTextFileRequest>(params) {
                Ok(p) => AcpOut::FileCall(FileCall::Read {
                    rpc_id: rpc_id.to_owned(),
                    path: p.path,
                    line: p.line,
                    limit: p.limit,
                }),
                Err(_) => bad(method),
            },
            // Terminals are not offered; anything else (Qwen's
            // `craft/drainMidTurnQueue`) is unknown to us.
            _ => AcpOut::Write(error_line(
                rpc_id,
                METHOD_NOT_FOUND,
                &format!("swe-swe does not serve {method}"),
            )),
        }
    }

    fn on_response(
        &mut self,
        id: &str,
        result: Option<&RawValue>,
        error: Option<RpcError>,
    ) -> Vec<AcpOut> {
        let Some(call) = id.parse::<u64>().ok().and_then(|n| self.calls.remove(&n)) else {
            return Vec::new(); // not ours, or answered twice
        };
        let result = match (error, result) {
            (Some(e), _) => Err(format!("{} (code {})", e.message, e.code)),
            (None, Some(r)) => Ok(r.get()),
            (None, None) => Ok("null"),
        };
        match call {
            Call::Initialize => self.on_initialized(result),
            Call::NewSession => match result
                .and_then(|r| serde_json::from_str::<SessionIdResult>(r).map_err(|e| e.to_string()))
            {
                Ok(r) => self.opened(r.session_id, None),
                Err(e) => self.fail(format!("session/new failed: {e}")),
            },
            Call::LoadSession => {
                let id = self.resume.take().unwrap_or_default();
                match result {
                    Ok(_) => self.opened(id, None),
                    Err(e) => {
                        let note = format!(
                            "The agent could not load its earlier conversation {id} ({e}); a new conversation was started."
                        );
                        self.open_new(Some(note))
                    }
                }
            }
            Call::Prompt => {
                self.prompt_in_flight = false;
                match result.and_then(|r| {
                    serde_json::from_str::<PromptResult>(r).map_err(|e| e.to_string())
                }) {
                    Ok(r) => vec![AcpOut::TurnEnded {
                        stop_reason: r.stop_reason.unwrap_or_else(|| "end_turn".into()),
                    }],
                    Err(e) => vec![AcpOut::TurnFailed(format!("session/prompt failed: {e}"))],
                }
            }
        }
    }

    fn on_initialized(&mut self, result: Result<&str, String>) -> Vec<AcpOut> {
        let init = match result
            .and_then(|r| serde_json::from_str::<InitResult>(r).map_err(|e| e.to_string()))
        {
            Ok(init) => init,
            Err(e) => return self.fail(format!("initialize failed: {e}")),
        };
        if init.protocol_version != ProtocolVersion::V1.as_u16() {
            return self.fail(format!(
                "the agent speaks ACP version {}; swe-swe speaks version 1",
                init.protocol_version
            ));
        }
        self.takes_images = init.agent_capabilities.prompt_capabilities.image;
        match self.resume.clone() {
            Some(id) if init.agent_capabilities.load_session => {
                self.phase = Phase::Loading;
                let params = LoadSessionRequest::new(id, self.cwd.clone());
                vec![AcpOut::Write(self.request(
                    Call::LoadSession,
                    "session/load",
                    params,
                ))]
            }
            Some(id) => {
                self.resume = None;
                self.open_new(Some(format!(
                    "This agent cannot load an earlier conversation (it does not offer loadSession), so {id} was not continued; a new conversation was started."
                )))
            }
            None => self.open_new(None),
        }
    }

    fn open_new(&mut self, note: Option<String>) -> Vec<AcpOut> {
        self.phase = Phase::Opening;
        self.pending_note = note;
        let params = NewSessionRequest::new(self.cwd.clone());
        vec![AcpOut::Write(self.request(
            Call::NewSession,
            "session/new",
            params,
        ))]
    }

    fn opened(&mut self, session_id: String, note: Option<String>) -> Vec<AcpOut> {
        self.phase = Phase::Ready;
        self.session_id = Some(session_id.clone());
        let note = note.or_else(|| self.pending_note.take());
        let mut out = vec![AcpOut::Opened { session_id, note }];
        if let Some((text, images)) = self.waiting_prompt.take() {
            out.extend(self.send_prompt(&text, &images));
        }
        out
    }

    fn fail(&mut self, message: String) -> Vec<AcpOut> {
        self.phase = Phase::Broken;
        self.waiting_prompt = None;
        vec![AcpOut::Failed(message)]
    }

    /// `session/prompt`: the text, then each image as image content when
    /// the agent takes images; otherwise a note names the images left out.
    fn send_prompt(&mut self, text: &str, images: &[Attachment]) -> Vec<AcpOut> {
        self.prompt_in_flight = true;
        let session = self.session_id.clone().unwrap_or_default();
        let mut blocks = vec![ContentBlock::Text(TextContent::new(text))];
        let mut out = Vec::new();
        if self.takes_images {
            blocks.extend(
                images
                    .iter()
                    .map(|a| ContentBlock::Image(ImageContent::new(a.base64(), a.mime.clone()))),
            );
        } else if !images.is_empty() {
            let names: Vec<&str> = images.iter().map(|a| a.name.as_str()).collect();
            out.push(AcpOut::Note(format!(
                "Not sent to the agent: {} (it does not take images).",
                names.join(", ")
            )));
        }
        let params = PromptRequest::new(session, blocks);
        out.push(AcpOut::Write(self.request(
            Call::Prompt,
            "session/prompt",
            params,
        )));
        out
    }

    fn request(&mut self, call: Call, method: &str, params: impl Serialize) -> String {
        let id = self.next_id;
        self.next_id += 1;
        self.calls.insert(id, call);
        serde_json::to_string(&Request {
            jsonrpc: "2.0",
            id,
            method,
            params,
        })
        .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests;
