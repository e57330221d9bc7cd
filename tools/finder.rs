//! swe-swe-finder: the `@` file finder on a realistic project, measured the
//! way a user meets it. Generates a nested tree (100,000 files by default,
//! 1–4 folder levels), starts a release swe-swe on it with no client, and
//! prints:
//!
//!   time until the index is ready, idle CPU (share of one core over 5 s,
//!   from /proc), how long a created / deleted file takes to show in `@`
//!   search at several depths (p50/p99), and the search round trip over
//!   `/ws` (query sent → results received, p50/p99).
//!
//! Rerun: `cargo build --release && target/release/swe-swe-finder --files 100000`
//!
//! Needs no client or agent: the server runs with its default agent, which is
//! never started.
#![forbid(unsafe_code)]

#[path = "common.rs"]
mod common;
#[path = "finder_tree.rs"]
mod finder_tree;
use common::cpu_us;
use finder_tree::folder;

use anyhow::{bail, Context};
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

#[derive(Parser, Debug)]
#[command(about = "Measure the @ file finder of a swe-swe server on a generated nested project")]
struct Args {
    /// Files in the generated tree.
    #[arg(long, default_value_t = 100_000)]
    files: usize,
    /// Created-then-deleted files whose latency is measured.
    #[arg(long, default_value_t = 20)]
    changes: usize,
    /// Search round trips measured.
    #[arg(long, default_value_t = 500)]
    queries: usize,
    /// Seconds of idle CPU measurement.
    #[arg(long, default_value_t = 5)]
    idle_secs: u64,
    /// Directory holding swe-swe (default: next to this binary).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn generate(root: &Path, files: usize) -> anyhow::Result<usize> {
    let mut dirs = std::collections::HashSet::new();
    for i in 0..files {
        let dir = root.join(folder(i));
        if dirs.insert(dir.clone()) {
            std::fs::create_dir_all(&dir)?;
        }
        std::fs::write(dir.join(format!("file_{i}.rs")), "")?;
    }
    Ok(dirs.len())
}

