//! Many connections and sessions at once: every client receives every event.

mod support;

use support::*;
use tokio::task::JoinSet;

const LINES: usize = 200;

/// Reads one client's frames until its `exec_end`; returns their seqs.
async fn collect(mut c: Client) -> Vec<u64> {
    let mut seqs = Vec::new();
    loop {
        let t = c.recv_text().await;
        assert!(!t.contains(r#""type":"error""#), "error frame: {t}");
        if let Some(s) = seq_of(&t) {
            seqs.push(s);
        }
        if t.contains(r#""type":"exec_end""#) {
            return seqs;
        }
    }
}

fn assert_complete(seqs: &[u64]) {
    // user_message, exec_start, init, LINES lines, final text, result, exec_end …
    assert!(seqs.len() >= LINES + 4, "only {} events", seqs.len());
    let first = seqs[0];
    assert_eq!(
        seqs,
        (first..first + seqs.len() as u64).collect::<Vec<_>>(),
        "gap or duplicate"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_sessions_and_a_hundred_tabs_on_one_session() {
    // 200+ connections from one address: above the default per-address cap.
    let server = Server::claude()
        .args([
            "--claude-mode",
            "classic",
            "--max-connections-per-ip",
            "1000",
            // 100 agents at once: above the default cap of 64.
            "--max-agents",
            "1000",
        ])
        .start()
        .await;

    // 100 connections on 100 sessions, each running a 200-line turn.
    let mut clients = Vec::new();
    for i in 0..100 {
        clients.push(server.joined(&format!("load-{i}")).await);
    }
    let mut tasks = JoinSet::new();
    for mut c in clients {
        tasks.spawn(async move {
            c.message(&format!("lines {LINES}")).await;
            collect(c).await
        });
    }
    let mut total = 0;
    while let Some(r) = tasks.join_next().await {
        let seqs = r.unwrap();
        assert_complete(&seqs);
        assert_eq!(seqs[0], 1);
        total += seqs.len();
    }
    assert!(total >= 100 * (LINES + 4));

    // 100 connections on one session: identical streams.
    let mut tabs = Vec::new();
    for _ in 0..100 {
        tabs.push(server.joined("shared").await);
    }
    let mut sender = server.joined("shared").await;
    let mut tasks = JoinSet::new();
    for c in tabs {
        tasks.spawn(collect(c));
    }
    sender.message(&format!("lines {LINES}")).await;
    let mine = collect(sender).await;
    assert_complete(&mine);
    while let Some(r) = tasks.join_next().await {
        assert_eq!(r.unwrap(), mine, "every tab saw the same events");
    }

    // The server is up, and no agent process is left behind.
    let mut c = server.joined("after").await;
    assert_eq!(c.turn("hi").await.last().unwrap()["status"], "success");
    assert!(
        children_of(server.pid()).is_empty(),
        "agent processes left: {:?}",
        children_of(server.pid())
    );
    assert!(zombies_of(server.pid()).is_empty());
    assert!(server.terminate().await.success());
}
