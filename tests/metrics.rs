//! /metrics in Prometheus text format follows what the server is doing.

mod support;

use serde_json::json;
use support::*;

async fn metric(server: &Server, name: &str) -> f64 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let req = format!(
        "GET /metrics HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        server.addr
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let line = out
        .lines()
        .find(|l| l.starts_with(&format!("swe_swe_{name} ")))
        .unwrap_or_else(|| panic!("no {name} in {out}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn gauges_and_counters_track_a_turn_with_a_prompt() {
    let server = Server::claude().start().await;
    let mut c = server.joined("m").await;
    c.message("write m.txt").await;
    let req = c.until_type("permission_request").await.pop().unwrap();
    assert_eq!(metric(&server, "connections").await, 1.0);
    assert_eq!(metric(&server, "sessions").await, 1.0);
    assert_eq!(metric(&server, "runs_active").await, 1.0);
    assert_eq!(metric(&server, "agent_processes").await, 1.0);
    assert_eq!(metric(&server, "permission_requests_waiting").await, 1.0);
    c.send(json!({"type":"permission_response","requestId":req["requestId"],"decision":"allow"}))
        .await;
    c.until_type("exec_end").await;
    assert_eq!(metric(&server, "permission_requests_waiting").await, 0.0);
    assert_eq!(metric(&server, "runs_active").await, 0.0);
    assert!(metric(&server, "events_total").await >= 8.0);
    assert!(metric(&server, "store_batches_total").await >= 1.0);
    assert!(metric(&server, "tasks_alive").await >= 2.0);
    assert_eq!(metric(&server, "dropped_subscribers_total").await, 0.0);
}
