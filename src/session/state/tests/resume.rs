//! A Claude Code conversation resumed with its past turns.

use super::*;
use crate::agent::claude::past::{PastConversation, PastTurn};

fn past() -> PastConversation {
    let turn = |prompt: &str, interrupted| PastTurn {
        prompt: prompt.into(),
        at_ms: Some(1_000),
        end_ms: Some(2_000),
        lines: vec![
            r#"{"type":"assistant","message":{"content":[{"type":"text","text":"hi"}]}}"#.into(),
        ],
        interrupted,
    };
    PastConversation {
        turns: vec![turn("# Fix **the** parser", false), turn("and again", true)],
        skipped_bytes: 0,
        malformed_lines: 0,
    }
}

#[test]
fn a_fresh_session_opens_with_the_past_turns_then_continues_them() {
    let mut s = SessionState::new(cfg(duplex(), 10));
    let fx = s.handle(Input::ImportConversation {
        id: "c-1".into(),
        past: Box::new(past()),
    });
    let ev = events(&fx);
    let t: Vec<&str> = ev.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        t,
        [
            "agent_session",
            "user_message",
            "exec_start",
            "claudejson",
            "exec_end",
            "user_message",
            "exec_start",
            "claudejson",
            "exec_end",
            "info"
        ]
    );
    assert_eq!(ev[1]["runId"], 1);
    assert_eq!(ev[1]["at"], 1_000);
    assert_eq!(ev[4]["status"], "success");
    assert_eq!(ev[4]["at"], 2_000);
    assert_eq!(ev[5]["runId"], 2);
    assert_eq!(ev[8]["status"], "stopped", "an interrupted past turn");
    assert_eq!(s.meta().title.as_deref(), Some("Fix the parser"));
    assert!(fx
        .iter()
        .any(|e| matches!(e, Effect::SaveMeta(m) if m.next_run == 3)));
    // The next message is run 3 and resumes the conversation.
    s.set_now(5_000);
    let fx = s.handle(msg("next"));
    let ev = events(&fx);
    assert_eq!(ev[0]["runId"], 3);
    assert_eq!(ev[0]["at"], 5_000, "live messages carry the clock");
    assert_eq!(resume_arg(&spawned(&fx).unwrap().1).as_deref(), Some("c-1"));
}

#[test]
fn a_session_with_events_keeps_them_and_only_adopts_the_id() {
    let mut s = SessionState::new(cfg(duplex(), 10));
    s.handle(Input::AdoptAgentSession { id: "a".into() });
    let fx = s.handle(Input::ImportConversation {
        id: "c-1".into(),
        past: Box::new(past()),
    });
    assert_eq!(types(&fx), ["agent_session"]);
}
