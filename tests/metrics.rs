//! /metrics in Prometheus text format follows what the server is doing.

mod support;

use serde_json::json;
use support::*;

#[tokio::test]
async fn gauges_and_counters_track_a_turn_with_a_prompt() {
    let server = Server::claude().start().await;
    let mut c = server.joined("m").await;
    c.message("write m.txt").await;
    let req = c.until_type("permission_request").await.pop().unwrap();
    assert_eq!(server.metric("connections").await, 1.0);
    assert_eq!(server.metric("sessions").await, 1.0);
    assert_eq!(server.metric("runs_active").await, 1.0);
    assert_eq!(server.metric("agent_processes").await, 1.0);
    assert_eq!(server.metric("permission_requests_waiting").await, 1.0);
    c.send(json!({"type":"permission_response","requestId":req["requestId"],"decision":"allow"}))
        .await;
    c.until_type("exec_end").await;
    assert_eq!(server.metric("permission_requests_waiting").await, 0.0);
    assert_eq!(server.metric("runs_active").await, 0.0);
    assert!(server.metric("events_total").await >= 8.0);
    assert!(server.metric("store_batches_total").await >= 1.0);
    assert!(server.metric("tasks_alive").await >= 2.0);
    assert_eq!(server.metric("dropped_subscribers_total").await, 0.0);
    // Every event made from an agent line was timed through its commit.
    let timed = server.metric("event_delay_seconds_count").await;
    assert!(timed >= 3.0, "{timed}");
    assert!(server.metric("event_delay_seconds_sum").await > 0.0);
}
