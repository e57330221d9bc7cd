//! A stand-in for the `claude` CLI (print and duplex stream-json modes) and
//! for plain-text template agents, for tests only. It reproduces the shapes
//! captured in tests/fixtures/claude-code-2.1.197 and misbehaves on request.
//!
//! Claude mode is chosen when `--output-format` is given; duplex when
//! `--input-format stream-json` is given too. Otherwise it is a template
//! agent: `fake-agent text [PROMPT]` (no PROMPT: read it from stdin).
//!
//! The prompt is a script (first word):
//!   (anything else)   reply "You said: PROMPT"
//!   recall            reply with the earlier prompts of this conversation
//!   lines N [PAD] [US] N assistant text lines (padded by PAD bytes, US µs apart), each stamped with `ts_ns`
//!   slow N [MS]       N chunks, MS apart (interruptible in duplex mode)
//!   write PATH        a Write tool_use that needs permission
//!   tools N           N tool_use/tool_result pairs
//!   crash             some output, then exit 3 mid-turn
//!   hold              print pid/pgid, then wait (until interrupted/killed)
//!   stubborn          like hold, but SIGINT and SIGTERM are ignored
//!   fork              start a grandchild that holds, print its pid, hold
//!   bigline N         one line of N bytes, then a normal reply
//!   garbage           binary garbage and invalid UTF-8, then a reply
//!   silent            print nothing at all, wait
//!   deaf              like stubborn, and deaf to interrupts (SIGKILL only)
//!   whoami            (template) print pid and pgid, exit
//!   argv              print the argv it was started with
//!   quick             only the result
//!   exit-after        (duplex) finish the turn, then exit 0
//!
//! Env: FAKE_AGENT_STATE_DIR (conversations, default $HOME/.fake-claude),
//! FAKE_AGENT_SIGNAL_LOG (append "PID SIGNAL" for every SIGINT/SIGTERM).
#![forbid(unsafe_code)]

use serde_json::{json, Value};
use std::collections::VecDeque;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

static STUBBORN: AtomicBool = AtomicBool::new(false);

struct Opts {
    claude: bool,
    duplex: bool,
    partial: bool,
    resume: Option<String>,
    allowed: Vec<String>,
    skip: bool,
    prompt: Option<String>,
    argv: Vec<String>,
}

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("--grandchild") {
        // Keeps the inherited stdout open, like a background job would.
        hold_forever();
    }
    install_signal_log();
    let o = parse(argv);
    if !o.claude {
        return template(&o);
    }
    let session = match &o.resume {
        Some(id) if !conv_path(id).exists() => {
            eprintln!("No conversation found with session ID: {id}");
            if !o.duplex {
                emit(
                    &json!({"type":"result","subtype":"error_during_execution","duration_ms":0,
                    "duration_api_ms":0,"is_error":true,"num_turns":0,"stop_reason":null,"session_id":id,
                    "total_cost_usd":0,"errors":[format!("No conversation found with session ID: {id}")]}),
                );
            }
            std::process::exit(1);
        }
        Some(id) => id.clone(),
        None => uuid::Uuid::new_v4().to_string(),
    };
    if o.duplex {
        duplex(&o, &session);
    } else {
        let prompt = o.prompt.clone().unwrap_or_default();
        let mut t = Turn {
            o: &o,
            session: &session,
            inbox: None,
        };
        t.run(&prompt);
    }
}

fn parse(argv: Vec<String>) -> Opts {
    let mut o = Opts {
        claude: false,
        duplex: false,
        partial: false,
        resume: None,
        allowed: Vec::new(),
        skip: false,
        prompt: None,
        argv: argv.clone(),
    };
    let mut rest = Vec::new();
    let mut it = argv.into_iter().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--" => {
                rest.extend(it.by_ref());
                break;
            }
            "--output-format" => {
                o.claude = true;
                it.next();
            }
            "--input-format" => o.duplex = it.next().as_deref() == Some("stream-json"),
            "--include-partial-messages" => o.partial = true,
            "--dangerously-skip-permissions" => o.skip = true,
            "--resume" | "-r" => o.resume = it.next(),
            "--allowedTools" => o
                .allowed
                .extend(it.next().into_iter().flat_map(split_tools)),
            "--permission-prompt-tool" | "--permission-mode" => {
                it.next();
            }
            s if s.starts_with("--resume=") => o.resume = Some(s["--resume=".len()..].to_owned()),
            s if s.starts_with("--allowedTools=") => o
                .allowed
                .extend(split_tools(s["--allowedTools=".len()..].to_owned())),
            "-p" | "--print" | "--verbose" => {}
            _ => rest.push(a),
        }
    }
    if !o.claude && rest.first().map(String::as_str) == Some("text") {
        rest.remove(0);
    }
    o.prompt = (!rest.is_empty()).then(|| rest.join(" "));
    o
}

