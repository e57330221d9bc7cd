//! Durable sessions: SQLite (WAL) in `--data-dir`, one row per event.
//!
//! One writer thread owns the write connection and commits whatever has
//! arrived as one transaction; each session learns what is durable through a
//! `watch` channel (never blocks the writer, so no channel cycle with the
//! actors). An event is sent to clients only after its batch committed.
//! Reads (load, replay, the sessions API) use a second connection.

mod attachments;
pub use attachments::Refused;
mod checkpoint;
mod log_rows;
mod schema;
#[cfg(test)]
mod tests;
mod writer;

use crate::lane::Lane;
use crate::protocol::server::Frame;
use crate::session::permissions::{PermissionMode, Permissions};
use nix::fcntl::{Flock, FlockArg};
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use thiserror::Error;
use tokio::sync::{mpsc, oneshot, watch};

pub use writer::{Commit, StoreStats};

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("data directory {path:?} cannot be used: {reason}")]
    DataDir { path: PathBuf, reason: String },
    #[error("another swe-swe is already using {0:?} (its lock is held); stop it or choose another --data-dir")]
    Locked(PathBuf),
    #[error(
        "the database {path:?} is unreadable or corrupt ({reason}); move it away to start afresh"
    )]
    Corrupt { path: PathBuf, reason: String },
    #[error(
        "the database {path:?} has schema version {found}, newer than this swe-swe knows ({known})"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("storage error: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("the store has stopped")]
    Stopped,
}

/// What survives a restart besides the events.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionMeta {
    pub title: Option<String>,
    pub history: Vec<String>,
    pub allowed_tools: Vec<String>,
    pub skip_all: bool,
    /// The run that had started and not ended, if any.
    pub running: Option<u64>,
    /// Counters that must never repeat within a session.
    #[serde(default)]
    pub next_run: u64,
    #[serde(default)]
    pub next_request: u64,
    /// Claude Code's permission mode when not bypassing (absent: default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permission_mode: Option<String>,
    /// Messages waiting for the running turn: (queue id, content).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub queue: Vec<(u64, String)>,
    #[serde(default)]
    pub next_queue: u64,
    /// What the session's turns have cost so far (USD).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cost_usd: f64,
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

impl SessionMeta {
    pub fn permissions(&self) -> Permissions {
        Permissions {
            allowed_tools: self.allowed_tools.iter().cloned().collect(),
            skip_all: self.skip_all,
            mode: self
                .permission_mode
                .as_deref()
                .and_then(PermissionMode::parse)
                .filter(|m| *m != PermissionMode::BypassPermissions)
                .unwrap_or_default(),
        }
    }
}

/// A session as the store has it, for start-up and the sessions API.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionRow {
    pub id: String,
    pub title: Option<String>,
    pub agent: String,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub status: String,
    pub event_count: i64,
    pub last_seq: u64,
}

/// A session loaded at actor start.
#[derive(Debug, Default)]
pub struct Loaded {
    pub meta: SessionMeta,
    /// The agent the session was created with ('' before agents were
    /// recorded: the server's default).
    pub agent: String,
    pub last_seq: u64,
    /// The newest events, oldest first, for the in-memory tail.
    pub tail: Vec<(u64, Frame)>,
}

pub enum Cmd {
    Append {
        session: Arc<str>,
        agent: Arc<str>,
        events: Vec<(u64, Frame)>,
        commit: Arc<watch::Sender<Commit>>,
    },
    SaveMeta {
        session: Arc<str>,
        agent: Arc<str>,
        meta: SessionMeta,
    },
    ProcStarted {
        session: Arc<str>,
        pgid: i32,
        start_ticks: u64,
    },
    ProcEnded {
        pgid: i32,
    },
    Rename {
        session: String,
        title: String,
        reply: oneshot::Sender<bool>,
    },
    Delete {
        session: String,
        reply: oneshot::Sender<bool>,
    },
    Flush {
        reply: oneshot::Sender<()>,
    },
    PutAttachment {
        session: String,
        attachment: crate::agent::attachments::Attachment,
        reply: oneshot::Sender<bool>,
    },
}

/// Cloneable handle to the store.
#[derive(Clone)]
pub struct Store {
    tx: mpsc::Sender<Cmd>,
    /// The read connection, on its own thread: reads are serialised on it
    /// as they were on a mutex, without a blocking-pool thread per read.
    read: Lane<Connection>,
    path: Arc<PathBuf>,
    _lock: Arc<Flock<File>>,
    _checkpointer: Arc<checkpoint::Checkpointer>,
    pub stats: Arc<StoreStats>,
}

const DB_FILE: &str = "swe-swe.db";
const LOCK_FILE: &str = "swe-swe.lock";
/// Commands waiting for the writer; senders wait for room (backpressure).
const WRITE_QUEUE: usize = 4096;
/// Reads waiting for the read connection; callers wait for room.
const READ_QUEUE: usize = 1024;

