//! Durable sessions: SQLite (WAL) in `--data-dir`; a session's events in
//! rows of consecutive events (`log_rows.rs`).
//!
//! One writer thread owns the write connection and commits whatever has
//! arrived as one transaction; each session learns what is durable through a
//! `watch` channel (never blocks the writer, so no channel cycle with the
//! actors). An event is sent to clients only after its batch committed.
//! Reads (load, replay, the sessions API: `reads.rs`) use a second
//! connection, on a thread of its own.

mod attachments;
pub use attachments::Refused;
mod checkpoint;
mod log_rows;
mod reads;
mod schema;
#[cfg(test)]
mod tests;
mod writer;

use crate::lane::Lane;
use crate::permissions::{PermissionMode, Permissions};
use crate::protocol::server::Frame;
use nix::fcntl::{Flock, FlockArg};
use rusqlite::Connection;
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
        /// Clock ticks since boot by which the leader had started (see
        /// `process::kill_leftovers`).
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
    pub stats: Arc<StoreStats>,
}

const DB_FILE: &str = "swe-swe.db";
const LOCK_FILE: &str = "swe-swe.lock";
/// Commands waiting for the writer; senders wait for room (backpressure).
const WRITE_QUEUE: usize = 4096;
/// Reads waiting for the read connection; callers wait for room.
const READ_QUEUE: usize = 1024;

/// How a store runs; the default is the server's flags' defaults.
#[derive(Debug, Clone, Copy)]
pub struct StoreOptions {
    /// `--commit-interval`: a commit starts at least this long after the
    /// previous one ended (writer.rs, `run`).
    pub commit_interval: std::time::Duration,
    /// WAL pages past which it is made to start over (checkpoint.rs).
    pub wal_restart_frames: i64,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            commit_interval: COMMIT_INTERVAL,
            wal_restart_frames: checkpoint::RESTART_FRAMES,
        }
    }
}

/// `--commit-interval`'s default.
pub const COMMIT_INTERVAL: std::time::Duration = std::time::Duration::from_millis(1);

impl Store {
    /// Opens (creating and migrating) the store in `dir`. Fails with a clear
    /// error when the folder is unusable, locked by another swe-swe, or the
    /// database is corrupt.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        Self::open_with(dir, StoreOptions::default())
    }

    /// `open` as `options` say.
    pub fn open_with(dir: &Path, options: StoreOptions) -> Result<Store, StoreError> {
        let StoreOptions {
            commit_interval,
            wal_restart_frames,
        } = options;
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
        schema::tune(&checkpoint_conn)?;
        let stats = Arc::new(StoreStats::default());
        let bell = checkpoint::spawn(checkpoint_conn, stats.clone(), wal_restart_frames);
        let read = Connection::open(&path).map_err(corrupt)?;
        schema::tune(&read)?;
        let (tx, rx) = mpsc::channel(WRITE_QUEUE);
        writer::spawn(write, rx, stats.clone(), bell, commit_interval);
        Ok(Store {
            stats,
            tx,
            read: Lane::start("swe-swe-read", vec![read], READ_QUEUE)
                .map_err(|e| data_dir(format!("cannot start the read thread: {e}")))?,
            path: Arc::new(path),
            _lock: Arc::new(lock),
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

/// The default data folder: `$XDG_DATA_HOME/swe-swe`, else
/// `$HOME/.local/share/swe-swe`.
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
