//! What the measuring tools share: starting the server under test and
//! reading its address, and the CPU time a process has used.

use anyhow::Context;
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, BufReader};

/// A started `swe-swe` and the `host:port/` it printed.
pub struct Started {
    pub child: tokio::process::Child,
    pub pid: u32,
    /// `127.0.0.1:PORT/` (with the prefix, if any).
    pub base: String,
}

/// Starts `cmd` (a `swe-swe` command line, `--port 0` among its flags) and
/// waits for the line that names its address.
pub async fn start_server(mut cmd: tokio::process::Command) -> anyhow::Result<Started> {
    let mut child = cmd
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("start swe-swe (did you `cargo build --release`?)")?;
    let pid = child.id().context("server pid")?;
    let mut out = BufReader::new(child.stdout.take().context("stdout")?).lines();
    let line = out.next_line().await?.context("server printed nothing")?;
    let base = line
        .strip_prefix("swe-swe listening on http://")
        .context("address line")?
        .to_owned();
    Ok(Started { child, pid, base })
}

/// CPU time process `pid` has used, in µs: every thread's, live or exited,
/// from the process's CPU-time clock (`/proc`'s figure counts 10 ms ticks).
pub fn cpu_us(pid: u32) -> f64 {
    use nix::time::{clock_getcpuclockid, clock_gettime};
    match clock_getcpuclockid(nix::unistd::Pid::from_raw(pid as i32)).and_then(clock_gettime) {
        Ok(t) => t.tv_sec() as f64 * 1e6 + t.tv_nsec() as f64 / 1e3,
        Err(_) => cpu_ticks(pid) as f64 * 1e4,
    }
}

/// Clock ticks (1/100 s) process `pid` has used, user + system.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let Some(end) = stat.rfind(')') else { return 0 };
    let f: Vec<&str> = stat[end + 2..].split_whitespace().collect();
    let n = |k: usize| f.get(k).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    n(11) + n(12)
}

/// CPU time (ns, from `/proc/PID/task/TID/schedstat`) of each live thread of
/// `pid`, keyed by thread id, with the thread's name.
pub fn thread_cpu_ns(pid: u32) -> std::collections::HashMap<u32, (String, u64)> {
    let mut out = std::collections::HashMap::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for task in tasks.flatten() {
        let Some(tid) = task.file_name().to_str().and_then(|t| t.parse().ok()) else {
            continue;
        };
        let path = task.path();
        let name = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        let ns = std::fs::read_to_string(path.join("schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse().ok());
        if let Some(ns) = ns {
            out.insert(tid, (name.trim().to_owned(), ns));
        }
    }
    out
}

/// What each group of threads (by name) used between two `thread_cpu_ns`
/// readings, largest first, in µs; threads that ended in between are missing
/// (their time shows in the process total only).
pub fn thread_cpu_between(
    before: &std::collections::HashMap<u32, (String, u64)>,
    after: &std::collections::HashMap<u32, (String, u64)>,
) -> Vec<(String, f64)> {
    let mut by_name = std::collections::BTreeMap::<String, u64>::new();
    for (tid, (name, ns)) in after {
        let was = before.get(tid).map_or(0, |(_, ns)| *ns);
        *by_name.entry(name.clone()).or_default() += ns.saturating_sub(was);
    }
    let mut out: Vec<(String, f64)> = by_name
        .into_iter()
        .map(|(name, ns)| (name, ns as f64 / 1e3))
        .collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1));
    out
}
