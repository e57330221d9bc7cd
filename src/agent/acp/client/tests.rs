use super::*;
use serde_json::json;

fn writes(out: &[AcpOut]) -> Vec<Value> {
    out.iter()
        .filter_map(|o| match o {
            AcpOut::Write(l) => Some(serde_json::from_str(l).unwrap()),
            _ => None,
        })
        .collect()
}

fn written(out: AcpOut) -> Value {
    writes(&[out]).pop().expect("a line to write")
}

fn parsed(line: String) -> Value {
    serde_json::from_str(&line).unwrap()
}

/// Drives the handshake to an open session, the agent offering `load`.
fn ready(load: bool) -> AcpClient {
    let mut c = AcpClient::new("/work".into(), None);
    c.start();
    let caps = json!({"protocolVersion":1,"agentCapabilities":{"loadSession":load}});
    let out = c.on_line(&json!({"jsonrpc":"2.0","id":1,"result":caps}).to_string());
    assert_eq!(writes(&out)[0]["method"], "session/new");
    let out = c.on_line(r#"{"jsonrpc":"2.0","id":2,"result":{"sessionId":"s-1"}}"#);
    assert_eq!(
        out,
        vec![AcpOut::Opened {
            session_id: "s-1".into(),
            note: None
        }]
    );
    c
}

#[test]
fn initialize_offers_writes_but_not_reads_or_terminals() {
    let mut c = AcpClient::new("/work".into(), None);
    let init = written(c.start());
    assert_eq!(init["method"], "initialize");
    assert_eq!(init["params"]["protocolVersion"], 1);
    let fs = &init["params"]["clientCapabilities"]["fs"];
    assert_eq!(fs["readTextFile"], false);
    assert_eq!(fs["writeTextFile"], true);
    assert_ne!(init["params"]["clientCapabilities"]["terminal"], true);
}

#[test]
fn a_prompt_before_the_session_is_open_waits_for_it() {
    let mut c = AcpClient::new("/work".into(), None);
    c.start();
    assert!(c.prompt("hello", Vec::new()).is_empty());
    c.on_line(r#"{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":1}}"#);
    let out = c.on_line(r#"{"jsonrpc":"2.0","id":2,"result":{"sessionId":"abc"}}"#);
    let sent = writes(&out);
    assert_eq!(sent[0]["method"], "session/prompt");
    assert_eq!(sent[0]["params"]["sessionId"], "abc");
    assert_eq!(
        sent[0]["params"]["prompt"],
        json!([{"type":"text","text":"hello"}])
    );
    assert!(c.prompt_in_flight());
}

#[test]
fn updates_pass_through_unchanged_and_the_response_ends_the_turn() {
    let mut c = ready(false);
    c.prompt("hi", Vec::new());
    let update = r#"{"sessionUpdate":"agent_message_chunk","content":{"type":"text","text":"Hi"},"_meta":{"x":[1,2]}}"#;
    let line = format!(
        r#"{{"jsonrpc":"2.0","method":"session/update","params":{{"sessionId":"s-1","update":{update}}}}}"#
    );
    match &c.on_line(&line)[..] {
        [AcpOut::Update(raw)] => assert_eq!(raw.get(), update),
        other => panic!("{other:?}"),
    }
    let out = c.on_line(r#"{"jsonrpc":"2.0","id":3,"result":{"stopReason":"end_turn"}}"#);
    assert_eq!(
        out,
        vec![AcpOut::TurnEnded {
            stop_reason: "end_turn".into()
        }]
    );
    assert!(!c.prompt_in_flight());
    // A reason newer than the schema still ends the turn.
    c.prompt("again", Vec::new());
    let out = c.on_line(r#"{"jsonrpc":"2.0","id":4,"result":{"stopReason":"taking_a_nap"}}"#);
    assert!(matches!(&out[0], AcpOut::TurnEnded { stop_reason } if stop_reason == "taking_a_nap"));
}

#[test]
fn a_resumed_session_is_loaded_and_its_replay_is_not_repeated() {
    let mut c = AcpClient::new("/work".into(), Some("old-1".into()));
    c.start();
    c.prompt("continue", Vec::new());
    let out = c.on_line(
        r#"{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":1,"agentCapabilities":{"loadSession":true}}}"#,
    );
    let load = &writes(&out)[0];
    assert_eq!(load["method"], "session/load");
    assert_eq!(load["params"]["sessionId"], "old-1");
    assert_eq!(load["params"]["cwd"], "/work");
    assert_eq!(load["params"]["mcpServers"], json!([]));
    let replay = r#"{"jsonrpc":"2.0","method":"session/update","params":{"sessionId":"old-1","update":{"sessionUpdate":"user_message_chunk","content":{"type":"text","text":"earlier"}}}}"#;
    assert!(c.on_line(replay).is_empty());
    let out = c.on_line(r#"{"jsonrpc":"2.0","id":2,"result":{}}"#);
    assert!(matches!(&out[0], AcpOut::Opened { session_id, note: None } if session_id == "old-1"));
    assert_eq!(writes(&out)[0]["method"], "session/prompt");
}

#[test]
fn a_failed_load_or_no_load_capability_opens_a_new_session_with_a_note() {
    let mut c = AcpClient::new("/work".into(), Some("old-1".into()));
    c.start();
    c.on_line(r#"{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":1,"agentCapabilities":{"loadSession":true}}}"#);
    let out = c.on_line(
        r#"{"jsonrpc":"2.0","id":2,"error":{"code":-32603,"message":"Invalid session identifier"}}"#,
    );
    assert_eq!(writes(&out)[0]["method"], "session/new");
    let out = c.on_line(r#"{"jsonrpc":"2.0","id":3,"result":{"sessionId":"new-2"}}"#);
    match &out[0] {
        AcpOut::Opened { session_id, note } => {
            assert_eq!(session_id, "new-2");
            assert!(note
                .as_deref()
                .unwrap()
                .contains("Invalid session identifier"));
        }
        other => panic!("{other:?}"),
    }

    let mut c = AcpClient::new("/work".into(), Some("old-1".into()));
    c.start();
    let out = c.on_line(r#"{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":1}}"#);
    assert_eq!(writes(&out)[0]["method"], "session/new");
    let out = c.on_line(r#"{"jsonrpc":"2.0","id":2,"result":{"sessionId":"n"}}"#);
    assert!(matches!(&out[0], AcpOut::Opened { note: Some(n), .. } if n.contains("loadSession")));
}

#[test]
fn handshake_errors_break_the_client_with_the_agents_words() {
    let mut c = AcpClient::new("/work".into(), None);
    c.start();
    c.prompt("hi", Vec::new());
    let out = c.on_line(
        r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"Authentication required"}}"#,
    );
    assert!(matches!(&out[0], AcpOut::Failed(m) if m.contains("Authentication required")));
    assert_eq!(c.phase(), Phase::Broken);

    let mut c = AcpClient::new("/work".into(), None);
    c.start();
    let out = c.on_line(r#"{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":7}}"#);
    assert!(matches!(&out[0], AcpOut::Failed(m) if m.contains("version 7")));
}

#[test]
fn a_prompt_error_fails_the_turn_not_the_process() {
    let mut c = ready(false);
    c.prompt("hi", Vec::new());
    let out = c.on_line(
        r#"{"jsonrpc":"2.0","id":3,"error":{"code":-32603,"message":"model overloaded"}}"#,
    );
    assert!(matches!(&out[0], AcpOut::TurnFailed(m) if m.contains("model overloaded")));
    assert_eq!(c.phase(), Phase::Ready);
}

#[test]
fn permission_requests_keep_the_agents_id_and_answers_echo_it() {
    let mut c = ready(false);
    c.prompt("write", Vec::new());
    let out = c.on_line(
        r#"{"jsonrpc":"2.0","id":"7f3a-uuid","method":"session/request_permission","params":{"sessionId":"s-1","toolCall":{"toolCallId":"t1","title":"Write out.txt","kind":"edit"},"options":[{"optionId":"once","name":"Allow","kind":"allow_once"}]}}"#,
    );
    let AcpOut::Permission(ask) = &out[0] else {
        panic!("{out:?}")
    };
    assert_eq!(ask.rpc_id, r#""7f3a-uuid""#);
    assert_eq!(ask.tool_call["title"], "Write out.txt");
    let answer = parsed(AcpClient::answer_permission(
        &ask.rpc_id,
        Some("once".into()),
    ));
    assert_eq!(answer["id"], "7f3a-uuid");
    assert_eq!(
        answer["result"],
        json!({"outcome":{"outcome":"selected","optionId":"once"}})
    );
    let cancelled = parsed(AcpClient::answer_permission("12", None));
    assert_eq!(cancelled["id"], 12);
    assert_eq!(
        cancelled["result"],
        json!({"outcome":{"outcome":"cancelled"}})
    );
}

#[test]
fn cancel_goes_out_only_for_a_prompt_in_flight() {
    let mut c = AcpClient::new("/work".into(), None);
    c.start();
    c.prompt("hi", Vec::new());
    assert_eq!(c.cancel(), None, "nothing was sent yet: end the process");
    let mut c = ready(false);
    c.prompt("hi", Vec::new());
    let cancel = written(c.cancel().unwrap());
    assert_eq!(cancel["method"], "session/cancel");
    assert_eq!(cancel["params"]["sessionId"], "s-1");
    assert!(cancel.get("id").is_none(), "a notification has no id");
}

#[test]
fn unknown_methods_get_method_not_found_and_garbage_is_reported() {
    let mut c = ready(false);
    let out =
        c.on_line(r#"{"jsonrpc":"2.0","id":5,"method":"craft/drainMidTurnQueue","params":{}}"#);
    let reply = writes(&out).pop().unwrap();
    assert_eq!(reply["id"], 5);
    assert_eq!(reply["error"]["code"], METHOD_NOT_FOUND);
    let out = c.on_line(r#"{"jsonrpc":"2.0","id":6,"method":"terminal/create","params":{}}"#);
    assert_eq!(writes(&out)[0]["error"]["code"], METHOD_NOT_FOUND);
    assert_eq!(
        c.on_line("Loading model…"),
        vec![AcpOut::NotJsonRpc("Loading model…".into())]
    );
    assert!(matches!(&c.on_line("[1,2]")[0], AcpOut::NotJsonRpc(_)));
    // A response to nothing we asked, and unknown notifications: ignored.
    assert!(c
        .on_line(r#"{"jsonrpc":"2.0","id":99,"result":{}}"#)
        .is_empty());
    assert!(c
        .on_line(r#"{"jsonrpc":"2.0","method":"x/y","params":{}}"#)
        .is_empty());
}

#[test]
fn file_calls_are_parsed_and_bad_params_answered_with_an_error() {
    let mut c = ready(false);
    let out = c.on_line(r#"{"jsonrpc":"2.0","id":8,"method":"fs/write_text_file","params":{"sessionId":"s-1","path":"/work/a.txt","content":"x"}}"#);
    assert_eq!(
        out,
        vec![AcpOut::FileCall(FileCall::Write {
            rpc_id: "8".into(),
            path: "/work/a.txt".into(),
            content: "x".into()
        })]
    );
    let out =
        c.on_line(r#"{"jsonrpc":"2.0","id":9,"method":"fs/write_text_file","params":{"path":5}}"#);
    assert_eq!(writes(&out)[0]["error"]["code"], INVALID_PARAMS);
    let ok = parsed(AcpClient::answer_call("8", Ok(json!({}))));
    assert_eq!(ok["result"], json!({}));
    let err = parsed(AcpClient::answer_call(
        "9",
        Err("outside the workdir".into()),
    ));
    assert_eq!(err["error"]["message"], "outside the workdir");
}
