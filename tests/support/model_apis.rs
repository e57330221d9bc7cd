//! Stand-ins for the model APIs the ACP agents call, on loopback, for
//! driving the real CLIs in tests (what each calls: ../shared/ACP-AGENTS.md):
//!   Gemini     POST /v1beta/models/MODEL:streamGenerateContent?alt=sse
//!   OpenAI     POST /v1/chat/completions (Qwen Code, OpenCode, Copilot)
//!   Responses  POST /v1/responses (codex-acp)
//!
//! One script for all three, chosen from the newest user text:
//!   a tool result last        → "Tool said: RESULT"
//!   "write PATH CONTENT…"     → the agent's own write tool on PATH
//!   "slow N"                  → N text chunks, 100 ms apart
//!   "recall"                  → "Earlier you said: " + the earlier user texts
//!   anything else             → "You said: TEXT"
//!   a request without tools   → "Title" (title generators, side calls)
#![allow(dead_code)]

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

pub struct ModelApis {
    pub addr: SocketAddr,
    /// (path, body) of every request, in order.
    pub requests: Arc<Mutex<Vec<(String, Value)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ModelApis {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type Log = Arc<Mutex<Vec<(String, Value)>>>;

impl ModelApis {
    pub async fn start() -> ModelApis {
        let requests: Log = Arc::default();
        let app = Router::new()
            .route("/v1beta/models/{action}", post(gemini))
            .route("/v1/chat/completions", post(chat_completions))
            .route("/chat/completions", post(chat_completions))
            .route("/v1/responses", post(responses))
            .route("/responses", post(responses))
            .fallback(|State(log): State<Log>, uri: Uri, body: Bytes| async move {
                log.lock().unwrap().push((
                    format!("UNKNOWN {uri}"),
                    Value::String(String::from_utf8_lossy(&body).into_owned()),
                ));
                (
                    StatusCode::NOT_FOUND,
                    Json(json!({"error":{"message":format!("no route {uri}")}})),
                )
            })
            .with_state(requests.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        ModelApis {
            addr,
            requests,
            task,
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Paths requested, for a failure message.
    pub fn paths(&self) -> Vec<String> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .map(|(p, _)| p.clone())
            .collect()
    }
}

// ---- the script -------------------------------------------------------------

/// What a request was, in API-neutral terms.
struct Ask {
    /// Every user text, oldest first.
    user_texts: Vec<String>,
    /// The last item is a tool's result: its text.
    tool_result: Option<String>,
    /// Names of the tools the agent declared.
    tools: Vec<String>,
}

enum Reply {
    Text {
        chunks: Vec<String>,
        pace: Option<Duration>,
    },
    Tool {
        name: String,
        args: Value,
    },
}

const SCRIPTS: &[&str] = &["write ", "slow ", "recall"];

/// The user's words of a message's texts: the part that is a script, else
/// the last (agents add context parts of their own around the prompt).
fn prompt_of(texts: &[String]) -> Option<String> {
    texts
        .iter()
        .rev()
        .map(|t| without_context_tags(t))
        .find(|t| SCRIPTS.iter().any(|s| t.starts_with(s)))
        .or_else(|| {
            texts
                .iter()
                .rev()
                .map(|t| without_context_tags(t))
                .find(|t| !t.is_empty())
        })
        .map(str::to_owned)
}

/// Copilot puts `<current_datetime>…</current_datetime>` before the
/// user's words: leading tagged blocks are context, not the prompt.
fn without_context_tags(t: &str) -> &str {
    let mut rest = t.trim();
    while let Some(tag) = rest
        .strip_prefix('<')
        .and_then(|r| r.split_once('>'))
        .map(|(name, _)| name)
    {
        match rest.find(&format!("</{tag}>")) {
            Some(end) => rest = rest[end + tag.len() + 3..].trim_start(),
            None => break,
        }
    }
    rest
}

fn script(ask: &Ask) -> Reply {
    let text = |t: String| Reply::Text {
        chunks: vec![t],
        pace: None,
    };
    if ask.tools.is_empty() {
        return text("Title".into());
    }
    if let Some(result) = &ask.tool_result {
        let shown: String = result.chars().take(300).collect();
        return text(format!("Tool said: {shown}"));
    }
    let prompt = ask.user_texts.last().cloned().unwrap_or_default();
    let mut words = prompt.split_whitespace();
    match words.next().unwrap_or("") {
        "write" => {
            let path = words.next().unwrap_or("out.txt").to_owned();
            let content = words.collect::<Vec<_>>().join(" ");
            write_call(&ask.tools, &path, &content)
                .unwrap_or_else(|| text(format!("no write tool among {:?}", ask.tools)))
        }
        "slow" => {
            let n: usize = words.next().and_then(|w| w.parse().ok()).unwrap_or(50);
            Reply::Text {
                chunks: (0..n).map(|i| format!("chunk {i} ")).collect(),
                pace: Some(Duration::from_millis(100)),
            }
        }
        "recall" => {
            let earlier = &ask.user_texts[..ask.user_texts.len().saturating_sub(1)];
            text(format!("Earlier you said: {}", earlier.join(" | ")))
        }
        _ => text(format!("You said: {prompt}")),
    }
}

/// The agent's own file-writing tool, with its argument names.
fn write_call(tools: &[String], path: &str, content: &str) -> Option<Reply> {
    let has = |n: &str| tools.iter().any(|t| t == n);
    let (name, args) = if has("write_file") {
        ("write_file", json!({"file_path": path, "content": content}))
    } else if has("write") {
        ("write", json!({"filePath": path, "content": content}))
    } else if has("create") {
        ("create", json!({"path": path, "file_text": content}))
    } else if has("apply_patch") {
        let patch = format!("*** Begin Patch\n*** Add File: {path}\n+{content}\n*** End Patch\n");
        ("apply_patch", Value::String(patch))
    } else {
        return None;
    };
    Some(Reply::Tool {
        name: name.into(),
        args,
    })
}

/// Streams `frames` as server-sent events, pausing `pace` before each
/// text frame; a client that hangs up ends it.
fn sse(frames: Vec<(Option<Duration>, String)>) -> Response {
    let (tx, rx) = mpsc::channel::<Bytes>(16);
    tokio::spawn(async move {
        for (pause, frame) in frames {
            if let Some(p) = pause {
                // The model's pace, simulated.
                tokio::time::sleep(p).await;
            }
            if tx.send(Bytes::from(frame)).await.is_err() {
                return;
            }
        }
    });
    crate::support::sse_response(rx)
}

fn texts(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .filter_map(|b| b["text"].as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

// ---- Gemini -----------------------------------------------------------------

async fn gemini(
    State(log): State<Log>,
    Path(action): Path<String>,
    Json(req): Json<Value>,
) -> Response {
    log.lock()
        .unwrap()
        .push((format!("/v1beta/models/{action}"), req.clone()));
    // Code Assist wraps the request; the public API does not.
    let body = if req.get("request").is_some() {
        &req["request"]
    } else {
        &req
    };
    let contents = body["contents"].as_array().cloned().unwrap_or_default();
    let parts_text = |c: &Value| -> Vec<String> {
        c["parts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["text"].as_str().map(str::to_owned))
            .collect()
    };
    let user_texts = contents
        .iter()
        .filter(|c| c["role"] == "user")
        .filter_map(|c| prompt_of(&parts_text(c)))
        .collect();
    let tool_result = contents.last().and_then(|c| {
        c["parts"]
            .as_array()?
            .iter()
            .find_map(|p| p.get("functionResponse"))
            .map(|r| r["response"].to_string())
    });
    let tools = body["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|t| {
            t["functionDeclarations"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|f| f["name"].as_str().map(str::to_owned))
        .collect();
    let reply = script(&Ask {
        user_texts,
        tool_result,
        tools,
    });
    let usage = json!({"promptTokenCount":10,"candidatesTokenCount":5,"totalTokenCount":15});
    let chunk = |parts: Value, finish: bool| {
        let mut cand = json!({"content":{"role":"model","parts":parts},"index":0});
        if finish {
            cand["finishReason"] = json!("STOP");
        }
        json!({"candidates":[cand],"usageMetadata":usage,"modelVersion":"gemini-2.5-pro"})
    };
    let mut frames: Vec<(Option<Duration>, Value)> = Vec::new();
    match reply {
        Reply::Text { chunks, pace } => {
            let n = chunks.len();
            for (i, t) in chunks.into_iter().enumerate() {
                frames.push((pace, chunk(json!([{"text": t}]), i + 1 == n)));
            }
        }
        Reply::Tool { name, args } => {
            frames.push((
                None,
                chunk(json!([{"functionCall":{"name":name,"args":args}}]), true),
            ));
        }
    }
    if !action.contains("stream") {
        // One answer: the chunks merged.
        let text: String = frames
            .iter()
            .filter_map(|(_, f)| f["candidates"][0]["content"]["parts"][0]["text"].as_str())
            .collect();
        let last = frames.pop().map(|(_, f)| f).unwrap_or_default();
        if text.is_empty() {
            return Json(last).into_response();
        }
        return Json(chunk(json!([{"text": text}]), true)).into_response();
    }
    sse(frames
        .into_iter()
        .map(|(p, f)| (p, format!("data: {f}\n\n")))
        .collect())
}

// ---- OpenAI chat completions ------------------------------------------------

async fn chat_completions(State(log): State<Log>, Json(req): Json<Value>) -> Response {
    log.lock()
        .unwrap()
        .push(("/v1/chat/completions".into(), req.clone()));
    let messages = req["messages"].as_array().cloned().unwrap_or_default();
    let user_texts = messages
        .iter()
        .filter(|m| m["role"] == "user")
        .filter_map(|m| prompt_of(&texts(&m["content"])))
        .collect();
    let tool_result = messages
        .last()
        .filter(|m| m["role"] == "tool")
        .map(|m| texts(&m["content"]).join(""));
    let tools = req["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["function"]["name"].as_str().map(str::to_owned))
        .collect();
    let reply = script(&Ask {
        user_texts,
        tool_result,
        tools,
    });
    let model = req["model"].as_str().unwrap_or("m").to_owned();
    let id = format!("chatcmpl-{}", uuid::Uuid::new_v4().simple());
    let usage = json!({"prompt_tokens":10,"completion_tokens":5,"total_tokens":15});
    let (finish, deltas, pace): (&str, Vec<Value>, Option<Duration>) = match reply {
        Reply::Text { chunks, pace } => (
            "stop",
            chunks.into_iter().map(|t| json!({"content": t})).collect(),
            pace,
        ),
        Reply::Tool { name, args } => (
            "tool_calls",
            vec![
                json!({"tool_calls":[{"index":0,"id":format!("call_{}", uuid::Uuid::new_v4().simple()),
                "type":"function","function":{"name":name,"arguments":args.to_string()}}]}),
            ],
            None,
        ),
    };
    if req["stream"] != true {
        let mut message = json!({"role":"assistant","content":null});
        for d in &deltas {
            if let Some(t) = d["content"].as_str() {
                let before = message["content"].as_str().unwrap_or("").to_owned();
                message["content"] = json!(before + t);
            }
            if d.get("tool_calls").is_some() {
                message["tool_calls"] = d["tool_calls"].clone();
            }
        }
        return Json(
            json!({"id":id,"object":"chat.completion","created":0,"model":model,
            "choices":[{"index":0,"message":message,"finish_reason":finish}],"usage":usage}),
        )
        .into_response();
    }
    let frame = |delta: Value, finish: Option<&str>, usage: Option<&Value>| {
        let mut v = json!({"id":id,"object":"chat.completion.chunk","created":0,"model":model,
            "choices":[{"index":0,"delta":delta,"finish_reason":finish}]});
        if let Some(u) = usage {
            v["usage"] = u.clone();
        }
        format!("data: {v}\n\n")
    };
    let mut frames = vec![(
        None,
        frame(json!({"role":"assistant","content":""}), None, None),
    )];
    for d in deltas {
        frames.push((pace, frame(d, None, None)));
    }
    frames.push((None, frame(json!({}), Some(finish), Some(&usage))));
    frames.push((None, "data: [DONE]\n\n".to_owned()));
    sse(frames)
}

// ---- OpenAI Responses (codex) -----------------------------------------------

async fn responses(State(log): State<Log>, Json(req): Json<Value>) -> Response {
    log.lock()
        .unwrap()
        .push(("/v1/responses".into(), req.clone()));
    let input = req["input"].as_array().cloned().unwrap_or_default();
    let user_texts = input
        .iter()
        .filter(|i| i["role"] == "user")
        .filter_map(|i| prompt_of(&texts(&i["content"])))
        .collect();
    let tool_result = input
        .last()
        .filter(|i| {
            matches!(
                i["type"].as_str(),
                Some("function_call_output" | "custom_tool_call_output")
            )
        })
        .map(|i| match &i["output"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        });
    let tools = req["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["name"].as_str().map(str::to_owned))
        .collect();
    let reply = script(&Ask {
        user_texts,
        tool_result,
        tools,
    });
    let rid = format!("resp_{}", uuid::Uuid::new_v4().simple());
    let event = |name: &str, data: Value| format!("event: {name}\ndata: {data}\n\n");
    let mut frames = vec![(
        None,
        event(
            "response.created",
            json!({"type":"response.created","response":{"id":rid,"object":"response","status":"in_progress","output":[]}}),
        ),
    )];
    match reply {
        Reply::Text { chunks, pace } => {
            let mid = format!("msg_{}", uuid::Uuid::new_v4().simple());
            frames.push((
                None,
                event(
                    "response.output_item.added",
                    json!({"type":"response.output_item.added","output_index":0,
                        "item":{"type":"message","id":mid,"role":"assistant","status":"in_progress","content":[]}}),
                ),
            ));
            let full: String = chunks.concat();
            for t in chunks {
                frames.push((
                    pace,
                    event(
                        "response.output_text.delta",
                        json!({"type":"response.output_text.delta","item_id":mid,"output_index":0,"content_index":0,"delta":t}),
                    ),
                ));
            }
            frames.push((
                None,
                event(
                    "response.output_item.done",
                    json!({"type":"response.output_item.done","output_index":0,
                        "item":{"type":"message","id":mid,"role":"assistant","status":"completed",
                            "content":[{"type":"output_text","text":full,"annotations":[]}]}}),
                ),
            ));
        }
        Reply::Tool { name, args } => {
            let call_id = format!("call_{}", uuid::Uuid::new_v4().simple());
            let item = match args {
                Value::String(patch) => {
                    json!({"type":"custom_tool_call","id":format!("ctc_{}", uuid::Uuid::new_v4().simple()),
                    "status":"completed","call_id":call_id,"name":name,"input":patch})
                }
                other => {
                    json!({"type":"function_call","id":format!("fc_{}", uuid::Uuid::new_v4().simple()),
                    "status":"completed","call_id":call_id,"name":name,"arguments":other.to_string()})
                }
            };
            frames.push((
                None,
                event(
                    "response.output_item.added",
                    json!({"type":"response.output_item.added","output_index":0,"item":item}),
                ),
            ));
            frames.push((
                None,
                event(
                    "response.output_item.done",
                    json!({"type":"response.output_item.done","output_index":0,"item":item}),
                ),
            ));
        }
    }
    frames.push((
        None,
        event(
            "response.completed",
            json!({"type":"response.completed","response":{"id":rid,"object":"response","status":"completed",
                "usage":{"input_tokens":10,"input_tokens_details":{"cached_tokens":0},"output_tokens":5,
                    "output_tokens_details":{"reasoning_tokens":0},"total_tokens":15}}}),
        ),
    ));
    sse(frames)
}
