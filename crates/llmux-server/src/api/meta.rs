//! The daemon itself: `/health` and `GET /api/version` (public), `GET /api/about` (any
//! signed-in caller).

use super::{ApiRouter, routes};
use axum::extract::State;
use llmux_api::{AboutResponse, Endpoint, HealthResponse, SessionStatus, VersionResponse};

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Caller, Json};

/// The routes that answer without credentials.
pub(crate) fn router() -> ApiRouter {
    ApiRouter::new().routes(routes!(health)).routes(routes!(version))
}

/// The routes for any signed-in caller.
pub(crate) fn signed_in_router() -> ApiRouter {
    ApiRouter::new().routes(routes!(about))
}

/// Liveness: answers without credentials, so it says only that the daemon is up (no counts
/// of anything: whoever asks may be anyone on the network).
#[utoipa::path(get, path = "/health", operation_id = "health", tag = "meta", responses((status = 200, body = HealthResponse)))]
async fn health() -> Json<HealthResponse> {
    Json(HealthResponse { ok: true, version: llmux_core::VERSION.to_owned(), auth_enabled: true })
}

/// The daemon's version, and whether the first admin is still to be created (so the sign-in
/// page can say how): answers without credentials.
#[utoipa::path(get, path = "/api/version", operation_id = "getVersion", tag = "meta", responses((status = 200, body = VersionResponse)))]
async fn version(State(state): State<AppState>) -> Json<VersionResponse> {
    Json(VersionResponse {
        version: llmux_core::VERSION.to_owned(),
        setup_pending: state.auth.setup_pending(),
    })
}

/// Version, host name, where the daemon is reachable, and how many sessions it has.
#[utoipa::path(get, path = "/api/about", operation_id = "getAbout", tag = "meta",
    responses((status = 200, body = AboutResponse)))]
async fn about(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<AboutResponse>> {
    let sessions = state.facade.list(&caller.0)?.into_vec();
    Ok(Json(AboutResponse {
        version: llmux_core::VERSION.to_owned(),
        hostname: tokio::fs::read_to_string("/proc/sys/kernel/hostname")
            .await
            .unwrap_or_default()
            .trim()
            .to_owned(),
        endpoints: state
            .info
            .endpoints
            .iter()
            .map(|(label, url)| Endpoint { label: label.clone(), url: url.clone() })
            .collect(),
        running: sessions.iter().filter(|s| s.status == SessionStatus::Running).count(),
        sessions: sessions.len(),
        load: tokio::fs::read_to_string("/proc/loadavg")
            .await
            .ok()
            .and_then(|l| l.split_whitespace().next()?.parse().ok()),
        mem_available: mem_available().await,
        acts_as_users: true,
    }))
}

/// This machine's `MemAvailable` in bytes, when `/proc/meminfo` says it.
pub(crate) async fn mem_available() -> Option<u64> {
    let m = tokio::fs::read_to_string("/proc/meminfo").await.ok()?;
    let line = m.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
