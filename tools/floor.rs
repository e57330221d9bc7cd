//! The kernel's share of delivering one frame: one thread writes `frames`
//! messages of `size` bytes round-robin over `conns` loopback TCP
//! connections (one `write` each, as the server sends one frame to one tab
//! when events come one at a time), while the clients read them. The
//! writing thread's CPU per write is what the kernel alone charges the
//! sender (loopback runs the receiving side's TCP in the sender's context),
//! before any work of swe-swe's own.
//!
//! Paced (`Pace`), the writes follow the load's schedule instead: every
//! interval each group of connections (a session's tabs) gets one message
//! on each connection, the groups spread over the interval. A reader then
//! sleeps between messages, so each write also pays for waking it, as the
//! server's writes do at that load; flat out, the readers stay awake and
//! the floor reads lower than what the server can reach.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use tokio::io::AsyncReadExt;

/// CPU time this thread has used, in µs (user, system).
fn thread_cpu_us() -> (f64, f64) {
    use nix::sys::resource::{getrusage, UsageWho};
    match getrusage(UsageWho::RUSAGE_THREAD) {
        Ok(u) => {
            let us = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 * 1e6 + t.tv_usec() as f64;
            (us(u.user_time()), us(u.system_time()))
        }
        Err(_) => (0.0, 0.0),
    }
}

/// The load's schedule for a paced floor.
#[derive(Clone, Copy)]
pub struct Pace {
    /// Connections per group (a session's tabs), written one after another.
    pub group: usize,
    pub interval: std::time::Duration,
}

/// This thread's CPU time in ns, exact (user and system together).
fn this_thread_cpu_ns() -> u64 {
    use nix::time::{clock_gettime, ClockId};
    clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID)
        .map(|t| t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64)
        .unwrap_or(0)
}

/// Writes `msg` to each socket of every group of `group` sockets in turn,
/// each group at its place in `interval`, and returns the CPU of the writes
/// alone in µs (user and system together): the sleeps between groups are
/// not counted, as the server's idle time is not.
fn paced_writes(
    socks: &mut [TcpStream],
    msg: &[u8],
    writes: usize,
    group: usize,
    interval: std::time::Duration,
) -> std::io::Result<f64> {
    let groups = socks.len() / group;
    let step = interval / groups as u32;
    let start = std::time::Instant::now();
    let mut cpu_ns = 0u64;
    let mut done = 0;
    let mut slot = 0u32;
    while done < writes {
        // The load tool's own schedule: sleeping to the next group's turn.
        if let Some(wait) = (start + step * slot).checked_duration_since(std::time::Instant::now())
        {
            std::thread::sleep(wait);
        }
        let g = slot as usize % groups;
        let before = this_thread_cpu_ns();
        for s in &mut socks[g * group..(g + 1) * group] {
            s.write_all(msg)?;
        }
        cpu_ns += this_thread_cpu_ns().saturating_sub(before);
        done += group;
        slot += 1;
    }
    Ok(cpu_ns as f64 / 1e3)
}

/// Writes `frames` messages over `conns` connections and prints the
/// writer's CPU per write; `batch` messages go in each write (flat out), or
/// one per write on the load's schedule (`pace`). Returns the CPU per write
/// in µs.
pub async fn run(
    conns: usize,
    frames: usize,
    size: usize,
    batch: usize,
    pace: Option<Pace>,
) -> anyhow::Result<f64> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let batch = batch.max(1);
    let group = pace.map_or(1, |p| p.group.clamp(1, conns));
    // Paced, every write goes to a whole group.
    let writes = if pace.is_some() {
        (frames / group).max(1) * group
    } else {
        frames / batch
    };
    let total = (writes * batch * size) as u64;
    // (user, system) µs; paced, one figure for both (`paced_writes`).
    let writer = std::thread::spawn(move || -> std::io::Result<(f64, f64)> {
        let mut socks: Vec<TcpStream> = Vec::with_capacity(conns);
        for _ in 0..conns {
            let (s, _) = listener.accept()?;
            s.set_nodelay(true)?;
            socks.push(s);
        }
        let msg = vec![b'x'; size * batch];
        if let Some(p) = pace {
            return Ok((
                0.0,
                paced_writes(&mut socks, &msg, writes, group, p.interval)?,
            ));
        }
        let (u0, s0) = thread_cpu_us();
        for i in 0..writes {
            socks[i % conns].write_all(&msg)?;
        }
        let (u1, s1) = thread_cpu_us();
        Ok((u1 - u0, s1 - s0))
    });
    let mut readers = tokio::task::JoinSet::new();
    for _ in 0..conns {
        let mut s = tokio::net::TcpStream::connect(addr).await?;
        readers.spawn(async move {
            let mut buf = vec![0u8; 64 * 1024];
            let mut got = 0u64;
            while let Ok(n) = s.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                got += n as u64;
            }
            got
        });
    }
    // The writer closes every connection when it is done (its sockets drop).
    let (user, sys) = tokio::task::spawn_blocking(move || writer.join())
        .await?
        .map_err(|_| anyhow::anyhow!("the writer panicked"))??;
    let mut got = 0;
    while let Some(n) = readers.join_next().await {
        got += n?;
    }
    anyhow::ensure!(got == total, "read {got} of {total} bytes");
    match pace {
        Some(p) => println!(
            "kernel floor         {conns} loopback connections, {writes} writes of {size} B, paced: {group} connections every {} us",
            p.interval.as_micros() / (conns / group).max(1) as u128
        ),
        None => println!(
            "kernel floor         {conns} loopback connections, {writes} writes of {batch} x {size} B"
        ),
    }
    let split = if pace.is_some() {
        "user and system together".to_owned()
    } else {
        format!(
            "{:.2} user + {:.2} system",
            user / writes as f64,
            sys / writes as f64
        )
    };
    println!(
        "writer CPU per write {:.2} us ({split}), per message {:.2} us",
        (user + sys) / writes as f64,
        (user + sys) / (writes * batch) as f64
    );
    Ok((user + sys) / writes as f64)
}
