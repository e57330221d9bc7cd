//! Accepting HTTP connections within bounds. Each TCP connection is served
//! by hyper's HTTP/1 (upgrades to WebSocket included) in a tracked task, and:
//!
//! - its request head must arrive within `header_timeout` (half-sent
//!   requests held every descriptor the process had: /healthz stopped
//!   answering and agents could not start);
//! - open connections are capped in total, leaving descriptors for agent
//!   pipes and SQLite, and per client address — not for loopback peers,
//!   which are every local tab or a reverse proxy on this host;
//! - a connection over a cap is closed at once, before anything is read.
//!
//! The count travels with the socket, so a connection upgraded to a
//! WebSocket keeps its place until the WebSocket ends.

use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

/// The longest an accept that failed waits before it is tried again.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// Bounds for accepted connections.
#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    /// Open connections at once (HTTP and WebSocket).
    pub total: usize,
    /// Open connections from one non-loopback address.
    pub per_address: usize,
    /// Time a connection has to send each request head.
    pub header_timeout: Duration,
}

/// Peers whose connections carry many clients: loopback (local tabs, a
/// proxy on this host) and `--trust-proxy` addresses. No per-address cap
/// applies to them.
pub fn shared_peer(ip: IpAddr, trusted: &[IpAddr]) -> bool {
    ip.is_loopback() || trusted.contains(&ip)
}

/// Descriptors kept free of connections: SQLite's files, the watcher,
/// logs, plus three pipes per agent.
pub fn descriptor_reserve(max_agents: usize) -> usize {
    64 + 3 * max_agents
}

/// Counts of open connections. Invariant: the lock is held only to count
/// up or down, never across an `.await`.
#[derive(Default)]
pub struct Open {
    inner: Mutex<OpenCounts>,
    /// Connections closed at once for being over a cap.
    pub refused: AtomicU64,
    /// Told whenever a connection closes (a descriptor came back).
    closed: tokio::sync::Notify,
}

#[derive(Default)]
struct OpenCounts {
    total: usize,
    by_address: PerAddress,
}

/// Open connections per client address, for a per-address cap. Used by the
/// accept loop (direct peers) and by the WebSocket handshake (clients
/// behind a trusted proxy); each holder locks it only to count.
#[derive(Default)]
pub struct PerAddress(HashMap<IpAddr, usize>);

impl PerAddress {
    /// Counts one more for `ip` unless it already has `limit`.
    pub fn take(&mut self, ip: IpAddr, limit: usize) -> bool {
        let n = self.0.entry(ip).or_insert(0);
        if *n >= limit {
            return false;
        }
        *n += 1;
        true
    }

    pub fn give_back(&mut self, ip: IpAddr) {
        if let Some(n) = self.0.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                self.0.remove(&ip);
            }
        }
    }
}

/// Why a connection was turned away at accept.
#[derive(Debug, PartialEq)]
enum Refusal {
    Total,
    Address,
}

impl Open {
    pub fn total(&self) -> usize {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).total
    }

    /// A place for a connection from `ip`, or which cap it is over.
    fn take(
        self: &Arc<Self>,
        ip: IpAddr,
        limits: &ConnLimits,
        trusted: &[IpAddr],
    ) -> Result<Place, Refusal> {
        let mut c = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if c.total >= limits.total {
            return Err(Refusal::Total);
        }
        let counted = !shared_peer(ip, trusted);
        if counted && !c.by_address.take(ip, limits.per_address) {
            return Err(Refusal::Address);
        }
        c.total += 1;
        Ok(Place {
            open: self.clone(),
            ip: counted.then_some(ip),
        })
    }
}

/// One connection's place in the counts, given back when dropped.
struct Place {
    open: Arc<Open>,
    ip: Option<IpAddr>,
}

impl Drop for Place {
    fn drop(&mut self) {
        self.open.closed.notify_waiters();
        let mut c = self.open.inner.lock().unwrap_or_else(|p| p.into_inner());
        c.total -= 1;
        if let Some(ip) = self.ip {
            c.by_address.give_back(ip);
        }
    }
}

