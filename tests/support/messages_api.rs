//! A stand-in for the Anthropic Messages API, on loopback, for driving the
//! real Claude Code CLI in tests. It streams scripted replies the way the
//! real API does (server-sent events: message_start, content_block_start /
//! content_block_delta with text_delta or input_json_delta /
//! content_block_stop, message_delta with stop_reason, message_stop).
//!
//! The reply is chosen from the newest user turn:
//!   a tool_result          → "Tool said: <result text>"
//!   "write file PATH"      → a Write tool_use of PATH
//!   "edit file PATH"       → a Read of PATH, then an Edit ("alpha" → "omega")
//!   "bash CMD…"            → a Bash tool_use running CMD
//!   "slow N"               → N text chunks, 100 ms apart
//!   "Permission granted…"  → the last tool_use of the conversation, again
//!   "turns N"              → N Bash tool_use rounds (echo i), then text
//!   anything else          → "You said: <prompt>"
#![allow(dead_code)]

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

pub struct MessagesApi {
    pub addr: SocketAddr,
    /// Every request body received, in order.
    pub requests: Arc<Mutex<Vec<Value>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for MessagesApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl MessagesApi {
    pub async fn start() -> MessagesApi {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let app = Router::new()
            .route("/v1/messages", post(messages))
            .fallback(|uri: axum::http::Uri| async move {
                (StatusCode::NOT_FOUND, Json(json!({"type":"error","error":{"type":"not_found_error","message":uri.to_string()}})))
            })
            .with_state(requests.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        MessagesApi {
            addr,
            requests,
            task,
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Texts of tool_result blocks the CLI sent back (what the model "saw").
    pub fn tool_results_seen(&self) -> Vec<String> {
        let reqs = self.requests.lock().unwrap();
        reqs.iter()
            .flat_map(|r| r["messages"].as_array().cloned().unwrap_or_default())
            .flat_map(|m| m["content"].as_array().cloned().unwrap_or_default())
            .filter(|b| b["type"] == "tool_result")
            .map(|b| block_text(&b["content"]))
            .collect()
    }

    /// User prompts (plain text) the CLI sent, in request order.
    pub fn prompts_seen(&self) -> Vec<String> {
        let reqs = self.requests.lock().unwrap();
        reqs.iter().filter_map(last_prompt).collect()
    }
}

fn block_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .filter_map(|i| i["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// The newest user text, ignoring the CLI's own <system-reminder> blocks.
fn last_prompt(req: &Value) -> Option<String> {
    let last = req["messages"]
        .as_array()?
        .iter()
        .rev()
        .find(|m| m["role"] == "user")?;
    match &last["content"] {
        Value::String(s) => Some(s.clone()),
        Value::Array(blocks) => blocks
            .iter()
            .rev()
            .filter(|b| b["type"] == "text")
            .filter_map(|b| b["text"].as_str())
            .find(|t| !t.trim_start().starts_with("<system-reminder>"))
            .map(str::to_owned),
        _ => None,
    }
}

enum Block {
    Text(String),
    Tool { name: &'static str, input: Value },
}

struct Reply {
    blocks: Vec<Block>,
    /// Delay between text chunks.
    pace: Option<Duration>,
}

fn script(req: &Value) -> Reply {
    let messages = req["messages"].as_array().cloned().unwrap_or_default();
    let last = messages.last().cloned().unwrap_or(Value::Null);
    if let Some(result) = last["content"]
        .as_array()
        .and_then(|b| b.iter().find(|b| b["type"] == "tool_result"))
    {
        // "edit file": the CLI wants a Read before an Edit, as a model does.
        if let (Some(("Read", input)), Some(p)) =
            (last_tool_use(&messages), exchange_prompt(&messages))
        {
            if p.starts_with("edit file ") {
                return Reply {
                    blocks: vec![Block::Tool {
                        name: "Edit",
                        input: json!({"file_path": input["file_path"], "old_string": "alpha", "new_string": "omega"}),
                    }],
                    pace: None,
                };
            }
        }
        // Multi-round scripts continue while rounds remain.
        if let Some(n) = turns_left(&messages) {
            if n > 0 {
                return bash(&format!("echo round {n}"));
            }
        }
        return text(&format!("Tool said: {}", block_text(&result["content"])));
    }
    let prompt = last_prompt(req).unwrap_or_default();
    // A model told it now has permission retries the tool it was refused.
    if prompt.starts_with("Permission granted for") {
        if let Some((name, input)) = last_tool_use(&messages) {
            return Reply {
                blocks: vec![Block::Tool { name, input }],
                pace: None,
            };
        }
    }
    let words: Vec<&str> = prompt.split_whitespace().collect();
    match words.as_slice() {
        ["write", "file", path, ..] => Reply {
            blocks: vec![Block::Tool {
                name: "Write",
                input: json!({"file_path": path, "content": "written by mock\n"}),
            }],
            pace: None,
        },
        ["edit", "file", path, ..] => Reply {
            blocks: vec![Block::Tool {
                name: "Read",
                input: json!({"file_path": path}),
            }],
            pace: None,
        },
        ["bash", rest @ ..] => bash(&rest.join(" ")),
        ["turns", n, ..] => bash(&format!("echo round {}", n.parse::<usize>().unwrap_or(1))),
        ["slow", n, ..] => Reply {
            blocks: (0..n.parse::<usize>().unwrap_or(10))
                .map(|i| Block::Text(format!("chunk {i} ")))
                .collect(),
            pace: Some(Duration::from_millis(100)),
        },
        _ => text(&format!("You said: {prompt}")),
    }
}

fn last_tool_use(messages: &[Value]) -> Option<(&'static str, Value)> {
    let block = messages
        .iter()
        .rev()
        .filter(|m| m["role"] == "assistant")
        .flat_map(|m| m["content"].as_array().cloned().unwrap_or_default())
        .find(|b| b["type"] == "tool_use")?;
    let name = match block["name"].as_str()? {
        "Read" => "Read",
        "Write" => "Write",
        "Edit" => "Edit",
        "Bash" => "Bash",
        _ => return None,
    };
    Some((name, block["input"].clone()))
}

/// The user's words that started the current exchange.
fn exchange_prompt(messages: &[Value]) -> Option<String> {
    messages
        .iter()
        .rev()
        .filter(|m| m["role"] == "user")
        .find_map(|m| last_prompt(&json!({"messages":[m]})))
}

/// For "turns N": how many tool rounds are still to come.
fn turns_left(messages: &[Value]) -> Option<usize> {
    let start = messages.iter().rposition(|m| {
        m["role"] == "user"
            && last_prompt(&json!({"messages":[m]})).is_some_and(|p| p.starts_with("turns "))
    })?;
    let n: usize = last_prompt(&json!({"messages":[messages[start]]}))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    let rounds_done = messages[start..]
        .iter()
        .filter(|m| m["role"] == "assistant")
        .count();
    Some(n.saturating_sub(rounds_done))
}

fn text(t: &str) -> Reply {
    Reply {
        blocks: vec![Block::Text(t.to_owned())],
        pace: None,
    }
}

fn bash(cmd: &str) -> Reply {
    Reply {
        blocks: vec![Block::Tool {
            name: "Bash",
            input: json!({"command": cmd, "description": "scripted"}),
        }],
        pace: None,
    }
}

async fn messages(
    State(requests): State<Arc<Mutex<Vec<Value>>>>,
    Json(req): Json<Value>,
) -> Response {
    requests.lock().unwrap().push(req.clone());
    let reply = script(&req);
    let id = format!("msg_{}", uuid::Uuid::new_v4().simple());
    let model = req["model"].as_str().unwrap_or("claude-mock").to_owned();
    let is_tool = matches!(reply.blocks.last(), Some(Block::Tool { .. }));
    let stop_reason = if is_tool { "tool_use" } else { "end_turn" };
    if req["stream"] != true {
        let content: Vec<Value> = merged(&reply)
            .into_iter()
            .map(|b| match b {
                Block::Text(t) => json!({"type":"text","text":t}),
                Block::Tool { name, input } => {
                    json!({"type":"tool_use","id":tool_id(),"name":name,"input":input})
                }
            })
            .collect();
        return Json(json!({"id":id,"type":"message","role":"assistant","model":model,"content":content,
            "stop_reason":stop_reason,"stop_sequence":null,"usage":{"input_tokens":10,"output_tokens":5}}))
        .into_response();
    }
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    tokio::spawn(async move {
        let send = |event: &str, data: Value| {
            let tx = tx.clone();
            let frame = format!("event: {event}\ndata: {data}\n\n");
            async move { tx.send(Bytes::from(frame)).await.is_ok() }
        };
        send("message_start", json!({"type":"message_start","message":{"id":id,"type":"message","role":"assistant",
            "model":model,"content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":10,"output_tokens":1}}}))
            .await;
        let mut index = 0;
        let text_chunks: Vec<&Block> = reply.blocks.iter().collect();
        let mut text_open = false;
        for block in text_chunks {
            match block {
                Block::Text(t) => {
                    if !text_open {
                        send(
                            "content_block_start",
                            json!({"type":"content_block_start","index":index,
                            "content_block":{"type":"text","text":""}}),
                        )
                        .await;
                        text_open = true;
                    }
                    if let Some(p) = reply.pace {
                        // The model's pace; a client that hangs up ends it.
                        tokio::time::sleep(p).await;
                    }
                    if !send(
                        "content_block_delta",
                        json!({"type":"content_block_delta","index":index,
                        "delta":{"type":"text_delta","text":t}}),
                    )
                    .await
                    {
                        return;
                    }
                }
                Block::Tool { name, input } => {
                    if text_open {
                        send(
                            "content_block_stop",
                            json!({"type":"content_block_stop","index":index}),
                        )
                        .await;
                        index += 1;
                        text_open = false;
                    }
                    send(
                        "content_block_start",
                        json!({"type":"content_block_start","index":index,
                        "content_block":{"type":"tool_use","id":tool_id(),"name":name,"input":{}}}),
                    )
                    .await;
                    send(
                        "content_block_delta",
                        json!({"type":"content_block_delta","index":index,
                        "delta":{"type":"input_json_delta","partial_json":input.to_string()}}),
                    )
                    .await;
                    send(
                        "content_block_stop",
                        json!({"type":"content_block_stop","index":index}),
                    )
                    .await;
                    index += 1;
                }
            }
        }
        if text_open {
            send(
                "content_block_stop",
                json!({"type":"content_block_stop","index":index}),
            )
            .await;
        }
        send(
            "message_delta",
            json!({"type":"message_delta","delta":{"stop_reason":stop_reason,"stop_sequence":null},
            "usage":{"output_tokens":5}}),
        )
        .await;
        send("message_stop", json!({"type":"message_stop"})).await;
    });
    crate::support::sse_response(rx)
}

fn merged(reply: &Reply) -> Vec<Block> {
    let mut out = Vec::new();
    let mut text = String::new();
    for b in &reply.blocks {
        match b {
            Block::Text(t) => text.push_str(t),
            Block::Tool { name, input } => out.push(Block::Tool {
                name,
                input: input.clone(),
            }),
        }
    }
    if !text.is_empty() {
        out.insert(0, Block::Text(text));
    }
    out
}

fn tool_id() -> String {
    format!("toolu_{}", uuid::Uuid::new_v4().simple())
}
