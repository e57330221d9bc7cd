//! Permission memory of one chat session. One value, replaced whole: a reader
//! (building a command line, answering a prompt) sees exactly what one answer
//! wrote, never half of one and half of another (seed race 3).

use std::collections::BTreeSet;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Permissions {
    /// Tools the user allowed for the rest of the session ("allow always").
    pub allowed_tools: BTreeSet<String>,
    /// The user chose "skip all": every tool is allowed.
    pub skip_all: bool,
}

impl Permissions {
    pub fn allows(&self, tool: &str) -> bool {
        self.skip_all || self.allowed_tools.contains(tool)
    }

    /// A new value with `tool` added; `self` is untouched.
    pub fn with_tool(&self, tool: &str) -> Self {
        let mut allowed_tools = self.allowed_tools.clone();
        allowed_tools.insert(tool.to_owned());
        Self {
            allowed_tools,
            skip_all: self.skip_all,
        }
    }

    pub fn with_skip_all(&self) -> Self {
        Self {
            allowed_tools: self.allowed_tools.clone(),
            skip_all: true,
        }
    }
}
