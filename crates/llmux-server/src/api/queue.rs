//! `/api/sessions/{name}/queue…`: the prompts waiting for a session (scheduled with `at`,
//! `in`, `when: "idle"` or `afterLimit` on send): list, edit or move, cancel.

use super::{ApiRouter, routes};
use axum::extract::State;
use llmux_api::{ErrorBody, OkResponse, QueueEditRequest, QueueItem, QueueResponse};

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Caller, Json, Path};

pub(crate) fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(list))
        .merge(ApiRouter::new().routes(routes!(edit, cancel)).idempotent())
}

/// The prompts waiting for the session, first first: `waiting`, sent to be typed now and
/// waiting their turn (behind another sender, or for the agent to start), then `items`,
/// queued for later. Changes show on `/api/events` as a change of the session's `queued`
/// count (both kinds).
#[utoipa::path(get, path = "/api/sessions/{name}/queue", operation_id = "listQueue", tag = "sessions",
    responses((status = 200, body = QueueResponse), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<QueueResponse>> {
    let (session, items, waiting) = state.facade.queue(&caller.0, &name)?;
    Ok(Json(QueueResponse { session, items, waiting }))
}

/// Edit a waiting prompt's text and/or move it to another place (`to`, 1 = first). 409 while
/// it is being typed.
#[utoipa::path(patch, path = "/api/sessions/{name}/queue/{id}", operation_id = "editQueueItem", tag = "sessions",
    request_body = QueueEditRequest,
    params(("name" = String, Path, description = "Session name"), ("id" = i64, Path, description = "Queue item id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Apply this request once (see sendPrompt)")),
    responses((status = 200, body = QueueItem), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, description = "The Idempotency-Key was used for a different request", body = ErrorBody)))]
async fn edit(
    State(state): State<AppState>,
    caller: Caller,
    Path((name, id)): Path<(String, i64)>,
    Json(req): Json<QueueEditRequest>,
) -> ApiResult<Json<QueueItem>> {
    Ok(Json(state.facade.queue_edit(&caller.0, &name, id, req.text, req.to).await?))
}

/// Cancel a waiting prompt. 409 while it is being typed.
#[utoipa::path(delete, path = "/api/sessions/{name}/queue/{id}", operation_id = "cancelQueueItem", tag = "sessions",
    params(("name" = String, Path, description = "Session name"), ("id" = i64, Path, description = "Queue item id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Apply this request once (see sendPrompt)")),
    responses((status = 200, body = OkResponse), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, description = "The Idempotency-Key was used for a different request", body = ErrorBody)))]
async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path((name, id)): Path<(String, i64)>,
) -> ApiResult<Json<OkResponse>> {
    state.facade.queue_cancel(&caller.0, &name, id).await?;
    Ok(Json(OkResponse { ok: true }))
}
