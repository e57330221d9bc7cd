//! Command-line flags (each with an environment variable) → `Config`.

use crate::agent::acp::AcpSpec;
use crate::agent::template::{Template, TemplateError};
use crate::agent::{AgentSpec, ClaudeMode};
use clap::{Parser, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;
use thiserror::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AgentChoice {
    /// Claude Code (`claude`), in the mode given by --claude-mode.
    Claude,
    /// Any CLI, from --agent-cli-1st / --agent-cli-nth.
    Template,
    /// Any Agent Client Protocol agent, started with --acp-cmd.
    Acp,
    /// Gemini CLI over ACP (`gemini --acp`).
    Gemini,
    /// Qwen Code over ACP (`qwen --acp`).
    Qwen,
    /// OpenCode over ACP (`opencode acp`).
    Opencode,
    /// GitHub Copilot CLI over ACP (`copilot --acp`).
    Copilot,
    /// Goose over ACP (`goose acp`).
    Goose,
    /// Codex through the `codex-acp` adapter.
    Codex,
}

impl AgentChoice {
    /// The preset's name, for ACP agents swe-swe knows by name.
    fn preset(self) -> Option<&'static str> {
        Some(match self {
            AgentChoice::Gemini => "gemini",
            AgentChoice::Qwen => "qwen",
            AgentChoice::Opencode => "opencode",
            AgentChoice::Copilot => "copilot",
            AgentChoice::Goose => "goose",
            AgentChoice::Codex => "codex",
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ClaudeModeChoice {
    /// One long-lived process per chat session (stream-json in and out).
    Duplex,
    /// One `claude -p` process per message, as the original swe-swe did.
    Classic,
}

/// swe-swe: chat with a command-line coding agent from your browser.
#[derive(Debug, Clone, Parser)]
#[command(version, about)]
pub struct Args {
    /// Address to bind. Loopback by default: anyone who reaches swe-swe can
    /// run commands through the agent.
    #[arg(long, env = "SWE_SWE_HOST", default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on (0 picks a free one).
    #[arg(long, env = "SWE_SWE_PORT", default_value_t = 7000)]
    pub port: u16,
    /// Serve everything under this path, e.g. /swe (behind a proxy).
    #[arg(long, env = "SWE_SWE_PREFIX_PATH", default_value = "")]
    pub prefix_path: String,
    /// The project folder the agent works in.
    #[arg(long, env = "SWE_SWE_WORKDIR", default_value = ".")]
    pub workdir: PathBuf,
    /// Which agent to run.
    #[arg(long, env = "SWE_SWE_AGENT", value_enum, default_value = "claude")]
    pub agent: AgentChoice,
    /// How Claude Code is driven.
    #[arg(
        long,
        env = "SWE_SWE_CLAUDE_MODE",
        value_enum,
        default_value = "duplex"
    )]
    pub claude_mode: ClaudeModeChoice,
    /// The Claude Code executable.
    #[arg(long, env = "SWE_SWE_CLAUDE_BIN", default_value = "claude")]
    pub claude_bin: String,
    /// Template agent command for a session's first message; `?` is the prompt
    /// (one argument, never through a shell). Without `?` the prompt goes to stdin.
    #[arg(long = "agent-cli-1st", env = "SWE_SWE_AGENT_CLI_1ST")]
    pub agent_cli_1st: Option<String>,
    /// Template agent command for later messages (default: the 1st template).
    #[arg(long = "agent-cli-nth", env = "SWE_SWE_AGENT_CLI_NTH")]
    pub agent_cli_nth: Option<String>,
    /// The command of an ACP agent (`--agent acp`), split like a template and
    /// never run through a shell; with a preset (`--agent gemini`, …) it
    /// replaces the preset's command, e.g. "/opt/gemini/bin/gemini --acp -m gemini-2.5-pro".
    #[arg(long = "acp-cmd", env = "SWE_SWE_ACP_CMD")]
    pub acp_cmd: Option<String>,
    /// How long an ACP agent may take to answer `initialize` and open its
    /// session before the turn fails with an error.
    #[arg(long, env = "SWE_SWE_AGENT_START_TIMEOUT", default_value = "60s", value_parser = parse_duration)]
    pub agent_start_timeout: Duration,
    /// How long a stop may take before the agent's process group is killed
    /// (interrupt, then SIGINT → SIGTERM → SIGKILL within this time).
    #[arg(long, env = "SWE_SWE_STOP_GRACE", default_value = "5s", value_parser = parse_duration)]
    pub stop_grace: Duration,
    /// Agent session ids remembered per chat session (for resume fallback).
    #[arg(long, env = "SWE_SWE_HISTORY_CAP", default_value_t = 10)]
    pub history_cap: usize,
    /// tool_use entries remembered per chat session.
    #[arg(long, env = "SWE_SWE_TOOL_CACHE_CAP", default_value_t = 1000)]
    pub tool_cache_cap: usize,
    /// Events kept in memory per session for replay (older ones are read
    /// from the store).
    #[arg(long, env = "SWE_SWE_TAIL_CAP", default_value_t = 2_000)]
    pub tail_cap: usize,
    /// Bytes of events held in memory per session for replay (older ones,
    /// and any event larger than this, are read from the store).
    #[arg(long, env = "SWE_SWE_TAIL_BYTES", default_value_t = 16 << 20)]
    pub tail_bytes: usize,
    /// Bytes of events read from the store per page of a replay: events are
    /// taken while the page is under it, so a page is at most this plus one
    /// event. A tab holds one page at a time.
    #[arg(long, env = "SWE_SWE_REPLAY_PAGE_BYTES", default_value_t = 8 << 20)]
    pub replay_page_bytes: usize,
    /// Bytes of events queued per tab before a tab that does not keep up is
    /// dropped (it reconnects and replays what it missed).
    #[arg(long, env = "SWE_SWE_SUBSCRIBER_QUEUE_BYTES", default_value_t = 32 << 20)]
    pub subscriber_queue_bytes: usize,
    /// Hold a streaming turn's agent output up to this long (at most 1s),
    /// so that one store commit and one write per tab carry several events:
    /// less CPU per event on a server with many tabs, this much more delay
    /// before a tab sees each event. A message, a stop, any request to the
    /// session, a permission question and a turn's end are never held.
    /// 0s: every event goes out as soon as it is stored.
    #[arg(long, env = "SWE_SWE_COALESCE", default_value = "0s", value_parser = parse_duration)]
    pub coalesce: Duration,
    /// A store commit starts at least this long after the previous one
    /// ended (at most 100ms): under load, the events that arrive meanwhile
    /// share one commit (less CPU per event), each waiting up to this much
    /// longer before it is sent; after a quiet spell an event is committed
    /// at once. 0s: commit whatever has arrived as soon as the last commit
    /// ends.
    #[arg(long, env = "SWE_SWE_COMMIT_INTERVAL", default_value = "1ms", value_parser = parse_duration)]
    pub commit_interval: Duration,
    /// Bytes of attached files that messages waiting or running may hold in
    /// memory at once, across sessions (at most 4 GiB); a message beyond it
    /// is refused (`attachments_busy`) until a turn ends.
    #[arg(long, env = "SWE_SWE_MESSAGE_FILES_BYTES", default_value_t = 256 << 20)]
    pub message_files_bytes: usize,
    /// Messages that may wait while a turn runs, per session.
    #[arg(long, env = "SWE_SWE_QUEUE_CAP", default_value_t = 16)]
    pub queue_cap: usize,
    /// Largest WebSocket message accepted from a browser, in bytes.
    #[arg(long, env = "SWE_SWE_MAX_FRAME_BYTES", default_value_t = 1024 * 1024)]
    pub max_frame_bytes: usize,
    /// Longest agent output line, in bytes; longer lines are skipped with an error event.
    #[arg(long, env = "SWE_SWE_MAX_LINE_BYTES", default_value_t = 8 * 1024 * 1024)]
    pub max_line_bytes: usize,
    /// Events queued per tab before a tab that does not keep up is dropped
    /// (it reconnects and replays what it missed).
    #[arg(long, env = "SWE_SWE_SUBSCRIBER_QUEUE", default_value_t = 1024)]
    pub subscriber_queue: usize,
    /// Where sessions are stored (SQLite). Default: $XDG_DATA_HOME/swe-swe
    /// or ~/.local/share/swe-swe.
    #[arg(long, env = "SWE_SWE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Access token required from browsers when bound off loopback
    /// (generated when not given). Never passed to the agent.
    #[arg(long, env = "SWE_SWE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Read the access token from this file (its first line) instead: a
    /// token on the command line is visible to every local user in `ps`.
    #[arg(long, env = "SWE_SWE_TOKEN_FILE", conflicts_with = "token")]
    pub token_file: Option<PathBuf>,
    /// An origin (scheme://host[:port]) whose pages may open /ws besides this
    /// server's own; repeat for several.
    #[arg(
        long = "allow-origin",
        env = "SWE_SWE_ALLOW_ORIGIN",
        value_delimiter = ','
    )]
    pub allow_origins: Vec<String>,
    /// A host name this server is reached by besides localhost, loopback
    /// addresses and --host (e.g. the name a reverse proxy forwards in
    /// `Host`); repeat for several. Requests naming any other host are
    /// refused (DNS rebinding).
    #[arg(long = "allow-host", env = "SWE_SWE_ALLOW_HOST", value_delimiter = ',')]
    pub allow_hosts: Vec<String>,
    /// Messages a connection may send per second (bursts of twice that).
    #[arg(long, env = "SWE_SWE_MAX_MESSAGES_PER_SEC", default_value_t = 50)]
    pub max_messages_per_sec: u32,
    /// Connections (HTTP and WebSocket) from one client address. Not applied
    /// to loopback peers (local tabs, a reverse proxy on this host) nor to
    /// --trust-proxy peers; behind a trusted proxy, applied to the address in
    /// X-Forwarded-For.
    #[arg(long, env = "SWE_SWE_MAX_CONNECTIONS_PER_IP", default_value_t = 64)]
    pub max_connections_per_ip: usize,
    /// A reverse proxy's address: connections from it carry the client's
    /// address in X-Forwarded-For, which the per-address cap then counts;
    /// repeat or comma-separate.
    #[arg(long, env = "SWE_SWE_TRUST_PROXY", value_delimiter = ',')]
    pub trust_proxy: Vec<std::net::IpAddr>,
    /// Open connections at once; 0: as many as the open-file limit allows
    /// after keeping descriptors for agents and the store.
    #[arg(long, env = "SWE_SWE_MAX_HTTP_CONNECTIONS", default_value_t = 0)]
    pub max_http_connections: usize,
    /// A connection whose request head has not arrived within this is closed.
    #[arg(long, env = "SWE_SWE_HEADER_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub header_timeout: Duration,
    /// A connection that answers nothing (not even pings) for this long is closed.
    #[arg(long, env = "SWE_SWE_IDLE_TIMEOUT", default_value = "120s", value_parser = parse_duration)]
    pub idle_timeout: Duration,
    /// Agent processes running at once (a duplex session keeps one).
    #[arg(long, env = "SWE_SWE_MAX_AGENTS", default_value_t = 64)]
    pub max_agents: usize,
    /// Paths held by the `@` file finder's index.
    #[arg(long, env = "SWE_SWE_MAX_FILES", default_value_t = 1_000_000)]
    pub max_files: usize,
    /// Chat sessions held at once.
    #[arg(long, env = "SWE_SWE_MAX_SESSIONS", default_value_t = 10_000)]
    pub max_sessions: usize,
    /// A session with no tab and no turn for this long ends its idle agent
    /// process and leaves memory (it is reloaded from the store when used).
    #[arg(long, env = "SWE_SWE_SESSION_IDLE_RETIRE", default_value = "10m", value_parser = parse_duration)]
    pub session_idle_retire: Duration,
}

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("--agent template needs --agent-cli-1st, e.g. --agent-cli-1st \"goose run --text ?\"")]
    MissingTemplate,
    #[error("--agent acp needs --acp-cmd, e.g. --acp-cmd \"gemini --acp\" (or use a preset: --agent gemini)")]
    MissingAcpCommand,
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("--prefix-path must start with '/' and contain only URL path characters, got {0:?}")]
    Prefix(String),
    #[error("--workdir {path:?}: {reason}")]
    Workdir { path: PathBuf, reason: String },
    #[error("--{0} must be at least 1")]
    Zero(&'static str),
    #[error("--coalesce is at most 1s (it delays every event a tab sees), got {0:?}")]
    CoalesceTooLong(Duration),
    #[error("--commit-interval is at most 100ms (every event waits for its commit), got {0:?}")]
    CommitIntervalTooLong(Duration),
    #[error("--token-file {path:?}: {reason}")]
    TokenFile { path: PathBuf, reason: String },
}

