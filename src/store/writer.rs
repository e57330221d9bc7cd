//! The writer thread: owns the write connection, commits whatever commands
//! have queued up as one transaction, then tells each session how far its
//! events are durable.

use super::checkpoint::{self, Bell};
use super::log_rows;
use super::{now_ms, Cmd};
use rusqlite::{params, Connection};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, watch};

/// Most commands in one transaction.
const BATCH: usize = 2048;

/// How far a session's events are durable, and the last failure if any.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Commit {
    pub committed: u64,
    pub error: Option<String>,
}

/// Commit figures for /metrics.
#[derive(Debug, Default)]
pub struct StoreStats {
    pub batches: AtomicU64,
    pub batch_micros: AtomicU64,
    pub failures: AtomicU64,
    /// Checkpoints that made the WAL start over (see checkpoint.rs).
    pub wal_restarts: AtomicU64,
}

pub(super) fn spawn(
    conn: Connection,
    rx: mpsc::Receiver<Cmd>,
    stats: Arc<StoreStats>,
    bell: Bell,
    interval: Duration,
) {
    let spawned = std::thread::Builder::new()
        .name("swe-swe-store".into())
        .spawn(move || run(conn, rx, stats, bell, interval));
    if let Err(e) = spawned {
        tracing::error!("cannot start the store thread: {e}");
    }
}

/// What the writer remembers between batches. Both maps are only caches of
/// what is committed; they are dropped when a transaction rolls back.
#[derive(Default)]
struct Memory {
    /// The key of each session known to have a row (the log names a
    /// session by it): skips an INSERT and a lookup per append.
    keys: HashMap<Arc<str>, i64>,
    /// Per session, the highest seq stored with no gap before it.
    stored: HashMap<Arc<str>, u64>,
    /// Sessions whose appends this batch skipped (they would leave a gap).
    skipped: HashSet<Arc<str>>,
    /// When each session's `updated_ms` was last written.
    touched: HashMap<Arc<str>, i64>,
    /// The history (agent conversations) last written for each session:
    /// a meta save whose history is the same leaves `conversations` as it
    /// is (a save comes with most turn steps; the history changes at most
    /// once a turn).
    histories: HashMap<Arc<str>, Vec<String>>,
}

/// Sessions whose last written history the writer remembers (each at most
/// --history-cap ids: ~0.5 KB at the default).
const HISTORIES_HELD: usize = 4_096;

/// `updated_ms` (the list's order) is refreshed at most this often per
/// session: one row and index update per second instead of one per commit.
const TOUCH_EVERY_MS: i64 = 1_000;

/// Group commit: a commit starts no sooner than `interval` after the
/// previous one ended. A commit of a few events cost ~60 µs of this thread,
/// most of it per commit (WAL pages and their headers, SQLite's locks, the
/// wake-up each command caused), and at the load tool's 1,000 tabs a
/// commit carried 1.7 lines. Under load what arrives in the interval joins
/// one transaction; after a quiet spell the first command commits at once.
fn run(
    mut conn: Connection,
    mut rx: mpsc::Receiver<Cmd>,
    stats: Arc<StoreStats>,
    bell: Bell,
    interval: Duration,
) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut mem = Memory::default();
    let mut last_end: Option<Instant> = None;
    while let Some(first) = rx.blocking_recv() {
        // A pause for the interval, not a wait standing in for an event:
        // nothing that could arrive would let this commit start sooner, and
        // whatever arrives meanwhile is taken below (the channel is bounded:
        // senders wait for room, they lose nothing).
        if let Some(due) = last_end.map(|end| end + interval) {
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
        }
        batch.push(first);
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(c) => batch.push(c),
                Err(_) => break,
            }
        }
        let started = Instant::now();
        let result = apply(&mut conn, &batch, &mut mem);
        let took = started.elapsed();
        tracing::trace!(commands = batch.len(), ?took, "store batch");
        stats.batches.fetch_add(1, Ordering::SeqCst);
        stats
            .batch_micros
            .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
        if result.is_err() {
            stats.failures.fetch_add(1, Ordering::Relaxed);
        }
        if let Err(e) = &result {
            tracing::error!("store commit failed: {e}");
            // Rolled back: nothing of this batch is stored.
            mem = Memory::default();
        }
        notify(
            std::mem::take(&mut batch),
            result.as_ref().map_err(|e| e.to_string()),
            &mem,
        );
        // After the notify: the events just committed are on their way to
        // the tabs; only the next batch waits for this copy.
        if bell.take_restart() && checkpoint::finish(&conn) {
            stats.wal_restarts.fetch_add(1, Ordering::Relaxed);
        }
        // Counted above: an idle checkpoint thread wakes to copy it back.
        bell.committed();
        last_end = Some(Instant::now());
    }
}

