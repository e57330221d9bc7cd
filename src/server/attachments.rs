//! Files attached to messages: uploaded before the message is sent (the
//! message then names them by id), kept with the session, and served back
//! for the page's thumbnails.

use super::api::ApiError;
use super::AppState;
use crate::agent::attachments::{self, Attachment, IMAGE_TYPES, MAX_BYTES};
use crate::agent::valid_agent_session_id;
use crate::session::valid_session_id;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

pub(super) fn routes(prefix: &str) -> Router<Arc<AppState>> {
    Router::new()
        .route(
            &format!("{prefix}/api/sessions/{{id}}/attachments"),
            // The body is read whole (one file); larger ones get 413.
            post(upload).layer(DefaultBodyLimit::max(MAX_BYTES)),
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
    body: Bytes,
) -> Result<Response, ApiError> {
    if !valid_session_id(&session) {
        return Err(ApiError::BadRequest("invalid session id".into()));
    }
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
        // One copy out of the request buffer (not two through a Vec).
        bytes: std::sync::Arc::from(&body[..]),
    };
    let meta = attachment.meta();
    if !app.store.put_attachment(&session, attachment).await? {
        return Err(ApiError::Unavailable("the file could not be stored".into()));
    }
    Ok((StatusCode::CREATED, Json(json!(meta))).into_response())
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
    let found = app
        .store
        .attachments(&session, vec![file.clone()], usize::MAX)
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
        // The stored bytes themselves, not a copy (a file may be 10 MiB).
        Bytes::from_owner(a.bytes),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
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
