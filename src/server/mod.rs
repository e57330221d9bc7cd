//! The HTTP edge: the page, `/ws`, and graceful shutdown.

mod api;
mod attachments;
pub mod auth;
mod conn;
mod export;
mod origin;
mod page;
mod ws;

use crate::config::Config;
use crate::process::ProcLimits;
use crate::session::actor::{SessionRuntime, Stats};
use crate::session::{Registry, SessionConfig};
use crate::store::Store;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Reserved per connection up front (and zero-filled before each read), so
/// kept small: most of what a tab sends fits, longer messages take more reads.
const READ_BUFFER: usize = 1024;
const WRITE_BUFFER: usize = 16 * 1024;
/// A session with no events and no tab leaves memory (and its place under
/// `--max-sessions`) after this long.
const EMPTY_SESSION_RETIRE: Duration = Duration::from_secs(5);
/// Extra time, beyond the stop grace, that shutdown waits for sessions,
/// processes and sockets to finish.
const SHUTDOWN_SLACK: Duration = Duration::from_secs(3);

pub(crate) struct AppState {
    registry: Registry,
    store: Store,
    workdir: std::path::PathBuf,
    /// Where Claude Code keeps its own sessions (`$HOME/.claude`).
    home: std::path::PathBuf,
    stop_grace: Duration,
    files: crate::files::FileIndex,
    origins: Arc<origin::OriginPolicy>,
    limits: ws::Limits,
    /// WebSockets per client behind a trusted proxy. Invariant: the lock
    /// is taken only to count up or down, never across an `.await`.
    per_ip: std::sync::Mutex<conn::PerAddress>,
    /// `--trust-proxy` addresses.
    trusted: Arc<[std::net::IpAddr]>,
    /// Open TCP connections (for /metrics).
    open: Arc<conn::Open>,
    max_frame_bytes: usize,
    /// Attached files' bytes in memory (uploads, downloads).
    attachment_bytes: attachments::InFlight,
    /// Attached files held by messages waiting or running (`--message-files-bytes`).
    message_files: attachments::InFlight,
    next_conn: AtomicU64,
    shutdown: CancellationToken,
    tracker: TaskTracker,
}

/// Kills agent process groups that a previous server, killed before it could
/// stop them, left running (their pgids are in the store). Call before
/// serving.
pub async fn clean_up_after_previous_server(store: &Store) {
    match store.leftover_procs().await {
        Ok(left) if !left.is_empty() => {
            let procs = left.clone();
            let killed =
                tokio::task::spawn_blocking(move || crate::process::kill_leftovers(&procs))
                    .await
                    .unwrap_or(0);
            tracing::info!(
                recorded = left.len(),
                killed,
                "cleaned up after the previous server"
            );
            for (pgid, _) in left {
                store.try_send(crate::store::Cmd::ProcEnded { pgid });
            }
        }
        Ok(_) => {}
        Err(e) => tracing::error!("cannot read leftover agent processes: {e}"),
    }
}

