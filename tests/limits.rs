//! Per-connection limits: each reached limit gets a clear answer and leaves
//! other connections alone.

mod support;

use serde_json::json;
use std::time::{Duration, Instant};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Tried: 30 messages at once against a limit of 5/s (bursts of 10).
#[tokio::test]
async fn a_flood_of_messages_is_rate_limited_and_answered() {
    let server = Server::claude()
        .args(["--max-messages-per-sec", "5"])
        .start()
        .await;
    let mut c = server.joined("r").await;
    for _ in 0..30 {
        c.send(json!({"type":"ping"})).await;
    }
    let (mut pongs, mut limited) = (0, 0);
    for _ in 0..30 {
        let v = c.recv().await;
        match v["type"].as_str().unwrap() {
            "pong" => pongs += 1,
            "error" if v["code"] == "rate_limited" => limited += 1,
            other => panic!("unexpected {other}"),
        }
    }
    // The burst is 10 messages, the hello was one of them.
    assert!((9..=12).contains(&pongs), "the burst passes: {pongs}");
    assert_eq!(pongs + limited, 30, "every message got an answer");
    // Another connection is not affected.
    let mut d = server.joined("r").await;
    d.send(json!({"type":"ping"})).await;
    assert_eq!(d.recv().await["type"], "pong");
}

/// Tried: a fourth connection from one address with a limit of three.
/// Tried: 10 tabs on this machine with a cap of 3 (the default 64 refused
/// the 65th local tab, and every user behind a proxy on the same host), then
/// clients behind a trusted proxy, one of them sending a forged
/// X-Forwarded-For chain.
#[tokio::test]
async fn connections_per_address_are_capped_but_not_for_loopback() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let server = Server::claude()
        .args(["--max-connections-per-ip", "3"])
        .start()
        .await;
    let mut local = Vec::new();
    for _ in 0..10 {
        local.push(server.joined("c").await);
    }
    drop(local);

    let server = Server::claude()
        .args([
            "--max-connections-per-ip",
            "3",
            "--trust-proxy",
            "127.0.0.1",
        ])
        .start()
        .await;
    let via_proxy = |xff: &'static str| {
        let mut req = server.ws_url().into_client_request().unwrap();
        req.headers_mut()
            .insert("x-forwarded-for", xff.parse().unwrap());
        tokio_tungstenite::connect_async(req)
    };
    let refused = |r: Result<_, tokio_tungstenite::tungstenite::Error>| matches!(r, Err(tokio_tungstenite::tungstenite::Error::Http(r)) if r.status() == 429);
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(via_proxy("198.51.100.7").await.expect("under the cap").0);
    }
    assert!(refused(via_proxy("198.51.100.7").await));
    // Entries before the proxy's own are the client's to forge.
    assert!(refused(via_proxy("10.9.9.9, 198.51.100.7").await));
    assert!(via_proxy("198.51.100.8").await.is_ok(), "another client");
    // A slot comes back when a connection ends (after its task finishes).
    open.pop().unwrap().close(None).await.unwrap();
    let started = Instant::now();
    while via_proxy("198.51.100.7").await.is_err() {
        assert!(started.elapsed() < WAIT, "the slot never came back");
    }
}

/// Tried: 40 connections that send half a request head and stall (19,990 of
/// them exhausted the server's descriptors and /healthz stopped answering),
/// with a cap of 30 open connections. Each stalled one is closed after the
/// header timeout, those over the cap at once, and /healthz answers again.
#[tokio::test]
async fn half_sent_requests_are_closed_and_connections_are_capped() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = Server::claude()
        .args(["--header-timeout", "1s", "--max-http-connections", "30"])
        .start()
        .await;
    let started = Instant::now();
    let mut stalled = Vec::new();
    for _ in 0..40 {
        let mut s = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            .await
            .unwrap();
        stalled.push(s);
    }
    // Every one ends: over the cap at once, the rest at the header timeout.
    let mut waits = tokio::task::JoinSet::new();
    for (i, mut s) in stalled.into_iter().enumerate() {
        waits.spawn(async move {
            let mut buf = Vec::new();
            let r = tokio::time::timeout(WAIT, s.read_to_end(&mut buf)).await;
            assert!(r.is_ok(), "a stalled connection was never closed");
            (
                i,
                started.elapsed(),
                String::from_utf8_lossy(&buf).into_owned(),
            )
        });
    }
    let mut ended = vec![Duration::ZERO; 40];
    let mut answers = vec![String::new(); 40];
    while let Some(r) = waits.join_next().await {
        let (i, t, answer) = r.unwrap();
        ended[i] = t;
        answers[i] = answer;
    }
    // Those over the cap are told why, before anything of theirs is read.
    for a in &answers[30..] {
        assert!(a.starts_with("HTTP/1.1 503"), "{a}");
        assert!(a.contains("--max-http-connections"), "{a}");
    }
    assert!(
        ended[0] >= Duration::from_millis(900),
        "the timeout was waited"
    );
    assert!(
        ended[30..].iter().all(|t| *t < ended[0]),
        "those over the cap ended first: {ended:?}"
    );
    let (status, _) = server.http("GET", "/healthz", None).await;
    assert_eq!(status, 200);
    assert!(server.metric("refused_connections_total").await >= 10.0);
}

