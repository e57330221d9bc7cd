//! A lane: a few long-lived threads running blocking jobs from one bounded
//! queue, each thread with its own state (a database connection, or
//! nothing).
//!
//! For blocking work that comes in bursts — a thousand sessions loading at
//! once, a thousand agents starting — `spawn_blocking` starts a thread per
//! job that finds none idle (up to 512), and each start costs an mmap, a
//! guard page, a signal stack and a futex hand-over; for store reads all of
//! them then queued on the one read connection's mutex anyway. A lane does
//! the same jobs on threads started once, in order, and a burst waits in
//! its bounded queue instead.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

type Job<S> = Box<dyn FnOnce(&mut S) + Send>;

/// The lane's threads have ended (they could not start, or the job panicked
/// and took its answer with it).
#[derive(Debug, thiserror::Error)]
#[error("the {0} threads are not running")]
pub struct LaneStopped(&'static str);

/// Handle to a lane; its threads end when the last handle is dropped.
pub struct Lane<S> {
    name: &'static str,
    tx: mpsc::Sender<Job<S>>,
}

impl<S> Clone for Lane<S> {
    fn clone(&self) -> Self {
        Lane {
            name: self.name,
            tx: self.tx.clone(),
        }
    }
}

impl<S: Send + 'static> Lane<S> {
    /// One thread per element of `states`, named `name`, sharing a queue of
    /// `capacity` jobs. The threads enter the Tokio runtime current here, if
    /// any, so a job may create runtime-bound objects (child processes).
    pub fn start(
        name: &'static str,
        states: Vec<S>,
        capacity: usize,
    ) -> Result<Lane<S>, std::io::Error> {
        let (tx, rx) = mpsc::channel::<Job<S>>(capacity.max(1));
        let rx = Arc::new(Mutex::new(rx));
        let runtime = tokio::runtime::Handle::try_current().ok();
        for mut state in states {
            let rx = rx.clone();
            let runtime = runtime.clone();
            std::thread::Builder::new()
                .name(name.into())
                .spawn(move || {
                    let _entered = runtime.as_ref().map(|r| r.enter());
                    loop {
                        // Invariant: only an idle thread holds the lock, while
                        // it waits for the next job; a job runs unlocked.
                        let job = rx.lock().unwrap_or_else(|p| p.into_inner()).blocking_recv();
                        let Some(job) = job else { break };
                        // A panicking job loses only its own answer.
                        let _ = catch_unwind(AssertUnwindSafe(|| job(&mut state)));
                    }
                })?;
        }
        Ok(Lane { name, tx })
    }

    /// Runs `f` on one of the lane's threads, waiting for room in the queue
    /// first (backpressure on a burst).
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut S) -> T + Send + 'static,
    ) -> Result<T, LaneStopped> {
        let (reply, answer) = oneshot::channel();
        let job: Job<S> = Box::new(move |state| {
            let _ = reply.send(f(state));
        });
        self.tx
            .send(job)
            .await
            .map_err(|_| LaneStopped(self.name))?;
        answer.await.map_err(|_| LaneStopped(self.name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_run_on_the_lanes_state_in_order() {
        let lane = Lane::start("test-lane", vec![Vec::<u32>::new()], 2).unwrap();
        for i in 0..10 {
            lane.run(move |seen| seen.push(i)).await.unwrap();
        }
        let seen = lane.run(|seen| seen.clone()).await.unwrap();
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
    }

    /// Tried: a job that panics. Its caller gets an error, and the thread
    /// goes on with the next job.
    #[tokio::test]
    async fn a_panicking_job_fails_alone() {
        let lane = Lane::start("test-lane", vec![0u32], 2).unwrap();
        let failed = lane.run(|_| -> u32 { panic!("a job that fails") }).await;
        assert!(failed.is_err());
        assert_eq!(lane.run(|n| *n + 1).await.unwrap(), 1);
    }

    /// A burst larger than the queue waits for room; every job still runs.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_burst_waits_for_room_and_every_job_runs() {
        let lane = Lane::start("test-lane", vec![(), ()], 4).unwrap();
        let jobs = (0..200u64).map(|i| {
            let lane = lane.clone();
            tokio::spawn(async move { lane.run(move |_| i * 2).await.unwrap() })
        });
        let mut sum = 0;
        for j in jobs {
            sum += j.await.unwrap();
        }
        assert_eq!(sum, (0..200u64).map(|i| i * 2).sum::<u64>());
    }
}
