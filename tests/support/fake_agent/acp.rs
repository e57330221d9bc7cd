//! `fake-agent acp [FLAGS]`: an Agent Client Protocol agent (JSON-RPC 2.0,
//! one object per line) with the behaviours ACP-AGENTS.md records of real
//! agents, scripted by the prompt's first word:
//!   (anything else)  "You said: PROMPT" in two chunks, then end_turn
//!   recall           the earlier prompts of this ACP session (survives load)
//!   write PATH TEXT  asks permission (allow_once/allow_always/reject_once,
//!                    ids `yes`/`always`/`no`), then writes PATH through the
//!                    client's fs/write_text_file (or itself, if not offered);
//!                    a rejection marks the tool call failed and ends the turn
//!   slow N MS        N chunks MS apart; session/cancel ends it `cancelled`
//!   lines N [PAD] [US] [PHASE]  N chunks (padded by PAD bytes, US µs apart,
//!                    the first after PHASE µs), each with `_meta.ts_ns`
//!   showcase         a thought, a plan, an execute tool call with output,
//!                    commands, a mode change and usage
//!   crash            a chunk, then exit 3 mid-turn
//!   garbage          a line that is not JSON, then a normal reply
//!   unknown          calls a client method nobody serves, reports the error
//!   fail             answers the prompt with a JSON-RPC error
//!   deaf             ignores session/cancel (and SIGINT/SIGTERM)
//! Flags: --hang-init (never answers initialize), --no-load (no loadSession),
//! --init-error (initialize fails), --load-error (session/load fails),
//! --images (takes image content: each image is named in the reply).
//! Sessions are remembered in FAKE_AGENT_STATE_DIR as `acp-ID`.

use crate::{emit, emit_raw, hold_forever, recall, remember, STUBBORN};
use serde_json::{json, Value};
use std::io::BufRead;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

struct Agent {
    inbox: Receiver<Value>,
    next_id: u64,
    can_write: bool,
    flags: Vec<String>,
}

pub(crate) fn run(flags: &[String]) {
    let (tx, inbox) = mpsc::sync_channel(64);
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            match serde_json::from_str::<Value>(&line) {
                Ok(v) => {
                    if tx.send(v).is_err() {
                        break;
                    }
                }
                Err(_) => eprintln!("fake acp agent: not JSON: {line}"),
            }
        }
        std::process::exit(0); // stdin closed: the client is gone
    });
    let mut a = Agent {
        inbox,
        next_id: 0,
        can_write: false,
        flags: flags.to_vec(),
    };
    a.serve();
}

fn respond(id: &Value, result: Value) {
    emit(&json!({"jsonrpc":"2.0","id":id,"result":result}));
}

fn respond_error(id: &Value, code: i64, message: &str) {
    emit(&json!({"jsonrpc":"2.0","id":id,"error":{"code":code,"message":message}}));
}

fn update(session: &str, update: Value) {
    emit(&json!({"jsonrpc":"2.0","method":"session/update",
        "params":{"sessionId":session,"update":update}}));
}

fn chunk(session: &str, text: &str) {
    update(
        session,
        json!({"sessionUpdate":"agent_message_chunk","content":{"type":"text","text":text}}),
    );
}

fn conv(session: &str) -> String {
    format!("acp-{session}")
}

impl Agent {
    fn flag(&self, f: &str) -> bool {
        self.flags.iter().any(|x| x == f)
    }

    fn serve(&mut self) {
        while let Ok(msg) = self.inbox.recv() {
            let id = msg.get("id").cloned().unwrap_or(Value::Null);
            let params = msg.get("params").cloned().unwrap_or(Value::Null);
            match msg["method"].as_str() {
                Some("initialize") => {
                    if self.flag("--hang-init") {
                        continue;
                    }
                    if self.flag("--init-error") {
                        respond_error(&id, -32000, "Authentication required");
                        continue;
                    }
                    self.can_write = params["clientCapabilities"]["fs"]["writeTextFile"] == true;
                    respond(
                        &id,
                        json!({"protocolVersion":1,"agentInfo":{"name":"fake-acp","version":"1"},
                        "agentCapabilities":{"loadSession":!self.flag("--no-load"),
                            "promptCapabilities":{"image":self.flag("--images")}},"authMethods":[]}),
                    );
                }
                Some("session/new") => {
                    let session = format!("fake-{}", uuid::Uuid::new_v4());
                    remember(&conv(&session), "(new)");
                    respond(&id, json!({"sessionId":session}));
                }
                Some("session/load") => {
                    let session = params["sessionId"].as_str().unwrap_or_default().to_owned();
                    let earlier = recall(&conv(&session));
                    if self.flag("--load-error") || earlier.is_empty() {
                        respond_error(&id, -32603, "Invalid session identifier");
                        continue;
                    }
                    // Real agents replay the conversation before answering.
                    for p in earlier.iter().filter(|p| *p != "(new)") {
                        update(
                            &session,
                            json!({"sessionUpdate":"user_message_chunk","content":{"type":"text","text":p}}),
                        );
                        chunk(&session, &format!("You said: {p}"));
                    }
                    respond(&id, json!({}));
                }
                Some("session/prompt") => self.prompt(&id, &params),
                Some("session/cancel") | None => {} // nothing in flight
                Some(other) => respond_error(&id, -32601, &format!("unknown method {other}")),
            }
        }
    }

