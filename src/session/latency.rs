//! A fixed-bucket latency histogram (atomic counters, no lock), exported in
//! Prometheus form: how long an agent's line takes from reaching its session
//! to being queued for every tab (parse, store commit, fan-out).

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Upper bounds of the buckets, in microseconds.
const BOUNDS_US: [u64; 12] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 1_000_000,
];

#[derive(Debug, Default)]
pub struct Histogram {
    /// Counts per bucket (not cumulative); the last is beyond every bound.
    buckets: [AtomicU64; BOUNDS_US.len() + 1],
    sum_us: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, d: Duration) {
        let us = d.as_micros().min(u128::from(u64::MAX)) as u64;
        let i = BOUNDS_US.partition_point(|b| *b < us);
        self.buckets[i].fetch_add(1, Relaxed);
        self.sum_us.fetch_add(us, Relaxed);
    }

    /// The smallest bucket bound at or above quantile `q` (0..1), if any
    /// sample is in a bounded bucket.
    pub fn quantile_bound(&self, q: f64) -> Option<Duration> {
        let counts: Vec<u64> = self.buckets.iter().map(|b| b.load(Relaxed)).collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return None;
        }
        let want = (total as f64 * q).ceil() as u64;
        let mut seen = 0;
        for (i, c) in counts.iter().enumerate() {
            seen += c;
            if seen >= want {
                return BOUNDS_US.get(i).map(|us| Duration::from_micros(*us));
            }
        }
        None
    }

    /// Prometheus text for a histogram called `name` (seconds).
    pub fn render(&self, name: &str, help: &str, out: &mut String) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (i, bound) in BOUNDS_US.iter().enumerate() {
            cumulative += self.buckets[i].load(Relaxed);
            let le = *bound as f64 / 1e6;
            let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {cumulative}");
        }
        cumulative += self.buckets[BOUNDS_US.len()].load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cumulative}");
        let sum = self.sum_us.load(Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum:.6}\n{name}_count {cumulative}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_quantiles_and_text() {
        let h = Histogram::default();
        for us in [
            50, 90, 300, 700, 2_000, 2_000, 9_000, 40_000, 2_000_000, 100,
        ] {
            h.observe(Duration::from_micros(us));
        }
        assert_eq!(h.quantile_bound(0.5), Some(Duration::from_micros(1_000)));
        assert_eq!(h.quantile_bound(0.8), Some(Duration::from_micros(10_000)));
        assert_eq!(h.quantile_bound(1.0), None, "beyond the last bound");
        let mut out = String::new();
        h.render("x_seconds", "help", &mut out);
        assert!(out.contains("x_seconds_bucket{le=\"0.0001\"} 3\n"), "{out}");
        assert!(out.contains("x_seconds_bucket{le=\"+Inf\"} 10\n"));
        assert!(out.contains("x_seconds_count 10\n"));
    }
}
