//! swe-swe driving real ACP agent CLIs, end to end, the way
//! `tests/real_claude.rs` drives Claude Code.
//!
//! Each CLI is installed at a pinned version with npm into
//! `.cache/acp-agents/NAME` (ignored by git, reused when present). Each test
//! then re-runs itself inside a network namespace with only loopback, where
//! it serves a stand-in of the agent's model API (`support/model_apis.rs`),
//! writes the agent's offline configuration into a HOME of its own (the
//! set-up of ../shared/ACP-AGENTS.md), and drives the agent through swe-swe
//! over `/ws`: a text turn, a file write that asks permission (allowed, then
//! rejected), stop in the middle of a slow stream, and a restart of swe-swe
//! after which the conversation continues. A missing npm, a failed install or
//! a missing `unshare` fails the test; nothing is skipped.

#[path = "support/model_apis.rs"]
mod model_apis;
mod support;

use model_apis::ModelApis;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use support::*;

struct Cli {
    /// `--agent` preset name.
    name: &'static str,
    package: &'static str,
    version: &'static str,
    /// The executable, relative to the install folder.
    bin: &'static str,
    args: &'static [&'static str],
}

const GEMINI: Cli = Cli {
    name: "gemini",
    package: "@google/gemini-cli",
    version: "0.61.0",
    bin: "node_modules/.bin/gemini",
    args: &["--acp", "-m", "gemini-2.5-pro"],
};
const QWEN: Cli = Cli {
    name: "qwen",
    package: "@qwen-code/qwen-code",
    version: "0.24.4",
    bin: "node_modules/.bin/qwen",
    args: &["--acp", "--auth-type", "openai"],
};
const OPENCODE: Cli = Cli {
    name: "opencode",
    package: "opencode-ai",
    version: "1.18.33",
    bin: "node_modules/opencode-linux-x64/bin/opencode",
    args: &["acp"],
};
const CODEX: Cli = Cli {
    name: "codex",
    package: "@zed-industries/codex-acp",
    version: "0.16.0",
    bin: "node_modules/@zed-industries/codex-acp-linux-x64/bin/codex-acp",
    args: &[],
};
const COPILOT: Cli = Cli {
    name: "copilot",
    package: "@github/copilot",
    version: "1.0.102",
    bin: "node_modules/@github/copilot-linux-x64/copilot",
    args: &["--acp"],
};