/// A scratch folder of this run, removed at the end (also on error).
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> anyhow::Result<Self> {
        let dir = std::env::temp_dir().join(format!("swe-swe-finder-{}", std::process::id()));
        // A reused pid must not find an old tree.
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        Ok(Scratch(dir.canonicalize()?))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn search(ws: &mut Ws, query: &str) -> anyhow::Result<Vec<String>> {
    let q = serde_json::json!({"type":"fuzzy_search","query":query,"maxResults":50});
    ws.send(Message::text(q.to_string())).await?;
    while let Some(m) = ws.next().await {
        let Message::Text(t) = m? else { continue };
        let v: serde_json::Value = serde_json::from_str(&t)?;
        if v["type"] == "fuzzy_search_results" {
            let hits: Vec<serde_json::Value> =
                serde_json::from_str(v["content"].as_str().unwrap_or("[]"))?;
            return Ok(hits
                .iter()
                .filter_map(|h| h["file"]["relPath"].as_str().map(str::to_owned))
                .collect());
        }
    }
    bail!("connection closed")
}

/// Searches until `pred` holds (bounded); returns how long it took.
async fn until(
    ws: &mut Ws,
    query: &str,
    pred: impl Fn(&[String]) -> bool,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    loop {
        if pred(&search(ws, query).await?) {
            return Ok(started.elapsed());
        }
        if started.elapsed() > Duration::from_secs(60) {
            bail!("{query:?} never showed the change");
        }
    }
}

fn pct(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 * p) as usize).min(v.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let bin_dir = match args.bin_dir.clone() {
        Some(d) => d,
        None => std::env::current_exe()?
            .parent()
            .context("binary folder")?
            .to_path_buf(),
    };
    let scratch = Scratch::new()?;
    let root = scratch.0.join("project");
    std::fs::create_dir_all(&root)?;
    let t = Instant::now();
    let dirs = generate(&root, args.files)?;
    println!(
        "tree                 {} files in {dirs} folders (1-4 levels), made in {:.1} s",
        args.files,
        t.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    let mut cmd = tokio::process::Command::new(bin_dir.join("swe-swe"));
    cmd.args(["--port", "0", "--max-messages-per-sec", "1000000"])
        .arg("--workdir")
        .arg(&root)
        .arg("--data-dir")
        .arg(scratch.0.join("data"));
    let common::Started {
        child: mut server,
        pid,
        base,
    } = common::start_server(cmd).await?;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{base}ws")).await?;
    ws.send(Message::text(r#"{"type":"hello","session":"finder"}"#))
        .await?;
    let last = args.files - 1;
    let want = format!("{}/file_{last}.rs", folder(last));
    until(&mut ws, &format!("file_{last}.rs"), |r| r.contains(&want)).await?;
    println!(
        "index ready          {:.2} s after start",
        started.elapsed().as_secs_f64()
    );

    // Idle: no client asks anything while this is measured.
    let (t0, c0) = (Instant::now(), cpu_us(pid));
    tokio::time::sleep(Duration::from_secs(args.idle_secs)).await; // the measurement window
    let idle = (cpu_us(pid) - c0) / 1e6 / t0.elapsed().as_secs_f64();
    println!(
        "idle CPU             {:.2} % of a core over {} s",
        idle * 100.0,
        args.idle_secs
    );

    let depths = [
        "",
        "src/m3",
        "src/m3/sub5",
        "lib/p7/src/a3/b2",
        "new/nested/folder",
    ];
    let (mut created, mut deleted) = (Vec::new(), Vec::new());
    for n in 0..args.changes {
        let dir = depths[n % depths.len()];
        std::fs::create_dir_all(root.join(dir))?;
        let name = format!("zq_change_{n}.rs");
        let rel = if dir.is_empty() {
            name.clone()
        } else {
            format!("{dir}/{name}")
        };
        let query = format!("zqchange{n}.rs");
        std::fs::write(root.join(&rel), "")?;
        created.push(until(&mut ws, &query, |r| r.contains(&rel)).await?);
        std::fs::remove_file(root.join(&rel))?;
        deleted.push(until(&mut ws, &query, |r| !r.contains(&rel)).await?);
    }
    println!(
        "created -> findable  p50 {} / p99 {} / max {} ({} files, 5 depths)",
        ms(pct(&mut created, 0.5)),
        ms(pct(&mut created, 0.99)),
        ms(*created.iter().max().context("changes")?),
        args.changes
    );
    println!(
        "deleted -> gone      p50 {} / p99 {} / max {}",
        ms(pct(&mut deleted, 0.5)),
        ms(pct(&mut deleted, 0.99)),
        ms(*deleted.iter().max().context("changes")?)
    );

    let queries = [
        "s",
        "mod",
        "file_42",
        "srcm3sub",
        "libpsrcab",
        "zzzz",
        "f",
        "rs",
    ];
    let mut rtt = Vec::new();
    let mut by_query = vec![Vec::new(); queries.len()];
    for i in 0..args.queries {
        let q = queries[i % queries.len()];
        let t = Instant::now();
        search(&mut ws, q).await?;
        rtt.push(t.elapsed());
        by_query[i % queries.len()].push(t.elapsed());
    }
    for (q, mut v) in queries.iter().zip(by_query) {
        println!(
            "  {:<18} p50 {} / p99 {}",
            format!("{q:?}"),
            ms(pct(&mut v, 0.5)),
            ms(pct(&mut v, 0.99))
        );
    }
    println!(
        "search round trip    p50 {} / p99 {} over /ws ({} queries of 1-9 characters)",
        ms(pct(&mut rtt, 0.5)),
        ms(pct(&mut rtt, 0.99)),
        args.queries
    );
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    if let Some(hwm) = status.lines().find(|l| l.starts_with("VmHWM:")) {
        println!(
            "server peak RSS      {}",
            hwm.trim_start_matches("VmHWM:").trim()
        );
    }
    server.kill().await?;
    Ok(())
}
