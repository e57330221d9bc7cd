//! The writer task of a connection: it alone owns the socket's sink, and
//! sends the session's events (in batches), the connection's own replies, a
//! replay from the store, pings, and the close frame.

use super::*;
use crate::session::notices::Notices;

/// Boxed where large: a channel allocates room for 32 messages up front,
/// and there is one per connection (10,000 idle tabs: 36 MB less).
pub(super) enum WriterCtl {
    Subscribe(Box<Subscription>),
    /// Stop reading the current session's events (switching sessions).
    Detach,
    Ping,
    Close(u16, &'static str),
    /// Forward the notices about every session (`watch_sessions`).
    Watch(tokio::sync::broadcast::Receiver<Frame>),
}

async fn recv_events(events: &mut Option<mpsc::Receiver<Frame>>) -> Option<Frame> {
    match events {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn recv_notice(
    notices: &mut Option<tokio::sync::broadcast::Receiver<Frame>>,
) -> Result<Frame, tokio::sync::broadcast::error::RecvError> {
    match notices {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn send(sink: &mut SplitSink<WebSocket, Message>, frame: &Frame) -> bool {
    sink.send(Message::Text(frame.clone())).await.is_ok()
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
                    .send(Message::Text(
                        Reply::error("storage_failed", msg).to_frame(),
                    ))
                    .await;
                return false;
            }
        };
        let Some(&(last, _)) = page.last() else { break };
        let bytes = page.iter().map(|(_, f)| f.len() as i64).sum();
        // Until the page is written (or the tab is gone) and dropped.
        let _held = super::limits::Gauge::add(&gap.stats.replay_bytes, bytes);
        let _page = super::limits::Gauge::up(&gap.stats.replay_pages);
        for (_, frame) in page {
            if sink.feed(Message::Text(frame)).await.is_err() {
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
    // Frames are moved into their messages, not cloned: a clone and a drop
    // are two changes of a count whose cache line the session's thread
    // last wrote.
    queued.fetch_sub(first.len(), Ordering::AcqRel);
    if sink.feed(Message::Text(first)).await.is_err() {
        return false;
    }
    if let Some(rx) = events {
        for _ in 1..BATCH {
            match rx.try_recv() {
                Ok(f) => {
                    queued.fetch_sub(f.len(), Ordering::AcqRel);
                    if sink.feed(Message::Text(f)).await.is_err() {
                        return false;
                    }
                }
                Err(_) => break,
            }
        }
    }
    sink.flush().await.is_ok()
}

pub(super) async fn close(
    sink: &mut SplitSink<WebSocket, Message>,
    code: u16,
    reason: &'static str,
) {
    let _ = sink
        .send(Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        })))
        .await;
}

pub(super) async fn write_loop(
    mut sink: SplitSink<WebSocket, Message>,
    mut private: mpsc::Receiver<Frame>,
    mut ctl: mpsc::Receiver<WriterCtl>,
    shutdown: CancellationToken,
) {
    use tokio::sync::broadcast::error::RecvError;
    // Only for connections that asked: other clients get session frames only.
    let mut notices: Option<tokio::sync::broadcast::Receiver<Frame>> = None;
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
                Some(WriterCtl::Watch(rx)) => {
                    notices = Some(rx);
                    true
                }
                Some(WriterCtl::Close(code, reason)) => {
                    close(&mut sink, code, reason).await;
                    false
                }
                None => false,
            },
            Some(f) = private.recv() => send(&mut sink, &f).await,
            n = recv_notice(&mut notices) => match n {
                Ok(f) => send(&mut sink, &f).await,
                // Fell behind: the tab refreshes its list instead.
                Err(RecvError::Lagged(_)) => send(&mut sink, &Notices::missed()).await,
                Err(RecvError::Closed) => {
                    notices = None;
                    true
                }
            },
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
