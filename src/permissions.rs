//! Permission memory of one chat session. One value, replaced whole: a reader
//! (building a command line, answering a prompt) sees exactly what one answer
//! wrote, never half of one and half of another (seed race 3).

use std::collections::BTreeSet;

/// Claude Code's permission mode (`--permission-mode`). `BypassPermissions`
/// is not a separate field: it is `skip_all`, so there is one source of truth.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PermissionMode {
    #[default]
    Default,
    AcceptEdits,
    Plan,
    BypassPermissions,
}

impl PermissionMode {
    pub fn as_str(self) -> &'static str {
        match self {
            PermissionMode::Default => "default",
            PermissionMode::AcceptEdits => "acceptEdits",
            PermissionMode::Plan => "plan",
            PermissionMode::BypassPermissions => "bypassPermissions",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "default" => PermissionMode::Default,
            "acceptEdits" => PermissionMode::AcceptEdits,
            "plan" => PermissionMode::Plan,
            "bypassPermissions" => PermissionMode::BypassPermissions,
            _ => return None,
        })
    }
}

/// Tools that ask the user something rather than for permission: they are
/// never answered automatically, whatever the mode or the allowed list.
pub fn is_interactive_tool(tool: &str) -> bool {
    matches!(tool, "AskUserQuestion" | "ExitPlanMode")
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Permissions {
    /// Tools the user allowed for the rest of the session ("allow always").
    pub allowed_tools: BTreeSet<String>,
    /// The user chose "skip all" (bypassPermissions): every tool is allowed.
    pub skip_all: bool,
    /// The CLI's mode when `skip_all` is off (never `BypassPermissions`).
    pub mode: PermissionMode,
}

impl Permissions {
    pub fn allows(&self, tool: &str) -> bool {
        !is_interactive_tool(tool) && (self.skip_all || self.allowed_tools.contains(tool))
    }

    /// The mode as the user sees it.
    pub fn mode(&self) -> PermissionMode {
        if self.skip_all {
            PermissionMode::BypassPermissions
        } else {
            self.mode
        }
    }

    /// The mode to start the CLI in, when it is not its default. Bypass is
    /// enforced by swe-swe answering every prompt (duplex) or by
    /// `--dangerously-skip-permissions` (classic), not by this flag.
    pub fn cli_mode(&self) -> Option<PermissionMode> {
        match self.mode() {
            PermissionMode::Default | PermissionMode::BypassPermissions => None,
            m => Some(m),
        }
    }

    /// A new value with `tool` added; `self` is untouched.
    pub fn with_tool(&self, tool: &str) -> Self {
        let mut next = self.clone();
        next.allowed_tools.insert(tool.to_owned());
        next
    }

    pub fn with_skip_all(&self) -> Self {
        self.with_mode(PermissionMode::BypassPermissions)
    }

    pub fn with_mode(&self, mode: PermissionMode) -> Self {
        let mut next = self.clone();
        next.skip_all = mode == PermissionMode::BypassPermissions;
        if !next.skip_all {
            next.mode = mode;
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bypass_is_skip_all_and_other_modes_clear_it() {
        let p = Permissions::default().with_tool("Write");
        assert_eq!(p.mode(), PermissionMode::Default);
        let b = p.with_mode(PermissionMode::BypassPermissions);
        assert!(b.skip_all && b.allows("Bash") && b.cli_mode().is_none());
        let plan = b.with_mode(PermissionMode::Plan);
        assert!(!plan.skip_all && plan.allows("Write") && !plan.allows("Bash"));
        assert_eq!(plan.cli_mode(), Some(PermissionMode::Plan));
        for m in ["default", "acceptEdits", "plan", "bypassPermissions"] {
            assert_eq!(PermissionMode::parse(m).unwrap().as_str(), m);
        }
        assert!(PermissionMode::parse("auto; rm").is_none());
    }

    #[test]
    fn questions_are_never_answered_for_the_user() {
        let p = Permissions::default()
            .with_tool("AskUserQuestion")
            .with_skip_all();
        assert!(!p.allows("AskUserQuestion") && !p.allows("ExitPlanMode"));
    }
}
