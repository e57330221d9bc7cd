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
