//! Decoding of browser → server messages.
//!
//! Decoding goes through `serde_json::Value` first so that the original Go
//! client's messages (no `type`, a `sender` field) and the typed messages can
//! both be recognised, and so every failure names what was wrong.

use crate::permissions::PermissionMode;
use serde_json::{Map, Value};
use thiserror::Error;

/// The user's answer to a permission prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    AllowAlways,
    Deny,
    /// Allow every tool for the rest of the chat session ("skip all").
    SkipAll,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::AllowAlways => "allow_always",
            Decision::Deny => "deny",
            Decision::SkipAll => "skip_all",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "allow" => Decision::Allow,
            "allow_always" => Decision::AllowAlways,
            "deny" => Decision::Deny,
            "skip_all" => Decision::SkipAll,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ClientMessage {
    /// Join (or create) a chat session and replay events after `last_seq`.
    Hello {
        session: Option<String>,
        last_seq: Option<u64>,
        /// The agent a new session runs (a name of `GET /api/agents`);
        /// ignored for a session that already has events.
        agent: Option<String>,
    },
    /// A user turn. `session` and `agent_session` come from the original
    /// client's `sessionID` / `claudeSessionID`.
    UserMessage {
        content: String,
        session: Option<String>,
        agent_session: Option<String>,
        /// Ids of files uploaded to the session for this message.
        attachments: Vec<String>,
    },
    Stop {
        run_id: Option<u64>,
    },
    /// A typed answer (`requestId` + `decision`).
    PermissionAnswer {
        request_id: String,
        decision: Decision,
        reason: Option<String>,
        /// AskUserQuestion answers: an object of question → answer strings.
        answers: Option<Value>,
        /// ACP: one of the agent's options, by id (then `decision` may be
        /// left out).
        option_id: Option<String>,
    },
    /// Switch Claude Code's permission mode for the session.
    SetPermissionMode {
        mode: PermissionMode,
    },
    /// The original client's answer: the whole allowed-tool list and the
    /// skip-all flag, applied to whatever prompt is open.
    LegacyPermission {
        allowed_tools: Vec<String>,
        skip_permissions: bool,
    },
    CancelQueued {
        queue_id: u64,
    },
    FuzzySearch {
        query: String,
        max_results: usize,
    },
    RefreshFileIndex,
    Ping,
    /// Send this connection the notices about every session (status,
    /// list changes) from now on.
    WatchSessions,
}

#[derive(Debug, Error, PartialEq)]
pub enum DecodeError {
    #[error("malformed JSON: {0}")]
    Json(String),
    #[error("a message must be a JSON object")]
    NotAnObject,
    #[error("unknown message type {0:?}")]
    UnknownType(String),
    #[error("message has neither a \"type\" nor a \"sender\" field")]
    Untyped,
    #[error("field {field:?} of {kind:?}: {problem}")]
    Field {
        kind: &'static str,
        field: &'static str,
        problem: &'static str,
    },
}

impl DecodeError {
    /// A short stable code for the `error` frame.
    pub fn code(&self) -> &'static str {
        match self {
            DecodeError::Json(_) => "bad_json",
            DecodeError::NotAnObject | DecodeError::Untyped => "bad_message",
            DecodeError::UnknownType(_) => "unknown_type",
            DecodeError::Field { .. } => "bad_field",
        }
    }
}

pub fn decode_client_message(text: &str) -> Result<ClientMessage, DecodeError> {
    let value: Value = serde_json::from_str(text).map_err(|e| DecodeError::Json(e.to_string()))?;
    let Value::Object(obj) = value else {
        return Err(DecodeError::NotAnObject);
    };
    match obj.get("type") {
        Some(Value::String(t)) => decode_typed(t, &obj),
        Some(_) => Err(DecodeError::Field {
            kind: "message",
            field: "type",
            problem: "must be a string",
        }),
        None if obj.contains_key("sender") => decode_chat("chat", &obj),
        None => Err(DecodeError::Untyped),
    }
}

