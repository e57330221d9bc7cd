//! An idle server sleeps: no thread wakes while nothing happens.

mod support;

use support::*;

/// Voluntary context switches of the server's threads named `name…` over
/// six seconds from now.
async fn wakeups_over_six_seconds(server: &Server, name: &str) -> u64 {
    let before = thread_wakeups(server.pid(), name);
    // The measurement window, not a synchronisation.
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    thread_wakeups(server.pid(), name) - before
}

/// Tried: a store that has committed a turn and then sits idle. Its threads
/// (writer, checkpoints, reads) must sleep until there is work: the
/// checkpoint thread used to wake ten times a second for nothing (66
/// wakeups in this window before; 6–11 after, all of them the one
/// checkpoint pass the turn's last commit started, with its disk waits,
/// and 22 once while builds were writing to the same disk). The bound
/// tells a pass with a slow disk from a thread that polls.
#[tokio::test]
async fn an_idle_store_wakes_no_thread() {
    let server = Server::claude().start().await;
    let mut c = server.joined("idle").await;
    c.turn("lines 50").await;
    let woke = wakeups_over_six_seconds(&server, "swe-swe-").await;
    assert!(
        woke <= 35,
        "the store's threads woke {woke} times in 6 idle seconds"
    );
}

/// Tried: a session left quiet in memory (a turn, then its only tab
/// closed; it retires after the default 10 minutes). Nothing is due for
/// minutes, so the runtime's workers must sleep: the sweep of quiet
/// sessions ticked every 1.25 s (9 worker wakeups in this window before;
/// now it sleeps until the first quiet session comes due).
#[tokio::test]
async fn a_quiet_session_in_memory_wakes_no_worker() {
    let server = Server::claude().start().await;
    let mut c = server.joined("quiet").await;
    c.turn("lines 5").await;
    c.close().await;
    // The tab's leaving has reached the session once /metrics says so.
    let gone = async { while server.metric("connections").await > 0.0 {} };
    tokio::time::timeout(WAIT, gone)
        .await
        .expect("the tab left");
    let woke = wakeups_over_six_seconds(&server, "tokio-rt-worker").await;
    assert!(
        woke <= 3,
        "the runtime's workers woke {woke} times in 6 idle seconds"
    );
}
