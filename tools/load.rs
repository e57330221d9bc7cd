//! swe-swe-load: start a swe-swe server (release build next to this binary)
//! with the fake agent, open many WebSocket connections, run one agent turn
//! per session, and print what it measured:
//!
//!   connections, events delivered, events/s, latency from the agent writing
//!   a line to a client reading it (p50/p99/max), server RSS.
//!
//! Rerun: `cargo build --release && target/release/swe-swe-load --sessions 100 --tabs 1 --lines 200`
#![forbid(unsafe_code)]

#[path = "common.rs"]
mod common;
#[path = "floor.rs"]
mod floor;
#[path = "load_report.rs"]
mod report;
#[path = "server_metrics.rs"]
mod server_metrics;
#[path = "load_tabs.rs"]
mod tabs;
#[path = "thread_cpu.rs"]
mod thread_cpu;
use common::cpu_us;
use report::{print_timeline, rss_kib, steady_state};
use server_metrics::{delay_buckets, delay_quantiles, metric};
use tabs::{connect, round, spawn_tabs};
use thread_cpu::{minor_faults, thread_cpu_between, thread_cpu_ns};

use anyhow::{bail, Context};
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

#[derive(Parser, Debug)]
#[command(about = "Drive a swe-swe server with many connections and print throughput and latency")]
struct Args {
    /// Chat sessions, each running one turn.
    #[arg(long, default_value_t = 100)]
    sessions: usize,
    /// Connections (tabs) per session; all receive every event.
    #[arg(long, default_value_t = 1)]
    tabs: usize,
    /// Extra connections that join a session and stay idle.
    #[arg(long, default_value_t = 0)]
    idle: usize,
    /// Sessions the idle connections spread over (default: one each).
    #[arg(long)]
    idle_sessions: Option<usize>,
    /// Agent output lines per turn.
    #[arg(long, default_value_t = 200)]
    lines: usize,
    /// Padding bytes per agent line.
    #[arg(long, default_value_t = 100)]
    pad: usize,
    /// Microseconds between agent lines (0: as fast as the agent can write).
    #[arg(long, default_value_t = 0)]
    pace_us: u64,
    /// The agent's mode: Claude's `classic` or `duplex`, or `acp` (the fake
    /// agent speaks all three).
    #[arg(long, default_value = "classic")]
    mode: String,
    /// Directory holding swe-swe and fake-agent (default: next to this binary).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// After the run, time a new tab replaying session 0 from seq 0.
    #[arg(long)]
    replay: bool,
    /// Keep running rounds (every session one turn, tabs reconnecting each
    /// round) for this many minutes, printing the server's RSS each minute.
    #[arg(long)]
    soak_minutes: Option<u64>,
    /// Rounds of the same turns, unmeasured, before the measured one: a
    /// server that has run a while (tails and SQLite's files at their size,
    /// memory already touched) instead of one just started.
    #[arg(long, default_value_t = 0)]
    warm_rounds: u64,
    /// `spread`: session k's agent starts k/sessions of a pace interval late,
    /// as independent agents would be; `lockstep`: all agents print at the
    /// same instants (the worst burst).
    #[arg(long, default_value = "spread")]
    phase: String,
    /// Also report latency without the first MS of the run (agents starting).
    #[arg(long, default_value_t = 1000)]
    warmup_ms: u64,
    /// Print latency per 100 ms window of the run.
    #[arg(long)]
    timeline: bool,
    /// Threads for the clients (1: a single-threaded runtime).
    #[arg(long, default_value_t = 1)]
    client_threads: usize,
    /// Measure no server: only the kernel's CPU for one small write to one
    /// of `--sessions × --tabs` loopback connections, the floor under the
    /// server's CPU per delivered event (`--floor-batch`: messages per write).
    /// With `--pace-us`, on the load's schedule (each session's tabs one
    /// message per interval), so each write also wakes a sleeping reader.
    #[arg(long)]
    floor: bool,
    #[arg(long, default_value_t = 1)]
    floor_batch: usize,
    /// After the run, also measure the kernel floor (as `--floor`, up to
    /// 100,000 writes) and print the server's CPU per delivered event as a
    /// multiple of it: a figure that moves less with the VM's hour.
    #[arg(long)]
    with_floor: bool,
    /// A shell command run just before the measured turns start, with the
    /// server's pid in `$SERVER_PID` (e.g. `callgrind_control -z
    /// $SERVER_PID` to count only the turns' instructions).
    #[arg(long)]
    before_turns: Option<String>,
    /// A shell command run as soon as the measured turns have ended (e.g.
    /// `callgrind_control -d $SERVER_PID`).
    #[arg(long)]
    after_turns: Option<String>,
    /// Per-tab queue on the server (--subscriber-queue).
    #[arg(long, default_value_t = 4096)]
    subscriber_queue: usize,
    /// One more argument for the server (repeatable), e.g.
    /// `--server-arg=--coalesce=100ms`.
    #[arg(long, allow_hyphen_values = true)]
    server_arg: Vec<String>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    raise_fd_limit();
    // The clients stand in for browsers on other machines: here they share
    // the server's two cores, so by default they get one thread (no
    // cross-thread wake-ups or work stealing) and leave the rest to it.
    let rt = match args.client_threads {
        1 => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?,
        n => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(n.max(1))
            .enable_all()
            .build()?,
    };
    if args.floor {
        let conns = (args.sessions * args.tabs).max(1);
        let frames = (args.sessions * args.tabs * args.lines).max(conns);
        return rt
            .block_on(floor::run(
                conns,
                frames,
                args.pad + 150,
                args.floor_batch,
                floor_pace(&args),
            ))
            .map(drop);
    }
    rt.block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let bin_dir = match &args.bin_dir {
        Some(d) => d.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("binary dir")?
            .to_owned(),
    };
    let scratch = std::env::temp_dir().join(format!("swe-swe-load-{}", std::process::id()));
    // A run that was killed leaves its folder; a later run with the same pid
    // must not find that store (its tabs would replay old events).
    let _ = std::fs::remove_dir_all(&scratch);
    // The store lives beside the project, as by default: inside it, every
    // commit would also wake the project's file watcher.
    let work = scratch.join("project");
    std::fs::create_dir_all(&work)?;
    let mut cmd = tokio::process::Command::new(bin_dir.join("swe-swe"));
    cmd.args(["--port", "0"]);
    if args.mode == "acp" {
        let fake = bin_dir.join("fake-agent");
        cmd.args(["--agent", "acp", "--acp-cmd"])
            .arg(format!("{} acp", fake.display()));
    } else {
        cmd.args(["--agent", "claude", "--claude-mode", &args.mode])
            .arg("--claude-bin")
            .arg(bin_dir.join("fake-agent"));
    }
    cmd.arg("--workdir")
        .arg(&work)
        .arg("--data-dir")
        .arg(scratch.join("data"))
        .args(["--subscriber-queue", &args.subscriber_queue.to_string()])
        .args([
            "--max-sessions",
            &(args.sessions + args.idle + 10).to_string(),
        ])
        // Every client of this tool comes from one address, and a soak's
        // rounds reconnect faster than closed sockets are counted down.
        .args(["--max-connections-per-ip", "1000000"])
        .args(["--max-agents", &(args.sessions + 10).to_string()])
        .args(&args.server_arg)
        // The agent keeps its conversations outside the project, as
        // Claude Code does (~/.claude): in it, each turn's write would wake
        // the file watcher, which no real turn of that kind does.
        .env("FAKE_AGENT_STATE_DIR", scratch.join("agent-state"));
    let common::Started {
        child: mut server,
        pid: server_pid,
        base,
    } = common::start_server(cmd).await?;
    let base = base.as_str();
    let url = format!("ws://{}ws", base);
    let (rss0, _) = rss_kib(server_pid);

