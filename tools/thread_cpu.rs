//! Where the server's CPU goes by thread: each live thread's time on CPU
//! (`/proc/PID/task/TID/schedstat`, ns) read before and after the turns,
//! grouped by thread name; and the process's page faults.

use crate::common::stat_field;
use std::collections::{BTreeMap, HashMap};

/// Minor page faults of process `pid` (every thread's, not its children's):
/// each is a trip into the kernel, a µs or more on a VM.
pub fn minor_faults(pid: u32) -> u64 {
    stat_field(pid, 7)
}

/// CPU time (ns, from `/proc/PID/task/TID/schedstat`) of each live thread of
/// `pid`, keyed by thread id, with the thread's name.
pub fn thread_cpu_ns(pid: u32) -> HashMap<u32, (String, u64)> {
    let mut out = HashMap::new();
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
    before: &HashMap<u32, (String, u64)>,
    after: &HashMap<u32, (String, u64)>,
) -> Vec<(String, f64)> {
    let mut by_name = BTreeMap::<String, u64>::new();
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
