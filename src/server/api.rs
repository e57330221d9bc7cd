//! The sessions API: list, inspect, rename, delete our sessions; list Claude
//! Code's own past sessions of this project and resume one in a new session.

use super::AppState;
use crate::agent::claude::{past, transcripts};
use crate::agent::valid_agent_session_id;
use crate::session::valid_session_id;
use crate::store::StoreError;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use thiserror::Error;

#[derive(Debug, Error)]
pub(super) enum ApiError {
    #[error("no session {0:?}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    TooLarge(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Store(_) | ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        (status, Json(json!({"error": self.to_string()}))).into_response()
    }
}

pub(super) fn routes(prefix: &str) -> Router<Arc<AppState>> {
    Router::new()
        .route(&format!("{prefix}/api/sessions"), get(list).post(create))
        .route(&format!("{prefix}/api/agents"), get(agents))
        .route(&format!("{prefix}/api/sessions/{{id}}/export"), get(export))
        .route(
            &format!("{prefix}/api/sessions/{{id}}"),
            get(show).patch(rename).delete(remove),
        )
}

/// The agents a new session may run: the configured default first, then
/// those found on PATH when the server started.
async fn agents(State(app): State<Arc<AppState>>) -> Json<Value> {
    let catalog = &app.registry.runtime().agents;
    let agents: Vec<Value> = catalog
        .list()
        .map(|(name, spec)| {
            let kind = match spec {
                crate::agent::AgentSpec::Claude { .. } => "claude",
                crate::agent::AgentSpec::Acp(_) => "acp",
                crate::agent::AgentSpec::Template(_) => "template",
                crate::agent::AgentSpec::Unavailable(_) => "unavailable",
            };
            json!({"name": name, "kind": kind, "program": spec.program()})
        })
        .collect();
    Json(json!({"default": catalog.default_name(), "agents": agents}))
}

#[derive(Deserialize)]
struct Page {
    limit: Option<usize>,
    offset: Option<usize>,
    /// Only sessions whose title contains this.
    q: Option<String>,
}

async fn list(
    State(app): State<Arc<AppState>>,
    Query(page): Query<Page>,
) -> Result<Response, ApiError> {
    let limit = page.limit.unwrap_or(50).clamp(1, 500);
    let offset = page.offset.unwrap_or(0);
    // SQL's OFFSET is a signed 64-bit number: larger ones wrapped negative
    // and returned the first page.
    if i64::try_from(offset).is_err() {
        return Err(ApiError::BadRequest(format!(
            "offset {offset} is out of range (at most {})",
            i64::MAX
        )));
    }
    let q = page.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    if q.is_some_and(|q| q.len() > 200) {
        return Err(ApiError::BadRequest("q is longer than 200 bytes".into()));
    }
    let (sessions, total) = app.store.sessions(limit, offset, q).await?;
    let (home, cwd) = (app.home.clone(), app.workdir.clone());
    let mut claude = tokio::task::spawn_blocking(move || transcripts::list(&home, &cwd))
        .await
        .unwrap_or_default();
    let owned = app
        .store
        .owned_agent_sessions(claude.iter().map(|t| t.id.clone()).collect())
        .await?;
    // A conversation one of our sessions continues is listed there, not
    // again as history (it comes back here when that session is deleted).
    claude.retain(|t| !owned.contains(&t.id));
    Ok(Json(json!({
        "sessions": sessions,
        "total": total,
        "limit": limit,
        "offset": offset,
        // Claude Code's own past sessions of this workdir: resume one with
        // POST /api/sessions {"resume": id}.
        "claude": claude,
    }))
    .into_response())
}

fn checked(id: &str) -> Result<(), ApiError> {
    if valid_session_id(id) {
        Ok(())
    } else {
        Err(ApiError::BadRequest("invalid session id".into()))
    }
}

async fn show(
    State(app): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    checked(&id)?;
    match app.store.session(&id).await? {
        Some(row) => Ok(Json(row).into_response()),
        None => Err(ApiError::NotFound(id)),
    }
}