    /// Waits for the client's answer to our request `id`; a
    /// `session/cancel` meanwhile is returned as None.
    fn await_answer(&mut self, id: u64) -> Option<Value> {
        while let Ok(msg) = self.inbox.recv() {
            if msg["method"] == "session/cancel" {
                return None;
            }
            if msg.get("method").is_none() && msg["id"] == id {
                return Some(msg);
            }
        }
        None
    }

    fn request(&mut self, method: &str, params: Value) -> u64 {
        self.next_id += 1;
        emit(&json!({"jsonrpc":"2.0","id":self.next_id,"method":method,"params":params}));
        self.next_id
    }

    /// Sleeps `d` unless a `session/cancel` arrives first (true).
    fn cancelled_within(&mut self, d: Duration) -> bool {
        let until = Instant::now() + d;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            match self.inbox.recv_timeout(left) {
                Ok(m) if m["method"] == "session/cancel" => return true,
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => return false,
                Err(RecvTimeoutError::Disconnected) => return false,
            }
        }
    }

    fn prompt(&mut self, id: &Value, params: &Value) {
        let session = params["sessionId"].as_str().unwrap_or_default().to_owned();
        let text: String = params["prompt"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|b| b["text"].as_str())
            .collect();
        let earlier = recall(&conv(&session));
        remember(&conv(&session), &text);
        let mut words = text.split_whitespace();
        let stop = |reason: &str| respond(id, json!({"stopReason":reason}));
        match words.next().unwrap_or("") {
            "recall" => {
                let said: Vec<&String> = earlier.iter().filter(|p| *p != "(new)").collect();
                chunk(&session, &format!("Earlier: {said:?}"));
                stop("end_turn");
            }
            "write" => {
                let path = words.next().unwrap_or("out.txt").to_owned();
                let content: Vec<&str> = words.collect();
                self.write(id, &session, &path, &content.join(" "));
            }
            "slow" => {
                let n: usize = words.next().and_then(|w| w.parse().ok()).unwrap_or(10);
                let ms: u64 = words.next().and_then(|w| w.parse().ok()).unwrap_or(100);
                for i in 0..n {
                    chunk(&session, &format!("chunk {i} "));
                    if self.cancelled_within(Duration::from_millis(ms)) {
                        return stop("cancelled");
                    }
                }
                stop("end_turn");
            }
            "lines" => {
                let mut num = || {
                    words
                        .next()
                        .and_then(|w| w.parse::<u64>().ok())
                        .unwrap_or(0)
                };
                let (n, pad, pace, phase) = (num().max(1), num(), num(), num());
                let pad = "x".repeat(pad as usize);
                std::thread::sleep(Duration::from_micros(phase));
                for i in 0..n {
                    if pace > 0 {
                        std::thread::sleep(Duration::from_micros(pace));
                    }
                    update(
                        &session,
                        json!({"sessionUpdate":"agent_message_chunk",
                            "content":{"type":"text","text":format!("line {i}{pad}")},
                            "_meta":{"ts_ns":crate::now_ns()}}),
                    );
                }
                stop("end_turn");
            }
            "deaf" => {
                STUBBORN.store(true, Ordering::SeqCst);
                chunk(&session, "not listening");
                hold_forever();
            }
            "showcase" => {
                update(
                    &session,
                    json!({"sessionUpdate":"agent_thought_chunk","content":{"type":"text","text":"Thinking about it"}}),
                );
                update(
                    &session,
                    json!({"sessionUpdate":"plan","entries":[
                        {"content":"Read the code","priority":"high","status":"completed"},
                        {"content":"Run the tests","priority":"medium","status":"in_progress"},
                        {"content":"Write the fix","priority":"low","status":"pending"}]}),
                );
                update(
                    &session,
                    json!({"sessionUpdate":"tool_call","toolCallId":"run-1","title":"cargo test","kind":"execute",
                        "status":"in_progress","rawInput":{"command":"cargo test"}}),
                );
                update(
                    &session,
                    json!({"sessionUpdate":"tool_call_update","toolCallId":"run-1","status":"completed",
                        "content":[{"type":"content","content":{"type":"text","text":"test result: ok. 3 passed"}}]}),
                );
                update(
                    &session,
                    json!({"sessionUpdate":"available_commands_update","availableCommands":[
                        {"name":"compress","description":"Compress the context"},
                        {"name":"memory","description":"Show memory"}]}),
                );
                update(
                    &session,
                    json!({"sessionUpdate":"current_mode_update","currentModeId":"plan"}),
                );
                update(
                    &session,
                    json!({"sessionUpdate":"usage_update","used":1200,"size":200000,"cost":{"amount":0.01,"currency":"USD"}}),
                );
                chunk(&session, "**Done.** All `3` tests pass.");
                stop("end_turn");
            }
            "crash" => {
                chunk(&session, "about to crash");
                eprintln!("fake acp agent: crashing on purpose");
                std::process::exit(3);
            }
            "garbage" => {
                emit_raw(b"this is not JSON-RPC");
                chunk(&session, "after garbage");
                stop("end_turn");
            }
            "unknown" => {
                let rid = self.request("x/unknown", json!({}));
                let answer = self.await_answer(rid);
                let code = answer
                    .as_ref()
                    .and_then(|a| a["error"]["code"].as_i64())
                    .unwrap_or_default();
                chunk(&session, &format!("client said {code}"));
                stop("end_turn");
            }
            "fail" => respond_error(id, -32603, "model overloaded"),
            _ => {
                chunk(&session, "You said: ");
                chunk(&session, &text);
                for b in params["prompt"].as_array().into_iter().flatten() {
                    if b["type"] == "image" {
                        chunk(
                            &session,
                            &format!(" [image {}]", b["mimeType"].as_str().unwrap_or("?")),
                        );
                    }
                }
                stop("end_turn");
            }
        }
    }

    fn write(&mut self, id: &Value, session: &str, path: &str, content: &str) {
        let call = json!({"toolCallId":"w-1","title":format!("Write {path}"),"kind":"edit",
            "status":"pending","rawInput":{"path":path,"content":content},
            "content":[{"type":"diff","path":path,"oldText":null,"newText":content}],
            "locations":[{"path":path}]});
        let mut tc = call.clone();
        tc["sessionUpdate"] = json!("tool_call");
        update(session, tc);
        let rid = self.request(
            "session/request_permission",
            json!({"sessionId":session,"toolCall":call,"options":[
                {"optionId":"always","name":"Always allow","kind":"allow_always"},
                {"optionId":"yes","name":"Allow","kind":"allow_once"},
                {"optionId":"no","name":"Reject","kind":"reject_once"}]}),
        );
        let Some(answer) = self.await_answer(rid) else {
            return respond(id, json!({"stopReason":"cancelled"}));
        };
        let outcome = &answer["result"]["outcome"];
        if outcome["outcome"] == "cancelled" {
            return respond(id, json!({"stopReason":"cancelled"}));
        }
        if outcome["optionId"] == "no" {
            update(
                session,
                json!({"sessionUpdate":"tool_call_update","toolCallId":"w-1","status":"failed"}),
            );
            chunk(session, "The write was rejected.");
            return respond(id, json!({"stopReason":"end_turn"}));
        }
        let cwd = std::env::current_dir().unwrap_or_default();
        let abs = cwd.join(path);
        let result = if self.can_write {
            let rid = self.request(
                "fs/write_text_file",
                json!({"sessionId":session,"path":abs,"content":content}),
            );
            match self.await_answer(rid) {
                Some(a) if a.get("error").is_none() => "written".to_owned(),
                Some(a) => format!("refused: {}", a["error"]["message"]),
                None => return respond(id, json!({"stopReason":"cancelled"})),
            }
        } else {
            match std::fs::write(&abs, content) {
                Ok(()) => "written".to_owned(),
                Err(e) => format!("refused: {e}"),
            }
        };
        update(
            session,
            json!({"sessionUpdate":"tool_call_update","toolCallId":"w-1","status":"completed"}),
        );
        chunk(session, &format!("{path}: {result}"));
        respond(id, json!({"stopReason":"end_turn"}));
    }
}
