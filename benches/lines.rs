//! What each Claude Code line costs the server before it reaches the store:
//! reading it (`parse_line`) and writing its `claudejson` frame. Over every
//! real line in tests/fixtures/claude-code-2.1.197; prints the median of
//! several rounds in ns per line.
//!
//! Rerun: `cargo bench --bench lines`

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
    let bytes: usize = lines.iter().map(String::len).sum();
    println!(
        "lines       {} real lines, {} bytes on average",
        lines.len(),
        bytes / lines.len().max(1)
    );
    let reps = 200;
    let parse = median_ns_per_line(&lines, reps, |l| match parse_line(l) {
        swe_swe::agent::claude::lines::ClaudeLine::Other => 1,
        _ => 2,
    });
    println!("parse       {parse:.0} ns per line");
    let mut seq = 0u64;
    let frame = median_ns_per_line(&lines, reps, |l| {
        seq += 1;
        SessionEvent::Claudejson {
            content: l.to_owned(),
        }
        .to_frame(seq)
        .len()
    });
    println!("frame       {frame:.0} ns per line (the line's copy included)");
}
