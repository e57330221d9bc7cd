//! ACP agents through a real server, with the fake agent's ACP mode: turns,
//! permissions, stop, restart with `session/load`, file calls, bad agents.

mod support;

use serde_json::{json, Value};
use support::*;

fn end(frames: &[Value]) -> &Value {
    frames.last().expect("frames up to exec_end")
}

#[tokio::test]
async fn a_text_turn_streams_agent_updates_and_the_process_serves_the_next_turn() {
    let server = Server::acp(&[]).start().await;
    let mut c = server.joined("a").await;
    let frames = c.turn("hello there").await;
    assert_eq!(agent_said(&frames), "You said: hello there");
    assert_eq!(end(&frames)["status"], "success");
    let session = of_type(&frames, "agent_session")[0]["agentSessionId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(session.starts_with("fake-"), "{session}");
    // Same process, same ACP session: no second agent_session event.
    let frames = c.turn("recall").await;
    assert!(agent_said(&frames).contains("hello there"), "{frames:?}");
    assert!(of_type(&frames, "agent_session").is_empty());
    // The update arrives exactly as the agent wrote it.
    let frames = c.turn("showcase").await;
    let kinds: Vec<&str> = of_type(&frames, "agent_update")
        .iter()
        .filter_map(|f| f["update"]["sessionUpdate"].as_str())
        .collect();
    for k in [
        "agent_thought_chunk",
        "plan",
        "tool_call",
        "tool_call_update",
        "available_commands_update",
        "current_mode_update",
        "usage_update",
    ] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }
}

#[tokio::test]
async fn a_write_asks_permission_allowed_it_is_written_by_swe_swe_rejected_it_is_not() {
    let server = Server::acp(&[]).start().await;
    let mut c = server.joined("a").await;
    c.message("write out.txt first version").await;
    let frames = c.until_type("permission_request").await;
    let ask = frames.last().unwrap().clone();
    assert_eq!(ask["sender"], "Write out.txt");
    assert_eq!(ask["toolCall"]["kind"], "edit");
    assert_eq!(ask["toolCall"]["content"][0]["type"], "diff");
    assert_eq!(ask["options"].as_array().unwrap().len(), 3);
    c.send(json!({"type":"permission_response","requestId":ask["requestId"],"decision":"allow"}))
        .await;
    let frames = c.until_type("exec_end").await;
    assert_eq!(end(&frames)["status"], "success");
    assert_eq!(
        of_type(&frames, "permission_resolved")[0]["decision"],
        "allow"
    );
    assert!(
        agent_said(&frames).contains("out.txt: written"),
        "{frames:?}"
    );
    assert_eq!(
        read(&server.workdir.path().join("out.txt")),
        "first version"
    );
    // The write served through fs/write_text_file shows as a diff.
    let diff = of_type(&frames, "agent_update")
        .into_iter()
        .find(|f| f["update"]["_meta"]["swe-swe"]["servedBy"] == "fs/write_text_file")
        .expect("a diff of the served write");
    assert_eq!(diff["update"]["content"][0]["newText"], "first version");
    assert_eq!(diff["update"]["content"][0]["oldText"], Value::Null);

    // Rejected, by the agent's own option id this time.
    c.message("write out.txt second version").await;
    let ask = c.until_type("permission_request").await.pop().unwrap();
    c.send(json!({"type":"permission_response","requestId":ask["requestId"],"optionId":"no"}))
        .await;
    let frames = c.until_type("exec_end").await;
    assert_eq!(
        of_type(&frames, "permission_resolved")[0]["decision"],
        "deny"
    );
    assert!(agent_said(&frames).contains("rejected"));
    assert_eq!(
        read(&server.workdir.path().join("out.txt")),
        "first version"
    );

    // An option the agent never offered is refused, and the request stays open.
    c.message("write out.txt third").await;
    let ask = c.until_type("permission_request").await.pop().unwrap();
    c.send(json!({"type":"permission_response","requestId":ask["requestId"],"optionId":"made-up"}))
        .await;
    let err = c.until_type("error").await.pop().unwrap();
    assert_eq!(err["code"], "unknown_option");
    c.send(json!({"type":"permission_response","requestId":ask["requestId"],"decision":"allow_always"}))
        .await;
    let frames = c.until_type("exec_end").await;
    assert_eq!(end(&frames)["status"], "success");
    assert_eq!(read(&server.workdir.path().join("out.txt")), "third");
}