fn split_tools(s: String) -> Vec<String> {
    s.split([',', ' '])
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

fn install_signal_log() {
    let Ok(mut signals) = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
    ]) else {
        return;
    };
    std::thread::spawn(move || {
        for sig in signals.forever() {
            let name = if sig == signal_hook::consts::SIGINT {
                "SIGINT"
            } else {
                "SIGTERM"
            };
            if let Ok(path) = std::env::var("FAKE_AGENT_SIGNAL_LOG") {
                if let Ok(mut f) = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                {
                    let _ = writeln!(f, "{} {name}", std::process::id());
                }
            }
            if !STUBBORN.load(Ordering::SeqCst) {
                std::process::exit(128 + sig);
            }
        }
    });
}

fn hold_forever() -> ! {
    loop {
        std::thread::park();
    }
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

fn emit(v: &Value) {
    emit_raw(v.to_string().as_bytes());
}

fn emit_raw(bytes: &[u8]) {
    let mut out = std::io::stdout().lock();
    let ok = out
        .write_all(bytes)
        .and_then(|_| out.write_all(b"\n"))
        .and_then(|_| out.flush());
    if ok.is_err() {
        std::process::exit(0); // stdout closed: nobody listens any more
    }
}

fn state_dir() -> PathBuf {
    std::env::var_os("FAKE_AGENT_STATE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/tmp".into()))
                .join(".fake-claude")
        })
}

fn conv_path(id: &str) -> PathBuf {
    state_dir().join(id)
}

fn remember(session: &str, prompt: &str) {
    let _ = std::fs::create_dir_all(state_dir());
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(conv_path(session))
    {
        let _ = writeln!(f, "{}", prompt.replace('\n', " "));
    }
}

fn recall(session: &str) -> Vec<String> {
    std::fs::read_to_string(conv_path(session))
        .map(|s| s.lines().map(str::to_owned).collect())
        .unwrap_or_default()
}

// ---- template mode -------------------------------------------------------

fn template(o: &Opts) {
    let prompt = match &o.prompt {
        Some(p) => p.clone(),
        None => {
            let mut s = String::new();
            let _ = std::io::Read::read_to_string(&mut std::io::stdin(), &mut s);
            s.trim_end().to_owned()
        }
    };
    let mut words = prompt.split_whitespace();
    let n = |w: Option<&str>| w.and_then(|x| x.parse::<usize>().ok()).unwrap_or(1);
    match words.next().unwrap_or("") {
        "lines" => {
            for i in 0..n(words.next()) {
                emit_raw(format!("line {i} ts_ns={}", now_ns()).as_bytes());
            }
        }
        "hold" | "stubborn" => {
            STUBBORN.store(prompt.starts_with("stubborn"), Ordering::SeqCst);
            emit_raw(format!("pid {} pgid {}", std::process::id(), pgid()).as_bytes());
            hold_forever();
        }
        "argv" => emit_raw(format!("argv {}", json!(o.argv)).as_bytes()),
        "whoami" => emit_raw(format!("pid {} pgid {}", std::process::id(), pgid()).as_bytes()),
        "color" => emit_raw(b"\x1b[31mred\x1b[0m plain"),
        "fail" => {
            eprintln!("template agent failing on purpose");
            std::process::exit(7);
        }
        _ => emit_raw(format!("You said: {prompt}").as_bytes()),
    }
}

fn pgid() -> i32 {
    nix::unistd::getpgrp().as_raw()
}

// ---- claude modes --------------------------------------------------------

enum Msg {
    User(String),
    Allow(String, Value),
    Deny(String, String),
    Interrupt(String),
    Eof,
}

