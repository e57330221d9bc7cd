//! Chaos, bounded: 100 clients over 20 sessions doing random things at once
//! — messages, stop storms, disconnects and reconnects with `lastSeq`,
//! duplicate tabs, permission answers racing stops, agents killed with
//! SIGKILL mid-turn. Afterwards every client's transcript must equal the
//! server's log for its session, and tasks and descriptors must be back to
//! where they were once the sessions are idle.

mod support;

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;
use support::*;

const SESSIONS: usize = 20;
const CLIENTS: usize = 100;
const ACTIONS: usize = 25;

/// A small deterministic generator: runs are repeatable per client index.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Every session event a client saw, by seq; panics on a seq seen twice with
/// different content.
type Transcript = BTreeMap<u64, Value>;

struct Tab {
    server_url: String,
    session: String,
    client: Client,
    seen: Transcript,
    last_seq: u64,
}

impl Tab {
    async fn open(server: &Server, session: &str) -> Tab {
        let mut client = Client::connect(&server.ws_url()).await;
        client.hello(session, 0).await;
        Tab {
            server_url: server.ws_url(),
            session: session.into(),
            client,
            seen: Transcript::new(),
            last_seq: 0,
        }
    }

    fn record(&mut self, v: Value) -> Value {
        if let Some(seq) = v["seq"].as_u64() {
            assert_eq!(
                seq,
                self.last_seq + 1,
                "{}: gap or duplicate at {seq}",
                self.session
            );
            self.last_seq = seq;
            self.seen.insert(seq, v.clone());
        }
        v
    }

    /// Reads whatever arrives within `wait`.
    async fn drain(&mut self, wait: Duration) -> Vec<Value> {
        let mut out = Vec::new();
        loop {
            match self.client.try_recv(wait).await {
                Ok(v) => out.push(self.record(v)),
                Err(why) if why == "timeout" => return out,
                // Dropped for lagging (or gone): come back and catch up.
                Err(_) => self.reconnect().await,
            }
        }
    }

    /// Sends, coming back first if this tab was dropped (e.g. 4001 for not
    /// reading fast enough — these tabs read only now and then).
    async fn send(&mut self, v: Value) {
        if !self.client.try_send(&v).await {
            self.reconnect().await;
            assert!(self.client.try_send(&v).await, "send after reconnect");
        }
    }

