//! Where and on which threads agent processes start.
//!
//! Starting a process blocks the calling thread until the child has exec'd
//! (vfork semantics), so it must not run on a runtime worker, where it would
//! hold up every other session's events. On `spawn_blocking` a burst of
//! turns (a hundred tabs sending at once) started a thread per start; the
//! spawner's few threads are started once and a burst waits in their queue.
//! A start that hangs in exec (a binary on a dead network mount) holds one
//! of the threads until the kernel gives up.

use crate::lane::Lane;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Threads starting agents: each start waits for its child's exec, a
/// fraction of a millisecond, so a few threads clear a burst of hundreds.
const SPAWN_THREADS: usize = 4;
/// Starts waiting for a thread; a session beyond it waits for room.
const SPAWN_QUEUE: usize = 1024;

/// Starts agent processes in the project folder. Cloning shares the threads.
#[derive(Clone)]
pub struct Spawner {
    lane: Lane<()>,
    cwd: Arc<Path>,
}

impl Spawner {
    /// Starts the spawner's threads; call from within the Tokio runtime the
    /// children's pipes will be read on.
    pub fn start(cwd: PathBuf) -> std::io::Result<Spawner> {
        Ok(Spawner {
            lane: Lane::start("swe-swe-spawn", vec![(); SPAWN_THREADS], SPAWN_QUEUE)?,
            cwd: cwd.into(),
        })
    }

    /// The project folder, where every agent runs.
    pub fn cwd(&self) -> &Path {
        &self.cwd
    }

    /// Starts `cmd` in the project folder.
    pub async fn spawn(
        &self,
        mut cmd: tokio::process::Command,
    ) -> std::io::Result<tokio::process::Child> {
        cmd.current_dir(&self.cwd);
        self.lane
            .run(move |_| cmd.spawn())
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)))
    }
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