/// The highest seq of `session` (log key `key`) stored without a gap.
fn stored_up_to(
    tx: &rusqlite::Transaction<'_>,
    mem: &mut Memory,
    session: &Arc<str>,
    key: i64,
) -> Result<u64, rusqlite::Error> {
    if let Some(&s) = mem.stored.get(session) {
        return Ok(s);
    }
    let s = log_rows::last_seq(tx, key)?;
    mem.stored.insert(session.clone(), s);
    Ok(s)
}

fn apply(conn: &mut Connection, batch: &[Cmd], mem: &mut Memory) -> Result<(), rusqlite::Error> {
    mem.skipped.clear();
    let tx = conn.transaction()?;
    let now = now_ms();
    // Sessions that got events in this batch.
    let mut appended: HashSet<Arc<str>> = HashSet::new();
    for cmd in batch {
        match cmd {
            Cmd::Append {
                session,
                agent,
                events,
                ..
            } => {
                let key = session_key(&tx, mem, session, agent, now)?;
                let upto = stored_up_to(&tx, mem, session, key)?;
                // What is stored already (offered again after a failure)
                // is not stored twice.
                let new = &events[events.partition_point(|(seq, _)| *seq <= upto)..];
                // Invariant: a session's events are stored without gaps. An
                // append that would leave one (an earlier batch failed) is
                // skipped; the actor offers everything unconfirmed again.
                if new.first().is_some_and(|(first, _)| *first > upto + 1) {
                    mem.skipped.insert(session.clone());
                    continue;
                }
                let mut insert = tx.prepare_cached(
                    "INSERT INTO log (session, seq, last, frames) VALUES (?1, ?2, ?3, ?4)",
                )?;
                for row in log_rows::pack(new) {
                    insert.execute(params![key, row.first as i64, row.last as i64, row.frames])?;
                }
                if let Some(&(top, _)) = new.last() {
                    mem.stored.insert(session.clone(), top);
                }
                appended.insert(session.clone());
            }
            Cmd::SaveMeta {
                session,
                agent,
                meta,
            } => {
                let key = session_key(&tx, mem, session, agent, now)?;
                let status = if meta.running.is_some() {
                    "running"
                } else {
                    "idle"
                };
                let json = serde_json::to_string(meta).unwrap_or_default();
                tx.prepare_cached(
                    "UPDATE sessions SET meta = ?2, status = ?3, updated_ms = ?4,
                     title = COALESCE(title, ?5) WHERE key = ?1",
                )?
                .execute(params![key, json, status, now, meta.title])?;
                // The conversations it holds (at most --history-cap).
                if mem.histories.get(session) != Some(&meta.history) {
                    tx.prepare_cached("DELETE FROM conversations WHERE session = ?1")?
                        .execute(params![session.as_ref()])?;
                    let mut held = tx.prepare_cached(
                        "INSERT OR IGNORE INTO conversations (conversation, session) VALUES (?1, ?2)",
                    )?;
                    for id in &meta.history {
                        held.execute(params![id, session.as_ref()])?;
                    }
                    // A cache: emptied past a bound (a miss only rewrites).
                    if mem.histories.len() >= HISTORIES_HELD {
                        mem.histories.clear();
                    }
                    mem.histories.insert(session.clone(), meta.history.clone());
                }
            }
            Cmd::ProcStarted {
                session,
                pgid,
                start_ticks,
            } => {
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO procs (pgid, session, start_ticks) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![pgid, session.as_ref(), *start_ticks as i64])?;
            }
            Cmd::ProcEnded { pgid } => {
                tx.prepare_cached("DELETE FROM procs WHERE pgid = ?1")?
                    .execute(params![pgid])?;
            }
            Cmd::Rename { session, title, .. } => {
                tx.prepare_cached("UPDATE sessions SET title = ?2 WHERE id = ?1")?
                    .execute(params![session, title])?;
            }
            Cmd::Delete { session, .. } => {
                mem.keys.remove(session.as_str());
                mem.stored.remove(session.as_str());
                // Appends for it earlier in this batch must not touch it.
                appended.remove(session.as_str());
                mem.touched.remove(session.as_str());
                mem.histories.remove(session.as_str());
                tx.prepare_cached(
                    "DELETE FROM log WHERE session = (SELECT key FROM sessions WHERE id = ?1)",
                )?
                .execute(params![session])?;
                tx.prepare_cached("DELETE FROM sessions WHERE id = ?1")?
                    .execute(params![session])?;
                tx.prepare_cached("DELETE FROM attachments WHERE session = ?1")?
                    .execute(params![session])?;
                tx.prepare_cached("DELETE FROM conversations WHERE session = ?1")?
                    .execute(params![session])?;
            }
            Cmd::Flush { .. } => {}
            Cmd::PutAttachment {
                session,
                attachment: a,
                ..
            } => {
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO attachments (session, id, name, mime, bytes, created_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?
                .execute(params![session, a.id, a.name, a.mime, &a.bytes[..], now])?;
            }
        }
    }
    for session in appended {
        if mem
            .touched
            .get(&session)
            .is_some_and(|t| now - t < TOUCH_EVERY_MS)
        {
            continue;
        }
        tx.prepare_cached("UPDATE sessions SET updated_ms = ?2 WHERE id = ?1")?
            .execute(params![session.as_ref(), now])?;
        mem.touched.insert(session, now);
    }
    tx.commit()
}

