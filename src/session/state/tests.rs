//! Orderings of inputs, driven directly against the pure state machine.

use super::*;
use crate::agent::template::Template;

fn cfg(agent: AgentSpec, history_cap: usize) -> SessionConfig {
    SessionConfig {
        agent,
        history_cap,
        tool_cache_cap: 1000,
        queue_cap: 4,
        stop_grace: Duration::from_secs(4),
        agent_start_timeout: Duration::from_secs(5),
    }
}

fn classic() -> AgentSpec {
    AgentSpec::Claude {
        bin: "claude".into(),
        mode: ClaudeMode::Classic,
    }
}

fn duplex() -> AgentSpec {
    AgentSpec::Claude {
        bin: "claude".into(),
        mode: ClaudeMode::Duplex,
    }
}

fn events(effects: &[Effect]) -> Vec<serde_json::Value> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Event { frame: f, .. } => Some(serde_json::from_str(f).unwrap()),
            _ => None,
        })
        .collect()
}

fn types(effects: &[Effect]) -> Vec<String> {
    events(effects)
        .iter()
        .map(|v| v["type"].as_str().unwrap().to_owned())
        .collect()
}

fn spawned(effects: &[Effect]) -> Option<(ProcId, SpawnSpec)> {
    effects.iter().find_map(|e| match e {
        Effect::Spawn { proc, spec } => Some((*proc, SpawnSpec::clone(spec))),
        _ => None,
    })
}

fn msg(content: &str) -> Input {
    Input::UserMessage {
        from: 1,
        content: content.into(),
        agent_session_hint: None,
        attachments: Vec::new(),
    }
}

fn line(proc: ProcId, l: &str) -> Input {
    Input::Agent {
        proc,
        event: AgentEvent::Line(l.into()),
    }
}

fn exited(proc: ProcId, code: i32) -> Input {
    Input::Agent {
        proc,
        event: AgentEvent::Exited {
            code: Some(code),
            signal: None,
        },
    }
}

fn resume_arg(spec: &SpawnSpec) -> Option<String> {
    spec.args
        .iter()
        .find_map(|a| a.strip_prefix("--resume=").map(str::to_owned))
}

#[test]
fn classic_turn_is_bracketed_and_learns_the_session_id() {
    let mut s = SessionState::new(cfg(classic(), 10));
    let fx = s.handle(msg("hello"));
    assert_eq!(types(&fx), ["user_message", "exec_start"]);
    let (p, spec) = spawned(&fx).unwrap();
    assert_eq!(spec.args.last().unwrap(), "hello");
    let fx = s.handle(line(
        p,
        r#"{"type":"system","subtype":"init","session_id":"s1"}"#,
    ));
    assert_eq!(types(&fx), ["claudejson", "agent_session"]);
    s.handle(line(
        p,
        r#"{"type":"result","subtype":"success","is_error":false,"session_id":"s1"}"#,
    ));
    let fx = s.handle(exited(p, 0));
    let ev = events(&fx);
    assert_eq!(ev[0]["type"], "exec_end");
    assert_eq!(ev[0]["status"], "success");
    assert_eq!(s.snapshot().history, ["s1"]);
    // The next turn resumes it.
    let fx = s.handle(msg("again"));
    assert_eq!(resume_arg(&spawned(&fx).unwrap().1).as_deref(), Some("s1"));
}

/// A reader's batch fed whole makes the events its lines make one by one.
/// Tried: a turn's init, text, tool use and result lines, then the exit.
#[test]
fn lines_fed_together_make_what_they_make_one_by_one() {
    let lines = [
        r#"{"type":"system","subtype":"init","session_id":"s1"}"#,
        r#"{"type":"assistant","message":{"content":[{"type":"text","text":"a \"b\""}]}}"#,
        r#"{"type":"assistant","message":{"content":[{"type":"tool_use","id":"t1","name":"Read","input":{"file_path":"x"}}]}}"#,
        "not json",
        r#"{"type":"result","subtype":"success","is_error":false,"session_id":"s1"}"#,
    ];
    let run = |together: bool| {
        let mut s = SessionState::new(cfg(classic(), 10));
        let (p, _) = spawned(&s.handle(msg("hello"))).unwrap();
        let mut fx = Vec::new();
        if together {
            fx.extend(s.handle(Input::Agent {
                proc: p,
                event: AgentEvent::Lines(lines.iter().map(|l| l.to_string()).collect()),
            }));
        } else {
            for l in lines {
                fx.extend(s.handle(line(p, l)));
            }
        }
        fx.extend(s.handle(exited(p, 0)));
        (events(&fx), s.snapshot().history)
    };
    let (one_by_one, together) = (run(false), run(true));
    assert!(one_by_one.0.len() > lines.len(), "{:?}", one_by_one.0);
    assert_eq!(together, one_by_one);
}

