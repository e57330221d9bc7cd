//! One WebSocket connection: a reader (this task) that turns frames into
//! session inputs, and a writer task that alone owns the socket's sink and
//! drains the connection's queues. Nobody else touches the socket (seed
//! race 5: a closed client is only ever seen by its own writer).

use super::AppState;
use crate::protocol::client::decode_client_message;
use crate::protocol::server::{Frame, Reply};
use crate::session::actor::StoreGap;
use crate::session::state::{ConnId, Input};
use crate::session::{SessionHandle, Subscription};
use crate::store::Refused;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

mod limits;
mod route;
mod writer;

use limits::{Bucket, Gauge};
pub use limits::{Limits, PeerSlot};
use route::Route;
use writer::{write_loop, WriterCtl};

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

struct Conn {
    id: ConnId,
    app: Arc<AppState>,
    private: mpsc::Sender<Frame>,
    writer: mpsc::Sender<WriterCtl>,
    session: Option<SessionHandle>,
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
        let current = self.session.as_ref().map(|h| h.id());
        match route::route(msg, self.id, current) {
            Route::Join {
                session,
                last_seq,
                agent,
            } => {
                self.join(session, last_seq, agent).await;
            }
            Route::JoinThen { session, input } => {
                if self.join(Some(session), None, None).await {
                    self.input(input).await;
                }
            }
            Route::Input(input) => self.input(input).await,
            Route::WithFiles { join, input, ids } => {
                if join.is_some() && !self.join(join, None, None).await {
                    return;
                }
                self.with_files(input, ids).await;
            }
            Route::Reply(frame) => {
                let _ = self.private.try_send(frame);
            }
            Route::Search { query, max_results } => {
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
            Route::WatchSessions => {
                let rx = self.app.registry.runtime().notices.subscribe();
                let _ = self.writer.send(WriterCtl::Watch(rx)).await;
            }
            Route::RefreshFiles => {
                self.app.files.refresh();
                let _ = self
                    .private
                    .try_send(index_status(&self.app.files.snapshot(), true));
            }
        }
    }

    /// A message whose attached files are read from the store first; one
    /// that names a file the session does not have is refused, whole. The
    /// files stay in memory while the message waits and while its turn
    /// runs, so they take room (`message_files`) first, by their sizes
    /// alone; without room the message is refused, not queued.
    async fn with_files(&mut self, mut input: Input, ids: Vec<String>) {
        let Some(session) = self.session.as_ref().map(|h| h.id().to_owned()) else {
            return self.send_error("no_session", "send a hello first");
        };
        use crate::agent::attachments::MAX_MESSAGE_BYTES;
        let store = &self.app.store;
        let (room, total) = match store.attachments_size(&session, ids.clone()).await {
            Ok(Ok(total)) if total > MAX_MESSAGE_BYTES => {
                return self.refused(Refused::TooLarge(total))
            }
            Ok(Ok(total)) => match self.app.message_files.try_take(total) {
                Some(room) => (room, total),
                None => return self.send_error(
                    "attachments_busy",
                    format!(
                        "the files of messages waiting or running already fill the {} MiB swe-swe holds for them; send this one once a turn has ended (the message was not sent)",
                        self.app.message_files.total() >> 20
                    ),
                ),
            },
            Ok(Err(refused)) => return self.refused(refused),
            Err(e) => return self.send_error("store_unavailable", e.to_string()),
        };
        // No more than the room taken is read.
        match store.attachments(&session, ids, total).await {
            Ok(Ok(files)) => {
                if let Input::UserMessage { attachments, .. } = &mut input {
                    *attachments = super::attachments::holding(files, room);
                }
                self.input(input).await;
            }
            Ok(Err(refused)) => self.refused(refused),
            Err(e) => self.send_error("store_unavailable", e.to_string()),
        }
    }

    fn refused(&self, refused: Refused) {
        use crate::agent::attachments::MAX_MESSAGE_BYTES;
        match refused {
            Refused::Unknown(id) => self.send_error(
                "unknown_attachment",
                format!("no attachment {id:?} in this session; upload it again (the message was not sent)"),
            ),
            Refused::TooLarge(total) => self.send_error(
                "attachments_too_large",
                format!(
                    "the attached files come to {} MiB, over the {} MiB one message may carry (the message was not sent)",
                    total.div_ceil(1 << 20),
                    MAX_MESSAGE_BYTES >> 20
                ),
            ),
        }
    }

    async fn input(&mut self, input: Input) {
        let Some(session) = &self.session else {
            return self.send_error("no_session", "send a hello first");
        };
        if let Err(e) = session.input(input, Some(self.private.clone())).await {
            self.send_error(e.code(), e.to_string());
        }
    }

    /// Subscribes to `session` (a new one when `None`), leaving any other.
    async fn join(
        &mut self,
        session: Option<String>,
        last_seq: Option<u64>,
        agent: Option<String>,
    ) -> bool {
        let reg = &self.app.registry;
        let agents = &reg.runtime().agents;
        if let Some(name) = agent.as_deref().filter(|n| agents.get(n).is_none()) {
            let offered: Vec<&str> = agents.list().map(|(n, _)| n).collect();
            let shown: String = name.chars().take(64).collect();
            self.send_error(
                "unknown_agent",
                format!(
                    "this server offers no agent {shown:?}; it offers {}",
                    offered.join(", ")
                ),
            );
            return false;
        }
        let handle = match session {
            Some(id) => reg.get_or_create(&id),
            None => reg.create(),
        };
        let handle = match handle {
            Ok(h) => h,
            Err(e) => {
                self.send_error(e.code(), e.to_string());
                return false;
            }
        };
        if let Some(name) = agent {
            // Before the subscription, in the same queue: the `session`
            // reply already names the agent the session runs.
            if let Err(e) = handle.choose_agent(name).await {
                self.send_error(e.code(), e.to_string());
                return false;
            }
        }
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
                self.send_error(e.code(), e.to_string());
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
