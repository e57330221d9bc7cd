//! `GET /api/sessions/{id}/export?format=md|json`: a conversation as
//! Markdown (what was said, which tools ran, how turns ended) or as the
//! stored events themselves. Streamed page by page from the store, so a
//! long session never sits whole in memory.

use crate::store::Store;
use axum::body::{Body, Bytes};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::task::TaskTracker;

/// Events read from the store per page.
const PAGE: usize = 500;
const PAGE_BYTES: usize = 4 * 1024 * 1024;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Markdown,
    Json,
}

/// The body: pages read by a task of its own, a few pages ahead at most.
pub fn body(
    tracker: &TaskTracker,
    store: Store,
    session: String,
    title: String,
    format: Format,
) -> Body {
    let (tx, rx) = mpsc::channel::<Bytes>(4);
    // Owned by the server's tracker; it ends with the export or when the
    // client goes away (its next send fails).
    tracker.spawn(async move {
        let mut md = Markdown::default();
        let head = match format {
            Format::Json => format!(
                "{{\"session\":{},\"title\":{},\"events\":[",
                Value::from(session.as_str()),
                Value::from(title.as_str())
            ),
            Format::Markdown => format!("# {}\n\n", title.trim()),
        };
        if tx.send(head.into()).await.is_err() {
            return;
        }
        let (mut after, mut first) = (0u64, true);
        loop {
            let page = match store
                .events(&session, after, u64::MAX, PAGE, PAGE_BYTES)
                .await
            {
                Ok(p) => p,
                Err(e) => {
                    let _ = tx.send(format!("\n\n(export stopped: {e})\n").into()).await;
                    return;
                }
            };
            let Some(&(last, _)) = page.last() else { break };
            let mut chunk = String::new();
            for (_, frame) in &page {
                match format {
                    Format::Json => {
                        if !std::mem::take(&mut first) {
                            chunk.push(',');
                        }
                        chunk.push_str(frame);
                    }
                    Format::Markdown => {
                        if let Ok(v) = serde_json::from_str::<Value>(frame) {
                            md.push(&v, &mut chunk);
                        }
                    }
                }
            }
            if tx.send(chunk.into()).await.is_err() {
                return; // the client went away
            }
            after = last;
        }
        let tail = match format {
            Format::Json => "]}\n".to_owned(),
            Format::Markdown => md.finish(),
        };
        let _ = tx.send(tail.into()).await;
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, std::convert::Infallible>(b), rx))
    });
    Body::from_stream(stream)
}

/// Session events → Markdown, one event at a time (agent text streamed in
/// chunks is gathered into one paragraph).
#[derive(Default)]
pub struct Markdown {
    /// Agent text not written yet (ACP chunks, Claude stream deltas are
    /// skipped: the full message follows them).
    text: String,
}

impl Markdown {
    fn flush(&mut self, out: &mut String) {
        if !self.text.trim().is_empty() {
            out.push_str("**Agent:**\n\n");
            out.push_str(self.text.trim());
            out.push_str("\n\n");
        }
        self.text.clear();
    }