    /// Drops the connection and comes back where it left off.
    async fn reconnect(&mut self) {
        let mut client = Client::connect(&self.server_url).await;
        client.hello(&self.session, self.last_seq).await;
        let old = std::mem::replace(&mut self.client, client);
        old.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_clients_misbehaving_leave_consistent_logs_and_no_leaks() {
    let server = Server::claude()
        .args(["--claude-mode", "classic", "--stop-grace", "600ms"])
        .args([
            "--max-messages-per-sec",
            "1000000",
            "--max-connections-per-ip",
            "1000",
        ])
        .start()
        .await;
    // Baseline: every session exists and has run one turn.
    for s in 0..SESSIONS {
        let mut t = Tab::open(&server, &format!("chaos-{s}")).await;
        t.client.turn("quick").await;
    }
    let fds = || {
        std::fs::read_dir(format!("/proc/{}/fd", server.pid()))
            .unwrap()
            .count()
    };
    let (base_fds, base_tasks) = (fds(), server.metric("tasks_alive").await);

    let mut workers = tokio::task::JoinSet::new();
    for c in 0..CLIENTS {
        let session = format!("chaos-{}", c % SESSIONS);
        let mut tab = Tab::open(&server, &session).await;
        let url = server.ws_url();
        workers.spawn(async move {
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ ((c as u64 + 1) * 0x1000_0001));
            for _ in 0..ACTIONS {
                match rng.below(10) {
                    0 | 1 => {
                        let script = ["lines 30", "slow 5 20", "quick", "write f.txt"][rng.below(4) as usize];
                        tab.send(json!({"type":"message","content":script})).await;
                    }
                    2 => tab.send(json!({"type":"stop"})).await,
                    3 => tab.reconnect().await,
                    4 => {
                        // A duplicate tab that comes and goes.
                        let mut dup = Client::connect(&url).await;
                        dup.hello(&tab.session, tab.last_seq).await;
                        dup.close().await;
                    }
                    5 => {
                        // The agent dies mid-turn.
                        tab.send(json!({"type":"message","content":"hold"})).await;
                        for v in tab.drain(Duration::from_millis(100)).await {
                            if let Some(line) = v["content"].as_str().filter(|_| v["type"] == "claudejson") {
                                if let Ok(l) = serde_json::from_str::<Value>(line) {
                                    if l["type"] == "fake_pid" {
                                        let pid = nix::unistd::Pid::from_raw(l["pid"].as_i64().unwrap() as i32);
                                        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
                                    }
                                }
                            }
                        }
                    }
                    _ => {
                        // Answer any open prompt, racing whatever else happens.
                        let seen: Vec<Value> = tab.drain(Duration::from_millis(20)).await;
                        for v in seen.into_iter().filter(|v| v["type"] == "permission_request") {
                            let decision = ["allow", "deny", "allow_always"][rng.below(3) as usize];
                            tab.send(json!({"type":"permission_response","requestId":v["requestId"],"decision":decision}))
                                .await;
                            tab.send(json!({"type":"stop"})).await;
                        }
                    }
                }
            }
            tab
        });
    }
    let mut tabs = Vec::new();
    while let Some(t) = workers.join_next().await {
        tabs.push(t.unwrap());
    }

    // Quiet down: stop every session's runs, queued ones included, until
    // nothing runs (each stop is answered, so nothing waits in vain).
    for s in 0..SESSIONS {
        let mut c = server.client().await;
        c.hello(&format!("chaos-{s}"), u64::MAX).await;
        loop {
            c.send(json!({"type":"stop"})).await;
            let mut seen = c.recv_until(|v| v["type"] == "stop_ack").await;
            let ack = seen.pop().unwrap();
            if ack["running"] == false {
                break;
            }
            // Replies travel in a faster lane than events: the run's
            // exec_end may already have come before the ack.
            let ended = |v: &Value| v["type"] == "exec_end" && v["runId"] == ack["runId"];
            if !seen.iter().any(ended) {
                c.recv_until(ended).await;
            }
        }
    }

    // Every client's transcript equals the server's log for its session.
    let mut logs: BTreeMap<String, Transcript> = BTreeMap::new();
    for s in 0..SESSIONS {
        let id = format!("chaos-{s}");
        let mut c = server.client().await;
        let hello = c.hello(&id, 0).await;
        let last = hello["lastSeq"].as_u64().unwrap();
        let mut log = Transcript::new();
        while (log.len() as u64) < last {
            let v = c.recv().await;
            if let Some(seq) = v["seq"].as_u64() {
                log.insert(seq, v);
            }
        }
        logs.insert(id, log);
    }
    for mut tab in tabs {
        tab.drain(Duration::from_millis(50)).await;
        let log = &logs[&tab.session];
        for (seq, v) in &tab.seen {
            assert_eq!(
                log.get(seq),
                Some(v),
                "{} seq {seq}: the client saw something else",
                tab.session
            );
        }
        tab.client.close().await;
    }

    // Every session's agent-session history (as stored) is bounded and
    // duplicate-free.
    let db = rusqlite::Connection::open_with_flags(
        server.state.path().join("data/swe-swe.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let mut stmt = db.prepare("SELECT id, meta FROM sessions").unwrap();
    let metas: Vec<(String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(metas.len(), SESSIONS);
    for (id, meta) in metas {
        let meta: Value = serde_json::from_str(&meta).unwrap();
        let history: Vec<&str> = meta["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h.as_str().unwrap())
            .collect();
        assert!(
            !history.is_empty() && history.len() <= 10,
            "{id}: {history:?}"
        );
        let mut unique = history.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(
            unique.len(),
            history.len(),
            "{id}: duplicates in {history:?}"
        );
    }
    drop(stmt);
    drop(db);

    // Idle again: no agent process, no zombie, tasks and fds at baseline.
    let pid = server.pid();
    assert!(zombies_of(pid).is_empty(), "zombies: {:?}", zombies_of(pid));
    let kids = children_of(pid);
    assert!(kids.is_empty(), "agents left: {kids:?}");
    assert_eq!(server.metric("runs_active").await, 0.0);
    assert_eq!(server.metric("agent_processes").await, 0.0);
    // Connections close asynchronously after the client's close frame.
    let deadline = std::time::Instant::now() + WAIT;
    while (server.metric("connections").await as usize) > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "connections never closed"
        );
        tokio::task::yield_now().await;
    }
    assert_eq!(
        server.metric("tasks_alive").await,
        base_tasks,
        "tasks back to baseline"
    );
    assert!(
        fds() <= base_fds + 2,
        "descriptors: {} now, {base_fds} before",
        fds()
    );
    assert!(server.terminate().await.success());
}
