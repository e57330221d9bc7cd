//! The agents a server offers: the one its flags configure (the default for
//! new sessions), plus Claude Code and each ACP preset whose program is
//! found on PATH. A session picks one when it starts and keeps it for life.

use super::acp::{AcpSpec, PRESETS};
use super::{AgentSpec, ClaudeMode};
use std::ffi::OsStr;
use std::path::Path;

#[derive(Debug, Clone)]
pub struct AgentCatalog {
    /// (name, spec); the default first.
    agents: Vec<(String, AgentSpec)>,
}

impl AgentCatalog {
    /// Only the configured agent.
    pub fn only(default: AgentSpec) -> Self {
        Self {
            agents: vec![(default.label().to_owned(), default)],
        }
    }

    /// The configured agent, then those found on `path` (a PATH value).
    pub fn discover(default: AgentSpec, workdir: &Path, path: Option<&OsStr>) -> Self {
        let mut c = Self::only(default);
        let found = |program: &str| {
            path.is_some_and(|p| {
                std::env::split_paths(p).any(|dir| is_executable(&dir.join(program)))
            })
        };
        if found("claude") {
            c.add(AgentSpec::Claude {
                bin: "claude".into(),
                mode: ClaudeMode::Duplex,
            });
        }
        for (name, _) in PRESETS {
            if let Some(spec) = AcpSpec::preset(name) {
                if found(spec.program()) {
                    c.add(AgentSpec::Acp(spec.in_dir(workdir.to_owned())));
                }
            }
        }
        c
    }

    /// Adds `spec` unless its name is taken (the configured agent wins).
    fn add(&mut self, spec: AgentSpec) {
        let name = spec.label().to_owned();
        if self.get(&name).is_none() {
            self.agents.push((name, spec));
        }
    }

    pub fn get(&self, name: &str) -> Option<&AgentSpec> {
        self.agents.iter().find(|(n, _)| n == name).map(|(_, s)| s)
    }

    pub fn default_name(&self) -> &str {
        &self.agents[0].0
    }

    /// Every agent: (name, the command that starts it).
    pub fn list(&self) -> impl Iterator<Item = (&str, &AgentSpec)> {
        self.agents.iter().map(|(n, s)| (n.as_str(), s))
    }
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configured_agent_comes_first_and_path_adds_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        for prog in ["gemini", "codex-acp"] {
            let p = dir.path().join(prog);
            std::fs::write(&p, "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755))
                .unwrap();
        }
        // Not executable: not offered.
        std::fs::write(dir.path().join("qwen"), "").unwrap();
        let default = AgentSpec::Acp(AcpSpec::parse("gemini", "/opt/g --acp").unwrap());
        let c = AgentCatalog::discover(
            default.clone(),
            Path::new("/w"),
            Some(dir.path().as_os_str()),
        );
        let names: Vec<&str> = c.list().map(|(n, _)| n).collect();
        assert_eq!(names, ["gemini", "codex"]);
        assert_eq!(
            c.get("gemini"),
            Some(&default),
            "the configured command wins"
        );
        assert_eq!(c.default_name(), "gemini");
        let AgentSpec::Acp(codex) = c.get("codex").unwrap() else {
            panic!()
        };
        assert_eq!(codex.cwd, Path::new("/w"));
        assert!(c.get("qwen").is_none());
    }
}
