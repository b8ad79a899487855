//! Past conversations and the live transcript: `/api/sessions/{name}/conversations`,
//! `/resume`, `/transcript`, `/transcript/stream`, and `/api/conversations?agent=&cwd=`.

use std::convert::Infallible;
use std::time::Duration;

use super::{ApiRouter, routes};
use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::StreamExt;
use llmux_api::{
    Conversation, ConversationsQuery, ErrorBody, ResumeRequest, SessionResponse, TranscriptResponse,
};

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Caller, Json, Path, Query};

pub(crate) fn router() -> ApiRouter {
    ApiRouter::new()
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
    Ok(Json(state.facade.conversations(&caller.0, &name).await?))
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
    let session = state.facade.resume(&caller.0, &name, &req.conversation_id).await?;
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
    Ok(Json(state.facade.transcript(&caller.0, &name).await?))
}

/// The live transcript as server-sent events: `event: transcript` with the whole
/// `TranscriptResponse` at once and whenever it changes. One reader per session serves all
/// its viewers (it reads only what the agent appended), and they share one copy of each
/// event's bytes. Ends when the session goes or the credential is revoked.
#[utoipa::path(get, path = "/api/sessions/{name}/transcript/stream", operation_id = "streamTranscript", tag = "history",
    responses((status = 400, description = "Bad input: malformed JSON, a value outside the documented schema (length, pattern, range), a query number out of range", body = ErrorBody), (status = 200, description = "text/event-stream: `event: transcript`, data = TranscriptResponse"),
        (status = 404, body = ErrorBody)))]
async fn transcript_stream(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    let (name, feed) = state.facade.transcript_feed(&caller.0, &name)?;
    let revocations = state.auth.subscribe();
    let events = futures_util::stream::unfold(
        (state, caller.0, name, revocations, feed),
        |(state, principal, name, mut revocations, mut feed)| async move {
            loop {
                let keep_alive = tokio::time::sleep(KEEP_ALIVE);
                tokio::select! {
                    changed = feed.changed() => changed.ok()?,
                    revoked = revocations.recv() => match revoked {
                        Ok(r) if principal.is_revoked_by(&r) => return None,
                        Ok(_) => continue,
                        Err(_) => return None,
                    },
                    () = keep_alive => {
                        let ping = vec![Bytes::from_static(b":\n\n")];
                        return Some((ping, (state, principal, name, revocations, feed)));
                    }
                }
                if !state.facade.may_see(&principal, &name) {
                    return None;
                }
                let Some(json) = feed.borrow_and_update().clone() else { continue };
                // The SSE frame `event: transcript\ndata: JSON\n\n`; the JSON (compact, so one
                // line) is the reader's, not a copy.
                let frame = vec![
                    Bytes::from_static(b"event: transcript\ndata: "),
                    Bytes::from_owner(SharedText(json)),
                    Bytes::from_static(b"\n\n"),
                ];
                return Some((frame, (state, principal, name, revocations, feed)));
            }
        },
    );
    let body = events
        .flat_map(|frame| futures_util::stream::iter(frame.into_iter().map(Ok::<_, Infallible>)));
    Ok((
        [(header::CONTENT_TYPE, "text/event-stream"), (header::CACHE_CONTROL, "no-cache")],
        Body::from_stream(body),
    )
        .into_response())
}

/// How long a quiet stream waits before a comment line keeps it open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// A published transcript, shared by the bodies of every viewer.
struct SharedText(std::sync::Arc<str>);

impl AsRef<[u8]> for SharedText {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

/// Past conversations of an agent in a directory, newest first.
#[utoipa::path(get, path = "/api/conversations", operation_id = "listConversationsByAgent", tag = "history", params(ConversationsQuery),
    responses((status = 200, body = Vec<Conversation>), (status = 400, body = ErrorBody)))]
async fn by_agent(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<ConversationsQuery>,
) -> ApiResult<Json<Vec<Conversation>>> {
    // Reading any directory's agent history is reading the host: admins, or the operator.
    Ok(Json(state.facade.conversations_in(&caller.0, &q.agent, &q.cwd).await?))
}