fn decode_typed(kind: &str, obj: &Map<String, Value>) -> Result<ClientMessage, DecodeError> {
    Ok(match kind {
        "hello" => ClientMessage::Hello {
            session: opt_str(obj, "hello", "session")?,
            last_seq: opt_u64(obj, "hello", "lastSeq")?,
            agent: opt_str(obj, "hello", "agent")?,
        },
        "message" | "user_message" => decode_chat("message", obj)?,
        "stop" => ClientMessage::Stop {
            run_id: opt_u64(obj, "stop", "runId")?,
        },
        "permission_response" => decode_permission(obj)?,
        "set_permission_mode" => {
            let mode = opt_str(obj, "set_permission_mode", "mode")?.unwrap_or_default();
            ClientMessage::SetPermissionMode {
                mode: PermissionMode::parse(&mode).ok_or(DecodeError::Field {
                    kind: "set_permission_mode",
                    field: "mode",
                    problem: "must be default, acceptEdits, plan or bypassPermissions",
                })?,
            }
        }
        "cancel_queued" => ClientMessage::CancelQueued {
            queue_id: opt_u64(obj, "cancel_queued", "queueId")?.ok_or(DecodeError::Field {
                kind: "cancel_queued",
                field: "queueId",
                problem: "is required",
            })?,
        },
        "fuzzy_search" => ClientMessage::FuzzySearch {
            query: opt_str(obj, "fuzzy_search", "query")?.unwrap_or_default(),
            max_results: opt_u64(obj, "fuzzy_search", "maxResults")?
                .unwrap_or(50)
                .min(1_000) as usize,
        },
        "refresh_file_index" => ClientMessage::RefreshFileIndex,
        "ping" => ClientMessage::Ping,
        "watch_sessions" => ClientMessage::WatchSessions,
        other => return Err(DecodeError::UnknownType(truncate(other, 64))),
    })
}

fn decode_chat(kind: &'static str, obj: &Map<String, Value>) -> Result<ClientMessage, DecodeError> {
    if let Some(sender) = obj.get("sender") {
        if sender.as_str() != Some("USER") {
            return Err(DecodeError::Field {
                kind,
                field: "sender",
                problem: "only \"USER\" messages can be sent",
            });
        }
    }
    let content = opt_str(obj, kind, "content")?.ok_or(DecodeError::Field {
        kind,
        field: "content",
        problem: "is required",
    })?;
    Ok(ClientMessage::UserMessage {
        content,
        session: opt_str(obj, kind, "sessionID")?.filter(|s| !s.is_empty()),
        agent_session: opt_str(obj, kind, "claudeSessionID")?.filter(|s| !s.is_empty()),
        attachments: attachment_ids(kind, obj)?,
    })
}

/// `attachments`: at most `MAX_PER_MESSAGE` ids of uploaded files.
fn attachment_ids(
    kind: &'static str,
    obj: &Map<String, Value>,
) -> Result<Vec<String>, DecodeError> {
    use crate::agent::attachments::MAX_PER_MESSAGE;
    let bad = |problem| DecodeError::Field {
        kind,
        field: "attachments",
        problem,
    };
    let list = match obj.get("attachments") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(a)) => a,
        Some(_) => return Err(bad("must be an array of attachment ids")),
    };
    if list.len() > MAX_PER_MESSAGE {
        return Err(bad("at most 8 attachments per message"));
    }
    list.iter()
        .map(|v| match v.as_str() {
            Some(id) if crate::agent::valid_agent_session_id(id) => Ok(id.to_owned()),
            _ => Err(bad("each must be an attachment id from an upload")),
        })
        .collect()
}

fn decode_permission(obj: &Map<String, Value>) -> Result<ClientMessage, DecodeError> {
    const KIND: &str = "permission_response";
    if let Some(request_id) = opt_str(obj, KIND, "requestId")? {
        let option_id = opt_str(obj, KIND, "optionId")?;
        if option_id.as_ref().is_some_and(|o| o.len() > 256) {
            return Err(DecodeError::Field {
                kind: KIND,
                field: "optionId",
                problem: "is longer than 256 bytes",
            });
        }
        let decision = match opt_str(obj, KIND, "decision")? {
            Some(d) => Decision::parse(&d).ok_or(DecodeError::Field {
                kind: KIND,
                field: "decision",
                problem: "must be allow, allow_always, deny or skip_all",
            })?,
            // Replaced by the chosen option's own kind.
            None if option_id.is_some() => Decision::Deny,
            None => {
                return Err(DecodeError::Field {
                    kind: KIND,
                    field: "decision",
                    problem: "is required with requestId (or give optionId)",
                })
            }
        };
        return Ok(ClientMessage::PermissionAnswer {
            request_id,
            decision,
            reason: opt_str(obj, KIND, "reason")?.filter(|r| !r.is_empty()),
            answers: decode_answers(obj)?,
            option_id,
        });
    }
    let allowed_tools = match obj.get("allowedTools") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or(DecodeError::Field {
                kind: KIND,
                field: "allowedTools",
                problem: "must be an array of strings",
            })?,
        Some(_) => {
            return Err(DecodeError::Field {
                kind: KIND,
                field: "allowedTools",
                problem: "must be an array of strings",
            })
        }
    };
    let skip_permissions = match obj.get("skipPermissions") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(DecodeError::Field {
                kind: KIND,
                field: "skipPermissions",
                problem: "must be a boolean",
            })
        }
    };
    Ok(ClientMessage::LegacyPermission {
        allowed_tools,
        skip_permissions,
    })
}