/// Serves until `shutdown` is cancelled, then stops every run (each turn gets
/// its `exec_end`), waits for every agent process group to die and for the
/// sockets to flush, and returns.
pub async fn serve(
    listener: TcpListener,
    cfg: Config,
    store: Store,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let open = Arc::new(conn::Open::default());
    let trusted: Arc<[std::net::IpAddr]> = cfg.trust_proxy.clone().into();
    let tracker = TaskTracker::new();
    let runtime = SessionRuntime {
        spawner: crate::process::Spawner::start(cfg.workdir.clone())?,
        limits: ProcLimits {
            max_line_bytes: cfg.max_line_bytes,
            default_grace: cfg.stop_grace,
            output_drain: crate::process::OUTPUT_DRAIN,
        },
        subscriber_queue: cfg.subscriber_queue,
        tracker: tracker.clone(),
        shutdown: shutdown.clone(),
        stats: Arc::new(Stats::default()),
        store: store.clone(),
        tail_cap: cfg.tail_cap,
        bytes: cfg.bytes,
        coalesce: cfg.coalesce,
        slots: crate::session::agent_slots::AgentSlots::new(cfg.max_agents),
        notices: Default::default(),
        agents: std::sync::Arc::new(crate::agent::catalog::AgentCatalog::discover(
            cfg.agent.clone(),
            &cfg.workdir,
            std::env::var_os("PATH").as_deref(),
        )),
    };
    let session_cfg = SessionConfig {
        agent: cfg.agent.clone(),
        history_cap: cfg.history_cap,
        tool_cache_cap: cfg.tool_cache_cap,
        queue_cap: cfg.queue_cap,
        stop_grace: cfg.stop_grace,
        agent_start_timeout: cfg.agent_start_timeout,
    };
    let registry = Registry::new(session_cfg, runtime, cfg.max_sessions);
    tracker.spawn(retire_idle_sessions(
        registry.clone(),
        cfg.session_idle_retire,
        shutdown.clone(),
    ));
    let origins = Arc::new(origin::OriginPolicy::new(
        &cfg.host,
        &cfg.allow_origins,
        &cfg.allow_hosts,
    ));
    let state = Arc::new(AppState {
        registry: registry.clone(),
        store: store.clone(),
        workdir: cfg.workdir.clone(),
        home: std::env::var_os("HOME").map_or_else(|| ".".into(), Into::into),
        stop_grace: cfg.stop_grace,
        max_frame_bytes: cfg.max_frame_bytes,
        attachment_bytes: attachments::InFlight::new(attachments::IN_FLIGHT_BYTES),
        message_files: attachments::InFlight::new(cfg.message_files_bytes),
        next_conn: AtomicU64::new(1),
        shutdown: shutdown.clone(),
        tracker: tracker.clone(),
        origins: origins.clone(),
        limits: ws::Limits {
            messages_per_sec: cfg.max_messages_per_sec,
            connections_per_ip: cfg.max_connections_per_ip,
            idle_timeout: cfg.idle_timeout,
        },
        per_ip: Default::default(),
        trusted: trusted.clone(),
        open: open.clone(),
        files: crate::files::FileIndex::start(
            &cfg.workdir,
            cfg.max_files,
            &tracker,
            shutdown.clone(),
        ),
    });
    let mut app = router(&cfg.prefix, state);
    if let Some(token) = &cfg.token {
        let auth = auth::Auth::new(token, &cfg.prefix);
        app = app.layer(axum::middleware::from_fn_with_state(auth, auth::require));
    }
    // Outermost: a request for another host is refused before anything
    // else (the token check included) sees it.
    app = app.layer(axum::middleware::from_fn_with_state(origins, origin::guard));
    let limits = conn::ConnLimits {
        total: match cfg.max_http_connections {
            0 => open_file_limit()
                .saturating_sub(conn::descriptor_reserve(cfg.max_agents))
                .max(16),
            n => n,
        },
        per_address: cfg.max_connections_per_ip,
        header_timeout: cfg.header_timeout,
    };
    tracing::debug!(?limits, "connection limits");
    // HTTP connection tasks on a tracker of their own: `tasks_alive` counts
    // sessions, runs and WebSockets, not the request reading it.
    let http_tasks = TaskTracker::new();
    conn::serve(
        listener,
        app,
        limits,
        trusted,
        open,
        http_tasks.clone(),
        shutdown.clone(),
    )
    .await;
    tracing::info!("shutting down: stopping runs");
    // Sessions have seen the token; drop our handles so each actor can end
    // once its processes are gone.
    registry.clear();
    tracker.close();
    http_tasks.close();
    let all_done = async {
        tracker.wait().await;
        http_tasks.wait().await;
    };
    if tokio::time::timeout(cfg.stop_grace + SHUTDOWN_SLACK, all_done)
        .await
        .is_err()
    {
        tracing::error!(
            remaining = tracker.len() + http_tasks.len(),
            "shutdown did not finish in time"
        );
    }
    if let Err(e) = store.flush().await {
        tracing::error!("final store flush failed: {e}");
    } else if let Err(e) = store.checkpoint().await {
        tracing::warn!("final checkpoint failed (the next start replays the WAL): {e}");
    }
    Ok(())
}

