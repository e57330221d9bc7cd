//! What swe-swe-load prints about latency and memory: steady-state
//! quantiles, a timeline of 100 ms windows, the server's RSS.

pub(super) fn rss_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// p50 and p99 of the samples stamped after the first `warmup_ms` of the
/// run (when every agent has started), and how many there were.
pub(super) fn steady_state(samples: &[(u64, u64)], warmup_ms: u64) -> Option<(u64, u64, usize)> {
    let t0 = samples.iter().map(|(t, _)| *t).min()?;
    let mut l: Vec<u64> = samples
        .iter()
        .filter(|(t, _)| t - t0 >= warmup_ms * 1_000_000)
        .map(|(_, l)| *l)
        .collect();
    if l.is_empty() {
        return None;
    }
    l.sort_unstable();
    let q = |p: f64| l[((l.len() as f64 * p) as usize).min(l.len() - 1)];
    Some((q(0.5), q(0.99), l.len()))
}

/// Latency per 100 ms of agent time: where the slow events cluster.
pub(super) fn print_timeline(samples: &[(u64, u64)]) {
    let Some(t0) = samples.iter().map(|(t, _)| *t).min() else {
        return;
    };
    let mut windows: std::collections::BTreeMap<u64, Vec<u64>> = Default::default();
    for (t, l) in samples {
        windows.entry((t - t0) / 100_000_000).or_default().push(*l);
    }
    println!("timeline (100 ms windows of agent time): start  samples  p50  p99  max  (µs)");
    for (w, mut l) in windows {
        l.sort_unstable();
        let q = |p: f64| l[((l.len() as f64 * p) as usize).min(l.len() - 1)];
        println!(
            "  {:>6} ms {:>7} {:>7} {:>7} {:>7}",
            w * 100,
            l.len(),
            q(0.5),
            q(0.99),
            l[l.len() - 1]
        );
    }
}
