//! swe-swe driving the real Claude Code CLI, end to end.
//!
//! The pinned CLI is installed with npm into `.cache/claude-code` (ignored by
//! git, reused when present). Each test re-runs itself inside a new network
//! namespace that has only loopback (`unshare -n`), where it starts a
//! Messages-API stand-in, the swe-swe server and (through it) the CLI, with a
//! HOME of its own. Nothing can leave the machine. A missing npm, a failed
//! install or a missing `unshare` fails the test loudly; nothing is skipped.

#[path = "support/browser.rs"]
mod browser;
#[path = "support/messages_api.rs"]
mod messages_api;
mod support;

use messages_api::MessagesApi;
use serde_json::{json, Value};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use support::*;

const CLAUDE_VERSION: &str = "2.1.197";

fn install_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(".cache/claude-code")
}

/// The pinned `claude`, installed on first use.
fn claude_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let dir = install_dir();
        let bin = dir.join("node_modules/.bin/claude");
        let version = |bin: &Path| {
            Command::new(bin)
                .arg("--version")
                .output()
                .ok()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default()
        };
        if !version(&bin).contains(CLAUDE_VERSION) {
            npm_install(&dir, &format!("@anthropic-ai/claude-code@{CLAUDE_VERSION}"));
            let v = version(&bin);
            assert!(v.contains(CLAUDE_VERSION), "installed claude reports {v:?}");
        }
        bin
    })
    .clone()
}

/// Runs `body` inside a loopback-only network namespace, with the pinned
/// CLI installed first (npm needs the network) and a Messages-API stand-in.
fn in_netns<F, Fut>(name: &str, body: F)
where
    F: FnOnce(Env) -> Fut,
    Fut: Future<Output = ()>,
{
    let claude = claude_bin();
    netns::run(name, || async move {
        let api = MessagesApi::start().await;
        body(Env { api, claude }).await
    });
}

struct Env {
    api: MessagesApi,
    claude: PathBuf,
}

impl Env {
    fn server(&self, mode: &str) -> ServerBuilder {
        self.server_with(mode, &self.claude.to_string_lossy())
    }

    fn server_with(&self, mode: &str, claude: &str) -> ServerBuilder {
        Server::plain()
            .args([
                "--agent",
                "claude",
                "--claude-mode",
                mode,
                "--stop-grace",
                "5s",
            ])
            .args(["--claude-bin", claude])
            .env("ANTHROPIC_BASE_URL", self.api.base_url())
            .env("ANTHROPIC_API_KEY", "sk-test-not-a-real-key")
            .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
    }
}

fn status(frames: &[Value]) -> String {
    let end = frames.last().unwrap();
    assert_eq!(end["type"], "exec_end");
    end["status"].as_str().unwrap().to_owned()
}

// ---- text streaming, two tabs ------------------------------------------

type Body = std::pin::Pin<Box<dyn Future<Output = ()>>>;

fn two_tabs(mode: &'static str) -> impl FnOnce(Env) -> Body {
    move |env| {
        Box::pin(async move {
            let server = env.server(mode).start().await;
            let mut a = server.joined("t").await;
            let mut b = server.joined("t").await;
            let fa = a.turn("hello there").await;
            let fb = b.until_type("exec_end").await;
            assert_eq!(fa, fb, "{mode}: both tabs saw the same events");
            assert_eq!(status(&fa), "success", "{fa:?}");
            assert!(
                assistant_text(&fa).contains("You said: hello there"),
                "{mode}: {fa:?}"
            );
            if mode == "duplex" {
                // --include-partial-messages: token deltas stream.
                assert!(claude_lines(&fa)
                    .iter()
                    .any(|l| l["type"] == "stream_event"));
            }
            assert!(server.terminate().await.success());
        })
    }
}

#[test]
fn real_text_reply_streams_to_two_tabs_duplex() {
    in_netns(
        "real_text_reply_streams_to_two_tabs_duplex",
        two_tabs("duplex"),
    );
}

#[test]
fn real_text_reply_streams_to_two_tabs_classic() {
    in_netns(
        "real_text_reply_streams_to_two_tabs_classic",
        two_tabs("classic"),
    );
}

// ---- permissions ----------------------------------------------------------