fn router(prefix: &str, state: Arc<AppState>) -> Router {
    let mut r = Router::new()
        .route(&format!("{prefix}/"), get(page::index))
        .route(&format!("{prefix}/assets/{{name}}"), get(page::asset))
        .route(&format!("{prefix}/ws"), get(ws_upgrade))
        .route(&format!("{prefix}/healthz"), get(|| async { "ok" }))
        .route(&format!("{prefix}/metrics"), get(metrics))
        .merge(api::routes(prefix))
        .merge(attachments::routes(prefix));
    if !prefix.is_empty() {
        let to = format!("{prefix}/");
        r = r.route(prefix, get(move || async move { Redirect::permanent(&to) }));
    }
    r.with_state(state)
}

/// The soft open-file limit (raised to the hard one at start).
fn open_file_limit() -> usize {
    nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .map_or(1024, |(soft, _)| soft.min(usize::MAX as u64) as usize)
}

/// Sweeps quiet sessions out of memory (see `Registry::retire_idle`) when
/// the first of them comes due, until shutdown. It sleeps while no session
/// is quiet: a session turning quiet rings it.
async fn retire_idle_sessions(registry: Registry, after: Duration, shutdown: CancellationToken) {
    let empty_after = after.min(EMPTY_SESSION_RETIRE);
    // How soon to look again at a session that is due but must wait.
    let retry = (empty_after / 4).clamp(Duration::from_millis(25), Duration::from_secs(30));
    loop {
        // Nothing in memory: nothing to wait for until a session enters it.
        if registry.is_empty() {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = registry.session_added() => {}
            }
        }
        let sweep = registry.retire_idle(after, empty_after, retry);
        if sweep.retired > 0 {
            registry
                .runtime()
                .stats
                .sessions_retired
                .fetch_add(sweep.retired as u64, std::sync::atomic::Ordering::Relaxed);
            tracing::debug!(retired = sweep.retired, "quiet sessions left memory");
        }
        // Invariant: a session turning quiet after the pass above rings
        // `session_quiet`, whose permit waits for the select below; so no
        // quiet spell goes unseen while the sweep sleeps without a timer.
        let due = sweep.next;
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = registry.session_quiet() => {}
            // The first quiet session's due time: a deadline, not a wait
            // for an event (none marks it).
            _ = tokio::time::sleep(due.unwrap_or_default()), if due.is_some() => {}
        }
    }
}

