//! Files attached to messages: uploaded before the message is sent (the
//! message then names them by id), kept with the session, and served back
//! for the page's thumbnails.
//!
//! A file is held whole in memory while it is received and stored, or read
//! and sent; the bytes of all such files at once are bounded (`InFlight`),
//! so many uploads or downloads, or stalled ones, cannot grow memory
//! without end.

use super::api::ApiError;
use super::AppState;
use crate::agent::attachments::{self, Attachment, IMAGE_TYPES, MAX_BYTES};
use crate::agent::valid_agent_session_id;
use crate::session::valid_session_id;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Bytes of attached files held in memory at once, across all uploads and
/// downloads: six files of the largest size.
pub(super) const IN_FLIGHT_BYTES: usize = 64 << 20;
/// How long a request waits for room before it is answered 503.
const WAIT_FOR_ROOM: Duration = Duration::from_secs(20);
/// An upload's body must arrive within this (10 MiB at 170 KB/s); a stalled
/// one gives its room back.
const BODY_WITHIN: Duration = Duration::from_secs(60);

/// The bound on attached files' bytes in memory. Invariant: a file's bytes
/// exist only while a permit for at least as many bytes is held (taken
/// before the body is read or the blob is fetched, given back once it is
/// stored or the response has been sent or dropped).
pub(super) struct InFlight {
    room: Arc<Semaphore>,
    total: usize,
}

impl InFlight {
    /// Room for `total` bytes (at least 1, at most 4 GiB: a permit count is
    /// a `u32`, and a flag far larger must not panic the semaphore).
    pub(super) fn new(total: usize) -> Self {
        let total = total.clamp(1, u32::MAX as usize);
        Self {
            room: Arc::new(Semaphore::new(total)),
            total,
        }
    }

    /// The permits for `bytes`: never more than the whole room, so a
    /// request always fits once the others are done.
    fn permits(&self, bytes: usize) -> u32 {
        // Lossless: `total` fits a u32 (see `new`).
        bytes.clamp(1, self.total) as u32
    }

    /// Bytes held now (for /metrics).
    pub(super) fn held(&self) -> usize {
        self.total - self.room.available_permits()
    }

    pub(super) fn total(&self) -> usize {
        self.total
    }

    /// Room for `bytes` if there is some now.
    pub(super) fn try_take(&self, bytes: usize) -> Option<OwnedSemaphorePermit> {
        self.room
            .clone()
            .try_acquire_many_owned(self.permits(bytes))
            .ok()
    }

    /// Room for `bytes`, waiting up to `WAIT_FOR_ROOM` for others to finish.
    async fn take(&self, bytes: usize) -> Result<OwnedSemaphorePermit, ApiError> {
        let n = self.permits(bytes);
        match tokio::time::timeout(WAIT_FOR_ROOM, self.room.clone().acquire_many_owned(n)).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(ApiError::Unavailable(format!(
                "other attached files fill the {} MiB swe-swe holds at once; try again shortly",
                self.total >> 20
            ))),
        }
    }
}

/// Bytes that give their room back when the last of them is dropped (a
/// response body once sent; a message's files once its turn is over).
struct Held<R> {
    bytes: Bytes,
    _room: R,
}

impl<R> AsRef<[u8]> for Held<R> {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

/// `files`, each now holding a share of `room`: it is given back when the
/// message no longer needs any of them (its turn has ended, or it was
/// cancelled while waiting).
pub(super) fn holding(files: Vec<Attachment>, room: OwnedSemaphorePermit) -> Vec<Attachment> {
    let room = Arc::new(room);
    files
        .into_iter()
        .map(|a| Attachment {
            bytes: Bytes::from_owner(Held {
                bytes: a.bytes,
                _room: room.clone(),
            }),
            ..a
        })
        .collect()
}

pub(super) fn routes(prefix: &str) -> Router<Arc<AppState>> {
    Router::new()
        .route(
            &format!("{prefix}/api/sessions/{{id}}/attachments"),
            // The body is read whole (one file, within `InFlight`); larger
            // ones get 413.
            post(upload),
        )
        .route(
            &format!("{prefix}/api/sessions/{{id}}/attachments/{{file}}"),
            get(download),
        )
}

#[derive(Deserialize)]
struct UploadQuery {
    name: Option<String>,
}

/// `POST /api/sessions/{id}/attachments?name=…` with the file as the body and
/// its type as Content-Type → `201 {id, name, mime, size}`.
async fn upload(
    State(app): State<Arc<AppState>>,
    Path(session): Path<String>,
    Query(q): Query<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    if !valid_session_id(&session) {
        return Err(ApiError::BadRequest("invalid session id".into()));
    }
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > MAX_BYTES as u64) {
        return Err(too_large());
    }
    // Room first: a body is not read until it fits.
    let _room = app
        .attachment_bytes
        .take(announced.map_or(MAX_BYTES, |n| n as usize))
        .await?;
    let body = match tokio::time::timeout(BODY_WITHIN, axum::body::to_bytes(body, MAX_BYTES)).await
    {
        Ok(Ok(body)) => body,
        Ok(Err(_)) => return Err(too_large()),
        Err(_) => {
            return Err(ApiError::BadRequest(format!(
                "the file did not arrive within {}s",
                BODY_WITHIN.as_secs()
            )))
        }
    };
    if body.is_empty() {
        return Err(ApiError::BadRequest("the file is empty".into()));
    }
    let mime = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(clean_mime)
        .unwrap_or_else(|| "application/octet-stream".into());
    let attachment = Attachment {
        id: uuid::Uuid::new_v4().simple().to_string(),
        name: attachments::clean_name(q.name.as_deref().unwrap_or("attachment")),
        mime,
        bytes: body,
    };
    let meta = attachment.meta();
    // The room is held until the store has written the file.
    if !app.store.put_attachment(&session, attachment).await? {
        return Err(ApiError::Unavailable("the file could not be stored".into()));
    }
    Ok((StatusCode::CREATED, Json(json!(meta))).into_response())
}

