//! Agents that speak the Agent Client Protocol (ACP v1: JSON-RPC 2.0, one
//! object per line on stdin/stdout): Gemini CLI, Qwen Code, OpenCode,
//! Copilot CLI, Goose, Codex through `codex-acp`, or any `--acp-cmd`.
//!
//! `client` is the protocol side of one agent process as a pure state
//! machine; `choose` maps the page's decisions onto an agent's options;
//! `workdir_files` serves the agent's `fs/*` calls inside the workdir.

pub mod choose;
pub mod client;
pub mod workdir_files;

use super::template::{split, TemplateError};
use super::{SpawnSpec, StdinMode};
use std::path::PathBuf;

/// The ACP agents swe-swe knows by name, and the command each is started
/// with (found on PATH unless `--acp-cmd` says otherwise).
pub const PRESETS: &[(&str, &str)] = &[
    ("gemini", "gemini --acp"),
    ("qwen", "qwen --acp"),
    ("opencode", "opencode acp"),
    ("copilot", "copilot --acp"),
    ("goose", "goose acp"),
    ("codex", "codex-acp"),
];

/// How to start one ACP agent: a command split like a template, never run
/// through a shell, and the name the page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcpSpec {
    pub name: String,
    words: Vec<String>,
    /// The workdir, absolute: ACP sessions are opened with it, and file
    /// calls are served below it only.
    pub cwd: PathBuf,
}

impl AcpSpec {
    pub fn parse(name: &str, command: &str) -> Result<Self, TemplateError> {
        Ok(Self {
            name: name.to_owned(),
            words: split(command)?,
            cwd: PathBuf::from("/"),
        })
    }

    /// The same agent, working in `cwd`.
    pub fn in_dir(mut self, cwd: PathBuf) -> Self {
        self.cwd = cwd;
        self
    }

    /// A preset by name (`gemini`, `qwen`, …), or None.
    pub fn preset(name: &str) -> Option<Self> {
        let (_, command) = PRESETS.iter().find(|(n, _)| *n == name)?;
        Self::parse(name, command).ok()
    }

    pub fn program(&self) -> &str {
        &self.words[0]
    }

    pub fn spawn_spec(&self) -> SpawnSpec {
        SpawnSpec {
            program: self.words[0].clone(),
            args: self.words[1..].to_vec(),
            stdin: StdinMode::Open,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_split_into_argv_without_a_shell() {
        let g = AcpSpec::preset("gemini").unwrap();
        assert_eq!(g.program(), "gemini");
        assert_eq!(g.spawn_spec().args, ["--acp"]);
        assert!(AcpSpec::preset("nope").is_none());
        let c = AcpSpec::parse("acp", "my-agent --flag 'two words'").unwrap();
        assert_eq!(c.spawn_spec().args, ["--flag", "two words"]);
        assert!(AcpSpec::parse("acp", "  ").is_err());
    }
}
