//! A Claude Code transcript (`~/.claude/projects/<cwd>/<id>.jsonl`) read back
//! as turns, so a conversation resumed from Claude Code's history opens with
//! its past and not blank.
//!
//! The transcript keeps one line per message content block (`user`,
//! `assistant`) among bookkeeping lines (snapshots, progress, summaries).
//! A turn starts at each prompt the user typed; the assistant's blocks and
//! the tool results that follow belong to it. They become the stream-json
//! lines the page already renders (`{"type":"assistant","message":…}`), so
//! past turns look like live ones. Only the last `IMPORT_MAX_BYTES` of a
//! transcript are read: a long conversation keeps its recent turns.

use super::transcripts::project_dir;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// Transcript bytes read at most, from its end.
pub const IMPORT_MAX_BYTES: u64 = 16 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq)]
pub struct PastTurn {
    /// What the user typed.
    pub prompt: String,
    /// When it was sent and when the turn's last line was written (ms since
    /// the epoch), where the transcript says.
    pub at_ms: Option<i64>,
    pub end_ms: Option<i64>,
    /// Stream-json lines, as `claudejson` events carry them.
    pub lines: Vec<String>,
    /// The user interrupted it ("[Request interrupted by user…]").
    pub interrupted: bool,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct PastConversation {
    pub turns: Vec<PastTurn>,
    /// Bytes at the start that were not read (see `IMPORT_MAX_BYTES`).
    pub skipped_bytes: u64,
    /// Lines that were not JSON objects of the transcript's shape.
    pub malformed_lines: usize,
}

/// Reads the transcript of conversation `id` of `cwd`. `id` must already be a
/// valid agent session id (it names a file).
pub fn read(home: &Path, cwd: &Path, id: &str) -> std::io::Result<PastConversation> {
    let path = project_dir(home, cwd).join(format!("{id}.jsonl"));
    let mut f = File::open(path)?;
    let len = f.metadata()?.len();
    let skipped = len.saturating_sub(IMPORT_MAX_BYTES);
    f.seek(SeekFrom::Start(skipped))?;
    let mut buf = Vec::with_capacity((len - skipped) as usize);
    f.take(IMPORT_MAX_BYTES).read_to_end(&mut buf)?;
    let mut body: &[u8] = &buf;
    if skipped > 0 {
        // Started mid-line: begin at the next whole one.
        let cut = memchr::memchr(b'\n', body).map_or(body.len(), |i| i + 1);
        body = &body[cut..];
    }
    let mut past = parse(body);
    past.skipped_bytes = len - body.len() as u64;
    Ok(past)
}

#[derive(Deserialize)]
struct Entry<'a> {
    #[serde(rename = "type")]
    kind: String,
    #[serde(borrow)]
    message: Option<&'a RawValue>,
    #[serde(default, rename = "isMeta")]
    is_meta: bool,
    #[serde(default, rename = "isSidechain")]
    is_sidechain: bool,
    timestamp: Option<String>,
}

#[derive(Deserialize)]
struct UserMessage {
    content: UserContent,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum UserContent {
    Text(String),
    Blocks(Vec<Block>),
}

#[derive(Deserialize)]
struct Block {
    #[serde(rename = "type")]
    kind: String,
    text: Option<String>,
}

/// What a `user` line of the transcript is.
enum UserLine {
    Prompt(String),
    ToolResult,
    Interrupted,
    /// The CLI's own markup (`<command-name>`, caveats) or nothing to show.
    Other,
}

fn classify(content: UserContent) -> UserLine {
    let text = match content {
        UserContent::Text(s) => s,
        UserContent::Blocks(blocks) => {
            if blocks.iter().any(|b| b.kind == "tool_result") {
                return UserLine::ToolResult;
            }
            let texts: Vec<&str> = blocks.iter().filter_map(|b| b.text.as_deref()).collect();
            if texts.is_empty() && blocks.iter().any(|b| b.kind == "image") {
                return UserLine::Prompt("[image]".into());
            }
            texts.join("\n")
        }
    };
    let t = text.trim();
    if t.starts_with("[Request interrupted by user") {
        UserLine::Interrupted
    } else if t.is_empty() || t.starts_with('<') {
        UserLine::Other
    } else {
        UserLine::Prompt(text)
    }
}

/// Whole lines of a transcript → turns. Lines before the first prompt (the
/// read began inside a turn) are left out.
fn parse(body: &[u8]) -> PastConversation {
    let mut past = PastConversation::default();
    for line in body.split(|b| *b == b'\n') {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let Ok(entry) = serde_json::from_slice::<Entry>(line) else {
            past.malformed_lines += 1;
            continue;
        };
        // Subagents' messages are kept apart from the conversation.
        if entry.is_sidechain || entry.is_meta {
            continue;
        }
        let at = entry.timestamp.as_deref().and_then(iso_ms);
        let Some(message) = entry.message else {
            continue;
        };
        match entry.kind.as_str() {
            "user" => match serde_json::from_str::<UserMessage>(message.get()) {
                Ok(m) => match classify(m.content) {
                    UserLine::Prompt(prompt) => past.turns.push(PastTurn {
                        prompt,
                        at_ms: at,
                        end_ms: at,
                        lines: Vec::new(),
                        interrupted: false,
                    }),
                    UserLine::ToolResult => add_line(&mut past, "user", message, at),
                    UserLine::Interrupted => {
                        if let Some(t) = past.turns.last_mut() {
                            t.interrupted = true;
                        }
                    }
                    UserLine::Other => {}
                },
                Err(_) => past.malformed_lines += 1,
            },
            "assistant" => add_line(&mut past, "assistant", message, at),
            _ => {}
        }
    }
    past
}

fn add_line(past: &mut PastConversation, kind: &str, message: &RawValue, at: Option<i64>) {
    if let Some(turn) = past.turns.last_mut() {
        turn.lines.push(format!(
            r#"{{"type":"{kind}","message":{},"parent_tool_use_id":null}}"#,
            message.get()
        ));
        turn.end_ms = at.or(turn.end_ms);
    }
}

/// `2026-02-02T05:38:21.197Z` → ms since the epoch (UTC; an offset other
/// than `Z` is not expected from Claude Code and is refused).
pub fn iso_ms(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || !s.ends_with('Z') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let frac = s.get(19..s.len() - 1)?;
    let ms = match frac.strip_prefix('.') {
        Some(f) if !f.is_empty() && f.bytes().all(|c| c.is_ascii_digit()) => {
            let f3: String = f.chars().chain("000".chars()).take(3).collect();
            f3.parse::<i64>().ok()?
        }
        None if frac.is_empty() => 0,
        _ => return None,
    };
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    // Days from 1970-01-01 of a proleptic Gregorian date (Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if mo > 2 { mo - 3 } else { mo + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 24 + h) * 60 + mi) * 60_000 + sec * 1000 + ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/other-versions/claude-transcript-ondisk-real.jsonl"
    );

