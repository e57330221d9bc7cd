//! Helpers for integration tests: a real swe-swe server on an ephemeral port
//! with the fake agent, a WebSocket client, and /proc inspection.
#![allow(dead_code)]

mod http;
pub mod in_process;
pub mod netns;
mod procs;
pub use http::*;
#[allow(unused_imports)] // not every test file reads /proc
pub use procs::*;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const WAIT: Duration = Duration::from_secs(30);

pub fn fake_agent() -> &'static str {
    env!("CARGO_BIN_EXE_fake-agent")
}

pub struct Server {
    builder: ServerBuilder,
    /// Every line the server wrote to stderr (its log).
    pub log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    /// The access token printed at start (off-loopback binds only).
    pub token: Option<String>,
    pub child: Child,
    /// Set when the server's log shows a panic (of any task).
    pub panicked: std::sync::Arc<std::sync::atomic::AtomicBool>,
    pub addr: SocketAddr,
    pub prefix: String,
    pub workdir: tempfile::TempDir,
    pub state: tempfile::TempDir,
}

#[derive(Clone)]
pub struct ServerBuilder {
    args: Vec<String>,
    env: Vec<(String, String)>,
}

impl ServerBuilder {
    pub fn arg(mut self, a: impl Into<String>) -> Self {
        self.args.push(a.into());
        self
    }
    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, a: I) -> Self {
        self.args.extend(a.into_iter().map(Into::into));
        self
    }
    pub fn env(mut self, k: &str, v: impl Into<String>) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }

    pub async fn start(self) -> Server {
        let workdir = tempfile::tempdir().unwrap();
        let state = tempfile::tempdir().unwrap();
        Server::start_in(self, workdir, state).await
    }
}

impl Server {
    /// Claude mode (duplex unless the args say otherwise) with the fake agent.
    pub fn claude() -> ServerBuilder {
        ServerBuilder {
            args: vec![
                "--agent".into(),
                "claude".into(),
                "--claude-bin".into(),
                fake_agent().into(),
            ],
            env: Vec::new(),
        }
    }

    /// Template mode: `fake-agent text ?`.
    pub fn template() -> ServerBuilder {
        ServerBuilder {
            args: vec![
                "--agent".into(),
                "template".into(),
                "--agent-cli-1st".into(),
                format!("{} text ?", fake_agent()),
            ],
            env: Vec::new(),
        }
    }

    /// An ACP agent: `fake-agent acp FLAGS…` through `--agent acp`.
    pub fn acp(flags: &[&str]) -> ServerBuilder {
        let mut command = vec![fake_agent().to_owned(), "acp".to_owned()];
        command.extend(flags.iter().map(|f| f.to_string()));
        ServerBuilder {
            args: vec![
                "--agent".into(),
                "acp".into(),
                "--acp-cmd".into(),
                command.join(" "),
            ],
            env: Vec::new(),
        }
    }

    pub fn plain() -> ServerBuilder {
        ServerBuilder {
            args: Vec::new(),
            env: Vec::new(),
        }
    }