/// `answers`: `{"question": "answer"}`, strings only, at most 64 of them.
fn decode_answers(obj: &Map<String, Value>) -> Result<Option<Value>, DecodeError> {
    let bad = DecodeError::Field {
        kind: "permission_response",
        field: "answers",
        problem: "must be an object of at most 64 string answers",
    };
    match obj.get("answers") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) if m.len() <= 64 && m.values().all(Value::is_string) => {
            Ok(Some(Value::Object(m.clone())))
        }
        Some(_) => Err(bad),
    }
}

fn opt_str(
    obj: &Map<String, Value>,
    kind: &'static str,
    field: &'static str,
) -> Result<Option<String>, DecodeError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(DecodeError::Field {
            kind,
            field,
            problem: "must be a string",
        }),
    }
}

fn opt_u64(
    obj: &Map<String, Value>,
    kind: &'static str,
    field: &'static str,
) -> Result<Option<u64>, DecodeError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_u64().map(Some).ok_or(DecodeError::Field {
            kind,
            field,
            problem: "must be a non-negative integer",
        }),
    }
}

fn truncate(s: &str, max_chars: usize) -> String {
    s.chars().take(max_chars).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn original_chat_message_is_accepted_unchanged() {
        let m = decode_client_message(
            r#"{"sender":"USER","content":"hi","firstMessage":true,"sessionID":"tab-1","claudeSessionID":""}"#,
        )
        .unwrap();
        assert_eq!(
            m,
            ClientMessage::UserMessage {
                content: "hi".into(),
                session: Some("tab-1".into()),
                agent_session: None,
                attachments: Vec::new(),
            }
        );
    }

    #[test]
    fn original_permission_response_is_accepted() {
        let m = decode_client_message(
            r#"{"type":"permission_response","allowedTools":["Write","Bash"],"skipPermissions":false}"#,
        )
        .unwrap();
        assert_eq!(
            m,
            ClientMessage::LegacyPermission {
                allowed_tools: vec!["Write".into(), "Bash".into()],
                skip_permissions: false
            }
        );
    }

    #[test]
    fn typed_permission_answer() {
        let m = decode_client_message(
            r#"{"type":"permission_response","requestId":"p1","decision":"deny","reason":"no"}"#,
        )
        .unwrap();
        assert_eq!(
            m,
            ClientMessage::PermissionAnswer {
                request_id: "p1".into(),
                decision: Decision::Deny,
                reason: Some("no".into()),
                answers: None,
                option_id: None,
            }
        );
    }

    #[test]
    fn bad_inputs_name_the_problem() {
        assert_eq!(decode_client_message("{").unwrap_err().code(), "bad_json");
        assert_eq!(
            decode_client_message("[1]").unwrap_err(),
            DecodeError::NotAnObject
        );
        assert_eq!(
            decode_client_message(r#"{"type":"nope"}"#).unwrap_err(),
            DecodeError::UnknownType("nope".into())
        );
        assert_eq!(
            decode_client_message(r#"{"x":1}"#).unwrap_err(),
            DecodeError::Untyped
        );
        assert!(matches!(
            decode_client_message(r#"{"type":"stop","runId":-1}"#).unwrap_err(),
            DecodeError::Field { field: "runId", .. }
        ));
        assert!(matches!(
            decode_client_message(
                r#"{"type":"permission_response","requestId":"a","decision":"maybe"}"#
            )
            .unwrap_err(),
            DecodeError::Field {
                field: "decision",
                ..
            }
        ));
    }

    #[test]
    fn fuzzy_search_and_refresh_are_recognised() {
        assert_eq!(
            decode_client_message(r#"{"type":"fuzzy_search","query":"ab","maxResults":5}"#)
                .unwrap(),
            ClientMessage::FuzzySearch {
                query: "ab".into(),
                max_results: 5
            }
        );
        assert_eq!(
            decode_client_message(r#"{"type":"refresh_file_index"}"#).unwrap(),
            ClientMessage::RefreshFileIndex
        );
    }
}
