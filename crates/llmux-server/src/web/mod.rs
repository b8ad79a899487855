//! The web UI's pages and assets.
//!
//! Pages are static files (no server-side templating, so nothing from a user is ever spliced
//! into HTML); their scripts fill in data with `textContent`. A strict CSP allows only our own
//! scripts. Assets carry ETags; versioned URLs (`?v=<hash>`) are cacheable for a year.

mod assets;

use std::sync::OnceLock;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

pub(crate) use assets::Assets;
use assets::Encoding;

use crate::AppState;

/// The CSP of our pages: our own scripts only (no inline code, no eval), inline styles allowed
/// (xterm.js sizes its rows with them), no framing.
const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
    img-src 'self' data:; font-src 'self'; connect-src 'self'; manifest-src 'self'; \
    worker-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The SPA's page URLs (served `index.html`; the script routes).
const APP_PAGES: &[&str] = &[
    "/",
    "/new",
    "/edit/{name}",
    "/s/{name}",
    "/c/{name}",
    "/r/{name}",
    "/agents",
    "/tokens",
    "/account",
    "/admin/users",
    "/admin/settings",
    "/admin/logs",
    "/admin/audit",
    "/admin/hosts",
    "/about",
];

/// The assets, loaded once per process.
pub(crate) fn assets() -> &'static Assets {
    static ASSETS: OnceLock<Assets> = OnceLock::new();
    ASSETS.get_or_init(|| {
        let dir = std::env::var_os("LLMUX_WEB_DIR")
            .filter(|d| !d.is_empty())
            .map(std::path::PathBuf::from);
        let assets = Assets::load(dir.as_deref());
        tracing::debug!(js_css_bytes = assets.first_party_js_css_bytes(), "web assets loaded");
        assets
    })
}

fn serve(path: &str, headers: &HeaderMap, versioned: bool) -> Response {
    let Some(asset) = assets().get(path) else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    let html = asset.content_type.starts_with("text/html");
    let cache = if html {
        "no-cache"
    } else if versioned {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == asset.etag));
    let mut res = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        // Stored compressed once it has been asked for (see `Asset::encoded`); until then sent
        // as it is, for the compression layer to compress.
        let accept = headers.get(header::ACCEPT_ENCODING).and_then(|v| v.to_str().ok());
        let stored =
            accept.and_then(Encoding::preferred).and_then(|e| Some((e, asset.encoded(e)?)));
        let body = stored.as_ref().map_or_else(|| asset.body.clone(), |(_, b)| b.clone());
        let mut res = ([(header::CONTENT_TYPE, asset.content_type)], body).into_response();
        if let Some((encoding, _)) = stored {
            let value = HeaderValue::from_static(encoding.name());
            res.headers_mut().insert(header::CONTENT_ENCODING, value);
        }
        res
    };
    let h = res.headers_mut();
    if asset.compressible() {
        h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    h.insert(header::ETAG, HeaderValue::from_str(&asset.etag).expect("hex etag"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if html {
        h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(PAGE_CSP));
    }
    if path == "/sw.js" {
        h.insert("service-worker-allowed", HeaderValue::from_static("/"));
        // A worker runs under its own script's policy: let it fetch our assets.
        h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'self'"));
    }
    res
}

async fn asset(req: Request) -> Response {
    // Cacheable for a year only under the URL of this exact content.
    let path = req.uri().path();
    let wanted = req.uri().query().and_then(|q| q.strip_prefix("v="));
    let versioned =
        wanted.is_some() && assets().get(path).is_some_and(|a| Some(a.version.as_str()) == wanted);
    serve(path, req.headers(), versioned)
}

async fn page(file: &'static str, headers: HeaderMap) -> Response {
    serve(file, &headers, false)
}

/// The app's "Page not found" page (status 404) for a browser that asked for a page (`GET` or
/// `HEAD`, `Accept` naming `text/html`) at a path outside `/api/` and `/ws/`; `None` for
/// anyone else (API clients keep their JSON errors). The page is the same for every path and
/// every caller, so it tells nothing about which paths exist or who is signed in.
pub(crate) fn not_found_page(req: &Request) -> Option<Response> {
    let get = req.method() == axum::http::Method::GET || req.method() == axum::http::Method::HEAD;
    let path = req.uri().path();
    let api = ["/api", "/ws"]
        .iter()
        .any(|p| path.strip_prefix(p).is_some_and(|rest| rest.is_empty() || rest.starts_with('/')));
    let html = req
        .headers()
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|m| m.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("text/html")));
    if !get || api || !html {
        return None;
    }
    // Never a 304: the page is an error, not a cacheable document at this URL.
    let mut headers = req.headers().clone();
    headers.remove(header::IF_NONE_MATCH);
    let mut res = serve("/static/notfound.html", &headers, false);
    if res.status() == StatusCode::OK {
        *res.status_mut() = StatusCode::NOT_FOUND;
        res.headers_mut().remove(header::ETAG);
        Some(res)
    } else {
        None
    }
}

/// Pages and assets anyone may load.
pub(crate) fn public_router() -> Router<AppState> {
    Router::new()
        .route("/login", get(|h: HeaderMap| page("/static/login.html", h)))
        .route("/setup", get(|h: HeaderMap| page("/static/setup.html", h)))
        .route("/pair", get(|h: HeaderMap| page("/static/pair.html", h)))
        .route("/static/{*path}", get(asset))
        .route("/vendor/xterm/{file}", get(asset))
        .route("/sw.js", get(asset))
}

/// The app's pages: they need a signed-in user (unauthenticated visits redirect to `/login`).
pub(crate) fn protected_router() -> Router<AppState> {
    let mut router = Router::new();
    for path in APP_PAGES {
        router = router.route(path, get(app_page));
    }
    router
}

async fn app_page(State(_state): State<AppState>, headers: HeaderMap) -> Response {
    let file = if assets().get("/static/index.html").is_some() {
        "/static/index.html"
    } else {
        "/static/home.html"
    };
    serve(file, &headers, false)
}
