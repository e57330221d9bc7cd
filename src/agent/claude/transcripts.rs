//! Claude Code's own past sessions for a project:
//! `$HOME/.claude/projects/<cwd with every non-alphanumeric char as '-'>/*.jsonl`.
//!
//! Transcripts can be hundreds of megabytes, so only a bounded head and tail
//! of each file are read: the head gives the first prompt and start time, the
//! tail the last activity. Malformed lines are skipped and counted.

use serde::Serialize;
use serde_json::Value;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Bytes read from each end of a transcript.
const SLICE: u64 = 64 * 1024;
/// Transcripts listed at most (newest first).
const MAX_LISTED: usize = 500;

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Transcript {
    /// The agent session id (resume with it).
    pub id: String,
    pub title: Option<String>,
    pub created: Option<String>,
    pub updated: Option<String>,
    pub bytes: u64,
    /// Lines of the slices read that were not JSON objects.
    pub malformed_lines: usize,
}

/// The folder Claude Code uses for `cwd` under `home`.
pub fn project_dir(home: &Path, cwd: &Path) -> PathBuf {
    let name: String = cwd
        .to_string_lossy()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    home.join(".claude/projects").join(name)
}

/// Past sessions of the project, newest first. A missing folder is no error.
pub fn list(home: &Path, cwd: &Path) -> Vec<Transcript> {
    let Ok(entries) = std::fs::read_dir(project_dir(home, cwd)) else {
        return Vec::new();
    };
    let mut files: Vec<(std::time::SystemTime, PathBuf, u64)> = entries
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "jsonl"))
        .filter_map(|e| {
            let m = e.metadata().ok()?;
            if !m.is_file() {
                return None;
            }
            Some((m.modified().ok()?, e.path(), m.len()))
        })
        .collect();
    files.sort_by_key(|f| std::cmp::Reverse(f.0));
    files
        .into_iter()
        .take(MAX_LISTED)
        .filter_map(|(_, path, len)| read_one(&path, len).ok())
        .collect()
}

fn read_one(path: &Path, len: u64) -> std::io::Result<Transcript> {
    let mut f = File::open(path)?;
    let mut head = Vec::new();
    (&mut f).take(SLICE).read_to_end(&mut head)?;
    let mut tail = Vec::new();
    if len > SLICE {
        f.seek(SeekFrom::Start(len - SLICE))?;
        f.take(SLICE).read_to_end(&mut tail)?;
    }
    let mut malformed = 0;
    // The head may end, and the tail begin, in the middle of a line.
    let head_lines = complete_lines(&head, false, len <= SLICE);
    let tail_lines = complete_lines(&tail, true, true);
    let mut parse = |l: &[u8]| -> Option<Value> {
        match serde_json::from_slice::<Value>(l) {
            Ok(v @ Value::Object(_)) => Some(v),
            _ => {
                malformed += 1;
                None
            }
        }
    };
    let head_values: Vec<Value> = head_lines.iter().filter_map(|l| parse(l)).collect();
    let tail_values: Vec<Value> = tail_lines.iter().filter_map(|l| parse(l)).collect();
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let id = head_values
        .iter()
        .find_map(|v| v["sessionId"].as_str().map(str::to_owned))
        .unwrap_or(stem);
    let title = head_values.iter().find_map(first_prompt);
    let created = head_values
        .iter()
        .find_map(|v| v["timestamp"].as_str().map(str::to_owned));
    let updated = head_values
        .iter()
        .chain(tail_values.iter())
        .rev()
        .find_map(|v| v["timestamp"].as_str().map(str::to_owned));
    Ok(Transcript {
        id,
        title,
        created,
        updated,
        bytes: len,
        malformed_lines: malformed,
    })
}

/// Non-empty lines of `buf`; drops a partial first line (`cut_start`) and a
/// partial last line (unless the buffer ends the file).
fn complete_lines(buf: &[u8], cut_start: bool, ends_file: bool) -> Vec<&[u8]> {
    let mut lines: Vec<&[u8]> = buf.split(|b| *b == b'\n').collect();
    if cut_start && !lines.is_empty() {
        lines.remove(0);
    }
    if !ends_file && !buf.ends_with(b"\n") {
        lines.pop();
    }
    lines
        .into_iter()
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .collect()
}

/// The first real prompt: a user line whose content is text, not a tool
/// result or the CLI's own markup.
fn first_prompt(v: &Value) -> Option<String> {
    if v["type"] != "user" || v["isMeta"] == true {
        return None;
    }
    let text = match &v["message"]["content"] {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .find(|b| b["type"] == "text")
            .and_then(|b| b["text"].as_str())?
            .to_owned(),
        _ => return None,
    };
    let t = text.trim();
    (!t.is_empty() && !t.starts_with('<')).then(|| t.chars().take(80).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn lists_the_fixture_and_skips_malformed_lines() {
        let home = tempfile::tempdir().unwrap();
        let cwd = Path::new("/home/user/my.project");
        let dir = project_dir(home.path(), cwd);
        assert!(dir.ends_with(".claude/projects/-home-user-my-project"));
        std::fs::create_dir_all(&dir).unwrap();
        let fixture = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/other-versions/claude-transcript-ondisk-real.jsonl"
        );
        let mut body = std::fs::read(fixture).unwrap();
        body.extend_from_slice(b"not json at all\n{broken\n");
        std::fs::write(dir.join("c2fc3a3f.jsonl"), &body).unwrap();
        let list = list(home.path(), cwd);
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].malformed_lines, 2);
        assert!(list[0].title.is_some(), "{:?}", list[0]);
        assert!(list[0].created.is_some() && list[0].updated.is_some());
    }

    #[test]
    fn a_500_mb_transcript_is_read_only_at_its_ends() {
        let home = tempfile::tempdir().unwrap();
        let cwd = Path::new("/p");
        let dir = project_dir(home.path(), cwd);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("big.jsonl");
        let mut f = File::create(&path).unwrap();
        writeln!(f, r#"{{"type":"user","sessionId":"big","timestamp":"2026-01-01T00:00:00Z","message":{{"role":"user","content":"first words"}}}}"#).unwrap();
        // A sparse 500 MB hole, then a last line.
        f.set_len(500 * 1024 * 1024).unwrap();
        f.seek(SeekFrom::End(0)).unwrap();
        writeln!(
            f,
            "\n{{\"type\":\"assistant\",\"timestamp\":\"2026-01-02T00:00:00Z\"}}"
        )
        .unwrap();
        drop(f);
        let started = std::time::Instant::now();
        let list = list(home.path(), cwd);
        let took = started.elapsed();
        assert_eq!(list[0].id, "big");
        assert_eq!(list[0].title.as_deref(), Some("first words"));
        assert_eq!(list[0].updated.as_deref(), Some("2026-01-02T00:00:00Z"));
        // Informational: the listing reads 128 KiB, not 500 MB.
        eprintln!("listed a 500 MB transcript in {took:?}");
    }
}