#[tokio::test]
async fn a_write_outside_the_workdir_is_refused_to_the_agent() {
    let server = Server::acp(&[]).start().await;
    let mut c = server.joined("a").await;
    // Tried: `../escape.txt` relative to the workdir (the agent makes it absolute).
    c.message("write ../escape.txt nope").await;
    let ask = c.until_type("permission_request").await.pop().unwrap();
    c.send(json!({"type":"permission_response","requestId":ask["requestId"],"decision":"allow"}))
        .await;
    let frames = c.until_type("exec_end").await;
    assert!(agent_said(&frames).contains("refused"), "{frames:?}");
    assert!(agent_said(&frames).contains("outside the project folder"));
    let outside = server.workdir.path().parent().unwrap().join("escape.txt");
    assert!(!outside.exists());
}

#[tokio::test]
async fn stop_cancels_the_prompt_and_answers_open_requests_cancelled() {
    let server = Server::acp(&[]).start().await;
    let mut c = server.joined("a").await;
    c.message("slow 200 50").await;
    c.recv_until(|f| f["type"] == "agent_update").await;
    c.send(json!({"type":"stop"})).await;
    let frames = c.until_type("exec_end").await;
    assert_eq!(end(&frames)["status"], "stopped");
    // The agent took the cancel and serves the next turn (same process).
    let frames = c.turn("after the stop").await;
    assert_eq!(agent_said(&frames), "You said: after the stop");
    assert!(of_type(&frames, "agent_session").is_empty());

    // A stop while a permission request is open: the request is voided
    // (answered `cancelled` to the agent) and the turn ends stopped.
    c.message("write x.txt y").await;
    c.until_type("permission_request").await;
    c.send(json!({"type":"stop"})).await;
    let frames = c.until_type("exec_end").await;
    assert_eq!(of_type(&frames, "permission_void").len(), 1);
    assert_eq!(end(&frames)["status"], "stopped");
    assert!(!server.workdir.path().join("x.txt").exists());
}

#[tokio::test]
async fn an_agent_deaf_to_cancel_is_killed_after_the_grace_and_the_session_goes_on() {
    let server = Server::acp(&[]).args(["--stop-grace", "1s"]).start().await;
    let mut c = server.joined("a").await;
    c.message("deaf").await;
    c.recv_until(|f| f["type"] == "agent_update").await;
    c.send(json!({"type":"stop"})).await;
    let frames = c.until_type("exec_end").await;
    assert_eq!(end(&frames)["status"], "stopped");
    let frames = c.turn("still here?").await;
    assert_eq!(agent_said(&frames), "You said: still here?");
}

#[tokio::test]
async fn after_a_restart_the_conversation_is_loaded_and_its_replay_not_repeated() {
    let server = Server::acp(&[]).start().await;
    let mut c = server.joined("a").await;
    let first = c.turn("remember the tulips").await;
    let before = of_type(&first, "agent_session")[0]["agentSessionId"].clone();
    c.close().await;
    let server = server.restart().await;
    let mut c = server.client().await;
    let hello = c.hello("a", u64::MAX).await;
    assert_eq!(hello["type"], "session");
    let frames = c.turn("recall").await;
    assert!(
        agent_said(&frames).contains("remember the tulips"),
        "{frames:?}"
    );
    // The agent's replay of the old turn went nowhere.
    assert!(!of_type(&frames, "agent_update")
        .iter()
        .any(|f| f["update"]["sessionUpdate"] == "user_message_chunk"));
    assert!(of_type(&frames, "info").is_empty());
    assert!(
        of_type(&frames, "agent_session").is_empty(),
        "same session {before}"
    );
}

