//! How an agent's output reaches its session: the queue and the byte
//! budget lines wait for, and the readers of the agent's stdout and stderr
//! (each until its pipe's end, or its `Drain` budget after the group kill,
//! or the session is gone).

use super::drain::Drain;
use super::line_reader::{LineOut, LineReader};
use crate::session::state::{AgentEvent, ProcId};
use std::sync::Arc;
use tokio::io::AsyncRead;
use tokio::sync::mpsc;

/// Longest stderr line kept; stderr is for humans.
const STDERR_LINE_CAP: usize = 64 * 1024;

/// Where a session's agents send their events, with a byte budget for the
/// output lines in flight: a reader waits for room before handing a line
/// over, and the session gives the room back once it has made the line into
/// events. A count bound alone let 256 lines of 8 MiB wait in the queue.
#[derive(Clone)]
pub struct AgentEvents {
    pub tx: mpsc::Sender<(ProcId, AgentEvent)>,
    pub line_bytes: Arc<tokio::sync::Semaphore>,
    units: usize,
}

/// Units of the line budget: KiB, so a budget in bytes fits a semaphore.
const LINE_BUDGET_UNIT: usize = 1024;

/// What a line of `len` bytes takes from a budget of `total` units.
fn line_units(len: usize, total: usize) -> u32 {
    (len / LINE_BUDGET_UNIT + 1)
        .min(total)
        .min(u32::MAX as usize) as u32
}

/// What lines of these lengths handed over together take: their units,
/// at most the whole budget (so a batch can always be had).
fn lines_units(lens: impl IntoIterator<Item = usize>, total: usize) -> u32 {
    let sum: u64 = lens
        .into_iter()
        .map(|len| u64::from(line_units(len, total)))
        .sum();
    sum.min(total as u64).min(u64::from(u32::MAX)) as u32
}

/// Lines handed over in one event at most (the actor's burst).
const LINE_BATCH: usize = 64;

impl AgentEvents {
    pub fn new(tx: mpsc::Sender<(ProcId, AgentEvent)>, budget_bytes: usize) -> Self {
        let units = (budget_bytes / LINE_BUDGET_UNIT).max(1);
        AgentEvents {
            tx,
            line_bytes: Arc::new(tokio::sync::Semaphore::new(units)),
            units,
        }
    }

    /// Units the budget holds in all.
    pub fn total_units(&self) -> usize {
        self.units
    }

    /// Gives back what lines of these lengths took (the session handled
    /// them): once for a batch, as it was taken.
    pub fn lines_done(&self, lens: impl IntoIterator<Item = usize>) {
        self.line_bytes
            .add_permits(lines_units(lens, self.units) as usize);
    }

    pub(super) async fn send(&self, ev: (ProcId, AgentEvent)) -> Result<(), ()> {
        self.tx.send(ev).await.map_err(drop)
    }
}

/// Hands the agent's stdout to the session a burst of lines at a time.
pub(super) async fn read_stdout(
    id: ProcId,
    out: impl AsyncRead + Unpin,
    events: AgentEvents,
    cap: usize,
    mut drain: Drain,
) {
    let units = events.total_units();
    let mut r = LineReader::new(out, 64 * 1024, cap);
    loop {
        let line = match drain.read(r.next_line()).await {
            Some(Ok(Some(line))) => line,
            Some(_) => return, // the pipe's end, or a read error
            None => return still_open(id),
        };
        let (ev, need) = match line {
            LineOut::Line(l) => {
                // The lines this read already brought come along: at a
                // burst, one queue slot and one budget take instead of one
                // of each per line (those were ~10 % of the runtime's CPU at
                // the load tool's turn). Room for a whole batch: a burst's
                // list is not regrown (and copied) five times on its way to
                // 64.
                let mut lines = Vec::with_capacity(LINE_BATCH);
                lines.push(l);
                while lines.len() < LINE_BATCH {
                    match r.buffered_line() {
                        Some(LineOut::Line(l)) => lines.push(l),
                        _ => break,
                    }
                }
                let need = lines_units(lines.iter().map(String::len), units);
                let ev = if lines.len() == 1 {
                    AgentEvent::Line(lines.pop().expect("one line"))
                } else {
                    AgentEvent::Lines(lines)
                };
                (ev, need)
            }
            LineOut::TooLong { len } => (AgentEvent::LineTooLong { len, limit: cap }, 0),
        };
        // Backpressure, in bytes and in the queue: a session that cannot
        // keep up slows the agent (it gives the units back once the lines
        // are handled; see `Actor::on_agent_event`).
        let handed = drain
            .off_the_clock(async {
                if need > 0 {
                    match events.line_bytes.try_acquire_many(need) {
                        Ok(p) => p.forget(),
                        Err(_) => match events.line_bytes.acquire_many(need).await {
                            Ok(p) => p.forget(),
                            Err(_) => return false,
                        },
                    }
                }
                events.send((id, ev)).await.is_ok()
            })
            .await;
        if !handed {
            return;
        }
    }
}

/// Hands the agent's stderr to the session a line at a time.
pub(super) async fn read_stderr(
    id: ProcId,
    err: impl AsyncRead + Unpin,
    events: AgentEvents,
    mut drain: Drain,
) {
    let mut r = LineReader::new(err, 8 * 1024, STDERR_LINE_CAP);
    loop {
        let text = match drain.read(r.next_line()).await {
            Some(Ok(Some(LineOut::Line(l)))) => l,
            Some(Ok(Some(LineOut::TooLong { len }))) => {
                format!("[stderr line of {len} bytes skipped]")
            }
            Some(_) => return,
            None => return still_open(id),
        };
        let ev = (id, AgentEvent::Stderr(text));
        if drain.off_the_clock(events.send(ev)).await.is_err() {
            return;
        }
    }
}

/// A reader gave up on a pipe that stayed open after the group was killed.
fn still_open(id: ProcId) {
    tracing::warn!(
        proc = id.0,
        "agent output still open after its group was killed; abandoning it"
    );
}
