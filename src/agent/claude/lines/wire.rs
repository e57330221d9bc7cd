//! The members of a Claude Code line the session reads, found by name in
//! the line's text (`scan`) and read only when wanted. Lenient where
//! Claude's output varies: a member of the wrong type is absent, not a
//! reason to drop the line.

use super::scan::{array, keep, members, object, skip, str_of, whole};
use serde::Deserialize;
use std::borrow::Cow;

/// The members of a line the session reads, as raw JSON text.
#[derive(Default)]
pub(super) struct Line<'a> {
    pub(super) kind: Option<&'a str>,
    pub(super) subtype: Option<&'a str>,
    pub(super) session_id: Option<&'a str>,
    pub(super) is_error: Option<&'a str>,
    pub(super) terminal_reason: Option<&'a str>,
    pub(super) errors: Option<&'a str>,
    pub(super) total_cost_usd: Option<&'a str>,
    pub(super) usage: Option<&'a str>,
    pub(super) model_usage: Option<&'a str>,
    pub(super) request_id: Option<&'a str>,
    pub(super) request: Option<&'a str>,
    /// `message.content` and `message.usage`, read in the line's pass.
    content: Option<&'a str>,
    pub(super) message_usage: Option<&'a str>,
}

impl<'a> Line<'a> {
    /// `None` if the line is not one JSON object. One pass over it:
    /// `message` is walked in place, the rest passed over.
    pub(super) fn read(line: &'a str) -> Option<Self> {
        let mut l = Line::default();
        whole(line, |at| {
            object(line, at, |name, start| {
                let member = match name {
                    "type" => &mut l.kind,
                    "subtype" => &mut l.subtype,
                    "session_id" => &mut l.session_id,
                    "message" => return l.message(line, start),
                    "is_error" => &mut l.is_error,
                    "terminal_reason" => &mut l.terminal_reason,
                    "errors" => &mut l.errors,
                    "total_cost_usd" => &mut l.total_cost_usd,
                    "usage" => &mut l.usage,
                    "modelUsage" => &mut l.model_usage,
                    "request_id" => &mut l.request_id,
                    "request" => &mut l.request,
                    _ => return skip(line, start),
                };
                keep(line, start, Some(member))
            })
        })?;
        Some(l)
    }

    /// `message` at `start`: its content and usage if it is an object
    /// (a later `message` replaces an earlier one's).
    fn message(&mut self, line: &'a str, start: usize) -> Option<usize> {
        (self.content, self.message_usage) = (None, None);
        if !line[start..].starts_with('{') {
            return skip(line, start);
        }
        object(line, start, |name, at| {
            let member = match name {
                "content" => &mut self.content,
                "usage" => &mut self.message_usage,
                _ => return skip(line, at),
            };
            keep(line, at, Some(member))
        })
    }

    /// Each content block of the message (none unless `content` is an
    /// array; an element that is not an object is passed over).
    pub(super) fn blocks(&self, mut each: impl FnMut(Block<'a>)) {
        let Some(content) = self.content else {
            return;
        };
        // Checked in the line's pass: this walk cannot fail half-way.
        array(content, 0, |at| {
            if !content[at..].starts_with('{') {
                return skip(content, at);
            }
            let mut block = Block::default();
            let end = object(content, at, |name, start| {
                let member = match name {
                    "type" => &mut block.kind,
                    "id" => &mut block.id,
                    "name" => &mut block.name,
                    "input" => &mut block.input,
                    "tool_use_id" => &mut block.tool_use_id,
                    "is_error" => &mut block.is_error,
                    "content" => &mut block.content,
                    _ => return skip(content, start),
                };
                keep(content, start, Some(member))
            })?;
            each(block);
            Some(end)
        });
    }
}

/// A member as text: a JSON string, else absent.
pub(super) fn text(raw: Option<&str>) -> Option<Cow<'_, str>> {
    raw.and_then(str_of)
}

/// A member read as a `T`; absent if it is not one.
pub(super) fn typed<'a, T: Deserialize<'a>>(raw: Option<&'a str>) -> Option<T> {
    serde_json::from_str(raw?).ok()
}

/// A member read as a `u64`: plain digits parsed here (serde_json's
/// reader, set up for each, cost more than the number), anything else
/// (`-0`, `1e3`) as serde_json reads it.
fn count(raw: Option<&str>) -> Option<u64> {
    let raw = raw?;
    raw.parse().ok().or_else(|| typed(Some(raw)))
}

/// A content block: tool_use (`id`, `name`, `input`) or tool_result
/// (`tool_use_id`, `is_error`, `content`), as raw JSON text.
#[derive(Default)]
pub(super) struct Block<'a> {
    pub(super) kind: Option<&'a str>,
    pub(super) id: Option<&'a str>,
    pub(super) name: Option<&'a str>,
    pub(super) input: Option<&'a str>,
    pub(super) tool_use_id: Option<&'a str>,
    pub(super) is_error: Option<&'a str>,
    pub(super) content: Option<&'a str>,
}

/// A `usage` object's token counts.
pub(super) struct Usage {
    input_tokens: Option<u64>,
    cache_read_input_tokens: Option<u64>,
    cache_creation_input_tokens: Option<u64>,
    pub(super) output_tokens: Option<u64>,
}

impl Usage {
    /// `None` unless `raw` is an object.
    pub(super) fn read(raw: Option<&str>) -> Option<Self> {
        let [input, cache_read, cache_creation, output] = members(raw?, |n| {
            Some(match n {
                "input_tokens" => 0,
                "cache_read_input_tokens" => 1,
                "cache_creation_input_tokens" => 2,
                "output_tokens" => 3,
                _ => return None,
            })
        })?;
        Some(Usage {
            input_tokens: count(input),
            cache_read_input_tokens: count(cache_read),
            cache_creation_input_tokens: count(cache_creation),
            output_tokens: count(output),
        })
    }

    /// Input tokens, cached ones included.
    pub(super) fn input_total(&self) -> u64 {
        [
            self.input_tokens,
            self.cache_read_input_tokens,
            self.cache_creation_input_tokens,
        ]
        .into_iter()
        .flatten()
        .sum()
    }
}

/// The largest `contextWindow` of a `modelUsage` object's models.
pub(super) fn largest_context_window(raw: Option<&str>) -> Option<u64> {
    let raw = raw?;
    let mut largest = None;
    object(raw, 0, |_model, at| {
        let end = skip(raw, at)?;
        let [window] =
            members(&raw[at..end], |n| (n == "contextWindow").then_some(0)).unwrap_or_default();
        largest = largest.max(count(window));
        Some(end)
    })?;
    largest
}

/// A `control_request`'s `request`, as raw JSON text.
pub(super) struct ControlRequest<'a> {
    pub(super) subtype: Option<&'a str>,
    pub(super) tool_name: Option<&'a str>,
    pub(super) input: Option<&'a str>,
    pub(super) tool_use_id: Option<&'a str>,
}

impl<'a> ControlRequest<'a> {
    /// `None` unless `raw` is an object.
    pub(super) fn read(raw: &'a str) -> Option<Self> {
        let [subtype, tool_name, input, tool_use_id] = members(raw, |n| {
            Some(match n {
                "subtype" => 0,
                "tool_name" => 1,
                "input" => 2,
                "tool_use_id" => 3,
                _ => return None,
            })
        })?;
        Some(ControlRequest {
            subtype,
            tool_name,
            input,
            tool_use_id,
        })
    }
}
