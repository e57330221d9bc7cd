//! Template agents: `--agent-cli-1st "goose run --text ?"`. The template is
//! split like a shell would split words, once, at start-up; `?` tokens become
//! the prompt as a single argv item. Nothing ever goes through a shell.

use super::{SpawnSpec, StdinMode};
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    first: Vec<String>,
    nth: Vec<String>,
}

#[derive(Debug, Error)]
pub enum TemplateError {
    #[error("agent template {0:?} is empty")]
    Empty(String),
    #[error("agent template {template:?} cannot be split into words: {reason}")]
    Split { template: String, reason: String },
}

impl Template {
    pub fn parse(first: &str, nth: Option<&str>) -> Result<Self, TemplateError> {
        let first_words = split(first)?;
        let nth_words = match nth {
            Some(n) if !n.trim().is_empty() => split(n)?,
            _ => first_words.clone(),
        };
        Ok(Self {
            first: first_words,
            nth: nth_words,
        })
    }

    pub fn program(&self) -> &str {
        &self.first[0]
    }

    /// The command for a turn; `first_turn` picks the 1st or nth template.
    pub fn spawn_spec(&self, prompt: &str, first_turn: bool) -> SpawnSpec {
        let words = if first_turn { &self.first } else { &self.nth };
        let has_slot = words[1..].iter().any(|w| w == "?");
        let args = words[1..]
            .iter()
            .map(|w| {
                if w == "?" {
                    prompt.to_owned()
                } else {
                    w.clone()
                }
            })
            .collect();
        SpawnSpec {
            program: words[0].clone(),
            args,
            stdin: if has_slot {
                StdinMode::Null
            } else {
                StdinMode::Once(prompt.to_owned())
            },
        }
    }
}

pub(super) fn split(template: &str) -> Result<Vec<String>, TemplateError> {
    let words = shell_words::split(template).map_err(|e| TemplateError::Split {
        template: template.to_owned(),
        reason: e.to_string(),
    })?;
    if words.is_empty() {
        return Err(TemplateError::Empty(template.to_owned()));
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_is_one_argv_item_never_shell_text() {
        let t = Template::parse("goose run --text ?", Some("goose run -r --text ?")).unwrap();
        let s = t.spawn_spec("-rf; echo $(pwned) `x` \"q\"", true);
        assert_eq!(s.program, "goose");
        assert_eq!(s.args, ["run", "--text", "-rf; echo $(pwned) `x` \"q\""]);
        assert_eq!(s.stdin, StdinMode::Null);
        assert_eq!(t.spawn_spec("p", false).args, ["run", "-r", "--text", "p"]);
    }

    #[test]
    fn without_slot_the_prompt_goes_to_stdin() {
        let t = Template::parse("aider --yes", None).unwrap();
        let s = t.spawn_spec("hello", true);
        assert_eq!(s.args, ["--yes"]);
        assert_eq!(s.stdin, StdinMode::Once("hello".into()));
    }

    #[test]
    fn empty_or_unbalanced_templates_are_errors() {
        assert!(Template::parse("  ", None).is_err());
        assert!(Template::parse("cmd \"open", None).is_err());
    }
}
