//! Fuzzing over arbitrary and mutated input: the client-message decoder and
//! the agent-line parser (and the session state machine behind it) take any
//! bytes without panicking.
//!
//! The corpus is kept in the repository: `fuzz/corpus/client/` (one client
//! frame per file; `refused-*` files must be refused whole), every line of
//! the captured Claude Code output in `tests/fixtures/`, and
//! `fuzz/corpus/agent/`. Each case picks a seed and applies a few mutations
//! (byte flips, inserts, deletions, repeats, splices from another seed), the
//! way a coverage-free mutation fuzzer would. Failures proptest finds are
//! written to `proptest-regressions/` and replayed first on every later run.
//!
//! Bounded for CI: `FUZZ_CASES` cases per property (default 2,000); a longer
//! run is `FUZZ_CASES=200000 cargo test --lib fuzz_tests`.

use crate::agent::claude::lines::parse_line;
use crate::protocol::client::decode_client_message;
use proptest::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("corpus folder {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// (file name, bytes) of every client seed.
fn client_corpus() -> &'static [(String, Vec<u8>)] {
    static CORPUS: OnceLock<Vec<(String, Vec<u8>)>> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let mut files = Vec::new();
        files_under(&root().join("fuzz/corpus/client"), &mut files);
        files
            .into_iter()
            .map(|p| {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                (name, std::fs::read(&p).unwrap())
            })
            .collect()
    })
}

/// Every agent line of the fixtures (a transcript's `>> ` lines are what
/// swe-swe wrote to the agent: left out) and of `fuzz/corpus/agent/`.
fn agent_corpus() -> &'static [Vec<u8>] {
    static CORPUS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let mut files = Vec::new();
        files_under(&root().join("tests/fixtures"), &mut files);
        files_under(&root().join("fuzz/corpus/agent"), &mut files);
        let mut lines = Vec::new();
        for p in files {
            let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
            if !["jsonl", "transcript"].contains(&ext) {
                continue;
            }
            let text = std::fs::read(&p).unwrap();
            lines.extend(
                text.split(|b| *b == b'\n')
                    .filter(|l| !l.is_empty() && !l.starts_with(b">> "))
                    .map(<[u8]>::to_vec),
            );
        }
        lines
    })
}

fn cases() -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000)
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip {
        at: prop::sample::Index,
        byte: u8,
    },
    Insert {
        at: prop::sample::Index,
        bytes: Vec<u8>,
    },
    Delete {
        at: prop::sample::Index,
        len: usize,
    },
    Repeat {
        at: prop::sample::Index,
        len: usize,
        times: usize,
    },
    Splice {
        from: prop::sample::Index,
        at: prop::sample::Index,
        start: prop::sample::Index,
        len: usize,
    },
}

/// Bytes a JSON parser cares about, more often than chance would pick them.
fn interesting_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        any::<u8>(),
        prop::sample::select(b"{}[]\":,\\0-9eE.+-nutf \n\r\t\x00\x7f\xff".to_vec()),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let idx = any::<prop::sample::Index>;
    prop_oneof![
        (idx(), interesting_byte()).prop_map(|(at, byte)| Mutation::Flip { at, byte }),
        (idx(), prop::collection::vec(interesting_byte(), 1..8))
            .prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        (idx(), 1..64usize).prop_map(|(at, len)| Mutation::Delete { at, len }),
        (idx(), 1..32usize, 2..64usize).prop_map(|(at, len, times)| Mutation::Repeat {
            at,
            len,
            times
        }),
        (idx(), idx(), idx(), 1..200usize).prop_map(|(from, at, start, len)| Mutation::Splice {
            from,
            at,
            start,
            len
        }),
    ]
}

fn mutate(seed: &[u8], mutations: &[Mutation], others: &[&[u8]]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for m in mutations {
        let n = b.len();
        match m {
            Mutation::Flip { at, byte } if n > 0 => b[at.index(n)] = *byte,
            Mutation::Flip { .. } => b.push(0),
            Mutation::Insert { at, bytes } => {
                let i = at.index(n + 1);
                b.splice(i..i, bytes.iter().copied());
            }
            Mutation::Delete { at, len } => {
                let i = at.index(n + 1);
                b.drain(i..(i + len).min(n));
            }
            Mutation::Repeat { at, len, times } => {
                let i = at.index(n + 1);
                let piece = b[i..(i + len).min(n)].to_vec();
                let grown: Vec<u8> = piece.repeat(*times);
                b.splice(i..i, grown);
            }
            Mutation::Splice {
                from,
                at,
                start,
                len,
            } => {
                let other = others[from.index(others.len())];
                let s = start.index(other.len() + 1);
                let piece = &other[s..(s + len).min(other.len())];
                let i = at.index(n + 1);
                b.splice(i..i, piece.iter().copied());
            }
        }
    }
    b
}