async fn answer_next_prompt(c: &mut Client, decision: &str, reason: Option<&str>) -> Vec<Value> {
    let mut frames = c.until_type("permission_request").await;
    let req = frames.last().unwrap().clone();
    assert_eq!(req["sender"], "Write", "{req}");
    let mut answer =
        json!({"type":"permission_response","requestId":req["requestId"],"decision":decision});
    if let Some(r) = reason {
        answer["reason"] = json!(r);
    }
    c.send(answer).await;
    frames.extend(c.until_type("exec_end").await);
    frames
}

fn permissions(mode: &'static str) -> impl FnOnce(Env) -> Body {
    move |env| {
        Box::pin(async move {
            let server = env.server(mode).start().await;
            let dir = server.workdir.path().to_owned();
            let mut c = server.joined("perm").await;

            // Allow: the file is written.
            let allowed = dir.join("allowed.txt");
            c.message(&format!("write file {}", allowed.display()))
                .await;
            let frames = answer_next_prompt(&mut c, "allow", None).await;
            assert_eq!(status(&frames), "success", "{mode}: {frames:?}");
            assert_eq!(read(&allowed), "written by mock\n", "{mode}");

            // Deny with a reason: no file; the agent saw the reason.
            let denied = dir.join("denied.txt");
            c.message(&format!("write file {}", denied.display())).await;
            let frames = answer_next_prompt(&mut c, "deny", Some("not this file, please")).await;
            assert_eq!(status(&frames), "success", "{mode}: {frames:?}");
            assert!(!denied.exists(), "{mode}");
            // Duplex: the reason is the denied tool's result. Classic: the
            // CLI had already finished, so it comes as the next message.
            let seen = [env.api.tool_results_seen(), env.api.prompts_seen()].concat();
            assert!(
                seen.iter().any(|t| t.contains("not this file, please")),
                "{mode}: the model never received the reason: {seen:?}"
            );

            // Allow always: a second Write of the session is not asked.
            let one = dir.join("one.txt");
            c.message(&format!("write file {}", one.display())).await;
            answer_next_prompt(&mut c, "allow_always", None).await;
            let two = dir.join("two.txt");
            let frames = c.turn(&format!("write file {}", two.display())).await;
            assert!(
                of_type(&frames, "permission_request").is_empty(),
                "{mode}: asked again: {frames:?}"
            );
            assert_eq!(status(&frames), "success");
            assert!(one.exists() && two.exists(), "{mode}");
            assert!(server.terminate().await.success());
        })
    }
}

#[test]
fn real_write_permissions_duplex() {
    in_netns("real_write_permissions_duplex", permissions("duplex"));
}

#[test]
fn real_write_permissions_classic() {
    in_netns("real_write_permissions_classic", permissions("classic"));
}

// ---- stop -------------------------------------------------------------------

fn stop(mode: &'static str) -> impl FnOnce(Env) -> Body {
    move |env| {
        Box::pin(async move {
            let server = env.server(mode).start().await;
            let mut c = server.joined("stop").await;
            c.message("slow 200").await;
            c.recv_until(|v| {
                v["type"] == "claudejson" && v["content"].as_str().unwrap().contains("chunk 2")
            })
            .await;
            let asked = Instant::now();
            c.send(json!({"type":"stop"})).await;
            let frames = c.until_type("exec_end").await;
            let took = asked.elapsed();
            assert_eq!(status(&frames), "stopped", "{mode}: {frames:?}");
            assert!(took < Duration::from_secs(5), "{mode}: stop took {took:?}");
            let left = children_of(server.pid());
            match mode {
                // The long-lived process stays for the next turn; nothing else.
                "duplex" => assert!(left.len() <= 1, "{mode}: {left:?}"),
                _ => assert!(left.is_empty(), "{mode}: claude left behind: {left:?}"),
            }
            // The next message continues the same conversation.
            let frames = c.turn("are you still there").await;
            assert_eq!(status(&frames), "success", "{mode}: {frames:?}");
            let last = env.api.requests.lock().unwrap().last().cloned().unwrap();
            assert!(
                last.to_string().contains("slow 200"),
                "{mode}: the conversation was lost"
            );
            assert!(server.terminate().await.success());
        })
    }
}

#[test]
fn real_stop_during_slow_stream_duplex() {
    in_netns("real_stop_during_slow_stream_duplex", stop("duplex"));
}

