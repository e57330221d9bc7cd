//! Claude Code stdout lines → what the session needs to know.
//!
//! Only the facts the session acts on are extracted; every line is forwarded
//! raw as well, so unknown types and fields pass through untouched. Nothing
//! here can fail: a line we do not understand is `Other` or `NotJson`.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub enum ClaudeLine {
    /// `system`/`init`: the agent session id of this process.
    Init { session_id: String },
    /// An `assistant` message; its tool_use blocks, and the context it was
    /// answered with (all input tokens of its request), where reported.
    Assistant {
        tool_uses: Vec<ToolUseBlock>,
        context_tokens: Option<u64>,
    },
    /// A `user` message carrying tool results.
    ToolResults { results: Vec<ToolResultBlock> },
    /// The end of a turn.
    Result(TurnResult),
    /// Duplex permission prompt (`control_request` / `can_use_tool`).
    CanUseTool {
        request_id: String,
        tool_name: String,
        input: Value,
        tool_use_id: Option<String>,
    },
    /// Any other JSON line.
    Other,
    /// Not a JSON object (plain text, garbage).
    NotJson,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ToolUseBlock {
    pub id: String,
    pub name: String,
    pub input: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ToolResultBlock {
    pub tool_use_id: String,
    pub is_error: bool,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TurnResult {
    pub session_id: Option<String>,
    /// `is_error`, an `error_*` subtype, or a terminal_reason other than
    /// `completed` (`is_error` alone is not reliable across versions).
    pub failed: bool,
    pub errors: Vec<String>,
    /// What this process has cost so far (Claude Code reports a running
    /// total per process, not the turn's own cost).
    pub total_cost_usd: Option<f64>,
    /// The turn's own tokens.
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    pub context_window: Option<u64>,
}

/// Input tokens of a `usage` object, cached ones included.
fn input_tokens(usage: &Value) -> u64 {
    [
        "input_tokens",
        "cache_read_input_tokens",
        "cache_creation_input_tokens",
    ]
    .iter()
    .filter_map(|k| usage.get(*k).and_then(Value::as_u64))
    .sum()
}

pub fn parse_line(line: &str) -> ClaudeLine {
    let Ok(Value::Object(obj)) = serde_json::from_str::<Value>(line) else {
        return ClaudeLine::NotJson;
    };
    let str_of = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
    match obj.get("type").and_then(Value::as_str) {
        Some("system") if obj.get("subtype").and_then(Value::as_str) == Some("init") => {
            match str_of(obj.get("session_id")) {
                Some(session_id) => ClaudeLine::Init { session_id },
                None => ClaudeLine::Other,
            }
        }
        Some("assistant") => {
            let tool_uses = content_blocks(&obj)
                .filter(|b| b.get("type").and_then(Value::as_str) == Some("tool_use"))
                .filter_map(|b| {
                    Some(ToolUseBlock {
                        id: str_of(b.get("id"))?,
                        name: str_of(b.get("name"))?,
                        input: b.get("input").cloned().unwrap_or(Value::Null),
                    })
                })
                .collect();
            let context_tokens = obj
                .get("message")
                .and_then(|m| m.get("usage"))
                .map(input_tokens)
                .filter(|n| *n > 0);
            ClaudeLine::Assistant {
                tool_uses,
                context_tokens,
            }
        }
        Some("user") => {
            let results: Vec<_> = content_blocks(&obj)
                .filter(|b| b.get("type").and_then(Value::as_str) == Some("tool_result"))
                .filter_map(|b| {
                    Some(ToolResultBlock {
                        tool_use_id: str_of(b.get("tool_use_id"))?,
                        is_error: b.get("is_error").and_then(Value::as_bool).unwrap_or(false),
                        text: result_text(b.get("content")),
                    })
                })
                .collect();
            if results.is_empty() {
                ClaudeLine::Other
            } else {
                ClaudeLine::ToolResults { results }
            }
        }
        Some("result") => {
            let subtype = obj.get("subtype").and_then(Value::as_str).unwrap_or("");
            let terminal = obj.get("terminal_reason").and_then(Value::as_str);
            let failed = obj
                .get("is_error")
                .and_then(Value::as_bool)
                .unwrap_or(false)
                || subtype.starts_with("error")
                || terminal.is_some_and(|t| t != "completed");
            let errors = obj
                .get("errors")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .map(|e| match e {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        })
                        .collect()
                })
                .unwrap_or_default();
            let usage = obj.get("usage");
            ClaudeLine::Result(TurnResult {
                session_id: str_of(obj.get("session_id")),
                failed,
                errors,
                total_cost_usd: obj.get("total_cost_usd").and_then(Value::as_f64),
                input_tokens: usage.map(input_tokens),
                output_tokens: usage
                    .and_then(|u| u.get("output_tokens"))
                    .and_then(Value::as_u64),
                // The largest window of the models this process used.
                context_window: obj
                    .get("modelUsage")
                    .and_then(Value::as_object)
                    .and_then(|m| {
                        m.values()
                            .filter_map(|u| u.get("contextWindow").and_then(Value::as_u64))
                            .max()
                    }),
            })
        }
        Some("control_request") => {
            let req = obj.get("request");
            let sub = req.and_then(|r| r.get("subtype")).and_then(Value::as_str);
            match (sub, str_of(obj.get("request_id")), req) {
                (Some("can_use_tool"), Some(request_id), Some(r)) => ClaudeLine::CanUseTool {
                    request_id,
                    tool_name: str_of(r.get("tool_name")).unwrap_or_else(|| "unknown".into()),
                    input: r.get("input").cloned().unwrap_or(Value::Null),
                    tool_use_id: str_of(r.get("tool_use_id")),
                },
                _ => ClaudeLine::Other,
            }
        }
        _ => ClaudeLine::Other,
    }
}