#[test]
fn classic_resume_falls_back_newest_first_then_fresh_and_says_so() {
    let mut s = SessionState::new(cfg(classic(), 10));
    for id in ["a", "b", "c"] {
        s.handle(Input::AdoptAgentSession { id: id.into() });
    }
    let mut fx = s.handle(msg("hi"));
    let mut tried = Vec::new();
    loop {
        let (p, spec) = spawned(&fx).expect("a process is started");
        let resume = resume_arg(&spec);
        tried.push(resume.clone());
        let Some(id) = resume else { break };
        s.handle(Input::Agent {
            proc: p,
            event: AgentEvent::Stderr(format!("No conversation found with session ID: {id}")),
        });
        fx = s.handle(exited(p, 1));
        assert!(types(&fx).contains(&"info".to_owned()), "the user is told");
    }
    assert_eq!(
        tried,
        [Some("c".into()), Some("b".into()), Some("a".into()), None]
    );
    let last_info = events(&fx)
        .into_iter()
        .find(|e| e["type"] == "info")
        .unwrap();
    assert!(last_info["message"]
        .as_str()
        .unwrap()
        .contains("starting a new conversation"));
    assert!(s.snapshot().history.is_empty(), "dead ids are forgotten");
}

#[test]
fn classic_permission_denial_asks_and_allow_reruns_with_the_tool() {
    let mut s = SessionState::new(cfg(classic(), 10));
    let (p, _) = spawned(&s.handle(msg("write w.txt"))).unwrap();
    s.handle(line(
        p,
        r#"{"type":"system","subtype":"init","session_id":"s1"}"#,
    ));
    s.handle(line(
        p,
        r#"{"type":"assistant","message":{"content":[{"type":"tool_use","id":"t1","name":"Write","input":{"file_path":"w.txt"}}]}}"#,
    ));
    let fx = s.handle(line(
        p,
        r#"{"type":"user","message":{"content":[{"type":"tool_result","content":"Claude requested permissions to write to w.txt, but you haven't granted it yet.","is_error":true,"tool_use_id":"t1"}]}}"#,
    ));
    let req = events(&fx)
        .into_iter()
        .find(|e| e["type"] == "permission_request")
        .unwrap();
    assert_eq!(req["sender"], "Write");
    s.handle(line(
        p,
        r#"{"type":"result","subtype":"success","session_id":"s1"}"#,
    ));
    let fx = s.handle(exited(p, 0));
    assert!(
        !types(&fx).contains(&"exec_end".to_owned()),
        "the turn waits for the answer"
    );
    let fx = s.handle(Input::PermissionAnswer {
        from: 2,
        request_id: req["requestId"].as_str().unwrap().into(),
        decision: Decision::Allow,
        reason: None,
        answers: None,
        option_id: None,
    });
    let (_, spec) = spawned(&fx).unwrap();
    assert!(spec.args.contains(&"--allowedTools=Write".to_owned()));
    assert!(spec.args.contains(&"--resume=s1".to_owned()));
    assert!(!spec
        .args
        .contains(&"--dangerously-skip-permissions".to_owned()));
    assert!(
        s.snapshot().permissions.allowed_tools.is_empty(),
        "allow once is not remembered"
    );
}

