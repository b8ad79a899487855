//! The REST API: one module per noun, each exposing `router()`; the OpenAPI document is
//! generated from the handlers' annotations, so it cannot drift from the routes.

mod account;
pub(crate) mod admin;
mod agents;
mod auth;
mod conversations;
mod events;
pub(crate) use events::SHUTDOWN_REASON;
mod health;
mod hosts;
mod meta;
mod placement;
mod push;
mod queue;
mod review;
pub(crate) mod sessions;
mod tokens;
mod uploads;
mod users;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "llmux", description = "Agent CLIs in named tmux sessions, over REST."),
    tags(
        (name = "sessions", description = "Agent sessions"),
        (name = "agents", description = "The agent catalog"),
        (name = "auth", description = "Signing in and out"),
        (name = "account", description = "The caller's own account"),
        (name = "tokens", description = "API tokens"),
        (name = "push", description = "Web Push notifications to the caller's devices"),
        (name = "users", description = "User management (admins)"),
        (name = "admin", description = "Settings, logs and audit (admins)"),
        (name = "meta", description = "Health and version (no credentials needed)"),
        (name = "hosts", description = "Fleet hosts: other llmux daemons this hub shows and drives (admins)"),
        (name = "monitoring", description = "Prometheus metrics and detailed health (admins; metrics tokens)"),
    )
)]
struct ApiDoc;

/// The routes, split by who may call them.
pub(crate) struct Routes {
    /// Answer without credentials.
    pub public: Router<AppState>,
    /// Need an authenticated principal.
    pub protected: Router<AppState>,
}

/// Builds the routers and the OpenAPI document (as JSON).
pub(crate) fn routes() -> (Routes, String) {
    let (public, public_doc) =
        OpenApiRouter::new().merge(meta::router()).merge(auth::public_router()).split_for_parts();
    let (protected, protected_doc) = OpenApiRouter::new()
        .merge(sessions::router())
        .merge(queue::router())
        .merge(uploads::router())
        .merge(review::router())
        .merge(conversations::router())
        .merge(agents::router())
        .merge(auth::router())
        .merge(account::router())
        .merge(tokens::router())
        .merge(users::router())
        .merge(admin::router())
        .merge(events::router())
        .merge(meta::signed_in_router())
        .merge(push::router())
        .merge(health::router())
        .merge(hosts::router())
        .merge(placement::router())
        .split_for_parts();
    let mut doc = ApiDoc::openapi();
    doc.merge(public_doc);
    doc.merge(protected_doc);
    let json = doc.to_pretty_json().expect("the OpenAPI document serializes");
    let public = public.merge(crate::web::public_router());
    let protected = protected
        .route("/api/openapi.json", get(openapi))
        .merge(crate::web::protected_router())
        .merge(crate::attach::router());
    (Routes { public, protected }, json)
}

/// The OpenAPI 3.1 document of this API.
async fn openapi(
    State(state): State<AppState>,
    caller: crate::extract::Caller,
) -> crate::error::ApiResult<impl IntoResponse> {
    caller.require(llmux_auth::Action::ReadSessions)?;
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        Arc::clone(&state.openapi).as_str().to_owned(),
    ))
}