    for _ in 0..args.warm_rounds {
        round(&url, &args).await?;
    }
    // Connect everyone first; measure only the turns. After warm rounds the
    // tabs join live: a replay of those rounds is not this round's load.
    let total_tabs = args.sessions * args.tabs;
    let from = if args.warm_rounds > 0 { u64::MAX } else { 0 };
    let (ready, go, mut tasks) = spawn_tabs(&url, &args, from);
    let mut idle = Vec::new();
    for i in 0..args.idle {
        let mut ws = connect(&url).await?;
        let session = i % args.idle_sessions.unwrap_or(args.idle).max(1);
        ws.send(Message::text(format!(
            r#"{{"type":"hello","session":"idle-{session}"}}"#
        )))
        .await?;
        ws.next().await;
        idle.push(ws);
    }
    ready.wait().await;
    let (rss_connected, _) = rss_kib(server_pid);
    let batches_before = metric(base, "store_batches_total").await.unwrap_or(0.0);
    let cpu_before = cpu_us(server_pid);
    let faults_before = minor_faults(server_pid);
    run_hook(args.before_turns.as_deref(), server_pid).await?;
    let threads_before = thread_cpu_ns(server_pid);
    let started = Instant::now();
    go.wait().await;
    // The server's own histogram, read once the warm-up is over.
    let warm = {
        let base = base.to_owned();
        let after = Duration::from_millis(args.warmup_ms);
        tokio::spawn(async move {
            tokio::time::sleep(after).await; // the load's schedule, not a sync
            delay_buckets(&base).await
        })
    };
    let mut events = 0;
    let mut errors = 0;
    let mut lat = Vec::new();
    let mut open = Vec::new();
    while let Some(r) = tasks.join_next().await {
        let r = r??;
        events += r.events;
        errors += r.errors;
        lat.extend(r.latencies_us);
        open.push(r.ws);
    }
    let wall = started.elapsed();
    let cpu_used = (cpu_us(server_pid) - cpu_before).max(0.0);
    let faults = minor_faults(server_pid).saturating_sub(faults_before);
    let threads = thread_cpu_between(&threads_before, &thread_cpu_ns(server_pid));
    run_hook(args.after_turns.as_deref(), server_pid).await?;
    drop(open);
    let (rss_end, hwm) = rss_kib(server_pid);
    if args.timeline {
        print_timeline(&lat);
    }
    let steady = steady_state(&lat, args.warmup_ms);
    let mut lat: Vec<u64> = lat.into_iter().map(|(_, l)| l).collect();
    lat.sort_unstable();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    println!("mode                 {}", args.mode);
    println!(
        "connections          {} active ({} sessions x {} tabs) + {} idle",
        total_tabs, args.sessions, args.tabs, args.idle
    );
    println!(
        "agent lines/turn     {} (+{} B padding)",
        args.lines, args.pad
    );
    println!(
        "events delivered     {events} in {:.3} s",
        wall.as_secs_f64()
    );
    println!(
        "events/s             {:.0}",
        events as f64 / wall.as_secs_f64()
    );
    println!(
        "latency agent->client p50 {} us, p99 {} us, max {} us ({} samples)",
        pct(0.50),
        pct(0.99),
        lat.last().copied().unwrap_or(0),
        lat.len()
    );
    let end = delay_buckets(base).await.unwrap_or_default();
    if let Some((p50, p99)) = delay_quantiles(&[], &end) {
        println!("server part          line reaches its session -> queued for every tab (incl. commit): p50 <= {p50}, p99 <= {p99} (/metrics buckets)");
    }
    if let Some((p50, p99)) = warm
        .await
        .ok()
        .flatten()
        .and_then(|w| delay_quantiles(&w, &end))
    {
        println!("  after warm-up      p50 <= {p50}, p99 <= {p99}");
    }
    if let Some((p50, p99, n)) = steady {
        println!("latency after warm-up p50 {p50} us, p99 {p99} us ({n} samples stamped after the first {} ms)", args.warmup_ms);
    }
    println!("errors               {errors}");
    if let Some(b) = metric(base, "store_batches_total").await {
        let batches = (b - batches_before).max(1.0);
        println!(
            "store                {batches:.0} transactions for the turns, {:.1} delivered events per transaction",
            events as f64 / batches
        );
    }
    println!(
        "server CPU           {:.3} s for the turns (server process only, not agents): {:.2} us per delivered event",
        cpu_used / 1e6,
        cpu_used / events.max(1) as f64
    );
    let per_event = cpu_used / events.max(1) as f64;
    let by_thread: Vec<String> = threads
        .iter()
        .filter(|(_, us)| *us >= 0.5 * events.max(1) as f64 / 100.0)
        .map(|(name, us)| format!("{name} {:.2}", us / events.max(1) as f64))
        .collect();
    println!("  by thread (us/event) {}", by_thread.join(", "));
    println!(
        "  page faults          {faults} ({:.3} per delivered event)",
        faults as f64 / events.max(1) as f64
    );
    println!(
        "server RSS           start {} MiB, all connected {} MiB, end {} MiB, peak {} MiB",
        rss0 / 1024,
        rss_connected / 1024,
        rss_end / 1024,
        hwm / 1024
    );
    if args.replay {
        let started = Instant::now();
        let mut ws = connect(&url).await?;
        ws.send(Message::text(
            r#"{"type":"hello","session":"load-0","lastSeq":0}"#,
        ))
        .await?;
        let mut n = 0u64;
        let mut last = 0u64;
        let hello = ws.next().await.context("hello")??;
        let want: u64 = serde_json::from_str::<serde_json::Value>(hello.to_text()?)?["lastSeq"]
            .as_u64()
            .unwrap_or(0);
        while last < want {
            let Message::Text(t) = ws.next().await.context("replay")?? else {
                continue;
            };
            n += 1;
            last = serde_json::from_str::<serde_json::Value>(t.as_str())?["seq"]
                .as_u64()
                .unwrap_or(last);
        }
        let took = started.elapsed();
        println!(
            "replay to a new tab  {n} events in {:.3} s ({:.0} events/s)",
            took.as_secs_f64(),
            n as f64 / took.as_secs_f64()
        );
    }
    if let Some(minutes) = args.soak_minutes {
        soak(&url, &args, server_pid, minutes).await?;
    }
    drop(idle);
    if let Some(pid) = server.id() {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
    }
    let status = tokio::time::timeout(Duration::from_secs(30), server.wait()).await??;
    let _ = std::fs::remove_dir_all(&scratch);
    if errors > 0 || !status.success() {
        bail!("errors: {errors}, server exit: {status}");
    }
    if args.with_floor {
        // Measured once the server is gone, on the same connection count.
        let conns = (args.sessions * args.tabs).max(1);
        let frames = (args.sessions * args.tabs * args.lines).clamp(conns, 100_000);
        let floor = floor::run(conns, frames, args.pad + 150, 1, floor_pace(&args)).await?;
        println!(
            "against the floor    {:.2}x the kernel's CPU for one write ({per_event:.2} / {floor:.2} us)",
            per_event / floor.max(0.01)
        );
    }
    Ok(())
}

