//! Template agents: any CLI, the prompt as one argv item or on stdin.

mod support;

use support::*;

#[tokio::test]
async fn the_prompt_is_one_argv_item_even_when_it_looks_like_flags_or_shell() {
    let server = Server::template().start().await;
    let mut c = server.joined("t").await;
    let prompt = "argv --help; rm -rf / $(id) `x` \"q\"";
    let frames = c.turn(prompt).await;
    let out = of_type(&frames, "content")[0]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    let argv: Vec<String> = serde_json::from_str(out.strip_prefix("argv ").unwrap()).unwrap();
    assert_eq!(argv[1..], ["text".to_owned(), prompt.to_owned()]);
}

#[tokio::test]
async fn without_a_slot_the_prompt_goes_to_stdin_and_nth_template_is_used_later() {
    let server = Server::plain()
        .args([
            "--agent",
            "template",
            "--agent-cli-1st",
            &format!("{} text", fake_agent()),
        ])
        .args(["--agent-cli-nth", &format!("{} text again ?", fake_agent())])
        .start()
        .await;
    let mut c = server.joined("t").await;
    let frames = c.turn("from stdin").await;
    assert_eq!(
        of_type(&frames, "content")[0]["content"],
        "You said: from stdin"
    );
    let frames = c.turn("second").await;
    assert_eq!(
        of_type(&frames, "content")[0]["content"],
        "You said: again second"
    );
}

#[tokio::test]
async fn colours_pass_through_and_failures_are_reported() {
    let server = Server::template().start().await;
    let mut c = server.joined("t").await;
    let frames = c.turn("color").await;
    assert_eq!(
        of_type(&frames, "content")[0]["content"],
        "\u{1b}[31mred\u{1b}[0m plain"
    );
    let frames = c.turn("fail").await;
    let end = frames.last().unwrap();
    assert_eq!(end["status"], "error");
    assert_eq!(end["exitCode"], 7);
    assert!(end["message"]
        .as_str()
        .unwrap()
        .contains("failing on purpose"));
}

#[tokio::test]
async fn a_missing_template_binary_is_explained() {
    let server = Server::plain()
        .args([
            "--agent",
            "template",
            "--agent-cli-1st",
            "/nonexistent/goose run ?",
        ])
        .start()
        .await;
    let mut c = server.joined("t").await;
    let frames = c.turn("hi").await;
    let msg = of_type(&frames, "error")[0]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        msg.contains("/nonexistent/goose") && msg.contains("--agent-cli-1st"),
        "{msg}"
    );
}
