//! Who may talk to swe-swe from a browser. Any page on any site can send
//! requests to a loopback port, so:
//!
//! - every request must name this server in `Host` (a DNS-rebinding page,
//!   whose name now points at 127.0.0.1, still sends its own name);
//! - a state-changing request (anything but GET / HEAD / OPTIONS) and the
//!   WebSocket handshake must come from this server's own page or an
//!   `--allow-origin` when the browser says where it comes from (`Origin`).
//!   Clients without `Origin` (curl, scripts, tests) are not browsers, and
//!   there is no page to hijack.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::IpAddr;
use std::sync::Arc;

/// The allowed origins and hosts, fixed at start-up.
#[derive(Debug, Clone)]
pub struct OriginPolicy {
    /// `--host` as given (a name or an address), without brackets.
    bind_host: String,
    /// Extra trusted origins (`--allow-origin`), e.g. `https://dev.example`.
    allowed: Vec<String>,
    /// Extra names this server is reached by (`--allow-host`), e.g. the
    /// name a reverse proxy forwards.
    hosts: Vec<String>,
}

impl OriginPolicy {
    pub fn new(bind_host: &str, allowed: &[String], hosts: &[String]) -> Self {
        Self {
            bind_host: unbracket(&bind_host.to_ascii_lowercase()).to_owned(),
            allowed: allowed
                .iter()
                .map(|o| o.trim_end_matches('/').to_ascii_lowercase())
                .collect(),
            hosts: hosts
                .iter()
                .map(|h| unbracket(strip_port(&h.to_ascii_lowercase())).to_owned())
                .collect(),
        }
    }

    /// The `Host` check alone; `Ok` carries the host, lowercased.
    pub fn check_host(&self, headers: &HeaderMap) -> Result<String, String> {
        let host = headers
            .get("host")
            .and_then(|h| h.to_str().ok())
            .map(str::to_ascii_lowercase)
            .ok_or("missing Host header")?;
        if self.host_ok(&host) {
            Ok(host)
        } else {
            Err(format!(
                "Host {host:?} is not this server (see --allow-host)"
            ))
        }
    }

    /// Host, then Origin: for the WebSocket handshake and every request
    /// that changes state. `Err` says why the request is refused.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), String> {
        let host = self.check_host(headers)?;
        match headers
            .get("origin")
            .map(|o| o.to_str().map(str::to_ascii_lowercase))
        {
            // Not a browser (curl, scripts, tests): nothing to hijack.
            None => Ok(()),
            Some(Err(_)) => Err("malformed Origin header".into()),
            Some(Ok(origin)) => {
                let origin = origin.trim_end_matches('/');
                let same = origin
                    .strip_prefix("http://")
                    .or_else(|| origin.strip_prefix("https://"))
                    .is_some_and(|rest| rest == host);
                if same || self.allowed.iter().any(|a| a == origin) {
                    Ok(())
                } else {
                    Err(format!(
                        "Origin {origin:?} may not use this server (see --allow-origin)"
                    ))
                }
            }
        }
    }

    fn host_ok(&self, host_header: &str) -> bool {
        let name = unbracket(strip_port(host_header));
        is_loopback_name(name)
            || name == self.bind_host
            || self.hosts.iter().any(|h| h == name)
            || self.allowed.iter().any(|a| {
                a.split_once("://")
                    .is_some_and(|(_, rest)| unbracket(strip_port(rest)) == name)
            })
            // Bound to every address: the name the user typed is unknown
            // (and the access token is required there).
            || matches!(self.bind_host.as_str(), "0.0.0.0" | "::")
    }
}