#[derive(Deserialize)]
struct ExportQuery {
    format: Option<String>,
}

/// The conversation as Markdown (`format=md`, the default) or as its stored
/// events (`format=json`), as a download.
async fn export(
    State(app): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(q): Query<ExportQuery>,
) -> Result<Response, ApiError> {
    checked(&id)?;
    let format = match q.format.as_deref().unwrap_or("md") {
        "md" | "markdown" => super::export::Format::Markdown,
        "json" => super::export::Format::Json,
        other => {
            return Err(ApiError::BadRequest(format!(
                "format {:?}: use md or json",
                other.chars().take(32).collect::<String>()
            )))
        }
    };
    let Some(row) = app.store.session(&id).await? else {
        return Err(ApiError::NotFound(id));
    };
    let title = row
        .title
        .clone()
        .unwrap_or_else(|| "Untitled session".into());
    let (ctype, ext) = match format {
        super::export::Format::Markdown => ("text/markdown; charset=utf-8", "md"),
        super::export::Format::Json => ("application/json", "json"),
    };
    let body = super::export::body(&app.tracker, app.store.clone(), id.clone(), title, format);
    Ok(Response::builder()
        .header(axum::http::header::CONTENT_TYPE, ctype)
        .header(
            axum::http::header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"swe-swe-{id}.{ext}\""),
        )
        .body(body)
        .unwrap_or_default())
}

#[derive(Deserialize)]
struct Rename {
    title: String,
}

async fn rename(
    State(app): State<Arc<AppState>>,
    Path(id): Path<String>,
    Json(body): Json<Rename>,
) -> Result<Response, ApiError> {
    checked(&id)?;
    let title: String = body.title.trim().chars().take(200).collect();
    if title.is_empty() {
        return Err(ApiError::BadRequest("title is empty".into()));
    }
    if app.store.session(&id).await?.is_none() {
        return Err(ApiError::NotFound(id));
    }
    app.store.rename(&id, &title).await?;
    app.registry
        .runtime()
        .notices
        .sessions_changed(&id, "renamed");
    show(State(app), Path(id)).await
}

async fn remove(
    State(app): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    checked(&id)?;
    let known = app.store.session(&id).await?.is_some();
    // End the live session first (its run is stopped and its last events
    // stored), so nothing is written for it after the delete.
    let live = app.registry.remove(&id);
    if let Some(handle) = &live {
        handle
            .close(app.stop_grace)
            .await
            .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    }
    if !known && live.is_none() {
        return Err(ApiError::NotFound(id));
    }
    app.store.delete(&id).await?;
    app.registry
        .runtime()
        .notices
        .sessions_changed(&id, "deleted");
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
struct Create {
    /// A Claude Code session id to continue.
    resume: Option<String>,
}

async fn create(
    State(app): State<Arc<AppState>>,
    Json(body): Json<Create>,
) -> Result<Response, ApiError> {
    let Some(agent_id) = body.resume else {
        // Nothing to remember yet: the id alone. The session starts when a
        // tab says hello with it; 10,000 of these in 2 s filled
        // --max-sessions when each started an empty session.
        let id = uuid::Uuid::new_v4().to_string();
        return Ok((StatusCode::CREATED, Json(json!({"id": id}))).into_response());
    };
    if !valid_agent_session_id(&agent_id) {
        return Err(ApiError::BadRequest("invalid agent session id".into()));
    }
    // Its past turns, from Claude Code's transcript; a transcript that
    // cannot be read still resumes, blank (the agent has its own copy).
    let (home, cwd, id) = (app.home.clone(), app.workdir.clone(), agent_id.clone());
    let past = tokio::task::spawn_blocking(move || past::read(&home, &cwd, &id))
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    let handle = app
        .registry
        .create()
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    // Its first events (the agent session id, then the past turns) are
    // stored: a real session.
    handle
        .import_conversation(agent_id, past)
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    Ok((StatusCode::CREATED, Json(json!({"id": handle.id()}))).into_response())
}
