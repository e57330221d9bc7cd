//! Where and on which threads agent processes start.
//!
//! Starting a process blocks the calling thread until the child has exec'd
//! (vfork semantics), so it must not run on a runtime worker, where it would
//! hold up every other session's events. On `spawn_blocking` a burst of
//! turns (a hundred tabs sending at once) started a thread per start; the
//! spawner's few threads are started once and a burst waits in their queue.
//! A start that hangs in exec (a binary on a dead network mount) holds one
//! of the threads until the kernel gives up; its caller stops waiting after
//! `START_WITHIN` with an error that says so, and a child that comes after
//! that is killed, never left running unowned.

use crate::lane::Lane;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

/// Threads starting agents: each start waits for its child's exec, a
/// fraction of a millisecond, so a few threads clear a burst of hundreds.
const SPAWN_THREADS: usize = 4;
/// Starts waiting for a thread; a session beyond it waits for room.
const SPAWN_QUEUE: usize = 1024;
/// How long a start may take, queue included: an exec takes well under a
/// millisecond, a burst of a thousand a fraction of a second.
const START_WITHIN: Duration = Duration::from_secs(30);

/// Starts agent processes in the project folder. Cloning shares the threads.
#[derive(Clone)]
pub struct Spawner {
    lane: Lane<()>,
    cwd: Arc<Path>,
    start_within: Duration,
}

impl Spawner {
    /// Starts the spawner's threads; call from within the Tokio runtime the
    /// children's pipes will be read on.
    pub fn start(cwd: PathBuf) -> std::io::Result<Spawner> {
        Spawner::start_with(cwd, SPAWN_THREADS, START_WITHIN)
    }

    fn start_with(
        cwd: PathBuf,
        threads: usize,
        start_within: Duration,
    ) -> std::io::Result<Spawner> {
        Ok(Spawner {
            lane: Lane::start("swe-swe-spawn", vec![(); threads], SPAWN_QUEUE)?,
            cwd: cwd.into(),
            start_within,
        })
    }

    /// The project folder, where every agent runs.
    pub fn cwd(&self) -> &Path {
        &self.cwd
    }

    /// Starts `cmd` in the project folder; `TimedOut` if that has not
    /// happened within `START_WITHIN` (all threads held by hung starts).
    pub async fn spawn(
        &self,
        mut cmd: tokio::process::Command,
    ) -> std::io::Result<tokio::process::Child> {
        cmd.current_dir(&self.cwd);
        let (tx, rx) = oneshot::channel();
        let lane = self.lane.clone();
        // The lane's answer is only that the job ran; the child comes on
        // `rx`. Dropping this future on the timeout leaves the job queued.
        let started = async move {
            lane.run(move |_| hand_over(tx, || cmd.spawn(), abandon))
                .await
                .map_err(std::io::Error::other)?;
            rx.await.map_err(std::io::Error::other)?
        };
        match tokio::time::timeout(self.start_within, started).await {
            Ok(result) => result,
            Err(_) => Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!(
                    "the agent did not start within {} s (is its program on a stalled file system?)",
                    self.start_within.as_secs()
                ),
            )),
        }
    }
}

/// Starts a child for a caller waiting on `tx`, unless it stopped waiting.
/// Invariant: a started child reaches the caller or, when the caller gave up
/// during the start (the send hands it back), goes to `abandon`: never left
/// unowned. Generic over the child so the rule is tested without processes.
fn hand_over<C>(
    tx: oneshot::Sender<std::io::Result<C>>,
    start: impl FnOnce() -> std::io::Result<C>,
    abandon: impl FnOnce(C),
) {
    // A caller that gave up while this waited in the queue wants nothing.
    if tx.is_closed() {
        return;
    }
    if let Err(Ok(child)) = tx.send(start()) {
        abandon(child);
    }
}

