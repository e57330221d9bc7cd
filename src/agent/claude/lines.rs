//! Claude Code stdout lines → what the session needs to know.
//!
//! Only the facts the session acts on are extracted; every line is forwarded
//! raw as well, so unknown types and fields pass through untouched. Nothing
//! here can fail: a line we do not understand is `Other` or `NotJson`.

use serde_json::value::RawValue;
use serde_json::Value;
use std::borrow::Cow;
use wire::{Block, ControlRequest, Line, Usage};

mod wire;

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

/// A stdout line of the CLI, read for what the session acts on. Fields are
/// borrowed from the line and everything else is skipped, not built: the
/// most common lines (token deltas, text) cost one scan and no allocation
/// (a `Value` per line was ~5 % of the server's CPU per event).
pub fn parse_line(line: &str) -> ClaudeLine {
    // A struct also deserialises from a JSON array: only objects are lines.
    if !line.trim_start().starts_with('{') {
        return ClaudeLine::NotJson;
    }
    let Ok(l) = serde_json::from_str::<Line>(line) else {
        return ClaudeLine::NotJson;
    };
    match l.kind.as_deref() {
        Some("system") if l.subtype.as_deref() == Some("init") => match l.session_id {
            Some(id) => ClaudeLine::Init {
                session_id: id.into_owned(),
            },
            None => ClaudeLine::Other,
        },
        Some("assistant") => {
            let (blocks, usage) = l
                .message
                .map_or((Vec::new(), None), |m| (m.content, m.usage));
            let tool_uses = blocks_of(blocks, "tool_use", |b| {
                Some(ToolUseBlock {
                    id: b.id?.into_owned(),
                    name: b.name?.into_owned(),
                    input: b
                        .input
                        .and_then(|r| serde_json::from_str(r.get()).ok())
                        .unwrap_or(Value::Null),
                })
            });
            ClaudeLine::Assistant {
                tool_uses,
                context_tokens: usage.map(|u| u.input_total()).filter(|n| *n > 0),
            }
        }
        Some("user") => {
            let blocks = l.message.map(|m| m.content).unwrap_or_default();
            let results = blocks_of(blocks, "tool_result", |b| {
                Some(ToolResultBlock {
                    tool_use_id: b.tool_use_id?.into_owned(),
                    is_error: b.is_error.unwrap_or(false),
                    text: result_text(b.content),
                })
            });
            if results.is_empty() {
                ClaudeLine::Other
            } else {
                ClaudeLine::ToolResults { results }
            }
        }
        Some("result") => {
            let subtype = l.subtype.as_deref().unwrap_or("");
            let failed = l.is_error.unwrap_or(false)
                || subtype.starts_with("error")
                || l.terminal_reason
                    .as_deref()
                    .is_some_and(|t| t != "completed");
            let errors = l
                .errors
                .map(|a| {
                    a.into_iter()
                        .map(|e| match e {
                            Value::String(s) => s,
                            other => other.to_string(),
                        })
                        .collect()
                })
                .unwrap_or_default();
            ClaudeLine::Result(TurnResult {
                session_id: l.session_id.map(Cow::into_owned),
                failed,
                errors,
                total_cost_usd: l.total_cost_usd,
                input_tokens: l.usage.as_ref().map(Usage::input_total),
                output_tokens: l.usage.as_ref().and_then(|u| u.output_tokens),
                // The largest window of the models this process used.
                context_window: l
                    .model_usage
                    .and_then(|m| m.into_values().filter_map(|u| u.context_window).max()),
            })
        }
        Some("control_request") => {
            let req = l
                .request
                .and_then(|r| serde_json::from_str::<ControlRequest>(r.get()).ok());
            match (req, l.request_id) {
                (Some(r), Some(request_id)) if r.subtype.as_deref() == Some("can_use_tool") => {
                    ClaudeLine::CanUseTool {
                        request_id: request_id.into_owned(),
                        tool_name: r
                            .tool_name
                            .map_or_else(|| "unknown".into(), Cow::into_owned),
                        input: r.input.unwrap_or(Value::Null),
                        tool_use_id: r.tool_use_id.map(Cow::into_owned),
                    }
                }
                _ => ClaudeLine::Other,
            }
        }
        _ => ClaudeLine::Other,
    }
}

/// What `read` makes of each content block of type `kind`, in a new vector.
/// Not `collect()`: from a `Vec`'s own iterator it reuses the allocation and
/// then reallocates it to the new element size, copying its whole capacity,
/// unwritten bytes too. When those lay on a page never touched, the read
/// mapped the zero page there, and the next allocation on that page paid a
/// second fault and a TLB shootdown (an IPI, a VM exit here): half of the
/// server's page faults under load.
fn blocks_of<'a, T>(
    blocks: Vec<Block<'a>>,
    kind: &str,
    read: impl FnMut(Block<'a>) -> Option<T>,
) -> Vec<T> {
    let mut out = Vec::new();
    out.extend(
        blocks
            .into_iter()
            .filter(|b| b.kind.as_deref() == Some(kind))
            .filter_map(read),
    );
    out
}

/// tool_result content is a string or an array of `{type:"text",text}`.
fn result_text(content: Option<&RawValue>) -> String {
    match content.and_then(|c| serde_json::from_str::<Value>(c.get()).ok()) {
        Some(Value::String(s)) => s,
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
mod reference;

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

    /// The borrowed parser reads every real line (all fixtures, every
    /// version) and every truncation and field mangling of them exactly as
    /// the `Value` parser it replaced.
    #[test]
    fn the_borrowed_parser_agrees_with_the_value_parser() {
        let mut lines = Vec::new();
        for dir in ["claude-code-2.1.197", "other-versions"] {
            for e in std::fs::read_dir(format!("{FIXTURES}/{dir}")).unwrap() {
                let path = e.unwrap().path();
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                if name.ends_with(".jsonl") || name.ends_with(".transcript") {
                    lines.extend(fixture_lines(&format!("{dir}/{name}")));
                }
            }
        }
        assert!(lines.len() > 100, "{}", lines.len());
        let mut tried = 0;
        for line in &lines {
            let mut variants = vec![line.clone()];
            for cut in [1, line.len() / 2, line.len().saturating_sub(1)] {
                if line.is_char_boundary(cut) {
                    variants.push(line[..cut].to_owned());
                }
            }
            for (from, to) in [
                ("\"tool_use\"", "\"tool_usex\""),
                ("\"is_error\":false", "\"is_error\":\"no\""),
                ("\"usage\":{", "\"usage\":[{"),
                ("\"content\":[", "\"content\":\"x\",\"y\":["),
                ("\"input\":{", "\"input\":null,\"z\":{"),
                ("\"errors\":[]", "\"errors\":[1,{\"a\":2},\"b\"]"),
                ("\"session_id\":\"", "\"session_id\":\"\\u0041"),
                ("\"tool_use_id\":\"", "\"tool_use_id\":5,\"x\":\""),
                ("\"name\":\"", "\"name\":{\"a\":[1]},\"n\":\""),
                ("\"type\":\"", "\"type\":null,\"t\":\""),
                (
                    "\"content\":[",
                    "\"content\":[7,null,\"s\",[{\"type\":\"tool_use\"}],",
                ),
                ("\"message\":{", "\"message\":[{\"content\":[]}],\"m\":{"),
            ] {
                if line.contains(from) {
                    variants.push(line.replacen(from, to, 1));
                }
            }
            for v in variants {
                tried += 1;
                assert_eq!(parse_line(&v), reference::parse_line_value(&v), "{v}");
            }
        }
        eprintln!("{tried} lines agree");
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