impl Store {
    /// Opens (creating and migrating) the store in `dir`. Fails with a clear
    /// error when the folder is unusable, locked by another swe-swe, or the
    /// database is corrupt.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        Self::open_tuned(dir, checkpoint::RESTART_FRAMES)
    }

    /// `open` with the WAL size (in pages) past which it is made to start
    /// over; tests use a small one.
    pub(crate) fn open_tuned(dir: &Path, wal_restart_frames: i64) -> Result<Store, StoreError> {
        let data_dir = |reason: String| StoreError::DataDir {
            path: dir.to_owned(),
            reason,
        };
        private_dir(dir).map_err(|e| data_dir(e.to_string()))?;
        let lock_file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(dir.join(LOCK_FILE))
            .map_err(|e| data_dir(e.to_string()))?;
        let lock = Flock::lock(lock_file, FlockArg::LockExclusiveNonblock)
            .map_err(|_| StoreError::Locked(dir.to_owned()))?;
        let path = dir.join(DB_FILE);
        private_files(&path).map_err(|e| data_dir(e.to_string()))?;
        let corrupt = |e: rusqlite::Error| StoreError::Corrupt {
            path: path.clone(),
            reason: e.to_string(),
        };
        let write = Connection::open(&path).map_err(|e| match e {
            rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::CannotOpen => {
                data_dir("cannot create the database file (is the folder writable?)".into())
            }
            other => corrupt(other),
        })?;
        schema::configure(&write).map_err(|e| match e {
            rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ReadOnly => {
                data_dir("the database is read-only (is the folder writable?)".into())
            }
            other => corrupt(other),
        })?;
        schema::migrate(&write, &path)?;
        attachments::forget_orphans(&write)?;
        // Checkpoints run on their own thread, never inside a commit.
        write.pragma_update(None, "wal_autocheckpoint", 0)?;
        // When the WAL starts over after a burst, its file shrinks back to
        // this; above what it reaches in steady writing (~64 MiB, see
        // checkpoint.rs), where truncating (and the disk's discard) on
        // every start-over stalled commits.
        write.pragma_update(None, "journal_size_limit", 256 * 1024 * 1024)?;
        let checkpoint_conn = Connection::open(&path).map_err(corrupt)?;
        checkpoint_conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let stats = Arc::new(StoreStats::default());
        let restart = Arc::new(checkpoint::RestartWanted::default());
        let checkpointer = checkpoint::spawn(
            checkpoint_conn,
            stats.clone(),
            restart.clone(),
            wal_restart_frames,
        );
        let read = Connection::open(&path).map_err(corrupt)?;
        read.busy_timeout(std::time::Duration::from_secs(5))?;
        let (tx, rx) = mpsc::channel(WRITE_QUEUE);
        writer::spawn(write, rx, stats.clone(), restart);
        Ok(Store {
            stats,
            tx,
            read: Lane::start("swe-swe-read", vec![read], READ_QUEUE)
                .map_err(|e| data_dir(format!("cannot start the read thread: {e}")))?,
            path: Arc::new(path),
            _lock: Arc::new(lock),
            _checkpointer: Arc::new(checkpointer),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sends a raw command, for benchmarks.
    #[doc(hidden)]
    pub async fn send_for_bench(&self, cmd: Cmd) {
        let _ = self.tx.send(cmd).await;
    }

    /// For bookkeeping that must not wait (process records): dropped, with a
    /// warning, only if the writer is far behind.
    pub fn try_send(&self, cmd: Cmd) {
        if self.tx.try_send(cmd).is_err() {
            tracing::warn!("store queue full; a process record was not saved");
        }
    }

    pub(crate) async fn send(&self, cmd: Cmd) -> Result<(), StoreError> {
        self.tx.send(cmd).await.map_err(|_| StoreError::Stopped)
    }

    /// Runs `f` on the read connection, on its thread.
    pub async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, rusqlite::Error> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.read
            .run(move |c| f(c).map_err(StoreError::from))
            .await
            .map_err(|_| StoreError::Stopped)?
    }

    /// Everything an actor needs to resume a session.
    /// The session's meta, last seq, and its newest events: at most `tail`
    /// of them and `max_bytes` of text (an event larger than that is left
    /// to replay from the store).
    pub async fn load(
        &self,
        session: &str,
        tail: usize,
        max_bytes: usize,
    ) -> Result<Option<Loaded>, StoreError> {
        let session = session.to_owned();
        self.read(move |c| {
            let row: Option<(i64, Option<String>, String)> = c
                .query_row(
                    "SELECT key, meta, agent FROM sessions WHERE id = ?1",
                    params![session],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            let Some((key, meta, agent)) = row else {
                return Ok(None);
            };
            let last_seq = c.query_row(
                "SELECT COALESCE(MAX(last), 0) FROM log WHERE session = ?1",
                params![key],
                |r| r.get::<_, i64>(0),
            )? as u64;
            let from = last_seq.saturating_sub(tail as u64);
            // Newest rows first, sizes only, so a huge frame is never loaded:
            // the rows the budget reaches (a row of several frames is small,
            // and may be kept in part).
            let mut stmt = c.prepare_cached(
                "SELECT seq, last, octet_length(frames) FROM log
                 WHERE session = ?1 AND last > ?2 ORDER BY last DESC",
            )?;
            let mut oldest_row = last_seq + 1;
            let mut bytes = 0usize;
            let mut rows = stmt.query(params![key, from as i64])?;
            while let Some(r) = rows.next()? {
                let (seq, last, len): (i64, i64, i64) = (r.get(0)?, r.get(1)?, r.get(2)?);
                bytes = bytes.saturating_add(len.max(0) as usize);
                if bytes > max_bytes && seq == last {
                    break;
                }
                oldest_row = seq as u64;
                if bytes > max_bytes {
                    break;
                }
            }
            drop(rows);
            let mut stmt = c.prepare_cached(
                "SELECT seq, last, frames FROM log WHERE session = ?1 AND last >= ?2 ORDER BY last",
            )?;
            let mut events = Vec::new();
            for row in stmt.query_map(params![key, oldest_row as i64], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })? {
                let (seq, last, frames) = row?;
                events.extend(unpacked(seq, last, &frames)?);
            }
            // Exactly: the newest events within `tail` and `max_bytes`.
            let mut keep = events.len();
            let mut bytes = 0usize;
            while keep > 0 {
                let (seq, frame) = &events[keep - 1];
                bytes = bytes.saturating_add(frame.len());
                if *seq <= from || bytes > max_bytes {
                    break;
                }
                keep -= 1;
            }
            let tail = events.split_off(keep);
            let meta = meta
                .and_then(|m| serde_json::from_str(&m).ok())
                .unwrap_or_default();
            Ok(Some(Loaded {
                meta,
                agent,
                last_seq,
                tail,
            }))
        })
        .await
    }

    /// Events with `after < seq < before`, oldest first, at most `limit` of
    /// them and about `max_bytes` of text: rows are taken while the page is
    /// under it, so a page is at most `max_bytes` plus one event.
    pub async fn events(
        &self,
        session: &str,
        after: u64,
        before: u64,
        limit: usize,
        max_bytes: usize,
    ) -> Result<Vec<(u64, Frame)>, StoreError> {
        let session = session.to_owned();
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT seq, last, frames FROM log
                 WHERE session = (SELECT key FROM sessions WHERE id = ?1) AND last > ?2 AND seq < ?3
                 ORDER BY last LIMIT ?4",
            )?;
            let mut rows = stmt.query(params![
                session,
                after as i64,
                before.min(i64::MAX as u64) as i64,
                limit as i64
            ])?;
            let (mut page, mut bytes) = (Vec::new(), 0usize);
            'rows: while bytes < max_bytes && page.len() < limit {
                let Some(r) = rows.next()? else { break };
                let (seq, last, frames): (i64, i64, String) = (r.get(0)?, r.get(1)?, r.get(2)?);
                for (seq, frame) in unpacked(seq, last, &frames)? {
                    if seq <= after || seq >= before {
                        continue;
                    }
                    if bytes >= max_bytes || page.len() >= limit {
                        break 'rows;
                    }
                    bytes += frame.len();
                    page.push((seq, frame));
                }
            }
            Ok(page)
        })
        .await
    }

    /// A page of sessions, newest first; with `title_has`, only those whose
    /// title contains it (case-insensitive for ASCII), and `total` counts those.
    pub async fn sessions(
        &self,
        limit: usize,
        offset: usize,
        title_has: Option<&str>,
    ) -> Result<(Vec<SessionRow>, i64), StoreError> {
        // LIKE with the pattern's own wildcards escaped: `50%` finds "50%".
        let pattern = title_has.map(|q| {
            let escaped = q
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            format!("%{escaped}%")
        });
        self.read(move |c| {
            const FILTER: &str = "(?1 IS NULL OR title LIKE ?1 ESCAPE '\\')";
            let total: i64 = c.query_row(
                &format!("SELECT COUNT(*) FROM sessions WHERE {FILTER}"),
                params![pattern],
                |r| r.get(0),
            )?;
            let mut stmt = c.prepare_cached(&format!(
                "SELECT id, title, agent, created_ms, updated_ms, status,
                   COALESCE((SELECT MAX(last) FROM log e WHERE e.session = s.key), 0)
                 FROM sessions s WHERE {FILTER}
                 ORDER BY updated_ms DESC, id LIMIT ?2 OFFSET ?3"
            ))?;
            let rows = stmt
                .query_map(params![pattern, limit as i64, offset as i64], session_row)?
                .collect::<Result<Vec<_>, _>>()?;
            Ok((rows, total))
        })
        .await
    }

    /// Those of `ids` that some session's history holds: these
    /// conversations are ours, not Claude Code history to offer again. One
    /// index lookup each (reading every session's meta took ~0.3 s at
    /// 10,000 sessions, on every list refresh).
    pub async fn owned_agent_sessions(
        &self,
        ids: Vec<String>,
    ) -> Result<std::collections::HashSet<String>, StoreError> {
        if ids.is_empty() {
            return Ok(Default::default());
        }
        self.read(move |c| {
            let mut stmt =
                c.prepare_cached("SELECT 1 FROM conversations WHERE conversation = ?1 LIMIT 1")?;
            let mut owned = std::collections::HashSet::new();
            for id in ids {
                if stmt.exists(params![id])? {
                    owned.insert(id);
                }
            }
            Ok(owned)
        })
        .await
    }

    // In both queries: a session's events are stored gap-free from seq 1,
    // so its highest seq is also its event count (one index seek each).
    pub async fn session(&self, id: &str) -> Result<Option<SessionRow>, StoreError> {
        let id = id.to_owned();
        self.read(move |c| {
            c.query_row(
                "SELECT id, title, agent, created_ms, updated_ms, status,
                   COALESCE((SELECT MAX(last) FROM log e WHERE e.session = s.key), 0)
                 FROM sessions s WHERE id = ?1",
                params![id],
                session_row,
            )
            .optional()
        })
        .await
    }

    pub async fn rename(&self, id: &str, title: &str) -> Result<bool, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.send(Cmd::Rename {
            session: id.to_owned(),
            title: title.to_owned(),
            reply,
        })
        .await?;
        rx.await.map_err(|_| StoreError::Stopped)
    }

    pub async fn delete(&self, id: &str) -> Result<bool, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.send(Cmd::Delete {
            session: id.to_owned(),
            reply,
        })
        .await?;
        rx.await.map_err(|_| StoreError::Stopped)
    }

    /// Waits until everything sent before has been committed.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let (reply, rx) = oneshot::channel();
        self.send(Cmd::Flush { reply }).await?;
        rx.await.map_err(|_| StoreError::Stopped)
    }

    /// Copies the whole WAL into the database and empties it (at a clean
    /// shutdown, after `flush`): the next start reads no WAL.
    pub async fn checkpoint(&self) -> Result<(), StoreError> {
        self.read(|c| c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())))
            .await
    }

    /// Agent process groups recorded as alive: (pgid, start time in clock
    /// ticks since boot), left over if the last server was killed.
    pub async fn leftover_procs(&self) -> Result<Vec<(i32, u64)>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare("SELECT pgid, start_ticks FROM procs")?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await
    }
}

