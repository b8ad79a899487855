//! `/api/push…`: Web Push for the caller's own devices, and which sessions they follow.
//!
//! Everything here is the caller's own account, like tokens: reading needs any credential,
//! changing needs `OwnTokens` (so read-only tokens cannot). The local operator (Unix socket)
//! is nobody's browser: every route but `vapid` answers 400 `no_account` for it.

use super::{ApiRouter, routes};
use axum::extract::State;
use axum::http::StatusCode;
use llmux_api::{
    CreatePushSubscriptionRequest, ErrorBody, OkResponse, PushSessionListResponse, PushSessionView,
    PushSubscriptionListResponse, PushSubscriptionResponse, PushSubscriptionView, PushTestResponse,
    VapidKeyResponse,
};
use llmux_auth::Action;
use llmux_core::store::{PushSessionRecord, PushSubscriptionRecord};

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Caller, Json, Path, UserAgent};

pub(crate) fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(vapid))
        .routes(routes!(list, subscribe))
        .routes(routes!(unsubscribe))
        .routes(routes!(followed))
        .routes(routes!(follow, unfollow))
        .routes(routes!(test))
}

/// A stored device as the API shows it.
fn subscription_view(r: PushSubscriptionRecord) -> PushSubscriptionView {
    PushSubscriptionView {
        id: r.id,
        endpoint: r.endpoint,
        label: r.label,
        created_at: llmux_core::time::rfc3339_ms(r.created_at),
        last_success_at: r.last_success_at.map(llmux_core::time::rfc3339_ms),
    }
}

/// A followed session as the API shows it, under the name `name` the caller knows it by.
fn session_view(name: String, r: PushSessionRecord) -> PushSessionView {
    PushSessionView { name, created_at: llmux_core::time::rfc3339_ms(r.created_at) }
}

/// The caller's username; 400 for the local operator, who has no devices.
fn username(caller: &Caller) -> ApiResult<&str> {
    caller.0.username().ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "no_account",
            "the local operator has no push devices; use a user's credential",
        )
    })
}

/// The VAPID public key browsers subscribe with.
#[utoipa::path(get, path = "/api/push/vapid", operation_id = "getVapidKey", tag = "push",
    responses((status = 200, body = VapidKeyResponse)))]
async fn vapid(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<VapidKeyResponse>> {
    caller.require(Action::OwnIdentity)?;
    Ok(Json(VapidKeyResponse { public_key: state.notifier.vapid_public_key().to_owned() }))
}

/// The caller's devices.
#[utoipa::path(get, path = "/api/push/subscriptions", operation_id = "listPushSubscriptions", tag = "push",
    responses((status = 200, body = PushSubscriptionListResponse),
        (status = 400, body = ErrorBody)))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<PushSubscriptionListResponse>> {
    caller.require(Action::OwnIdentity)?;
    let subs = state.notifier.subscriptions(username(&caller)?).await?;
    Ok(Json(PushSubscriptionListResponse {
        subscriptions: subs.into_iter().map(subscription_view).collect(),
    }))
}

/// Add this browser as a device (the same browser again refreshes its keys).
#[utoipa::path(post, path = "/api/push/subscriptions", operation_id = "subscribePush", tag = "push",
    request_body = CreatePushSubscriptionRequest,
    responses((status = 201, body = PushSubscriptionResponse), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn subscribe(
    State(state): State<AppState>,
    caller: Caller,
    UserAgent(user_agent): UserAgent,
    Json(req): Json<CreatePushSubscriptionRequest>,
) -> ApiResult<(StatusCode, Json<PushSubscriptionResponse>)> {
    caller.require(Action::OwnTokens)?;
    let label = req.label.filter(|l| !l.trim().is_empty()).unwrap_or(user_agent);
    let sub = state
        .notifier
        .subscribe(username(&caller)?, &req.endpoint, &req.keys.p256dh, &req.keys.auth, &label)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(PushSubscriptionResponse { ok: true, subscription: subscription_view(sub) }),
    ))
}

/// Remove one of the caller's devices.
#[utoipa::path(delete, path = "/api/push/subscriptions/{id}", operation_id = "unsubscribePush", tag = "push",
    responses((status = 400, description = "Bad input: malformed JSON, a value outside the documented schema (length, pattern, range), a query number out of range", body = ErrorBody), (status = 200, body = OkResponse), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn unsubscribe(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<OkResponse>> {
    caller.require(Action::OwnTokens)?;
    state.notifier.unsubscribe(username(&caller)?, &id).await?;
    Ok(Json(OkResponse { ok: true }))
}

/// The sessions the caller gets notifications about.
#[utoipa::path(get, path = "/api/push/sessions", operation_id = "listFollowedSessions", tag = "push",
    responses((status = 200, body = PushSessionListResponse), (status = 400, body = ErrorBody)))]
async fn followed(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<PushSessionListResponse>> {
    caller.require(Action::OwnIdentity)?;
    let me = username(&caller)?;
    let sessions = state.notifier.followed(me).await?;
    let shown = |r: PushSessionRecord| {
        let name = crate::remote_push::shown(&r.session, &r.owner, me)
            .unwrap_or_else(|| state.facade.shown(&caller.0, &r.session));
        session_view(name, r)
    };
    Ok(Json(PushSessionListResponse { sessions: sessions.into_iter().map(shown).collect() }))
}

/// Get notifications when this session's agent needs its person (`working` → `waiting` or
/// `idle`). Only for sessions the caller may see: anyone else's answers 404. On a hub, a
/// fleet host's session (`host:name`) too, for those who see it in their list.
#[utoipa::path(put, path = "/api/push/sessions/{name}", operation_id = "followSession", tag = "push",
    responses((status = 200, body = OkResponse), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn follow(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<OkResponse>> {
    let username = username(&caller)?;
    // A fleet host's session (`host:name`): whoever sees it in their list may follow it.
    if let Some((host, remote)) = llmux_fleet::split_remote(&name) {
        let (session, owner) = crate::remote_push::follow_target(&state, &caller.0, host, remote)?;
        state.notifier.follow(username, &session, &owner).await?;
        return Ok(Json(OkResponse { ok: true }));
    }
    let session = state.facade.target(&caller.0, &name, Action::OwnTokens)?;
    state.notifier.follow(username, &session.name, &session.owner).await?;
    Ok(Json(OkResponse { ok: true }))
}

/// Stop notifications about a session. Touches only the caller's own opt-in, so it answers
/// 200 whether or not the session (still) exists.
#[utoipa::path(delete, path = "/api/push/sessions/{name}", operation_id = "unfollowSession", tag = "push",
    responses((status = 200, body = OkResponse), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
async fn unfollow(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<OkResponse>> {
    caller.require(Action::OwnTokens)?;
    let name = match llmux_fleet::split_remote(&name) {
        Some((host, remote)) => crate::remote_push::stored_name(&state, &caller.0, host, remote),
        None => state.facade.resolve(&caller.0, &name),
    };
    state.notifier.unfollow(username(&caller)?, &name).await?;
    Ok(Json(OkResponse { ok: true }))
}

/// Send a test notification to every device of the caller; answers once the push services
/// have (or 10 s passed).
#[utoipa::path(post, path = "/api/push/test", operation_id = "sendTestPush", tag = "push",
    responses((status = 200, body = PushTestResponse), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
async fn test(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<PushTestResponse>> {
    caller.require(Action::OwnTokens)?;
    let report = state.notifier.send_test(username(&caller)?).await?;
    Ok(Json(PushTestResponse {
        ok: true,
        sent: report.sent,
        failed: report.failed,
        removed: report.removed,
    }))
}
