//! A turn's own cost from Claude Code's running totals.

use super::*;

fn result(total: f64, input: u64, output: u64) -> String {
    format!(
        r#"{{"type":"result","subtype":"success","is_error":false,"session_id":"s1","total_cost_usd":{total},"usage":{{"input_tokens":{input},"cache_read_input_tokens":5,"output_tokens":{output}}},"modelUsage":{{"m":{{"contextWindow":200000}}}}}}"#
    )
}

#[test]
fn duplex_turns_cost_the_difference_of_the_process_totals() {
    let mut s = SessionState::new(cfg(duplex(), 10));
    let fx = s.handle(msg("one"));
    let (p, _) = spawned(&fx).unwrap();
    s.handle(line(
        p,
        r#"{"type":"assistant","message":{"content":[],"usage":{"input_tokens":100,"cache_read_input_tokens":900}}}"#,
    ));
    let ev = events(&s.handle(line(p, &result(0.25, 20, 10))));
    let usage = ev.iter().find(|e| e["type"] == "usage").unwrap();
    assert_eq!(usage["runId"], 1);
    assert_eq!(usage["costUsd"], 0.25);
    assert_eq!(usage["inputTokens"], 25);
    assert_eq!(usage["outputTokens"], 10);
    assert_eq!(usage["sessionCostUsd"], 0.25);
    assert_eq!(usage["contextTokens"], 1000);
    assert_eq!(usage["contextWindow"], 200000);
    assert_eq!(ev.last().unwrap()["type"], "exec_end");

    // The same process's second turn reports 0.375 so far: it cost 0.125.
    s.handle(msg("two"));
    let ev = events(&s.handle(line(p, &result(0.375, 10, 5))));
    let usage = ev.iter().find(|e| e["type"] == "usage").unwrap();
    assert_eq!(usage["runId"], 2);
    assert_eq!(usage["costUsd"], 0.125);
    assert_eq!(usage["sessionCostUsd"], 0.375);
    assert_eq!(s.meta().cost_usd, 0.375);

    // A new process counts from zero again: its 0.5 is all this turn's.
    s.handle(exited(p, 0));
    let fx = s.handle(msg("three"));
    let (p2, _) = spawned(&fx).unwrap();
    let ev = events(&s.handle(line(p2, &result(0.5, 1, 1))));
    let usage = ev.iter().find(|e| e["type"] == "usage").unwrap();
    assert_eq!(usage["costUsd"], 0.5);
    assert_eq!(usage["sessionCostUsd"], 0.875);
}

#[test]
fn the_total_survives_a_restart() {
    let mut s = SessionState::new(cfg(duplex(), 10));
    let fx = s.handle(msg("one"));
    let (p, _) = spawned(&fx).unwrap();
    s.handle(line(p, &result(0.5, 1, 1)));
    let (restored, _) = SessionState::restore(cfg(duplex(), 10), &s.meta(), 10);
    assert_eq!(restored.cost_usd(), 0.5);
}