#[test]
fn real_stop_during_slow_stream_classic() {
    in_netns("real_stop_during_slow_stream_classic", stop("classic"));
}

// ---- restart and resume ---------------------------------------------------

fn restart(mode: &'static str) -> impl FnOnce(Env) -> Body {
    move |env| {
        Box::pin(async move {
            let server = env.server(mode).start().await;
            let mut c = server.joined("r").await;
            let frames = c.turn("remember the word pineapple").await;
            let id = of_type(&frames, "agent_session")[0]["agentSessionId"]
                .as_str()
                .unwrap()
                .to_owned();
            drop(c);
            let server = server.restart().await;
            // The client still knows the agent conversation it was in.
            let mut c = server.joined("r").await;
            c.send(json!({"type":"message","content":"what was the word","claudeSessionID":id}))
                .await;
            let frames = c.until_type("exec_end").await;
            assert_eq!(status(&frames), "success", "{mode}: {frames:?}");
            assert!(
                of_type(&frames, "info").is_empty(),
                "{mode}: no fallback needed: {frames:?}"
            );
            let last = env.api.requests.lock().unwrap().last().cloned().unwrap();
            assert!(
                last.to_string().contains("pineapple"),
                "{mode}: resumed conversation lost"
            );
            assert!(server.terminate().await.success());
        })
    }
}

#[test]
fn real_restart_between_messages_resumes_duplex() {
    in_netns(
        "real_restart_between_messages_resumes_duplex",
        restart("duplex"),
    );
}

#[test]
fn real_restart_between_messages_resumes_classic() {
    in_netns(
        "real_restart_between_messages_resumes_classic",
        restart("classic"),
    );
}

fn vanished(mode: &'static str) -> impl FnOnce(Env) -> Body {
    move |env| {
        Box::pin(async move {
            let server = env.server(mode).start().await;
            let mut c = server.joined("v").await;
            c.send(json!({"type":"message","content":"hello again",
                "claudeSessionID":"0b0b0b0b-1111-4222-8333-444444444444"}))
                .await;
            let frames = c.until_type("exec_end").await;
            let info = of_type(&frames, "info");
            assert!(
                info.iter().any(|i| i["message"]
                    .as_str()
                    .unwrap()
                    .contains("starting a new conversation")),
                "{mode}: the user is told: {frames:?}"
            );
            assert_eq!(status(&frames), "success", "{mode}: {frames:?}");
            assert!(
                assistant_text(&frames).contains("You said: hello again"),
                "{mode}"
            );
            assert!(server.terminate().await.success());
        })
    }
}

#[test]
fn real_unknown_stored_session_falls_back_duplex() {
    in_netns(
        "real_unknown_stored_session_falls_back_duplex",
        vanished("duplex"),
    );
}

#[test]
fn real_unknown_stored_session_falls_back_classic() {
    in_netns(
        "real_unknown_stored_session_falls_back_classic",
        vanished("classic"),
    );
}

// ---- the CLI missing ------------------------------------------------------

#[test]
fn real_cli_missing_or_not_executable_is_explained() {
    in_netns(
        "real_cli_missing_or_not_executable_is_explained",
        |env| async move {
            let copy = tempfile::tempdir().unwrap();
            let not_exec = copy.path().join("claude");
            std::fs::write(&not_exec, "#!/bin/sh\n").unwrap();
            for bin in [
                "/nonexistent/bin/claude".to_owned(),
                not_exec.to_string_lossy().into_owned(),
            ] {
                let server = env.server_with("duplex", &bin).start().await;
                let mut c = server.joined("m").await;
                let frames = tokio::time::timeout(Duration::from_secs(10), c.turn("hi"))
                    .await
                    .expect("no hang");
                let err = of_type(&frames, "error")[0]["message"]
                    .as_str()
                    .unwrap()
                    .to_owned();
                assert!(
                    err.contains(&bin) && err.contains("npm install -g @anthropic-ai/claude-code"),
                    "{err}"
                );
                assert_eq!(status(&frames), "error");
                assert!(server.terminate().await.success());
            }
        },
    );
}

// ---- several tool rounds, and an Edit ----------------------------------