/// The session's key, from memory or from its row (created if missing).
fn session_key(
    tx: &rusqlite::Transaction<'_>,
    mem: &mut Memory,
    session: &Arc<str>,
    agent: &str,
    now: i64,
) -> Result<i64, rusqlite::Error> {
    if let Some(&key) = mem.keys.get(session) {
        return Ok(key);
    }
    let key = ensure_session(tx, session, agent, now)?;
    mem.keys.insert(session.clone(), key);
    Ok(key)
}

/// Creates the session's row if it has none; its key either way.
fn ensure_session(
    tx: &rusqlite::Transaction<'_>,
    id: &str,
    agent: &str,
    now: i64,
) -> Result<i64, rusqlite::Error> {
    tx.prepare_cached(
        "INSERT OR IGNORE INTO sessions (id, agent, created_ms, updated_ms) VALUES (?1, ?2, ?3, ?3)",
    )?
    .execute(params![id, agent, now])?;
    tx.prepare_cached("SELECT key FROM sessions WHERE id = ?1")?
        .query_row(params![id], |r| r.get(0))
}

/// A session's commit channel, and the session it reports on.
type CommitTarget = (Arc<watch::Sender<Commit>>, Arc<str>);

fn notify(batch: Vec<Cmd>, result: Result<&(), String>, mem: &Memory) {
    // One update per session: how far it is stored without a gap.
    let mut sessions: HashMap<*const watch::Sender<Commit>, CommitTarget> = HashMap::new();
    let mut replies: Vec<(oneshot::Sender<bool>, bool)> = Vec::new();
    for cmd in batch {
        match cmd {
            Cmd::Append {
                session, commit, ..
            } => {
                sessions
                    .entry(Arc::as_ptr(&commit))
                    .or_insert((commit.clone(), session));
            }
            Cmd::Rename { reply, .. }
            | Cmd::Delete { reply, .. }
            | Cmd::PutAttachment { reply, .. } => replies.push((reply, result.is_ok())),
            Cmd::Flush { reply } => {
                let _ = reply.send(());
            }
            _ => {}
        }
    }
    for (_, (commit, session)) in sessions {
        commit.send_modify(|c| match &result {
            Ok(()) => {
                if let Some(&upto) = mem.stored.get(&session) {
                    c.committed = c.committed.max(upto);
                }
                if !mem.skipped.contains(&session) {
                    c.error = None;
                } else if c.error.is_none() {
                    // Keeps the actor retrying from its oldest unstored event.
                    c.error = Some("earlier events are not stored yet".into());
                }
            }
            Err(e) => c.error = Some(e.clone()),
        });
    }
    for (reply, ok) in replies {
        let _ = reply.send(ok);
    }
}
