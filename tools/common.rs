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
    stat_field(pid, 11) + stat_field(pid, 12)
}

/// Field `k` of `/proc/PID/stat`, counted from the process's state (0), so
/// past the name, which may hold spaces; 0 when unreadable.
pub fn stat_field(pid: u32, k: usize) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let Some(end) = stat.rfind(')') else { return 0 };
    stat[end + 2..]
        .split_whitespace()
        .nth(k)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}
