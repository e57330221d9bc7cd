//! Tool uses that need the host's answer: Write, Edit, AskUserQuestion and
//! ExitPlanMode, over `can_use_tool` in duplex mode, refused in print mode
//! unless granted by flags or the permission mode.

use super::{Msg, Turn};
use crate::emit;
use serde_json::{json, Value};

impl Turn<'_> {
    /// Asks the host about a tool use: `Some(Ok(input))` to run it with,
    /// `Some(Err(message))` when refused, `None` when the turn was interrupted
    /// (its result is already out). Print mode has no one to ask: a tool not
    /// granted by flags is refused as the real CLI does.
    fn ask(&mut self, id: &str, tool: &str, input: &Value) -> Option<Result<Value, String>> {
        let edits = matches!(tool, "Write" | "Edit" | "MultiEdit");
        let granted = self.o.skip
            || self.mode == "bypassPermissions"
            || (edits && self.mode == "acceptEdits")
            || self.o.allowed.iter().any(|t| t == tool);
        if granted && !matches!(tool, "AskUserQuestion" | "ExitPlanMode") {
            return Some(Ok(input.clone()));
        }
        if !self.o.duplex {
            let what = if tool == "Write" { "write to" } else { "use" };
            let target = input["file_path"].as_str().unwrap_or(tool);
            return Some(Err(format!(
                "Claude requested permissions to {what} {target}, but you haven't granted it yet."
            )));
        }
        let req = uuid::Uuid::new_v4().to_string();
        emit(
            &json!({"type":"control_request","request_id":req,"request":{"subtype":"can_use_tool",
            "tool_name":tool,"display_name":tool,"input":input,"description":tool,
            "permission_suggestions":[{"type":"setMode","mode":"acceptEdits","destination":"session"}],
            "tool_use_id":id}}),
        );
        let mut later = Vec::new();
        let answer = loop {
            let fresh = self.inbox.as_ref().and_then(|i| i.rx.recv().ok());
            match fresh {
                Some(Msg::Allow(r, updated)) if r == req => break Ok(updated),
                Some(Msg::Deny(r, message)) if r == req => break Err(message),
                Some(Msg::Interrupt(i)) => {
                    self.interrupted(&i, "");
                    return None;
                }
                Some(Msg::SetMode(i, mode)) => self.set_mode(&i, mode),
                Some(Msg::Eof) | None => std::process::exit(0),
                Some(other) => later.push(other),
            }
        };
        if let Some(inbox) = self.inbox.as_mut() {
            inbox.pending.extend(later);
        }
        Some(answer)
    }

    pub(super) fn write(&mut self, path: &str) -> Option<String> {
        let id = format!("toolu_{}", uuid::Uuid::new_v4().simple());
        let input = json!({"file_path":path,"content":"written by fake\n"});
        self.tool_use(&id, "Write", &input);
        let said = match self.ask(&id, "Write", &input)? {
            Ok(input) => {
                let p = input["file_path"].as_str().unwrap_or(path).to_owned();
                match std::fs::write(&p, input["content"].as_str().unwrap_or("")) {
                    Ok(()) => format!("File created successfully at: {p}"),
                    Err(e) => format!("write failed: {e}"),
                }
            }
            Err(message) => {
                self.tool_result(&id, &message, true);
                return Some(format!("Tool said: {message}"));
            }
        };
        self.tool_result(&id, &said, false);
        Some(format!("Tool said: {said}"))
    }

    /// An Edit that asks first; the change itself is only reported.
    pub(super) fn edit(&mut self, path: &str) -> Option<String> {
        let id = format!("toolu_{}", uuid::Uuid::new_v4().simple());
        let input = json!({"file_path":path,"old_string":"let limit = 10;\nlet name = \"old\";",
            "new_string":"let limit = 20;\nlet name = \"old\";\nlet extra = true;"});
        self.tool_use(&id, "Edit", &input);
        let said = match self.ask(&id, "Edit", &input)? {
            Ok(_) => format!("The file {path} has been updated."),
            Err(message) => {
                self.tool_result(&id, &message, true);
                return Some(format!("Tool said: {message}"));
            }
        };
        self.tool_result(&id, &said, false);
        Some(format!("Tool said: {said}"))
    }

    /// AskUserQuestion: the answers come back in the allowed input.
    pub(super) fn question(&mut self) -> Option<String> {
        let id = format!("toolu_{}", uuid::Uuid::new_v4().simple());
        let input = json!({"questions":[{"question":"Which database should I use?","header":"Database",
            "multiSelect":false,"options":[{"label":"SQLite","description":"Embedded, one file"},
            {"label":"PostgreSQL","description":"A server"}]}]});
        self.tool_use(&id, "AskUserQuestion", &input);
        Some(match self.ask(&id, "AskUserQuestion", &input)? {
            Ok(updated) => {
                let answers = updated["answers"].to_string();
                self.tool_result(
                    &id,
                    &format!("User has answered your questions: {answers}"),
                    false,
                );
                format!("You chose: {answers}")
            }
            Err(message) => {
                self.tool_result(&id, &message, true);
                format!("No answer: {message}")
            }
        })
    }

    /// ExitPlanMode: the user approves the plan or keeps planning.
    pub(super) fn plan(&mut self) -> Option<String> {
        let id = format!("toolu_{}", uuid::Uuid::new_v4().simple());
        let input = json!({"plan":"## Plan\n1. Read `src/parser.rs`\n2. Fix the off-by-one\n3. Add a test"});
        self.tool_use(&id, "ExitPlanMode", &input);
        Some(match self.ask(&id, "ExitPlanMode", &input)? {
            Ok(_) => {
                self.tool_result(&id, "User has approved your plan.", false);
                format!("Plan approved; mode now {}", self.mode)
            }
            Err(message) => {
                self.tool_result(&id, &message, true);
                format!("Keep planning: {message}")
            }
        })
    }
}
