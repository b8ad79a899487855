//! `/api/push…`: Web Push for the caller's own devices, and which sessions they follow.
//!
//! Everything here is the caller's own account, like tokens: reading needs any credential,
//! changing needs `OwnTokens` (so read-only tokens cannot). The local operator (Unix socket)
//! is nobody's browser: every route but `vapid` answers 400 `no_account` for it.

use axum::extract::State;
use axum::http::StatusCode;
use llmux_auth::Action;
use llmux_core::api::{ErrorBody, OkResponse};
use llmux_core::store::{PushSessionRecord, PushSubscriptionRecord};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Caller, Json, Path, UserAgent};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(vapid))
        .routes(routes!(list, subscribe))
        .routes(routes!(unsubscribe))
        .routes(routes!(followed))
        .routes(routes!(follow, unfollow))
        .routes(routes!(test))
}

/// The daemon's VAPID public key.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct VapidKeyResponse {
    /// Uncompressed P-256 point, base64url: `applicationServerKey` for
    /// `pushManager.subscribe`.
    public_key: String,
}

/// The browser's keys from `PushSubscription.toJSON()`.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct PushKeys {
    /// The browser's P-256 public key, base64url.
    p256dh: String,
    /// The 16-byte authentication secret, base64url.
    auth: String,
}

/// `POST /api/push/subscriptions`: `PushSubscription.toJSON()` plus a label.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct CreatePushSubscriptionRequest {
    /// The push service URL (`https://…`).
    endpoint: String,
    /// The browser's keys.
    keys: PushKeys,
    /// What to call the device (default: its User-Agent).
    #[serde(default)]
    label: Option<String>,
}

/// One of the caller's devices.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PushSubscriptionView {
    /// Id (for `DELETE`).
    id: String,
    /// The push service URL (so a browser can find its own entry).
    endpoint: String,
    /// Device label.
    label: String,
    /// When it was added (RFC 3339).
    created_at: String,
    /// Last delivery the push service accepted (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    last_success_at: Option<String>,
}

impl From<PushSubscriptionRecord> for PushSubscriptionView {
    fn from(r: PushSubscriptionRecord) -> Self {
        PushSubscriptionView {
            id: r.id,
            endpoint: r.endpoint,
            label: r.label,
            created_at: llmux_core::time::rfc3339_ms(r.created_at),
            last_success_at: r.last_success_at.map(llmux_core::time::rfc3339_ms),
        }
    }
}

/// The caller's devices.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PushSubscriptionListResponse {
    /// Oldest first.
    subscriptions: Vec<PushSubscriptionView>,
}

/// A device was added (or refreshed).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PushSubscriptionResponse {
    /// Always true.
    ok: bool,
    /// The stored device.
    subscription: PushSubscriptionView,
}

/// A session the caller follows.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PushSessionView {
    /// Session name.
    name: String,
    /// Since when (RFC 3339).
    created_at: String,
}

impl From<PushSessionRecord> for PushSessionView {
    fn from(r: PushSessionRecord) -> Self {
        PushSessionView { name: r.session, created_at: llmux_core::time::rfc3339_ms(r.created_at) }
    }
}

/// The sessions the caller follows.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PushSessionListResponse {
    /// By name.
    sessions: Vec<PushSessionView>,
}

/// What a test notification did.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PushTestResponse {
    /// Always true.
    ok: bool,
    /// Devices whose push service accepted it.
    sent: u32,
    /// Devices whose push service refused it or could not be reached.
    failed: u32,
    /// Devices the push service called gone; they were removed.
    removed: u32,
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
        subscriptions: subs.into_iter().map(Into::into).collect(),
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
    Ok((StatusCode::CREATED, Json(PushSubscriptionResponse { ok: true, subscription: sub.into() })))
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
    let sessions = state.notifier.followed(username(&caller)?).await?;
    let shown = |r: PushSessionRecord| PushSessionView {
        name: state.facade.shown(&caller.0, &r.session),
        ..r.into()
    };
    Ok(Json(PushSessionListResponse { sessions: sessions.into_iter().map(shown).collect() }))
}

/// Get notifications when this session's agent needs its person (`working` → `waiting` or
/// `idle`). Only for sessions the caller may see: anyone else's answers 404.
#[utoipa::path(put, path = "/api/push/sessions/{name}", operation_id = "followSession", tag = "push",
    responses((status = 200, body = OkResponse), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn follow(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<OkResponse>> {
    let username = username(&caller)?;
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
    let name = state.facade.resolve(&caller.0, &name);
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
