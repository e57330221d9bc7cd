//! ACP agents: a turn's updates, permissions, stop, and agents that
//! misbehave, against the pure state machine.

use super::*;

fn acp() -> AgentSpec {
    AgentSpec::Acp(
        crate::agent::acp::AcpSpec::parse("acp", "fake-agent acp")
            .unwrap()
            .in_dir("/work".into()),
    )
}

fn writes(effects: &[Effect]) -> Vec<serde_json::Value> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Write { line, .. } => Some(serde_json::from_str(line).unwrap()),
            _ => None,
        })
        .collect()
}

/// A session whose ACP agent has opened session `s-1`; the first turn's
/// prompt (request id 3) is in flight.
fn acp_turn(text: &str) -> (SessionState, ProcId) {
    let mut s = SessionState::new(cfg(acp(), 10));
    let fx = s.handle(msg(text));
    let (proc, spec) = spawned(&fx).expect("spawned");
    assert_eq!(
        (spec.program.as_str(), spec.args.as_slice()),
        ("fake-agent", &["acp".to_owned()][..])
    );
    assert_eq!(writes(&fx)[0]["method"], "initialize");
    assert!(fx.iter().any(|e| matches!(e, Effect::ArmStartTimer { .. })));
    let fx = s.handle(line(
        proc,
        r#"{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":1}}"#,
    ));
    assert_eq!(writes(&fx)[0]["method"], "session/new");
    let fx = s.handle(line(
        proc,
        r#"{"jsonrpc":"2.0","id":2,"result":{"sessionId":"s-1"}}"#,
    ));
    assert_eq!(types(&fx), ["agent_session"]);
    let prompt = &writes(&fx)[0];
    assert_eq!(prompt["method"], "session/prompt");
    assert_eq!(prompt["params"]["prompt"][0]["text"], text);
    (s, proc)
}

#[test]
fn an_acp_turn_streams_updates_and_ends_with_the_prompts_answer() {
    let (mut s, proc) = acp_turn("hello");
    let fx = s.handle(line(
        proc,
        r#"{"jsonrpc":"2.0","method":"session/update","params":{"sessionId":"s-1","update":{"sessionUpdate":"agent_message_chunk","content":{"type":"text","text":"Hi"}}}}"#,
    ));
    let ev = events(&fx);
    assert_eq!(ev[0]["type"], "agent_update");
    assert_eq!(ev[0]["update"]["content"]["text"], "Hi");
    let fx = s.handle(line(
        proc,
        r#"{"jsonrpc":"2.0","id":3,"result":{"stopReason":"end_turn"}}"#,
    ));
    let ev = events(&fx);
    assert_eq!(ev[0]["type"], "exec_end");
    assert_eq!(ev[0]["status"], "success");
    // The next message goes to the same process, no new handshake.
    let fx = s.handle(msg("again"));
    assert!(spawned(&fx).is_none());
    assert_eq!(writes(&fx)[0]["method"], "session/prompt");
    assert_eq!(writes(&fx)[0]["id"], 4);
}

#[test]
fn an_acp_permission_is_answered_with_the_option_of_the_decisions_kind() {
    let (mut s, proc) = acp_turn("write");
    let fx = s.handle(line(
        proc,
        r#"{"jsonrpc":"2.0","id":0,"method":"session/request_permission","params":{"sessionId":"s-1","toolCall":{"toolCallId":"t1","title":"Write out.txt","kind":"edit","rawInput":{"path":"out.txt"}},"options":[{"optionId":"always","name":"Always","kind":"allow_always"},{"optionId":"once","name":"Allow","kind":"allow_once"},{"optionId":"no","name":"Reject","kind":"reject_once"}]}}"#,
    ));
    let ev = events(&fx);
    assert_eq!(ev[0]["type"], "permission_request");
    assert_eq!(ev[0]["sender"], "Write out.txt");
    assert_eq!(ev[0]["toolCall"]["kind"], "edit");
    assert_eq!(ev[0]["options"][1]["optionId"], "once");
    let request_id = ev[0]["requestId"].as_str().unwrap().to_owned();
    let answer = |decision, option_id: Option<&str>| Input::PermissionAnswer {
        from: 1,
        request_id: request_id.clone(),
        decision,
        reason: None,
        answers: None,
        option_id: option_id.map(str::to_owned),
    };
    let fx = s.handle(answer(Decision::Allow, None));
    assert_eq!(writes(&fx)[0]["id"], 0);
    assert_eq!(writes(&fx)[0]["result"]["outcome"]["optionId"], "once");
    assert_eq!(events(&fx)[0]["type"], "permission_resolved");
    // Answered: a second answer is refused.
    let fx = s.handle(answer(Decision::Deny, Some("no")));
    assert!(writes(&fx).is_empty());
}