#[tokio::test]
async fn an_agent_without_load_starts_a_new_conversation_with_a_note() {
    let server = Server::acp(&["--no-load"]).start().await;
    let mut c = server.joined("a").await;
    c.turn("remember the tulips").await;
    c.close().await;
    let server = server.restart().await;
    let mut c = server.client().await;
    c.hello("a", u64::MAX).await;
    let frames = c.turn("recall").await;
    let note = of_type(&frames, "info")[0]["message"].as_str().unwrap();
    assert!(note.contains("loadSession"), "{note}");
    assert!(!agent_said(&frames).contains("tulips"));
    assert_eq!(end(&frames)["status"], "success");
}

/// The error event of a failed turn, and the turn's end.
async fn failed_turn(c: &mut Client, text: &str) -> (String, Value) {
    let frames = c.turn(text).await;
    let end = end(&frames).clone();
    assert_eq!(end["status"], "error", "{frames:?}");
    let err = of_type(&frames, "error")[0]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    (err, end)
}

#[tokio::test]
async fn bad_agents_give_a_clear_error_naming_the_command_and_the_session_stays_usable() {
    // Tried: a program that does not exist.
    let server = Server::plain()
        .args([
            "--agent",
            "acp",
            "--acp-cmd",
            "/nonexistent/acp-agent --acp",
        ])
        .start()
        .await;
    let mut c = server.joined("a").await;
    let (err, _) = failed_turn(&mut c, "hi").await;
    assert!(err.contains("/nonexistent/acp-agent --acp"), "{err}");
    let (again, _) = failed_turn(&mut c, "hi again").await;
    assert!(again.contains("Could not start"), "{again}");

    // Tried: an agent that never answers initialize.
    let server = Server::acp(&["--hang-init"])
        .args(["--agent-start-timeout", "1s"])
        .start()
        .await;
    let mut c = server.joined("a").await;
    let (err, _) = failed_turn(&mut c, "hi").await;
    assert!(err.contains("acp --hang-init"), "{err}");
    assert!(err.contains("did not open a session"), "{err}");

    // Tried: an agent whose initialize fails with a JSON-RPC error.
    let server = Server::acp(&["--init-error"]).start().await;
    let mut c = server.joined("a").await;
    let (err, _) = failed_turn(&mut c, "hi").await;
    assert!(err.contains("Authentication required"), "{err}");
}

#[tokio::test]
async fn crashes_garbage_and_errors_mid_session_are_reported_and_survived() {
    let server = Server::acp(&[]).start().await;
    let mut c = server.joined("a").await;
    // Tried: the agent exits mid-turn.
    let (err, last) = failed_turn(&mut c, "crash").await;
    assert!(err.contains("acp` exited during the turn"), "{err}");
    assert!(err.contains("crashing on purpose"), "stderr tail: {err}");
    assert_eq!(last["exitCode"], 3);
    let frames = c.turn("back?").await;
    assert_eq!(agent_said(&frames), "You said: back?");
    // Tried: a line on stdout that is not JSON-RPC.
    let frames = c.turn("garbage").await;
    let err = of_type(&frames, "error")[0].clone();
    assert_eq!(err["code"], "agent_not_json_rpc");
    assert!(err["message"]
        .as_str()
        .unwrap()
        .contains("this is not JSON-RPC"));
    assert_eq!(agent_said(&frames), "after garbage");
    assert_eq!(end(&frames)["status"], "success");
    // Tried: the prompt answered with a JSON-RPC error.
    let (err, _) = failed_turn(&mut c, "fail").await;
    assert!(err.contains("model overloaded"), "{err}");
    // Tried: the agent calls a method swe-swe does not serve.
    let frames = c.turn("unknown").await;
    assert!(
        agent_said(&frames).contains("client said -32601"),
        "{frames:?}"
    );
}

