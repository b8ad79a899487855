//! Request middleware: who the caller is, per transport, and the headers every response gets.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use llmux_auth::Principal;

use crate::error::ApiError;

/// Headers that mean "a proxy relayed this": never acceptable on the local socket.
fn is_proxy_header(name: &HeaderName) -> bool {
    let name = name.as_str();
    name.starts_with("x-forwarded-")
        || name.starts_with("tailscale-")
        || matches!(name, "forwarded" | "via" | "x-real-ip")
}

/// Unix socket: the kernel checked the peer uid at accept, so the caller is the local
/// operator — unless the request carries proxy headers, which means something is relaying
/// remote traffic into the socket. Such requests are refused outright.
pub(crate) async fn local_operator(mut req: Request, next: Next) -> Response {
    if let Some(name) = req.headers().keys().find(|n| is_proxy_header(n)) {
        tracing::warn!(header = %name, "refused a proxied request on the Unix socket");
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "proxied_request",
            format!(
                "the local socket does not accept proxied requests ({name} header present); \
                 point proxies at the TCP port"
            ),
        )
        .into_response();
    }
    req.extensions_mut().insert(Principal::LocalOperator);
    next.run(req).await
}

/// TCP: credentials are required, and accounts do not exist yet, so every protected route
/// answers 401. Where the request appears to come from is never considered.
pub(crate) async fn require_credentials(_req: Request, _next: Next) -> Response {
    ApiError::unauthorized().into_response()
}

/// Security headers on every response.
pub(crate) async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let headers = res.headers_mut();
    let defaults = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CONTENT_SECURITY_POLICY, "default-src 'none'; frame-ancestors 'none'"),
        (header::CACHE_CONTROL, "no-store"),
    ];
    for (name, value) in defaults {
        headers.entry(name).or_insert(HeaderValue::from_static(value));
    }
    res
}
