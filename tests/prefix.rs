//! `--prefix-path`: everything is served under the prefix, nothing outside.

mod support;

use support::*;

#[tokio::test]
async fn everything_lives_under_the_prefix() {
    let server = Server::claude()
        .args(["--prefix-path", "/swe/"])
        .start()
        .await;
    assert_eq!(server.prefix, "/swe");
    // The page, the API and /ws under it; the bare root is not ours.
    assert_eq!(server.http("GET", "/", None).await.0, 200);
    assert_eq!(server.http("GET", "/api/sessions", None).await.0, 200);
    assert_eq!(http(server.addr, "GET", "/", None).await.0, 404);
    assert_eq!(http(server.addr, "GET", "/ws", None).await.0, 404);
    let (status, _) = http(server.addr, "GET", "/swe", None).await;
    assert_eq!(status, 308, "the prefix without its slash redirects");
    let mut c = server.joined("p").await;
    assert_eq!(c.turn("hi").await.last().unwrap()["status"], "success");
}
