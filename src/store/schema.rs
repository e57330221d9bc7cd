//! Connection settings and versioned schema migrations (`PRAGMA user_version`).

use super::StoreError;
use rusqlite::Connection;
use std::path::Path;
use std::time::Duration;

/// Migration N (1-based) brings the schema from version N-1 to N.
const MIGRATIONS: &[&str] = &[
    // 1: sessions, one row per event, live agent process groups.
    "CREATE TABLE sessions (
        id          TEXT PRIMARY KEY,
        title       TEXT,
        agent       TEXT NOT NULL DEFAULT '',
        created_ms  INTEGER NOT NULL,
        updated_ms  INTEGER NOT NULL,
        status      TEXT NOT NULL DEFAULT 'idle',
        event_count INTEGER NOT NULL DEFAULT 0,
        last_seq    INTEGER NOT NULL DEFAULT 0,
        meta        TEXT
     );
     CREATE INDEX sessions_by_update ON sessions(updated_ms DESC);
     CREATE TABLE events (
        session TEXT NOT NULL,
        seq     INTEGER NOT NULL,
        frame   TEXT NOT NULL,
        PRIMARY KEY (session, seq)
     ) WITHOUT ROWID;
     CREATE TABLE procs (
        pgid        INTEGER PRIMARY KEY,
        session     TEXT NOT NULL,
        start_ticks INTEGER NOT NULL
     );",
    // 2: a session's count and last seq are derived from its events (stored
    // gap-free from 1), no longer kept up to date in its row on every commit.
    "ALTER TABLE sessions DROP COLUMN event_count;
     ALTER TABLE sessions DROP COLUMN last_seq;",
    // 3: files attached to messages, kept with their session (a rowid
    // table: rows carry blobs of up to 10 MiB).
    "CREATE TABLE attachments (
        session    TEXT NOT NULL,
        id         TEXT NOT NULL,
        name       TEXT NOT NULL,
        mime       TEXT NOT NULL,
        bytes      BLOB NOT NULL,
        created_ms INTEGER NOT NULL,
        UNIQUE (session, id)
     );",
    // 4: which session holds which agent conversation (from its history),
    // so the history list asks an index instead of reading every meta.
    "CREATE TABLE conversations (
        conversation TEXT NOT NULL,
        session      TEXT NOT NULL,
        PRIMARY KEY (conversation, session)
     ) WITHOUT ROWID;
     CREATE INDEX conversations_by_session ON conversations(session);
     INSERT OR IGNORE INTO conversations
        SELECT h.value, s.id FROM sessions s, json_each(s.meta, '$.history') h
        WHERE json_valid(s.meta) AND h.type = 'text';",
    // 5: events in arrival order. Keyed by (session, seq), each commit
    // dirtied a leaf (and often split it) for every session that wrote:
    // ~1 page written to the WAL per event with 100 sessions writing at
    // once. Now rows go to the table's end (rowid) and only a small index
    // entry (two integers) goes per session; a session is named in the log
    // by its `key`, never reused (AUTOINCREMENT). A row holds a burst of
    // consecutive events, `seq` to `last` (log_rows.rs).
    "CREATE TABLE sessions_keyed (
        key         INTEGER PRIMARY KEY AUTOINCREMENT,
        id          TEXT NOT NULL UNIQUE,
        title       TEXT,
        agent       TEXT NOT NULL DEFAULT '',
        created_ms  INTEGER NOT NULL,
        updated_ms  INTEGER NOT NULL,
        status      TEXT NOT NULL DEFAULT 'idle',
        meta        TEXT
     );
     INSERT INTO sessions_keyed (id, title, agent, created_ms, updated_ms, status, meta)
        SELECT id, title, agent, created_ms, updated_ms, status, meta FROM sessions ORDER BY created_ms, id;
     DROP TABLE sessions;
     ALTER TABLE sessions_keyed RENAME TO sessions;
     CREATE INDEX sessions_by_update ON sessions(updated_ms DESC);
     CREATE TABLE log (
        id      INTEGER PRIMARY KEY,
        session INTEGER NOT NULL,
        seq     INTEGER NOT NULL,
        last    INTEGER NOT NULL,
        frames  TEXT NOT NULL
     );
     INSERT INTO log (session, seq, last, frames)
        SELECT s.key, e.seq, e.seq, e.frame || char(10) FROM events e JOIN sessions s ON s.id = e.session
        ORDER BY s.key, e.seq;
     CREATE UNIQUE INDEX log_by_session ON log(session, last);
     DROP TABLE events;",
];