/// Tried: a client that completes the handshake and then never answers
/// pings (a raw socket that does not speak WebSocket any more).
#[tokio::test]
async fn a_silent_connection_is_closed_after_the_idle_timeout() {
    let server = Server::claude()
        .args(["--idle-timeout", "600ms"])
        .start()
        .await;
    let mut s = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let req = format!(
        "GET /ws HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        server.addr
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let started = Instant::now();
    let mut bytes = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut bytes))
        .await
        .expect("the server closes the connection")
        .unwrap();
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(600), "{took:?}");
    // A close frame (0x88) carrying code 4002 (0x0f 0xa2) ends the stream.
    let close = bytes
        .windows(4)
        .any(|w| w[0] == 0x88 && w[2] == 0x0f && w[3] == 0xa2);
    assert!(
        close,
        "no close 4002 in {:?}",
        String::from_utf8_lossy(&bytes)
    );
    // Pings came first: 0x89 frames.
    assert!(bytes.contains(&0x89));
}

/// Tried: a turn while --max-agents 1 is taken by another session's running
/// turn (before: it failed at once with an error). It waits, says so with
/// its place, runs once the other ends, and a stop while waiting stops
/// exactly it.
#[tokio::test]
async fn a_turn_beyond_max_agents_waits_its_turn_visibly() {
    let server = Server::claude()
        .args(["--claude-mode", "classic", "--max-agents", "1"])
        .start()
        .await;
    let mut a = server.joined("a").await;
    a.message("hold").await;
    a.until_fake_pid().await;
    let mut b = server.joined("b").await;
    b.message("hello").await;
    let waiting = b.until_type("waiting_for_agent").await;
    let w = waiting.last().unwrap();
    assert_eq!(w["ahead"], 0, "{w}");
    assert!(
        w["seq"].as_u64().is_some(),
        "a session event, replayed to late tabs"
    );
    let mut c = server.joined("c").await;
    c.message("hello").await;
    assert_eq!(
        c.until_type("waiting_for_agent").await.last().unwrap()["ahead"],
        1
    );
    // c stops while waiting: only c's turn ends.
    c.send(json!({"type":"stop"})).await;
    assert_eq!(
        c.until_type("exec_end").await.last().unwrap()["status"],
        "stopped"
    );
    // a ends; b gets the slot and runs.
    a.send(json!({"type":"stop"})).await;
    a.until_type("exec_end").await;
    let frames = b.until_type("exec_end").await;
    assert_eq!(frames.last().unwrap()["status"], "success", "{frames:?}");
    assert_eq!(server.metric("agent_slots_waiting").await, 0.0);
}

/// Tried: duplex sessions keep their agent between turns; with --max-agents 1
/// the second session's turn used to fail while the first one's agent sat
/// idle. The idle agent gives up its slot (least recently used first) and
/// its session resumes the conversation on its next turn.
#[tokio::test]
async fn an_idle_duplex_agent_makes_room_and_resumes_later() {
    let server = Server::claude().args(["--max-agents", "1"]).start().await;
    let mut a = server.joined("a").await;
    assert_eq!(
        a.turn("remember 42").await.last().unwrap()["status"],
        "success"
    );
    let mut b = server.joined("b").await;
    assert_eq!(b.turn("hello").await.last().unwrap()["status"], "success");
    // a's agent was ended for b; a's next turn starts one again, resumed.
    let frames = a.turn("recall").await;
    assert_eq!(frames.last().unwrap()["status"], "success", "{frames:?}");
    let text = assistant_text(&frames);
    assert!(
        text.contains("Earlier you said: remember 42"),
        "the conversation was resumed: {text}"
    );
}

