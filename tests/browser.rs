//! The page in a real browser: Debian's `chromium`, driven by `playwright-core`
//! (npm, pinned, installed into `.cache/browser` on first use), against a real
//! swe-swe with the fake agent. Each test starts its own server and runs one
//! scenario of tests/browser/run.mjs; the scenario's assertions are there.
//!
//! Needs `/usr/bin/chromium` (`apt-get install chromium`; installed here when
//! missing and running as root) and `npm`. Screenshots go to target/screenshots
//! (to docs/screenshots with `UPDATE_SCREENSHOTS=1`).

#[path = "support/browser.rs"]
mod browser;
mod support;

use std::path::Path;
use support::*;

/// Files the `@` picker should (and should not) find.
fn project_files(dir: &Path) {
    for (p, body) in [
        ("src/parser.rs", "fn parse() {}\n"),
        ("src/lib.rs", "mod parser;\n"),
        ("docs/guide.md", "# Guide\n"),
        (".gitignore", "secret.log\n"),
        ("secret.log", "hidden\n"),
    ] {
        let path = dir.join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, body).unwrap();
    }
}

/// One of Claude Code's own past conversations for `workdir`.
fn claude_history(home: &Path, workdir: &Path) {
    let munged: String = workdir
        .to_string_lossy()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let dir = home.join(".claude/projects").join(munged);
    std::fs::create_dir_all(&dir).unwrap();
    let id = "5a1f7a52-8c2e-4b61-9d0b-2f6f3c1e9a10";
    // As Claude Code writes it: one line per content block, bookkeeping
    // lines between.
    let lines = [
        r#"{"type":"file-history-snapshot","messageId":"m0","snapshot":{}}"#.to_owned(),
        format!(
            r#"{{"type":"user","message":{{"role":"user","content":"an old question"}},"sessionId":"{id}","timestamp":"2026-11-01T10:00:00.000Z","uuid":"u1"}}"#
        ),
        format!(
            r#"{{"type":"assistant","message":{{"id":"msg_1","role":"assistant","content":[{{"type":"text","text":"An **old** answer, from the terminal."}}]}},"sessionId":"{id}","timestamp":"2026-11-01T10:00:05.000Z","uuid":"u2"}}"#
        ),
        format!(
            r#"{{"type":"assistant","message":{{"id":"msg_1","role":"assistant","content":[{{"type":"tool_use","id":"toolu_old","name":"Bash","input":{{"command":"ls","description":"List files"}}}}]}},"sessionId":"{id}","timestamp":"2026-11-01T10:00:06.000Z","uuid":"u3"}}"#
        ),
        format!(
            r#"{{"type":"user","message":{{"role":"user","content":[{{"tool_use_id":"toolu_old","type":"tool_result","content":"Cargo.toml\nsrc"}}]}},"sessionId":"{id}","timestamp":"2026-11-01T10:00:07.000Z","uuid":"u4"}}"#
        ),
        format!(
            r#"{{"type":"assistant","message":{{"id":"msg_2","role":"assistant","content":[{{"type":"text","text":"Two entries."}}]}},"sessionId":"{id}","timestamp":"2026-11-01T10:00:08.000Z","uuid":"u5"}}"#
        ),
    ];
    std::fs::write(dir.join(format!("{id}.jsonl")), lines.join("\n") + "\n").unwrap();
}

/// Runs scenario `name` against a fresh server. When chromium itself went
/// away under it (a crash of the browser, seen once in CI, not a check of
/// the page failing), it runs once more on a fresh server and browser, with
/// the first run's output printed; any other failure fails the test.
async fn scenario(name: &str, builder: ServerBuilder) {
    for attempt in 1..=2 {
        let workdir = tempfile::tempdir().unwrap();
        let state = tempfile::tempdir().unwrap();
        project_files(workdir.path());
        claude_history(state.path(), workdir.path());
        let server = Server::start_in(builder.clone(), workdir, state).await;
        let url = format!("http://{}{}/", server.addr, server.prefix);
        let outcome = browser::try_scenario(name, &url, server.workdir.path()).await;
        assert!(
            !server.panicked.load(std::sync::atomic::Ordering::SeqCst),
            "the server panicked"
        );
        match outcome {
            browser::Outcome::Passed => return,
            browser::Outcome::BrowserWentAway(out) if attempt == 1 => {
                eprintln!("scenario {name}: chromium went away under it; once more on a fresh server:\n{out}")
            }
            browser::Outcome::BrowserWentAway(out) | browser::Outcome::Failed(out) => {
                panic!("scenario {name} failed:\n{out}")
            }
        }
    }
}

#[tokio::test]
async fn turn_costs_session_total_and_times() {
    scenario("usage", Server::claude()).await;
}

#[tokio::test]
async fn approvals_in_cards_and_command_output() {
    scenario("cards", Server::claude()).await;
}

#[tokio::test]
async fn search_the_conversation_and_filter_sessions() {
    scenario("search", Server::claude()).await;
}

