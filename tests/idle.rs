//! An idle server sleeps: no thread wakes while nothing happens.

mod support;

use support::*;

/// Tried: a store that has committed a turn and then sits idle. Its threads
/// (writer, checkpoints, reads) must sleep until there is work: the
/// checkpoint thread used to wake ten times a second for nothing (66
/// wakeups in this window before; 9 after, all of them the one checkpoint
/// pass the turn's last commit started, with its disk waits).
#[tokio::test]
async fn an_idle_store_wakes_no_thread() {
    let server = Server::claude().start().await;
    let mut c = server.joined("idle").await;
    c.turn("lines 50").await;
    let before = thread_wakeups(server.pid(), "swe-swe-");
    // The measurement window, not a synchronisation.
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    let woke = thread_wakeups(server.pid(), "swe-swe-") - before;
    assert!(
        woke <= 20,
        "the store's threads woke {woke} times in 6 idle seconds"
    );
}
