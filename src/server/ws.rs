//! One WebSocket connection: a reader (this task) that turns frames into
//! session inputs, and a writer task that alone owns the socket's sink and
//! drains the connection's queues. Nobody else touches the socket (seed
//! race 5: a closed client is only ever seen by its own writer).

use super::AppState;
use crate::protocol::client::{decode_client_message, ClientMessage};
use crate::protocol::server::{Frame, Reply};
use crate::session::actor::StoreGap;
use crate::session::registry::RegistryError;
use crate::session::state::{ConnId, Input};
use crate::session::{SessionHandle, Subscription};
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Replies meant for this connection only (errors, acks).
const PRIVATE_QUEUE: usize = 64;
/// A tab that stopped reading is closed with this code; it should reconnect
/// and replay with `lastSeq`.
pub const CLOSE_LAGGED: u16 = 4001;
const CLOSE_GOING_AWAY: u16 = 1001;
/// Closed for not answering pings within `--idle-timeout`.
pub const CLOSE_IDLE: u16 = 4002;
/// A frame or message over `--max-frame-bytes` (RFC 6455 "message too big").
pub const CLOSE_TOO_BIG: u16 = 1009;
/// How long a closing connection waits for the client's close frame.
const CLOSE_HANDSHAKE: Duration = Duration::from_secs(2);
/// How long shutdown lets the writer flush the last events.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(15);

/// Counts an open connection for as long as it lives.
struct Gauge<'a>(&'a std::sync::atomic::AtomicI64);

impl<'a> Gauge<'a> {
    fn up(g: &'a std::sync::atomic::AtomicI64) -> Self {
        g.fetch_add(1, Ordering::Relaxed);
        Gauge(g)
    }
}

impl Drop for Gauge<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Boxed where large: a channel allocates room for 32 messages up front,
/// and there is one per connection (10,000 idle tabs: 36 MB less).
enum WriterCtl {
    Subscribe(Box<Subscription>),
    /// Stop reading the current session's events (switching sessions).
    Detach,
    Ping,
    Close(u16, &'static str),
}

struct Conn {
    id: ConnId,
    app: Arc<AppState>,
    private: mpsc::Sender<Frame>,
    writer: mpsc::Sender<WriterCtl>,
    session: Option<SessionHandle>,
}

/// Per-connection limits.
#[derive(Debug, Clone)]
pub struct Limits {
    pub messages_per_sec: u32,
    pub connections_per_ip: usize,
    pub idle_timeout: Duration,
}

/// One of a client address's connection slots, given back on drop.
pub struct PeerSlot {
    app: Arc<AppState>,
    /// `None`: not counted.
    ip: Option<std::net::IpAddr>,
}

impl PeerSlot {
    pub fn take(app: &Arc<AppState>, ip: std::net::IpAddr) -> Option<PeerSlot> {
        // Loopback is every local tab, or a proxy that did not say who its
        // client is: no cap (100 local tabs got 429 from the 65th).
        if super::conn::shared_peer(ip, &app.trusted) {
            return Some(PeerSlot {
                app: app.clone(),
                ip: None,
            });
        }
        let mut map = app.per_ip.lock().unwrap_or_else(|p| p.into_inner());
        let n = map.entry(ip).or_insert(0);
        if *n >= app.limits.connections_per_ip {
            return None;
        }
        *n += 1;
        Some(PeerSlot {
            app: app.clone(),
            ip: Some(ip),
        })
    }
}

impl Drop for PeerSlot {
    fn drop(&mut self) {
        let Some(ip) = self.ip else { return };
        let mut map = self.app.per_ip.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&ip);
            }
        }
    }
}

/// Messages per second with bursts: a token bucket.
struct Bucket {
    tokens: f64,
    rate: f64,
    last: Instant,
}

impl Bucket {
    fn new(per_sec: u32) -> Self {
        let rate = f64::from(per_sec);
        Bucket {
            tokens: rate * 2.0,
            rate,
            last: Instant::now(),
        }
    }

