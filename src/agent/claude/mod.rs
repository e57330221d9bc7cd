//! Claude Code: command lines for duplex and classic mode, the stdin frames of
//! the stream-json control protocol, and (in `lines`) the output parser.

pub mod lines;
pub mod past;
pub mod transcripts;

use super::attachments::Attachment;
use super::{SpawnSpec, StdinMode};
use crate::permissions::{PermissionMode, Permissions};
use serde_json::{json, Value};
use std::collections::BTreeSet;

const STREAM_FLAGS: [&str; 3] = ["--output-format", "stream-json", "--verbose"];

/// The long-lived duplex process of a chat session.
pub fn duplex_spec(bin: &str, resume: Option<&str>, mode: Option<PermissionMode>) -> SpawnSpec {
    let mut args: Vec<String> = STREAM_FLAGS.iter().map(|s| s.to_string()).collect();
    args.extend(
        [
            "--input-format",
            "stream-json",
            "--permission-prompt-tool",
            "stdio",
            "--include-partial-messages",
        ]
        .map(String::from),
    );
    if let Some(id) = resume {
        // Equals form: the id can never be read as a flag of its own.
        args.push(format!("--resume={id}"));
    }
    args.extend(mode_flag(mode));
    SpawnSpec {
        program: bin.to_owned(),
        args,
        stdin: StdinMode::Open,
    }
}

/// One `claude -p` process for one message (classic mode). `once` are tools
/// allowed for this run only, on top of the session's remembered ones.
pub fn classic_spec(
    bin: &str,
    prompt: &str,
    resume: Option<&str>,
    perms: &Permissions,
    once: &BTreeSet<String>,
) -> SpawnSpec {
    let mut args = vec!["-p".to_owned()];
    args.extend(STREAM_FLAGS.iter().map(|s| s.to_string()));
    // Token-by-token text, as in duplex mode.
    args.push("--include-partial-messages".to_owned());
    if let Some(id) = resume {
        args.push(format!("--resume={id}"));
    }
    let tools: BTreeSet<&str> = perms
        .allowed_tools
        .iter()
        .chain(once.iter())
        .map(String::as_str)
        .collect();
    if !tools.is_empty() {
        args.push(format!(
            "--allowedTools={}",
            tools.into_iter().collect::<Vec<_>>().join(",")
        ));
    }
    if perms.skip_all {
        args.push("--dangerously-skip-permissions".to_owned());
    }
    args.extend(mode_flag(perms.cli_mode()));
    // `--` ends the options: a prompt starting with `-` stays a prompt.
    args.push("--".to_owned());
    args.push(prompt.to_owned());
    SpawnSpec {
        program: bin.to_owned(),
        args,
        stdin: StdinMode::Null,
    }
}

fn mode_flag(mode: Option<PermissionMode>) -> Option<String> {
    mode.map(|m| format!("--permission-mode={}", m.as_str()))
}

/// A user turn written to the duplex process's stdin.
pub fn user_turn(content: &str) -> String {
    json!({"type": "user", "message": {"role": "user", "content": content}}).to_string()
}

/// A user turn with images: content blocks, the text first (the Messages
/// API's image block, base64).
pub fn user_turn_with(content: &str, images: &[Attachment]) -> String {
    if images.is_empty() {
        return user_turn(content);
    }
    let mut blocks = vec![json!({"type": "text", "text": content})];
    blocks.extend(images.iter().map(|a| {
        json!({"type": "image", "source": {"type": "base64", "media_type": a.mime, "data": a.base64()}})
    }));
    json!({"type": "user", "message": {"role": "user", "content": blocks}}).to_string()
}

/// Answer to a `can_use_tool` request: run the tool with its input unchanged.
pub fn allow_response(request_id: &str, input: &Value) -> String {
    json!({"type": "control_response", "response": {
        "subtype": "success", "request_id": request_id,
        "response": {"behavior": "allow", "updatedInput": input}}})
    .to_string()
}

/// Answer to a `can_use_tool` request: refuse, telling the model why.
/// `interrupt` also ends the agent's turn (used when the user pressed stop).
pub fn deny_response(request_id: &str, message: &str, interrupt: bool) -> String {
    let mut inner = json!({"behavior": "deny", "message": message});
    if interrupt {
        inner["interrupt"] = Value::Bool(true);
    }
    json!({"type": "control_response", "response": {
        "subtype": "success", "request_id": request_id, "response": inner}})
    .to_string()
}

/// Answer to a `can_use_tool` request for AskUserQuestion: the tool runs
/// with the user's `answers` (question text → chosen label) in its input.
pub fn allow_with_answers(request_id: &str, input: &Value, answers: &Value) -> String {
    let mut updated = match input {
        Value::Object(_) => input.clone(),
        _ => json!({}),
    };
    updated["answers"] = answers.clone();
    allow_response(request_id, &updated)
}

/// Switch a running duplex process to another permission mode.
pub fn set_mode_request(request_id: &str, mode: PermissionMode) -> String {
    json!({"type": "control_request", "request_id": request_id,
        "request": {"subtype": "set_permission_mode", "mode": mode.as_str()}})
    .to_string()
}

/// Ask the duplex process to stop its current turn.
pub fn interrupt_request(request_id: &str) -> String {
    json!({"type": "control_request", "request_id": request_id,
        "request": {"subtype": "interrupt"}})
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classic_spec_keeps_prompt_and_ids_as_single_items() {
        let perms = Permissions {
            allowed_tools: ["Write".to_string()].into(),
            skip_all: false,
            mode: PermissionMode::AcceptEdits,
        };
        let once: BTreeSet<String> = ["Bash".to_string()].into();
        let s = classic_spec("claude", "-rf /", Some("abc"), &perms, &once);
        assert_eq!(
            s.args,
            [
                "-p",
                "--output-format",
                "stream-json",
                "--verbose",
                "--include-partial-messages",
                "--resume=abc",
                "--allowedTools=Bash,Write",
                "--permission-mode=acceptEdits",
                "--",
                "-rf /"
            ]
        );
    }

    #[test]
    fn duplex_frames_match_the_fixture_shapes() {
        let v: Value = serde_json::from_str(&allow_response("r1", &json!({"a": 1}))).unwrap();
        assert_eq!(v["response"]["response"]["behavior"], "allow");
        assert_eq!(v["response"]["request_id"], "r1");
        let v: Value = serde_json::from_str(&deny_response("r2", "no", false)).unwrap();
        assert_eq!(v["response"]["response"]["message"], "no");
        assert!(v["response"]["response"].get("interrupt").is_none());
        let v: Value = serde_json::from_str(&allow_with_answers(
            "r3",
            &json!({"questions": []}),
            &json!({"Q?": "A"}),
        ))
        .unwrap();
        assert_eq!(
            v["response"]["response"]["updatedInput"]["answers"]["Q?"],
            "A"
        );
        assert!(v["response"]["response"]["updatedInput"]["questions"].is_array());
        let v: Value = serde_json::from_str(&set_mode_request("m1", PermissionMode::Plan)).unwrap();
        assert_eq!(v["request"]["mode"], "plan");
        let v: Value = serde_json::from_str(&interrupt_request("i1")).unwrap();
        assert_eq!(v["request"]["subtype"], "interrupt");
    }
}
