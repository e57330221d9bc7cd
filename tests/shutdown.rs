//! SIGTERM with runs in flight: every turn gets its exec_end, every agent
//! process group is dead within the grace period, and the server exits 0.

mod support;

use std::time::{Duration, Instant};
use support::*;

async fn started(server: &Server, session: &str, prompt: &str) -> (Client, i32, Option<i32>) {
    let mut c = server.joined(session).await;
    c.message(prompt).await;
    let (_, pgid, grandchild) = c.until_fake_pid().await;
    (c, pgid, grandchild)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_every_turn_and_every_process() {
    for mode in ["duplex", "classic"] {
        let server = Server::claude()
            .args(["--claude-mode", mode, "--stop-grace", "2s"])
            .start()
            .await;
        let mut runs = Vec::new();
        for (i, prompt) in ["hold", "deaf", "fork", "stubborn"].into_iter().enumerate() {
            runs.push(started(&server, &format!("s{i}"), prompt).await);
        }
        let asked = Instant::now();
        let pid = server.pid();
        let status = server.terminate().await;
        let took = asked.elapsed();
        assert!(status.success(), "{mode}: exit {status:?}");
        assert!(
            took < Duration::from_secs(5),
            "{mode}: shutdown took {took:?}"
        );
        for (mut c, pgid, grandchild) in runs {
            let frames = c.until_type("exec_end").await;
            // Not the user's stop: swe-swe's own shutdown.
            assert_eq!(frames.last().unwrap()["status"], "interrupted", "{mode}");
            assert!(frames.last().unwrap()["message"]
                .as_str()
                .is_some_and(|m| m.contains("server was shut down")));
            // Then the server says goodbye.
            assert_eq!(c.try_recv(WAIT).await.unwrap_err(), "close 1001");
            assert!(
                group_members(pgid).is_empty(),
                "{mode}: group {pgid} survived"
            );
            if let Some(g) = grandchild {
                assert!(!is_alive(g), "{mode}: grandchild {g} survived");
            }
        }
        assert!(children_of(pid).is_empty());
    }
}
