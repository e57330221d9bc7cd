//! What swe-swe-load reads from the server's `/metrics` page: single
//! figures and the event-delay histogram's quantiles between two readings.

use std::time::Duration;

/// The server's /metrics page.
async fn metrics_text(base: &str) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (host, path) = base.split_once('/')?;
    let mut s = tokio::net::TcpStream::connect(host).await.ok()?;
    let req = format!("GET /{path}metrics HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.ok()?;
    let mut body = String::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_string(&mut body))
        .await
        .ok()?
        .ok()?;
    Some(body)
}

/// The cumulative buckets of `swe_swe_event_delay_seconds` from /metrics.
pub async fn delay_buckets(base: &str) -> Option<Vec<(String, u64)>> {
    let body = metrics_text(base).await?;
    Some(
        body.lines()
            .filter_map(|l| l.strip_prefix("swe_swe_event_delay_seconds_bucket{le=\""))
            .filter_map(|l| {
                let (le, n) = l.split_once("\"} ")?;
                Some((le.to_owned(), n.trim().parse().ok()?))
            })
            .collect(),
    )
}

/// One unlabelled figure of /metrics (`swe_swe_<name>`).
pub async fn metric(base: &str, name: &str) -> Option<f64> {
    let body = metrics_text(base).await?;
    let key = format!("swe_swe_{name} ");
    body.lines()
        .find_map(|l| l.strip_prefix(key.as_str()))
        .and_then(|v| v.trim().parse().ok())
}

/// p50 and p99 bucket bounds of what was observed between two readings.
pub fn delay_quantiles(
    before: &[(String, u64)],
    after: &[(String, u64)],
) -> Option<(String, String)> {
    let diff: Vec<(String, u64)> = after
        .iter()
        .map(|(le, n)| {
            let was = before.iter().find(|(l, _)| l == le).map_or(0, |(_, n)| *n);
            (le.clone(), n.saturating_sub(was))
        })
        .collect();
    let total = diff.last()?.1;
    let at = |q: f64| {
        let want = (total as f64 * q).ceil() as u64;
        diff.iter()
            .find(|(_, n)| *n >= want)
            .map(|(le, _)| match le.parse::<f64>() {
                Ok(s) => format!("{} us", (s * 1e6).round()),
                Err(_) => le.clone(),
            })
    };
    Some((at(0.5)?, at(0.99)?))
}