    pub async fn start_in(
        b: ServerBuilder,
        workdir: tempfile::TempDir,
        state: tempfile::TempDir,
    ) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_swe-swe"));
        // A fixed --port in the builder survives restarts (the page test
        // reconnects to the same address); otherwise any free port.
        if !b.args.iter().any(|a| a == "--port") {
            cmd.args(["--port", "0"]);
        }
        cmd.arg("--workdir")
            .arg(workdir.path())
            .args(&b.args)
            .args(if b.args.iter().any(|a| a == "--data-dir") {
                Vec::new()
            } else {
                vec![
                    "--data-dir".into(),
                    state.path().join("data").into_os_string(),
                ]
            })
            .env("HOME", state.path())
            .env(
                "RUST_LOG",
                std::env::var("TEST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .env("FAKE_AGENT_STATE_DIR", state.path())
            .envs(b.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("start swe-swe");
        let panicked = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stderr = child.stderr.take().unwrap();
        let flag = panicked.clone();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log_lines = log.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(l)) = lines.next_line().await {
                if l.contains("panicked") {
                    flag.store(true, std::sync::atomic::Ordering::SeqCst);
                }
                log_lines.lock().unwrap().push(l.clone());
                eprintln!("[server] {l}");
            }
        });
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(WAIT, lines.next_line())
            .await
            .expect("server prints its address")
            .unwrap()
            .expect("server printed nothing");
        let url = line
            .strip_prefix("swe-swe listening on http://")
            .expect(&line);
        // Off loopback, the next line carries the access token.
        let token = if b.args.iter().any(|a| a == "--host") {
            let next = tokio::time::timeout(WAIT, lines.next_line())
                .await
                .ok()
                .and_then(|l| l.ok().flatten());
            next.and_then(|l| l.split_once("?token=").map(|(_, t)| t.to_owned()))
        } else {
            None
        };
        let (host_port, prefix) = url.split_once('/').unwrap();
        Server {
            log,
            token,
            builder: b,
            child,
            panicked,
            addr: host_port.parse().unwrap(),
            prefix: format!("/{}", prefix.trim_end_matches('/'))
                .trim_end_matches('/')
                .to_owned(),
            workdir,
            state,
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id().unwrap() as i32
    }

    pub async fn http(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        http(self.addr, method, &format!("{}{path}", self.prefix), body).await
    }

    /// One value from /metrics (NaN when it is not there).
    pub async fn metric(&self, name: &str) -> f64 {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = TcpStream::connect(self.addr).await.unwrap();
        let req = format!(
            "GET {}/metrics HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.prefix, self.addr
        );
        s.write_all(req.as_bytes()).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out.lines()
            .find(|l| l.starts_with(&format!("swe_swe_{name} ")))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
            .unwrap_or(f64::NAN)
    }

    /// Waits (up to `WAIT`) until metric `name` satisfies `ok`; returns it.
    /// There is no event to wait on from outside the server, so /metrics is
    /// read again after each yield until the deadline.
    pub async fn until_metric(&self, name: &str, ok: impl Fn(f64) -> bool) -> f64 {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let v = self.metric(name).await;
            if ok(v) {
                return v;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "metric {name} stayed at {v}"
            );
            tokio::task::yield_now().await;
        }
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}{}/ws", self.addr, self.prefix)
    }

    pub async fn client(&self) -> Client {
        Client::connect(&self.ws_url()).await
    }

    /// A client already joined to `session` (replaying from 0).
    pub async fn joined(&self, session: &str) -> Client {
        let mut c = self.client().await;
        c.hello(session, 0).await;
        c
    }

    /// SIGKILL: no shutdown at all, as in a crash.
    pub async fn kill(mut self) -> (ServerBuilder, tempfile::TempDir, tempfile::TempDir) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
        (self.builder, self.workdir, self.state)
    }

    pub fn signal_log(&self) -> PathBuf {
        self.state.path().join("signals.log")
    }

    /// Stops the server (SIGTERM) and starts it again on the same folders.
    pub async fn restart(self) -> Server {
        let Server {
            builder,
            mut child,
            panicked,
            workdir,
            state,
            ..
        } = self;
        let pid = nix::unistd::Pid::from_raw(child.id().unwrap() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
        let status = tokio::time::timeout(WAIT, child.wait())
            .await
            .expect("server exits")
            .unwrap();
        assert!(status.success(), "{status:?}");
        assert!(
            !panicked.load(std::sync::atomic::Ordering::SeqCst),
            "the server panicked"
        );
        Server::start_in(builder, workdir, state).await
    }

    /// SIGTERM, then wait for the exit status.
    pub async fn terminate(mut self) -> std::process::ExitStatus {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.pid()),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        tokio::time::timeout(WAIT, self.child.wait())
            .await
            .expect("server exits")
            .unwrap()
    }
}

pub struct Client {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Client {
    pub async fn connect(url: &str) -> Client {
        let (ws, _) = tokio::time::timeout(
            WAIT,
            tokio_tungstenite::connect_async_with_config(url, None, true),
        )
        .await
        .expect("connect in time")
        .expect("connect");
        Client { ws }
    }

    pub fn from_stream(ws: WebSocketStream<MaybeTlsStream<TcpStream>>) -> Client {
        Client { ws }
    }

