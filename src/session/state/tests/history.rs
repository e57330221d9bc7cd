//! The conversation history (resume ids) under any interleaving of inputs.

use super::*;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Append(u8),
    Read,
    Message,
    ResumeFails,
    Succeeds,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..20).prop_map(Op::Append),
        Just(Op::Read),
        Just(Op::Message),
        Just(Op::ResumeFails),
        Just(Op::Succeeds),
    ]
}

proptest! {
    /// Any interleaving of appends, reads, turns and failing resumes keeps
    /// the history bounded, duplicate-free and newest-last, and a fallback
    /// walk tries ids newest-first, each once, then starts fresh.
    #[test]
    fn history_invariants_hold_under_any_interleaving(ops in proptest::collection::vec(op(), 1..80), cap in 1usize..6) {
        let mut s = SessionState::new(cfg(classic(), cap));
        let mut last_append: Option<String> = None;
        let mut current: Option<ProcId> = None;
        let mut walk: Vec<Option<String>> = Vec::new();
        let mut walk_start: Vec<String> = Vec::new();
        for op in ops {
            let fx = match op {
                Op::Append(i) => {
                    let id = format!("id{i}");
                    last_append = Some(id.clone());
                    s.handle(Input::AdoptAgentSession { id })
                }
                Op::Read => Vec::new(),
                Op::Message => s.handle(msg("m")),
                Op::ResumeFails => match current {
                    Some(p) => {
                        s.handle(Input::Agent { proc: p, event: AgentEvent::Stderr("No conversation found with session ID: x".into()) });
                        s.handle(exited(p, 1))
                    }
                    None => Vec::new(),
                },
                Op::Succeeds => match current {
                    Some(p) => {
                        s.handle(line(p, r#"{"type":"result","subtype":"success"}"#));
                        s.handle(exited(p, 0))
                    }
                    None => Vec::new(),
                },
            };
            if fx.iter().any(|e| matches!(e, Effect::Event { frame: f, .. } if f.contains(r#""type":"exec_start""#))) {
                // A turn started in this step (none of these steps changes the
                // history before starting one): its walk starts over.
                walk.clear();
                walk_start = s.snapshot().history.into_iter().rev().collect();
            }
            if let Some((p, spec)) = spawned(&fx) {
                current = Some(p);
                walk.push(resume_arg(&spec));
            } else if fx.iter().any(|e| matches!(e, Effect::Event { frame: f, .. } if f.contains(r#""type":"exec_end""#))) {
                current = None;
            }
            let h = s.snapshot().history;
            prop_assert!(h.len() <= cap);
            let mut dedup = h.clone();
            dedup.sort();
            dedup.dedup();
            prop_assert_eq!(dedup.len(), h.len());
            if let (Op::Append(_), Some(id)) = (&op, &last_append) {
                prop_assert_eq!(h.last(), Some(id));
            }
            // The walk so far is a prefix of "snapshot newest-first, then fresh"
            // (ids adopted during the walk do not join it).
            let mut expected: Vec<Option<String>> = walk_start.iter().cloned().map(Some).collect();
            expected.push(None);
            let tried: Vec<_> = walk.iter().take_while(|x| x.is_some()).cloned().collect();
            prop_assert!(tried.len() <= walk_start.len());
            prop_assert_eq!(&tried[..], &expected[..tried.len()]);
        }
    }
}