/// A paced run's floor follows its schedule: each session's tabs get one
/// message every `--pace-us`, the sessions spread over it.
fn floor_pace(args: &Args) -> Option<floor::Pace> {
    (args.pace_us > 0).then(|| floor::Pace {
        group: args.tabs.max(1),
        interval: Duration::from_micros(args.pace_us),
    })
}

/// Runs a `--before-turns` / `--after-turns` command to its end (a
/// profiler's zero or dump must have happened before the turns go on), on
/// the runtime rather than blocking it, and at most `HOOK_WITHIN`.
async fn run_hook(cmd: Option<&str>, server_pid: u32) -> anyhow::Result<()> {
    const HOOK_WITHIN: Duration = Duration::from_secs(300);
    let Some(cmd) = cmd else { return Ok(()) };
    let status = tokio::time::timeout(
        HOOK_WITHIN,
        tokio::process::Command::new("sh")
            .args(["-c", cmd])
            .env("SERVER_PID", server_pid.to_string())
            .kill_on_drop(true)
            .status(),
    )
    .await
    .with_context(|| format!("{cmd:?} did not end within {HOOK_WITHIN:?}"))?
    .with_context(|| format!("run {cmd:?}"))?;
    anyhow::ensure!(status.success(), "{cmd:?} failed: {status}");
    Ok(())
}

/// Thousands of sockets need more than the usual 1,024 descriptors.
fn raise_fd_limit() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    if let Ok((_, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
    }
}

/// Rounds of turns for `minutes`; every tab reconnects each round and joins
/// live (no replay), so memory must stay flat.
async fn soak(url: &str, args: &Args, server_pid: u32, minutes: u64) -> anyhow::Result<()> {
    let end = Instant::now() + Duration::from_secs(minutes * 60);
    let mut next_report = Instant::now() + Duration::from_secs(60);
    let (mut rounds, mut events, mut minute) = (0u64, 0u64, 0u64);
    println!("soak: {minutes} min of rounds; RSS each minute");
    while Instant::now() < end {
        events += round(url, args).await?;
        rounds += 1;
        if Instant::now() >= next_report {
            minute += 1;
            next_report += Duration::from_secs(60);
            let (rss, hwm) = rss_kib(server_pid);
            println!("soak minute {minute:>3}: {rounds} rounds, {events} events, RSS {} MiB (peak {} MiB)", rss / 1024, hwm / 1024);
        }
    }
    Ok(())
}