/// Validated settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub host: String,
    pub port: u16,
    /// "" or "/something" without a trailing slash.
    pub prefix: String,
    pub workdir: PathBuf,
    pub agent: AgentSpec,
    pub agent_start_timeout: Duration,
    pub stop_grace: Duration,
    /// Quiet sessions leave memory after this long (at least 50 ms).
    pub session_idle_retire: Duration,
    pub history_cap: usize,
    pub tool_cache_cap: usize,
    pub tail_cap: usize,
    pub queue_cap: usize,
    pub max_frame_bytes: usize,
    pub max_line_bytes: usize,
    pub subscriber_queue: usize,
    pub bytes: crate::session::runtime::ByteBudgets,
    /// `--coalesce` (at most one second).
    pub coalesce: Duration,
    /// `--commit-interval` (at most 100 ms).
    pub commit_interval: Duration,
    pub message_files_bytes: usize,
    pub max_sessions: usize,
    pub data_dir: PathBuf,
    pub max_files: usize,
    pub allow_origins: Vec<String>,
    pub allow_hosts: Vec<String>,
    pub max_messages_per_sec: u32,
    pub max_connections_per_ip: usize,
    pub trust_proxy: Vec<std::net::IpAddr>,
    /// 0: derived from the open-file limit at start.
    pub max_http_connections: usize,
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_agents: usize,
    /// `Some` when requests must carry the access token.
    pub token: Option<String>,
}

