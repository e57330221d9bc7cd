//! What bounds one connection: its place among a client address's
//! connections, its message rate, and the open-connections gauge.

use super::super::AppState;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Counts something (an open connection, the bytes of a replay page) on
/// a gauge for as long as it lives.
pub(super) struct Gauge<'a>(&'a std::sync::atomic::AtomicI64, i64);

impl<'a> Gauge<'a> {
    pub(super) fn up(g: &'a std::sync::atomic::AtomicI64) -> Self {
        Self::add(g, 1)
    }

    pub(super) fn add(g: &'a std::sync::atomic::AtomicI64, n: i64) -> Self {
        g.fetch_add(n, Ordering::Relaxed);
        Gauge(g, n)
    }
}

impl Drop for Gauge<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(self.1, Ordering::Relaxed);
    }
}

/// Per-connection limits.
#[derive(Debug, Clone)]
pub struct Limits {
    pub messages_per_sec: u32,
    pub connections_per_ip: usize,
    pub idle_timeout: Duration,
}

/// A WebSocket's place among its client's connections, given back on drop.
/// Direct peers are counted (HTTP and WebSocket alike) where they are
/// accepted (`server/conn.rs`); here only clients behind a `--trust-proxy`
/// peer, whose address is known from X-Forwarded-For only now.
pub struct PeerSlot {
    app: Arc<AppState>,
    /// `None`: not counted here.
    ip: Option<std::net::IpAddr>,
}

impl PeerSlot {
    /// `client` is the peer itself, or the client a trusted proxy named.
    pub fn take(
        app: &Arc<AppState>,
        peer: std::net::IpAddr,
        client: std::net::IpAddr,
    ) -> Option<PeerSlot> {
        let proxied = peer != client;
        // A loopback client behind a proxy is one that did not say who it
        // is: no cap (100 local tabs got 429 from the 65th).
        if !proxied || super::super::conn::shared_peer(client, &app.trusted) {
            return Some(PeerSlot {
                app: app.clone(),
                ip: None,
            });
        }
        let mut counts = app.per_ip.lock().unwrap_or_else(|p| p.into_inner());
        counts
            .take(client, app.limits.connections_per_ip)
            .then(|| PeerSlot {
                app: app.clone(),
                ip: Some(client),
            })
    }
}

impl Drop for PeerSlot {
    fn drop(&mut self) {
        let Some(ip) = self.ip else { return };
        let mut counts = self.app.per_ip.lock().unwrap_or_else(|p| p.into_inner());
        counts.give_back(ip);
    }
}

/// Messages per second with bursts: a token bucket.
pub(super) struct Bucket {
    tokens: f64,
    rate: f64,
    last: Instant,
}

impl Bucket {
    pub(super) fn new(per_sec: u32) -> Self {
        let rate = f64::from(per_sec);
        Bucket {
            tokens: rate * 2.0,
            rate,
            last: Instant::now(),
        }
    }

    pub(super) fn take(&mut self) -> bool {
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