fn duplex(o: &Opts, session: &str) {
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
                    other => other.to_string(),
                }),
                Some("control_request") if v["request"]["subtype"] == "interrupt" => {
                    Msg::Interrupt(v["request_id"].as_str().unwrap_or("").to_owned())
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
            Msg::Eof => return,
            _ => {}
        }
    }
}

struct Inbox {
    rx: mpsc::Receiver<Msg>,
    pending: VecDeque<Msg>,
}

struct Turn<'a> {
    o: &'a Opts,
    session: &'a str,
    inbox: Option<Inbox>,
}

/// How a waiting step ended.
enum Waited {
    Elapsed,
    Interrupted(String),
}

impl Turn<'_> {
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
            "model":"fake","content":[{"type":"text","text":text}],"stop_reason":null},"parent_tool_use_id":null})));
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

    fn result(&self, text: &str, subtype: &str) {
        emit(&self.envelope(json!({"type":"result","subtype":subtype,"is_error":subtype != "success",
            "duration_ms":1,"num_turns":1,"result":text,"stop_reason":"end_turn","total_cost_usd":0.0001,
            "usage":{"input_tokens":10,"output_tokens":5},"permission_denials":[]})));
    }

    fn run(&mut self, prompt: &str) {
        emit(&self.envelope(json!({"type":"system","subtype":"init","cwd":std::env::current_dir().unwrap_or_default(),
            "tools":["Bash","Edit","Read","Write","TodoWrite"],"model":"fake","permissionMode":"default",
            "slash_commands":["compact","review"],"claude_code_version":"fake"})));
        if self.o.duplex {
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
            "garbage" => {
                emit_raw(b"\xff\xfe\x00\x01garbage \xc3\x28 not json");
                "after the garbage".into()
            }
            "argv" => {
                emit(&json!({"type":"fake_argv","argv":self.o.argv}));
                "argv printed".into()
            }
            "quick" => String::new(),
            _ => format!("You said: {prompt}"),
        };
        if !final_text.is_empty() {
            self.text(&final_text);
        }
        self.result(&final_text, "success");
    }

    fn interrupted(&mut self, id: &str, said: &str) {
        // Order seen from the real CLI: the result first, then the ack.
        self.result(said, "success");
        emit(&json!({"type":"control_response","response":{"subtype":"success","request_id":id}}));
    }

    fn write(&mut self, path: &str) -> Option<String> {
        let id = format!("toolu_{}", uuid::Uuid::new_v4().simple());
        let input = json!({"file_path":path,"content":"written by fake\n"});
        self.tool_use(&id, "Write", &input);
        let allowed = if self.o.skip || self.o.allowed.iter().any(|t| t == "Write") {
            Ok(input.clone())
        } else if self.o.duplex {
            let req = uuid::Uuid::new_v4().to_string();
            emit(
                &json!({"type":"control_request","request_id":req,"request":{"subtype":"can_use_tool",
                "tool_name":"Write","display_name":"Write","input":input,"description":path,
                "permission_suggestions":[{"type":"setMode","mode":"acceptEdits","destination":"session"}],
                "tool_use_id":id}}),
            );
            let mut later = Vec::new();
            let answer = loop {
                let fresh = self.inbox.as_ref().and_then(|i| i.rx.recv().ok());
                match fresh {
                    Some(Msg::Allow(r, updated)) if r == req => break Ok(updated),
                    Some(Msg::Deny(r, message)) if r == req => break Err(message),
                    Some(Msg::Interrupt(i)) => {
                        self.interrupted(&i, "");
                        return None;
                    }
                    Some(Msg::Eof) | None => std::process::exit(0),
                    Some(other) => later.push(other),
                }
            };
            if let Some(inbox) = self.inbox.as_mut() {
                inbox.pending.extend(later);
            }
            answer
        } else {
            Err(format!(
                "Claude requested permissions to write to {path}, but you haven't granted it yet."
            ))
        };
        let said = match allowed {
            Ok(input) => {
                let p = input["file_path"].as_str().unwrap_or(path).to_owned();
                match std::fs::write(&p, input["content"].as_str().unwrap_or("")) {
                    Ok(()) => format!("File created successfully at: {p}"),
                    Err(e) => format!("write failed: {e}"),
                }
            }
            Err(message) => {
                self.tool_result(&id, &message, true);
                return Some(format!("Tool said: {message}"));
            }
        };
        self.tool_result(&id, &said, false);
        Some(format!("Tool said: {said}"))
    }
}