impl Cli {
    fn dir(&self) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(".cache/acp-agents")
            .join(self.name)
    }

    /// The pinned CLI, installed on first use (outside the namespace: npm
    /// needs the registry).
    fn install(&self) -> PathBuf {
        let dir = self.dir();
        let manifest = dir
            .join("node_modules")
            .join(self.package)
            .join("package.json");
        let installed = std::fs::read_to_string(&manifest)
            .ok()
            .and_then(|s| serde_json::from_str::<Value>(&s).ok())
            .and_then(|v| v["version"].as_str().map(str::to_owned));
        if installed.as_deref() != Some(self.version) {
            npm_install(&dir, &format!("{}@{}", self.package, self.version));
        }
        let bin = dir.join(self.bin);
        assert!(
            bin.exists(),
            "{} is not where {} puts it",
            bin.display(),
            self.package
        );
        bin
    }

    fn command(&self, bin: &Path) -> String {
        let mut words = vec![bin.display().to_string()];
        words.extend(self.args.iter().map(|a| a.to_string()));
        words.join(" ")
    }

    /// Offline configuration in `home`, and the environment the agent needs.
    fn configure(&self, home: &Path, base: &str) -> Vec<(&'static str, String)> {
        let write = |rel: &str, text: String| {
            let p = home.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        match self.name {
            "gemini" => {
                write(
                    ".gemini/settings.json",
                    json!({"general":{"enableAutoUpdate":false,"enableAutoUpdateNotification":false},
                        "privacy":{"usageStatisticsEnabled":false},"telemetry":{"enabled":false}})
                    .to_string(),
                );
                vec![("GOOGLE_GEMINI_BASE_URL", base.to_owned())]
            }
            "qwen" => {
                write(
                    ".qwen/settings.json",
                    json!({"security":{"auth":{"selectedType":"openai"}},"model":{"name":"m"},
                        "tools":{"approvalMode":"default"},"ui":{"enableFollowupSuggestions":false},
                        "memory":{"enableManagedAutoMemory":false},
                        "general":{"enableAutoUpdate":false,"enableAutoUpdateNotification":false},
                        "privacy":{"usageStatisticsEnabled":false},"telemetry":{"enabled":false}})
                    .to_string(),
                );
                vec![
                    ("OPENAI_BASE_URL", format!("{base}/v1")),
                    ("OPENAI_API_KEY", "x".into()),
                    ("OPENAI_MODEL", "m".into()),
                ]
            }
            "opencode" => {
                write(
                    ".config/opencode/opencode.json",
                    json!({"provider":{"standin":{"npm":"@ai-sdk/openai-compatible","name":"Stand-in",
                            "options":{"baseURL":format!("{base}/v1"),"apiKey":"x"},
                            "models":{"m":{"name":"m"}}}},
                        "model":"standin/m","small_model":"standin/m","autoupdate":false,
                        "share":"disabled","permission":{"edit":"ask","bash":"ask"}})
                    .to_string(),
                );
                [
                    "OPENCODE_DISABLE_AUTOUPDATE",
                    "OPENCODE_DISABLE_MODELS_FETCH",
                    "OPENCODE_DISABLE_DEFAULT_PLUGINS",
                    "OPENCODE_DISABLE_LSP_DOWNLOAD",
                    "OPENCODE_DISABLE_SHARE",
                ]
                .into_iter()
                .map(|k| (k, "1".to_owned()))
                .collect()
            }
            "codex" => {
                write(
                    ".codex/config.toml",
                    format!(
                        "model = \"gpt-5.4\"\nmodel_provider = \"standin\"\napproval_policy = \"untrusted\"\n\
                         sandbox_mode = \"danger-full-access\"\ncheck_for_update_on_startup = false\n\
                         [model_providers.standin]\nname = \"standin\"\nbase_url = \"{base}/v1\"\n\
                         env_key = \"STANDIN_API_KEY\"\nwire_api = \"responses\"\n\
                         [analytics]\nenabled = false\n[feedback]\nenabled = false\n"
                    ),
                );
                vec![("STANDIN_API_KEY", "x".into())]
            }
            "copilot" => vec![
                ("COPILOT_PROVIDER_BASE_URL", format!("{base}/v1")),
                ("COPILOT_PROVIDER_API_KEY", "x".into()),
                ("COPILOT_MODEL", "m".into()),
                ("COPILOT_PROVIDER_WIRE_API", "completions".into()),
            ],
            other => panic!("no set-up for {other}"),
        }
    }
}

fn status(frames: &[Value]) -> &str {
    let end = frames.last().unwrap();
    assert_eq!(end["type"], "exec_end");
    end["status"].as_str().unwrap()
}

/// Sends a write, answers its permission request with `decision`, and
/// returns the turn's frames.
async fn write_turn(c: &mut Client, path: &Path, text: &str, decision: &str) -> Vec<Value> {
    c.message(&format!("write {} {text}", path.display())).await;
    let mut frames = c.until_type("permission_request").await;
    let ask = frames.last().unwrap().clone();
    assert!(
        ask["options"].as_array().is_some_and(|o| !o.is_empty()),
        "the agent's options come with the request: {ask}"
    );
    c.send(json!({"type":"permission_response","requestId":ask["requestId"],"decision":decision}))
        .await;
    frames.extend(c.until_type("exec_end").await);
    frames
}