/// Settings every connection of ours gets (the writer's also `configure`).
pub(super) fn tune(c: &Connection) -> Result<(), rusqlite::Error> {
    c.busy_timeout(Duration::from_secs(5))?;
    // A statement whose `col = ?` meets an index is otherwise compiled
    // again whenever a new value is bound (this SQLite is built with
    // STAT4): ~39,000 instructions on each new session's first append.
    // We never ANALYZE, so a plan made once is the plan.
    c.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    // Room for every statement the writer prepares (about 16): a cache
    // that is full evicts one and compiles it again on its next use.
    c.set_prepared_statement_cache_capacity(64);
    Ok(())
}

pub(super) fn configure(c: &Connection) -> Result<(), rusqlite::Error> {
    tune(c)?;
    // WAL: readers never block the writer. NORMAL: a commit is durable
    // against a process crash (SIGKILL); only a power loss can drop the
    // newest transactions, never corrupt older ones.
    c.pragma_update(None, "journal_mode", "WAL")?;
    c.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(())
}

pub(super) fn migrate(c: &Connection, path: &Path) -> Result<(), StoreError> {
    let corrupt = |e: rusqlite::Error| StoreError::Corrupt {
        path: path.to_owned(),
        reason: e.to_string(),
    };
    let version: i64 = c
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(corrupt)?;
    let known = MIGRATIONS.len() as i64;
    if version > known {
        return Err(StoreError::TooNew {
            path: path.to_owned(),
            found: version,
            known,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let next = i as i64 + 1;
        c.execute_batch(&format!(
            "BEGIN; {sql}; PRAGMA user_version = {next}; COMMIT;"
        ))
        .map_err(corrupt)?;
    }
    // A quick structural check: a damaged file fails here, at start-up.
    let ok: String = c
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .map_err(corrupt)?;
    if ok != "ok" {
        return Err(StoreError::Corrupt {
            path: path.to_owned(),
            reason: ok,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_1_store_migrates_and_keeps_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.db");
        let c = Connection::open(&path).unwrap();
        configure(&c).unwrap();
        c.execute_batch(&format!("{}; PRAGMA user_version = 1;", MIGRATIONS[0]))
            .unwrap();
        c.execute_batch(
            "INSERT INTO sessions (id, created_ms, updated_ms, event_count, last_seq, meta)
               VALUES ('s', 1, 2, 3, 3, '{\"history\":[\"c-1\",\"c-2\"]}');
             INSERT INTO events VALUES ('s', 1, 'a'), ('s', 2, 'b'), ('s', 3, 'c');",
        )
        .unwrap();
        migrate(&c, &path).unwrap();
        let version: i64 = c
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, MIGRATIONS.len() as i64);
        let (id, updated): (String, i64) = c
            .query_row("SELECT id, updated_ms FROM sessions", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!((id.as_str(), updated), ("s", 2));
        assert!(
            c.prepare("SELECT event_count FROM sessions").is_err(),
            "the derived columns are gone"
        );
        // The events moved to the log, in order, under the session's key.
        let events: Vec<(i64, String)> = c
            .prepare(
                "SELECT seq, frames FROM log WHERE session = (SELECT key FROM sessions WHERE id = 's') ORDER BY id",
            )
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            events,
            [
                (1, "a\n".to_owned()),
                (2, "b\n".to_owned()),
                (3, "c\n".to_owned())
            ]
        );
        assert!(
            c.prepare("SELECT 1 FROM events").is_err(),
            "the old table is gone"
        );
        // The conversations its history holds are indexed (migration 4).
        let held: Vec<String> = c
            .prepare("SELECT conversation FROM conversations WHERE session = 's' ORDER BY 1")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(held, ["c-1", "c-2"]);
    }
}
