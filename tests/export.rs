//! Exporting a conversation: Markdown and the stored events as JSON.

mod support;

use serde_json::Value;
use support::*;

#[tokio::test]
async fn a_conversation_exports_as_markdown_and_as_its_events() {
    let server = Server::claude().start().await;
    let mut c = server.joined("ex").await;
    // Session events only (notices to every tab come between them).
    let first: Vec<Value> = c
        .turn("hello export")
        .await
        .into_iter()
        .filter(|f| f.get("seq").is_some())
        .collect();
    c.turn("second turn").await;
    let (status, md) = http_text(server.addr, "/api/sessions/ex/export?format=md").await;
    assert_eq!(status, 200, "{md}");
    assert!(md.starts_with("# hello export\n"), "{md}");
    assert!(md.contains("**You:**\n\nhello export"), "{md}");
    assert!(md.contains("**Agent:**\n\nYou said: hello export"), "{md}");
    assert!(md.find("second turn").unwrap() > md.find("hello export\n\n").unwrap());

    let (status, json) = http_text(server.addr, "/api/sessions/ex/export?format=json").await;
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&json).expect("the export is JSON");
    let events = v["events"].as_array().unwrap();
    assert_eq!(
        events[..first.len()],
        first[..],
        "the stored events, as sent"
    );
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());

    // Tried: an unknown format, an unknown session, a hostile id.
    assert_eq!(
        http_text(server.addr, "/api/sessions/ex/export?format=pdf")
            .await
            .0,
        400
    );
    assert_eq!(
        http_text(server.addr, "/api/sessions/nope/export").await.0,
        404
    );
    assert_eq!(
        http_text(server.addr, "/api/sessions/..%2Fetc/export")
            .await
            .0,
        400
    );
}
