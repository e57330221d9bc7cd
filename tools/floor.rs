//! The kernel's share of delivering one frame: one thread writes `frames`
//! messages of `size` bytes round-robin over `conns` loopback TCP
//! connections (one `write` each, as the server sends one frame to one tab
//! when events come one at a time), while the clients read them. The
//! writing thread's CPU per write is what the kernel alone charges the
//! sender (loopback runs the receiving side's TCP in the sender's context),
//! before any work of swe-swe's own.

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

/// Writes `frames` messages over `conns` connections and prints the
/// writer's CPU per write; `batch` messages go in each write. Returns the
/// CPU per write in µs.
pub async fn run(conns: usize, frames: usize, size: usize, batch: usize) -> anyhow::Result<f64> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let batch = batch.max(1);
    let writes = frames / batch;
    let total = (writes * batch * size) as u64;
    let writer = std::thread::spawn(move || -> std::io::Result<(f64, f64)> {
        let mut socks: Vec<TcpStream> = Vec::with_capacity(conns);
        for _ in 0..conns {
            let (s, _) = listener.accept()?;
            s.set_nodelay(true)?;
            socks.push(s);
        }
        let msg = vec![b'x'; size * batch];
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
    println!(
        "kernel floor         {conns} loopback connections, {writes} writes of {batch} x {size} B"
    );
    println!(
        "writer CPU per write {:.2} us ({:.2} user + {:.2} system), per message {:.2} us",
        (user + sys) / writes as f64,
        user / writes as f64,
        sys / writes as f64,
        (user + sys) / (writes * batch) as f64
    );
    Ok((user + sys) / writes as f64)
}
