//! Store figures: append throughput (batched), replay throughput,
//! start-up with many stored sessions, and the writer's share of a turn.
//! Prints its figures.
//!
//! Rerun: `cargo bench --bench store`

use std::sync::Arc;
use std::time::Instant;
use swe_swe::protocol::server::{Frame, SessionEvent};
use swe_swe::store::{Cmd, Commit, SessionMeta, Store};
use tokio::sync::watch;

fn frame(seq: u64) -> Frame {
    SessionEvent::Claudejson {
        content: format!(
            r#"{{"type":"assistant","message":{{"id":"msg_{seq}","content":[{{"type":"text","text":"line {seq} of a typical streamed answer"}}]}},"session_id":"6d697127-e9c7-4fd4-a1a2-ea8a91608138"}}"#
        ),
    }
    .to_frame(seq)
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let session: Arc<str> = "bench".into();
    let agent: Arc<str> = "claude".into();

    // Append: one command per event, as a session actor sends them while an
    // agent streams; the writer batches whatever has queued up.
    const N: u64 = 100_000;
    let (tx, mut rx) = watch::channel(Commit::default());
    let tx = Arc::new(tx);
    let started = Instant::now();
    for seq in 1..=N {
        store
            .send_for_bench(Cmd::Append {
                session: session.clone(),
                agent: agent.clone(),
                events: vec![(seq, frame(seq))],
                commit: tx.clone(),
            })
            .await;
    }
    while rx.borrow_and_update().committed < N {
        rx.changed().await.unwrap();
    }
    let took = started.elapsed();
    println!(
        "append      {N} events, one command each: {:.3} s, {:.0} events/s",
        took.as_secs_f64(),
        N as f64 / took.as_secs_f64()
    );

    // Replay: a new tab asking for everything reads pages of 2,000.
    let started = Instant::now();
    let mut after = 0;
    let mut count = 0;
    loop {
        let page = store
            .events(&session, after, u64::MAX, 2_000, usize::MAX)
            .await
            .unwrap();
        let Some(&(last, _)) = page.last() else { break };
        count += page.len();
        after = last;
    }
    let took = started.elapsed();
    assert_eq!(count as u64, N);
    println!(
        "replay      {count} events from the store: {:.3} s, {:.0} events/s",
        took.as_secs_f64(),
        count as f64 / took.as_secs_f64()
    );

    // Start-up with 1,000 stored sessions (20 events each).
    for s in 0..1_000u64 {
        let id: Arc<str> = format!("s{s}").into();
        store
            .send_for_bench(Cmd::SaveMeta {
                session: id.clone(),
                agent: agent.clone(),
                meta: SessionMeta {
                    title: Some(format!("session {s}")),
                    ..Default::default()
                },
            })
            .await;
        store
            .send_for_bench(Cmd::Append {
                session: id,
                agent: agent.clone(),
                events: (1..=20).map(|q| (q, frame(q))).collect(),
                commit: tx.clone(),
            })
            .await;
    }
    // As at a clean shutdown: everything applied, the WAL emptied.
    store.flush().await.unwrap();
    store.checkpoint().await.unwrap();
    drop(store);
    let started = Instant::now();
    let store = Store::open(dir.path()).unwrap();
    let (rows, total) = store.sessions(50, 0, None).await.unwrap();
    let loaded = store
        .load("s999", 2_000, usize::MAX)
        .await
        .unwrap()
        .unwrap();
    let took = started.elapsed();
    assert_eq!(total, 1_001);
    assert_eq!(rows.len(), 50);
    assert_eq!(loaded.last_seq, 20);
    println!(
        "start-up    open + migrate + first page of 1,001 sessions + load one: {:.1} ms",
        took.as_secs_f64() * 1e3
    );

    // Turns: what one short turn asks of the writer, as a session sends it
    // (meta when it starts, when the agent names its conversation, when it
    // ends, and 15 events), for 1,000 sessions at once.
    const TURNS: u64 = 1_000;
    let commits: Vec<_> = (0..TURNS)
        .map(|_| Arc::new(watch::channel(Commit::default()).0))
        .collect();
    let started = Instant::now();
    for step in 0..3u64 {
        for s in 0..TURNS {
            let id: Arc<str> = format!("s{s}").into();
            let meta = SessionMeta {
                title: Some(format!("session {s}")),
                history: (step > 0)
                    .then(|| format!("conversation-{s}"))
                    .into_iter()
                    .collect(),
                running: (step < 2).then_some(1),
                ..Default::default()
            };
            store
                .send_for_bench(Cmd::SaveMeta {
                    session: id.clone(),
                    agent: agent.clone(),
                    meta,
                })
                .await;
            let first = 21 + step * 5;
            store
                .send_for_bench(Cmd::Append {
                    session: id,
                    agent: agent.clone(),
                    events: (first..first + 5).map(|q| (q, frame(q))).collect(),
                    commit: commits[s as usize].clone(),
                })
                .await;
        }
    }
    store.flush().await.unwrap();
    let took = started.elapsed();
    println!(
        "turns       {TURNS} sessions x one turn (3 meta saves, 15 events): {:.1} ms, {:.0} us of writer time per turn",
        took.as_secs_f64() * 1e3,
        took.as_secs_f64() * 1e6 / TURNS as f64
    );
    println!(
        "db size     {:.1} MiB",
        std::fs::metadata(store.path())
            .map(|m| m.len())
            .unwrap_or(0) as f64
            / 1048576.0
    );
}
