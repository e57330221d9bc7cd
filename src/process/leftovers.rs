//! Start-up clean-up after a server that was killed before it could stop
//! its agents: their process groups are recorded in the store; here they
//! are recognised (pid and start time), killed, and waited for.

use super::signal_group;
use nix::sys::signal::Signal;
use nix::unistd::Pid;
use std::time::Duration;

/// When process `pid` started, in clock ticks since boot (/proc/PID/stat
/// field 22): with the pid, it names one process across pid reuse.
pub fn start_ticks(pid: i32) -> Option<u64> {
    stat_fields(&format!("/proc/{pid}/stat"))?
        .get(19)?
        .parse()
        .ok()
}

/// Clock ticks since boot now, on the clock and in the unit of
/// /proc/PID/stat's start time. Read just after a child was started, it
/// bounds the child's start from above, for the price of a clock read:
/// reading the child's /proc/PID/stat was ~5 % of the runtime's CPU at a
/// turn of one line.
pub fn ticks_since_boot() -> Option<u64> {
    use nix::time::{clock_gettime, ClockId};
    let now = clock_gettime(ClockId::CLOCK_BOOTTIME).ok()?;
    let ns =
        u64::try_from(now.tv_sec()).ok()? * 1_000_000_000 + u64::try_from(now.tv_nsec()).ok()?;
    // USER_HZ (100): the kernel divides nanoseconds by 10^9 / USER_HZ.
    let per_tick = 1_000_000_000 / rustix::param::clock_ticks_per_second().max(1);
    Some(ns / per_tick.max(1))
}

/// The fields of a /proc/PID/stat after the command name (which may hold
/// spaces and parentheses): state first.
fn stat_fields(path: &str) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(path).ok()?;
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

/// Kills agent process groups a previous server left behind (it was killed
/// before it could stop them). Each is recorded as its leader's pid and a
/// time by which the leader had started (`ticks_since_boot` just after the
/// start). A group is ours if the process holding that pid started no
/// later than that: the leader held the pid from its start until it was
/// reaped, and we reaped it only after recording the time, so any other
/// holder started later. (Ticks are 10 ms: a holder started within the
/// same tick after the reap is not told apart; nor was it when the exact
/// start was recorded.) Or the leader is gone: the kernel does not hand
/// out a pid while it still names a process group, so members of a group
/// whose leader pid is free are that group's orphans. A pid reused by an
/// unrelated process (started later) is left alone.
pub fn kill_leftovers(leftovers: &[(i32, u64)]) -> usize {
    let mut killed = Vec::new();
    for &(pgid, ticks) in leftovers {
        let leader = start_ticks(pgid);
        if leader.is_none_or(|started| started <= ticks) {
            tracing::warn!(
                pgid,
                "killing an agent process group left by a previous swe-swe"
            );
            signal_group(Pid::from_raw(pgid), Signal::SIGKILL);
            killed.push(pgid);
        }
    }
    // SIGKILL is delivered asynchronously and these are not our children,
    // so no wait() tells when they are gone: wait on a pidfd per member,
    // bounded, so the server only starts serving once the old agents are dead.
    if !wait_exited(&group_members(&killed), Duration::from_secs(2)) {
        tracing::error!(
            ?killed,
            "left-over agent groups still alive 2 s after SIGKILL"
        );
    }
    killed.len()
}

/// The live (not zombie) processes of the groups `pgids`. Read once after
/// the groups were sent SIGKILL: a process killed while forking makes no
/// child, so these are all the members there will be.
fn group_members(pgids: &[i32]) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| {
            let pid: i32 = e.file_name().to_str()?.parse().ok()?;
            let fields = stat_fields(&format!("/proc/{pid}/stat"))?;
            let (state, pgrp) = (fields.first()?, fields.get(2)?.parse::<i32>().ok()?);
            (pgids.contains(&pgrp) && state != "Z").then_some(pid)
        })
        .collect()
}

/// Waits until every process in `pids` has exited (its pidfd turns
/// readable), at most `within`; false if some are still running then.
fn wait_exited(pids: &[i32], within: Duration) -> bool {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    use rustix::process::{pidfd_open, Pid as RPid, PidfdFlags};
    // A pid that cannot be opened has already gone.
    let mut fds: Vec<_> = pids
        .iter()
        .filter_map(|&p| pidfd_open(RPid::from_raw(p)?, PidfdFlags::empty()).ok())
        .collect();
    let deadline = std::time::Instant::now() + within;
    while !fds.is_empty() {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let timeout = match Timespec::try_from(left) {
            Ok(t) if !left.is_zero() => t,
            _ => return false,
        };
        let mut polled: Vec<PollFd<'_>> =
            fds.iter().map(|f| PollFd::new(f, PollFlags::IN)).collect();
        match poll(&mut polled, Some(&timeout)) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => {
                tracing::warn!("waiting for left-over agents: {e}");
                return false;
            }
        }
        let exited: Vec<bool> = polled.iter().map(|p| !p.revents().is_empty()).collect();
        drop(polled);
        fds = fds
            .into_iter()
            .zip(exited)
            .filter_map(|(fd, gone)| (!gone).then_some(fd))
            .collect();
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::signal::Signal;
    use std::os::unix::process::{CommandExt, ExitStatusExt};

    /// The identity rule on real processes. Tried: a group recorded with
    /// the clock read just after its start (ours: killed), and one whose
    /// record is older than the process now holding the pid (a reused
    /// pid: left alone).
    #[test]
    fn a_group_is_killed_only_if_its_leader_started_by_the_recorded_time() {
        let start = || {
            std::process::Command::new("sleep")
                .arg("30")
                .process_group(0)
                .spawn()
                .expect("sleep runs")
        };
        let mut ours = start();
        let recorded = ticks_since_boot().expect("the boot clock");
        let pid = ours.id() as i32;
        let started = start_ticks(pid).expect("its stat");
        assert!(started <= recorded, "{started} > {recorded}");
        assert_eq!(kill_leftovers(&[(pid, recorded)]), 1);
        assert!(ours.wait().expect("reaped").signal().is_some(), "killed");

        let mut other = start();
        let pid = other.id() as i32;
        let before = start_ticks(pid).expect("its stat") - 1;
        assert_eq!(
            kill_leftovers(&[(pid, before)]),
            0,
            "a later process keeps the pid"
        );
        assert!(other.try_wait().expect("alive").is_none(), "left alone");
        signal_group(Pid::from_raw(pid), Signal::SIGKILL);
        other.wait().expect("reaped");
    }

    #[test]
    fn waiting_for_left_over_processes_ends_when_they_exit_or_at_the_bound() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .process_group(0)
            .spawn()
            .expect("sleep runs");
        let pid = child.id() as i32;
        assert_eq!(
            group_members(&[pid]),
            [pid],
            "the leader is its group's member"
        );
        let started = std::time::Instant::now();
        assert!(
            !wait_exited(&[pid], Duration::from_millis(100)),
            "still running"
        );
        assert!(
            started.elapsed() >= Duration::from_millis(100),
            "the bound is kept"
        );
        signal_group(Pid::from_raw(pid), Signal::SIGKILL);
        assert!(wait_exited(&[pid], Duration::from_secs(5)), "seen to exit");
        assert!(group_members(&[pid]).is_empty(), "a zombie is not a member");
        child.wait().expect("reaped");
    }
}
