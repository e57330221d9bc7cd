//! Server-wide agent slots (`--max-agents`). Every live agent process holds
//! a slot (a `SlotGuard`, given back when dropped). A turn that finds none
//! free waits in a FIFO queue, told its position as it changes, instead of
//! failing; and an agent process with no turn (a duplex session between
//! turns) is asked to end — least recently used first — as soon as anyone
//! waits, so only agents in a turn really keep others waiting. The session
//! whose idle agent ended resumes its conversation when next used.
//!
//! Invariant: the mutex is held only to update the counts and queues, never
//! across an `.await`, and no `SlotGuard` is dropped while it is held (a
//! drop takes it again).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use tokio::sync::{oneshot, watch, Notify};

pub struct AgentSlots {
    cap: usize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Slots given out (live guards).
    held: usize,
    /// Guards whose process has no turn, oldest first by `since`.
    idle: Vec<Idle>,
    waiting: VecDeque<Waiter>,
    next_id: u64,
}

struct Idle {
    guard: u64,
    since: u64,
    /// Notified to ask the session to end its idle agent.
    release: Arc<Notify>,
    asked: bool,
}

struct Waiter {
    ticket: u64,
    grant: oneshot::Sender<SlotGuard>,
    /// Waiters ahead of this one.
    position: watch::Sender<usize>,
}

/// One agent's slot; dropping it frees the slot for the next waiter.
pub struct SlotGuard {
    slots: Arc<AgentSlots>,
    id: u64,
}

/// A place in the queue; dropping it (a stop while waiting) leaves it.
pub struct Ticket {
    slots: Arc<AgentSlots>,
    id: u64,
    pub granted: oneshot::Receiver<SlotGuard>,
    /// Waiters ahead of this one; changes as they get slots or leave.
    pub position: watch::Receiver<usize>,
}

pub enum Acquired {
    Now(SlotGuard),
    Queued(Ticket),
}