#[tokio::test]
async fn accessibility_checked_by_axe() {
    scenario("a11y", Server::claude()).await;
}

#[tokio::test]
async fn favicon_badge_and_notifications_when_hidden() {
    scenario("notify", Server::claude()).await;
}

#[tokio::test]
async fn attach_paste_and_drop_files() {
    scenario("attach", Server::claude()).await;
}

#[tokio::test]
async fn line_breaks_clear_and_plain_titles() {
    scenario("text", Server::claude()).await;
}

#[tokio::test]
async fn commands_focus_and_bypass() {
    scenario("keys", Server::claude()).await;
}

#[tokio::test]
async fn needs_you_and_deleted_elsewhere() {
    scenario("attention", Server::claude()).await;
}

#[tokio::test]
async fn a_new_session_picks_its_agent() {
    // `gemini` on PATH is the fake agent (it speaks ACP with `--acp`).
    let (_bin, path) = fake_on_path("gemini");
    scenario("agents", Server::claude().env("PATH", path)).await;
}

#[tokio::test]
async fn an_acp_agent_renders_with_the_same_cards_and_its_options() {
    scenario("acp", Server::acp(&[])).await;
}

#[tokio::test]
async fn streamed_reply_tool_cards_safety_a11y_and_themes() {
    scenario("chat", Server::claude()).await;
}

#[tokio::test]
async fn approvals_from_another_tab_questions_plans_and_modes() {
    scenario("approvals", Server::claude()).await;
}

#[tokio::test]
async fn stop_escape_and_the_queue() {
    scenario("stop", Server::claude()).await;
}

#[tokio::test]
async fn reload_and_reconnect_mid_stream_lose_nothing_and_repeat_nothing() {
    scenario("reload", Server::claude()).await;
}

#[tokio::test]
async fn file_picker_and_slash_commands() {
    scenario("picker", Server::claude()).await;
}

#[tokio::test]
async fn sessions_sidebar_and_urls() {
    scenario("sessions", Server::claude()).await;
}

#[tokio::test]
async fn phone_sized_viewport() {
    scenario("phone", Server::claude()).await;
}

#[tokio::test]
async fn two_thousand_messages_render_and_scroll() {
    scenario(
        "long",
        Server::claude().args(["--max-messages-per-sec", "1000"]),
    )
    .await;
}

/// Tried: a page on another site and a DNS-rebinding page (a name that
/// resolves to 127.0.0.1), in Chromium, against the API and the WebSocket.
#[tokio::test]
async fn hostile_pages_reach_nothing() {
    scenario("hostile", Server::claude()).await;
}

/// Tried: 1 MB replies of emphasis, code, link and bracket soup, raw HTML.
#[tokio::test]
async fn adversarial_markdown_renders_in_linear_time() {
    scenario("markdown", Server::claude()).await;
}

#[tokio::test]
async fn real_claude_code_output_renders() {
    scenario("fixtures", Server::claude()).await;
}

#[tokio::test]
async fn template_agent_colours() {
    scenario("ansi", Server::template()).await;
}

#[tokio::test]
async fn everything_under_a_prefix_path() {
    scenario("prefix", Server::claude().args(["--prefix-path", "/swe"])).await;
}

#[tokio::test]
async fn the_page_survives_a_server_restart() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    // A fixed port, so the page finds the restarted server where it was.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = Server::claude()
        .args(["--port", &port.to_string()])
        .start()
        .await;
    let url = format!("http://{}/", server.addr);
    let mut node = browser::scenario_command("restart", &url, server.workdir.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("node is needed for the browser tests");
    let mut stdin = node.stdin.take().unwrap();
    let mut lines = BufReader::new(node.stdout.take().unwrap()).lines();
    let mut said = Vec::new();
    let mut server = Some(server);
    // Between STOP and START the server is down (killed), its folders kept.
    let mut parked = None;
    // The scenario asks for the restart mid-way and waits for our answer.
    while let Some(line) = tokio::time::timeout(WAIT * 4, lines.next_line())
        .await
        .expect("the scenario went quiet")
        .unwrap()
    {
        match line.as_str() {
            "CONTROL RESTART" => {
                server = Some(server.take().expect("running").restart().await);
                stdin.write_all(b"GO\n").await.unwrap();
            }
            "CONTROL STOP" => {
                parked = Some(server.take().expect("running").kill().await);
                stdin.write_all(b"GO\n").await.unwrap();
            }
            "CONTROL START" => {
                let (builder, workdir, state) = parked.take().expect("STOP before START");
                server = Some(Server::start_in(builder, workdir, state).await);
                stdin.write_all(b"GO\n").await.unwrap();
            }
            _ => {}
        }
        said.push(line);
    }
    let status = tokio::time::timeout(WAIT, node.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(
        status.success(),
        "scenario restart failed:\n{}",
        said.join("\n")
    );
    assert!(said.iter().any(|l| l == "scenario restart: ok"), "{said:?}");
    assert!(server.expect("running").terminate().await.success());
}
