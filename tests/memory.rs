//! Memory is bounded in bytes, not only in counts: big agent output, tabs
//! that never read, replays after a restart.

mod support;

use serde_json::{json, Value};
use std::time::Instant;
use support::*;

/// Peak and current resident memory of a process, in MiB.
fn rss_mib(pid: i32) -> (u64, u64) {
    let (peak, now) = rss_kib(pid);
    (peak / 1024, now / 1024)
}

const LINES: usize = 120;
const LINE_BYTES: usize = 7_000_000;

/// Reads until `exec_end`; returns the seqs seen and how many big lines.
/// A big frame is read by its head alone (`{"seq":N,"type":"claudejson",`
/// as the server writes it): parsing 7 MB into a `Value` in a debug build
/// made this tab slower than the agent, and a tab that holds its whole
/// byte budget is dropped by design.
async fn read_turn(c: &mut Client) -> (Vec<u64>, usize) {
    let (mut seqs, mut big) = (Vec::new(), 0);
    loop {
        let text = c.recv_text().await;
        if text.len() > 1_000_000 {
            let head = text.strip_prefix(r#"{"seq":"#).expect("a sequenced frame");
            let (seq, rest) = head.split_once(',').expect("a seq");
            assert!(
                rest.starts_with(r#""type":"claudejson","content":""#),
                "{}",
                &rest[..40]
            );
            seqs.push(seq.parse().expect("a number"));
            big += 1;
            continue;
        }
        let v: Value = serde_json::from_str(&text).expect("JSON frame");
        if let Some(s) = v["seq"].as_u64() {
            seqs.push(s);
        }
        if v["type"] == "exec_end" {
            return (seqs, big);
        }
    }
}

/// Tried: one turn of 120 agent lines of 7 MB (a turn that reads big
/// files): before, 250 such lines took RSS from 10 MB to 2.37 GB and kept
/// it, since the in-memory tail held 2,000 events whatever their size. Then
/// a new tab replays it all, and after a restart three tabs ask for
/// everything and never read (before: 5.2 GB, a replay page being 2,000
/// events). Peak RSS stays under 400 MiB for the turn and 500 MiB for the
/// readers that never read, and every event still reaches a tab that reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_output_and_tabs_that_never_read_stay_within_bytes() {
    let server = Server::claude().start().await;
    let mut a = server.joined("big").await;
    let started = Instant::now();
    a.message(&format!("biglines {LINES} {LINE_BYTES}")).await;
    let (seqs, big) = read_turn(&mut a).await;
    let (peak, now) = rss_mib(server.pid());
    eprintln!(
        "turn: {big} big lines in {:.1} s, peak RSS {peak} MiB, now {now} MiB",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(big, LINES);
    assert!(peak < 400, "peak RSS {peak} MiB during the turn");

    let mut b = server.client().await;
    b.hello("big", 0).await;
    let (replayed, big) = read_turn(&mut b).await;
    assert_eq!(big, LINES, "a new tab gets every big line");
    assert_eq!(replayed, seqs, "and every event, in order");

    let server = server.restart().await;
    let mut idle = Vec::new();
    for _ in 0..3 {
        let mut c = server.client().await;
        c.send(json!({"type":"hello","session":"big","lastSeq":0}))
            .await;
        idle.push(c); // never read from
    }
    // The event: each stalled replay holds a page it cannot write (a tab
    // holds one page at most), so all three have read what they will hold.
    server.until_metric("replay_pages_held", |p| p == 3.0).await;
    let held = server.metric("replay_bytes_held").await;
    assert!(
        held >= (3 * LINE_BYTES) as f64,
        "a page holds a big line: {held}"
    );
    let (peak, now) = rss_mib(server.pid());
    eprintln!(
        "three stalled replays ({:.0} MB of pages held): peak RSS {peak} MiB, now {now} MiB",
        held / 1e6
    );
    assert!(peak < 500, "peak RSS {peak} MiB with three stalled replays");
    // A tab that reads gets everything while they stay stalled, and their
    // hold does not grow meanwhile.
    let mut fresh = server.client().await;
    fresh.hello("big", 0).await;
    assert_eq!(read_turn(&mut fresh).await.1, LINES);
    let (peak, _) = rss_mib(server.pid());
    eprintln!("and a full replay beside them: peak RSS {peak} MiB");
    assert!(
        peak < 500,
        "peak RSS {peak} MiB with three stalled replays and a reader"
    );
}