/// Tried: a third session with `--max-sessions 2`.
#[tokio::test]
async fn sessions_beyond_the_limit_are_refused() {
    let server = Server::claude().args(["--max-sessions", "2"]).start().await;
    let _a = server.joined("one").await;
    let _b = server.joined("two").await;
    let mut c = server.client().await;
    c.send(json!({"type":"hello","session":"three"})).await;
    let e = c.recv().await;
    assert_eq!(e["code"], "too_many_sessions", "{e}");
    assert!(e["message"].as_str().unwrap().contains("--max-sessions"));
    // The connection can still join an existing one.
    c.hello("one", 0).await;
}

/// Tried: 1,000 `POST /api/sessions {}` against --max-sessions 5 (10,000 in
/// 2 s filled the default limit, and no chat could start while the list
/// showed none), then 5 tabs that each open a new session and leave without
/// a message. Sessions with no events hold no place for long.
#[tokio::test]
async fn sessions_without_events_hold_no_place() {
    let server = Server::claude().args(["--max-sessions", "5"]).start().await;
    for _ in 0..1000 {
        let (status, body) = server.http("POST", "/api/sessions", Some(json!({}))).await;
        assert_eq!(status, 201, "{body}");
    }
    assert_eq!(server.metric("sessions").await, 0.0, "no actor for an id");
    let mut real = server.joined("real").await;
    real.turn("a session with events keeps its place").await;
    for i in 0..4 {
        server.joined(&format!("glance-{i}")).await.close().await;
    }
    // Full now; the four empty ones leave after a few seconds.
    let mut c = server.client().await;
    c.send(json!({"type":"hello","session":"late"})).await;
    assert_eq!(c.recv().await["code"], "too_many_sessions");
    server.until_metric("sessions", |n| n == 1.0).await;
    c.hello("late", 0).await;
    assert_eq!(
        c.turn("there is room").await.last().unwrap()["status"],
        "success"
    );
    assert_eq!(
        real.turn("still here").await.last().unwrap()["status"],
        "success"
    );
}

/// Tried: a prompt carrying a newline and a fake log line, at info level.
/// Prompts are logged only at debug level, and nothing a user or agent sends
/// can start a line of the log.
#[tokio::test]
async fn user_text_never_forges_a_log_line() {
    let server = Server::claude().env("RUST_LOG", "info").start().await;
    let mut c = server.joined("log").await;
    let forged = "secret-prompt\n2026-01-01T00:00:00Z ERROR forged: all your base";
    c.turn(forged).await;
    // An agent that crashes with stderr text; the error is logged.
    c.turn("crash").await;
    let log = server.log.lock().unwrap().clone();
    assert!(
        log.iter().any(|l| l.contains("starting agent")),
        "info lines are there: {log:?}"
    );
    assert!(
        !log.iter().any(|l| l.contains("secret-prompt")),
        "the prompt reached the info log"
    );
    assert!(
        !log.iter().any(|l| l.contains("forged:")),
        "a forged line: {log:?}"
    );
    // The log goes to a pipe here: no colour codes in it.
    assert!(
        !log.iter().any(|l| l.contains('\x1b')),
        "ANSI codes in a piped log: {:?}",
        log.first()
    );
}

/// Same at debug level, where agent command lines (holding the prompt) are
/// logged: control characters are escaped, so the text stays on its line.
#[tokio::test]
async fn debug_logs_escape_what_users_send() {
    let server = Server::claude()
        .args(["--claude-mode", "classic"])
        .env("RUST_LOG", "swe_swe=debug")
        .start()
        .await;
    let mut c = server.joined("log").await;
    c.turn("secret-prompt\nFORGED ERROR line\u{1b}[31m").await;
    let log = server.log.lock().unwrap().clone();
    assert!(
        log.iter().any(|l| l.contains("secret-prompt\\nFORGED")),
        "escaped in the debug log: {log:?}"
    );
    assert!(!log.iter().any(|l| l.starts_with("FORGED")));
    assert!(
        !log.iter().any(|l| l.contains("\u{1b}[31m")),
        "raw escape sequences in the log"
    );
}
