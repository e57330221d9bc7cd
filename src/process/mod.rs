//! The run task: the only owner of an agent process.
//!
//! The agent is started in a process group of its own. Only this task holds
//! the `Child`; the session talks to it through a bounded control channel, so
//! no pid is ever copied out and signalled later (seed race 2). Signals go to
//! the group, and only while the group leader is unreaped: we wait for the
//! leader's pidfd to turn readable (or, on a kernel without pidfds, for
//! `waitid(WNOWAIT)`), which leaves it a zombie, kill what is left
//! of its group, and only then reap it. An unreaped leader keeps its pid and
//! pgid from being reused, so a signal can never reach an unrelated process.

mod drain;
pub mod leftovers;
pub mod line_reader;
mod output;
pub mod spawner;

pub use leftovers::{kill_leftovers, start_ticks, ticks_since_boot};
pub use output::AgentEvents;
pub use spawner::Spawner;

use crate::agent::{SpawnSpec, StdinMode};
use crate::session::state::{AgentEvent, ProcId};
use drain::Drain;
use nix::sys::signal::{killpg, Signal};
use nix::sys::wait::{waitid, Id, WaitPidFlag};
use nix::unistd::Pid;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::task::TaskTracker;

/// How long an output reader waits on its pipe once the group is killed
/// (`drain.rs`): only a process that left the group (setsid) can hold a
/// pipe open that long. Time waiting for the session is not counted.
pub const OUTPUT_DRAIN: Duration = Duration::from_secs(2);
/// Stdin frames waiting to be written (user turns, permission answers).
const STDIN_QUEUE: usize = 64;

#[derive(Debug, Clone)]
pub struct ProcLimits {
    pub max_line_bytes: usize,
    /// Used when the session disappears without saying how to stop.
    pub default_grace: Duration,
    /// How long a reader may wait on its pipe after the group kill:
    /// `OUTPUT_DRAIN`, shorter in tests.
    pub output_drain: Duration,
}

#[derive(Debug)]
pub enum Control {
    /// SIGINT now, SIGTERM after half of `grace`, SIGKILL at `grace`.
    Terminate { grace: Duration },
}

/// The session's side of a run task.
#[derive(Debug)]
pub struct ProcHandle {
    pub control: mpsc::Sender<Control>,
    pub stdin: Option<mpsc::Sender<String>>,
}

/// Starts the run task for `spec`. Its events arrive on `events`, ending with
/// exactly one `Exited` or `SpawnFailed`.
pub fn spawn_run(
    tracker: &TaskTracker,
    id: ProcId,
    spec: Arc<SpawnSpec>,
    spawner: &Spawner,
    events: AgentEvents,
    limits: ProcLimits,
) -> ProcHandle {
    let (control_tx, control_rx) = mpsc::channel(8);
    let (stdin_tx, stdin_rx) = match &spec.stdin {
        StdinMode::Open => {
            let (tx, rx) = mpsc::channel(STDIN_QUEUE);
            (Some(tx), Some(rx))
        }
        _ => (None, None),
    };
    tracker.spawn(run(
        id,
        spec,
        spawner.clone(),
        events,
        limits,
        control_rx,
        stdin_rx,
    ));
    ProcHandle {
        control: control_tx,
        stdin: stdin_tx,
    }
}

