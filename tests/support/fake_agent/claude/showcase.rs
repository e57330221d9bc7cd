//! Rich output for the page: one reply streamed token by token, and a
//! showcase of every kind of tool card (nested subagent calls included).

use super::{Turn, Waited};
use crate::emit;
use serde_json::{json, Value};
use std::time::Duration;

impl Turn<'_> {
    /// One reply streamed token by token; `None` when interrupted.
    pub(super) fn stream(&mut self, n: usize, ms: u64) -> Option<String> {
        let msg_id = format!("msg_{}", uuid::Uuid::new_v4().simple());
        let ev = |e: Value| json!({"type":"stream_event","event":e,"parent_tool_use_id":null});
        emit(&self.envelope(ev(
            json!({"type":"message_start","message":{"id":msg_id,"type":"message",
            "role":"assistant","content":[]}}),
        )));
        emit(
            &self.envelope(ev(json!({"type":"content_block_start","index":0,
            "content_block":{"type":"text","text":""}}))),
        );
        let words = ["Here", "is", "**bold**", "and", "`code`", "text."];
        let mut said = String::new();
        for i in 0..n {
            if let Waited::Interrupted(id) = self.pause(Duration::from_millis(ms)) {
                self.interrupted(&id, &said);
                return None;
            }
            let w = format!("{}{i} ", words[i % words.len()]);
            said.push_str(&w);
            emit(
                &self.envelope(ev(json!({"type":"content_block_delta","index":0,
                "delta":{"type":"text_delta","text":w}}))),
            );
        }
        emit(&self.envelope(ev(json!({"type":"content_block_stop","index":0}))));
        emit(&self.envelope(json!({"type":"assistant","message":{"id":msg_id,"type":"message","role":"assistant",
            "model":"fake","content":[{"type":"text","text":said}],"stop_reason":null},"parent_tool_use_id":null})));
        emit(&self.envelope(ev(json!({"type":"message_stop"}))));
        Some(String::new())
    }

    fn blocks(&self, blocks: Value, parent: Option<&str>) {
        emit(&self.envelope(json!({"type":"assistant","message":{"id":format!("msg_{}", uuid::Uuid::new_v4().simple()),
            "type":"message","role":"assistant","model":"fake","content":blocks,"stop_reason":null},
            "parent_tool_use_id":parent})));
    }

    fn call(&self, name: &str, input: Value, result: &str, is_error: bool, parent: Option<&str>) {
        let id = format!("toolu_{}", uuid::Uuid::new_v4().simple());
        self.blocks(
            json!([{"type":"tool_use","id":id,"name":name,"input":input}]),
            parent,
        );
        let mut block = json!({"type":"tool_result","tool_use_id":id,"content":result});
        if is_error {
            block["is_error"] = json!(true);
        }
        emit(&self.envelope(
            json!({"type":"user","message":{"role":"user","content":[block]},
            "parent_tool_use_id":parent}),
        ));
    }

    /// A command with 40 lines of output.
    pub(super) fn counting(&mut self) -> String {
        let out: Vec<String> = (1..=40).map(|n| format!("line {n}")).collect();
        self.call(
            "Bash",
            json!({"command":"seq -f 'line %g' 1 40"}),
            &out.join("\n"),
            false,
            None,
        );
        "Counted to 40.".into()
    }

    /// Every kind of output the page has a card for.
    pub(super) fn showcase(&mut self) -> String {
        self.blocks(json!([{"type":"thinking","thinking":"The user wants a tour of every tool. Start with the tests.","signature":"sig"}]), None);
        self.blocks(json!([{"type":"text","text":"# Tour\nI'll check **the parser** first, then fix `parse()`:\n\n```rust\nfn parse(s: &str) -> Option<u32> {\n    // trim, then read\n    s.trim().parse().ok()\n}\n```\n\n- tests first\n- then the fix\n\n| step | state |\n|---|---|\n| read | done |\n\nSee [the docs](https://example.com/docs) and <b>not html</b>."}]), None);
        self.call("Bash", json!({"command":"cargo test parser","description":"Run the parser tests"}),
            "running 3 tests\ntest parser::empty ... ok\ntest parser::digits ... ok\ntest parser::spaces ... FAILED\n\ntest result: FAILED. 2 passed; 1 failed", false, None);
        self.call(
            "Read",
            json!({"file_path":"/home/user/project/src/parser.rs"}),
            "     1\tfn parse(s: &str) -> Option<u32> {\n     2\t    s.parse().ok()\n     3\t}\n",
            false,
            None,
        );
        self.call("Edit", json!({"file_path":"/home/user/project/src/parser.rs","old_string":"    s.parse().ok()","new_string":"    // trim, then read\n    s.trim().parse().ok()"}),
            "The file /home/user/project/src/parser.rs has been updated.", false, None);
        self.call(
            "MultiEdit",
            json!({"file_path":"/home/user/project/src/lib.rs","edits":[
            {"old_string":"mod parser;","new_string":"pub mod parser;"},
            {"old_string":"const MAX: u32 = 10;","new_string":"const MAX: u32 = 100;"}]}),
            "Applied 2 edits to /home/user/project/src/lib.rs",
            false,
            None,
        );
        self.call("TodoWrite", json!({"todos":[
            {"content":"Read the parser","status":"completed","activeForm":"Reading the parser"},
            {"content":"Fix whitespace handling","status":"in_progress","activeForm":"Fixing whitespace handling"},
            {"content":"Add a regression test","status":"pending","activeForm":"Adding a regression test"}]}),
            "Todos have been modified successfully.", false, None);
        let task = format!("toolu_{}", uuid::Uuid::new_v4().simple());
        self.blocks(json!([{"type":"tool_use","id":task,"name":"Task","input":{"description":"Find callers of parse",
            "prompt":"List every caller of parse() in src/","subagent_type":"general-purpose"}}]), None);
        self.call(
            "Grep",
            json!({"pattern":"parse\\(","path":"src","output_mode":"content"}),
            "src/main.rs:12:    let n = parse(&line)?;\nsrc/cli.rs:40:    parse(arg)",
            false,
            Some(&task),
        );
        self.call(
            "Glob",
            json!({"pattern":"src/**/*.rs"}),
            "src/main.rs\nsrc/cli.rs\nsrc/parser.rs",
            false,
            Some(&task),
        );
        self.blocks(
            json!([{"type":"text","text":"Two callers: `main.rs:12` and `cli.rs:40`."}]),
            Some(&task),
        );
        emit(&self.envelope(json!({"type":"user","message":{"role":"user","content":[{"type":"tool_result","tool_use_id":task,
            "content":[{"type":"text","text":"Found 2 callers: src/main.rs:12, src/cli.rs:40"}]}]},"parent_tool_use_id":null})));
        self.call("WebFetch", json!({"url":"https://doc.rust-lang.org/std/primitive.str.html#method.trim","prompt":"What does trim remove?"}),
            "trim removes leading and trailing whitespace.", false, None);
        self.call(
            "WebSearch",
            json!({"query":"rust str parse whitespace"}),
            "1. str::parse — docs\n2. Why parse fails on spaces",
            false,
            None,
        );
        self.call(
            "mcp__db__query",
            json!({"sql":"select count(*) from users"}),
            "[{\"count\": 42}]",
            false,
            None,
        );
        self.call(
            "Bash",
            json!({"command":"cargo clippy -- -D warnings"}),
            "error: unused variable: `x`\n --> src/parser.rs:4:9\nExit code 101",
            true,
            None,
        );
        "Done: the parser trims input now, and one lint is left to fix.".into()
    }
}
