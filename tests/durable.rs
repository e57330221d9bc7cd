//! Durable sessions: the SQLite event log, replay, restart, crash safety,
//! the sessions API and bad storage.

mod support;

use serde_json::{json, Value};
use std::process::Command;
use support::*;

/// Every event of `session` from seq 1, as a new tab gets them.
async fn everything(server: &Server, session: &str) -> Vec<Value> {
    let mut c = server.client().await;
    let hello = c.hello(session, 0).await;
    let last = hello["lastSeq"].as_u64().unwrap();
    let mut out = Vec::new();
    while out.len() < last as usize {
        out.push(c.recv().await);
    }
    out
}

#[tokio::test]
async fn replay_reaches_beyond_the_memory_tail() {
    let server = Server::claude().args(["--tail-cap", "100"]).start().await;
    let mut c = server.joined("long").await;
    let live = c.turn("lines 1000").await;
    let last = live.last().unwrap()["seq"].as_u64().unwrap();
    let all = everything(&server, "long").await;
    assert_eq!(seqs(&all), (1..=last).collect::<Vec<_>>());
    assert_eq!(all, live, "the replay is the live stream, byte for byte");
    // From the middle: exactly what follows.
    let mut d = server.client().await;
    d.hello("long", 500).await;
    assert_eq!(d.recv().await["seq"], 501);
}

