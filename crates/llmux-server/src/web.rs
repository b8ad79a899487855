//! The pages that exist before the web UI: sign-in, setup, pairing, and a minimal home page.
//!
//! They are static files (no server-side templating, so nothing from a user is ever spliced
//! into HTML); their script fills in data with `textContent`. A strict CSP allows only our own
//! scripts and styles.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::AppState;

/// The CSP of our pages: our own scripts and styles only, no inline code, no framing.
const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                        connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

macro_rules! asset {
    ($file:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../web/static/", $file))
    };
}

fn page(html: &'static str) -> Response {
    let mut res = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response();
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(PAGE_CSP));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut res = ([(header::CONTENT_TYPE, content_type)], body).into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    res
}

/// Pages and assets anyone may load.
pub(crate) fn public_router() -> Router<AppState> {
    Router::new()
        .route("/login", get(|| async { page(asset!("login.html")) }))
        .route("/setup", get(|| async { page(asset!("setup.html")) }))
        .route("/pair", get(|| async { page(asset!("pair.html")) }))
        .route(
            "/static/auth.js",
            get(|| async { asset("text/javascript; charset=utf-8", asset!("auth.js")) }),
        )
        .route(
            "/static/auth.css",
            get(|| async { asset("text/css; charset=utf-8", asset!("auth.css")) }),
        )
}

/// Pages that need a signed-in user (unauthenticated visits redirect to `/login`).
pub(crate) fn protected_router() -> Router<AppState> {
    Router::new().route("/", get(|| async { page(asset!("home.html")) }))
}
