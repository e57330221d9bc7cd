//! Claude Code's stream-json modes: one turn (`Turn::run`) per message,
//! and the duplex loop that reads turns and control messages from stdin.

use crate::{emit, emit_raw, hold_forever, now_ns, pgid, recall, remember, Opts, STUBBORN};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::io::BufRead;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::Duration;

mod asking;
mod showcase;

enum Msg {
    User(String),
    Allow(String, Value),
    Deny(String, String),
    Interrupt(String),
    SetMode(String, String),
    Eof,
}

pub fn duplex(o: &Opts, session: &str) {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            let Ok(v) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            let msg = match v["type"].as_str() {
                Some("user") => Msg::User(match &v["message"]["content"] {
                    Value::String(s) => s.clone(),
                    // Content blocks: the text, and what the images were
                    // (as a model would see them).
                    Value::Array(blocks) => blocks
                        .iter()
                        .map(|b| match b["type"].as_str() {
                            Some("text") => b["text"].as_str().unwrap_or("").to_owned(),
                            Some("image") => format!(
                                "[image {} {} bytes]",
                                b["source"]["media_type"].as_str().unwrap_or("?"),
                                b["source"]["data"].as_str().map_or(0, |d| d.len() / 4 * 3)
                            ),
                            _ => String::new(),
                        })
                        .collect::<Vec<_>>()
                        .join(" "),
                    other => other.to_string(),
                }),
                Some("control_request") if v["request"]["subtype"] == "interrupt" => {
                    Msg::Interrupt(v["request_id"].as_str().unwrap_or("").to_owned())
                }
                Some("control_request") if v["request"]["subtype"] == "set_permission_mode" => {
                    Msg::SetMode(
                        v["request_id"].as_str().unwrap_or("").to_owned(),
                        v["request"]["mode"].as_str().unwrap_or("").to_owned(),
                    )
                }
                Some("control_response") => {
                    let r = &v["response"];
                    let id = r["request_id"].as_str().unwrap_or("").to_owned();
                    if r["response"]["behavior"] == "allow" {
                        Msg::Allow(id, r["response"]["updatedInput"].clone())
                    } else {
                        Msg::Deny(
                            id,
                            r["response"]["message"].as_str().unwrap_or("").to_owned(),
                        )
                    }
                }
                _ => continue,
            };
            if tx.send(msg).is_err() {
                return;
            }
        }
        let _ = tx.send(Msg::Eof);
    });
    let mut t = Turn {
        o,
        session,
        inbox: Some(Inbox {
            rx,
            pending: VecDeque::new(),
        }),
        mode: o.mode.clone(),
        cost: 0.0,
    };
    while let Some(msg) = t.next_msg(None) {
        match msg {
            Msg::User(prompt) => {
                let exit = prompt.starts_with("exit-after");
                t.run(&prompt);
                if exit {
                    return;
                }
            }
            Msg::Interrupt(id) => emit(
                &json!({"type":"control_response","response":{"subtype":"success","request_id":id}}),
            ),
            Msg::SetMode(id, mode) => t.set_mode(&id, mode),
            Msg::Eof => return,
            _ => {}
        }
    }
}

pub struct Inbox {
    rx: mpsc::Receiver<Msg>,
    pending: VecDeque<Msg>,
}

pub struct Turn<'a> {
    pub o: &'a Opts,
    pub session: &'a str,
    pub inbox: Option<Inbox>,
    /// The permission mode: from the flag, changed by `set_permission_mode`.
    pub mode: String,
    /// What this process has cost so far: like the real CLI, each result
    /// reports the running total, not the turn's own cost.
    pub cost: f64,
}

/// How a waiting step ended.
enum Waited {
    Elapsed,
    Interrupted(String),
}