fn drive(cli: &'static Cli) {
    let bin = cli.install();
    let test = format!("real_{}_end_to_end", cli.name);
    netns::run(&test, || async move {
        let api = ModelApis::start().await;
        let workdir = tempfile::tempdir().unwrap();
        let state = tempfile::tempdir().unwrap();
        let mut builder = Server::plain().args([
            "--agent",
            cli.name,
            "--acp-cmd",
            &cli.command(&bin),
            "--stop-grace",
            "5s",
        ]);
        for (k, v) in cli.configure(state.path(), &api.base_url()) {
            builder = builder.env(k, v);
        }
        let server = Server::start_in(builder, workdir, state).await;
        let dir = server.workdir.path().canonicalize().unwrap();
        let mut c = server.joined("real").await;

        // A text turn.
        let frames = c.turn("hello there").await;
        assert_eq!(status(&frames), "success", "{frames:?} {:?}", api.paths());
        assert!(
            agent_said(&frames).contains("You said: hello there"),
            "said {:?}; model API requests: {:?}",
            agent_said(&frames),
            api.requests
                .lock()
                .unwrap()
                .iter()
                .map(|(p, b)| format!(
                    "{p} {}",
                    b.to_string().chars().take(3000).collect::<String>()
                ))
                .collect::<Vec<_>>()
        );

        // A write that asks permission: allowed, then rejected.
        let allowed = dir.join("allowed.txt");
        let frames = write_turn(&mut c, &allowed, "allowed text", "allow").await;
        assert_ne!(status(&frames), "error", "{frames:?}");
        let written = std::fs::read_to_string(&allowed).unwrap_or_default();
        assert_eq!(written.trim_end(), "allowed text", "{frames:?}");
        let rejected = dir.join("rejected.txt");
        let frames = write_turn(&mut c, &rejected, "rejected text", "deny").await;
        assert_ne!(status(&frames), "error", "{frames:?}");
        assert!(!rejected.exists(), "a rejected write happened: {frames:?}");

        // Stop in the middle of a slow stream; the next turn works.
        c.message("slow 100").await;
        c.recv_until(|f| {
            f["type"] == "agent_update" && agent_said(std::slice::from_ref(f)).contains("chunk")
        })
        .await;
        c.send(json!({"type":"stop"})).await;
        let frames = c.until_type("exec_end").await;
        assert_eq!(status(&frames), "stopped", "{frames:?}");
        assert!(!agent_said(&frames).contains("chunk 99"), "stopped early");
        let frames = c.turn("after the stop").await;
        assert_eq!(status(&frames), "success", "{frames:?}");
        assert!(agent_said(&frames).contains("You said: after the stop"));
        c.close().await;

        if cli.name == "gemini" {
            // Gemini 0.61.0 names a chat's file by its UTC minute and cannot
            // load it within that minute (ACP-AGENTS.md): restart in the next.
            let secs = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs();
            tokio::time::sleep(std::time::Duration::from_secs(61 - secs % 60)).await;
        }

        // Restart swe-swe: the conversation goes on where it was.
        let server = server.restart().await;
        let mut c = server.client().await;
        c.hello("real", u64::MAX).await;
        let frames = c.turn("recall").await;
        assert_eq!(status(&frames), "success", "{frames:?}");
        assert!(
            of_type(&frames, "info").is_empty(),
            "loaded, not new: {frames:?}"
        );
        assert!(agent_said(&frames).contains("hello there"), "{frames:?}");
        assert!(server.terminate().await.success());
    });
}

#[test]
fn real_gemini_end_to_end() {
    drive(&GEMINI);
}

#[test]
fn real_qwen_end_to_end() {
    drive(&QWEN);
}

#[test]
fn real_opencode_end_to_end() {
    drive(&OPENCODE);
}

#[test]
fn real_codex_end_to_end() {
    drive(&CODEX);
}

#[test]
fn real_copilot_end_to_end() {
    drive(&COPILOT);
}