async fn run(
    id: ProcId,
    spec: Arc<SpawnSpec>,
    spawner: Spawner,
    events: AgentEvents,
    limits: ProcLimits,
    mut control: mpsc::Receiver<Control>,
    stdin_rx: Option<mpsc::Receiver<String>>,
) {
    let mut cmd = tokio::process::Command::new(&spec.program);
    cmd.args(&spec.args)
        .process_group(0)
        .stdin(match spec.stdin {
            StdinMode::Null => Stdio::null(),
            _ => Stdio::piped(),
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(false);
    // The access token is for browsers, never for the agent. Removed only
    // where it is set: any change to the environment makes every spawn copy
    // the whole of it (std builds a new one, ~10 % of an agent start).
    if std::env::var_os("SWE_SWE_TOKEN").is_some() {
        cmd.env_remove("SWE_SWE_TOKEN");
    }
    let mut child = match spawner.spawn(cmd).await {
        Ok(c) => c,
        Err(e) => {
            let error = match e.kind() {
                std::io::ErrorKind::NotFound => format!("{:?} was not found", spec.program),
                std::io::ErrorKind::PermissionDenied => {
                    format!("{:?} is not executable (permission denied)", spec.program)
                }
                _ => e.to_string(),
            };
            let _ = events.send((id, AgentEvent::SpawnFailed { error })).await;
            return;
        }
    };
    let Some(raw_pid) = child.id() else {
        let _ = events
            .send((
                id,
                AgentEvent::SpawnFailed {
                    error: "the process vanished at start".into(),
                },
            ))
            .await;
        return;
    };
    let pid = Pid::from_raw(raw_pid as i32);
    // After the start returned: the leader started no later than this.
    let started_by = ticks_since_boot();
    let _ = events
        .send((
            id,
            AgentEvent::Started {
                pid: pid.as_raw(),
                started_by,
            },
        ))
        .await;
    // The command holds the prompt: escaped, and only at debug level.
    tracing::debug!(proc = id.0, pid = raw_pid, command = %crate::log_safe::log_safe(&spec.display()), "agent started");

    // Turned on once the group is killed: from then on each reader's
    // `Drain` clock runs.
    let (kill, killed) = tokio::sync::watch::channel(false);
    let mut io = JoinSet::new();
    if let Some(out) = child.stdout.take() {
        let drain = Drain::new(killed.clone(), limits.output_drain);
        io.spawn(output::read_stdout(
            id,
            out,
            events.clone(),
            limits.max_line_bytes,
            drain,
        ));
    }
    if let Some(err) = child.stderr.take() {
        let drain = Drain::new(killed, limits.output_drain);
        io.spawn(output::read_stderr(id, err, events.clone(), drain));
    }
    let mut stdin_task = JoinSet::new();
    if let Some(mut stdin) = child.stdin.take() {
        match (&spec.stdin, stdin_rx) {
            (StdinMode::Once(text), _) => {
                let text = text.clone();
                stdin_task.spawn(async move {
                    let _ = stdin.write_all(text.as_bytes()).await;
                    let _ = stdin.shutdown().await;
                });
            }
            (_, Some(mut rx)) => {
                stdin_task.spawn(async move {
                    while let Some(mut line) = rx.recv().await {
                        line.push('\n');
                        if stdin.write_all(line.as_bytes()).await.is_err()
                            || stdin.flush().await.is_err()
                        {
                            break; // the agent closed its stdin or died
                        }
                    }
                });
            }
            _ => {}
        }
    }

    // Resolves when the leader has exited, leaving it unreaped.
    let leader_exit = leader_exited(pid);
    tokio::pin!(leader_exit);
    let mut terminating = false;
    // The next escalation step: when, which signal, and the step after it.
    let mut next: Option<(Instant, Signal, Duration)> = None;
    loop {
        let deadline = next.map(|(at, _, _)| at);
        tokio::select! {
            _ = &mut leader_exit => break,
            msg = control.recv(), if !terminating => {
                let grace = match msg {
                    Some(Control::Terminate { grace }) => grace,
                    // The session is gone: nobody will read this agent's output.
                    None => limits.default_grace,
                };
                terminating = true;
                signal_group(pid, Signal::SIGINT);
                next = Some((Instant::now() + grace / 2, Signal::SIGTERM, grace / 2));
            }
            _ = sleep_until_opt(deadline), if deadline.is_some() => {
                if let Some((_, sig, step)) = next.take() {
                    signal_group(pid, sig);
                    if sig == Signal::SIGTERM {
                        next = Some((Instant::now() + step, Signal::SIGKILL, step));
                    }
                }
            }
        }
    }
    // The leader is a zombie: the group id is still ours. Kill what is left of
    // the group (grandchildren), then reap the leader.
    signal_group(pid, Signal::SIGKILL);
    let status = child.wait().await;
    stdin_task.abort_all();
    let _ = kill.send(true);
    // Each reader ends at its pipe's end, or when an escaped process held
    // the pipe past its `Drain` budget; a session that is gone (it gives
    // no more room in the line budget) ends them all.
    tokio::select! {
        _ = async { while io.join_next().await.is_some() {} } => {}
        _ = events.tx.closed() => io.abort_all(),
    }
    let (code, signal) = match status {
        Ok(s) => (s.code(), s.signal()),
        Err(e) => {
            tracing::error!(proc = id.0, error = %e, "could not reap agent");
            (None, None)
        }
    };
    tracing::debug!(proc = id.0, ?code, ?signal, "agent exited");
    let _ = events.send((id, AgentEvent::Exited { code, signal })).await;
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Signals the whole process group; "no such process" means it is already gone.
fn signal_group(pgid: Pid, sig: Signal) {
    match killpg(pgid, sig) {
        Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
        Err(e) => tracing::warn!(pgid = pgid.as_raw(), ?sig, error = %e, "killpg failed"),
    }
}

/// Resolves when `pid` (our unreaped child) has exited, without reaping it.
/// Its pidfd turns readable then: no thread per agent (a blocking-pool
/// thread waiting in `waitid` was one thread start and two hand-overs per
/// turn). Where the kernel has no pidfd, a blocking-pool thread waits.
async fn leader_exited(pid: Pid) {
    use rustix::process::{pidfd_open, Pid as RPid, PidfdFlags};
    use tokio::io::unix::AsyncFd;
    use tokio::io::Interest;
    // `with_interest` is deprecated as unsound for a `T` that may hand out a
    // descriptor it does not own; an `OwnedFd` stays open and the same until
    // the `AsyncFd` (which deregisters it first) drops it. Its replacement
    // is `unsafe`, which this crate forbids.
    #[allow(deprecated)]
    let pidfd = RPid::from_raw(pid.as_raw())
        .and_then(|p| pidfd_open(p, PidfdFlags::empty()).ok())
        .and_then(|fd| AsyncFd::with_interest(fd, Interest::READABLE).ok());
    if let Some(fd) = pidfd {
        if fd.readable().await.is_ok() {
            return;
        }
    }
    exited_without_pidfd(pid).await;
}

/// `leader_exited` where pidfds are refused (Linux before 5.3, or a
/// seccomp filter, as some container runtimes install, that answers
/// ENOSYS or EPERM): a blocking-pool thread waits.
async fn exited_without_pidfd(pid: Pid) {
    let _ = tokio::task::spawn_blocking(move || wait_without_reaping(pid)).await;
}

/// Blocks until `pid` has exited, without reaping it.
fn wait_without_reaping(pid: Pid) {
    loop {
        match waitid(Id::Pid(pid), WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT) {
            Err(nix::errno::Errno::EINTR) => continue,
            _ => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::pin::pin;

    /// The state letter `/proc` gives `pid` (`Z`: exited, not reaped),
    /// `None` once it is reaped.
    fn state(pid: Pid) -> Option<char> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        stat.rsplit_once(") ")?.1.chars().next()
    }

    /// One way of waiting for the leader, with a kernel that has pidfds
    /// and as on one without: it resolves only once the leader has
    /// exited, and leaves it unreaped (its pid, and so its group id,
    /// cannot be reused while the group is killed); reaping it afterwards
    /// gives its status.
    async fn waits_and_leaves_a_zombie<F: Future<Output = ()>>(wait: impl FnOnce(Pid) -> F) {
        let mut child = tokio::process::Command::new("sh")
            .args(["-c", "read line; exit 3"])
            .stdin(Stdio::piped())
            .process_group(0)
            .spawn()
            .expect("sh starts");
        let pid = Pid::from_raw(child.id().expect("running") as i32);
        let mut exited = pin!(wait(pid));
        // Tried: waiting while the leader still runs (it reads its stdin).
        assert!(
            tokio::time::timeout(Duration::from_millis(50), &mut exited)
                .await
                .is_err(),
            "the wait ended while the leader runs"
        );
        drop(child.stdin.take()); // end of input: `sh` exits with 3
        tokio::time::timeout(Duration::from_secs(20), &mut exited)
            .await
            .expect("the leader's exit is seen");
        assert_eq!(state(pid), Some('Z'), "the wait must not reap the leader");
        let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
            .await
            .expect("reaped")
            .expect("its status");
        assert_eq!(status.code(), Some(3));
        assert_eq!(state(pid), None);
    }

    /// Starts `sh -c script` as an agent whose events come on the returned
    /// receiver (a queue of four, a line budget of 64 KiB), with readers
    /// that may wait `drain` on a pipe once the group is killed. The handle
    /// must be held: dropping it stops the agent, as a session that is gone.
    fn run_script(
        script: &str,
        drain: Duration,
    ) -> (
        mpsc::Receiver<(ProcId, AgentEvent)>,
        AgentEvents,
        ProcHandle,
    ) {
        let (tx, rx) = mpsc::channel(4);
        let events = AgentEvents::new(tx, 64 * 1024);
        let spec = Arc::new(SpawnSpec {
            program: "sh".into(),
            args: vec!["-c".into(), script.into()],
            stdin: StdinMode::Null,
        });
        let limits = ProcLimits {
            max_line_bytes: 1 << 20,
            default_grace: Duration::from_secs(1),
            output_drain: drain,
        };
        let spawner = Spawner::start(std::env::temp_dir()).expect("spawner");
        let handle = spawn_run(
            &TaskTracker::new(),
            ProcId(1),
            spec,
            &spawner,
            events.clone(),
            limits,
        );
        (rx, events, handle)
    }

    /// The next event, as a session takes it (giving the line budget back).
    async fn next(
        rx: &mut mpsc::Receiver<(ProcId, AgentEvent)>,
        events: &AgentEvents,
    ) -> AgentEvent {
        let (_, ev) = tokio::time::timeout(Duration::from_secs(20), rx.recv())
            .await
            .expect("an event within 20 s")
            .expect("the run task sends until Exited");
        match &ev {
            AgentEvent::Line(l) => events.lines_done([l.len()]),
            AgentEvent::Lines(ls) => events.lines_done(ls.iter().map(String::len)),
            _ => {}
        }
        ev
    }

    /// Tried: an agent prints 10,000 lines (far more than the session's
    /// queue and line budget hold; less than its pipe, so it can exit) and
    /// exits while its session is busy for five times the drain budget (as
    /// a store stalled on a slow disk, or a starved CPU, makes it). Every
    /// line still reaches the session, in order, before `Exited`. (Fails
    /// with a fixed drain timeout from the kill: the readers were given up
    /// while they waited for the session, and the turn's end was lost.)
    #[tokio::test]
    async fn a_slow_session_gets_every_line_of_an_agent_that_exited() {
        let drain = Duration::from_millis(100);
        let (mut rx, events, _handle) = run_script("seq 1 10000", drain);
        let AgentEvent::Started { pid, .. } = next(&mut rx, &events).await else {
            panic!("Started comes first");
        };
        tokio::time::timeout(Duration::from_secs(20), leader_exited(Pid::from_raw(pid)))
            .await
            .expect("seq exits: its output fits its pipe");
        // The session is busy: this wait is the slowness under test.
        tokio::time::sleep(drain * 5).await;
        let mut lines = Vec::new();
        loop {
            match next(&mut rx, &events).await {
                AgentEvent::Line(l) => lines.push(l),
                AgentEvent::Lines(ls) => lines.extend(ls),
                AgentEvent::Exited { code, .. } => {
                    assert_eq!(code, Some(0));
                    break;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        let expected: Vec<String> = (1..=10_000).map(|n| n.to_string()).collect();
        assert_eq!(lines.len(), expected.len(), "lines lost");
        assert!(lines == expected, "lines out of order");
    }

    /// Tried: the agent leaves a process of its own session (`setsid`)
    /// holding its stdout and stderr open, and exits. The turn still ends
    /// once the readers' drain budget is spent, not when that process
    /// does (in 30 s), and what the agent printed arrives first.
    #[tokio::test]
    async fn an_escaped_process_holding_the_pipes_does_not_hold_the_turn() {
        let dir = tempfile::tempdir().expect("temp dir");
        let pidfile = dir.path().join("escaped.pid");
        let script = format!(
            "setsid sh -c 'echo $$ > {}; exec sleep 30' & echo printed",
            pidfile.display()
        );
        let (mut rx, events, _handle) = run_script(&script, Duration::from_millis(200));
        let start = std::time::Instant::now();
        let mut printed = Vec::new();
        loop {
            match next(&mut rx, &events).await {
                AgentEvent::Line(l) => printed.push(l),
                AgentEvent::Lines(ls) => printed.extend(ls),
                AgentEvent::Exited { .. } => break,
                _ => {}
            }
        }
        let took = start.elapsed();
        if let Some(pid) = std::fs::read_to_string(&pidfile)
            .ok()
            .and_then(|p| p.trim().parse::<i32>().ok())
        {
            let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        assert_eq!(printed, ["printed"]);
        assert!(took < Duration::from_secs(10), "the turn waited {took:?}");
    }

    #[tokio::test]
    async fn the_leader_is_waited_for_unreaped_with_a_pidfd() {
        waits_and_leaves_a_zombie(leader_exited).await;
    }

    #[tokio::test]
    async fn the_leader_is_waited_for_unreaped_without_a_pidfd() {
        waits_and_leaves_a_zombie(exited_without_pidfd).await;
    }
}