async fn hello_with_agent(c: &mut Client, session: &str, agent: &str) -> Value {
    c.send(json!({"type":"hello","session":session,"agent":agent}))
        .await;
    c.recv().await
}

#[tokio::test]
async fn a_new_session_picks_its_agent_from_path_and_keeps_it_for_life() {
    let (_bin, path) = fake_on_path("gemini");
    let server = Server::claude().env("PATH", path).start().await;
    let (status, agents) = server.http("GET", "/api/agents", None).await;
    assert_eq!(status, 200);
    assert_eq!(agents["default"], "claude");
    let names: Vec<&str> = agents["agents"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["name"].as_str())
        .collect();
    assert_eq!(names, ["claude", "gemini"], "{agents}");

    // A session started with gemini runs it (ACP updates, not Claude lines).
    let mut g = server.client().await;
    let reply = hello_with_agent(&mut g, "g", "gemini").await;
    assert_eq!(reply["agent"], "gemini", "{reply}");
    let frames = g.turn("hi gemini").await;
    assert_eq!(agent_said(&frames), "You said: hi gemini");
    // Another session, without a choice, runs the default.
    let mut c = server.joined("c").await;
    let frames = c.turn("hi claude").await;
    assert!(of_type(&frames, "agent_update").is_empty());
    assert!(!of_type(&frames, "claudejson").is_empty());
    // A session with events keeps its agent whatever a tab asks.
    let mut again = server.client().await;
    let reply = hello_with_agent(&mut again, "g", "claude").await;
    assert_eq!(reply["agent"], "gemini");
    // Tried: an agent the server does not offer.
    let mut bad = server.client().await;
    let err = hello_with_agent(&mut bad, "x", "rm -rf /").await;
    assert_eq!(err["code"], "unknown_agent", "{err}");
    let (_, list) = server.http("GET", "/api/sessions", None).await;
    let row = |id: &str| {
        list["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(row("g")["agent"], "gemini", "{list}");
    assert_eq!(row("c")["agent"], "claude");
    assert_eq!(
        row("x"),
        Value::Null,
        "nothing was created for the refused hello"
    );
    for client in [g, c, again, bad] {
        client.close().await;
    }

    // After a restart the session still runs gemini and continues.
    let server = server.restart().await;
    let mut g = server.client().await;
    let reply = g.hello("g", u64::MAX).await;
    assert_eq!(reply["agent"], "gemini");
    let frames = g.turn("recall").await;
    assert!(agent_said(&frames).contains("hi gemini"), "{frames:?}");
}

#[tokio::test]
async fn a_session_whose_agent_is_gone_says_so_instead_of_switching() {
    let (bin, path) = fake_on_path("gemini");
    let server = Server::claude().env("PATH", path).start().await;
    let mut g = server.client().await;
    hello_with_agent(&mut g, "g", "gemini").await;
    g.turn("hi").await;
    g.close().await;
    drop(bin);
    // Restarted where `gemini` is no longer on PATH.
    let (builder, workdir, state) = server.kill().await;
    let server = Server::start_in(
        builder.env("PATH", std::env::var("PATH").unwrap_or_default()),
        workdir,
        state,
    )
    .await;
    let mut g = server.client().await;
    assert_eq!(g.hello("g", u64::MAX).await["agent"], "gemini");
    let frames = g.turn("hi again").await;
    assert_eq!(frames.last().unwrap()["status"], "error");
    let err = of_type(&frames, "error")[0]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        err.contains("runs gemini, which this server does not offer"),
        "{err}"
    );
    assert!(
        of_type(&frames, "claudejson").is_empty(),
        "no silent switch to claude"
    );
}