#[test]
fn stopping_an_acp_turn_cancels_it_and_voids_open_requests_as_cancelled() {
    let (mut s, proc) = acp_turn("slow");
    s.handle(line(
        proc,
        r#"{"jsonrpc":"2.0","id":9,"method":"session/request_permission","params":{"sessionId":"s-1","toolCall":{"toolCallId":"t"},"options":[]}}"#,
    ));
    let fx = s.handle(Input::Stop {
        from: 1,
        run_id: None,
    });
    let w = writes(&fx);
    assert_eq!(w[0]["id"], 9);
    assert_eq!(w[0]["result"]["outcome"]["outcome"], "cancelled");
    assert_eq!(w[1]["method"], "session/cancel");
    assert!(fx.iter().any(|e| matches!(e, Effect::ArmStopTimer { .. })));
    assert!(!fx.iter().any(|e| matches!(e, Effect::Terminate { .. })));
    let fx = s.handle(line(
        proc,
        r#"{"jsonrpc":"2.0","id":3,"result":{"stopReason":"cancelled"}}"#,
    ));
    let end = events(&fx).pop().unwrap();
    assert_eq!(end["status"], "stopped");
}

#[test]
fn an_acp_agent_that_never_opens_a_session_fails_the_turn_and_is_ended() {
    let mut s = SessionState::new(cfg(acp(), 10));
    let (proc, _) = spawned(&s.handle(msg("hi"))).unwrap();
    let fx = s.handle(Input::AgentStartElapsed { proc });
    let ev = events(&fx);
    assert_eq!(ev[0]["type"], "error");
    assert!(ev[0]["message"]
        .as_str()
        .unwrap()
        .contains("`fake-agent acp`"));
    assert_eq!(ev[1]["status"], "error");
    assert!(fx.iter().any(|e| matches!(e, Effect::Terminate { .. })));
    // The session stays usable: the next message starts a new process.
    let (next, _) = spawned(&s.handle(msg("again"))).unwrap();
    assert_ne!(next, proc);
    // A timer of a process that opened its session in time does nothing.
    let (mut s, proc) = acp_turn("hi");
    assert!(events(&s.handle(Input::AgentStartElapsed { proc })).is_empty());
}

#[test]
fn acp_garbage_is_reported_once_and_a_write_shows_as_a_diff() {
    let (mut s, proc) = acp_turn("hi");
    let fx = s.handle(line(proc, "npm WARN something"));
    assert_eq!(events(&fx)[0]["code"], "agent_not_json_rpc");
    let fx = s.handle(line(proc, "npm WARN again"));
    assert_eq!(events(&fx)[0]["type"], "stderr");
    let fx = s.handle(line(
        proc,
        r#"{"jsonrpc":"2.0","id":5,"method":"fs/write_text_file","params":{"sessionId":"s-1","path":"/work/a.txt","content":"new"}}"#,
    ));
    assert!(fx
        .iter()
        .any(|e| matches!(e, Effect::FileCall { proc: p, .. } if *p == proc)));
    let fx = s.handle(Input::Agent {
        proc,
        event: AgentEvent::FileCallDone {
            rpc_id: "5".into(),
            outcome: FileOutcome::Written {
                path: "/work/a.txt".into(),
                old_text: Some("old".into()),
                new_text: "new".into(),
            },
        },
    });
    assert_eq!(writes(&fx)[0]["id"], 5);
    assert_eq!(writes(&fx)[0]["result"], serde_json::json!({}));
    let update = &events(&fx)[0]["update"];
    assert_eq!(update["content"][0]["type"], "diff");
    assert_eq!(update["content"][0]["oldText"], "old");
}

#[test]
fn an_acp_agent_exiting_mid_turn_names_its_command() {
    let (mut s, proc) = acp_turn("hi");
    let fx = s.handle(exited(proc, 3));
    let ev = events(&fx);
    assert!(ev[0]["message"]
        .as_str()
        .unwrap()
        .contains("`fake-agent acp` exited"));
    assert_eq!(ev[1]["status"], "error");
}