impl Turn<'_> {
    fn set_mode(&mut self, id: &str, mode: String) {
        self.mode = mode;
        emit(&json!({"type":"control_response","response":{"subtype":"success","request_id":id}}));
    }

    fn next_msg(&mut self, timeout: Option<Duration>) -> Option<Msg> {
        let inbox = self.inbox.as_mut()?;
        if let Some(m) = inbox.pending.pop_front() {
            return Some(m);
        }
        match timeout {
            None => inbox.rx.recv().ok(),
            Some(t) => inbox.rx.recv_timeout(t).ok(),
        }
    }

    /// Pace the output (the model's speed, not synchronisation); in duplex
    /// mode an interrupt ends the wait. Other messages wait for later.
    fn pause(&mut self, d: Duration) -> Waited {
        let Some(inbox) = self.inbox.as_mut() else {
            // Print mode has no stdin to listen to: this is only the pace of
            // the simulated model, nothing waits on it.
            std::thread::sleep(d);
            return Waited::Elapsed;
        };
        let until = std::time::Instant::now() + d;
        loop {
            let left = until.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Waited::Elapsed;
            }
            match inbox.rx.recv_timeout(left) {
                Ok(Msg::Interrupt(id)) => return Waited::Interrupted(id),
                Ok(Msg::Eof) => std::process::exit(0),
                Ok(Msg::SetMode(id, mode)) => {
                    self.mode = mode;
                    emit(
                        &json!({"type":"control_response","response":{"subtype":"success","request_id":id}}),
                    );
                }
                Ok(other) => inbox.pending.push_back(other),
                Err(mpsc::RecvTimeoutError::Timeout) => return Waited::Elapsed,
                Err(mpsc::RecvTimeoutError::Disconnected) => std::process::exit(0),
            }
        }
    }

    fn hold(&mut self) -> Waited {
        loop {
            if let Waited::Interrupted(id) = self.pause(Duration::from_secs(3600)) {
                return Waited::Interrupted(id);
            }
        }
    }

    fn envelope(&self, mut v: Value) -> Value {
        v["session_id"] = json!(self.session);
        v["uuid"] = json!(uuid::Uuid::new_v4().to_string());
        v
    }

    fn text(&self, text: &str) {
        let msg_id = format!("msg_{}", uuid::Uuid::new_v4().simple());
        if self.o.partial {
            for ev in [
                json!({"type":"message_start","message":{"id":msg_id,"type":"message","role":"assistant","content":[]}}),
                json!({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}),
                json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":text}}),
            ] {
                emit(
                    &self.envelope(
                        json!({"type":"stream_event","event":ev,"parent_tool_use_id":null}),
                    ),
                );
            }
        }
        emit(&self.envelope(json!({"type":"assistant","message":{"id":msg_id,"type":"message","role":"assistant",
            "model":"fake","content":[{"type":"text","text":text}],"stop_reason":null,
            "usage":{"input_tokens":3,"cache_read_input_tokens":12000,"output_tokens":5}},"parent_tool_use_id":null})));
        if self.o.partial {
            emit(&self.envelope(json!({"type":"stream_event","event":{"type":"content_block_stop","index":0},"parent_tool_use_id":null})));
        }
    }

    fn tool_use(&self, id: &str, name: &str, input: &Value) {
        emit(&self.envelope(json!({"type":"assistant","message":{"id":format!("msg_{id}"),"type":"message",
            "role":"assistant","model":"fake","content":[{"type":"tool_use","id":id,"name":name,"input":input}],
            "stop_reason":null},"parent_tool_use_id":null})));
    }

    fn tool_result(&self, id: &str, content: &str, is_error: bool) {
        // Real CLIs omit is_error on success and put it before tool_use_id on errors.
        let block = if is_error {
            json!({"type":"tool_result","content":content,"is_error":true,"tool_use_id":id})
        } else {
            json!({"tool_use_id":id,"type":"tool_result","content":content})
        };
        emit(&self.envelope(json!({"type":"user","message":{"role":"user","content":[block]},"parent_tool_use_id":null})));
    }

    fn result(&mut self, text: &str, subtype: &str) {
        // Each turn costs $0.0125 (exact in binary: tests compare sums).
        self.cost += 0.0125;
        emit(&self.envelope(json!({"type":"result","subtype":subtype,"is_error":subtype != "success",
            "duration_ms":1,"num_turns":1,"result":text,"stop_reason":"end_turn","total_cost_usd":self.cost,
            "usage":{"input_tokens":10,"output_tokens":5},"permission_denials":[],
            "modelUsage":{"fake":{"contextWindow":200000,"costUSD":self.cost}}})));
    }

    pub fn run(&mut self, prompt: &str) {
        emit(&self.envelope(json!({"type":"system","subtype":"init","cwd":std::env::current_dir().unwrap_or_default(),
            "tools":["Bash","Edit","Read","Write","TodoWrite"],"model":"fake","permissionMode":self.mode,
            "slash_commands":["compact","review","init","cost"],"claude_code_version":"fake"})));
        if self.o.duplex || self.o.partial {
            emit(&self.envelope(json!({"type":"system","subtype":"status","status":"requesting"})));
        }
        let earlier = recall(self.session);
        remember(self.session, prompt);
        // Like a model that was waiting for a grant: retry the last request.
        let prompt = match (prompt.starts_with("Permission granted for"), earlier.last()) {
            (true, Some(last)) => last.as_str(),
            _ => prompt,
        };
        let mut words = prompt.split_whitespace();
        let cmd = words.next().unwrap_or("");
        let arg = |w: Option<&str>, d: usize| w.and_then(|x| x.parse::<usize>().ok()).unwrap_or(d);
        let final_text: String = match cmd {
            "recall" => format!("Earlier you said: {}", earlier.join(" | ")),
            "lines" => {
                let n = arg(words.next(), 1);
                let pad = "x".repeat(arg(words.next(), 0));
                let pace = Duration::from_micros(arg(words.next(), 0) as u64);
                // A first-token delay: independent agents are not in step.
                let phase = Duration::from_micros(arg(words.next(), 0) as u64);
                if !phase.is_zero() {
                    self.pause(phase);
                }
                for i in 0..n {
                    if !pace.is_zero() {
                        self.pause(pace);
                    }
                    let mut v = self.envelope(json!({"type":"assistant","message":{"id":format!("msg_l{i}"),
                        "type":"message","role":"assistant","content":[{"type":"text","text":format!("line {i}{pad}")}]},
                        "parent_tool_use_id":null}));
                    v["ts_ns"] = json!(now_ns());
                    emit(&v);
                }
                "lines done".into()
            }
            "slow" => {
                let n = arg(words.next(), 10);
                let ms = arg(words.next(), 50) as u64;
                let mut said = String::new();
                for i in 0..n {
                    if let Waited::Interrupted(id) = self.pause(Duration::from_millis(ms)) {
                        return self.interrupted(&id, &said);
                    }
                    let chunk = format!("chunk {i} ");
                    self.text(&chunk);
                    said.push_str(&chunk);
                }
                said
            }
            "write" => match self.write(words.next().unwrap_or("out.txt")) {
                Some(said) => said,
                None => return, // interrupted: the result is already out
            },
            "edit" => match self.edit(words.next().unwrap_or("src/lib.rs")) {
                Some(said) => said,
                None => return,
            },
            "ask" => match self.question() {
                Some(said) => said,
                None => return,
            },
            "plan" => match self.plan() {
                Some(said) => said,
                None => return,
            },
            "stream" => {
                let n = arg(words.next(), 20);
                let ms = arg(words.next(), 30) as u64;
                match self.stream(n, ms) {
                    Some(said) => said,
                    None => return,
                }
            }
            "showcase" => self.showcase(),
            "count" => self.counting(),
            "mode" => format!("Mode: {}", self.mode),
            "tools" => {
                for i in 0..arg(words.next(), 1) {
                    let id = format!("toolu_{}", uuid::Uuid::new_v4().simple());
                    self.tool_use(
                        &id,
                        "Bash",
                        &json!({"command":format!("echo {i}"),"description":"scripted"}),
                    );
                    self.tool_result(&id, &format!("{i}"), false);
                }
                "tools done".into()
            }
            "crash" => {
                self.text("about to crash");
                eprintln!("fake agent crashing on purpose");
                std::process::exit(3);
            }
            "deaf" => {
                // Ignores interrupts and SIGINT/SIGTERM: only SIGKILL ends it.
                STUBBORN.store(true, Ordering::SeqCst);
                emit(&json!({"type":"fake_pid","pid":std::process::id(),"pgid":pgid()}));
                hold_forever();
            }
            "hold" | "stubborn" | "fork" | "silent" => {
                STUBBORN.store(cmd == "stubborn", Ordering::SeqCst);
                if cmd == "fork" {
                    let exe = std::env::current_exe().unwrap_or_default();
                    if let Ok(child) = std::process::Command::new(exe).arg("--grandchild").spawn() {
                        emit(&json!({"type":"fake_grandchild","pid":child.id()}));
                    }
                }
                if cmd != "silent" {
                    emit(&json!({"type":"fake_pid","pid":std::process::id(),"pgid":pgid()}));
                }
                if let Waited::Interrupted(id) = self.hold() {
                    return self.interrupted(&id, "");
                }
                String::new()
            }
            "bigline" => {
                let n = arg(words.next(), 1 << 20);
                let mut line = Vec::with_capacity(n);
                line.extend_from_slice(b"{\"type\":\"assistant\",\"big\":\"");
                line.resize(n.saturating_sub(2).max(line.len()), b'x');
                line.extend_from_slice(b"\"}");
                emit_raw(&line);
                "after the big line".into()
            }
            "biglines" => {
                // COUNT lines of N bytes each: a turn that reads big files.
                let count = arg(words.next(), 10);
                let n = arg(words.next(), 1 << 20);
                let mut line = Vec::with_capacity(n);
                for i in 0..count {
                    line.clear();
                    line.extend_from_slice(
                        format!("{{\"type\":\"assistant\",\"n\":{i},\"big\":\"").as_bytes(),
                    );
                    line.resize(n.saturating_sub(2).max(line.len()), b'x');
                    line.extend_from_slice(b"\"}");
                    emit_raw(&line);
                }
                "after the big lines".into()
            }
            "garbage" => {
                emit_raw(b"\xff\xfe\x00\x01garbage \xc3\x28 not json");
                "after the garbage".into()
            }
            "argv" => {
                emit(&json!({"type":"fake_argv","argv":self.o.argv}));
                "argv printed".into()
            }
            "quick" => String::new(),
            // What Claude Code prints for a turn without text.
            "/clear" => "(no content)".into(),
            _ => format!("You said: {prompt}"),
        };
        if !final_text.is_empty() {
            self.text(&final_text);
        }
        self.result(&final_text, "success");
    }

    fn interrupted(&mut self, id: &str, said: &str) {
        // As the real 2.1.197 does with an open stream: the ack, what was
        // said so far, the interruption as a user line, an error result.
        emit(&json!({"type":"control_response","response":{"subtype":"success","request_id":id}}));
        if !said.is_empty() {
            self.text(said);
        }
        interrupted_tail(self.session);
    }
}

/// The end of an interrupted turn, as the real CLI prints it.
pub fn interrupted_tail(session: &str) {
    emit(
        &json!({"type":"user","message":{"role":"user","content":[{"type":"text","text":"[Request interrupted by user]"}]},
        "parent_tool_use_id":null,"session_id":session,"uuid":uuid::Uuid::new_v4().to_string()}),
    );
    emit(
        &json!({"type":"result","subtype":"error_during_execution","duration_ms":1,"duration_api_ms":0,"is_error":true,
        "num_turns":1,"stop_reason":null,"session_id":session,"total_cost_usd":0,"errors":[]}),
    );
}
