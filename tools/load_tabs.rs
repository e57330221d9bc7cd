//! swe-swe-load's tabs: WebSocket clients that join a session, send its
//! turn (tab 0 of each session) and count what they receive.

use super::Args;
use anyhow::{bail, Context};
use futures_util::{SinkExt, StreamExt};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::Barrier;
use tokio_tungstenite::tungstenite::Message;

pub(super) fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// `ts_ns` of the agent line in a frame: escaped inside a claudejson
/// line, plain inside an ACP update's `_meta`.
pub(super) fn ts_of(frame: &str) -> Option<u64> {
    let (key, i) = [r#"\"ts_ns\":"#, r#""ts_ns":"#]
        .iter()
        .find_map(|k| frame.find(k).map(|i| (*k, i)))?;
    let digits: String = frame[i + key.len()..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

pub(super) type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// One client connection, as a browser would open it. The read buffer is
/// small on purpose: tungstenite zero-fills the whole buffer before every
/// read, and its 128 KiB default made this tool spend a third of a core on
/// memset at 50,000 frames/s — CPU taken from the server it measures.
pub(super) async fn connect(url: &str) -> anyhow::Result<Ws> {
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(8 * 1024);
    let (ws, _) = tokio_tungstenite::connect_async_with_config(url, Some(config), true).await?;
    Ok(ws)
}

pub(super) struct TabResult {
    pub(super) events: u64,
    /// (when the agent stamped the line, ns; latency, µs)
    pub(super) latencies_us: Vec<(u64, u64)>,
    pub(super) errors: u64,
    /// Still open: a tab that leaves is not part of the turns' load, so it
    /// closes only once the server's CPU has been read.
    pub(super) ws: Ws,
}

pub(super) async fn tab(
    url: &str,
    session: &str,
    prompt: Option<String>,
    ready: Arc<Barrier>,
    go: Arc<Barrier>,
    last_seq: u64,
) -> anyhow::Result<TabResult> {
    let mut ws = connect(url).await?;
    ws.send(Message::text(format!(
        r#"{{"type":"hello","session":"{session}","lastSeq":{last_seq}}}"#
    )))
    .await?;
    ws.next().await.context("session reply")??;
    ready.wait().await;
    go.wait().await;
    if let Some(p) = prompt {
        ws.send(Message::text(
            serde_json::json!({"type":"message","content":p}).to_string(),
        ))
        .await?;
    }
    let (mut events, mut latencies_us, mut errors) = (0, Vec::new(), 0);
    while let Some(msg) = tokio::time::timeout(Duration::from_secs(120), ws.next()).await? {
        let Message::Text(t) = msg? else { continue };
        let t = t.as_str();
        events += 1;
        if let Some(ts) = ts_of(t) {
            latencies_us.push((ts, now_ns().saturating_sub(ts) / 1000));
        }
        if t.contains(r#""type":"error""#) {
            errors += 1;
        }
        if t.contains(r#""type":"exec_end""#) {
            break;
        }
    }
    Ok(TabResult {
        events,
        latencies_us,
        errors,
        ws,
    })
}

pub(super) type Tabs = tokio::task::JoinSet<anyhow::Result<TabResult>>;

/// Every tab of every session, waiting at `ready` (connected) and `go`;
/// tab 0 of each session sends the turn. `last_seq` is each hello's.
pub(super) fn spawn_tabs(
    url: &str,
    args: &Args,
    last_seq: u64,
) -> (Arc<Barrier>, Arc<Barrier>, Tabs) {
    let total = args.sessions * args.tabs;
    let ready = Arc::new(Barrier::new(total + 1));
    let go = Arc::new(Barrier::new(total + 1));
    let mut tasks = Tabs::new();
    for s in 0..args.sessions {
        for t in 0..args.tabs {
            let (url, ready, go) = (url.to_owned(), ready.clone(), go.clone());
            let prompt = (t == 0).then(|| {
                format!(
                    "lines {} {} {} {}",
                    args.lines,
                    args.pad,
                    args.pace_us,
                    phase_us(args, s)
                )
            });
            let session = format!("load-{s}");
            tasks.spawn(async move { tab(&url, &session, prompt, ready, go, last_seq).await });
        }
    }
    (ready, go, tasks)
}

pub(super) fn phase_us(args: &Args, session: usize) -> u64 {
    match args.phase.as_str() {
        "lockstep" => 0,
        _ => args.pace_us * session as u64 / args.sessions.max(1) as u64,
    }
}

/// One turn in every session, its tabs joining live; the events delivered.
pub(super) async fn round(url: &str, args: &Args) -> anyhow::Result<u64> {
    let (ready, go, mut tasks) = spawn_tabs(url, args, u64::MAX);
    // A tab that failed never reaches the barrier: do not wait forever.
    if tokio::time::timeout(Duration::from_secs(60), ready.wait())
        .await
        .is_err()
    {
        while let Some(r) = tasks.join_next().await {
            r??;
        }
        bail!("tabs did not connect");
    }
    go.wait().await;
    let mut events = 0;
    while let Some(r) = tasks.join_next().await {
        let r = r??;
        if r.errors > 0 {
            bail!("errors in a round of turns");
        }
        events += r.events;
    }
    Ok(events)
}