    pub async fn send(&mut self, v: Value) {
        self.send_text(&v.to_string()).await;
    }

    /// Sends, reporting failure (a closed connection) instead of panicking.
    pub async fn try_send(&mut self, v: &Value) -> bool {
        self.ws.send(Message::text(v.to_string())).await.is_ok()
    }

    pub async fn send_text(&mut self, s: &str) {
        self.ws.send(Message::text(s)).await.expect("send");
    }

    pub async fn send_binary(&mut self, b: Vec<u8>) {
        self.ws.send(Message::binary(b)).await.expect("send");
    }

    /// The next JSON frame; panics on timeout or close.
    pub async fn recv(&mut self) -> Value {
        match self.try_recv(WAIT).await {
            Ok(v) => v,
            Err(why) => panic!("no frame: {why}"),
        }
    }

    /// The next JSON frame, or why there is none (timeout, close code).
    pub async fn try_recv(&mut self, wait: Duration) -> Result<Value, String> {
        loop {
            match tokio::time::timeout(wait, self.ws.next()).await {
                Err(_) => return Err("timeout".into()),
                Ok(None) => return Err("closed".into()),
                Ok(Some(Err(e))) => return Err(format!("error: {e}")),
                Ok(Some(Ok(Message::Text(t)))) => {
                    return Ok(serde_json::from_str(t.as_str()).expect("JSON frame"))
                }
                Ok(Some(Ok(Message::Close(c)))) => {
                    return Err(format!(
                        "close {}",
                        c.map(|c| u16::from(c.code)).unwrap_or(0)
                    ))
                }
                Ok(Some(Ok(_))) => continue,
            }
        }
    }

    /// The next text frame, unparsed.
    pub async fn recv_text(&mut self) -> String {
        loop {
            match tokio::time::timeout(WAIT, self.ws.next()).await {
                Ok(Some(Ok(Message::Text(t)))) => return t.as_str().to_owned(),
                Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
                other => panic!("no text frame: {other:?}"),
            }
        }
    }

    /// Frames up to and including the first one matching `pred`.
    pub async fn recv_until(&mut self, pred: impl Fn(&Value) -> bool) -> Vec<Value> {
        let mut out = Vec::new();
        loop {
            let v = self.recv().await;
            let done = pred(&v);
            out.push(v);
            if done {
                return out;
            }
        }
    }

    /// Frames up to the `info` that ends a resumed conversation's import,
    /// whether it was stored before the hello (replayed) or arrives live.
    pub async fn until_imported(&mut self) -> Vec<Value> {
        self.recv_until(|f| {
            f["type"] == "info" && f["message"].as_str().unwrap_or("").contains("earlier turn")
        })
        .await
    }

    pub async fn until_type(&mut self, t: &str) -> Vec<Value> {
        self.recv_until(|v| v["type"] == t).await
    }

    pub async fn hello(&mut self, session: &str, last_seq: u64) -> Value {
        self.send(json!({"type":"hello","session":session,"lastSeq":last_seq}))
            .await;
        let v = self.recv().await;
        assert_eq!(v["type"], "session", "{v}");
        v
    }

    pub async fn message(&mut self, content: &str) {
        self.send(json!({"type":"message","content":content})).await;
    }

    /// Sends `content` and returns every frame up to its `exec_end`.
    pub async fn turn(&mut self, content: &str) -> Vec<Value> {
        self.message(content).await;
        self.until_type("exec_end").await
    }