#[test]
fn the_client_corpus_decodes_as_named() {
    assert!(client_corpus().len() >= 15, "the corpus is in the repo");
    for (name, bytes) in client_corpus() {
        let text = std::str::from_utf8(bytes).expect("client seeds are text frames");
        let decoded = decode_client_message(text);
        if name.starts_with("refused-") {
            assert!(decoded.is_err(), "{name} must be refused: {decoded:?}");
        } else {
            assert!(decoded.is_ok(), "{name} must decode: {decoded:?}");
        }
    }
}

#[test]
fn the_agent_corpus_holds_the_fixtures() {
    let lines = agent_corpus();
    assert!(lines.len() > 100, "{} lines", lines.len());
    let parsed = lines
        .iter()
        .filter(|l| {
            !matches!(
                parse_line(&String::from_utf8_lossy(l)),
                crate::agent::claude::lines::ClaudeLine::NotJson
            )
        })
        .count();
    assert!(
        parsed * 10 >= lines.len() * 9,
        "most seeds are real JSON lines: {parsed}/{}",
        lines.len()
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn decoder_takes_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode_client_message(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn decoder_takes_mutated_corpus_frames(
        pick in any::<prop::sample::Index>(),
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        let corpus = client_corpus();
        let others: Vec<&[u8]> = corpus.iter().map(|(_, b)| b.as_slice()).collect();
        let bytes = mutate(&corpus[pick.index(corpus.len())].1, &mutations, &others);
        let _ = decode_client_message(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn decoder_takes_json_shaped_noise(
        t in prop_oneof![Just("hello"), Just("message"), Just("stop"), Just("permission_response"),
            Just("cancel_queued"), Just("fuzzy_search"), Just("set_permission_mode"), Just("x")],
        key in "[a-zA-Z]{1,12}",
        value in prop_oneof![Just("null".to_owned()), Just("-1".to_owned()), Just("1e400".to_owned()),
            Just("[]".to_owned()), Just("{}".to_owned()), "\"[^\"\\\\]{0,20}\"", any::<i64>().prop_map(|n| n.to_string())],
    ) {
        let text = format!(r#"{{"type":"{t}","{key}":{value},"runId":{value},"requestId":{value},"decision":{value},"answers":{value},"mode":{value}}}"#);
        let _ = decode_client_message(&text);
    }

    #[test]
    fn line_parser_takes_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_line(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn line_parser_takes_mutated_corpus_lines(
        pick in any::<prop::sample::Index>(),
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        let corpus = agent_corpus();
        let others: Vec<&[u8]> = corpus.iter().map(Vec::as_slice).collect();
        let bytes = mutate(&corpus[pick.index(corpus.len())], &mutations, &others);
        let _ = parse_line(&String::from_utf8_lossy(&bytes));
    }

    /// Past the parser: a running duplex session fed mutated agent lines
    /// (and real ones) keeps its log gap-free and every event valid JSON.
    #[test]
    fn session_takes_mutated_agent_output(
        picks in prop::collection::vec((any::<prop::sample::Index>(), prop::collection::vec(mutation(), 0..4)), 1..24),
    ) {
        use crate::session::state::{AgentEvent, Effect, Input};
        let corpus = agent_corpus();
        let others: Vec<&[u8]> = corpus.iter().map(Vec::as_slice).collect();
        let mut s = crate::session::state::SessionState::new(crate::session::state::SessionConfig {
            agent: crate::agent::AgentSpec::Claude { bin: "claude".into(), mode: crate::agent::ClaudeMode::Duplex },
            history_cap: 10,
            tool_cache_cap: 100,
            queue_cap: 4,
            stop_grace: std::time::Duration::from_secs(4),
            agent_start_timeout: std::time::Duration::from_secs(5),
        });
        let fx = s.handle(Input::UserMessage { from: 1, content: "hi".into(), agent_session_hint: None, attachments: Vec::new() });
        let proc = fx.iter().find_map(|e| match e { Effect::Spawn { proc, .. } => Some(*proc), _ => None });
        let proc = proc.expect("a turn starts an agent");
        let mut seqs = Vec::new();
        let mut feed = |input: Input| {
            for e in s.handle(input) {
                if let Effect::Event { seq, frame } = e {
                    serde_json::from_str::<serde_json::Value>(&frame).expect("events are JSON");
                    // One line each: the store splits its rows on newlines.
                    assert!(!frame.contains('\n'), "a raw newline in {frame}");
                    seqs.push(seq);
                }
            }
        };
        feed(Input::Agent { proc, event: AgentEvent::Started { pid: 4242, started_by: None } });
        for (pick, mutations) in &picks {
            let bytes = mutate(&corpus[pick.index(corpus.len())], mutations, &others);
            feed(Input::Agent { proc, event: AgentEvent::Line(String::from_utf8_lossy(&bytes).into_owned()) });
        }
        feed(Input::Agent { proc, event: AgentEvent::Exited { code: Some(0), signal: None } });
        let first = seqs[0];
        prop_assert!(seqs.iter().enumerate().all(|(i, s)| *s == first + i as u64), "gap-free: {seqs:?}");
    }
}