    #[test]
    fn the_real_transcript_becomes_two_turns_of_stream_json_lines() {
        let past = parse(&std::fs::read(FIXTURE).unwrap());
        assert_eq!(past.malformed_lines, 0);
        assert_eq!(past.turns.len(), 2, "{past:#?}");
        let first = &past.turns[0];
        assert!(first.prompt.starts_with("Create a file called test.txt"));
        assert!(!first.interrupted);
        // thinking, tool_use, tool_result, thinking, text.
        assert_eq!(first.lines.len(), 5);
        let kinds: Vec<String> = first
            .lines
            .iter()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                format!(
                    "{}:{}",
                    v["type"].as_str().unwrap(),
                    v["message"]["content"][0]["type"].as_str().unwrap()
                )
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "assistant:thinking",
                "assistant:tool_use",
                "user:tool_result",
                "assistant:thinking",
                "assistant:text"
            ]
        );
        assert_eq!(first.at_ms, iso_ms("2026-02-02T05:38:21.197Z"));
        assert!(first.end_ms > first.at_ms);
        let second = &past.turns[1];
        assert!(second.prompt.starts_with("Edit test.txt"));
        // The rejected Edit ended it: "[Request interrupted by user for tool use]".
        assert!(second.interrupted);
        // `/exit` and its caveat are the CLI's own markup: no third turn.
    }

    #[test]
    fn a_read_that_starts_mid_turn_skips_to_the_first_prompt() {
        let body = std::fs::read(FIXTURE).unwrap();
        let lines: Vec<&[u8]> = body.split(|b| *b == b'\n').collect();
        // From the first turn's tool_result on.
        let tail = lines[5..].join(&b'\n');
        let past = parse(&tail);
        assert_eq!(past.turns.len(), 1);
        assert!(past.turns[0].prompt.starts_with("Edit test.txt"));
    }

    #[test]
    fn malformed_and_foreign_lines_are_counted_or_skipped() {
        let body = b"not json\n{\"type\":\"summary\",\"summary\":\"x\"}\n{\"type\":\"user\",\"message\":{\"content\":\"go\"}}\n{\"type\":\"user\",\"message\":{\"content\":7}}\n{\"type\":\"assistant\",\"isSidechain\":true,\"message\":{\"content\":[]}}\n";
        let past = parse(body);
        assert_eq!(past.malformed_lines, 2);
        assert_eq!(past.turns.len(), 1);
        assert!(past.turns[0].lines.is_empty());
    }

    #[test]
    fn a_long_transcript_is_read_from_its_end_only() {
        let home = tempfile::tempdir().unwrap();
        let cwd = Path::new("/p");
        let dir = project_dir(home.path(), cwd);
        std::fs::create_dir_all(&dir).unwrap();
        let turn = |n: usize| {
            format!(
                "{{\"type\":\"user\",\"message\":{{\"content\":\"prompt {n} {}\"}}}}\n",
                "x".repeat(1000)
            )
        };
        let n = (IMPORT_MAX_BYTES as usize / 1000) + 2000;
        let body: String = (0..n).map(turn).collect();
        std::fs::write(dir.join("long.jsonl"), &body).unwrap();
        let past = read(home.path(), cwd, "long").unwrap();
        assert!(past.skipped_bytes > 0);
        assert_eq!(
            past.malformed_lines, 0,
            "the cut line is skipped, not counted"
        );
        assert!(past
            .turns
            .last()
            .unwrap()
            .prompt
            .starts_with(&format!("prompt {}", n - 1)));
        let read: usize = past.turns.iter().map(|t| t.prompt.len() + 39).sum();
        assert!(read as u64 <= IMPORT_MAX_BYTES);
    }

    #[test]
    fn iso_times() {
        assert_eq!(iso_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(iso_ms("2026-02-02T05:38:21.197Z"), Some(1_770_010_701_197));
        assert_eq!(iso_ms("2000-02-29T12:00:00.5Z"), Some(951_825_600_500));
        assert_eq!(iso_ms("2026-02-02 05:38:21Z"), None);
        assert_eq!(iso_ms("2026-13-02T05:38:21Z"), None);
        assert_eq!(iso_ms("2026-02-02T05:38:21+01:00"), None);
    }
}