#[tokio::test]
async fn a_restart_keeps_events_conversation_and_permission_memory() {
    let server = Server::claude().start().await;
    let mut c = server.joined("keep").await;
    c.turn("remember the pineapple").await;
    c.message("write a.txt").await;
    let req = c.until_type("permission_request").await.pop().unwrap();
    c.send(json!({"type":"permission_response","requestId":req["requestId"],"decision":"allow_always"})).await;
    c.until_type("exec_end").await;
    let before = everything(&server, "keep").await;
    drop(c);

    let server = server.restart().await;
    let after = everything(&server, "keep").await;
    assert_eq!(before, after, "every event is back, unchanged");
    let mut c = server.joined("keep").await;
    while c
        .try_recv(std::time::Duration::from_millis(200))
        .await
        .is_ok()
    {}
    let frames = c.turn("recall").await;
    let said = assistant_text(&frames);
    assert!(
        said.contains("pineapple"),
        "the conversation resumed: {said}"
    );
    assert!(frames[0]["seq"].as_u64().unwrap() > before.last().unwrap()["seq"].as_u64().unwrap());
    let frames = c.turn("write b.txt").await;
    assert!(
        of_type(&frames, "permission_request").is_empty(),
        "allow_always survived the restart"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_stream_loses_nothing_anyone_saw() {
    let server = Server::claude().start().await;
    // A run that will outlive the killed server: it must be cleaned up.
    let mut holder = server.joined("holder").await;
    holder.message("fork").await;
    let (_, held_pgid, grandchild) = holder.until_fake_pid().await;
    let mut c = server.joined("crash").await;
    c.message("lines 10000 50 100").await;
    let mut seen = Vec::new();
    while seen.len() < 3000 {
        seen.push(c.recv().await);
    }
    let (builder, workdir, state) = server.kill().await;
    // Whatever was already on the wire before the kill.
    while let Ok(v) = c.try_recv(std::time::Duration::from_millis(300)).await {
        seen.push(v);
    }
    // The agent saw its stdin close and left; its background grandchild,
    // still in the agent's process group, did not. (pids wrap quickly here,
    // so a process is named by pid and start time.)
    let grandchild = grandchild.expect("the agent forked");
    let ticks = swe_swe::process::start_ticks(grandchild)
        .expect("the orphaned grandchild is still running");
    assert!(is_alive(grandchild));

    let server = Server::start_in(builder, workdir, state).await;
    let same_and_running =
        is_alive(grandchild) && swe_swe::process::start_ticks(grandchild) == Some(ticks);
    assert!(
        !same_and_running,
        "left-over agent group {held_pgid} was not killed at start-up: grandchild {grandchild}: {}",
        std::fs::read_to_string(format!("/proc/{grandchild}/stat")).unwrap_or_default()
    );
    // Everything stored, then the turn the kill interrupted is closed (the
    // restarted session writes that exec_end itself; it may arrive live).
    let mut c = server.client().await;
    c.hello("crash", 0).await;
    let all = c.recv_until(|v| v["type"] == "exec_end").await;
    assert_eq!(
        all[..seen.len()],
        seen[..],
        "every event a client saw is stored, in order"
    );
    let s = seqs(&all);
    assert_eq!(
        s,
        (1..=s.len() as u64).collect::<Vec<_>>(),
        "no gap, no reuse"
    );
    let end = all.last().unwrap();
    assert_eq!(end["status"], "interrupted");
    assert!(end["message"]
        .as_str()
        .unwrap()
        .contains("stopped during this turn"));
    // And the conversation goes on with new seqs.
    let mut c = server.joined("crash").await;
    while c
        .try_recv(std::time::Duration::from_millis(200))
        .await
        .is_ok()
    {}
    let frames = c.turn("recall").await;
    assert_eq!(frames.last().unwrap()["status"], "success");
    assert!(frames[0]["seq"].as_u64().unwrap() > *s.last().unwrap());
}

#[tokio::test]
async fn sessions_api_lists_renames_deletes_and_resumes_claude_sessions() {
    let server = Server::claude().start().await;
    let mut a = server.joined("alpha").await;
    a.turn("first message of alpha").await;
    let mut b = server.joined("beta").await;
    b.turn("hello beta").await;
    b.turn("more beta").await;

    let (status, list) = server.http("GET", "/api/sessions", None).await;
    assert_eq!(status, 200);
    assert_eq!(list["total"], 2);
    let rows = list["sessions"].as_array().unwrap();
    let alpha = rows.iter().find(|r| r["id"] == "alpha").unwrap();
    assert_eq!(alpha["title"], "first message of alpha");
    assert_eq!(alpha["agent"], "claude");
    assert_eq!(alpha["status"], "idle");
    assert!(alpha["eventCount"].as_i64().unwrap() > 3);
    assert!(alpha["createdMs"].as_i64().unwrap() > 0 && alpha["updatedMs"].as_i64().unwrap() > 0);
    let (_, page) = server
        .http("GET", "/api/sessions?limit=1&offset=1", None)
        .await;
    assert_eq!(page["sessions"].as_array().unwrap().len(), 1);
    // Tried: an offset past what SQL's signed 64-bit OFFSET holds (it wrapped
    // negative and returned the first page), negative and non-numeric ones.
    for q in [
        "offset=18446744073709551615",
        "offset=9223372036854775808",
        "offset=-1",
        "limit=x",
    ] {
        let (status, body) = server
            .http("GET", &format!("/api/sessions?{q}"), None)
            .await;
        assert_eq!(status, 400, "{q}: {body}");
    }
    let (_, past) = server
        .http("GET", "/api/sessions?offset=9223372036854775807", None)
        .await;
    assert_eq!(
        past["sessions"].as_array().unwrap().len(),
        0,
        "past the end: empty"
    );

    let (status, renamed) = server
        .http(
            "PATCH",
            "/api/sessions/alpha",
            Some(json!({"title":"Renamed"})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(renamed["title"], "Renamed");
    // The list's filter (issue 14, point 17): by title, case-insensitive;
    // LIKE's wildcards in it are literal.
    for (q, n) in [
        ("renam", 1),
        ("BETA", 1),
        ("e", 2),
        ("%25", 0),
        ("_", 0),
        ("zzz", 0),
    ] {
        let (status, found) = server
            .http("GET", &format!("/api/sessions?q={q}"), None)
            .await;
        assert_eq!(status, 200);
        assert_eq!(found["total"], n, "q={q}: {found}");
        assert_eq!(found["sessions"].as_array().unwrap().len(), n);
    }
    assert_eq!(server.http("GET", "/api/sessions/nope", None).await.0, 404);
    assert_eq!(
        server.http("GET", "/api/sessions/..%2Fetc", None).await.0,
        400
    );

    let (status, _) = server.http("DELETE", "/api/sessions/beta", None).await;
    assert_eq!(status, 204);
    assert_eq!(server.http("GET", "/api/sessions/beta", None).await.0, 404);
    let mut again = server.client().await;
    let hello = again.hello("beta", 0).await;
    assert_eq!(hello["lastSeq"], 0, "its events are gone");

    // Claude Code's own sessions of this workdir are listed, and resumable.
    let dir = claude_projects_dir(&server);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("1b72a79c-caa4-493d-bafc-140ddf0d34b8.jsonl"),
        "{\"type\":\"user\",\"sessionId\":\"1b72a79c-caa4-493d-bafc-140ddf0d34b8\",\"timestamp\":\"2026-11-01T10:00:00Z\",\"message\":{\"role\":\"user\",\"content\":\"fix the parser\"}}\nnot json\n",
    )
    .unwrap();
    let (_, list) = server.http("GET", "/api/sessions", None).await;
    let claude = list["claude"].as_array().unwrap();
    assert_eq!(claude[0]["id"], "1b72a79c-caa4-493d-bafc-140ddf0d34b8");
    assert_eq!(claude[0]["title"], "fix the parser");
    assert_eq!(claude[0]["malformedLines"], 1);
    let (status, created) = server
        .http(
            "POST",
            "/api/sessions",
            Some(json!({"resume":"1b72a79c-caa4-493d-bafc-140ddf0d34b8"})),
        )
        .await;
    assert_eq!(status, 201);
    let id = created["id"].as_str().unwrap().to_owned();
    let mut c = server.joined(&id).await;
    let first = c.recv().await;
    assert_eq!(first["type"], "agent_session");
    assert_eq!(
        first["agentSessionId"],
        "1b72a79c-caa4-493d-bafc-140ddf0d34b8"
    );
}

/// The folder where Claude Code keeps this server's workdir's transcripts.
fn claude_projects_dir(server: &Server) -> std::path::PathBuf {
    server.state.path().join(".claude/projects").join(
        server
            .workdir
            .path()
            .canonicalize()
            .unwrap()
            .to_string_lossy()
            .replace(|c: char| !c.is_ascii_alphanumeric(), "-"),
    )
}

/// Issue 14, points 1 and 2. Tried: resuming a real Claude Code transcript
/// (2 turns, a rejected Edit) — the session opened blank before; listing
/// history while a session owns a conversation — it was listed again.
#[tokio::test]
async fn a_resumed_conversation_opens_with_its_turns_and_owned_ones_are_not_history() {
    let server = Server::claude().start().await;
    let dir = claude_projects_dir(&server);
    std::fs::create_dir_all(&dir).unwrap();
    let id = "c2fc3a3f-66d5-4c87-9f78-1a31dd719471";
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/other-versions/claude-transcript-ondisk-real.jsonl"
        ),
        dir.join(format!("{id}.jsonl")),
    )
    .unwrap();
    let (_, list) = server.http("GET", "/api/sessions", None).await;
    assert_eq!(list["claude"][0]["id"], id);

    let (status, created) = server
        .http("POST", "/api/sessions", Some(json!({ "resume": id })))
        .await;
    assert_eq!(status, 201);
    let session = created["id"].as_str().unwrap().to_owned();
    let mut c = server.client().await;
    c.hello(&session, 0).await;
    let frames = c.until_imported().await;
    let users = user_messages(&frames);
    assert_eq!(users.len(), 2, "{frames:#?}");
    assert!(users[0].starts_with("Create a file called test.txt"));
    assert!(users[1].starts_with("Edit test.txt"));
    let tool_uses = frames
        .iter()
        .filter(|f| f["type"] == "claudejson")
        .filter(|f| f["content"].as_str().unwrap().contains("\"tool_use\""))
        .count();
    assert_eq!(tool_uses, 3, "Write, Read, Edit");
    let ends: Vec<&str> = frames
        .iter()
        .filter(|f| f["type"] == "exec_end")
        .map(|f| f["status"].as_str().unwrap())
        .collect();
    assert_eq!(ends, ["success", "stopped"]);
    assert!(frames.last().unwrap()["message"]
        .as_str()
        .unwrap()
        .contains("2 earlier turns"));
    let (_, row) = server
        .http("GET", &format!("/api/sessions/{session}"), None)
        .await;
    assert_eq!(
        row["title"],
        "Create a file called test.txt with the content: Hello World"
    );

    // Ours now: not history any more. A session of our own (its agent
    // conversation has a transcript too) is not listed either.
    let mut own = server.joined("own").await;
    let turn = own.turn("hello").await;
    let own_id = agent_session_of(&turn);
    std::fs::write(
        dir.join(format!("{own_id}.jsonl")),
        format!("{{\"type\":\"user\",\"sessionId\":\"{own_id}\",\"message\":{{\"role\":\"user\",\"content\":\"hello\"}}}}\n"),
    )
    .unwrap();
    let listed = |list: &Value| -> Vec<String> {
        list["claude"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, list) = server.http("GET", "/api/sessions", None).await;
    assert!(listed(&list).is_empty(), "{list}");
    // Deleted: the conversation is Claude Code's own again, resumable.
    assert_eq!(
        server
            .http("DELETE", &format!("/api/sessions/{session}"), None)
            .await
            .0,
        204
    );
    let (_, list) = server.http("GET", "/api/sessions", None).await;
    assert_eq!(listed(&list), [id]);
}

/// Runs the server binary expecting it to refuse to start.
fn refused(data_dir: &std::path::Path) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_swe-swe"))
        .args(["--port", "0", "--data-dir"])
        .arg(data_dir)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn unusable_storage_is_refused_at_start_with_a_clear_message() {
    // Tried: a data dir that cannot be created (its parent is a file).
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let (code, err) = refused(&file.join("data"));
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("cannot be used"), "{err}");

    // Tried: a data dir on a read-only file system (even root cannot write).
    let ro = tmp.path().join("read-only");
    std::fs::create_dir_all(&ro).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "ro,size=1m", "tmpfs"])
        .arg(&ro)
        .status()
        .unwrap();
    assert!(mounted.success(), "mounting a read-only tmpfs failed");
    let _ro = Mount(ro.clone());
    let (code, err) = refused(&ro);
    assert_eq!(code, Some(3), "{err}");
    assert!(
        err.contains("cannot be used") && err.contains("Read-only"),
        "{err}"
    );

    // Tried: a corrupt database file.
    let corrupt = tmp.path().join("corrupt");
    std::fs::create_dir_all(&corrupt).unwrap();
    std::fs::write(corrupt.join("swe-swe.db"), vec![0x42u8; 64 * 1024]).unwrap();
    let (code, err) = refused(&corrupt);
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("corrupt"), "{err}");

    // Tried: a data dir in use by another swe-swe.
    let server = Server::claude().start().await;
    let (code, err) = refused(&server.state.path().join("data"));
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("another swe-swe"), "{err}");
    // The running one is unaffected.
    let mut c = server.joined("fine").await;
    assert_eq!(c.turn("hi").await.last().unwrap()["status"], "success");
}

