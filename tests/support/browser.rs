//! Driving the page in a real browser: Debian's `chromium` with
//! `playwright-core` (npm, pinned, installed into `.cache/browser` on first
//! use). Shared by tests/browser.rs and tests/real_claude.rs; the scenarios
//! themselves are in tests/browser/run.mjs.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

const PLAYWRIGHT_VERSION: &str = "1.65.1";
/// The accessibility checker the `a11y` scenario runs in the page.
const AXE_VERSION: &str = "4.14.1";
const CHROMIUM: &str = "/usr/bin/chromium";
const SCENARIO_TIMEOUT: Duration = Duration::from_secs(240);

pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// playwright-core, installed once per machine into `.cache/browser`.
pub fn playwright_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = repo().join(".cache/browser");
        for (package, version) in [
            ("playwright-core", PLAYWRIGHT_VERSION),
            ("axe-core", AXE_VERSION),
        ] {
            let manifest = dir.join(format!("node_modules/{package}/package.json"));
            let installed = std::fs::read_to_string(&manifest)
                .map(|s| s.contains(&format!("\"version\": \"{version}\"")))
                .unwrap_or(false);
            if !installed {
                super::support::npm_install(&dir, &format!("{package}@{version}"));
            }
        }
        dir
    })
    .clone()
}

/// Debian's chromium; installed with apt-get when missing (as root).
pub fn chromium() -> &'static str {
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

/// `node tests/browser/run.mjs NAME` with its environment.
pub fn scenario_command(name: &str, url: &str, workdir: &Path) -> tokio::process::Command {
    let pw = playwright_dir();
    let chromium = chromium();
    // A test run leaves the repository as it was: the README's screenshots
    // are rewritten only when asked (`UPDATE_SCREENSHOTS=1 cargo test --test browser`).
    let shots = match std::env::var_os("UPDATE_SCREENSHOTS") {
        Some(_) => repo().join("docs/screenshots"),
        None => repo().join("target/screenshots"),
    };
    std::fs::create_dir_all(&shots).unwrap();
    let mut cmd = tokio::process::Command::new("node");
    cmd.arg(repo().join("tests/browser/run.mjs"))
        .arg(name)
        .env("SWE_URL", url)
        .env("PW_DIR", pw.join("node_modules"))
        .env("CHROMIUM", chromium)
        .env("WORKDIR", workdir)
        .env("SHOTS", &shots)
        .kill_on_drop(true);
    cmd
}

/// What one run of a scenario came to.
pub enum Outcome {
    Passed,
    /// Chromium itself went away under the scenario (its process crashed or
    /// was killed; run.mjs exits 75): not a failure of the page.
    BrowserWentAway(String),
    Failed(String),
}

/// Runs scenario `name` of tests/browser/run.mjs against the page at `url`
/// (the project folder is `workdir`), with its output.
pub async fn try_scenario(name: &str, url: &str, workdir: &Path) -> Outcome {
    let mut cmd = scenario_command(name, url, workdir);
    // Chromium's own output and how its process ended, shown when a run fails.
    cmd.env("DEBUG", "pw:browser");
    let out = tokio::time::timeout(SCENARIO_TIMEOUT, cmd.output())
        .await
        .unwrap_or_else(|_| panic!("scenario {name} did not finish in {SCENARIO_TIMEOUT:?}"))
        .expect("node is needed for the browser tests");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let printed = format!("{stdout}\n{stderr}");
    match out.status.code() {
        Some(0) => Outcome::Passed,
        Some(75) => Outcome::BrowserWentAway(printed),
        _ => Outcome::Failed(printed),
    }
}

/// [`try_scenario`], panicking with its output unless it passed.
pub async fn run_scenario(name: &str, url: &str, workdir: &Path) {
    match try_scenario(name, url, workdir).await {
        Outcome::Passed => {}
        Outcome::BrowserWentAway(out) | Outcome::Failed(out) => {
            panic!("scenario {name} failed:\n{out}")
        }
    }
}
