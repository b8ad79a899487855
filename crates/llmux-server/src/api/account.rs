//! `/api/account/…`: the caller's own profile, passphrase and browser sessions.

use super::{ApiRouter, routes};
use axum::extract::State;
use llmux_api::{
    BrowserSessionView, ChangePassphraseRequest, ErrorBody, OkResponse, ProfileRequest,
    UserResponse,
};

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Caller, Json, Path};

pub(crate) fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(passphrase))
        .routes(routes!(profile))
        .routes(routes!(sessions))
        .routes(routes!(end_session))
}

/// Change one's passphrase; one's other browser sessions end.
#[utoipa::path(post, path = "/api/account/passphrase", operation_id = "changePassphrase", tag = "account",
    request_body = ChangePassphraseRequest,
    responses((status = 200, body = OkResponse), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
async fn passphrase(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<ChangePassphraseRequest>,
) -> ApiResult<Json<OkResponse>> {
    state.auth.change_passphrase(&caller.0, req.old_passphrase, req.new_passphrase).await?;
    Ok(Json(OkResponse { ok: true }))
}

/// Change one's display name.
#[utoipa::path(post, path = "/api/account/profile", operation_id = "updateProfile", tag = "account", request_body = ProfileRequest,
    responses((status = 200, body = UserResponse), (status = 400, body = ErrorBody)))]
async fn profile(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<ProfileRequest>,
) -> ApiResult<Json<UserResponse>> {
    let user = state.auth.update_profile(&caller.0, &req.name).await?;
    Ok(Json(UserResponse { ok: true, user }))
}

/// One's signed-in browsers.
#[utoipa::path(get, path = "/api/account/sessions", operation_id = "listBrowserSessions", tag = "account",
    responses((status = 200, body = Vec<BrowserSessionView>)))]
async fn sessions(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<BrowserSessionView>>> {
    Ok(Json(state.auth.list_browser_sessions(&caller.0).await?))
}

/// Sign one of one's browsers out.
#[utoipa::path(delete, path = "/api/account/sessions/{id}", operation_id = "endBrowserSession", tag = "account",
    responses((status = 400, description = "Bad input: malformed JSON, a value outside the documented schema (length, pattern, range), a query number out of range", body = ErrorBody), (status = 200, body = OkResponse), (status = 404, body = ErrorBody)))]
async fn end_session(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<OkResponse>> {
    state.auth.end_browser_session(&caller.0, &id).await?;
    Ok(Json(OkResponse { ok: true }))
}
