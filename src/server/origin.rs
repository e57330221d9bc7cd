//! Who may open `/ws`. A browser sends `Origin` with every WebSocket
//! handshake and any page on any site can try one, so a page elsewhere must
//! not drive the agent (cross-site WebSocket hijacking). `Host` is checked
//! too, so a DNS-rebinding name cannot pose as loopback.

use axum::http::HeaderMap;

/// The allowed origins and hosts, fixed at start-up.
#[derive(Debug, Clone)]
pub struct OriginPolicy {
    /// `--host` as given (a name or an address).
    bind_host: String,
    /// Extra trusted origins (`--allow-origin`), e.g. `https://dev.example`.
    allowed: Vec<String>,
}

impl OriginPolicy {
    pub fn new(bind_host: &str, allowed: &[String]) -> Self {
        Self {
            bind_host: bind_host.to_ascii_lowercase(),
            allowed: allowed
                .iter()
                .map(|o| o.trim_end_matches('/').to_ascii_lowercase())
                .collect(),
        }
    }

    /// `Err` says why the handshake is refused.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), String> {
        let host = headers
            .get("host")
            .and_then(|h| h.to_str().ok())
            .map(str::to_ascii_lowercase)
            .ok_or("missing Host header")?;
        if !self.host_ok(&host) {
            return Err(format!("Host {host:?} is not this server"));
        }
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
                        "Origin {origin:?} may not open this WebSocket (see --allow-origin)"
                    ))
                }
            }
        }
    }

    fn host_ok(&self, host_header: &str) -> bool {
        let name = strip_port(host_header);
        is_loopback_name(name)
            || name == self.bind_host
            || self.allowed.iter().any(|a| {
                a.split_once("://")
                    .is_some_and(|(_, rest)| strip_port(rest) == name)
            })
            // Bound to every address: the name the user typed is unknown.
            || (!is_loopback_name(&self.bind_host) && matches!(self.bind_host.as_str(), "0.0.0.0" | "::" | "[::]"))
    }
}

fn strip_port(h: &str) -> &str {
    if let Some(rest) = h.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    h.rsplit_once(':').map_or(h, |(name, port)| {
        if port.bytes().all(|b| b.is_ascii_digit()) {
            name
        } else {
            h
        }
    })
}

fn is_loopback_name(name: &str) -> bool {
    name == "localhost" || name.ends_with(".localhost") || name == "::1" || name.starts_with("127.")
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
        let p = OriginPolicy::new("127.0.0.1", &[]);
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
        let p = OriginPolicy::new("127.0.0.1", &["https://ide.example".into()]);
        assert!(p
            .check(&headers("127.0.0.1:7000", Some("https://ide.example")))
            .is_ok());
    }
}