impl AgentSlots {
    pub fn new(cap: usize) -> Arc<Self> {
        Arc::new(AgentSlots {
            cap: cap.max(1),
            inner: Mutex::new(Inner::default()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A slot now, or a place in the queue (which asks an idle agent to
    /// make room).
    pub fn acquire(self: &Arc<Self>) -> Acquired {
        let mut inner = self.lock();
        inner.next_id += 1;
        let id = inner.next_id;
        if inner.held < self.cap && inner.waiting.is_empty() {
            inner.held += 1;
            return Acquired::Now(SlotGuard {
                slots: self.clone(),
                id,
            });
        }
        let (grant, granted) = oneshot::channel();
        let (position_tx, position) = watch::channel(inner.waiting.len());
        inner.waiting.push_back(Waiter {
            ticket: id,
            grant,
            position: position_tx,
        });
        ask_idle(&mut inner);
        Acquired::Queued(Ticket {
            slots: self.clone(),
            id,
            granted,
            position,
        })
    }

    /// Slots given out now.
    pub fn held(&self) -> usize {
        self.lock().held
    }

    /// Turns waiting for a slot now.
    pub fn waiting(&self) -> usize {
        self.lock().waiting.len()
    }

    /// A slot came back: hand it to the first waiter still there.
    fn release(self: &Arc<Self>, id: u64) {
        let next = {
            let mut inner = self.lock();
            inner.held -= 1;
            inner.idle.retain(|i| i.guard != id);
            let next = inner.waiting.pop_front();
            if next.is_some() {
                inner.held += 1;
                inner.next_id += 1;
                tell_positions(&inner);
            }
            next.map(|w| (w, inner.next_id))
        };
        if let Some((waiter, id)) = next {
            let guard = SlotGuard {
                slots: self.clone(),
                id,
            };
            // If the waiter is gone the guard comes back here, unlocked,
            // and goes to the next one.
            let _ = waiter.grant.send(guard);
        }
    }
}

impl SlotGuard {
    /// Whether this slot's process is between turns: an idle one is asked
    /// to end (through `release`) when someone waits for a slot.
    pub fn set_idle(&self, idle: bool, release: &Arc<Notify>, now_ms: u64) {
        let mut inner = self.slots.lock();
        let known = inner.idle.iter().position(|i| i.guard == self.id);
        match (idle, known) {
            (true, None) => {
                inner.idle.push(Idle {
                    guard: self.id,
                    since: now_ms,
                    release: release.clone(),
                    asked: false,
                });
                ask_idle(&mut inner);
            }
            (false, Some(i)) => {
                let was_asked = inner.idle.remove(i).asked;
                if was_asked {
                    // It got a turn instead of ending: ask another.
                    ask_idle(&mut inner);
                }
            }
            _ => {}
        }
    }
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        self.slots.release(self.id);
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut inner = self.slots.lock();
        let before = inner.waiting.len();
        inner.waiting.retain(|w| w.ticket != self.id);
        if inner.waiting.len() != before {
            tell_positions(&inner);
        }
        // A guard already sent to `granted` is dropped with it, after this
        // lock is released (fields drop after this body).
    }
}

/// Asks idle agents to end, least recently used first, until as many are
/// on their way out as there are waiters.
fn ask_idle(inner: &mut Inner) {
    let asked = inner.idle.iter().filter(|i| i.asked).count();
    let mut want = inner.waiting.len().saturating_sub(asked);
    while want > 0 {
        let Some(lru) = inner
            .idle
            .iter_mut()
            .filter(|i| !i.asked)
            .min_by_key(|i| i.since)
        else {
            return;
        };
        lru.asked = true;
        lru.release.notify_one();
        want -= 1;
    }
}

fn tell_positions(inner: &Inner) {
    for (n, w) in inner.waiting.iter().enumerate() {
        w.position.send_replace(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now(a: Acquired) -> SlotGuard {
        match a {
            Acquired::Now(g) => g,
            Acquired::Queued(_) => panic!("expected a free slot"),
        }
    }

    fn queued(a: Acquired) -> Ticket {
        match a {
            Acquired::Queued(t) => t,
            Acquired::Now(_) => panic!("expected to wait"),
        }
    }

    #[test]
    fn turns_beyond_the_cap_wait_in_order_and_see_their_position() {
        let slots = AgentSlots::new(2);
        let a = now(slots.acquire());
        let b = now(slots.acquire());
        let mut c = queued(slots.acquire());
        let mut d = queued(slots.acquire());
        assert_eq!((*c.position.borrow(), *d.position.borrow()), (0, 1));
        drop(a);
        let c_slot = c.granted.try_recv().expect("first in line gets it");
        assert_eq!(*d.position.borrow(), 0, "moved up");
        assert!(d.granted.try_recv().is_err());
        assert_eq!((slots.held(), slots.waiting()), (2, 1));
        drop(d); // stopped while waiting
        assert_eq!(slots.waiting(), 0);
        drop((b, c_slot));
        assert_eq!(slots.held(), 0);
        let _e = now(slots.acquire());
    }

    #[test]
    fn a_waiter_asks_the_least_recently_used_idle_agent_to_end() {
        let slots = AgentSlots::new(2);
        let (old, new) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
        let a = now(slots.acquire());
        let b = now(slots.acquire());
        a.set_idle(true, &old, 100);
        b.set_idle(true, &new, 200);
        let mut t = queued(slots.acquire());
        // `old` was asked (a stored permit), `new` was not.
        let asked = |n: &Arc<Notify>| futures_util::FutureExt::now_or_never(n.notified()).is_some();
        assert!(asked(&old) && !asked(&new));
        // The old one gets a turn instead: the other is asked.
        a.set_idle(false, &old, 300);
        assert!(asked(&new));
        drop(b); // the idle agent ended
        assert!(t.granted.try_recv().is_ok());
        drop(a);
    }

    #[test]
    fn a_grant_to_a_waiter_that_left_goes_to_the_next() {
        let slots = AgentSlots::new(1);
        let a = now(slots.acquire());
        let t1 = queued(slots.acquire());
        let mut t2 = queued(slots.acquire());
        drop(a); // the slot is sent to t1...
        drop(t1); // ...which stopped before reading it
        let _held = t2.granted.try_recv().expect("it went on to the next");
        assert_eq!((slots.held(), slots.waiting()), (1, 0));
    }
}