#[test]
fn duplex_permission_allow_always_is_remembered_and_deny_carries_the_reason() {
    let mut s = SessionState::new(cfg(duplex(), 10));
    let fx = s.handle(msg("write a"));
    let (p, spec) = spawned(&fx).unwrap();
    assert_eq!(spec.stdin, crate::agent::StdinMode::Open);
    assert!(fx
        .iter()
        .any(|e| matches!(e, Effect::Write { line, .. } if line.contains("write a"))));
    let can_use = |req: &str| {
        format!(
            r#"{{"type":"control_request","request_id":"{req}","request":{{"subtype":"can_use_tool","tool_name":"Write","input":{{"file_path":"a"}},"tool_use_id":"t"}}}}"#
        )
    };
    let fx = s.handle(line(p, &can_use("r1")));
    let req = events(&fx)
        .into_iter()
        .find(|e| e["type"] == "permission_request")
        .unwrap();
    let fx = s.handle(Input::PermissionAnswer {
        from: 1,
        request_id: req["requestId"].as_str().unwrap().into(),
        decision: Decision::AllowAlways,
        reason: None,
        answers: None,
        option_id: None,
    });
    assert!(fx
        .iter()
        .any(|e| matches!(e, Effect::Write { line, .. } if line.contains(r#""behavior":"allow""#) && line.contains("r1"))));
    // A second answer to the same prompt is refused, to that tab only.
    let fx = s.handle(Input::PermissionAnswer {
        from: 9,
        request_id: req["requestId"].as_str().unwrap().into(),
        decision: Decision::Deny,
        reason: None,
        answers: None,
        option_id: None,
    });
    assert!(matches!(&fx[..], [Effect::Reply { to: 9, .. }]));
    // Remembered: no prompt the second time.
    let fx = s.handle(line(p, &can_use("r2")));
    assert!(types(&fx) == ["claudejson"]);
    assert!(fx.iter().any(
        |e| matches!(e, Effect::Write { line, .. } if line.contains("r2") && line.contains("allow"))
    ));
    s.handle(line(p, r#"{"type":"result","subtype":"success"}"#));
    // A different tool, denied with a reason.
    s.handle(msg("bash"));
    let fx = s.handle(line(
        p,
        r#"{"type":"control_request","request_id":"r3","request":{"subtype":"can_use_tool","tool_name":"Bash","input":{}}}"#,
    ));
    let req = events(&fx)
        .into_iter()
        .find(|e| e["type"] == "permission_request")
        .unwrap();
    let fx = s.handle(Input::PermissionAnswer {
        from: 1,
        request_id: req["requestId"].as_str().unwrap().into(),
        decision: Decision::Deny,
        reason: Some("not now".into()),
        answers: None,
        option_id: None,
    });
    assert!(fx
        .iter()
        .any(|e| matches!(e, Effect::Write { line, .. } if line.contains("deny") && line.contains("not now"))));
}

#[test]
fn stale_stop_never_touches_the_next_run() {
    let mut s = SessionState::new(cfg(
        AgentSpec::Template(Template::parse("agent ?", None).unwrap()),
        10,
    ));
    let (p1, _) = spawned(&s.handle(msg("one"))).unwrap();
    s.handle(msg("two")); // queued
    let fx = s.handle(Input::Stop {
        from: 1,
        run_id: Some(1),
    });
    assert!(fx
        .iter()
        .any(|e| matches!(e, Effect::Terminate { proc, .. } if *proc == p1)));
    let fx = s.handle(Input::Agent {
        proc: p1,
        event: AgentEvent::Exited {
            code: None,
            signal: Some(2),
        },
    });
    assert_eq!(types(&fx), ["exec_end", "user_message", "exec_start"]);
    assert_eq!(events(&fx)[0]["status"], "stopped");
    let (p2, _) = spawned(&fx).unwrap();
    // The stop for run 1 arrives again, late: run 2 is not touched.
    let fx = s.handle(Input::Stop {
        from: 1,
        run_id: Some(1),
    });
    assert!(fx.iter().all(|e| !matches!(e, Effect::Terminate { .. })));
    // Output of the dead process is ignored.
    assert!(s.handle(line(p1, "late")).is_empty());
    assert!(!s.handle(line(p2, "fresh")).is_empty());
}

#[test]
fn stop_with_nothing_running_is_answered() {
    let mut s = SessionState::new(cfg(duplex(), 10));
    let fx = s.handle(Input::Stop {
        from: 3,
        run_id: None,
    });
    let [Effect::Reply { to: 3, frame }] = &fx[..] else {
        panic!("{fx:?}")
    };
    assert!(frame.contains(r#""running":false"#));
}

#[test]
fn duplex_stop_interrupts_then_escalates_and_voids_the_prompt() {
    let mut s = SessionState::new(cfg(duplex(), 10));
    let (p, _) = spawned(&s.handle(msg("write a"))).unwrap();
    s.handle(line(
        p,
        r#"{"type":"control_request","request_id":"r1","request":{"subtype":"can_use_tool","tool_name":"Write","input":{}}}"#,
    ));
    let fx = s.handle(Input::Stop {
        from: 1,
        run_id: None,
    });
    assert!(types(&fx).contains(&"permission_void".to_owned()));
    assert!(fx
        .iter()
        .any(|e| matches!(e, Effect::Write { line, .. } if line.contains("interrupt"))));
    assert!(fx.iter().any(|e| matches!(e, Effect::ArmStopTimer { run_id: 1, after } if *after == Duration::from_secs(2))));
    let fx = s.handle(Input::StopGraceElapsed { run_id: 1 });
    assert!(
        matches!(&fx[..], [Effect::Terminate { grace, .. }] if *grace == Duration::from_secs(2))
    );
    let fx = s.handle(Input::Agent {
        proc: p,
        event: AgentEvent::Exited {
            code: None,
            signal: Some(9),
        },
    });
    assert_eq!(events(&fx).last().unwrap()["status"], "stopped");
}

#[test]
fn crash_mid_turn_ends_the_turn_with_an_error_and_the_next_message_resumes() {
    let mut s = SessionState::new(cfg(duplex(), 10));
    let (p, _) = spawned(&s.handle(msg("crash"))).unwrap();
    s.handle(line(
        p,
        r#"{"type":"system","subtype":"init","session_id":"s9"}"#,
    ));
    let fx = s.handle(exited(p, 3));
    assert_eq!(types(&fx), ["error", "exec_end"]);
    let fx = s.handle(msg("again"));
    assert_eq!(resume_arg(&spawned(&fx).unwrap().1).as_deref(), Some("s9"));
}

#[test]
fn spawn_failure_is_explained() {
    let mut s = SessionState::new(cfg(classic(), 10));
    let (p, _) = spawned(&s.handle(msg("hi"))).unwrap();
    let fx = s.handle(Input::Agent {
        proc: p,
        event: AgentEvent::SpawnFailed {
            error: "\"claude\" was not found".into(),
        },
    });
    let ev = events(&fx);
    assert_eq!(ev[0]["type"], "error");
    let m = ev[0]["message"].as_str().unwrap();
    assert!(m.contains("npm install -g @anthropic-ai/claude-code") && m.contains("--claude-bin"));
    assert_eq!(ev[1]["type"], "exec_end");
    assert!(s.is_idle());
}

#[test]
fn legacy_permission_response_replaces_the_whole_value() {
    let mut s = SessionState::new(cfg(classic(), 10));
    s.handle(Input::LegacyPermission {
        allowed_tools: vec!["Write".into(), "Bash".into()],
        skip: true,
    });
    s.handle(Input::LegacyPermission {
        allowed_tools: vec!["Read".into()],
        skip: false,
    });
    let p = s.snapshot().permissions;
    assert_eq!(p.allowed_tools, ["Read".to_string()].into());
    assert!(!p.skip_all);
}

#[test]
fn permission_mode_reaches_tabs_the_live_process_and_the_next_spawn() {
    let mut s = SessionState::new(cfg(duplex(), 10));
    let fx = s.handle(msg("hi"));
    let (p, spec) = spawned(&fx).unwrap();
    assert!(!spec.args.iter().any(|a| a.starts_with("--permission-mode")));
    let fx = s.handle(Input::SetPermissionMode {
        mode: PermissionMode::Plan,
    });
    let ev = events(&fx);
    assert_eq!(ev[0]["type"], "permission_mode");
    assert_eq!(ev[0]["mode"], "plan");
    assert!(fx.iter().any(|e| matches!(e, Effect::Write { line, .. }
        if line.contains("set_permission_mode") && line.contains(r#""mode":"plan""#))));
    assert!(fx.iter().any(|e| matches!(e, Effect::SaveMeta(m)
        if m.permission_mode.as_deref() == Some("plan"))));
    // The same mode again changes nothing anyone sees.
    let fx = s.handle(Input::SetPermissionMode {
        mode: PermissionMode::Plan,
    });
    assert!(events(&fx).is_empty());
    // The plan is approved: plan mode ends, as inside the CLI.
    let fx = s.handle(line(
        p,
        r#"{"type":"control_request","request_id":"r1","request":{"subtype":"can_use_tool","tool_name":"ExitPlanMode","input":{"plan":"1. do it"}}}"#,
    ));
    let req = events(&fx)
        .into_iter()
        .find(|e| e["type"] == "permission_request")
        .unwrap();
    let fx = s.handle(Input::PermissionAnswer {
        from: 1,
        request_id: req["requestId"].as_str().unwrap().into(),
        decision: Decision::Allow,
        reason: None,
        answers: None,
        option_id: None,
    });
    assert!(events(&fx)
        .iter()
        .any(|e| e["type"] == "permission_mode" && e["mode"] == "default"));
    assert_eq!(s.permission_mode(), PermissionMode::Default);
    // A new process starts in the chosen mode.
    s.handle(Input::SetPermissionMode {
        mode: PermissionMode::AcceptEdits,
    });
    s.handle(line(p, r#"{"type":"result","subtype":"success"}"#));
    s.handle(exited(p, 0));
    let fx = s.handle(msg("again"));
    let (_, spec) = spawned(&fx).unwrap();
    assert!(spec
        .args
        .contains(&"--permission-mode=acceptEdits".to_owned()));
}

#[test]
fn bypass_answers_tools_but_never_questions_and_answers_reach_the_agent() {
    let mut s = SessionState::new(cfg(duplex(), 10));
    let fx = s.handle(msg("hi"));
    let (p, _) = spawned(&fx).unwrap();
    s.handle(Input::SetPermissionMode {
        mode: PermissionMode::BypassPermissions,
    });
    assert!(s.snapshot().permissions.skip_all);
    let fx = s.handle(line(
        p,
        r#"{"type":"control_request","request_id":"r1","request":{"subtype":"can_use_tool","tool_name":"Bash","input":{"command":"ls"}}}"#,
    ));
    assert_eq!(types(&fx), ["claudejson"], "answered without a prompt");
    let fx = s.handle(line(
        p,
        r#"{"type":"control_request","request_id":"r2","request":{"subtype":"can_use_tool","tool_name":"AskUserQuestion","input":{"questions":[{"question":"Which?","options":[{"label":"A"},{"label":"B"}]}]}}}"#,
    ));
    let req = events(&fx)
        .into_iter()
        .find(|e| e["type"] == "permission_request")
        .expect("a question is always asked");
    let answers = serde_json::json!({"Which?": "B"});
    let fx = s.handle(Input::PermissionAnswer {
        from: 1,
        request_id: req["requestId"].as_str().unwrap().into(),
        decision: Decision::Allow,
        reason: None,
        answers: Some(answers.clone()),
        option_id: None,
    });
    let written = fx
        .iter()
        .find_map(|e| match e {
            Effect::Write { line, .. } => Some(line.clone()),
            _ => None,
        })
        .unwrap();
    let v: Value = serde_json::from_str(&written).unwrap();
    let updated = &v["response"]["response"]["updatedInput"];
    assert_eq!(updated["answers"], answers);
    assert_eq!(updated["questions"][0]["question"], "Which?");
    let resolved = events(&fx)
        .into_iter()
        .find(|e| e["type"] == "permission_resolved")
        .unwrap();
    assert_eq!(resolved["answers"], answers, "other tabs see the answer");
}

#[test]
fn a_turn_cut_short_by_shutdown_is_interrupted_not_stopped() {
    let mut s = SessionState::new(cfg(duplex(), 10));
    let (proc, _) = spawned(&s.handle(msg("hold"))).unwrap();
    let fx = s.handle(Input::Shutdown);
    assert!(fx.iter().any(|e| matches!(e, Effect::Terminate { .. })));
    let ev = events(&s.handle(exited(proc, 0)));
    let end = ev.iter().find(|e| e["type"] == "exec_end").unwrap();
    assert_eq!(end["status"], "interrupted");
    assert!(end["message"].as_str().unwrap().contains("shut down"));
    // A user's stop stays a stop.
    let mut s = SessionState::new(cfg(classic(), 10));
    let (proc, _) = spawned(&s.handle(msg("hold"))).unwrap();
    s.handle(Input::Stop {
        from: 1,
        run_id: None,
    });
    let ev = events(&s.handle(exited(proc, 0)));
    assert_eq!(ev.last().unwrap()["status"], "stopped");
}

mod acp;
mod history;
mod resume;
mod usage;
