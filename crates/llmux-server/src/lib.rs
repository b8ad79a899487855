//! The llmux daemon's HTTP side: the REST API served on a Unix socket (local operator,
//! trusted by kernel-verified uid) and on TCP (credentials required, never trusted by address).
//!
//! - [`app`] builds the router for one transport; [`serve`] runs it on a listener until a
//!   shutdown future completes. Tests call the router in-process (tower's `oneshot`) or
//!   [`serve`] it on a listener of their own.
//! - [`daemon::Daemon`] owns the state dir lock, the store, the tmux server and both listeners,
//!   and serves each with [`serve`].
//! - [`logbuf::LogBuffer`] keeps recent log lines for the admin API.

mod api;
mod attach;
mod conn;
pub mod daemon;
mod error;
mod extract;
mod idempotency;
pub mod listen;
pub mod logbuf;
mod metrics;
mod placement;
mod relay;
mod remote_push;
mod security;
mod state;
pub mod systemd;
mod web;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::response::{IntoResponse, Response};
use llmux_api::MAX_BODY_BYTES;

pub use conn::StreamCaps;
pub use error::ApiError;
pub use state::{AppState, DaemonInfo, WebPolicy};

impl AppState {
    /// State over running services.
    // One argument per service the daemon starts; a builder would only restate them.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        sessions: Arc<llmux_core::sessions::SessionService>,
        auth: Arc<llmux_auth::AuthService>,
        logs: Arc<logbuf::LogBuffer>,
        web: WebPolicy,
        info: DaemonInfo,
        notifier: Arc<llmux_notify::Notifier>,
        fleet: Arc<llmux_fleet::Fleet>,
        limits: &llmux_core::config::Limits,
    ) -> Self {
        let metrics = Arc::new(metrics::Metrics::new(sessions.clone(), notifier.clone()));
        AppState {
            facade: llmux_auth::Sessions::new(sessions.clone(), auth.clone()),
            idempotency: Arc::new(idempotency::Keys::new(sessions.store().clone())),
            metrics,
            sessions,
            auth,
            logs,
            web: Arc::new(web),
            info: Arc::new(info),
            notifier,
            fleet,
            list_cache: Arc::new(std::sync::Mutex::new(((0, None), bytes::Bytes::new()))),
            streams: Arc::new(conn::StreamCaps::new(limits)),
            limits: *limits,
            stopping: Arc::new(tokio::sync::watch::channel(false).0),
            open_streams: Arc::new(tokio::sync::watch::channel(0).0),
        }
    }
}

/// Which listener a router serves; decides how callers are authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// The Unix socket: the peer uid was checked at accept; the caller is the local operator.
    Unix,
    /// TCP: every protected route needs a credential.
    Tcp,
    /// A system daemon's users' socket: the peer uid must be the Unix account an admin mapped
    /// to an llmux user, and the caller is that user.
    UnixUsers,
}

/// The router for one transport: [`routed`] under [`for_transport`].
pub fn app(state: AppState, transport: Transport) -> Router {
    for_transport(&state, routed(state.clone()), transport)
}

/// The routes over `state` with their per-route layers, the same for every transport (each
/// request carries its transport: [`for_transport`]). Routes are layered one by one, per
/// method, so the daemon builds this once and its listeners share it (issue 14, daemon memory).
///
/// Per route, outermost first: the request metrics (counted per route template, so around
/// every other check: a 401 or 421 counts too), the transport's gate (`security::gate`: the
/// socket's caller, or on TCP the `Host` and `Origin` checks), then on the protected routes
/// only a credential on TCP (so unknown paths stay 404 on the socket; on TCP, where nothing is
/// known to an anonymous caller, they answer 401), and the relay of actions on a remote
/// session (`host:name`) to its host.
pub fn routed(state: AppState) -> Router {
    let routes = api::routes();
    let protected = routes
        .protected
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), relay::relay))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            security::require_credentials,
        ));
    Router::new()
        .merge(routes.public)
        .merge(protected)
        .fallback(fallback)
        .layer(axum::middleware::from_fn_with_state(state.clone(), security::gate))
        .layer(axum::middleware::from_fn_with_state(state.clone(), metrics::track))
        .with_state(state)
}