impl Args {
    pub fn into_config(self) -> Result<Config, ConfigError> {
        let agent = match self.agent {
            AgentChoice::Claude => AgentSpec::Claude {
                bin: self.claude_bin,
                mode: match self.claude_mode {
                    ClaudeModeChoice::Duplex => ClaudeMode::Duplex,
                    ClaudeModeChoice::Classic => ClaudeMode::Classic,
                },
            },
            AgentChoice::Template => {
                let first = self.agent_cli_1st.ok_or(ConfigError::MissingTemplate)?;
                AgentSpec::Template(Template::parse(&first, self.agent_cli_nth.as_deref())?)
            }
            acp => {
                let name = acp.preset().unwrap_or("acp");
                let preset = crate::agent::acp::PRESETS
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, c)| *c);
                let command = self
                    .acp_cmd
                    .as_deref()
                    .or(preset)
                    .ok_or(ConfigError::MissingAcpCommand)?;
                AgentSpec::Acp(AcpSpec::parse(name, command)?)
            }
        };
        let prefix = normalise_prefix(&self.prefix_path)?;
        let loopback = is_loopback(&self.host);
        let workdir = self
            .workdir
            .canonicalize()
            .map_err(|e| ConfigError::Workdir {
                path: self.workdir.clone(),
                reason: e.to_string(),
            })?;
        if !workdir.is_dir() {
            return Err(ConfigError::Workdir {
                path: workdir,
                reason: "not a directory".into(),
            });
        }
        for (name, v) in [
            ("history-cap", self.history_cap),
            ("tool-cache-cap", self.tool_cache_cap),
            ("tail-cap", self.tail_cap),
            ("subscriber-queue", self.subscriber_queue),
            ("max-sessions", self.max_sessions),
            ("max-frame-bytes", self.max_frame_bytes),
            ("max-line-bytes", self.max_line_bytes),
        ] {
            if v == 0 {
                return Err(ConfigError::Zero(name));
            }
        }
        if self.coalesce > Duration::from_secs(1) {
            return Err(ConfigError::CoalesceTooLong(self.coalesce));
        }
        if self.commit_interval > Duration::from_millis(100) {
            return Err(ConfigError::CommitIntervalTooLong(self.commit_interval));
        }
        let agent = match agent {
            AgentSpec::Acp(a) => AgentSpec::Acp(a.in_dir(workdir.clone())),
            other => other,
        };
        Ok(Config {
            host: self.host,
            port: self.port,
            prefix,
            workdir,
            agent,
            agent_start_timeout: self.agent_start_timeout.max(Duration::from_millis(100)),
            stop_grace: self.stop_grace,
            session_idle_retire: self.session_idle_retire.max(Duration::from_millis(50)),
            history_cap: self.history_cap,
            tool_cache_cap: self.tool_cache_cap,
            tail_cap: self.tail_cap,
            queue_cap: self.queue_cap,
            max_frame_bytes: self.max_frame_bytes,
            max_line_bytes: self.max_line_bytes,
            subscriber_queue: self.subscriber_queue,
            coalesce: self.coalesce,
            commit_interval: self.commit_interval,
            message_files_bytes: self.message_files_bytes.max(1),
            bytes: crate::session::runtime::ByteBudgets::new(
                self.tail_bytes,
                self.replay_page_bytes.max(1),
                self.subscriber_queue_bytes.max(1),
            ),
            max_sessions: self.max_sessions,
            data_dir: self.data_dir.unwrap_or_else(crate::store::default_data_dir),
            max_files: self.max_files,
            allow_origins: self.allow_origins,
            allow_hosts: self.allow_hosts,
            max_messages_per_sec: self.max_messages_per_sec.max(1),
            max_connections_per_ip: self.max_connections_per_ip.max(1),
            trust_proxy: self.trust_proxy,
            max_http_connections: self.max_http_connections,
            header_timeout: self.header_timeout.max(Duration::from_millis(100)),
            idle_timeout: self.idle_timeout.max(Duration::from_millis(300)),
            max_agents: self.max_agents.max(1),
            token: match self
                .token_file
                .as_deref()
                .map(read_token_file)
                .transpose()?
                .or(self.token)
                .filter(|t| !t.is_empty())
            {
                Some(t) => Some(t),
                None if loopback => None,
                None => Some(crate::server::auth::generate()),
            },
        })
    }
}