    pub fn push(&mut self, ev: &Value, out: &mut String) {
        match ev["type"].as_str().unwrap_or("") {
            "user_message" => {
                self.flush(out);
                out.push_str("---\n\n**You:**\n\n");
                out.push_str(ev["content"].as_str().unwrap_or("").trim());
                out.push_str("\n\n");
            }
            "claudejson" => {
                let Some(line) = ev["content"].as_str() else {
                    return;
                };
                let Ok(m) = serde_json::from_str::<Value>(line) else {
                    return;
                };
                if m["type"] != "assistant" {
                    return;
                }
                for block in m["message"]["content"].as_array().into_iter().flatten() {
                    match block["type"].as_str() {
                        Some("text") => self.text.push_str(block["text"].as_str().unwrap_or("")),
                        Some("tool_use") => {
                            self.flush(out);
                            let input = serde_json::to_string(&block["input"]).unwrap_or_default();
                            let shown: String = input.chars().take(300).collect();
                            out.push_str(&format!(
                                "> Tool **{}**: `{}`\n\n",
                                block["name"].as_str().unwrap_or("tool"),
                                shown.replace('`', "'")
                            ));
                        }
                        _ => {}
                    }
                }
            }
            "agent_update" => {
                let u = &ev["update"];
                match u["sessionUpdate"].as_str() {
                    Some("agent_message_chunk") => self
                        .text
                        .push_str(u["content"]["text"].as_str().unwrap_or("")),
                    Some("tool_call") => {
                        self.flush(out);
                        out.push_str(&format!(
                            "> Tool **{}** ({})\n\n",
                            u["title"].as_str().unwrap_or("tool"),
                            u["kind"].as_str().unwrap_or("other")
                        ));
                    }
                    _ => {}
                }
            }
            "content" => self
                .text
                .push_str(&format!("{}\n", ev["content"].as_str().unwrap_or(""))),
            "permission_request" => {
                self.flush(out);
                out.push_str(&format!(
                    "> Asked permission for **{}**\n\n",
                    ev["sender"].as_str().unwrap_or("a tool")
                ));
            }
            "permission_resolved" => out.push_str(&format!(
                "> Answered: {}\n\n",
                ev["decision"].as_str().unwrap_or("")
            )),
            "exec_end" => {
                self.flush(out);
                match ev["status"].as_str() {
                    Some("success") | None => {}
                    Some(status) => out.push_str(&format!(
                        "_The turn ended: {status}{}_\n\n",
                        ev["message"]
                            .as_str()
                            .map(|m| format!(" ({m})"))
                            .unwrap_or_default()
                    )),
                }
            }
            _ => {}
        }
    }

    pub fn finish(&mut self) -> String {
        let mut out = String::new();
        self.flush(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn export(events: &[Value]) -> String {
        let mut md = Markdown::default();
        let mut out = String::new();
        for e in events {
            md.push(e, &mut out);
        }
        out + &md.finish()
    }

    #[test]
    fn a_conversation_reads_as_markdown_for_both_agent_formats() {
        let claude_line = json!({"type":"assistant","message":{"content":[
            {"type":"text","text":"Let me look."},
            {"type":"tool_use","name":"Bash","input":{"command":"ls `x`"}}]}})
        .to_string();
        let md = export(&[
            json!({"type":"user_message","content":"list files","runId":1}),
            json!({"type":"claudejson","content":claude_line}),
            json!({"type":"exec_end","runId":1,"status":"success"}),
            json!({"type":"user_message","content":"now write","runId":2}),
            json!({"type":"agent_update","update":{"sessionUpdate":"agent_message_chunk","content":{"type":"text","text":"Wri"}}}),
            json!({"type":"agent_update","update":{"sessionUpdate":"agent_message_chunk","content":{"type":"text","text":"ting."}}}),
            json!({"type":"agent_update","update":{"sessionUpdate":"tool_call","title":"Write a.txt","kind":"edit"}}),
            json!({"type":"permission_request","sender":"Write a.txt"}),
            json!({"type":"permission_resolved","decision":"deny"}),
            json!({"type":"exec_end","runId":2,"status":"stopped","message":"stopped"}),
        ]);
        assert!(md.contains("**You:**\n\nlist files"), "{md}");
        assert!(md.contains("**Agent:**\n\nLet me look."), "{md}");
        assert!(
            md.contains("> Tool **Bash**: `{\"command\":\"ls 'x'\"}`"),
            "{md}"
        );
        assert!(md.contains("**Agent:**\n\nWriting."), "{md}");
        assert!(md.contains("> Tool **Write a.txt** (edit)"), "{md}");
        assert!(md.contains("> Answered: deny"), "{md}");
        assert!(md.contains("_The turn ended: stopped (stopped)_"), "{md}");
        assert!(md.find("Writing.").unwrap() < md.find("Write a.txt").unwrap());
    }
}
