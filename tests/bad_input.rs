//! Bad input from browsers and from agents: each case says what was tried.
//! Every one gets a clear error (or is handled) and the connection and the
//! session stay usable afterwards.

mod support;

use serde_json::json;
use support::*;

/// After an error, the same connection still completes a turn.
async fn still_usable(c: &mut Client) {
    let frames = c.turn("still there?").await;
    assert_eq!(frames.last().unwrap()["status"], "success", "{frames:?}");
}

#[tokio::test]
async fn malformed_frames_get_errors_and_the_connection_survives() {
    let server = Server::claude().start().await;
    let mut c = server.joined("bad").await;
    let cases: [(&str, &str); 7] = [
        ("{not json", "bad_json"),                         // malformed JSON
        ("[1,2,3]", "bad_message"),                        // not an object
        (r#"{"type":"launch_missiles"}"#, "unknown_type"), // unknown type
        (r#"{"hello":"world"}"#, "bad_message"),           // no type, no sender
        (r#"{"type":"stop","runId":"one"}"#, "bad_field"), // wrong field type
        (
            r#"{"type":"permission_response","requestId":"x","decision":"perhaps"}"#,
            "bad_field",
        ),
        (r#"{"sender":"AGENT","content":"spoof"}"#, "bad_field"), // pretending to be the agent
    ];
    for (text, code) in cases {
        c.send_text(text).await;
        let e = c.recv().await;
        assert_eq!(e["type"], "error", "{text}");
        assert_eq!(e["code"], code, "{text}: {e}");
        assert!(e["message"].as_str().unwrap().len() > 5);
    }
    // A binary frame.
    c.send_binary(vec![0, 159, 146, 150]).await;
    assert_eq!(c.recv().await["code"], "binary_frame");
    still_usable(&mut c).await;
}

/// Tried: a message over --max-frame-bytes (2 MiB against 1 MiB), and frame
/// headers that announce 8 MiB followed by 1 MiB of it, from 50 connections
/// at once. Before, up to 16 MiB per frame was buffered before the limit
/// applied (192 stalled connections took 3 GB). Now the header alone is
/// refused: the connection closes with 1009 and a reason, nothing of the
/// payload is held, and new connections work.
#[tokio::test]
async fn a_frame_over_the_limit_is_refused_from_its_header() {
    use tokio::io::AsyncWriteExt;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
    let server = Server::claude().start().await;
    let mut c = server.joined("big").await;
    let huge = json!({"type":"message","content":"x".repeat(2 * 1024 * 1024)}).to_string();
    // The server may close while this is still being written: then the
    // write fails, or the 1009 is lost in the reset. Either way it ends.
    {
        use futures_util::SinkExt;
        let _ =
            c.ws.send(tokio_tungstenite::tungstenite::Message::text(huge))
                .await;
    }
    let code = closed_with(&mut c).await;
    assert!(matches!(code, None | Some(CloseCode::Size)), "{code:?}");

    let rss = |pid: i32| rss_kib(pid).1;
    let before = rss(server.pid());
    let mut stalled = Vec::new();
    for _ in 0..50 {
        let mut c = server.joined("big").await;
        // FIN + text, masked, 64-bit length 8 MiB, mask, then 1 MiB of it
        // (the server may close before it is all written).
        let mut head = vec![0x81u8, 0xFF];
        head.extend_from_slice(&(8u64 << 20).to_be_bytes());
        head.extend_from_slice(&[1, 2, 3, 4]);
        head.resize(head.len() + (1 << 20), b'a');
        match c.ws.get_mut() {
            tokio_tungstenite::MaybeTlsStream::Plain(tcp) => {
                let _ = tcp.write_all(&head).await;
            }
            _ => unreachable!("tests use plain TCP"),
        }
        stalled.push(c);
    }
    for c in &mut stalled {
        // 1009, or a reset when the close met the unread payload.
        let code = closed_with(c).await;
        assert!(matches!(code, None | Some(CloseCode::Size)), "{code:?}");
    }
    let grew = rss(server.pid()).saturating_sub(before);
    assert!(
        grew < 64 * 1024,
        "RSS grew by {grew} KiB for 50 refused frames"
    );
    let mut fresh = server.joined("big").await;
    still_usable(&mut fresh).await;
}

/// Reads until the server closes; the close code, if it sent one.
async fn closed_with(
    c: &mut Client,
) -> Option<tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode> {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    loop {
        match tokio::time::timeout(WAIT, c.ws.next())
            .await
            .expect("closed in time")
        {
            Some(Ok(Message::Close(f))) => return f.map(|f| f.code),
            Some(Ok(_)) => continue,
            _ => return None,
        }
    }
}

#[tokio::test]
async fn hostile_session_ids_are_refused() {
    let server = Server::claude().start().await;
    let mut c = server.client().await;
    for id in [
        "; rm -rf /".to_owned(),
        "../../etc/passwd".to_owned(),
        "x".repeat(10 * 1024),
        String::new(),
    ] {
        c.send(json!({"type":"hello","session":id})).await;
        let e = c.recv().await;
        assert_eq!(e["code"], "invalid_session", "{e}");
        // The original client's message form, too.
        c.send(json!({"sender":"USER","content":"hi","sessionID":id}))
            .await;
        let e = c.recv().await;
        assert_eq!(e["type"], "error");
    }
    // Tried: lastSeq at its largest (it once overflowed in the session).
    c.send(json!({"type":"hello","session":"ok","lastSeq":u64::MAX}))
        .await;
    assert_eq!(c.recv().await["type"], "session");
    // A hostile *agent* session id is ignored with an error, never passed on.
    c.hello("ok", 0).await;
    c.send(json!({"sender":"USER","content":"argv","sessionID":"ok","claudeSessionID":"--dangerously-skip-permissions"}))
        .await;
    let frames = c.until_type("exec_end").await;
    assert!(of_type(&frames, "error")
        .iter()
        .any(|e| e["code"] == "invalid_agent_session"));
    let argv = claude_lines(&frames)
        .into_iter()
        .find(|l| l["type"] == "fake_argv");
    // Duplex mode: argv is printed by the process started for this turn.
    let argv = argv.expect("argv line")["argv"].to_string();
    assert!(!argv.contains("dangerously"), "{argv}");
    still_usable(&mut c).await;
}

#[tokio::test]
async fn a_prompt_starting_with_a_dash_stays_a_prompt() {
    let server = Server::claude()
        .args(["--claude-mode", "classic"])
        .start()
        .await;
    let mut c = server.joined("dash").await;
    let frames = c.turn("--dangerously-skip-permissions argv").await;
    // Classic puts the prompt after `--`: the fake saw a prompt, not a flag.
    let text = claude_lines(&frames)
        .iter()
        .filter(|l| l["type"] == "assistant")
        .map(|l| {
            l["message"]["content"][0]["text"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        })
        .collect::<String>();
    assert!(
        text.contains("You said: --dangerously-skip-permissions argv"),
        "{text}"
    );
}

#[tokio::test]
async fn a_50_mb_agent_line_is_skipped_with_an_error_and_the_stream_goes_on() {
    let server = Server::claude().start().await;
    let mut c = server.joined("bigline").await;
    let frames = c.turn(&format!("bigline {}", 50 * 1024 * 1024)).await;
    let e = of_type(&frames, "error");
    assert_eq!(e[0]["code"], "agent_line_too_long");
    assert!(e[0]["message"].as_str().unwrap().contains("52428800"));
    assert!(frames.iter().any(|f| f["content"]
        .as_str()
        .is_some_and(|s| s.contains("after the big line"))));
    assert_eq!(frames.last().unwrap()["status"], "success");
    still_usable(&mut c).await;
}

#[tokio::test]
async fn binary_garbage_on_agent_stdout_is_shown_as_text() {
    let server = Server::claude().start().await;
    let mut c = server.joined("garbage").await;
    let frames = c.turn("garbage").await;
    let text = of_type(&frames, "content")[0]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        text.contains("garbage") && text.contains('\u{fffd}'),
        "{text:?}"
    );
    assert_eq!(frames.last().unwrap()["status"], "success");
    still_usable(&mut c).await;
}

#[tokio::test]
async fn an_agent_that_never_prints_can_be_stopped() {
    let server = Server::claude().args(["--stop-grace", "1s"]).start().await;
    let mut c = server.joined("silent").await;
    c.message("silent").await;
    c.until_type("exec_start").await;
    c.send(json!({"type":"stop"})).await;
    let frames = c.until_type("exec_end").await;
    assert_eq!(frames.last().unwrap()["status"], "stopped");
    still_usable(&mut c).await;
}

#[tokio::test]
async fn answers_that_match_nothing_are_errors_not_crashes() {
    let server = Server::claude().start().await;
    let mut c = server.joined("nothing").await;
    c.send(json!({"type":"permission_response","requestId":"perm-999","decision":"allow"}))
        .await;
    assert_eq!(c.recv().await["code"], "unknown_request");
    c.send(json!({"type":"cancel_queued","queueId":42})).await;
    assert_eq!(c.recv().await["code"], "unknown_queue_id");
    c.send(json!({"type":"stop","runId":7})).await;
    let ack = c.recv().await;
    assert_eq!(ack["type"], "stop_ack");
    assert_eq!(ack["running"], false);
    c.send(json!({"type":"message","content":"   "})).await;
    assert_eq!(c.recv().await["code"], "empty_message");
    still_usable(&mut c).await;
}

/// Tried: a page on another site (and a DNS-rebinding name) opening /ws on
/// loopback. Refused with 403 before any session is touched.
#[tokio::test]
async fn cross_site_websocket_handshakes_are_refused() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let server = Server::claude()
        .args(["--allow-origin", "https://ide.example"])
        .start()
        .await;
    let attempt = |origin: Option<&'static str>, host: Option<String>| {
        let mut req = server.ws_url().into_client_request().unwrap();
        if let Some(o) = origin {
            req.headers_mut().insert("origin", o.parse().unwrap());
        }
        if let Some(h) = host {
            req.headers_mut().insert("host", h.parse().unwrap());
        }
        tokio_tungstenite::connect_async(req)
    };
    let refused = |r: Result<_, tokio_tungstenite::tungstenite::Error>| match r {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => resp.status().as_u16() == 403,
        _ => false,
    };
    assert!(refused(attempt(Some("https://evil.example"), None).await));
    let port = server.addr.port();
    assert!(refused(
        attempt(
            Some("http://evil.example"),
            Some(format!("evil.example:{port}"))
        )
        .await
    ));
    assert!(attempt(Some("https://ide.example"), None).await.is_ok());
    let same = Box::leak(format!("http://{}", server.addr).into_boxed_str());
    assert!(attempt(Some(same), None).await.is_ok());
    // Still fine for everyone else.
    let mut c = server.joined("ok").await;
    assert_eq!(c.turn("hi").await.last().unwrap()["status"], "success");
}

/// Tried: switching sessions on one connection, back and forth, many times.
/// The old session letting go of the tab must never look like a lagging tab.
#[tokio::test]
async fn switching_sessions_on_one_connection_never_drops_it() {
    let server = Server::claude()
        .args(["--max-messages-per-sec", "100000"])
        .start()
        .await;
    let mut c = server.client().await;
    for i in 0..300 {
        c.hello(["a", "b", "c"][i % 3], u64::MAX).await;
    }
    assert_eq!(
        c.turn("still here").await.last().unwrap()["status"],
        "success"
    );
}