/// The first line of a token file, which must not be empty.
fn read_token_file(path: &std::path::Path) -> Result<String, ConfigError> {
    let err = |reason: String| ConfigError::TokenFile {
        path: path.to_owned(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let token = text.lines().next().unwrap_or("").trim();
    if token.is_empty() {
        return Err(err("the file is empty".into()));
    }
    Ok(token.to_owned())
}

fn normalise_prefix(p: &str) -> Result<String, ConfigError> {
    let trimmed = p.trim_end_matches('/');
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    let ok = trimmed.starts_with('/')
        && trimmed
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/-_.~".contains(&b))
        && !trimmed.contains("//");
    if ok {
        Ok(trimmed.to_owned())
    } else {
        Err(ConfigError::Prefix(p.to_owned()))
    }
}

/// Loopback binds are only reachable from this machine.
pub fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h == "localhost"
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// "5s", "500ms", "2m", or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map_or((s, "s"), |i| (&s[..i], &s[i..]));
    let n: f64 = num.parse().map_err(|_| format!("not a duration: {s:?}"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        _ => return Err(format!("unknown unit in {s:?}; use ms, s or m")),
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("{s:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_prefixes() {
        assert_eq!(parse_duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("2").unwrap(), Duration::from_secs(2));
        assert!(parse_duration("5h").is_err());
        assert_eq!(normalise_prefix("/swe/").unwrap(), "/swe");
        assert_eq!(normalise_prefix("").unwrap(), "");
        assert!(normalise_prefix("swe").is_err());
        assert!(normalise_prefix("/a<b").is_err());
    }

    /// Tried: `--coalesce` of 2s, beyond what a tab should wait for an
    /// event, and `--commit-interval` of 101ms (every event waits for its
    /// commit): each refused with the flag's name and its bound; values
    /// within and the defaults pass.
    #[test]
    fn the_delays_a_tab_sees_are_bounded() {
        let dir = std::env::temp_dir();
        let with = |flag: &str, v: &str| {
            Args::parse_from(["swe-swe", "--workdir", dir.to_str().unwrap(), flag, v]).into_config()
        };
        let err = with("--coalesce", "2s").unwrap_err().to_string();
        assert!(err.contains("--coalesce") && err.contains("1s"), "{err}");
        let err = with("--commit-interval", "101ms").unwrap_err().to_string();
        assert!(
            err.contains("--commit-interval") && err.contains("100ms"),
            "{err}"
        );
        assert_eq!(
            with("--coalesce", "250ms").unwrap().coalesce,
            Duration::from_millis(250)
        );
        assert_eq!(
            with("--commit-interval", "0s").unwrap().commit_interval,
            Duration::ZERO
        );
        let default = Args::parse_from(["swe-swe", "--workdir", dir.to_str().unwrap()])
            .into_config()
            .unwrap();
        assert_eq!(default.coalesce, Duration::ZERO);
        assert_eq!(default.commit_interval, crate::store::COMMIT_INTERVAL);
    }

    /// Tried: a tab budget far below the session's unstored bound. One
    /// commit releases up to the unstored bytes at once, so the bound
    /// follows the tab budget down (else every tab, reading or not, would be
    /// dropped by one burst).
    #[test]
    fn unstored_events_never_exceed_a_tabs_budget() {
        let dir = std::env::temp_dir();
        let small = Args::parse_from([
            "swe-swe",
            "--workdir",
            dir.to_str().unwrap(),
            "--subscriber-queue-bytes",
            "1048576",
        ]);
        let bytes = small.into_config().unwrap().bytes;
        assert_eq!((bytes.subscriber_queue, bytes.unstored), (1 << 20, 1 << 20));
        let default = Args::parse_from(["swe-swe", "--workdir", dir.to_str().unwrap()]);
        let bytes = default.into_config().unwrap().bytes;
        assert!(bytes.unstored <= bytes.subscriber_queue);
        assert_eq!(bytes.unstored, 32 << 20);
    }

    #[test]
    fn template_agent_needs_a_template() {
        let args = Args::parse_from(["swe-swe", "--agent", "template"]);
        assert!(matches!(
            args.into_config(),
            Err(ConfigError::MissingTemplate)
        ));
    }
}