/// Prometheus text format.
async fn metrics(State(app): State<Arc<AppState>>) -> Response {
    use std::fmt::Write;
    use std::sync::atomic::Ordering::Relaxed;
    let s = &app.registry.runtime().stats;
    let st = &app.store.stats;
    let files = app.files.snapshot();
    let mut out = String::new();
    let mut m = |name: &str, kind: &str, help: &str, value: String| {
        let _ = write!(
            out,
            "# HELP swe_swe_{name} {help}\n# TYPE swe_swe_{name} {kind}\nswe_swe_{name} {value}\n"
        );
    };
    m(
        "connections",
        "gauge",
        "Open WebSocket connections.",
        s.connections.load(Relaxed).to_string(),
    );
    m(
        "http_connections",
        "gauge",
        "Open TCP connections (HTTP and WebSocket).",
        app.open.total().to_string(),
    );
    m(
        "refused_connections_total",
        "counter",
        "Connections closed at once for being over --max-http-connections or --max-connections-per-ip.",
        app.open.refused.load(Relaxed).to_string(),
    );
    m(
        "sessions",
        "gauge",
        "Chat sessions held in memory.",
        app.registry.len().to_string(),
    );
    m(
        "runs_active",
        "gauge",
        "Turns running now.",
        s.runs_active.load(Relaxed).to_string(),
    );
    m(
        "agent_processes",
        "gauge",
        "Live agent processes.",
        s.live_processes.load(Relaxed).to_string(),
    );
    m(
        "tasks_alive",
        "gauge",
        "Tracked runtime tasks (sessions, runs, connections).",
        app.tracker.len().to_string(),
    );
    m(
        "events_total",
        "counter",
        "Session events delivered to tabs (rate() gives events/s).",
        s.events.load(Relaxed).to_string(),
    );
    m(
        "sessions_retired_total",
        "counter",
        "Quiet sessions that left memory (they reload from the store when used).",
        s.sessions_retired.load(Relaxed).to_string(),
    );
    m(
        "dropped_subscribers_total",
        "counter",
        "Tabs dropped for not keeping up.",
        s.dropped_subscribers.load(Relaxed).to_string(),
    );
    m(
        "agent_slots_held",
        "gauge",
        "Agent slots (--max-agents) held by live agent processes.",
        app.registry.runtime().slots.held().to_string(),
    );
    m(
        "agent_slots_waiting",
        "gauge",
        "Turns waiting for an agent slot.",
        app.registry.runtime().slots.waiting().to_string(),
    );
    m(
        "permission_requests_waiting",
        "gauge",
        "Permission prompts waiting for an answer.",
        s.prompts_waiting.load(Relaxed).to_string(),
    );
    m(
        "attachment_bytes_held",
        "gauge",
        "Bytes of attached files in memory (being uploaded, stored, read or sent).",
        app.attachment_bytes.held().to_string(),
    );
    m(
        "message_attachment_bytes_held",
        "gauge",
        "Bytes of attached files held by messages waiting or running.",
        app.message_files.held().to_string(),
    );
    m(
        "replay_bytes_held",
        "gauge",
        "Bytes of stored events read for tabs' replays and not yet written to their sockets.",
        s.replay_bytes.load(Relaxed).to_string(),
    );
    m(
        "replay_pages_held",
        "gauge",
        "Pages of stored events read for tabs' replays and not yet written (one per replaying tab at most).",
        s.replay_pages.load(Relaxed).to_string(),
    );
    m(
        "store_batches_total",
        "counter",
        "Store transactions.",
        st.batches.load(Relaxed).to_string(),
    );
    m(
        "store_batch_seconds_total",
        "counter",
        "Time spent committing store transactions.",
        format!("{:.6}", st.batch_micros.load(Relaxed) as f64 / 1e6),
    );
    m(
        "store_failures_total",
        "counter",
        "Store transactions that failed.",
        st.failures.load(Relaxed).to_string(),
    );
    m(
        "store_wal_restarts_total",
        "counter",
        "Checkpoints that made the store's write-ahead log start over under constant writing.",
        st.wal_restarts.load(Relaxed).to_string(),
    );
    m(
        "indexed_files",
        "gauge",
        "Paths in the @ file index.",
        files.entries.len().to_string(),
    );
    s.event_delay.render(
        "swe_swe_event_delay_seconds",
        "From an agent line reaching its session to its event queued for every tab (parse, store commit, fan-out).",
        &mut out,
    );
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        out,
    )
        .into_response()
}

/// The client's address: the peer's, or behind a `--trust-proxy` peer the
/// last X-Forwarded-For entry that is not itself a trusted proxy (earlier
/// entries are whatever the client chose to send).
fn client_address(
    peer: std::net::IpAddr,
    headers: &axum::http::HeaderMap,
    trusted: &[std::net::IpAddr],
) -> std::net::IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse::<std::net::IpAddr>().ok())
        .rev()
        .find(|a| !trusted.contains(a))
        .unwrap_or(peer)
}

async fn ws_upgrade(
    State(app): State<Arc<AppState>>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    headers: axum::http::HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    if let Err(why) = app.origins.check(&headers) {
        tracing::warn!(reason = %crate::log_safe::log_safe(&why), "refused a WebSocket handshake");
        return (axum::http::StatusCode::FORBIDDEN, why).into_response();
    }
    let client = client_address(peer.ip(), &headers, &app.trusted);
    let Some(slot) = ws::PeerSlot::take(&app, peer.ip(), client) else {
        let msg = format!(
            "too many connections from {client} (--max-connections-per-ip {})",
            app.limits.connections_per_ip
        );
        return (axum::http::StatusCode::TOO_MANY_REQUESTS, msg).into_response();
    };
    let tracker = app.tracker.clone();
    upgrade
        // tungstenite reserves 128 KiB per direction by default; most tabs
        // are idle, so start small (buffers grow for large messages).
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        // A frame whose header announces more than the limit is refused
        // before its payload is buffered (192 stalled 16 MiB frames took
        // 3 GB when the payload was read first); the connection closes
        // with 1009.
        .max_message_size(app.max_frame_bytes)
        .max_frame_size(app.max_frame_bytes)
        .on_upgrade(move |socket| tracker.track_future(ws::connection(socket, app, slot)))
        .into_response()
}
