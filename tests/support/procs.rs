//! What tests read of processes from /proc: the process table, groups,
//! zombies, and a process's CPU time and memory.

/// The fields of /proc/PID/stat after the command name (which may hold
/// spaces and parentheses): state first.
fn stat_fields(pid: i32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

/// Clock ticks (1/100 s) process `pid` has spent on the CPU, user + system.
pub fn cpu_ticks(pid: i32) -> u64 {
    let f = stat_fields(pid).unwrap_or_default();
    let n = |k: usize| f.get(k).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    n(11) + n(12)
}

/// Times the threads of process `pid` whose name starts with `name` have
/// gone to sleep and been woken (voluntary context switches).
pub fn thread_wakeups(pid: i32, name: &str) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter(|t| {
            std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.starts_with(name))
        })
        .filter_map(|t| {
            let status = std::fs::read_to_string(t.path().join("status")).ok()?;
            status
                .lines()
                .find(|l| l.starts_with("voluntary_ctxt_switches:"))?
                .split_whitespace()
                .nth(1)?
                .parse::<u64>()
                .ok()
        })
        .sum()
}

/// Peak and current resident memory of process `pid`, in KiB.
pub fn rss_kib(pid: i32) -> (u64, u64) {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib = |key: &str| -> u64 {
        s.lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            .unwrap_or(0)
    };
    (kib("VmHWM:"), kib("VmRSS:"))
}

/// (pid, ppid, pgrp, state) of every process.
pub fn processes() -> Vec<(i32, i32, i32, char)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Some(f) = stat_fields(pid).filter(|f| f.len() >= 3) else {
            continue;
        };
        let state = f[0].chars().next().unwrap_or('?');
        out.push((
            pid,
            f[1].parse().unwrap_or(0),
            f[2].parse().unwrap_or(0),
            state,
        ));
    }
    out
}

/// Live (non-zombie) members of process group `pgid`.
pub fn group_members(pgid: i32) -> Vec<i32> {
    processes()
        .into_iter()
        .filter(|(_, _, g, s)| *g == pgid && *s != 'Z')
        .map(|(p, ..)| p)
        .collect()
}

/// True when no process at all (not even a zombie) is left in group `pgid`.
pub fn group_gone(pgid: i32) -> bool {
    nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pgid), None)
        == Err(nix::errno::Errno::ESRCH)
}

pub fn is_alive(pid: i32) -> bool {
    processes()
        .iter()
        .any(|(p, _, _, s)| *p == pid && *s != 'Z')
}

/// Zombie children of `ppid` (processes it failed to reap).
pub fn zombies_of(ppid: i32) -> Vec<i32> {
    processes()
        .into_iter()
        .filter(|(_, pp, _, s)| *pp == ppid && *s == 'Z')
        .map(|(p, ..)| p)
        .collect()
}

/// Live descendants' count is what tests care about: children of `ppid`.
pub fn children_of(ppid: i32) -> Vec<i32> {
    processes()
        .into_iter()
        .filter(|(_, pp, _, s)| *pp == ppid && *s != 'Z')
        .map(|(p, ..)| p)
        .collect()
}
