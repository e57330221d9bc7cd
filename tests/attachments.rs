//! Files attached to messages (issue 14, point 18), against a real server
//! with the fake `claude`: uploaded over HTTP, named by the message, sent as
//! image content (duplex) or inlined text, shown back, deleted with the
//! session; and what is refused, with what was tried.

mod support;

use serde_json::{json, Value};
use support::*;

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n fake image bytes";

/// GET of an uploaded file: (status, response head, body).
async fn fetch(server: &Server, session: &str, file: &Value) -> (u16, String, Vec<u8>) {
    let path = format!(
        "/api/sessions/{session}/attachments/{}",
        file["id"].as_str().unwrap()
    );
    http_bytes(server.addr, "GET", &path, "text/plain", b"").await
}

async fn upload(
    server: &Server,
    session: &str,
    name: &str,
    ctype: &str,
    body: &[u8],
) -> (u16, Value) {
    let path = format!(
        "/api/sessions/{session}/attachments?name={}",
        name.replace(' ', "%20").replace('/', "%2F")
    );
    let (status, _, body) = http_bytes(server.addr, "POST", &path, ctype, body).await;
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

#[tokio::test]
async fn images_and_text_files_reach_claude_and_come_back_for_the_page() {
    let server = Server::claude().start().await;
    let mut c = server.joined("files").await;
    let (status, img) = upload(&server, "files", "shot.png", "image/png", PNG).await;
    assert_eq!(status, 201, "{img}");
    assert_eq!(img["name"], "shot.png");
    assert_eq!(img["mime"], "image/png");
    assert_eq!(img["size"], PNG.len());
    // Tried: a path in the name, a type with parameters.
    let (status, txt) = upload(
        &server,
        "files",
        "../../etc/notes.md",
        "Text/Markdown; charset=utf-8",
        b"# Notes\nfirst line\n",
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(txt["name"], "notes.md");
    assert_eq!(txt["mime"], "text/markdown");

    c.send(
        json!({"type":"message","content":"look at these","attachments":[img["id"], txt["id"]]}),
    )
    .await;
    let frames = c.until_type("exec_end").await;
    let user = frames.iter().find(|f| f["type"] == "user_message").unwrap();
    assert_eq!(
        user["content"], "look at these",
        "the event keeps what the user typed"
    );
    let names: Vec<&str> = user["attachments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["shot.png", "notes.md"]);
    // The agent got the image as image content and the text file inlined.
    let said = claude_lines(&frames)
        .into_iter()
        .filter(|l| l["type"] == "result")
        .map(|l| l["result"].as_str().unwrap().to_owned())
        .next()
        .unwrap();
    assert!(said.contains("look at these"), "{said}");
    assert!(said.contains("Attached file `notes.md`:"), "{said}");
    assert!(said.contains("first line"), "{said}");
    assert!(said.contains("[image image/png "), "{said}");

    // The page fetches it back: inline for an image, never sniffed.
    let (status, head, body) = fetch(&server, "files", &img).await;
    assert_eq!(status, 200);
    assert_eq!(body, PNG);
    assert!(head.contains("content-type: image/png"), "{head}");
    assert!(head.contains("x-content-type-options: nosniff"));
    assert!(head.contains("content-security-policy: sandbox"));
    // A text file is a download, not a page.
    let (_, head, _) = fetch(&server, "files", &txt).await;
    assert!(
        head.contains("content-type: application/octet-stream"),
        "{head}"
    );
    assert!(
        head.contains("content-disposition: attachment; filename=\"notes.md\""),
        "{head}"
    );

    // Deleted with its session.
    assert_eq!(
        server.http("DELETE", "/api/sessions/files", None).await.0,
        204
    );
    let (status, _, _) = fetch(&server, "files", &img).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn what_is_refused_is_said_and_loses_nothing() {
    let server = Server::claude().start().await;
    let mut c = server.joined("bad").await;
    // Tried: an empty file, one over 10 MiB, a hostile session id.
    assert_eq!(
        upload(&server, "bad", "e.txt", "text/plain", b"").await.0,
        400
    );
    let big = vec![b'x'; 10 * 1024 * 1024 + 1];
    assert_eq!(
        upload(&server, "bad", "big.txt", "text/plain", &big)
            .await
            .0,
        413
    );
    assert_eq!(
        upload(&server, "..%2Fx", "a.txt", "text/plain", b"a")
            .await
            .0,
        400
    );
    // An id this session never got (another session's, or made up): the
    // message is refused whole, with a reason, and the next one works.
    let (_, other) = upload(&server, "someone-else", "s.png", "image/png", PNG).await;
    c.send(json!({"type":"message","content":"steal","attachments":[other["id"]]}))
        .await;
    let err = c.until_type("error").await.pop().unwrap();
    assert_eq!(err["code"], "unknown_attachment");
    // Not an array of ids, and more than 8.
    c.send(json!({"type":"message","content":"x","attachments":"nope"}))
        .await;
    assert_eq!(
        c.until_type("error").await.pop().unwrap()["code"],
        "bad_field"
    );
    c.send(json!({"type":"message","content":"x","attachments":vec!["a"; 9]}))
        .await;
    assert_eq!(
        c.until_type("error").await.pop().unwrap()["code"],
        "bad_field"
    );
    // A binary file that is no image is named, not sent; the text goes.
    let (_, bin) = upload(
        &server,
        "bad",
        "data.bin",
        "application/octet-stream",
        &[0xff, 0xfe, 0, 1],
    )
    .await;
    c.send(json!({"type":"message","content":"with a blob","attachments":[bin["id"]]}))
        .await;
    let frames = c.until_type("exec_end").await;
    assert!(frames.iter().any(|f| f["type"] == "info"
        && f["message"]
            .as_str()
            .unwrap()
            .starts_with("Not sent to the agent: data.bin")));
    assert_eq!(frames.last().unwrap()["status"], "success");
}

#[tokio::test]
async fn classic_mode_says_it_cannot_send_images() {
    let server = Server::claude()
        .args(["--claude-mode", "classic"])
        .start()
        .await;
    let mut c = server.joined("classic").await;
    let (_, img) = upload(&server, "classic", "shot.png", "image/png", PNG).await;
    c.send(json!({"type":"message","content":"see","attachments":[img["id"]]}))
        .await;
    let frames = c.until_type("exec_end").await;
    let info = frames.iter().find(|f| f["type"] == "info").expect("a note");
    assert_eq!(
        info["message"],
        "Not sent to the agent: shot.png (this agent takes no images)."
    );
    assert_eq!(frames.last().unwrap()["status"], "success");
}

/// ACP: image content goes only to an agent that advertises
/// `promptCapabilities.image`; another is told nothing of it, and the user
/// is told it was not sent.
#[tokio::test]
async fn acp_agents_get_images_only_when_they_take_them() {
    for (flags, expect_image) in [(&["--images"][..], true), (&[][..], false)] {
        let server = Server::acp(flags).start().await;
        let mut c = server.joined("acp").await;
        let (_, img) = upload(&server, "acp", "shot.png", "image/png", PNG).await;
        c.send(json!({"type":"message","content":"see","attachments":[img["id"]]}))
            .await;
        let frames = c.until_type("exec_end").await;
        let said = agent_said(&frames);
        assert_eq!(said.contains("[image image/png]"), expect_image, "{said}");
        let told = frames.iter().any(|f| {
            f["type"] == "info"
                && f["message"]
                    .as_str()
                    .unwrap()
                    .contains("shot.png (it does not take images)")
        });
        assert_eq!(told, !expect_image, "{frames:?}");
        assert_eq!(frames.last().unwrap()["status"], "success");
    }
}

/// Big files: two 9.5 MiB images reach the agent (as one 25 MB line of
/// base64) within a bounded memory; three 8 MiB files are over what one
/// message may carry (20 MiB), refused before any of them is read.
#[tokio::test]
async fn big_attachments_stay_within_bytes() {
    let server = Server::claude().start().await;
    let mut c = server.joined("big").await;
    let nine = vec![7u8; 19 << 19];
    let mut ids = Vec::new();
    for name in ["a.png", "b.png"] {
        let (status, meta) = upload(&server, "big", name, "image/png", &nine).await;
        assert_eq!(status, 201, "{meta}");
        ids.push(meta["id"].clone());
    }
    c.send(json!({"type":"message","content":"two big images","attachments":ids}))
        .await;
    let frames = c.until_type("exec_end").await;
    assert_eq!(frames.last().unwrap()["status"], "success", "{frames:?}");
    let said = assistant_text(&frames);
    assert_eq!(said.matches("[image image/png").count(), 2, "{said}");
    let (peak_kib, _) = rss_kib(server.pid());
    eprintln!(
        "peak RSS with two 9.5 MiB images sent: {} MiB",
        peak_kib >> 10
    );
    assert!(peak_kib < 400 << 10, "peak RSS {} MiB", peak_kib >> 10);

    let eight = vec![b'x'; 8 << 20];
    let mut ids = Vec::new();
    for name in ["1.txt", "2.txt", "3.txt"] {
        ids.push(upload(&server, "big", name, "text/plain", &eight).await.1["id"].clone());
    }
    c.send(json!({"type":"message","content":"too much","attachments":ids}))
        .await;
    let err = c.until_type("error").await.pop().unwrap();
    assert_eq!(err["code"], "attachments_too_large");
    assert!(err["message"].as_str().unwrap().contains("24 MiB"), "{err}");
    // The session goes on.
    let frames = c.turn("still here").await;
    assert_eq!(frames.last().unwrap()["status"], "success");
}

/// Tried: 24 uploads announce 10 MiB each, send 9 MiB and stall (a slow
/// or hostile client). Only as many as fit in 64 MiB are read at once, the
/// rest wait unread; memory grows by about that much (before: 134 MiB in
/// 5 s, growing with every stalled client), not by 216 MiB; once
/// the stalled clients go, the room comes back and an upload succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_uploads_hold_a_bounded_number_of_bytes() {
    use tokio::io::AsyncWriteExt;
    const MIB: usize = 1 << 20;
    let server = Server::claude().start().await;
    let (_, base_kib) = rss_kib(server.pid());
    let mut writers = tokio::task::JoinSet::new();
    for i in 0..24 {
        let addr = server.addr;
        writers.spawn(async move {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            let head = format!(
                "POST /api/sessions/stall/attachments?name=s{i}.bin HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
                10 * MIB
            );
            s.write_all(head.as_bytes()).await.unwrap();
            s.write_all(&vec![b'z'; 9 * MIB]).await.unwrap();
            s // held open, the last MiB never sent
        });
    }
    // Six fit in the 64 MiB; the seventh waits for room (reserving the
    // last 4 MiB, unread).
    let held = async { while server.metric("attachment_bytes_held").await < (60 * MIB) as f64 {} };
    tokio::time::timeout(WAIT, held)
        .await
        .expect("six uploads admitted");
    // A client's write completes only once the server reads it (an unread
    // socket takes a few hundred KiB): these are the admitted six.
    let mut stalled = Vec::new();
    for _ in 0..6 {
        let s = tokio::time::timeout(WAIT, writers.join_next())
            .await
            .expect("an admitted upload is read")
            .unwrap()
            .unwrap();
        stalled.push(s);
    }
    let held = server.metric("attachment_bytes_held").await;
    assert!(held <= (64 * MIB) as f64, "{held} bytes held");
    let (peak_kib, now_kib) = rss_kib(server.pid());
    eprintln!(
        "24 stalled 10 MiB uploads: RSS {} MiB → {} MiB (peak {} MiB)",
        base_kib >> 10,
        now_kib >> 10,
        peak_kib >> 10
    );
    assert!(
        peak_kib.saturating_sub(base_kib) < (100 * MIB / 1024) as u64,
        "RSS grew by {} MiB",
        peak_kib.saturating_sub(base_kib) >> 10
    );
    // The clients go: their room comes back, and a file goes through.
    writers.abort_all();
    while writers.join_next().await.is_some() {}
    drop(stalled);
    let freed = async { while server.metric("attachment_bytes_held").await > 0.0 {} };
    tokio::time::timeout(WAIT, freed)
        .await
        .expect("room given back");
    let (status, meta) = upload(
        &server,
        "stall",
        "ok.bin",
        "application/octet-stream",
        &vec![1u8; MIB],
    )
    .await;
    assert_eq!(status, 201, "{meta}");
}

/// Tried: with room for 3 MiB of files in waiting or running messages, a
/// turn that holds a 2 MiB image runs, and a second message with another
/// 2 MiB image is sent meanwhile: it is refused, saying why, and not sent.
/// Once the first turn ends its room comes back and the same message goes.
#[tokio::test]
async fn files_of_waiting_and_running_messages_are_bounded() {
    let server = Server::claude()
        .args(["--message-files-bytes", "3145728"])
        .start()
        .await;
    let mut c = server.joined("room").await;
    let two = vec![3u8; 2 << 20];
    let a = upload(&server, "room", "a.png", "image/png", &two).await.1["id"].clone();
    let b = upload(&server, "room", "b.png", "image/png", &two).await.1["id"].clone();
    c.send(json!({"type":"message","content":"hold","attachments":[a]}))
        .await;
    let run_id = c.until_type("exec_start").await.pop().unwrap()["runId"].clone();
    assert_eq!(
        server.metric("message_attachment_bytes_held").await,
        (2 << 20) as f64
    );
    c.send(json!({"type":"message","content":"another image","attachments":[b]}))
        .await;
    let frames = c.until_type("error").await;
    let err = frames.last().unwrap();
    assert_eq!(err["code"], "attachments_busy", "{err}");
    assert!(err["message"].as_str().unwrap().contains("3 MiB"), "{err}");
    assert!(
        !frames
            .iter()
            .any(|f| f["type"] == "user_message" || f["type"] == "queued"),
        "the refused message was not sent: {frames:?}"
    );
    c.send(json!({"type":"stop","runId":run_id})).await;
    c.until_type("exec_end").await;
    let freed = async { while server.metric("message_attachment_bytes_held").await > 0.0 {} };
    tokio::time::timeout(WAIT, freed)
        .await
        .expect("the turn's room came back");
    c.send(json!({"type":"message","content":"another image","attachments":[b]}))
        .await;
    let frames = c.until_type("exec_end").await;
    assert_eq!(frames.last().unwrap()["status"], "success", "{frames:?}");
    assert!(assistant_text(&frames).contains("[image image/png"));
}
