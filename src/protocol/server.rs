//! Server → browser frames.
//!
//! Session events are serialised once, with their `seq`, into a shared
//! [`Frame`]; every subscriber of the session gets a clone of the same
//! reference-counted bytes, so fan-out never re-serialises and every tab sees
//! byte-identical events.

use serde::Serialize;

/// One serialised JSON text frame, shared between all receivers. It is the
/// WebSocket layer's own text type: made from the serialised `String`
/// without a copy, and handed to each tab's socket as a reference count
/// (an `Arc<str>` was copied twice more: into the Arc, and per tab into the
/// message).
pub type Frame = axum::extract::ws::Utf8Bytes;

/// Why a turn ended; `exec_end.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TurnStatus {
    Success,
    Error,
    /// Stopped by a user.
    Stopped,
    /// Cut short by swe-swe itself: shut down, or killed, during the turn.
    Interrupted,
}

/// JSON that is already valid (an agent's object, checked once when its
/// line was parsed), serialised as it is: an ACP update reaches the page
/// byte for byte as the agent wrote it, and is not scanned again.
#[derive(Debug, Clone)]
pub struct RawJson(Box<serde_json::value::RawValue>);

impl RawJson {
    /// Owns a piece of an already parsed line, without checking it again.
    pub fn from_raw(raw: &serde_json::value::RawValue) -> Self {
        RawJson(raw.to_owned())
    }

    /// A value made here (always valid JSON).
    pub fn from_value(v: &serde_json::Value) -> Self {
        // A `Value` always serialises; `null` is only a formal fallback.
        RawJson(
            serde_json::value::to_raw_value(v)
                .unwrap_or_else(|_| serde_json::value::RawValue::NULL.to_owned()),
        )
    }

    pub fn get(&self) -> &str {
        self.0.get()
    }
}

impl PartialEq for RawJson {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl Serialize for RawJson {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

/// An event of a chat session: part of its log, numbered by `seq`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(
    tag = "type",
    rename_all = "snake_case",
    rename_all_fields = "camelCase"
)]
pub enum SessionEvent {
    UserMessage {
        content: String,
        run_id: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        queue_id: Option<u64>,
        /// When it was sent, ms since the epoch (the page shows it).
        #[serde(skip_serializing_if = "Option::is_none")]
        at: Option<i64>,
        /// Files attached to it (fetched by id from the session's
        /// attachments).
        #[serde(skip_serializing_if = "Vec::is_empty")]
        attachments: Vec<crate::agent::attachments::AttachmentMeta>,
    },
    Queued {
        queue_id: u64,
        content: String,
    },
    QueueCancelled {
        queue_id: u64,
    },
    ExecStart {
        run_id: u64,
    },
    /// The turn waits for an agent slot (`--max-agents`): `ahead` turns of
    /// other sessions are before it. Sent again as it moves up; the agent
    /// starts when a slot frees.
    WaitingForAgent {
        run_id: u64,
        ahead: usize,
    },
    ExecEnd {
        run_id: u64,
        status: TurnStatus,
        #[serde(skip_serializing_if = "Option::is_none")]
        exit_code: Option<i32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        message: Option<String>,
        /// When the turn ended, ms since the epoch.
        #[serde(skip_serializing_if = "Option::is_none")]
        at: Option<i64>,
    },
    /// One raw stdout line of Claude Code, unchanged.
    Claudejson {
        content: String,
    },
    /// Plain text output of an agent (template agents, non-JSON lines).
    Content {
        content: String,
    },
    Stderr {
        content: String,
    },
    PermissionRequest {
        request_id: String,
        run_id: u64,
        /// The tool name (the original client called it `sender`).
        sender: String,
        /// The tool input as a JSON string.
        tool_input: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        tool_use_id: Option<String>,
        /// ACP: the agent's `toolCall` (title, kind, rawInput, content with
        /// diffs), unchanged.
        #[serde(skip_serializing_if = "Option::is_none")]
        tool_call: Option<serde_json::Value>,
        /// ACP: the agent's options (`optionId`, `name`, `kind`).
        #[serde(skip_serializing_if = "Option::is_none")]
        options: Option<serde_json::Value>,
    },
    /// One ACP `session/update` of the agent, its `update` object unchanged
    /// (`agent_message_chunk`, `tool_call`, `plan`, …).
    AgentUpdate {
        update: RawJson,
    },
    PermissionResolved {
        request_id: String,
        decision: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        /// The user's answers to an AskUserQuestion prompt.
        #[serde(skip_serializing_if = "Option::is_none")]
        answers: Option<serde_json::Value>,
    },
    /// The session's permission mode changed (`default`, `acceptEdits`,
    /// `plan`, `bypassPermissions`).
    PermissionMode {
        mode: &'static str,
    },
    PermissionVoid {
        request_id: String,
        reason: String,
    },
    AgentSession {
        agent_session_id: String,
    },
    /// What one result of the agent cost (Claude Code: a turn; in classic
    /// mode a turn rerun after an approval has one per run), and the
    /// session's total so far and its context use where the agent says.
    Usage {
        run_id: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        cost_usd: Option<f64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        input_tokens: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        output_tokens: Option<u64>,
        session_cost_usd: f64,
        #[serde(skip_serializing_if = "Option::is_none")]
        context_tokens: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        context_window: Option<u64>,
    },
    Info {
        message: String,
    },
    Error {
        message: String,
        code: &'static str,
    },
}