/// Unmounts the tmpfs even when the test fails.
struct Mount(std::path::PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Tried: the disk fills up while an agent streams (a 2 MiB tmpfs as the
/// data dir). The tab gets a clear `storage_failed` error, never an event
/// that was not stored, and every event it did get is in the database.
#[tokio::test]
async fn a_full_disk_holds_events_back_and_loses_none_that_were_sent() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=2m", "tmpfs"])
        .arg(&data)
        .status()
        .expect("mount (root is needed for this test)");
    assert!(ok.success(), "mounting a tmpfs failed");
    let _mount = Mount(data.clone());

    // A queue for every event the 2 MiB can hold: this test is about the
    // disk, and a test client that falls 1,024 frames behind the agent
    // (under a loaded CI) is rightly dropped as too slow (failed once so).
    let server = Server::claude()
        .args(["--data-dir", data.to_str().unwrap()])
        .args(["--subscriber-queue", "20000"])
        .start()
        .await;
    let mut c = server.joined("full").await;
    c.message("lines 20000 300").await;
    let mut seen = Vec::new();
    let error = loop {
        let v = c.recv().await;
        if v["type"] == "error" && v.get("seq").is_none() {
            break v;
        }
        assert_ne!(v["type"], "exec_end", "the disk never filled up");
        seen.push(v);
    };
    assert_eq!(error["code"], "storage_failed");
    assert!(
        error["message"].as_str().unwrap().contains("full"),
        "{error}"
    );
    // Events stored before the failure may still be on their way (the
    // error travels in the faster lane of replies); nothing else comes.
    while let Ok(v) = c.try_recv(std::time::Duration::from_millis(500)).await {
        seen.push(v);
    }
    assert!(
        seen.iter().all(|v| v["type"] != "exec_end"),
        "the turn cannot end unstored"
    );

    let db = rusqlite::Connection::open_with_flags(
        data.join("swe-swe.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let mut stmt = db
        .prepare(
            "SELECT frames FROM log WHERE session = (SELECT key FROM sessions WHERE id = 'full') ORDER BY seq",
        )
        .unwrap();
    // A row holds consecutive events, one frame per line.
    let stored: Vec<Value> = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .flat_map(|rows| {
            let rows = rows.unwrap();
            rows.lines()
                .map(|f| serde_json::from_str(f).unwrap())
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        stored.len() >= seen.len(),
        "stored {} seen {}",
        stored.len(),
        seen.len()
    );
    assert_eq!(stored[..seen.len()], seen[..], "every event sent is stored");
    drop(stmt);
    drop(db);

    // Space comes back: the held events are stored and delivered, in order,
    // and the turn ends.
    let ok = Command::new("mount")
        .args(["-o", "remount,size=256m"])
        .arg(&data)
        .status()
        .unwrap();
    assert!(ok.success());
    // The held events arrive as one burst, which may overflow this tab's
    // queue: like any client, it then reconnects and replays from its seq.
    loop {
        match c.try_recv(WAIT).await {
            Ok(v) => {
                let end = v["type"] == "exec_end";
                if v.get("seq").is_some() {
                    seen.push(v);
                }
                if end {
                    break;
                }
            }
            Err(why) => {
                // Dropped for lagging: a close 4001 — or, if the network had
                // its say, a reset. Either way: reconnect from the last seq.
                assert!(why == "close 4001" || why.contains("reset"), "{why}");
                let last = seen.last().unwrap()["seq"].as_u64().unwrap();
                c = server.client().await;
                c.hello("full", last).await;
            }
        }
    }
    let s = seqs(&seen);
    assert_eq!(
        s,
        (1..=s.len() as u64).collect::<Vec<_>>(),
        "no gap, no duplicate"
    );
    assert_eq!(seen.last().unwrap()["status"], "success");
}

#[tokio::test]
async fn messages_queued_when_the_server_died_are_cancelled_visibly_not_lost_or_sent() {
    let server = Server::claude().start().await;
    let mut c = server.joined("q").await;
    c.message("hold").await;
    c.until_fake_pid().await;
    c.message("first waiting").await;
    c.message("second waiting").await;
    let queued = c
        .recv_until(|f| f["type"] == "queued" && f["queueId"] == 2)
        .await;
    assert_eq!(of_type(&queued, "queued").len(), 2, "{queued:?}");
    // Tried: SIGKILL while a turn runs and two messages wait behind it.
    let (builder, workdir, state) = server.kill().await;
    let server = Server::start_in(builder, workdir, state).await;
    // What the restart adds (exec_end, the cancellations, the note) is
    // stored, then sent live after the replay.
    let mut c = server.client().await;
    c.hello("q", 0).await;
    let log = c
        .recv_until(|f| {
            f["type"] == "info" && f["message"].as_str().unwrap_or("").contains("queued")
        })
        .await;
    let cancelled: Vec<u64> = of_type(&log, "queue_cancelled")
        .iter()
        .map(|f| f["queueId"].as_u64().unwrap())
        .collect();
    assert_eq!(cancelled, [1, 2], "each waiting message is cancelled once");
    let info = of_type(&log, "info");
    assert!(
        info.iter().any(|f| f["message"]
            .as_str()
            .unwrap()
            .contains("2 queued messages were not sent")),
        "{info:?}"
    );
    assert!(
        !log.iter()
            .any(|f| f["type"] == "user_message" && f["content"] == "first waiting"),
        "never sent behind the user's back"
    );
    // Queue ids go on where they stopped.
    let mut c = server.joined("q").await;
    c.message("hold").await;
    c.until_fake_pid().await;
    c.message("third").await;
    let q = c
        .recv_until(|f| f["type"] == "queued" && f["content"] == "third")
        .await
        .pop()
        .unwrap();
    assert_eq!(q["queueId"], 3);
    assert!(server.terminate().await.success());
}
