//! The page in a real browser: Debian's `chromium`, driven by `playwright-core`
//! (npm, pinned, installed into `.cache/browser` on first use), against a real
//! swe-swe with the fake agent. Each test starts its own server and runs one
//! scenario of tests/browser/run.mjs; the scenario's assertions are there.
//!
//! Needs `/usr/bin/chromium` (`apt-get install chromium`; installed here when
//! missing and running as root) and `npm`. Screenshots go to docs/screenshots.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;
use support::*;

const PLAYWRIGHT_VERSION: &str = "1.65.1";
const CHROMIUM: &str = "/usr/bin/chromium";
const SCENARIO_TIMEOUT: Duration = Duration::from_secs(240);

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// playwright-core, installed once per machine into `.cache/browser`.
fn playwright_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = repo().join(".cache/browser");
        let manifest = dir.join("node_modules/playwright-core/package.json");
        let installed = std::fs::read_to_string(&manifest)
            .map(|s| s.contains(&format!("\"version\": \"{PLAYWRIGHT_VERSION}\"")))
            .unwrap_or(false);
        if !installed {
            std::fs::create_dir_all(&dir).unwrap();
            let status = Command::new("npm")
                .args([
                    "install",
                    "--no-audit",
                    "--no-fund",
                    "--loglevel=error",
                    "--prefix",
                ])
                .arg(&dir)
                .arg(format!("playwright-core@{PLAYWRIGHT_VERSION}"))
                .status()
                .unwrap_or_else(|e| panic!("npm is needed to install playwright-core: {e}"));
            assert!(
                status.success(),
                "npm install playwright-core failed: {status}"
            );
        }
        dir
    })
    .clone()
}

/// Debian's chromium; installed with apt-get when missing (as root).
fn chromium() -> &'static str {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        if Path::new(CHROMIUM).exists() {
            return;
        }
        let status = Command::new("sh")
            .args([
                "-c",
                "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium",
            ])
            .status();
        assert!(
            matches!(status, Ok(s) if s.success()) && Path::new(CHROMIUM).exists(),
            "{CHROMIUM} is missing and could not be installed ({status:?}); run `apt-get install chromium`"
        );
    });
    CHROMIUM
}

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
    std::fs::write(
        dir.join(format!("{id}.jsonl")),
        format!(
            "{{\"type\":\"user\",\"message\":{{\"role\":\"user\",\"content\":\"an old question\"}},\"sessionId\":\"{id}\",\"timestamp\":\"2026-11-01T10:00:00Z\",\"uuid\":\"u1\"}}\n"
        ),
    )
    .unwrap();
}

async fn scenario(name: &str, builder: ServerBuilder) {
    let pw = playwright_dir();
    let chromium = chromium();
    let workdir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    project_files(workdir.path());
    claude_history(state.path(), workdir.path());
    let server = Server::start_in(builder, workdir, state).await;
    let url = format!("http://{}{}/", server.addr, server.prefix);
    let shots = repo().join("docs/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let child = tokio::process::Command::new("node")
        .arg(repo().join("tests/browser/run.mjs"))
        .arg(name)
        .env("SWE_URL", &url)
        .env("PW_DIR", pw.join("node_modules"))
        .env("CHROMIUM", chromium)
        .env("WORKDIR", server.workdir.path())
        .env("SHOTS", &shots)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(SCENARIO_TIMEOUT, child)
        .await
        .unwrap_or_else(|_| panic!("scenario {name} did not finish in {SCENARIO_TIMEOUT:?}"))
        .expect("node is needed for the browser tests");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    assert!(
        out.status.success(),
        "scenario {name} failed:\n{stdout}\n{stderr}"
    );
    assert!(
        !server.panicked.load(std::sync::atomic::Ordering::SeqCst),
        "the server panicked"
    );
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