/// [`routed`] served on `transport`. Layers, outermost first: security headers, request
/// tracing (path only: never a query string), compression, body limit, the idempotency keys,
/// and the transport every request carries in.
pub fn for_transport(state: &AppState, routed: Router, transport: Transport) -> Router {
    // What applies to every request alike wraps the routed whole once: `Router::layer` wraps
    // each route's handler per method.
    Router::new()
        .fallback_service(routed)
        .layer(axum::Extension(transport))
        // for the idempotency layer of the routes that act on sessions
        .layer(axum::Extension(state.idempotency.clone()))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        // gzip/brotli for what benefits (never event streams or images; tower-http's default)
        .layer(tower_http::compression::CompressionLayer::new())
        .layer(
            tower_http::trace::TraceLayer::new_for_http().make_span_with(|req: &Request| {
                tracing::debug_span!("request", method = %req.method(), path = %req.uri().path())
            }),
        )
        .layer(axum::middleware::from_fn(security::security_headers))
}

/// Serves the router of `transport` over `state` on `listener` until `shutdown` completes; then
/// stops accepting, lets idle connections close and open responses finish (5 s at most).
///
/// The accept loop enforces the daemon's limits (`server.limits`): header and idle timeouts on
/// both transports, and on TCP the connection cap. A test can run it on a listener of its own,
/// or skip it and call [`app`] with tower's `oneshot`; the daemon runs [`serve_routed`] for
/// each of its listeners, over one [`routed`].
pub async fn serve<L>(
    listener: L,
    state: AppState,
    transport: Transport,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()>
where
    L: axum::serve::Listener,
    L::Io:
        tokio::io::AsyncRead + tokio::io::AsyncWrite + std::os::fd::AsFd + Unpin + Send + 'static,
    L::Addr: listen::PeerCredentials,
{
    let routed = routed(state.clone());
    serve_routed(listener, &state, routed, transport, shutdown).await
}

/// [`serve`] with the routes built already ([`routed`] over `state`).
pub async fn serve_routed<L>(
    listener: L,
    state: &AppState,
    routed: Router,
    transport: Transport,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()>
where
    L: axum::serve::Listener,
    L::Io:
        tokio::io::AsyncRead + tokio::io::AsyncWrite + std::os::fd::AsFd + Unpin + Send + 'static,
    L::Addr: listen::PeerCredentials,
{
    let policy = match transport {
        Transport::Unix | Transport::UnixUsers => conn::ConnPolicy::unix(&state.limits),
        Transport::Tcp => conn::ConnPolicy::tcp(&state.limits),
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let app = for_transport(state, routed, transport);
    let serving = conn::serve(listener, app, policy, stopped);
    tokio::pin!(serving);
    tokio::select! {
        done = &mut serving => return done,
        () = shutdown => {
            let _ = stop.send(true);
        }
    }
    serving.await
}

/// Unknown paths, by transport: [`not_found`] on the sockets, [`tcp_fallback`] on TCP.
async fn fallback(state: axum::extract::State<AppState>, req: Request) -> Response {
    match req.extensions().get::<Transport>() {
        Some(Transport::Tcp) => tcp_fallback(state, req).await,
        _ => not_found(req).await,
    }
}

/// Unknown paths: the app's "Page not found" page for a browser asking for a page, else JSON.
async fn not_found(req: Request) -> Response {
    if let Some(page) = web::not_found_page(&req) {
        return page;
    }
    ApiError::no_route(req.method().as_str(), req.uri().path()).into_response()
}

/// Unknown paths on TCP: 404 for a signed-in caller, 401 for anyone else (who learns nothing
/// about which paths exist). A browser asking for a page outside `/api/` and `/ws/` gets the
/// "Page not found" page either way: it is the same for every path and caller.
async fn tcp_fallback(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: Request,
) -> Response {
    if let Some(page) = web::not_found_page(&req) {
        return page;
    }
    match security::principal_of(&state, req.headers(), req.method()).await {
        Ok(_) => not_found(req).await,
        Err(e) => e.into_response(),
    }
}
