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

/// The fields of a /proc/PID/stat after the command name (which may hold
/// spaces and parentheses): state first.
fn stat_fields(path: &str) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(path).ok()?;
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

/// Kills agent process groups a previous server left behind (it was killed
/// before it could stop them). A group is ours if its leader is the very
/// process recorded (same pid, same start time), or if the leader is gone:
/// the kernel does not hand out a pid while it still names a process group,
/// so members of a group whose leader pid is free are that group's orphans.
/// A pid reused by an unrelated process (different start time) is left alone.
pub fn kill_leftovers(leftovers: &[(i32, u64)]) -> usize {
    let mut killed = Vec::new();
    for &(pgid, ticks) in leftovers {
        let leader = start_ticks(pgid);
        if leader == Some(ticks) || leader.is_none() {
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
    use std::os::unix::process::CommandExt;

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
