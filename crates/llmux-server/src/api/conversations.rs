//! Past conversations and the live transcript: `/api/sessions/{name}/conversations`,
//! `/resume`, `/transcript`, `/transcript/stream`, and `/api/conversations?agent=&cwd=`.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use llmux_auth::Action;
use llmux_core::api::{
    Conversation, ErrorBody, ResumeRequest, SessionResponse, TranscriptResponse,
};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::sessions::check_access;
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Caller, Json, Path, Query};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(resume))
        .routes(routes!(transcript))
        .routes(routes!(transcript_stream))
        .routes(routes!(by_agent))
}

/// The session's past conversations in its cwd, newest first (`[]` without an adapter).
#[utoipa::path(get, path = "/api/sessions/{name}/conversations", operation_id = "listSessionConversations", tag = "history",
    responses((status = 400, description = "Bad input: malformed JSON, a value outside the documented schema (length, pattern, range), a query number out of range", body = ErrorBody), (status = 200, body = Vec<Conversation>), (status = 404, body = ErrorBody)))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<Vec<Conversation>>> {
    check_access(&state, &caller, &name, Action::ReadSessions)?;
    Ok(Json(state.sessions.conversations(&name).await?))
}

/// Respawn the session's agent on a past conversation (no init prompts).
#[utoipa::path(post, path = "/api/sessions/{name}/resume", operation_id = "resumeConversation", tag = "history",
    request_body = ResumeRequest,
    responses((status = 200, body = SessionResponse), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn resume(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    Json(req): Json<ResumeRequest>,
) -> ApiResult<Json<SessionResponse>> {
    check_access(&state, &caller, &name, Action::DriveSessions)?;
    let session = state.sessions.resume(&name, &req.conversation_id).await?;
    state.auth.audit(&caller.0.actor(), "session_resumed", &name, &req.conversation_id).await;
    Ok(Json(SessionResponse { ok: true, session }))
}

/// The live conversation as turns (the last 300).
#[utoipa::path(get, path = "/api/sessions/{name}/transcript", operation_id = "getTranscript", tag = "history",
    responses((status = 400, description = "Bad input: malformed JSON, a value outside the documented schema (length, pattern, range), a query number out of range", body = ErrorBody), (status = 200, body = TranscriptResponse), (status = 404, body = ErrorBody)))]
async fn transcript(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<TranscriptResponse>> {
    check_access(&state, &caller, &name, Action::ReadSessions)?;
    Ok(Json(state.sessions.transcript(&name).await?))
}

/// The live transcript as server-sent events: `event: transcript` with the whole
/// `TranscriptResponse` at once and whenever it changes (checked twice a second while
/// someone watches). Ends when the session goes or the credential is revoked.
#[utoipa::path(get, path = "/api/sessions/{name}/transcript/stream", operation_id = "streamTranscript", tag = "history",
    responses((status = 400, description = "Bad input: malformed JSON, a value outside the documented schema (length, pattern, range), a query number out of range", body = ErrorBody), (status = 200, description = "text/event-stream: `event: transcript`, data = TranscriptResponse"),
        (status = 404, body = ErrorBody)))]
async fn transcript_stream(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    check_access(&state, &caller, &name, Action::ReadSessions)?;
    let revocations = state.auth.subscribe();
    let stream = futures_util::stream::unfold(
        (state, caller.0, name, revocations, None::<u64>),
        |(state, principal, name, mut revocations, last)| async move {
            let mut first = last.is_none();
            loop {
                if !first {
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                        revoked = revocations.recv() => match revoked {
                            Ok(r) if principal.is_revoked_by(&r) => return None,
                            Ok(_) => continue,
                            Err(_) => return None,
                        },
                    }
                }
                first = false;
                let record = state.sessions.record(&name).ok()?;
                if !principal.can_access(&record.owner) {
                    return None;
                }
                let Ok(t) = state.sessions.transcript(&name).await else { continue };
                let json = serde_json::to_string(&t).ok()?;
                let hash = fingerprint(&json);
                if Some(hash) == last {
                    continue;
                }
                let event = Event::default().event("transcript").data(json);
                return Some((Ok(event), (state, principal, name, revocations, Some(hash))));
            }
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

fn fingerprint(text: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
}

/// `?agent=&cwd=`.
#[derive(Debug, Deserialize, IntoParams)]
struct ByAgent {
    /// Agent key.
    agent: String,
    /// Working directory (`~` expanded).
    cwd: String,
}

/// Past conversations of an agent in a directory, newest first.
#[utoipa::path(get, path = "/api/conversations", operation_id = "listConversationsByAgent", tag = "history", params(ByAgent),
    responses((status = 200, body = Vec<Conversation>), (status = 400, body = ErrorBody)))]
async fn by_agent(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<ByAgent>,
) -> ApiResult<Json<Vec<Conversation>>> {
    // Reading any directory's agent history is reading the host: admins, or the operator.
    caller.require(Action::ReadSessions)?;
    if !caller.0.is_admin() {
        return Err(crate::error::ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "forbidden",
            "listing conversations by directory is for admins; use a session's conversations",
        ));
    }
    Ok(Json(state.sessions.conversations_of(&q.agent, &q.cwd).await?))
}