#[derive(Serialize)]
struct Sequenced<'a> {
    seq: u64,
    #[serde(flatten)]
    event: &'a SessionEvent,
}

impl SessionEvent {
    /// The event's frame: compact JSON, so never a raw newline (every
    /// control byte in a string is escaped). The store relies on it: a log
    /// row holds a burst of frames, one per line (`store/log_rows.rs`).
    pub fn to_frame(&self, seq: u64) -> Frame {
        // An agent's raw line (most events by far) is written straight into
        // a buffer of about its final size: the same bytes the general path
        // makes, without its flattening and the buffer's regrowth.
        if let SessionEvent::Claudejson { content } = self {
            return claudejson_frame(seq, content);
        }
        serde_json::to_string(&Sequenced { seq, event: self })
            .unwrap_or_else(|e| {
                // A `Value` always serialises, its message escaped.
                serde_json::json!({"type": "error", "seq": seq, "message": format!("serialisation failed: {e}")})
                    .to_string()
            })
            .into()
    }
}

/// `{"seq":N,"type":"claudejson","content":"<line as a JSON string>"}`.
fn claudejson_frame(seq: u64, content: &str) -> Frame {
    let mut seq_text = itoa::Buffer::new();
    let head: [&[u8]; 3] = [
        br#"{"seq":"#,
        seq_text.format(seq).as_bytes(),
        br#","type":"claudejson","content":"#,
    ];
    let out = super::json_str::json_str_between(&head, content, b"}");
    // The line's own UTF-8 with ASCII escapes put in: valid UTF-8.
    String::from_utf8(out)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
        .into()
}

/// Frames for one connection only; not part of any session log.
#[derive(Debug, Clone, Serialize)]
#[serde(
    tag = "type",
    rename_all = "snake_case",
    rename_all_fields = "camelCase"
)]
pub enum Reply {
    Session {
        session: String,
        last_seq: u64,
        running: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        run_id: Option<u64>,
        /// The oldest seq still replayable; a client further behind missed events.
        first_seq: u64,
        permission_mode: &'static str,
        /// The agent this session runs (`claude`, `gemini`, a template's
        /// program, …).
        agent: String,
        /// What the session's turns have cost so far, where the agent says.
        #[serde(skip_serializing_if = "Option::is_none")]
        cost_usd: Option<f64>,
        /// Whether attached images reach the agent: `null` when only the
        /// agent can say (ACP: once its session is open).
        takes_images: Option<bool>,
    },
    Error {
        message: String,
        code: &'static str,
    },
    StopAck {
        run_id: Option<u64>,
        running: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    Pong,
    /// `content` is the JSON array of matches, as the original client expects.
    FuzzySearchResults {
        content: String,
    },
    FileIndexStatus {
        indexed: usize,
        truncated: bool,
        ready: bool,
        watching: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
}

impl Reply {
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Reply::Error {
            message: message.into(),
            code,
        }
    }

    pub fn to_frame(&self) -> Frame {
        serde_json::to_string(self)
            .unwrap_or_else(|e| {
                format!(r#"{{"type":"error","message":"serialisation failed: {e}"}}"#)
            })
            .into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_carry_seq_and_camel_case_fields() {
        let f = SessionEvent::PermissionRequest {
            request_id: "p-1".into(),
            run_id: 3,
            sender: "Write".into(),
            tool_input: "{}".into(),
            tool_use_id: None,
            tool_call: None,
            options: None,
        }
        .to_frame(7);
        let v: serde_json::Value = serde_json::from_str(&f).unwrap();
        assert_eq!(v["type"], "permission_request");
        assert_eq!(v["seq"], 7);
        assert_eq!(v["requestId"], "p-1");
        assert_eq!(v["runId"], 3);
        assert!(v.get("toolUseId").is_none());
    }

    #[test]
    fn a_line_frame_is_what_the_general_path_writes() {
        // What was tried: lines with quotes, backslashes, every ASCII
        // character (each control one), DEL, non-ASCII and none at all,
        // escapes at the start and the end, through the short path and
        // through serde's general one.
        let ascii: String = (0u8..0x80).map(char::from).collect();
        for content in [
            "",
            r#"{"type":"result","x":"a\"b"}"#,
            "tab\there\nnewline \u{1}\u{1f} é€😀 \\ / </script>",
            &ascii,
            "\"\u{7f}\u{80}\u{10ffff}\\",
            &"x".repeat(10_000),
        ] {
            let event = SessionEvent::Claudejson {
                content: content.to_owned(),
            };
            let general = serde_json::to_string(&Sequenced {
                seq: 42,
                event: &event,
            })
            .unwrap();
            assert_eq!(event.to_frame(42).as_str(), general);
        }
    }

    #[test]
    fn claudejson_keeps_the_raw_line_as_a_string() {
        let line = r#"{"type":"result","x":"a\"b"}"#;
        let f = SessionEvent::Claudejson {
            content: line.into(),
        }
        .to_frame(1);
        let v: serde_json::Value = serde_json::from_str(&f).unwrap();
        assert_eq!(v["content"], line);
    }
}
