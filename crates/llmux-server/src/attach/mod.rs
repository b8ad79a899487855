//! `GET /ws/{name}`: a session's real terminal over a WebSocket.
//!
//! Authentication is the transport's (kernel uid on the socket; bearer token or cookie on TCP,
//! never a token in the URL). Every upgrade checks `Origin`: a browser (cookie) must send our
//! own origin or an allowed one; any foreign origin is refused. Someone else's session answers
//! 404; a read-only principal gets `tmux attach -r` and its input is dropped. A user may hold
//! `server.limits.maxWebSocketsPerUser` terminals open at once; more answer 429.

mod bridge;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use llmux_api::AttachQuery;
use llmux_auth::{Principal, Via};

use crate::AppState;
use crate::conn::StreamKind;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Caller, Path, Query};
use crate::security::same_origin;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/ws/{name}", get(attach))
}

async fn attach(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    Query(q): Query<AttachQuery>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> ApiResult<Response> {
    // Browsers always send Origin on WebSocket upgrades; a cookie-authenticated upgrade
    // without one is not from a page of ours.
    let browser = matches!(&caller.0, Principal::User(u) if matches!(u.via, Via::Cookie { .. }));
    match same_origin(&state.web, &headers) {
        Some(false) => return Err(forbidden("the WebSocket Origin is not allowed")),
        None if browser => return Err(forbidden("a browser WebSocket must send its Origin")),
        _ => {}
    }
    // A fleet host's session (`host:name`): relayed to the host over the link's transport.
    if let Some((host, remote)) = llmux_fleet::split_remote(&name) {
        return crate::relay::attach(state.clone(), caller.0, host, remote, q, ws).await;
    }
    let session = state.facade.attach(&caller.0, &name, q.read_only).await?;
    let opts = bridge::Options {
        name: session.name,
        read_only: session.read_only,
        cols: q.cols.unwrap_or(80),
        rows: q.rows.unwrap_or(24),
        history: q.history.unwrap_or(1000).min(5_000),
    };
    // Taken last, so a refused upgrade never holds a slot; freed when the socket closes (or
    // when the upgrade never completes and the callback is dropped).
    let slot = state.streams.acquire(StreamKind::WebSocket, &caller.0)?;
    let principal = caller.0;
    Ok(ws
        .max_message_size(1 << 20)
        .on_upgrade(move |socket| async move {
            let _slot = slot;
            let _viewer = state.metrics.viewer();
            bridge::run(state, principal, opts, socket).await
        })
        .into_response())
}

fn forbidden(message: &str) -> ApiError {
    tracing::warn!(reason = message, "refused a WebSocket upgrade");
    ApiError::new(StatusCode::FORBIDDEN, "cross_origin", message)
}