/// Applies the policy to every request: `Host` always, `Origin` for every
/// method that can change state (the WebSocket handshake checks its own).
pub async fn guard(State(policy): State<Arc<OriginPolicy>>, req: Request, next: Next) -> Response {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let verdict = if safe {
        policy.check_host(req.headers()).map(drop)
    } else {
        policy.check(req.headers())
    };
    match verdict {
        Ok(()) => next.run(req).await,
        Err(why) => {
            // Debug only: a hostile page can send these as fast as it likes,
            // and the 403's body already tells the client why.
            tracing::debug!(
                method = %req.method(),
                path = %crate::log_safe::log_safe(req.uri().path()),
                reason = %crate::log_safe::log_safe(&why),
                "refused a request"
            );
            (StatusCode::FORBIDDEN, why).into_response()
        }
    }
}

fn strip_port(h: &str) -> &str {
    if let Some(rest) = h.strip_prefix('[') {
        // "[::1]:7000" → "[::1]"; anything else after ']' is not a host.
        return match rest.split_once(']') {
            Some((addr, tail))
                if tail.is_empty()
                    || tail
                        .strip_prefix(':')
                        .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit())) =>
            {
                &h[..addr.len() + 2]
            }
            _ => h,
        };
    }
    h.rsplit_once(':').map_or(h, |(name, port)| {
        if port.bytes().all(|b| b.is_ascii_digit()) {
            name
        } else {
            h
        }
    })
}

fn unbracket(h: &str) -> &str {
    h.strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(h)
}

/// `localhost`, or an address literal that is loopback. Not any name that
/// merely starts with `127.`: `127.0.0.1.nip.io` or `127.x.attacker.tld`
/// are names an attacker's DNS can point anywhere, and at 127.0.0.1.
fn is_loopback_name(name: &str) -> bool {
    name == "localhost" || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(host: &str, origin: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("host", HeaderValue::from_str(host).unwrap());
        if let Some(o) = origin {
            h.insert("origin", HeaderValue::from_str(o).unwrap());
        }
        h
    }

    #[test]
    fn same_origin_and_non_browsers_pass_other_sites_do_not() {
        let p = OriginPolicy::new("127.0.0.1", &[], &[]);
        assert!(p
            .check(&headers("127.0.0.1:7000", Some("http://127.0.0.1:7000")))
            .is_ok());
        assert!(p
            .check(&headers("localhost:7000", Some("http://localhost:7000")))
            .is_ok());
        assert!(p.check(&headers("[::1]:7000", None)).is_ok());
        assert!(p
            .check(&headers("127.0.0.1:7000", Some("https://evil.example")))
            .is_err());
        assert!(p
            .check(&headers("127.0.0.1:7000", Some("http://127.0.0.1:7001")))
            .is_err());
        // DNS rebinding: the page's own origin, but not our host.
        assert!(p
            .check(&headers(
                "evil.example:7000",
                Some("http://evil.example:7000")
            ))
            .is_err());
        let p = OriginPolicy::new("127.0.0.1", &["https://ide.example".into()], &[]);
        assert!(p
            .check(&headers("127.0.0.1:7000", Some("https://ide.example")))
            .is_ok());
    }

    #[test]
    fn only_real_loopback_names_pass_the_host_check() {
        let p = OriginPolicy::new("127.0.0.1", &[], &["swe.internal".into()]);
        for ok in [
            "127.0.0.1:7000",
            "127.0.0.2",
            "localhost:7000",
            "LOCALHOST",
            "[::1]:7000",
            "swe.internal:443",
        ] {
            assert!(p.check_host(&headers(ok, None)).is_ok(), "{ok}");
        }
        // Names a rebinding attacker controls, though they look local.
        for bad in [
            "127.0.0.1.nip.io:7000",
            "127.x.attacker.tld",
            "127.0.0.1.evil.example",
            "foo.localhost",
            "localhost.evil.example",
            "evil.example",
            "[::1].evil",
            "",
        ] {
            assert!(p.check_host(&headers(bad, None)).is_err(), "{bad}");
        }
        let v6 = OriginPolicy::new("[::1]", &[], &[]);
        assert!(v6.check_host(&headers("[::1]:7000", None)).is_ok());
        let any = OriginPolicy::new("0.0.0.0", &[], &[]);
        assert!(any.check_host(&headers("my-laptop.lan:7000", None)).is_ok());
    }
}
