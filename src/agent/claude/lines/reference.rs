//! The first parser of Claude lines, through a whole `serde_json::Value`:
//! kept as the reference the borrowed parser must agree with.

use super::*;

pub fn parse_line_value(line: &str) -> ClaudeLine {
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
                        text: result_text_value(b.get("content")),
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
            // A usage of another shape than an object is none.
            let usage = obj.get("usage").filter(|u| u.is_object());
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

fn result_text_value(content: Option<&Value>) -> String {
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
