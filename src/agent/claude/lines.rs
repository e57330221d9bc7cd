//! Claude Code stdout lines → what the session needs to know.
//!
//! Only the facts the session acts on are extracted; every line is forwarded
//! raw as well, so unknown types and fields pass through untouched. Nothing
//! here can fail: a line we do not understand is `Other` or `NotJson`.

use serde_json::Value;
use std::borrow::Cow;
use wire::{largest_context_window, text, typed, ControlRequest, Line, Usage};

mod scan;
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

/// A stdout line of the CLI, read for what the session acts on. The line
/// is checked as JSON in one pass that builds nothing, and only the members
/// the session reads are read (`scan`): the most common lines (token
/// deltas, text) cost that pass and no allocation.
pub fn parse_line(line: &str) -> ClaudeLine {
    let Some(l) = Line::read(line) else {
        return ClaudeLine::NotJson;
    };
    match text(l.kind).as_deref() {
        Some("system") if text(l.subtype).as_deref() == Some("init") => match text(l.session_id) {
            Some(id) => ClaudeLine::Init {
                session_id: id.into_owned(),
            },
            None => ClaudeLine::Other,
        },
        Some("assistant") => {
            let mut tool_uses = Vec::new();
            l.blocks(|b| {
                if text(b.kind).as_deref() != Some("tool_use") {
                    return;
                }
                if let (Some(id), Some(name)) = (text(b.id), text(b.name)) {
                    tool_uses.push(ToolUseBlock {
                        id: id.into_owned(),
                        name: name.into_owned(),
                        input: typed(b.input).unwrap_or(Value::Null),
                    });
                }
            });
            ClaudeLine::Assistant {
                tool_uses,
                context_tokens: Usage::read(l.message_usage)
                    .map(|u| u.input_total())
                    .filter(|n| *n > 0),
            }
        }
        Some("user") => {
            let mut results = Vec::new();
            l.blocks(|b| {
                if text(b.kind).as_deref() != Some("tool_result") {
                    return;
                }
                if let Some(id) = text(b.tool_use_id) {
                    results.push(ToolResultBlock {
                        tool_use_id: id.into_owned(),
                        is_error: typed(b.is_error).unwrap_or(false),
                        text: result_text(b.content),
                    });
                }
            });
            if results.is_empty() {
                ClaudeLine::Other
            } else {
                ClaudeLine::ToolResults { results }
            }
        }
        Some("result") => {
            let subtype = text(l.subtype);
            let failed = typed(l.is_error).unwrap_or(false)
                || subtype.is_some_and(|s| s.starts_with("error"))
                || text(l.terminal_reason).is_some_and(|t| t != "completed");
            let errors = typed::<Vec<Value>>(l.errors)
                .map(|a| {
                    a.into_iter()
                        .map(|e| match e {
                            Value::String(s) => s,
                            other => other.to_string(),
                        })
                        .collect()
                })
                .unwrap_or_default();
            let usage = Usage::read(l.usage);
            ClaudeLine::Result(TurnResult {
                session_id: text(l.session_id).map(Cow::into_owned),
                failed,
                errors,
                total_cost_usd: typed(l.total_cost_usd),
                input_tokens: usage.as_ref().map(Usage::input_total),
                output_tokens: usage.as_ref().and_then(|u| u.output_tokens),
                // The largest window of the models this process used.
                context_window: largest_context_window(l.model_usage),
            })
        }
        Some("control_request") => {
            match (l.request.and_then(ControlRequest::read), text(l.request_id)) {
                (Some(r), Some(request_id))
                    if text(r.subtype).as_deref() == Some("can_use_tool") =>
                {
                    ClaudeLine::CanUseTool {
                        request_id: request_id.into_owned(),
                        tool_name: text(r.tool_name)
                            .map_or_else(|| "unknown".into(), Cow::into_owned),
                        input: typed(r.input).unwrap_or(Value::Null),
                        tool_use_id: text(r.tool_use_id).map(Cow::into_owned),
                    }
                }
                _ => ClaudeLine::Other,
            }
        }
        _ => ClaudeLine::Other,
    }
}