fn content_blocks(obj: &serde_json::Map<String, Value>) -> impl Iterator<Item = &Value> {
    obj.get("message")
        .and_then(|m| m.get("content"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// tool_result content is a string or an array of `{type:"text",text}`.
fn result_text(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|i| i.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// Classic mode: the CLI refused a tool because it was not granted
/// ("Claude requested permissions to write to …, but you haven't granted it yet.").
pub fn is_permission_denial(text: &str) -> bool {
    text.contains("Claude requested permissions to") && text.contains("haven't granted it yet")
}

/// The tool named by a denial text of the `…permissions to use <Tool>, but…`
/// form, for when the tool_use itself was not seen.
pub fn denied_tool_from_text(text: &str) -> Option<String> {
    let rest = text.split("permissions to use ").nth(1)?;
    let name: String = rest
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty()).then_some(name)
}

/// The resume target is gone: stderr text or a result error says so.
pub fn is_no_conversation(text: &str) -> bool {
    text.contains("No conversation found")
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

    fn fixture_lines(path: &str) -> Vec<String> {
        std::fs::read_to_string(format!("{FIXTURES}/{path}"))
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with(">> ") && !l.trim().is_empty())
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn every_fixture_line_parses_and_none_is_lost_as_not_json() {
        for dir in ["claude-code-2.1.197", "other-versions"] {
            for entry in std::fs::read_dir(format!("{FIXTURES}/{dir}")).unwrap() {
                let name = entry.unwrap().file_name().into_string().unwrap();
                if !(name.ends_with(".jsonl") || name.ends_with(".transcript")) {
                    continue;
                }
                for line in fixture_lines(&format!("{dir}/{name}")) {
                    assert_ne!(parse_line(&line), ClaudeLine::NotJson, "{name}: {line}");
                }
            }
        }
    }

    #[test]
    fn classic_permission_denial_is_recognised() {
        let lines = fixture_lines("claude-code-2.1.197/print-write-permission-denied.jsonl");
        assert_eq!(
            parse_line(&lines[0]),
            ClaudeLine::Init {
                session_id: "061b4b1b-8120-400d-b437-1f576c504e7f".into()
            }
        );
        let ClaudeLine::Assistant { tool_uses, .. } = parse_line(&lines[1]) else {
            panic!()
        };
        assert_eq!(tool_uses[0].name, "Write");
        let ClaudeLine::ToolResults { results } = parse_line(&lines[2]) else {
            panic!()
        };
        assert!(results[0].is_error && is_permission_denial(&results[0].text));
        assert_eq!(results[0].tool_use_id, tool_uses[0].id);
        assert!(matches!(
            parse_line(&lines[4]),
            ClaudeLine::Result(TurnResult { failed: false, .. })
        ));
    }

    #[test]
    fn unknown_session_result_is_a_failure() {
        let lines = fixture_lines("claude-code-2.1.197/print-resume-unknown-session.jsonl");
        assert!(matches!(
            parse_line(&lines[0]),
            ClaudeLine::Result(TurnResult { failed: true, .. })
        ));
        let stderr = std::fs::read_to_string(format!(
            "{FIXTURES}/claude-code-2.1.197/print-resume-unknown-session.stderr"
        ))
        .unwrap();
        assert!(is_no_conversation(&stderr));
    }

    #[test]
    fn duplex_can_use_tool_is_recognised() {
        let lines = fixture_lines("claude-code-2.1.197/duplex-allow-partial-messages.transcript");
        let req = lines
            .iter()
            .map(|l| parse_line(l))
            .find(|p| matches!(p, ClaudeLine::CanUseTool { .. }))
            .unwrap();
        let ClaudeLine::CanUseTool {
            request_id,
            tool_name,
            input,
            tool_use_id,
        } = req
        else {
            unreachable!()
        };
        assert_eq!(request_id, "142e3506-9f08-465c-8f04-f1401c31f39d");
        assert_eq!(tool_name, "Write");
        assert_eq!(input["content"], "written by mock\n");
        assert_eq!(tool_use_id.as_deref(), Some("toolu_31dccc0ae1a04b53b819"));
    }

    #[test]
    fn auth_failure_counts_as_failed_even_with_success_subtype() {
        let line = r#"{"type":"result","subtype":"success","is_error":false,"terminal_reason":"api_error"}"#;
        assert!(matches!(
            parse_line(line),
            ClaudeLine::Result(TurnResult { failed: true, .. })
        ));
    }

    #[test]
    fn garbage_is_not_json_and_never_panics() {
        assert_eq!(parse_line("\u{fffd}\u{0}abc"), ClaudeLine::NotJson);
        assert_eq!(parse_line("[1,2]"), ClaudeLine::NotJson);
        assert_eq!(parse_line(r#"{"type":42}"#), ClaudeLine::Other);
        assert_eq!(
            denied_tool_from_text(
                "Claude requested permissions to use Bash, but you haven't granted it yet."
            ),
            Some("Bash".into())
        );
    }
}
