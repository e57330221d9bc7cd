//! What the store reads, on its read thread: a session to resume, a page
//! of events to replay, the session list.

use super::*;
use rusqlite::{params, OptionalExtension};

impl Store {
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
                .prepare_cached("SELECT key, meta, agent FROM sessions WHERE id = ?1")?
                .query_row(params![session], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()?;
            let Some((key, meta, agent)) = row else {
                return Ok(None);
            };
            let last_seq = log_rows::last_seq(c, key)?;
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