#[test]
fn real_bash_rounds_and_an_approved_edit_duplex() {
    in_netns(
        "real_bash_rounds_and_an_approved_edit_duplex",
        |env| async move {
            let server = env.server("duplex").start().await;
            let mut c = server.joined("tools").await;
            // Three rounds of a read-only Bash command (auto-allowed by the CLI).
            let frames = c.turn("turns 3").await;
            assert_eq!(status(&frames), "success", "{frames:?}");
            let lines = claude_lines(&frames);
            let bash_runs = assistant_blocks(&frames)
                .iter()
                .filter(|b| b["type"] == "tool_use" && b["name"] == "Bash")
                .count();
            assert_eq!(bash_runs, 3, "{lines:?}");
            let result = lines.iter().find(|l| l["type"] == "result").unwrap();
            assert!(result["num_turns"].as_u64().unwrap() >= 4);
            assert!(assistant_text(&frames).contains("round 1"));

            // An Edit needs approval; its input reaches the tab, and allowing it
            // changes the file.
            let file = server.workdir.path().join("notes.txt");
            std::fs::write(&file, "alpha beta\n").unwrap();
            c.message(&format!("edit file {}", file.display())).await;
            let req = c.until_type("permission_request").await.pop().unwrap();
            assert_eq!(req["sender"], "Edit");
            let input: Value = serde_json::from_str(req["toolInput"].as_str().unwrap()).unwrap();
            assert_eq!(input["new_string"], "omega");
            c.send(json!({"type":"permission_response","requestId":req["requestId"],"decision":"allow"})).await;
            let frames = c.until_type("exec_end").await;
            assert_eq!(status(&frames), "success", "{frames:?}");
            assert_eq!(read(&file), "omega beta\n");

            // The real CLI's own transcript of this conversation, read back
            // (issue 14, point 1): a session resumed from it opens with both
            // turns, their Bash rounds and the Edit, as live ones render.
            let snap = c.hello("tools", 0).await;
            let mut replay = Vec::new();
            while replay.len() < snap["lastSeq"].as_u64().unwrap() as usize {
                replay.push(c.recv().await);
            }
            let conversation = agent_session_of(&replay);
            let (_, list) = server.http("GET", "/api/sessions", None).await;
            assert!(
                list["claude"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|t| t["id"] != conversation.as_str()),
                "a conversation our session holds is not listed as history: {list}"
            );
            // The CLI writes its transcript behind the stream; it is whole
            // once the process ended (as a conversation of the history is).
            let server = server.restart().await;
            let (code, created) = server
                .http(
                    "POST",
                    "/api/sessions",
                    Some(json!({"resume": conversation})),
                )
                .await;
            assert_eq!(code, 201);
            let mut r = server.client().await;
            r.hello(created["id"].as_str().unwrap(), 0).await;
            let past = r.until_imported().await;
            let prompts = user_messages(&past);
            assert_eq!(prompts.len(), 2, "{past:#?}");
            assert_eq!(prompts[0], "turns 3");
            assert!(prompts[1].starts_with("edit file "));
            let tools = |frames: &[Value]| -> Vec<String> {
                assistant_blocks(frames)
                    .iter()
                    .filter(|b| b["type"] == "tool_use")
                    .map(|b| b["name"].as_str().unwrap().to_owned())
                    .collect()
            };
            // The same calls as the live turns made (the CLI reads before it edits).
            assert_eq!(tools(&past), tools(&replay), "{past:#?}");
            assert_eq!(tools(&past), ["Bash", "Bash", "Bash", "Read", "Edit"]);
            assert!(assistant_text(&past).contains("round 1"));
            let ends: Vec<&str> = past
                .iter()
                .filter(|f| f["type"] == "exec_end")
                .map(|f| f["status"].as_str().unwrap())
                .collect();
            assert_eq!(ends, ["success", "success"]);
            assert!(server.terminate().await.success());
        },
    );
}

// ---- the page, in a real browser, with the real CLI ------------------------

#[test]
fn real_claude_in_the_browser() {
    // Installed before entering the namespace (it has no network).
    browser::playwright_dir();
    browser::chromium();
    in_netns("real_claude_in_the_browser", |env| {
        Box::pin(async move {
            let server = env.server("duplex").start().await;
            let url = format!("http://{}{}/", server.addr, server.prefix);
            browser::run_scenario("real", &url, server.workdir.path()).await;
            assert!(server.terminate().await.success());
        }) as Body
    });
}
