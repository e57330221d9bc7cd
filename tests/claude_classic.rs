//! Claude Code in classic mode (one `claude -p` per message), against the
//! fake agent.

mod support;

use serde_json::json;
use support::*;

fn argv_of(frames: &[serde_json::Value]) -> Vec<String> {
    let line = claude_lines(frames)
        .into_iter()
        .find(|l| l["type"] == "fake_argv")
        .expect("argv line");
    serde_json::from_value(line["argv"].clone()).unwrap()
}

#[tokio::test]
async fn one_process_per_message_resuming_the_conversation() {
    let server = Server::claude()
        .args(["--claude-mode", "classic"])
        .start()
        .await;
    let mut c = server.joined("c").await;
    let first = c.turn("argv").await;
    let argv = argv_of(&first);
    assert!(argv.contains(&"-p".to_owned()) && argv.contains(&"--verbose".to_owned()));
    assert!(!argv.iter().any(|a| a.starts_with("--resume")));
    let id = of_type(&first, "agent_session")[0]["agentSessionId"]
        .as_str()
        .unwrap()
        .to_owned();
    let second = c.turn("argv").await;
    assert!(argv_of(&second).contains(&format!("--resume={id}")));
}

#[tokio::test]
async fn denied_tool_asks_then_allow_reruns_with_allowed_tools() {
    let server = Server::claude()
        .args(["--claude-mode", "classic"])
        .start()
        .await;
    let dir = server.workdir.path().to_owned();
    let mut c = server.joined("perm").await;
    c.message("write w.txt").await;
    let req = c.until_type("permission_request").await.pop().unwrap();
    assert_eq!(req["sender"], "Write");
    assert!(!dir.join("w.txt").exists());
    c.send(json!({"type":"permission_response","requestId":req["requestId"],"decision":"allow"}))
        .await;
    let frames = c.until_type("exec_end").await;
    assert_eq!(frames.last().unwrap()["status"], "success");
    // The rerun had the grant and continued the same conversation.
    assert_eq!(read(&dir.join("w.txt")), "written by fake\n");
    let argv_rerun = of_type(&frames, "permission_resolved");
    assert_eq!(argv_rerun[0]["decision"], "allow");
    // Allow once is not remembered: the next Write asks again. This time the
    // original client's answer (the whole list) grants it and is remembered.
    c.message("write w2.txt").await;
    c.until_type("permission_request").await;
    c.send(json!({"type":"permission_response","allowedTools":["Write"],"skipPermissions":false}))
        .await;
    c.until_type("exec_end").await;
    assert!(dir.join("w2.txt").exists());
    let turn = c.turn("write w3.txt").await;
    assert!(of_type(&turn, "permission_request").is_empty());
    assert!(dir.join("w3.txt").exists());
}

#[tokio::test]
async fn skip_all_is_the_only_way_to_dangerously_skip() {
    let server = Server::claude()
        .args(["--claude-mode", "classic"])
        .start()
        .await;
    let mut c = server.joined("skip").await;
    assert!(!argv_of(&c.turn("argv").await).contains(&"--dangerously-skip-permissions".to_owned()));
    c.message("write s.txt").await;
    let req = c.until_type("permission_request").await.pop().unwrap();
    c.send(
        json!({"type":"permission_response","requestId":req["requestId"],"decision":"skip_all"}),
    )
    .await;
    c.until_type("exec_end").await;
    assert!(argv_of(&c.turn("argv").await).contains(&"--dangerously-skip-permissions".to_owned()));
}

#[tokio::test]
async fn a_vanished_conversation_falls_back_to_a_new_one_and_says_so() {
    let server = Server::claude()
        .args(["--claude-mode", "classic"])
        .start()
        .await;
    let mut c = server.joined("fb").await;
    let first = c.turn("hello").await;
    let id = of_type(&first, "agent_session")[0]["agentSessionId"]
        .as_str()
        .unwrap()
        .to_owned();
    // The agent forgets the conversation (expired, deleted, other machine).
    std::fs::remove_file(server.state.path().join(&id)).unwrap();
    let frames = c.turn("are you there").await;
    let info = of_type(&frames, "info");
    assert!(info[0]["message"].as_str().unwrap().contains(&id));
    assert!(info[0]["message"]
        .as_str()
        .unwrap()
        .contains("starting a new conversation"));
    assert_eq!(frames.last().unwrap()["status"], "success");
    assert!(of_type(&frames, "stderr")[0]["content"]
        .as_str()
        .unwrap()
        .contains("No conversation found"));
}

#[tokio::test]
async fn stop_kills_the_process_group() {
    let server = Server::claude()
        .args(["--claude-mode", "classic", "--stop-grace", "1s"])
        .start()
        .await;
    let mut c = server.joined("stop").await;
    c.message("stubborn").await;
    let (_, pgid, _) = c.until_fake_pid().await;
    c.send(json!({"type":"stop"})).await;
    let frames = c.until_type("exec_end").await;
    assert_eq!(frames.last().unwrap()["status"], "stopped");
    assert!(group_gone(pgid));
}
