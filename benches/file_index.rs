//! File finder figures on a generated tree of 100,000 files: cold index
//! time, query latency (p50/p99) for 1-, 3- and 8-character queries, index
//! memory, and the same queries through `fzf --filter` over the same list.
//!
//! Rerun: `cargo bench --bench file_index` (needs `fzf`, Debian package
//! `fzf`, for the comparison; without it that part is skipped and says so).

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use swe_swe::files::{search::search, walk::walk};

const WORDS: [&str; 20] = [
    "parser", "lexer", "token", "config", "server", "client", "session", "store", "index",
    "render", "widget", "router", "handler", "model", "view", "util", "error", "event", "buffer",
    "stream",
];

fn generate(root: &Path) -> usize {
    let mut n = 0;
    for a in 0..20 {
        for b in 0..50 {
            let dir = root.join(format!(
                "crates/{}_{a}/src/{}_{b}",
                WORDS[a],
                WORDS[(a + b) % 20]
            ));
            std::fs::create_dir_all(&dir).unwrap();
            for c in 0..100 {
                let name = format!("{}_{}_{c}.rs", WORDS[(b + c) % 20], WORDS[(a * 7 + c) % 20]);
                std::fs::write(dir.join(name), "").unwrap();
                n += 1;
            }
        }
    }
    n
}

fn pct(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 * p) as usize).min(v.len() - 1)]
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

fn main() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().canonicalize().unwrap();
    let files = generate(&root);
    println!("tree        {files} files in {}", root.display());

    let rss0 = rss_kib();
    let mut cold = Vec::new();
    let mut entries = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let (e, truncated) = walk(&root, &root, 1_000_000);
        cold.push(started.elapsed());
        assert!(!truncated);
        entries = e;
    }
    let rss1 = rss_kib();
    let heap: usize = entries
        .iter()
        .map(|e| e.rel.len() + std::mem::size_of_val(e))
        .sum();
    println!(
        "cold index  {} entries: median {:.0} ms of 5 walks (parallel, .gitignore-aware)",
        entries.len(),
        pct(&mut cold, 0.5).as_secs_f64() * 1e3
    );
    println!(
        "memory      {:.1} MiB of entries ({} B each on average); process RSS +{:.1} MiB",
        heap as f64 / 1048576.0,
        heap / entries.len(),
        (rss1.saturating_sub(rss0)) as f64 / 1024.0
    );

    let root_str = root.to_string_lossy().into_owned();
    let list = tmp.path().join("paths.txt");
    let mut f = std::fs::File::create(&list).unwrap();
    for e in &entries {
        writeln!(f, "{}", e.rel).unwrap();
    }
    drop(f);
    let fzf = Command::new("fzf").arg("--version").output().is_ok();
    println!(
        "query       ours: p50 / p99 of 50 runs; fzf --filter: median of 5 runs (process included)"
    );
    for query in [
        "s", "z", "p", "rs", "srv", "tok", "mdl", "parsrtok", "cfgsrvrs", "lexer_12", "crsrcsrv",
    ] {
        let mut times = Vec::new();
        let mut hits = 0;
        for _ in 0..50 {
            let started = Instant::now();
            hits = search(&entries, &root_str, query, 50).len();
            times.push(started.elapsed());
        }
        let (p50, p99) = (pct(&mut times, 0.5), pct(&mut times, 0.99));
        let mut line = format!(
            "  {:<9} {} chars: {:>6.2} ms / {:>6.2} ms ({hits} shown)",
            query,
            query.len(),
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3
        );
        if fzf {
            let mut ft = Vec::new();
            for _ in 0..5 {
                let started = Instant::now();
                let out = Command::new("fzf")
                    .args(["--filter", query])
                    .stdin(Stdio::from(std::fs::File::open(&list).unwrap()))
                    .stdout(Stdio::piped())
                    .output()
                    .unwrap();
                ft.push(started.elapsed());
                assert!(out.status.success() || out.status.code() == Some(1));
            }
            let f50 = pct(&mut ft, 0.5);
            line += &format!(
                " | fzf {:>6.2} ms, ours {:.1}x faster",
                f50.as_secs_f64() * 1e3,
                f50.as_secs_f64() / p50.as_secs_f64()
            );
        }
        println!("{line}");
    }
    if !fzf {
        println!("fzf not found: install Debian's `fzf` for the comparison");
    }
}