fn session_row(r: &rusqlite::Row<'_>) -> Result<SessionRow, rusqlite::Error> {
    Ok(SessionRow {
        id: r.get(0)?,
        title: r.get(1)?,
        agent: r.get(2)?,
        created_ms: r.get(3)?,
        updated_ms: r.get(4)?,
        status: r.get(5)?,
        event_count: r.get(6)?,
        last_seq: r.get::<_, i64>(6)? as u64,
    })
}

/// The events of a log row; a row that does not hold what its seqs say is
/// reported as unreadable.
fn unpacked(seq: i64, last: i64, frames: &str) -> Result<Vec<(u64, Frame)>, rusqlite::Error> {
    log_rows::unpack(seq as u64, last as u64, frames).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// The default data folder: `$XDG_DATA_HOME/swe-swe`, else
/// `$HOME/.local/share/swe-swe`.
/// Creates the data folder readable by its owner only, and tightens one
/// that is not (every conversation is in it), saying so.
fn private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let mode = std::fs::metadata(dir)?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        tracing::warn!(
            "the data folder {} was readable by other users ({mode:o}); it is now 700",
            dir.display()
        );
    }
    Ok(())
}

/// The database and its WAL files, owner-only. SQLite gives the -wal and
/// -shm files it creates the database file's mode, so creating that file
/// 0600 first covers them; files left by an older version are tightened.
fn private_files(db: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(db)?;
    for suffix in ["", "-wal", "-shm"] {
        let f = PathBuf::from(format!("{}{suffix}", db.display()));
        match std::fs::metadata(&f) {
            Ok(m) if m.permissions().mode() & 0o077 != 0 => {
                std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600))?;
            }
            _ => {}
        }
    }
    Ok(())
}

pub fn default_data_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(x).join("swe-swe");
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| ".".into());
    PathBuf::from(home).join(".local/share/swe-swe")
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