    fn take(&mut self) -> bool {
        let now = Instant::now();
        let burst = self.rate * 2.0;
        self.tokens =
            (self.tokens + now.duration_since(self.last).as_secs_f64() * self.rate).min(burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

pub(crate) async fn connection(socket: WebSocket, app: Arc<AppState>, _slot: PeerSlot) {
    let id = app.next_conn.fetch_add(1, Ordering::Relaxed);
    let _open = Gauge::up(&app.registry.runtime().stats.connections);
    let (sink, mut stream) = socket.split();
    let (private_tx, private_rx) = mpsc::channel(PRIVATE_QUEUE);
    let (ctl_tx, ctl_rx) = mpsc::channel(4);
    let mut writer = tokio::spawn(write_loop(sink, private_rx, ctl_rx, app.shutdown.clone()));
    let mut conn = Conn {
        id,
        app: app.clone(),
        private: private_tx,
        writer: ctl_tx,
        session: None,
    };
    let shutdown = app.shutdown.clone();
    let mut writer_done = false;
    let mut bucket = Bucket::new(app.limits.messages_per_sec);
    let idle = app.limits.idle_timeout;
    let mut heartbeat = tokio::time::interval(idle / 3);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_seen = Instant::now();
    loop {
        let msg = tokio::select! {
            m = stream.next() => m,
            _ = shutdown.cancelled() => break,
            _ = &mut writer => {
                writer_done = true;
                break;
            }
            _ = heartbeat.tick() => {
                // Browsers answer pings by themselves; silence means gone.
                if last_seen.elapsed() >= idle {
                    let _ = conn.writer.try_send(WriterCtl::Close(CLOSE_IDLE, "idle: no answer to pings"));
                    let _ = tokio::time::timeout(FLUSH_TIMEOUT, &mut writer).await;
                    writer_done = true;
                    break;
                }
                let _ = conn.writer.try_send(WriterCtl::Ping);
                continue;
            }
        };
        last_seen = Instant::now();
        match msg {
            Some(Ok(Message::Text(_))) if !bucket.take() => conn.send_error(
                "rate_limited",
                format!(
                    "more than {} messages per second; this one was dropped",
                    app.limits.messages_per_sec
                ),
            ),
            Some(Ok(Message::Text(text))) => conn.on_text(text.as_str()).await,
            Some(Ok(Message::Binary(_))) => conn.send_error(
                "binary_frame",
                "binary frames are not supported; send JSON text",
            ),
            Some(Err(e)) if too_big(&e) => {
                // The payload was never read: the stream cannot go on.
                tracing::debug!(conn = id, "message over --max-frame-bytes; closing");
                let _ = conn.writer.try_send(WriterCtl::Close(
                    CLOSE_TOO_BIG,
                    "message over the server's --max-frame-bytes",
                ));
                let _ = tokio::time::timeout(FLUSH_TIMEOUT, &mut writer).await;
                writer_done = true;
                break;
            }
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
            Some(Ok(_)) => {} // ping/pong are answered by the WebSocket layer
        }
    }
    if shutdown.is_cancelled() && !writer_done {
        // Let the writer deliver the last events of the session (every
        // `exec_end`) before the socket closes.
        let _ = tokio::time::timeout(FLUSH_TIMEOUT, &mut writer).await;
    } else if writer_done {
        // The writer sent a close frame (the tab lagged, or was idle): finish
        // the closing handshake, briefly, so the socket ends with a FIN the
        // client can read after its last frames, not a reset that drops them.
        let _ = tokio::time::timeout(CLOSE_HANDSHAKE, async {
            while let Some(Ok(m)) = stream.next().await {
                if matches!(m, Message::Close(_)) {
                    break;
                }
            }
        })
        .await;
    }
    if let Some(s) = conn.session.take() {
        s.unsubscribe(id).await;
    }
    writer.abort();
}

impl Conn {
    fn send_error(&self, code: &'static str, message: impl Into<String>) {
        let _ = self
            .private
            .try_send(Reply::error(code, message).to_frame());
    }

    async fn on_text(&mut self, text: &str) {
        if text.len() > self.app.max_frame_bytes {
            return self.send_error(
                "too_large",
                format!(
                    "message of {} bytes is over the {}-byte limit; it was dropped",
                    text.len(),
                    self.app.max_frame_bytes
                ),
            );
        }
        let msg = match decode_client_message(text) {
            Ok(m) => m,
            Err(e) => return self.send_error(e.code(), e.to_string()),
        };
        match msg {
            ClientMessage::Hello { session, last_seq } => {
                self.join(session, Some(last_seq.unwrap_or(0))).await;
            }
            ClientMessage::UserMessage {
                content,
                session,
                agent_session,
            } => {
                // The original client names its session in every message.
                let other = session
                    .as_deref()
                    .is_some_and(|s| Some(s) != self.session.as_ref().map(|h| h.id()));
                if self.session.is_none() || other {
                    if session.is_none() {
                        return self
                            .send_error("no_session", "send a hello (or a sessionID) first");
                    }
                    if !self.join(session, None).await {
                        return;
                    }
                }
                let from = self.id;
                self.input(Input::UserMessage {
                    from,
                    content,
                    agent_session_hint: agent_session,
                })
                .await;
            }
            ClientMessage::Stop { run_id } => {
                if self.session.is_none() {
                    let _ = self.private.try_send(
                        Reply::StopAck {
                            run_id,
                            running: false,
                            message: Some("not in a session".into()),
                        }
                        .to_frame(),
                    );
                    return;
                }
                let from = self.id;
                self.input(Input::Stop { from, run_id }).await;
            }
            ClientMessage::PermissionAnswer {
                request_id,
                decision,
                reason,
                answers,
            } => {
                let from = self.id;
                self.input(Input::PermissionAnswer {
                    from,
                    request_id,
                    decision,
                    reason,
                    answers,
                })
                .await;
            }
            ClientMessage::SetPermissionMode { mode } => {
                self.input(Input::SetPermissionMode { mode }).await;
            }
            ClientMessage::LegacyPermission {
                allowed_tools,
                skip_permissions,
            } => {
                self.input(Input::LegacyPermission {
                    allowed_tools,
                    skip: skip_permissions,
                })
                .await;
            }
            ClientMessage::CancelQueued { queue_id } => {
                let from = self.id;
                self.input(Input::CancelQueued { from, queue_id }).await;
            }
            ClientMessage::FuzzySearch { query, max_results } => {
                // Only to this connection, and not part of the session log.
                let (hits, snap) = self.app.files.search(query, max_results).await;
                let content = serde_json::to_string(&hits).unwrap_or_else(|_| "[]".into());
                let _ = self
                    .private
                    .try_send(Reply::FuzzySearchResults { content }.to_frame());
                if snap.truncated || !snap.ready {
                    let _ = self.private.try_send(index_status(&snap, false));
                }
            }
            ClientMessage::RefreshFileIndex => {
                self.app.files.refresh();
                let _ = self
                    .private
                    .try_send(index_status(&self.app.files.snapshot(), true));
            }
            ClientMessage::Ping => {
                let _ = self.private.try_send(Reply::Pong.to_frame());
            }
        }
    }

    async fn input(&mut self, input: Input) {
        let Some(session) = &self.session else {
            return self.send_error("no_session", "send a hello first");
        };
        if let Err(e) = session.input(input, Some(self.private.clone())).await {
            self.send_error("session_unavailable", e.to_string());
        }
    }

    /// Subscribes to `session` (a new one when `None`), leaving any other.
    async fn join(&mut self, session: Option<String>, last_seq: Option<u64>) -> bool {
        let reg = &self.app.registry;
        let handle = match session {
            Some(id) => reg.get_or_create(&id),
            None => reg.create(),
        };
        let handle = match handle {
            Ok(h) => h,
            Err(e) => {
                let code = match e {
                    RegistryError::InvalidId => "invalid_session",
                    RegistryError::TooMany(_) => "too_many_sessions",
                    RegistryError::ShuttingDown => "shutting_down",
                };
                self.send_error(code, e.to_string());
                return false;
            }
        };
        if let Some(old) = self.session.take() {
            // The writer stops reading the old stream before the session
            // drops it (no old event is sent after the switch). That the
            // stream's end is not read as "too slow" rests on the `lagged`
            // flag, not on this ordering.
            let _ = self.writer.send(WriterCtl::Detach).await;
            old.unsubscribe(self.id).await;
        }
        match handle
            .subscribe(self.id, last_seq, self.private.clone())
            .await
        {
            Ok(sub) => {
                if self
                    .writer
                    .send(WriterCtl::Subscribe(Box::new(sub)))
                    .await
                    .is_err()
                {
                    return false;
                }
                self.session = Some(handle);
                true
            }
            Err(e) => {
                self.send_error("session_unavailable", e.to_string());
                false
            }
        }
    }
}

fn index_status(snap: &crate::files::Snapshot, refreshing: bool) -> Frame {
    let message = if refreshing {
        Some("rebuilding the file index".to_owned())
    } else if !snap.ready {
        Some("the file index is still being built; results are partial".to_owned())
    } else if snap.truncated {
        Some(format!(
            "the project has more files than --max-files ({} indexed); search covers those",
            snap.entries.len()
        ))
    } else {
        None
    };
    Reply::FileIndexStatus {
        indexed: snap.entries.len(),
        truncated: snap.truncated,
        ready: snap.ready,
        watching: snap.watching,
        message,
    }
    .to_frame()
}

async fn recv_events(events: &mut Option<mpsc::Receiver<Frame>>) -> Option<Frame> {
    match events {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn send(sink: &mut SplitSink<WebSocket, Message>, frame: &Frame) -> bool {
    sink.send(Message::Text(Utf8Bytes::from(frame.as_ref())))
        .await
        .is_ok()
}

/// Sends the events of `gap` from the store, a page at a time, each page in
/// one flush. Live events meanwhile wait in the subscription's queue.
async fn replay_from_store(sink: &mut SplitSink<WebSocket, Message>, gap: &StoreGap) -> bool {
    const PAGE: usize = 2_000;
    let mut after = gap.after;
    while after.saturating_add(1) < gap.before {
        let page = match gap
            .store
            .events(&gap.session, after, gap.before, PAGE, gap.page_bytes)
            .await
        {
            Ok(p) => p,
            Err(e) => {
                let msg = format!("could not read older events from the store: {e}");
                let _ = sink
                    .send(text(&Reply::error("storage_failed", msg).to_frame()))
                    .await;
                return false;
            }
        };
        let Some(&(last, _)) = page.last() else { break };
        for (_, frame) in &page {
            if sink.feed(text(frame)).await.is_err() {
                return false;
            }
        }
        if sink.flush().await.is_err() {
            return false;
        }
        after = last;
    }
    true
}

/// Writes `first` and whatever else is already queued (up to a bound), then
/// flushes once: one syscall for a burst instead of one per event, and no
/// added delay when only one event is waiting.
async fn send_batch(
    sink: &mut SplitSink<WebSocket, Message>,
    first: Frame,
    events: Option<&mut mpsc::Receiver<Frame>>,
    queued: &std::sync::atomic::AtomicUsize,
) -> bool {
    const BATCH: usize = 64;
    // Out of the queue: no longer counted against the tab's byte budget.
    queued.fetch_sub(first.len(), Ordering::AcqRel);
    if sink.feed(text(&first)).await.is_err() {
        return false;
    }
    if let Some(rx) = events {
        for _ in 1..BATCH {
            match rx.try_recv() {
                Ok(f) => {
                    queued.fetch_sub(f.len(), Ordering::AcqRel);
                    if sink.feed(text(&f)).await.is_err() {
                        return false;
                    }
                }
                Err(_) => break,
            }
        }
    }
    sink.flush().await.is_ok()
}

fn text(frame: &Frame) -> Message {
    Message::Text(Utf8Bytes::from(frame.as_ref()))
}

/// Whether a read failed because a frame or message was over the limit.
fn too_big(e: &axum::Error) -> bool {
    use tokio_tungstenite::tungstenite::Error as WsError;
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if let Some(ws) = c.downcast_ref::<WsError>() {
            return matches!(ws, WsError::Capacity(_));
        }
        cause = c.source();
    }
    false
}

async fn close(sink: &mut SplitSink<WebSocket, Message>, code: u16, reason: &'static str) {
    let _ = sink
        .send(Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        })))
        .await;
}

async fn write_loop(
    mut sink: SplitSink<WebSocket, Message>,
    mut private: mpsc::Receiver<Frame>,
    mut ctl: mpsc::Receiver<WriterCtl>,
    shutdown: CancellationToken,
) {
    let mut events: Option<mpsc::Receiver<Frame>> = None;
    let mut lagged = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut queued = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    loop {
        let ok = tokio::select! {
            biased;
            c = ctl.recv() => match c {
                Some(WriterCtl::Subscribe(sub)) => {
                    let mut ok = send(&mut sink, &sub.hello).await;
                    if let (true, Some(gap)) = (ok, &sub.from_store) {
                        ok = replay_from_store(&mut sink, gap).await;
                    }
                    for f in &sub.replay {
                        if !ok {
                            break;
                        }
                        ok = send(&mut sink, f).await;
                    }
                    events = Some(sub.events);
                    lagged = sub.lagged;
                    queued = sub.queued;
                    ok
                }
                Some(WriterCtl::Detach) => {
                    events = None;
                    true
                }
                Some(WriterCtl::Ping) => sink.send(Message::Ping(Default::default())).await.is_ok(),
                Some(WriterCtl::Close(code, reason)) => {
                    close(&mut sink, code, reason).await;
                    false
                }
                None => false,
            },
            Some(f) = private.recv() => send(&mut sink, &f).await,
            ev = recv_events(&mut events) => match ev {
                Some(f) => send_batch(&mut sink, f, events.as_mut(), &queued).await,
                None if shutdown.is_cancelled() => {
                    close(&mut sink, CLOSE_GOING_AWAY, "server shutting down").await;
                    false
                }
                // Invariant: the session sets `lagged` before dropping a
                // tab that fell behind; any other end (the tab switched
                // sessions, the session let go) keeps the connection open.
                None if lagged.load(std::sync::atomic::Ordering::Acquire) => {
                    close(&mut sink, CLOSE_LAGGED, "too slow; reconnect with lastSeq").await;
                    false
                }
                None => {
                    events = None;
                    true
                }
            },
            _ = shutdown.cancelled(), if events.is_none() => {
                close(&mut sink, CLOSE_GOING_AWAY, "server shutting down").await;
                false
            }
        };
        if !ok {
            break;
        }
    }
}
