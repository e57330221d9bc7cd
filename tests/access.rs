//! Off loopback every request needs the access token; it is exchanged for an
//! HttpOnly cookie and never reaches the agent.

mod support;

use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// Raw response head of a GET, with optional extra header lines.
async fn get(server: &Server, path: &str, extra: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n{extra}\r\n",
        server.addr
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn off_loopback_the_token_is_required_and_kept_from_the_agent() {
    // The token comes from the environment, the agent prints its own.
    let server = Server::plain()
        .args([
            "--host",
            "0.0.0.0",
            "--agent",
            "template",
            "--agent-cli-1st",
            "env",
        ])
        .env("SWE_SWE_TOKEN", "tok-4e1c9f0aa7")
        .start()
        .await;
    assert_eq!(
        server.token.as_deref(),
        Some("tok-4e1c9f0aa7"),
        "printed once as a URL"
    );

    // Tried: no token, a wrong token.
    assert!(get(&server, "/", "").await.starts_with("HTTP/1.1 401"));
    assert!(get(&server, "/?token=nope", "")
        .await
        .starts_with("HTTP/1.1 401"));
    assert!(get(&server, "/api/sessions", "")
        .await
        .starts_with("HTTP/1.1 401"));
    let ws = tokio_tungstenite::connect_async(server.ws_url()).await;
    assert!(matches!(ws, Err(tokio_tungstenite::tungstenite::Error::Http(r)) if r.status() == 401));

    // The URL's token becomes an HttpOnly cookie and leaves the address bar.
    let first = get(&server, "/?token=tok-4e1c9f0aa7", "").await;
    assert!(first.starts_with("HTTP/1.1 303"), "{first}");
    assert!(
        first.contains("set-cookie: swe_swe_token=tok-4e1c9f0aa7; HttpOnly; SameSite=Strict"),
        "{first}"
    );
    assert!(first.contains("location: /\r\n"), "{first}");
    assert!(
        get(&server, "/", "Cookie: swe_swe_token=tok-4e1c9f0aa7\r\n")
            .await
            .starts_with("HTTP/1.1 200")
    );

    // With the token, the WebSocket works; the agent's environment lacks it.
    let mut req = server.ws_url().into_client_request().unwrap();
    req.headers_mut()
        .insert("authorization", "Bearer tok-4e1c9f0aa7".parse().unwrap());
    let (ws, _) = tokio_tungstenite::connect_async(req)
        .await
        .expect("authorised");
    let mut c = Client::from_stream(ws);
    c.hello("env", 0).await;
    let frames = c.turn("show me").await;
    let env: Vec<String> = of_type(&frames, "content")
        .iter()
        .map(|v| v["content"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        env.iter().any(|l| l.starts_with("PATH=")),
        "the agent ran: {env:?}"
    );
    assert!(!env
        .iter()
        .any(|l| l.contains("tok-4e1c9f0aa7") || l.starts_with("SWE_SWE_TOKEN")));
}

#[tokio::test]
async fn a_token_is_generated_when_none_is_given() {
    let server = Server::claude().args(["--host", "0.0.0.0"]).start().await;
    let token = server.token.clone().expect("a generated token is printed");
    assert!(token.len() >= 32);
    assert!(get(&server, "/", "").await.starts_with("HTTP/1.1 401"));
    assert!(
        get(&server, "/", &format!("Authorization: Bearer {token}\r\n"))
            .await
            .starts_with("HTTP/1.1 200")
    );
}

/// Status of one request with the given Host and extra header lines.
async fn status_of(server: &Server, method: &str, path: &str, host: &str, extra: &str) -> u16 {
    let body = (method != "GET").then(|| serde_json::json!({}));
    http_as(server.addr, method, path, host, extra, body)
        .await
        .0
}

/// Tried: what a DNS-rebinding page can do once its name points at
/// 127.0.0.1 (the browser then sends that name as Host, and its own origin),
/// and what a page on another site can do by posting across origins. Before:
/// the API listed, created, renamed and deleted sessions under any Host,
/// and `127.0.0.1.nip.io` passed even the WebSocket check.
#[tokio::test]
async fn a_rebinding_or_cross_site_page_reaches_nothing() {
    let server = Server::claude().start().await;
    let mut c = server.joined("mine").await;
    c.turn("hello").await;
    let port = server.addr.port();
    for host in [
        format!("evil.example:{port}"),
        format!("127.0.0.1.nip.io:{port}"),
        format!("127.1.attacker.tld:{port}"),
        format!("foo.localhost:{port}"),
    ] {
        let origin = format!("Origin: http://{host}\r\n");
        for (method, path) in [
            ("GET", "/"),
            ("GET", "/api/sessions"),
            ("GET", "/api/sessions/mine"),
            ("GET", "/metrics"),
            ("GET", "/healthz"),
            ("POST", "/api/sessions"),
            ("PATCH", "/api/sessions/mine"),
            ("DELETE", "/api/sessions/mine"),
        ] {
            for extra in ["", origin.as_str()] {
                assert_eq!(
                    status_of(&server, method, path, &host, extra).await,
                    403,
                    "{method} {path} with Host {host} {extra}"
                );
            }
        }
        let mut req = server.ws_url().into_client_request().unwrap();
        req.headers_mut().insert("host", host.parse().unwrap());
        req.headers_mut()
            .insert("origin", format!("http://{host}").parse().unwrap());
        match tokio_tungstenite::connect_async(req).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(r)) => {
                assert_eq!(r.status().as_u16(), 403, "ws with Host {host}")
            }
            other => panic!("ws with Host {host}: {:?}", other.map(|_| ())),
        }
    }
    // A page elsewhere posting to the real address (a form, fetch no-cors).
    let host = server.addr.to_string();
    for (method, path) in [
        ("POST", "/api/sessions"),
        ("PATCH", "/api/sessions/mine"),
        ("DELETE", "/api/sessions/mine"),
    ] {
        assert_eq!(
            status_of(
                &server,
                method,
                path,
                &host,
                "Origin: https://evil.example\r\n"
            )
            .await,
            403,
            "{method} {path} from another origin"
        );
    }
    // The session is untouched; the page's own requests and scripts work.
    let same = format!("Origin: http://{host}\r\n");
    assert_eq!(
        status_of(&server, "GET", "/api/sessions/mine", &host, "").await,
        200
    );
    assert_eq!(
        status_of(&server, "POST", "/api/sessions", &host, &same).await,
        201
    );
    assert_eq!(
        status_of(&server, "POST", "/api/sessions", "localhost", "").await,
        201
    );
    assert_eq!(
        status_of(&server, "GET", "/healthz", &format!("localhost:{port}"), "").await,
        200
    );
}

/// Tried: `ps` (any local user's /proc/PID/cmdline) while the token comes
/// from --token-file: the token is not on the command line, and it works.
#[tokio::test]
async fn a_token_file_keeps_the_token_out_of_ps() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, "tok-from-file-77aa\n").unwrap();
    let server = Server::plain()
        .args(["--host", "0.0.0.0", "--token-file"])
        .arg(file.to_str().unwrap())
        .start()
        .await;
    assert_eq!(server.token.as_deref(), Some("tok-from-file-77aa"));
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", server.pid())).unwrap();
    assert!(!String::from_utf8_lossy(&cmdline).contains("tok-from-file-77aa"));
    assert!(get(&server, "/", "").await.starts_with("HTTP/1.1 401"));
    assert!(
        get(&server, "/", "Authorization: Bearer tok-from-file-77aa\r\n")
            .await
            .starts_with("HTTP/1.1 200")
    );
    // An empty or missing file is a clear start-up error (exit 2).
    std::fs::write(&file, "\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_swe-swe"))
        .args(["--port", "0", "--token-file"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--token-file"));
}
