//! Agent adapters: how a turn becomes a command line or stdin frames, and how
//! output lines become events. `claude` speaks Claude Code's stream-json (duplex
//! and classic), `template` runs any CLI from an argv template.

pub mod acp;
pub mod attachments;
pub mod catalog;
pub mod claude;
pub mod template;

/// Which agent a session runs, fixed for the server's lifetime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentSpec {
    Claude {
        bin: String,
        mode: ClaudeMode,
    },
    Template(template::Template),
    /// Any agent speaking the Agent Client Protocol; one long-lived
    /// process per session, like Claude's duplex mode.
    Acp(acp::AcpSpec),
    /// A stored session's agent that this server does not offer (started
    /// with other flags, or the program is gone from PATH): each turn fails
    /// saying so.
    Unavailable(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaudeMode {
    /// One long-lived process per chat session, turns and permission answers
    /// over stdin.
    Duplex,
    /// One `claude -p` process per message, as the original did.
    Classic,
}

impl AgentSpec {
    pub fn is_duplex(&self) -> bool {
        matches!(
            self,
            AgentSpec::Claude {
                mode: ClaudeMode::Duplex,
                ..
            }
        )
    }

    pub fn is_claude(&self) -> bool {
        matches!(self, AgentSpec::Claude { .. })
    }

    pub fn is_acp(&self) -> bool {
        matches!(self, AgentSpec::Acp(_))
    }

    /// Whether attached images reach this agent; `None` when the agent
    /// itself says so, later (ACP's `promptCapabilities.image`).
    pub fn takes_images(&self) -> Option<bool> {
        match self {
            AgentSpec::Acp(_) => None,
            other => Some(other.is_duplex()),
        }
    }

    /// The name the page shows for the agent a session runs.
    pub fn label(&self) -> &str {
        match self {
            AgentSpec::Claude { .. } => "claude",
            AgentSpec::Template(t) => t.program(),
            AgentSpec::Acp(a) => &a.name,
            AgentSpec::Unavailable(name) => name,
        }
    }

    /// The program a user would have to install, for error messages.
    pub fn program(&self) -> &str {
        match self {
            AgentSpec::Claude { bin, .. } => bin,
            AgentSpec::Template(t) => t.program(),
            AgentSpec::Acp(a) => a.program(),
            AgentSpec::Unavailable(name) => name,
        }
    }

    /// What to tell a user whose agent could not be started.
    pub fn install_hint(&self) -> String {
        match self {
            AgentSpec::Claude { bin, .. } => format!(
                "Install Claude Code with `npm install -g @anthropic-ai/claude-code`, \
                 or point --claude-bin (SWE_SWE_CLAUDE_BIN) at the `claude` executable \
                 (now {bin:?}), or use another agent with \
                 --agent template --agent-cli-1st \"CMD ?\"."
            ),
            AgentSpec::Template(t) => format!(
                "Check that {:?} is installed and on PATH, or change --agent-cli-1st / --agent-cli-nth.",
                t.program()
            ),
            AgentSpec::Acp(a) => format!(
                "Check that {:?} is installed and on PATH and speaks the Agent Client Protocol, \
                 or change --acp-cmd (docs/AGENTS.md says how each agent is set up).",
                a.program()
            ),
            AgentSpec::Unavailable(name) => format!(
                "This session runs {name}, which this server does not offer: start swe-swe \
                 with --agent {name}, or install {name} on PATH, to continue it."
            ),
        }
    }
}

/// A process to start for a turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpawnSpec {
    pub program: String,
    pub args: Vec<String>,
    pub stdin: StdinMode,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StdinMode {
    /// No input.
    Null,
    /// Kept open; frames are written as the session sends them (duplex).
    Open,
    /// Written once, then closed (a template without `?`).
    Once(String),
}

impl SpawnSpec {
    /// The command as one line for logs and error messages.
    pub fn display(&self) -> String {
        let mut parts = vec![self.program.clone()];
        parts.extend(self.args.iter().cloned());
        shell_words::join(parts)
    }
}

/// Agent session ids are passed to the CLI as one `--resume=ID` argv item;
/// beyond that we only accept the characters real ids use, so a hostile id
/// from a browser can neither look like a flag nor grow without bound.
pub fn valid_agent_session_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && !id.starts_with('-')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_agent_session_ids_are_refused() {
        assert!(valid_agent_session_id(
            "6d697127-e9c7-4fd4-a1a2-ea8a91608138"
        ));
        assert!(!valid_agent_session_id("; rm -rf /"));
        assert!(!valid_agent_session_id("--dangerously-skip-permissions"));
        assert!(!valid_agent_session_id(&"a".repeat(10_000)));
        assert!(!valid_agent_session_id(""));
    }
}
