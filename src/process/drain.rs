//! How long an agent's output readers keep reading once its group is killed.
//!
//! When the leader has exited and its group was killed, what the agent
//! printed may still be in its pipes (up to a pipe's capacity each) and in
//! the readers' hands, waiting for the session to take it. All of it must
//! reach the session however long the session takes (a store stalled on a
//! slow disk, a starved CPU): output an agent printed is never dropped. Only
//! a process that left the group (`setsid`) can hold a pipe open, or keep
//! writing to it; for that case a reader stops once it has spent its budget
//! since the kill. Time spent waiting for the session to take lines is off
//! the clock. (A fixed two seconds from the kill, which the readers had
//! before, dropped the end of a turn whenever the session was that slow.)

use std::future::Future;
use std::pin::pin;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// One reader's clock.
pub(super) struct Drain {
    /// Turns true once the group is killed (a closed channel counts too).
    killed: watch::Receiver<bool>,
    budget: Duration,
    /// Set when the reader first sees the kill; moved later by the time it
    /// then waits for the session.
    deadline: Option<Instant>,
}

impl Drain {
    pub(super) fn new(killed: watch::Receiver<bool>, budget: Duration) -> Self {
        Drain {
            killed,
            budget,
            deadline: None,
        }
    }

    /// What `read` gives, or `None` if the group was killed and the budget
    /// ran out while `read` still waited. A read that can complete does,
    /// budget or not: a pipe's last bytes and its end are always taken.
    pub(super) async fn read<T>(&mut self, read: impl Future<Output = T>) -> Option<T> {
        let mut read = pin!(read);
        if self.deadline.is_none() {
            tokio::select! {
                biased;
                out = &mut read => return Some(out),
                _ = self.killed.wait_for(|killed| *killed) => {}
            }
            self.deadline = Some(Instant::now() + self.budget);
        }
        // `timeout_at` polls the read before its timer.
        tokio::time::timeout_at(self.deadline?, read).await.ok()
    }

    /// `wait` (for the session to take lines), off the clock.
    pub(super) async fn off_the_clock<T>(&mut self, wait: impl Future<Output = T>) -> T {
        let Some(deadline) = self.deadline else {
            // Not killed yet: a kill during the wait starts the clock at
            // the next read.
            return wait.await;
        };
        let from = Instant::now();
        let out = wait.await;
        self.deadline = Some(deadline + from.elapsed());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Time is paused in these tests (`start_paused`): each sleep is the
    // clock under test moving on at once, not a wait for an event.
    const BUDGET: Duration = Duration::from_secs(2);

    /// Timers round up to the millisecond.
    fn about(elapsed: Duration, expected: Duration) -> bool {
        elapsed >= expected && elapsed < expected + Duration::from_millis(10)
    }

    /// A read still waiting when the group is killed gets the budget from
    /// then on, then `None`.
    #[tokio::test(start_paused = true)]
    async fn a_read_that_waits_past_the_budget_is_given_up() {
        let (kill, killed) = watch::channel(false);
        let mut drain = Drain::new(killed, BUDGET);
        let start = Instant::now();
        let killer = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(5)).await;
            let _ = kill.send(true);
            kill
        });
        // Tried: a pipe an escaped process holds open and never writes.
        assert_eq!(drain.read(std::future::pending::<()>()).await, None);
        let elapsed = start.elapsed();
        assert!(
            about(elapsed, Duration::from_secs(5) + BUDGET),
            "{elapsed:?}"
        );
        drop(killer.await.unwrap());
    }

    /// Bytes already there are read whatever the clock says; a read that
    /// finishes within the budget is kept.
    #[tokio::test(start_paused = true)]
    async fn a_read_that_can_complete_does() {
        let (_kill, killed) = watch::channel(true);
        let mut drain = Drain::new(killed, BUDGET);
        assert_eq!(drain.read(async { 1 }).await, Some(1));
        let within = tokio::time::sleep(BUDGET / 2);
        assert_eq!(
            drain
                .read(async {
                    within.await;
                    2
                })
                .await,
            Some(2)
        );
        tokio::time::sleep(BUDGET * 3).await;
        assert_eq!(drain.read(async { 3 }).await, Some(3));
        assert_eq!(drain.read(std::future::pending::<u8>()).await, None);
    }

    /// Tried: a session that takes ten budgets to take each batch. The
    /// reads after it have the budget less what the reads themselves
    /// waited, no less.
    #[tokio::test(start_paused = true)]
    async fn waiting_for_the_session_is_off_the_clock() {
        let (_kill, killed) = watch::channel(true);
        let mut drain = Drain::new(killed, BUDGET);
        let read = |share: u32| tokio::time::sleep(BUDGET * share / 100);
        for _ in 0..3 {
            assert!(drain.read(read(30)).await.is_some());
            drain.off_the_clock(tokio::time::sleep(BUDGET * 10)).await;
        }
        // 90 % of the budget is spent: 5 % more fits, 10 % does not.
        assert!(drain.read(read(5)).await.is_some());
        assert_eq!(drain.read(read(10)).await, None);
    }

    /// A kill channel whose sender is gone (the run task ended) counts as
    /// the kill: the reader does not wait for ever.
    #[tokio::test(start_paused = true)]
    async fn a_closed_kill_channel_starts_the_clock() {
        let (kill, killed) = watch::channel(false);
        drop(kill);
        let mut drain = Drain::new(killed, BUDGET);
        assert_eq!(drain.read(std::future::pending::<()>()).await, None);
    }
}