    /// Frames up to the fake agent's `fake_pid` line, and the agent's pgid
    /// (and its grandchild's pid when it forked one).
    pub async fn until_fake_pid(&mut self) -> (Vec<Value>, i32, Option<i32>) {
        let frames = self
            .recv_until(|v| {
                v["type"] == "claudejson"
                    && v["content"]
                        .as_str()
                        .is_some_and(|c| c.contains("fake_pid"))
            })
            .await;
        let lines = claude_lines(&frames);
        let pgid = lines
            .iter()
            .find(|l| l["type"] == "fake_pid")
            .expect("fake_pid line")["pgid"]
            .as_i64()
            .expect("pgid") as i32;
        let grandchild = lines
            .iter()
            .find(|l| l["type"] == "fake_grandchild")
            .and_then(|l| l["pid"].as_i64())
            .map(|p| p as i32);
        (frames, pgid, grandchild)
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}

/// The seq of a session event, read without parsing the frame (events are
/// serialised with `seq` first).
pub fn seq_of(frame: &str) -> Option<u64> {
    let rest = frame.strip_prefix(r#"{"seq":"#)?;
    rest[..rest.find(',')?].parse().ok()
}

/// The seq of every frame (all must be session events).
pub fn seqs(frames: &[Value]) -> Vec<u64> {
    frames
        .iter()
        .map(|f| f["seq"].as_u64().unwrap_or_else(|| panic!("no seq: {f}")))
        .collect()
}

pub fn of_type<'a>(frames: &'a [Value], t: &str) -> Vec<&'a Value> {
    frames.iter().filter(|v| v["type"] == t).collect()
}

/// Raw agent lines forwarded as `claudejson`, parsed.
/// The first agent conversation id the frames announce (`agent_session`).
pub fn agent_session_of(frames: &[Value]) -> String {
    of_type(frames, "agent_session")
        .first()
        .expect("an agent_session event")["agentSessionId"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// What the user sent, turn by turn (`user_message` contents).
pub fn user_messages(frames: &[Value]) -> Vec<&str> {
    of_type(frames, "user_message")
        .into_iter()
        .map(|f| f["content"].as_str().unwrap())
        .collect()
}

pub fn claude_lines(frames: &[Value]) -> Vec<Value> {
    frames
        .iter()
        .filter(|v| v["type"] == "claudejson")
        .map(|v| serde_json::from_str(v["content"].as_str().unwrap()).unwrap())
        .collect()
}

/// The content blocks of every assistant message in a turn.
pub fn assistant_blocks(frames: &[Value]) -> Vec<Value> {
    claude_lines(frames)
        .iter()
        .filter(|l| l["type"] == "assistant")
        .flat_map(|l| {
            l["message"]["content"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .collect()
}

/// The assistant's text in a turn, from the raw Claude lines.
pub fn assistant_text(frames: &[Value]) -> String {
    assistant_blocks(frames)
        .iter()
        .filter_map(|b| b["text"].as_str().map(str::to_owned))
        .collect::<Vec<_>>()
        .join("")
}

/// The text of every ACP `agent_message_chunk` in `frames`, joined.
pub fn agent_said(frames: &[Value]) -> String {
    of_type(frames, "agent_update")
        .iter()
        .filter(|f| f["update"]["sessionUpdate"] == "agent_message_chunk")
        .filter_map(|f| f["update"]["content"]["text"].as_str())
        .collect()
}

/// A folder to put first on PATH where `name` is the fake agent (as
/// `gemini` it speaks ACP: it takes `--acp`), and that PATH.
pub fn fake_on_path(name: &str) -> (tempfile::TempDir, String) {
    let bin = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(fake_agent(), bin.path().join(name)).unwrap();
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    (bin, path)
}

/// A server-sent-events body fed by `rx` (a stand-in's stream; it ends
/// when the sender is dropped).
pub fn sse_response(
    rx: tokio::sync::mpsc::Receiver<axum::body::Bytes>,
) -> axum::response::Response {
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, std::convert::Infallible>(b), rx))
    });
    axum::response::Response::builder()
        .header(axum::http::header::CONTENT_TYPE, "text/event-stream")
        .header(axum::http::header::CACHE_CONTROL, "no-cache")
        .body(axum::body::Body::from_stream(stream))
        .unwrap()
}

pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// `npm install PACKAGE@VERSION` into `dir` (a cache the tests reuse);
/// panics, naming the package, when npm is missing or the install fails.
pub fn npm_install(dir: &Path, package: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let status = std::process::Command::new("npm")
        .args([
            "install",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            "--prefix",
        ])
        .arg(dir)
        .arg(package)
        .status()
        .unwrap_or_else(|e| panic!("npm is needed to install {package} for these tests: {e}"));
    assert!(status.success(), "npm install {package} failed: {status}");
}
