//! What each Claude Code line costs the server before it reaches the store:
//! reading it (`parse_line`) and writing its `claudejson` frame. Over every
//! real line in tests/fixtures/claude-code-2.1.197, and over the lines of the
//! load tool's turns (the fake agent's `lines` command, the issue's load);
//! prints the median of several rounds in ns per line.
//!
//! Rerun: `cargo bench --bench lines` (`-- real` or `-- load` for one set)

use std::time::Instant;
use swe_swe::agent::claude::lines::parse_line;
use swe_swe::protocol::server::SessionEvent;

const ROUNDS: usize = 15;

fn median_ns_per_line(lines: &[String], reps: usize, mut f: impl FnMut(&str) -> usize) -> f64 {
    let mut sink = 0usize;
    let mut rounds: Vec<f64> = (0..ROUNDS)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..reps {
                for l in lines {
                    sink = sink.wrapping_add(f(l));
                }
            }
            started.elapsed().as_nanos() as f64 / (reps * lines.len()) as f64
        })
        .collect();
    std::hint::black_box(sink);
    rounds.sort_by(f64::total_cmp);
    rounds[ROUNDS / 2]
}

fn main() {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/claude-code-2.1.197"
    );
    let mut lines = Vec::new();
    for entry in std::fs::read_dir(dir).expect("the fixtures") {
        let path = entry.expect("a fixture").path();
        if path.extension().is_some_and(|e| e == "jsonl") {
            let text = std::fs::read_to_string(&path).expect("a fixture's text");
            lines.extend(text.lines().map(str::to_owned));
        }
    }
    // `cargo bench --bench lines -- load` runs one set (for callgrind).
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wanted = |name: &str| only.is_empty() || only.iter().any(|o| o == name);
    if wanted("real") {
        report("real", &lines, 200);
    }
    if wanted("load") {
        report("load", &load_lines(), 32);
    }
}

/// The fake agent's `lines` turn: one short text block per line, its
/// envelope's ids and a send time (tests/support/fake_agent/claude.rs).
fn load_lines() -> Vec<String> {
    (0..200)
        .map(|i| {
            format!(
                r#"{{"type":"assistant","message":{{"id":"msg_l{i}","type":"message","role":"assistant","content":[{{"type":"text","text":"line {i}"}}]}},"parent_tool_use_id":null,"session_id":"d380cc8d-3811-484b-bc70-0ba2ee635e1f","uuid":"b12b8e98-1a71-4ed7-8e72-c3e238c9{i:04}","ts_ns":1796258614414245471}}"#
            )
        })
        .collect()
}

fn report(name: &str, lines: &[String], reps: usize) {
    let bytes: usize = lines.iter().map(String::len).sum();
    println!(
        "{name:<12}{} lines, {} bytes on average",
        lines.len(),
        bytes / lines.len().max(1)
    );
    let parse = median_ns_per_line(lines, reps, |l| match parse_line(l) {
        swe_swe::agent::claude::lines::ClaudeLine::Other => 1,
        _ => 2,
    });
    println!("  parse     {parse:.0} ns per line");
    let mut seq = 0u64;
    let frame = median_ns_per_line(lines, reps, |l| {
        seq += 1;
        SessionEvent::Claudejson {
            content: l.to_owned(),
        }
        .to_frame(seq)
        .len()
    });
    println!("  frame     {frame:.0} ns per line (the line's copy included)");
}
