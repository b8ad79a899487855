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
mod router;
pub(crate) use router::{ApiRouter, routes};
pub(crate) mod sessions;
mod tokens;
mod uploads;
mod users;

use std::sync::OnceLock;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use utoipa::OpenApi;

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

/// The routes that answer without credentials, and those that need an authenticated
/// principal: one description each, for serving and for the OpenAPI document.
fn api_routers() -> (ApiRouter, ApiRouter) {
    let public = ApiRouter::new().merge(meta::router()).merge(auth::public_router());
    let protected = ApiRouter::new()
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
        .merge(placement::router());
    (public, protected)
}

/// The routers, without the OpenAPI document: building it is the largest allocation of the
/// start, and glibc would keep that heap for the daemon's life (`router.rs`; issue 14). The
/// daemon builds them once ([`crate::routed`]), for all its listeners.
pub(crate) fn routes() -> Routes {
    let (public, protected) = api_routers();
    let public = public.plain().merge(crate::web::public_router());
    let protected = protected
        .plain()
        .route("/api/openapi.json", get(openapi))
        .merge(crate::web::protected_router())
        .merge(crate::attach::router());
    Routes { public, protected }
}

/// The OpenAPI document as JSON, built and rendered on its first request and kept: most
/// daemons are never asked for it (issue 14, daemon memory).
pub(crate) fn document() -> &'static str {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let (public, protected) = api_routers();
        let mut doc = ApiDoc::openapi();
        doc.merge(public.documented().into_openapi());
        doc.merge(protected.documented().into_openapi());
        doc.to_pretty_json().expect("the OpenAPI document serializes")
    })
}

/// The OpenAPI 3.1 document of this API.
async fn openapi(caller: crate::extract::Caller) -> crate::error::ApiResult<impl IntoResponse> {
    caller.require(llmux_auth::Action::ReadSessions)?;
    Ok(([(header::CONTENT_TYPE, "application/json")], document()))
}
