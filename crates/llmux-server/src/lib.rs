//! The llmux daemon's HTTP side: the REST API served on a Unix socket (local operator,
//! trusted by kernel-verified uid) and on TCP (credentials required, never trusted by address).
//!
//! - [`app`] builds the router for one transport.
//! - [`daemon::Daemon`] owns the state dir lock, the store, the tmux server and both listeners.

mod api;
pub mod daemon;
mod error;
mod extract;
pub mod listen;
mod middleware;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::response::{IntoResponse, Response};
use llmux_core::api::MAX_BODY_BYTES;
use llmux_core::sessions::SessionService;

pub use error::ApiError;

/// Shared state of every handler: cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The session service.
    pub sessions: Arc<SessionService>,
    /// The OpenAPI document, rendered once.
    openapi: Arc<String>,
}

impl AppState {
    /// State over a running session service.
    pub fn new(sessions: Arc<SessionService>) -> Self {
        let (_, openapi) = api::routes();
        AppState { sessions, openapi: Arc::new(openapi) }
    }
}

/// Which listener a router serves; decides how callers are authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// The Unix socket: the peer uid was checked at accept; the caller is the local operator.
    Unix,
    /// TCP: every protected route needs a credential.
    Tcp,
}

/// The router for one transport.
///
/// Layers, outermost first: security headers, request tracing, body limit; then per transport
/// the authentication layer on the protected routes only, so unknown paths stay 404 (on TCP,
/// where nothing is known to an anonymous caller, they answer 401).
pub fn app(state: AppState, transport: Transport) -> Router {
    let (routes, _) = api::routes();
    let router = match transport {
        Transport::Unix => Router::new()
            .merge(routes.public)
            .merge(routes.protected)
            .fallback(not_found)
            .layer(axum::middleware::from_fn(middleware::local_operator)),
        Transport::Tcp => Router::new()
            .merge(routes.public)
            .merge(
                routes
                    .protected
                    .route_layer(axum::middleware::from_fn(middleware::require_credentials)),
            )
            .fallback(unauthorized),
    };
    router
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .layer(axum::middleware::from_fn(middleware::security_headers))
        .with_state(state)
}

async fn not_found(req: Request) -> Response {
    ApiError::no_route(req.method().as_str(), req.uri().path()).into_response()
}

async fn unauthorized() -> Response {
    ApiError::unauthorized().into_response()
}
