//! Notices to every tab: other sessions' state (running, needs you), the
//! session list changing, and a session deleted under an open tab.

mod support;

use serde_json::{json, Value};
use support::*;

/// The next notice of `kind` about `session`, skipping everything else.
async fn notice(c: &mut Client, kind: &str, session: &str) -> Value {
    c.recv_until(|f| f["type"] == kind && f["session"] == session)
        .await
        .pop()
        .unwrap()
}

#[tokio::test]
async fn every_tab_hears_who_runs_who_needs_an_answer_and_what_was_deleted() {
    let server = Server::claude().start().await;
    let mut watcher = server.joined("b").await;
    // Notices go only to connections that ask for them.
    watcher.send(json!({"type":"watch_sessions"})).await;
    // The connection handles its messages in order: once the ping is
    // answered, the watch is in place (no ack of its own). Without this
    // wait, "a"'s first notice could come first (failed once under CI load).
    watcher.send(json!({"type":"ping"})).await;
    watcher.until_type("pong").await;
    let mut a = server.joined("a").await;
    a.message("write w.txt").await;
    // "a" enters the list (its first event stored) and runs, then waits for
    // an answer; the two notices are not ordered against each other.
    let mut seen = Vec::new();
    let has = |seen: &[Value], kind: &str, key: &str, v: Value| {
        seen.iter()
            .any(|f| f["type"] == kind && f["session"] == "a" && f[key] == v)
    };
    while !(has(&seen, "sessions_changed", "change", json!("created"))
        && has(&seen, "session_status", "needsYou", json!(true)))
    {
        seen.push(watcher.recv().await);
    }
    let about_a: Vec<&Value> = seen.iter().filter(|f| f["session"] == "a").collect();
    assert!(
        about_a
            .iter()
            .any(|f| f["type"] == "sessions_changed" && f["change"] == "created"),
        "{about_a:?}"
    );
    assert!(about_a
        .iter()
        .any(|f| f["type"] == "session_status" && f["running"] == true && f["needsYou"] == false));
    let mut a_frames = a.until_type("permission_request").await;
    let ask = a_frames.last().unwrap().clone();
    a.send(json!({"type":"permission_response","requestId":ask["requestId"],"decision":"allow"}))
        .await;
    let answered = notice(&mut watcher, "session_status", "a").await;
    assert_eq!(
        (answered["running"].clone(), answered["needsYou"].clone()),
        (json!(true), json!(false))
    );
    let done = notice(&mut watcher, "session_status", "a").await;
    assert_eq!(done["running"], false);
    a_frames.extend(a.until_type("exec_end").await);
    // A connection that did not ask for notices got session frames only.
    assert!(
        a_frames.iter().all(|f| f.get("seq").is_some()),
        "{a_frames:?}"
    );

    // Renamed and deleted: every tab's list is told; the tab of the deleted
    // session hears it at once.
    let (status, _) = server
        .http("PATCH", "/api/sessions/a", Some(json!({"title":"renamed"})))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        notice(&mut watcher, "sessions_changed", "a").await["change"],
        "renamed"
    );
    let (status, _) = server.http("DELETE", "/api/sessions/a", None).await;
    assert_eq!(status, 204);
    a.recv_until(|f| f["type"] == "session_deleted" && f["session"] == "a")
        .await;
    assert_eq!(
        notice(&mut watcher, "sessions_changed", "a").await["change"],
        "deleted"
    );
}