/// Kills a child whose caller stopped waiting for it (its own group, as
/// every agent runs in one); Tokio reaps a dropped child that has exited.
fn abandon(mut child: tokio::process::Child) {
    if let Some(pid) = child.id() {
        super::signal_group(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    let _ = child.start_kill();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A child started on the spawner's threads runs in the folder given
    /// and its pipes are read on the caller's runtime.
    #[tokio::test]
    async fn children_start_in_the_project_folder() {
        let dir = tempfile::tempdir().unwrap();
        let spawner = Spawner::start(dir.path().to_owned()).unwrap();
        let mut cmd = tokio::process::Command::new("pwd");
        cmd.stdout(std::process::Stdio::piped());
        let child = spawner.spawn(cmd).await.unwrap();
        let out = child.wait_with_output().await.unwrap();
        let printed = String::from_utf8(out.stdout).unwrap();
        assert_eq!(
            Path::new(printed.trim()).canonicalize().unwrap(),
            dir.path().canonicalize().unwrap()
        );
    }

    /// The hand-over's three cases: a caller waiting gets the child; one
    /// gone before the start gets no start; one gone during the start
    /// leaves the child to `abandon`.
    #[test]
    fn a_child_is_handed_over_or_abandoned_never_lost() {
        let started = std::cell::Cell::new(0);
        let abandoned = std::cell::RefCell::new(Vec::new());
        let start = |n: u32| {
            let started = &started;
            move || {
                started.set(started.get() + 1);
                Ok(n)
            }
        };
        let (tx, mut rx) = oneshot::channel();
        hand_over(tx, start(1), |c| abandoned.borrow_mut().push(c));
        assert_eq!(rx.try_recv().unwrap().unwrap(), 1);

        let (tx, rx) = oneshot::channel::<std::io::Result<u32>>();
        drop(rx);
        hand_over(tx, start(2), |c| abandoned.borrow_mut().push(c));
        assert_eq!(started.get(), 1, "no start for a caller already gone");

        let (tx, rx) = oneshot::channel();
        let mut rx = Some(rx);
        let gives_up_meanwhile = || {
            drop(rx.take());
            start(3)()
        };
        hand_over(tx, gives_up_meanwhile, |c| abandoned.borrow_mut().push(c));
        assert_eq!(*abandoned.borrow(), vec![3]);
    }

    /// Tried: every spawner thread held (as by an exec hung on a dead
    /// mount). The start fails with `TimedOut` and a message instead of
    /// waiting for ever, and once the thread is free the next start works.
    #[tokio::test]
    async fn a_start_that_cannot_happen_times_out_and_the_next_one_works() {
        let dir = tempfile::tempdir().unwrap();
        let spawner =
            Spawner::start_with(dir.path().to_owned(), 1, Duration::from_millis(200)).unwrap();
        let (release, held) = std::sync::mpsc::channel::<()>();
        let (holding, taken) = oneshot::channel::<()>();
        let lane = spawner.lane.clone();
        let holder = tokio::spawn(async move {
            lane.run(move |_| {
                let _ = holding.send(());
                let _ = held.recv();
            })
            .await
        });
        tokio::time::timeout(Duration::from_secs(10), taken)
            .await
            .unwrap()
            .unwrap();
        let mut cmd = tokio::process::Command::new("touch");
        cmd.arg("started");
        let err = spawner.spawn(cmd).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
        assert!(err.to_string().contains("did not start within"), "{err}");
        release.send(()).unwrap();
        holder.await.unwrap().unwrap();
        // One thread, jobs in order: this one runs after the abandoned one.
        let mut cmd = tokio::process::Command::new("touch");
        cmd.arg("second");
        let child = spawner.spawn(cmd).await.unwrap();
        assert!(child.wait_with_output().await.unwrap().status.success());
        assert!(dir.path().join("second").exists());
        assert!(!dir.path().join("started").exists());
    }

    /// Tried: a program that does not exist. The error is the spawn's own
    /// (NotFound), and the spawner goes on starting others.
    #[tokio::test]
    async fn a_failed_start_is_its_own_error() {
        let spawner = Spawner::start(std::env::temp_dir()).unwrap();
        let missing = tokio::process::Command::new("/nonexistent/agent");
        let err = spawner.spawn(missing).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
        let ok = spawner.spawn(tokio::process::Command::new("true")).await;
        assert!(ok.unwrap().wait().await.unwrap().success());
    }
}