fn too_large() -> ApiError {
    ApiError::TooLarge(format!("a file may be at most {} MiB", MAX_BYTES >> 20))
}

/// `type/subtype` in lower case without parameters; anything odd is a
/// generic binary type (it is only ever served back as a download).
fn clean_mime(raw: &str) -> String {
    let m = raw
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let ok = m.len() <= 100
        && m.split_once('/').is_some_and(|(a, b)| {
            !a.is_empty()
                && !b.is_empty()
                && m.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || b"/+-.".contains(&c))
        });
    if ok {
        m
    } else {
        "application/octet-stream".into()
    }
}

/// An attachment's bytes: images inline (for thumbnails), everything else
/// as a download; never interpreted by the browser as a page.
async fn download(
    State(app): State<Arc<AppState>>,
    Path((session, file)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    if !valid_session_id(&session) || !valid_agent_session_id(&file) {
        return Err(ApiError::BadRequest("invalid id".into()));
    }
    // Its size first (the file is not read), then room for it.
    let size = match app
        .store
        .attachments_size(&session, vec![file.clone()])
        .await?
    {
        Ok(size) => size,
        Err(_) => return Err(ApiError::NotFound(file)),
    };
    let room = app.attachment_bytes.take(size).await?;
    // No more than the room taken is read.
    let found = app
        .store
        .attachments(&session, vec![file.clone()], size)
        .await?;
    let Some(a) = found.ok().and_then(|mut v| v.pop()) else {
        return Err(ApiError::NotFound(file));
    };
    let image = IMAGE_TYPES.contains(&a.mime.as_str());
    let ascii: String = a
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let disposition = if image {
        format!("inline; filename=\"{ascii}\"")
    } else {
        format!("attachment; filename=\"{ascii}\"")
    };
    let ctype = if image {
        a.mime.clone()
    } else {
        "application/octet-stream".into()
    };
    Ok((
        [
            (header::CONTENT_TYPE, ctype),
            (header::CONTENT_DISPOSITION, disposition),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".into()),
            (
                header::CONTENT_SECURITY_POLICY,
                "sandbox; default-src 'none'".into(),
            ),
            (header::CACHE_CONTROL, "private, max-age=86400".into()),
        ],
        // The stored bytes themselves, not a copy (a file may be 10 MiB),
        // holding their room until sent.
        Bytes::from_owner(Held {
            bytes: a.bytes,
            _room: room,
        }),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::InFlight;

    /// Tried: a budget far beyond what a permit count holds (a flag of
    /// 2^62), a request larger than the whole room, and a full room.
    #[test]
    fn room_is_bounded_and_given_back() {
        let huge = InFlight::new(1 << 62);
        assert_eq!(huge.total(), u32::MAX as usize, "clamped, no panic");
        let room = InFlight::new(10);
        let all = room
            .try_take(1 << 30)
            .expect("a request larger than the room takes all of it");
        assert_eq!(room.held(), 10);
        assert!(room.try_take(1).is_none(), "full");
        drop(all);
        assert_eq!(room.held(), 0);
        let some = room.try_take(4).unwrap();
        assert_eq!((room.held(), room.try_take(7).is_none()), (4, true));
        drop(some);
    }

    #[test]
    fn mime_types_are_cleaned() {
        assert_eq!(super::clean_mime("Image/PNG; charset=x"), "image/png");
        assert_eq!(
            super::clean_mime("text/html\r\nX: y"),
            "application/octet-stream"
        );
        assert_eq!(super::clean_mime("nonsense"), "application/octet-stream");
    }
}
