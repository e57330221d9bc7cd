//! A stand-in for the `claude` CLI (print and duplex stream-json modes) and
//! for plain-text template agents, for tests only. It reproduces the shapes
//! captured in tests/fixtures/claude-code-2.1.197 and misbehaves on request.
//!
//! `fake-agent acp [FLAGS]` speaks the Agent Client Protocol (see acp.rs).
//!
//! Claude mode is chosen when `--output-format` is given; duplex when
//! `--input-format stream-json` is given too. Otherwise it is a template
//! agent: `fake-agent text [PROMPT]` (no PROMPT: read it from stdin).
//!
//! The prompt is a script (first word):
//!   (anything else)   reply "You said: PROMPT"
//!   recall            reply with the earlier prompts of this conversation
//!   lines N [PAD] [US] [PHASE] N assistant text lines (padded by PAD bytes, US µs apart,
//!                     the first after PHASE µs), each stamped with `ts_ns`
//!   slow N [MS]       N chunks, MS apart (interruptible in duplex mode)
//!   write PATH        a Write tool_use that needs permission (not in acceptEdits)
//!   edit PATH         an Edit tool_use (old → new) that needs permission
//!   stream N [MS]     one markdown reply as N token deltas, MS apart (interruptible)
//!   showcase          every kind of tool card: thinking, Bash, Read, Edit,
//!                     MultiEdit, TodoWrite, Task with nested calls, Grep, Glob,
//!                     WebFetch, WebSearch, an MCP tool, a failing command
//!   ask               (duplex) AskUserQuestion; replies with the answers
//!   plan              (duplex) ExitPlanMode with a plan; replies with the verdict
//!   mode              reply with the current permission mode
//!   tools N           N tool_use/tool_result pairs
//!   crash             some output, then exit 3 mid-turn
//!   hold              print pid/pgid, then wait (until interrupted/killed)
//!   stubborn          like hold, but SIGINT and SIGTERM are ignored
//!   fork              start a grandchild that holds, print its pid, hold
//!   bigline N         one line of N bytes, then a normal reply
//!   biglines C N      C lines of N bytes each, then a normal reply
//!   garbage           binary garbage and invalid UTF-8, then a reply
//!   silent            print nothing at all, wait
//!   deaf              like stubborn, and deaf to interrupts (SIGKILL only)
//!   whoami            (template) print pid and pgid, exit
//!   argv              print the argv it was started with
//!   quick             only the result
//!   /clear            "(no content)", as Claude Code answers it
//!   exit-after        (duplex) finish the turn, then exit 0
//!
//! Env: FAKE_AGENT_STATE_DIR (conversations, default $HOME/.fake-claude),
//! FAKE_AGENT_SIGNAL_LOG (append "PID SIGNAL" for every SIGINT/SIGTERM).
#![forbid(unsafe_code)]

mod acp;
mod claude;

use claude::Turn;
use serde_json::{json, Value};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

pub(crate) static STUBBORN: AtomicBool = AtomicBool::new(false);
/// Print mode's session id, for the SIGINT handler's last words.
static PRINT_SESSION: std::sync::OnceLock<String> = std::sync::OnceLock::new();

pub(crate) struct Opts {
    pub(crate) claude: bool,
    pub(crate) duplex: bool,
    pub(crate) partial: bool,
    pub(crate) resume: Option<String>,
    pub(crate) allowed: Vec<String>,
    pub(crate) skip: bool,
    /// `--permission-mode` (default: "default").
    pub(crate) mode: String,
    pub(crate) prompt: Option<String>,
    pub(crate) argv: Vec<String>,
}

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("--grandchild") {
        // Keeps the inherited stdout open, like a background job would.
        hold_forever();
    }
    install_signal_log();
    if matches!(argv.get(1).map(String::as_str), Some("acp" | "--acp")) {
        return acp::run(&argv[2..]);
    }
    let o = parse(argv);
    if !o.claude {
        return template(&o);
    }
    let session = match &o.resume {
        Some(id) if !conv_path(id).exists() => {
            eprintln!("No conversation found with session ID: {id}");
            {
                // Both modes print the error result too (seen from 2.1.197).
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
        claude::duplex(&o, &session);
    } else {
        let _ = PRINT_SESSION.set(session.clone());
        let prompt = o.prompt.clone().unwrap_or_default();
        let mut t = Turn {
            o: &o,
            session: &session,
            inbox: None,
            mode: o.mode.clone(),
            cost: 0.0,
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
        mode: "default".into(),
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
            "--permission-prompt-tool" => {
                it.next();
            }
            "--permission-mode" => o.mode = it.next().unwrap_or_default(),
            s if s.starts_with("--permission-mode=") => {
                o.mode = s["--permission-mode=".len()..].to_owned()
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
            if STUBBORN.load(Ordering::SeqCst) {
                continue;
            }
            // Real `claude -p` (2.1.197) shuts down gracefully on SIGINT: it
            // reports the interruption and exits 0.
            match PRINT_SESSION.get() {
                Some(session) if sig == signal_hook::consts::SIGINT => {
                    claude::interrupted_tail(session);
                    std::process::exit(0);
                }
                _ => std::process::exit(128 + sig),
            }
        }
    });
}

pub(crate) fn hold_forever() -> ! {
    loop {
        std::thread::park();
    }
}

pub(crate) fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

pub(crate) fn emit(v: &Value) {
    emit_raw(v.to_string().as_bytes());
}

pub(crate) fn emit_raw(bytes: &[u8]) {
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

pub(crate) fn remember(session: &str, prompt: &str) {
    let _ = std::fs::create_dir_all(state_dir());
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(conv_path(session))
    {
        let _ = writeln!(f, "{}", prompt.replace('\n', " "));
    }
}

pub(crate) fn recall(session: &str) -> Vec<String> {
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

pub(crate) fn pgid() -> i32 {
    nix::unistd::getpgrp().as_raw()
}
