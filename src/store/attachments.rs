//! Attached files, stored with their session (deleted with it).

use super::{Cmd, Store, StoreError};
use crate::agent::attachments::Attachment;
use rusqlite::{params, Connection, OptionalExtension};
use tokio::sync::oneshot;

/// An upload whose session never got a row (the page attached a file and
/// never sent it) is forgotten after this long, at the next start.
const ORPHAN_AFTER_MS: i64 = 24 * 3600 * 1000;

impl Store {
    /// Stores `attachment` for `session`; true once committed.
    pub async fn put_attachment(
        &self,
        session: &str,
        attachment: Attachment,
    ) -> Result<bool, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.send(Cmd::PutAttachment {
            session: session.to_owned(),
            attachment,
            reply,
        })
        .await?;
        rx.await.map_err(|_| StoreError::Stopped)
    }

    /// The total size of the attachments `ids` of `session`, if they all
    /// exist (no file is read).
    pub async fn attachments_size(
        &self,
        session: &str,
        ids: Vec<String>,
    ) -> Result<Result<usize, Refused>, StoreError> {
        let session = session.to_owned();
        self.read(move |c| sizes(c, &session, &ids)).await
    }

    /// The attachments `ids` of `session`, in that order, if they exist and
    /// come to at most `max_total` bytes (sizes are read before any file).
    pub async fn attachments(
        &self,
        session: &str,
        ids: Vec<String>,
        max_total: usize,
    ) -> Result<Result<Vec<Attachment>, Refused>, StoreError> {
        let session = session.to_owned();
        self.read(move |c| {
            let total = match sizes(c, &session, &ids)? {
                Ok(total) => total,
                Err(refused) => return Ok(Err(refused)),
            };
            if total > max_total {
                return Ok(Err(Refused::TooLarge(total)));
            }
            let mut stmt = c.prepare_cached(
                "SELECT name, mime, bytes FROM attachments WHERE session = ?1 AND id = ?2",
            )?;
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                let row = stmt
                    .query_row(params![session, id], |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, Vec<u8>>(2)?,
                        ))
                    })
                    .optional()?;
                match row {
                    Some((name, mime, bytes)) => out.push(Attachment {
                        id,
                        name,
                        mime,
                        bytes: bytes.into(),
                    }),
                    None => return Ok(Err(Refused::Unknown(id))),
                }
            }
            Ok(Ok(out))
        })
        .await
    }
}

/// The total size of attachments `ids` of `session`, or the first unknown.
fn sizes(
    c: &Connection,
    session: &str,
    ids: &[String],
) -> Result<Result<usize, Refused>, rusqlite::Error> {
    let mut sizes =
        c.prepare_cached("SELECT length(bytes) FROM attachments WHERE session = ?1 AND id = ?2")?;
    let mut total = 0usize;
    for id in ids {
        match sizes
            .query_row(params![session, id], |r| r.get::<_, i64>(0))
            .optional()?
        {
            Some(n) => total = total.saturating_add(n.max(0) as usize),
            None => return Ok(Err(Refused::Unknown(id.clone()))),
        }
    }
    Ok(Ok(total))
}

/// Why a message's attachments were not read.
#[derive(Debug, PartialEq)]
pub enum Refused {
    /// The session has no attachment with this id.
    Unknown(String),
    /// They come to this many bytes, over the limit.
    TooLarge(usize),
}

/// At start: uploads of sessions that never came to be.
pub(super) fn forget_orphans(c: &Connection) -> Result<(), rusqlite::Error> {
    c.execute(
        "DELETE FROM attachments WHERE created_ms < ?1
         AND session NOT IN (SELECT id FROM sessions)",
        params![super::now_ms() - ORPHAN_AFTER_MS],
    )?;
    Ok(())
}
