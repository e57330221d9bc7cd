//! Access token for non-loopback binds. Anyone who reaches swe-swe can run
//! commands through the agent, so off loopback every request must carry the
//! token: once in the URL printed at start (exchanged for an HttpOnly cookie
//! and removed from the address bar), then as that cookie; scripts may send
//! `Authorization: Bearer TOKEN`.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use std::sync::Arc;

pub const COOKIE: &str = "swe_swe_token";

#[derive(Clone)]
pub struct Auth {
    token: Arc<str>,
    cookie_path: Arc<str>,
}

impl Auth {
    pub fn new(token: &str, prefix: &str) -> Self {
        Self {
            token: token.into(),
            cookie_path: if prefix.is_empty() {
                "/".into()
            } else {
                prefix.into()
            },
        }
    }

    fn matches(&self, candidate: &str) -> bool {
        // Constant time over the token's length: no early exit on a prefix.
        let (a, b) = (self.token.as_bytes(), candidate.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }

    fn presented(&self, headers: &HeaderMap) -> bool {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let cookie = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|kv| kv.trim().strip_prefix(COOKIE)?.strip_prefix('='));
        bearer.into_iter().chain(cookie).any(|t| self.matches(t))
    }
}

/// A fresh random token (UUID v4 randomness, 122 bits).
pub fn generate() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

pub async fn require(State(auth): State<Auth>, req: Request, next: Next) -> Response {
    if auth.presented(req.headers()) {
        return next.run(req).await;
    }
    // First visit: ?token=… in the URL becomes a cookie, and the URL loses it.
    let query = req.uri().query().unwrap_or("");
    let from_query = query
        .split('&')
        .filter_map(|kv| kv.strip_prefix("token="))
        .any(|t| auth.matches(t));
    if from_query {
        let rest: Vec<&str> = query
            .split('&')
            .filter(|kv| !kv.starts_with("token="))
            .collect();
        let path = req.uri().path();
        let to = if rest.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{}", rest.join("&"))
        };
        let cookie = format!(
            "{COOKIE}={}; HttpOnly; SameSite=Strict; Path={}",
            auth.token, auth.cookie_path
        );
        let mut resp = Redirect::to(&to).into_response();
        if let Ok(v) = cookie.parse() {
            resp.headers_mut().insert(header::SET_COOKIE, v);
        }
        return resp;
    }
    (
        StatusCode::UNAUTHORIZED,
        "swe-swe needs its access token: open the URL it printed at start (or send Authorization: Bearer TOKEN)",
    )
        .into_response()
}