/// tool_result content is a string or an array of `{type:"text",text}`.
fn result_text(content: Option<&str>) -> String {
    match typed::<Value>(content) {
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

    /// Lines shaped like Claude's (its member names and types, any
    /// nesting, wrong shapes anywhere), whole or cut or with a byte of
    /// JSON's syntax put in: read as the `Value` parser reads them. Where
    /// that one refuses what is JSON by the grammar (a number beyond f64,
    /// a lone surrogate, nesting past 128: JSON.parse takes all three),
    /// this parser keeps the line as JSON; only the grammar is compared.
    mod agrees_on_claude_like_lines {
        use super::*;
        use proptest::prelude::*;

        fn name() -> impl Strategy<Value = String> {
            prop::sample::select(vec![
                "type",
                "subtype",
                "session_id",
                "message",
                "content",
                "usage",
                "id",
                "name",
                "input",
                "tool_use_id",
                "is_error",
                "errors",
                "total_cost_usd",
                "modelUsage",
                "contextWindow",
                "request",
                "request_id",
                "tool_name",
                "input_tokens",
                "cache_read_input_tokens",
                "output_tokens",
                "text",
                "terminal_reason",
                "t\\u0079pe",
                "x",
            ])
            .prop_map(str::to_owned)
        }

        fn claude_like() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                prop::sample::select(vec![
                    "system",
                    "init",
                    "assistant",
                    "user",
                    "result",
                    "control_request",
                    "can_use_tool",
                    "tool_use",
                    "tool_result",
                    "text",
                    "completed",
                    "error_during_execution",
                    "api_error",
                ])
                .prop_map(Value::from),
                Just(Value::Null),
                any::<bool>().prop_map(Value::from),
                (0u64..300_000).prop_map(Value::from),
                any::<i32>().prop_map(Value::from),
                (-1e6f64..1e6).prop_map(Value::from),
                ".{0,12}".prop_map(Value::from),
            ];
            leaf.prop_recursive(5, 64, 6, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..5).prop_map(Value::from),
                    prop::collection::vec((name(), inner), 0..7)
                        .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        /// Mostly the shape Claude writes there, sometimes anything.
        fn or_any(right: impl Strategy<Value = Value> + 'static) -> BoxedStrategy<Value> {
            prop_oneof![4 => right, 1 => claude_like()].boxed()
        }

        /// An object of these members, each there or not, in any order.
        fn object(members: Vec<(&'static str, BoxedStrategy<Value>)>) -> BoxedStrategy<Value> {
            let each: Vec<_> = members
                .into_iter()
                .map(|(k, v)| prop::option::weighted(0.7, v.prop_map(move |v| (k.to_owned(), v))))
                .collect();
            each.prop_map(|m| m.into_iter().flatten().collect::<Vec<_>>())
                .prop_shuffle()
                .prop_map(|m| Value::Object(m.into_iter().collect()))
                .boxed()
        }

        fn str_in(words: &[&'static str]) -> BoxedStrategy<Value> {
            or_any(prop::sample::select(words.to_vec()).prop_map(Value::from))
        }

        fn count() -> BoxedStrategy<Value> {
            or_any((0u64..300_000).prop_map(Value::from))
        }

        fn usage() -> BoxedStrategy<Value> {
            or_any(object(vec![
                ("input_tokens", count()),
                ("cache_read_input_tokens", count()),
                ("cache_creation_input_tokens", count()),
                ("output_tokens", count()),
            ]))
        }

        /// A content block; a tool result's content holds blocks `depth` deep.
        fn block(depth: u32) -> BoxedStrategy<Value> {
            let inner = if depth == 0 {
                Just(Value::Array(Vec::new())).boxed()
            } else {
                prop::collection::vec(block(depth - 1), 0..3)
                    .prop_map(Value::from)
                    .boxed()
            };
            or_any(object(vec![
                ("type", str_in(&["tool_use", "tool_result", "text"])),
                ("id", str_in(&["toolu_1", "toolu_2"])),
                ("name", str_in(&["Bash", "Write"])),
                ("input", claude_like().boxed()),
                ("tool_use_id", str_in(&["toolu_1", "toolu_2"])),
                ("is_error", or_any(any::<bool>().prop_map(Value::from))),
                ("text", str_in(&["hi", "a\"b"])),
                (
                    "content",
                    or_any(prop_oneof![".{0,8}".prop_map(Value::from), inner]),
                ),
            ]))
        }

        fn claude_line() -> impl Strategy<Value = Value> {
            let message = or_any(object(vec![
                (
                    "content",
                    or_any(prop::collection::vec(block(1), 0..4).prop_map(Value::from)),
                ),
                ("usage", usage()),
            ]));
            object(vec![
                (
                    "type",
                    str_in(&["system", "assistant", "user", "result", "control_request"]),
                ),
                (
                    "subtype",
                    str_in(&["init", "success", "error_max_turns", "can_use_tool"]),
                ),
                ("session_id", str_in(&["s1"])),
                ("message", message),
                ("is_error", or_any(any::<bool>().prop_map(Value::from))),
                ("terminal_reason", str_in(&["completed", "api_error"])),
                (
                    "errors",
                    or_any(prop::collection::vec(claude_like(), 0..3).prop_map(Value::from)),
                ),
                ("total_cost_usd", or_any((0f64..10.0).prop_map(Value::from))),
                ("usage", usage()),
                (
                    "modelUsage",
                    or_any(
                        prop::collection::vec(
                            (".{0,3}", or_any(object(vec![("contextWindow", count())]))),
                            0..3,
                        )
                        .prop_map(|m| Value::Object(m.into_iter().collect())),
                    ),
                ),
                ("request_id", str_in(&["r1"])),
                (
                    "request",
                    or_any(object(vec![
                        ("subtype", str_in(&["can_use_tool", "interrupt"])),
                        ("tool_name", str_in(&["Bash"])),
                        ("input", claude_like().boxed()),
                        ("tool_use_id", str_in(&["toolu_1"])),
                    ])),
                ),
                ("uuid", str_in(&["u"])),
            ])
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

            #[test]
            fn read_as_the_value_parser_reads_them(
                value in claude_line(),
                at in any::<prop::sample::Index>(),
                put in prop::sample::select(vec!["", "{", "}", "[", "]", ",", ":", "\"", "\\", "1", "e", " "]),
                cut in any::<bool>(),
            ) {
                let mut text = value.to_string();
                scan::tests::mangle(&mut text, at, put, cut);
                let want = reference::parse_line_value(&text);
                let json_by_grammar = text.trim_start().starts_with('{')
                    && serde_json::from_str::<serde::de::IgnoredAny>(&text).is_ok();
                if want == ClaudeLine::NotJson && json_by_grammar {
                    prop_assert_ne!(parse_line(&text), ClaudeLine::NotJson, "{}", text);
                } else {
                    prop_assert_eq!(parse_line(&text), want, "{}", text);
                }
            }
        }
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
