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

/// Liveness: answers without credentials.
#[utoipa::path(get, path = "/health", operation_id = "health", tag = "meta", responses((status = 200, body = HealthResponse)))]
async fn health(State(state): State<AppState>) -> Json<HealthResponse> {
    Json(HealthResponse {
        ok: true,
        version: llmux_core::VERSION.to_owned(),
        sessions: state.sessions.count(),
        auth_enabled: true,
    })
}

/// The daemon's version: answers without credentials.
#[utoipa::path(get, path = "/api/version", operation_id = "getVersion", tag = "meta", responses((status = 200, body = VersionResponse)))]
async fn version() -> Json<VersionResponse> {
    Json(VersionResponse { version: llmux_core::VERSION.to_owned() })
}
