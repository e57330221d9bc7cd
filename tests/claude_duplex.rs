//! Claude Code in duplex mode (one long-lived process per chat session),
//! against the fake agent.

mod support;

use serde_json::json;
use std::time::{Duration, Instant};
use support::*;

#[tokio::test]
async fn a_reply_streams_to_two_tabs_identically() {
    let server = Server::claude().start().await;
    let mut a = server.joined("s").await;
    let mut b = server.joined("s").await;
    let fa = a.turn("hello there").await;
    let fb = b.until_type("exec_end").await;
    assert_eq!(fa, fb, "same seq, same events");
    assert!(assistant_text(&fa).contains("You said: hello there"));
    let types: Vec<_> = fa
        .iter()
        .map(|v| v["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(types.first().unwrap(), "user_message");
    assert_eq!(types[1], "exec_start");
    assert!(types.contains(&"agent_session".to_owned()));
    // Partial messages are requested: token deltas arrive as stream_event lines.
    assert!(claude_lines(&fa)
        .iter()
        .any(|l| l["type"] == "stream_event"));
}

#[tokio::test]
async fn permission_allow_deny_and_allow_always() {
    let server = Server::claude().start().await;
    let dir = server.workdir.path().to_owned();
    let mut a = server.joined("p").await;
    let mut b = server.joined("p").await;

    // Allow: asked in every tab, answered in one, both see it resolved.
    a.message("write allowed.txt").await;
    let req = a.until_type("permission_request").await.pop().unwrap();
    assert_eq!(req["sender"], "Write");
    let input: serde_json::Value =
        serde_json::from_str(req["toolInput"].as_str().unwrap()).unwrap();
    assert_eq!(input["file_path"], "allowed.txt");
    let req_b = b.until_type("permission_request").await.pop().unwrap();
    assert_eq!(req, req_b);
    b.send(json!({"type":"permission_response","requestId":req["requestId"],"decision":"allow"}))
        .await;
    let frames = a.until_type("exec_end").await;
    assert_eq!(
        of_type(&frames, "permission_resolved")[0]["decision"],
        "allow"
    );
    assert_eq!(frames.last().unwrap()["status"], "success");
    assert_eq!(read(&dir.join("allowed.txt")), "written by fake\n");
    b.until_type("exec_end").await;

    // A late second answer is refused, to that tab only.
    a.send(json!({"type":"permission_response","requestId":req["requestId"],"decision":"deny"}))
        .await;
    let err = a.recv().await;
    assert_eq!(err["type"], "error");
    assert_eq!(err["code"], "unknown_request");

    // Deny with a reason: no file, and the agent got the reason.
    a.message("write denied.txt").await;
    let req = a.until_type("permission_request").await.pop().unwrap();
    a.send(json!({"type":"permission_response","requestId":req["requestId"],"decision":"deny","reason":"not in this folder"})).await;
    let frames = a.until_type("exec_end").await;
    assert!(!dir.join("denied.txt").exists());
    assert!(
        assistant_text(&frames).contains("Tool said: not in this folder"),
        "{frames:?}"
    );
    assert_eq!(frames.last().unwrap()["status"], "success");
    b.until_type("exec_end").await;

    // Allow always: the next Write of the session is not asked.
    a.message("write one.txt").await;
    let req = a.until_type("permission_request").await.pop().unwrap();
    a.send(json!({"type":"permission_response","requestId":req["requestId"],"decision":"allow_always"})).await;
    a.until_type("exec_end").await;
    let frames = a.turn("write two.txt").await;
    assert!(of_type(&frames, "permission_request").is_empty());
    assert!(dir.join("one.txt").exists() && dir.join("two.txt").exists());
}

#[tokio::test]
async fn stop_interrupts_the_turn_and_the_conversation_goes_on() {
    let server = Server::claude().args(["--stop-grace", "4s"]).start().await;
    let mut c = server.joined("st").await;
    c.turn("first words").await;
    c.message("slow 1000 20").await;
    let mut frames = c
        .recv_until(|v| {
            v["type"] == "claudejson" && v["content"].as_str().unwrap().contains("chunk 3")
        })
        .await;
    let asked = Instant::now();
    c.send(json!({"type":"stop"})).await;
    frames.extend(c.until_type("exec_end").await);
    assert!(
        asked.elapsed() < Duration::from_secs(4),
        "ended within the grace period"
    );
    assert_eq!(frames.last().unwrap()["status"], "stopped");
    assert!(of_type(&frames, "stop_ack")[0]["running"] == true);
    // Same process, same conversation: the agent remembers the first turn.
    let frames = c.turn("recall").await;
    assert!(
        assistant_text(&frames).contains("first words"),
        "{frames:?}"
    );
    assert_eq!(frames.last().unwrap()["status"], "success");
}

#[tokio::test]
async fn an_agent_deaf_to_interrupt_and_signals_is_killed_within_the_grace() {
    let server = Server::claude().args(["--stop-grace", "1s"]).start().await;
    let mut c = server.joined("deaf").await;
    c.message("deaf").await;
    let (_, pgid, _) = c.until_fake_pid().await;
    let asked = Instant::now();
    c.send(json!({"type":"stop"})).await;
    let frames = c.until_type("exec_end").await;
    let took = asked.elapsed();
    assert!(took < Duration::from_millis(1800), "took {took:?}");
    assert_eq!(frames.last().unwrap()["status"], "stopped");
    assert!(group_gone(pgid));
    // The next message starts the agent again, resuming the conversation.
    let frames = c.turn("recall").await;
    assert!(assistant_text(&frames).contains("deaf"), "{frames:?}");
}

#[tokio::test]
async fn a_crash_mid_turn_ends_the_turn_and_the_next_message_resumes() {
    let server = Server::claude().start().await;
    let mut c = server.joined("cr").await;
    c.turn("remember me").await;
    let frames = c.turn("crash").await;
    let end = frames.last().unwrap();
    assert_eq!(end["status"], "error");
    assert_eq!(end["exitCode"], 3);
    let err = of_type(&frames, "error")[0];
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("crashing on purpose"),
        "{err}"
    );
    let frames = c.turn("recall").await;
    assert!(
        assistant_text(&frames).contains("remember me"),
        "{frames:?}"
    );
}

#[tokio::test]
async fn fork_bomb_lite_the_grandchild_dies_with_the_group() {
    let server = Server::claude().args(["--stop-grace", "1s"]).start().await;
    let mut c = server.joined("fork").await;
    c.message("fork").await;
    let (_, pgid, grandchild) = c.until_fake_pid().await;
    let grandchild = grandchild.expect("the agent forked");
    assert!(is_alive(grandchild));
    // Stop interrupts the turn; the process (and grandchild) stay for the
    // next turn in duplex mode. Shutting the server down ends them all.
    c.send(json!({"type":"stop"})).await;
    c.until_type("exec_end").await;
    let status = server.terminate().await;
    assert!(status.success());
    assert!(!is_alive(grandchild), "grandchild outlived the server");
    assert!(group_gone(pgid) || group_members(pgid).is_empty());
}

#[tokio::test]
async fn a_missing_or_unusable_claude_is_explained() {
    let dir = tempfile::tempdir().unwrap();
    let not_exec = dir.path().join("claude");
    std::fs::write(&not_exec, "#!/bin/sh\necho hi\n").unwrap();
    for bin in [
        "/nonexistent/claude".to_owned(),
        not_exec.to_string_lossy().into_owned(),
    ] {
        let server = Server::plain().args(["--claude-bin", &bin]).start().await;
        let mut c = server.joined("missing").await;
        let frames = c.turn("hello").await;
        let err = of_type(&frames, "error")[0]["message"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(err.contains(&bin), "{err}");
        assert!(
            err.contains("npm install -g @anthropic-ai/claude-code"),
            "{err}"
        );
        assert!(err.contains("--claude-bin"), "{err}");
        assert_eq!(frames.last().unwrap()["status"], "error");
        // Still usable: the next message gets the same clear answer.
        let frames = c.turn("again").await;
        assert_eq!(frames.last().unwrap()["status"], "error");
    }
}

#[tokio::test]
async fn an_unknown_stored_agent_session_falls_back_and_says_so() {
    let server = Server::claude().start().await;
    let mut c = server.client().await;
    // The original client's message, naming an agent session that is gone.
    c.send(
        json!({"sender":"USER","content":"hi","firstMessage":true,"sessionID":"legacy-tab",
        "claudeSessionID":"00000000-0000-0000-0000-000000000000"}),
    )
    .await;
    let frames = c.until_type("exec_end").await;
    let info = of_type(&frames, "info");
    assert!(
        info[0]["message"]
            .as_str()
            .unwrap()
            .contains("could not be resumed"),
        "{frames:?}"
    );
    assert_eq!(frames.last().unwrap()["status"], "success");
    assert!(assistant_text(&frames).contains("You said: hi"));
}

#[tokio::test]
async fn permission_mode_is_shared_and_reaches_the_agent() {
    let server = Server::claude().start().await;
    let dir = server.workdir.path().to_owned();
    let mut a = server.joined("m").await;
    let mut b = server.joined("m").await;
    // Before any process: the mode is recorded, told to every tab, and the
    // process starts with it (acceptEdits: a Write runs without asking).
    a.send(json!({"type":"set_permission_mode","mode":"acceptEdits"}))
        .await;
    let ev = b.until_type("permission_mode").await.pop().unwrap();
    assert_eq!(ev["mode"], "acceptEdits");
    let frames = a.turn("write edits.txt").await;
    assert!(
        of_type(&frames, "permission_request").is_empty(),
        "{frames:?}"
    );
    assert_eq!(read(&dir.join("edits.txt")), "written by fake\n");
    // Changed while the process lives: it gets set_permission_mode.
    a.send(json!({"type":"set_permission_mode","mode":"plan"}))
        .await;
    let frames = a.turn("mode").await;
    assert!(assistant_text(&frames).contains("Mode: plan"), "{frames:?}");
    // A plan approved from another tab ends plan mode for everyone.
    a.message("plan").await;
    let req = b.until_type("permission_request").await.pop().unwrap();
    assert_eq!(req["sender"], "ExitPlanMode");
    b.send(json!({"type":"permission_response","requestId":req["requestId"],"decision":"allow"}))
        .await;
    let frames = a.until_type("exec_end").await;
    assert_eq!(of_type(&frames, "permission_mode")[0]["mode"], "default");
    assert!(
        assistant_text(&frames).contains("Plan approved; mode now default"),
        "{frames:?}"
    );
    // A new tab learns the mode from its `session` reply.
    let mut c = server.client().await;
    let hello = c.hello("m", u64::MAX - 1).await;
    assert_eq!(hello["permissionMode"], "default");
    // A mode that does not exist is refused, and nothing changes.
    a.send(json!({"type":"set_permission_mode","mode":"yolo"}))
        .await;
    let err = a.until_type("error").await.pop().unwrap();
    assert_eq!(err["code"], "bad_field");
}

#[tokio::test]
async fn ask_user_question_answers_reach_the_agent() {
    let server = Server::claude().start().await;
    let mut a = server.joined("q").await;
    a.message("ask").await;
    let req = a.until_type("permission_request").await.pop().unwrap();
    assert_eq!(req["sender"], "AskUserQuestion");
    a.send(
        json!({"type":"permission_response","requestId":req["requestId"],"decision":"allow",
        "answers":{"Which database should I use?":"SQLite"}}),
    )
    .await;
    let frames = a.until_type("exec_end").await;
    let resolved = of_type(&frames, "permission_resolved")[0];
    assert_eq!(
        resolved["answers"]["Which database should I use?"],
        "SQLite"
    );
    assert!(
        assistant_text(&frames).contains(r#"You chose: {"Which database should I use?":"SQLite"}"#),
        "{frames:?}"
    );
    // Answers of the wrong shape are refused before they reach anything.
    a.send(json!({"type":"permission_response","requestId":"perm-9","decision":"allow","answers":{"q":1}}))
        .await;
    assert_eq!(
        a.until_type("error").await.pop().unwrap()["code"],
        "bad_field"
    );
}
