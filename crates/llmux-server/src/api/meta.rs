//! Public routes: `/health` and `GET /api/version`.

use axum::extract::State;
use llmux_core::api::{HealthResponse, VersionResponse};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::extract::Json;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(health)).routes(routes!(version))
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
