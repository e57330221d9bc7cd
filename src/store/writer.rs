//! The writer thread: owns the write connection, commits whatever commands
//! have queued up as one transaction, then tells each session how far its
//! events are durable.

use super::{now_ms, Cmd};
use rusqlite::{params, Connection};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, watch};

/// Most commands in one transaction.
const BATCH: usize = 2048;

/// How far a session's events are durable, and the last failure if any.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Commit {
    pub committed: u64,
    pub error: Option<String>,
}

pub(super) fn spawn(conn: Connection, rx: mpsc::Receiver<Cmd>) {
    let spawned = std::thread::Builder::new()
        .name("swe-swe-store".into())
        .spawn(move || run(conn, rx));
    if let Err(e) = spawned {
        tracing::error!("cannot start the store thread: {e}");
    }
}

fn run(mut conn: Connection, mut rx: mpsc::Receiver<Cmd>) {
    let mut batch = Vec::with_capacity(BATCH);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(c) => batch.push(c),
                Err(_) => break,
            }
        }
        let started = std::time::Instant::now();
        let result = apply(&mut conn, &batch);
        tracing::trace!(commands = batch.len(), took = ?started.elapsed(), "store batch");
        if let Err(e) = &result {
            tracing::error!("store commit failed: {e}");
        }
        notify(
            std::mem::take(&mut batch),
            result.as_ref().map_err(|e| e.to_string()),
        );
    }
}

fn apply(conn: &mut Connection, batch: &[Cmd]) -> Result<(), rusqlite::Error> {
    let tx = conn.transaction()?;
    let now = now_ms();
    for cmd in batch {
        match cmd {
            Cmd::Append {
                session,
                agent,
                events,
                ..
            } => {
                ensure_session(&tx, session, agent, now)?;
                let mut insert = tx.prepare_cached(
                    "INSERT OR IGNORE INTO events (session, seq, frame) VALUES (?1, ?2, ?3)",
                )?;
                let mut added = 0i64;
                let mut max = 0u64;
                for (seq, frame) in events {
                    added +=
                        insert.execute(params![session.as_ref(), *seq as i64, frame.as_ref()])?
                            as i64;
                    max = max.max(*seq);
                }
                tx.prepare_cached(
                    "UPDATE sessions SET event_count = event_count + ?2, last_seq = MAX(last_seq, ?3),
                     updated_ms = ?4 WHERE id = ?1",
                )?
                .execute(params![session.as_ref(), added, max as i64, now])?;
            }
            Cmd::SaveMeta {
                session,
                agent,
                meta,
            } => {
                ensure_session(&tx, session, agent, now)?;
                let status = if meta.running.is_some() {
                    "running"
                } else {
                    "idle"
                };
                let json = serde_json::to_string(meta).unwrap_or_default();
                tx.prepare_cached(
                    "UPDATE sessions SET meta = ?2, status = ?3, updated_ms = ?4,
                     title = COALESCE(title, ?5) WHERE id = ?1",
                )?
                .execute(params![
                    session.as_ref(),
                    json,
                    status,
                    now,
                    meta.title
                ])?;
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
                tx.prepare_cached("DELETE FROM events WHERE session = ?1")?
                    .execute(params![session])?;
                tx.prepare_cached("DELETE FROM sessions WHERE id = ?1")?
                    .execute(params![session])?;
            }
            Cmd::Flush { .. } => {}
        }
    }
    tx.commit()
}

fn ensure_session(
    tx: &rusqlite::Transaction<'_>,
    id: &str,
    agent: &str,
    now: i64,
) -> Result<(), rusqlite::Error> {
    tx.prepare_cached(
        "INSERT OR IGNORE INTO sessions (id, agent, created_ms, updated_ms) VALUES (?1, ?2, ?3, ?3)",
    )?
    .execute(params![id, agent, now])?;
    Ok(())
}

fn notify(batch: Vec<Cmd>, result: Result<&(), String>) {
    // One update per session, with its highest seq of this batch.
    let mut newest: HashMap<*const watch::Sender<Commit>, (Arc<watch::Sender<Commit>>, u64)> =
        HashMap::new();
    let mut replies: Vec<(oneshot::Sender<bool>, bool)> = Vec::new();
    for cmd in batch {
        match cmd {
            Cmd::Append { events, commit, .. } => {
                let max = events.iter().map(|(s, _)| *s).max().unwrap_or(0);
                let e = newest
                    .entry(Arc::as_ptr(&commit))
                    .or_insert((commit.clone(), 0));
                e.1 = e.1.max(max);
            }
            Cmd::Rename { reply, .. } | Cmd::Delete { reply, .. } => {
                replies.push((reply, result.is_ok()))
            }
            Cmd::Flush { reply } => {
                let _ = reply.send(());
            }
            _ => {}
        }
    }
    for (_, (commit, max)) in newest {
        commit.send_modify(|c| match &result {
            Ok(()) => {
                c.committed = c.committed.max(max);
                c.error = None;
            }
            Err(e) => c.error = Some(e.clone()),
        });
    }
    for (reply, ok) in replies {
        let _ = reply.send(ok);
    }
}
