//! Quiet sessions leave memory (`--session-idle-retire`): their idle agent
//! process ends, then the actor; the next use reloads the session from the
//! store, whole, and continues it. A watched or running session never goes.

mod support;

use support::*;

#[tokio::test]
async fn a_quiet_session_releases_its_agent_leaves_memory_and_comes_back_whole() {
    let server = Server::claude()
        .args(["--session-idle-retire", "200ms"])
        .start()
        .await;
    let mut c = server.joined("r").await;
    let first = c.turn("hello").await;
    assert_eq!(
        server.metric("agent_processes").await,
        1.0,
        "duplex keeps it"
    );
    c.close().await;
    // Tried: nobody watching, nothing running → the process ends, then the actor.
    server.until_metric("agent_processes", |v| v == 0.0).await;
    server.until_metric("sessions", |v| v == 0.0).await;
    assert_eq!(server.metric("sessions_retired_total").await, 1.0);

    // Back: the whole log replays byte for byte, seq goes on, and the agent
    // resumes the same conversation.
    let mut c = server.client().await;
    let hello = c.hello("r", 0).await;
    let last = hello["lastSeq"].as_u64().unwrap();
    let mut replayed = Vec::new();
    while replayed.len() < first.len() {
        replayed.push(c.recv().await);
    }
    assert_eq!(replayed, first);
    let next = c.turn("recall").await;
    assert_eq!(seqs(&next)[0], last + 1, "numbering continues");
    assert!(
        assistant_text(&next).contains("Earlier you said: hello"),
        "{next:?}"
    );
    assert!(server.terminate().await.success());
}

#[tokio::test]
async fn a_watched_session_stays_and_keeps_working() {
    let server = Server::claude()
        .args(["--session-idle-retire", "100ms"])
        .start()
        .await;
    let mut watched = server.joined("watched").await;
    watched.turn("one").await;
    let mut gone = server.joined("gone").await;
    gone.turn("two").await;
    gone.close().await;
    // The unwatched one goes; sweeps run several times per 100 ms meanwhile.
    server
        .until_metric("sessions_retired_total", |v| v == 1.0)
        .await;
    assert_eq!(server.metric("sessions").await, 1.0);
    assert_eq!(
        server.metric("agent_processes").await,
        1.0,
        "its agent stays"
    );
    // The watched tab never had to reconnect.
    let frames = watched.turn("recall").await;
    assert!(assistant_text(&frames).contains("Earlier you said: one"));
    assert!(server.terminate().await.success());
}

#[tokio::test]
async fn retirement_racing_reconnects_never_forks_a_session() {
    // The shortest retire time: sweeps every 25 ms race every reconnect.
    let server = Server::claude()
        .args(["--session-idle-retire", "50ms"])
        .start()
        .await;
    let mut all = Vec::new();
    let mut last = 0;
    for round in 0..40 {
        let mut c = server.client().await;
        let hello = c.hello("race", last).await;
        assert_eq!(hello["lastSeq"].as_u64().unwrap(), last, "round {round}");
        let frames = c.turn(&format!("quick {round}")).await;
        all.extend(seqs(&frames));
        last = *all.last().unwrap();
        c.close().await;
        if round % 4 == 0 {
            // Sometimes wait until it has really gone before coming back.
            let before = server.metric("sessions_retired_total").await;
            server
                .until_metric("sessions_retired_total", |v| v > before)
                .await;
        }
    }
    let expected: Vec<u64> = (1..=last).collect();
    assert_eq!(all, expected, "one gap-free, duplicate-free log");
    let retired = server.metric("sessions_retired_total").await;
    assert!(retired >= 10.0, "retired {retired} times");
    assert!(server.terminate().await.success());
}