/// A socket holding its place.
struct Counted {
    tcp: TcpStream,
    _place: Place,
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write(cx, buf)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}

/// The HTTP answer for a connection turned away at accept.
fn refusal_response(why: &Refusal, ip: IpAddr, limits: &ConnLimits) -> String {
    let (status, body) = match why {
        Refusal::Total => (
            "503 Service Unavailable",
            format!(
                "swe-swe has {} connections open (--max-http-connections)\n",
                limits.total
            ),
        ),
        Refusal::Address => (
            "429 Too Many Requests",
            format!(
                "too many connections from {ip} (--max-connections-per-ip {})\n",
                limits.per_address
            ),
        ),
    };
    format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// Accepts and serves connections until `shutdown`; each connection task is
/// on `tracker`, and finishes its current request before closing.
pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    limits: ConnLimits,
    trusted: Arc<[IpAddr]>,
    open: Arc<Open>,
    tracker: TaskTracker,
    shutdown: CancellationToken,
) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    loop {
        let (tcp, peer) = tokio::select! {
            _ = shutdown.cancelled() => return,
            r = listener.accept() => match r {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors or similar: the connection stays in
                    // the backlog. Try again when a connection has closed,
                    // or after a while (an agent's pipes may be what frees
                    // a descriptor, and nothing tells of that).
                    tracing::warn!("accept failed: {e}");
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::timeout(ACCEPT_RETRY, open.closed.notified()) => continue,
                    }
                }
            },
        };
        let place = match open.take(peer.ip(), &limits, &trusted) {
            Ok(p) => p,
            Err(why) => {
                open.refused.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(%peer, ?why, "connection over a cap; closed");
                // Said once, without reading anything: a fresh socket's send
                // buffer is empty, so this never waits.
                let _ = tcp.try_write(refusal_response(&why, peer.ip(), &limits).as_bytes());
                drop(tcp);
                continue;
            }
        };
        // Events are small frames that must leave at once: no Nagle delay.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!("TCP_NODELAY: {e}");
        }
        let io = TokioIo::new(Counted { tcp, _place: place });
        let app = app.clone();
        let service =
            hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let mut req = req.map(axum::body::Body::new);
                req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
                app.clone().oneshot(req)
            });
        let conn = http.serve_connection(io, service).with_upgrades();
        let stop = shutdown.clone();
        tracker.spawn(async move {
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                r = conn.as_mut() => {
                    if let Err(e) = r {
                        tracing::trace!("connection ended: {e}");
                    }
                    return;
                }
                _ = stop.cancelled() => conn.as_mut().graceful_shutdown(),
            }
            let _ = conn.await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_count_every_connection_but_loopback_has_no_address_cap() {
        let open = Arc::new(Open::default());
        let limits = ConnLimits {
            total: 5,
            per_address: 2,
            header_timeout: Duration::from_secs(1),
        };
        let far: IpAddr = "203.0.113.9".parse().unwrap();
        let a = open.take(far, &limits, &[]).unwrap();
        let _b = open.take(far, &limits, &[]).unwrap();
        assert_eq!(
            open.take(far, &limits, &[]).err(),
            Some(Refusal::Address),
            "per address"
        );
        let local: Vec<_> = (0..3)
            .map(|_| {
                open.take("127.0.0.1".parse().unwrap(), &limits, &[])
                    .unwrap()
            })
            .collect();
        assert!(
            open.take("::1".parse().unwrap(), &limits, &[]).err() == Some(Refusal::Total),
            "total"
        );
        drop(a);
        assert_eq!(open.total(), 4);
        assert!(open.take(far, &limits, &[]).is_ok(), "a place came back");
        drop(local);
        assert_eq!(open.total(), 1, "only the one still held");
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        let held: Vec<_> = (0..3)
            .map(|_| open.take(proxy, &limits, &[proxy]).unwrap())
            .collect();
        assert_eq!(held.len(), 3, "a trusted proxy has no address cap");
    }
}
