//! Who the caller is, per transport, and the checks every TCP request passes first.
//!
//! Order on TCP (outermost first): `Host` must be known (421, against DNS rebinding); unsafe
//! methods from a browser must come from our own origin (403, against CSRF); protected routes
//! need a bearer token or the session cookie (401). Addresses and forwarding headers are never
//! consulted for any of it.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use llmux_auth::Principal;

use crate::Transport;
use crate::error::ApiError;
use crate::state::{AppState, WebPolicy};

/// Name of the browser session cookie.
pub const COOKIE: &str = "llmux_session";

/// Headers that mean "a proxy relayed this": never acceptable on the local socket. `name` is
/// lower case (as `http` stores header names). Prefixes catch whole families (`X-Forwarded-*`,
/// `Tailscale-*`, `X-Envoy-*`); the list names the client-address headers of common proxies,
/// CDNs and load balancers (nginx, Apache, Envoy, Cloudflare, Akamai, Fastly, Rackspace, …).
pub(crate) fn is_proxy_header(name: &str) -> bool {
    const PREFIXES: [&str; 5] =
        ["x-forwarded", "tailscale-", "x-envoy-", "x-original-forwarded", "x-proxyuser"];
    const NAMES: [&str; 14] = [
        "forwarded",
        "forwarded-for",
        "via",
        "x-real-ip",
        "x-client-ip",
        "client-ip",
        "true-client-ip",
        "cf-connecting-ip",
        "cf-connecting-ipv6",
        "fastly-client-ip",
        "x-cluster-client-ip",
        "x-originating-ip",
        "x-remote-ip",
        "x-remote-addr",
    ];
    PREFIXES.iter().any(|p| name.starts_with(p)) || NAMES.contains(&name)
}

/// Unix socket: the kernel checked the peer uid at accept, so the caller is the local
/// operator — unless the request carries proxy headers, which means something is relaying
/// remote traffic into the socket. Such requests are refused outright.
async fn local_operator(state: &AppState, req: &mut Request) -> Result<(), Response> {
    if let Some(name) = req.headers().keys().find(|n| is_proxy_header(n.as_str())) {
        tracing::warn!(header = %name, "refused a proxied request on the Unix socket");
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "proxied_request",
            format!(
                "the local socket does not accept proxied requests ({name} header present); \
                 point proxies at the TCP port"
            ),
        )
        .into_response());
    }
    let principal = act_as(state, Principal::LocalOperator, req.headers(), req.uri().path())
        .await
        .map_err(IntoResponse::into_response)?;
    req.extensions_mut().insert(principal);
    Ok(())
}

/// A system daemon's users' socket: the caller is the llmux user whose mapped Unix account
/// the kernel says it runs as; any other uid (root included: it has the operator's socket) is
/// refused. Proxy headers are refused as on the operator's socket.
async fn unix_user(state: &AppState, req: &mut Request) -> Result<(), Response> {
    if let Some(name) = req.headers().keys().find(|n| is_proxy_header(n.as_str())) {
        tracing::warn!(header = %name, "refused a proxied request on the users' socket");
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "proxied_request",
            format!("the users' socket does not accept proxied requests ({name} header present)"),
        )
        .into_response());
    }
    let Some(crate::listen::PeerUid(uid)) = req.extensions().get().copied() else {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "forbidden", "no peer credentials")
            .into_response());
    };
    match state.auth.principal_for_uid(uid).await {
        Ok(Some(principal)) => {
            // a user's own socket never acts as anyone else (refused with 403)
            let principal = act_as(state, principal, req.headers(), req.uri().path())
                .await
                .map_err(IntoResponse::into_response)?;
            req.extensions_mut().insert(principal);
            Ok(())
        }
        Ok(None) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "uid {uid} is not the Unix account of any llmux user; an admin maps one with: \
                 llmux user edit NAME --unix-account ACCOUNT"
            ),
        )
        .into_response()),
        Err(e) => Err(ApiError::from(e).into_response()),
    }
}

/// The host name of a `Host` header value, lower case, without the port.
fn host_name(host: &str) -> String {
    let host = host.trim().to_ascii_lowercase();
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or("").to_owned();
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name.to_owned(),
        _ => host,
    }
}

/// Whether a `Host` is one we answer to. IP literals are always fine: DNS rebinding needs a
/// host *name* that an attacker controls.
pub(crate) fn host_allowed(policy: &WebPolicy, host: &str) -> bool {
    let name = host_name(host);
    name == "localhost"
        || name.ends_with(".localhost")
        || name.parse::<std::net::IpAddr>().is_ok()
        || policy.allowed_hosts.contains(&name)
}

/// TCP, every route: unknown `Host` → 421.
fn check_host(state: &AppState, req: &Request) -> Result<(), ApiError> {
    let host = req.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    if !host_allowed(&state.web, host) {
        tracing::warn!(host = %host, "refused a request for an unknown Host");
        return Err(ApiError::new(
            StatusCode::MISDIRECTED_REQUEST,
            "unknown_host",
            format!(
                "this daemon does not answer to host {host:?}; add it to server.allowedHosts \
                 in the config"
            ),
        ));
    }
    Ok(())
}

/// Whether a browser says this request comes from our own page: `Sec-Fetch-Site:
/// same-origin`, or an `Origin` equal to the request's own or an allowed one.
///
/// The daemon itself speaks plain HTTP, so its own origin is `http://` + `Host`, scheme
/// included: `https://HOST` is a different origin (finding 14) and passes only when it is an
/// allowed one (the public URL, the Tailscale names, `server.allowedOrigins`, the https form
/// of `server.allowedHosts`: the names a TLS proxy in front of us serves).
pub(crate) fn same_origin(policy: &WebPolicy, headers: &HeaderMap) -> Option<bool> {
    let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    if fetch_site.is_none() && origin.is_none() {
        return None;
    }
    if let Some(origin) = origin {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
        let own = origin.get(..7).is_some_and(|scheme| scheme.eq_ignore_ascii_case("http://"))
            && !host.is_empty()
            && origin[7..].eq_ignore_ascii_case(host);
        return Some(own || policy.allowed_origins.contains(&origin.to_ascii_lowercase()));
    }
    Some(matches!(fetch_site, Some("same-origin" | "none")))
}

fn is_unsafe(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// TCP, every route: a browser's unsafe request must come from our own origin.
fn check_origin(state: &AppState, req: &Request) -> Result<(), ApiError> {
    if is_unsafe(req.method()) && same_origin(&state.web, req.headers()) == Some(false) {
        tracing::warn!(path = %req.uri().path(), "refused a cross-origin request");
        return Err(cross_origin());
    }
    Ok(())
}

/// Every route and the fallback, by the transport the request came in on (the extension the
/// transport's own router puts on every request; none is a bug, refused): on the Unix socket
/// the caller is the local operator, on the users' socket the user mapped to the peer uid; on
/// TCP the `Host` and `Origin` checks (credentials are [`require_credentials`]'s, on the
/// protected routes only).
pub(crate) async fn gate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let checked = match req.extensions().get::<Transport>().copied() {
        Some(Transport::Unix) => local_operator(&state, &mut req).await,
        Some(Transport::UnixUsers) => unix_user(&state, &mut req).await,
        Some(Transport::Tcp) => check_host(&state, &req)
            .and_then(|()| check_origin(&state, &req))
            .map_err(IntoResponse::into_response),
        None => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "a request reached the routes without its transport",
        )
        .into_response()),
    };
    match checked {
        Ok(()) => next.run(req).await,
        Err(refused) => refused,
    }
}

fn cross_origin() -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "cross_origin", "cross-origin requests are not allowed")
}

/// The bearer token of `Authorization: Bearer …` (scheme case-insensitive).
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The value of our session cookie.
pub(crate) fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v)
}

/// Authenticates a TCP request from its bearer token or, failing that, its cookie.
/// A bearer token, when present, is authoritative (no cookie fallback).
pub(crate) async fn principal_of(
    state: &AppState,
    headers: &HeaderMap,
    method: &Method,
) -> Result<Principal, ApiError> {
    if let Some(token) = bearer(headers) {
        return state.auth.authenticate_token(token).await.map_err(|e| {
            tracing::warn!(error = %e, "refused a bearer token");
            ApiError::from(e)
        });
    }
    if let Some(cookie) = session_cookie(headers) {
        let principal = state.auth.authenticate_cookie(cookie).await.map_err(ApiError::from)?;
        // A cookie rides along on cross-site requests; only our own pages may change state.
        if is_unsafe(method) && same_origin(&state.web, headers) != Some(true) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "cross_origin",
                "cookie-authenticated changes must come from this site (Origin check failed)",
            ));
        }
        return Ok(principal);
    }
    Err(ApiError::unauthorized())
}

/// TCP, protected routes: a credential is required. API paths answer 401 JSON; pages
/// redirect to the sign-in page with a same-origin `returnTo`. The sockets' callers were
/// authenticated by [`gate`].
pub(crate) async fn require_credentials(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    // Only where `gate` authenticated the caller; any other request needs a credential.
    if matches!(req.extensions().get::<Transport>(), Some(Transport::Unix | Transport::UnixUsers)) {
        return next.run(req).await;
    }
    match principal_of(&state, req.headers(), req.method()).await {
        // A metrics token reads /metrics and nothing else, whatever a route's own check says.
        Ok(principal) if principal.is_metrics_only() && req.uri().path() != "/metrics" => {
            ApiError::from(llmux_auth::Error::Forbidden("this token can only read /metrics".into()))
                .into_response()
        }
        Ok(mut principal) => {
            on_behalf_of(&mut principal, req.headers());
            let principal = match act_as(&state, principal, req.headers(), req.uri().path()).await {
                Ok(principal) => principal,
                Err(e) => return e.into_response(),
            };
            req.extensions_mut().insert(principal);
            next.run(req).await
        }
        Err(e) if e.status() == StatusCode::UNAUTHORIZED && wants_html(&req) => {
            let path = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
            Redirect::to(&format!("/login?returnTo={}", encode_query(path))).into_response()
        }
        Err(e) => {
            let mut res = e.into_response();
            if session_cookie(req.headers()).is_some() && res.status() == StatusCode::UNAUTHORIZED {
                res.headers_mut().append(header::SET_COOKIE, clear_cookie());
            }
            res
        }
    }
}

/// The header a fleet hub names the hub user it acts for in (issue 17).
pub(crate) const ON_BEHALF_OF: &str = "x-llmux-on-behalf-of";

/// The header a fleet hub names the host user it acts as in (issue 17).
pub(crate) const ACT_AS: &str = "x-llmux-act-as";

/// Records `X-Llmux-On-Behalf-Of` for a hub's token only (it changes no right: the audit log
/// names the hub user beside the token's user); from anyone else the header is ignored.
fn on_behalf_of(principal: &mut Principal, headers: &HeaderMap) {
    if !principal.is_hub() {
        return;
    }
    if let (Some(value), Principal::User(u)) = (plain_on_behalf(headers), principal) {
        u.on_behalf_of = Some(value);
    }
}

/// `X-Llmux-On-Behalf-Of` when it is a plain name (≤ 100 characters), else `None`.
fn plain_on_behalf(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(ON_BEHALF_OF)?.to_str().ok()?.trim();
    let plain = !value.is_empty()
        && value.len() <= 100
        && value.chars().all(|c| c.is_ascii_alphanumeric() || "._-@:".contains(c));
    plain.then(|| value.to_owned())
}

/// With `X-Llmux-Act-As: USER`: a fleet hub (a `hub` token, or the operator's socket over
/// SSH) acting as the host user `USER`, narrowed to that user's own sessions and policy
/// ([`llmux_auth::AuthService::act_as`]); anyone else, an unknown user or an admin is 403.
/// Only session routes (`/api/sessions…`, `/ws/…`: all a hub relays) take it: elsewhere it
/// is 403 too. Without the header the principal is unchanged.
async fn act_as(
    state: &AppState,
    principal: Principal,
    headers: &HeaderMap,
    path: &str,
) -> Result<Principal, ApiError> {
    let Some(value) = headers.get(ACT_AS) else { return Ok(principal) };
    if !(path == "/api/sessions" || path.starts_with("/api/sessions/") || path.starts_with("/ws/"))
    {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "X-Llmux-Act-As is for session routes only",
        ));
    }
    let name = value.to_str().unwrap_or_default().trim();
    let on_behalf = match &principal {
        Principal::User(u) => u.on_behalf_of.clone(),
        Principal::LocalOperator => plain_on_behalf(headers),
    };
    let uid = rustix::process::getuid().as_raw();
    let acting = state.auth.act_as(&principal, name, on_behalf, uid).await.map_err(|e| {
        tracing::warn!(error = %e, "refused X-Llmux-Act-As");
        ApiError::from(e)
    })?;
    Ok(acting)
}

fn wants_html(req: &Request) -> bool {
    let path = req.uri().path();
    req.method() == Method::GET
        && !path.starts_with("/api/")
        && !path.starts_with("/ws/")
        && path != "/metrics"
}

fn encode_query(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// `Set-Cookie` for a new browser session.
pub(crate) fn session_cookie_header(
    state: &AppState,
    headers: &HeaderMap,
    value: &str,
) -> HeaderValue {
    let max_age = llmux_auth::SESSION_LIFETIME_SECS;
    let secure = if wants_secure(&state.web, headers) { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    ))
    .expect("cookie values are hex and dots")
}

/// `Set-Cookie` that removes the session cookie.
pub(crate) fn clear_cookie() -> HeaderValue {
    HeaderValue::from_static("llmux_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0")
}

/// Cookies get `Secure` when the page is served over https: the configured public URL says
/// so, or the browser's `Origin` is https, or the TLS-terminating proxy says so. These only
/// ever make the cookie stricter, so trusting them grants nothing.
pub(crate) fn wants_secure(policy: &WebPolicy, headers: &HeaderMap) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("");
    policy.secure_cookies
        || header("origin").starts_with("https://")
        || header("x-forwarded-proto").eq_ignore_ascii_case("https")
}

/// Security headers on every response. Pages set their own CSP.
pub(crate) async fn security_headers(req: Request, next: Next) -> Response {
    let is_api = req.uri().path().starts_with("/api/") || req.uri().path() == "/health";
    let mut res = next.run(req).await;
    let headers = res.headers_mut();
    let defaults = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CONTENT_SECURITY_POLICY, "default-src 'none'; frame-ancestors 'none'"),
    ];
    for (name, value) in defaults {
        headers.entry(name).or_insert(HeaderValue::from_static(value));
    }
    if is_api {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> WebPolicy {
        WebPolicy {
            allowed_hosts: ["box.tailnet.ts.net".to_owned()].into(),
            allowed_origins: ["https://app.example".to_owned()].into(),
            secure_cookies: false,
        }
    }

    #[test]
    fn hosts() {
        let p = policy();
        for ok in [
            "localhost:3001",
            "127.0.0.1:3001",
            "[::1]:3001",
            "10.0.0.5",
            "BOX.tailnet.ts.net",
            "a.localhost",
        ] {
            assert!(host_allowed(&p, ok), "{ok}");
        }
        for bad in ["evil.example", "evil.example:3001", "", "box.tailnet.ts.net.evil.example"] {
            assert!(!host_allowed(&p, bad), "{bad}");
        }
    }

    #[test]
    fn origins() {
        let p = policy();
        let h = |pairs: &[(&'static str, &'static str)]| {
            let mut m = HeaderMap::new();
            for (k, v) in pairs {
                m.insert(*k, HeaderValue::from_static(v));
            }
            m
        };
        assert_eq!(same_origin(&p, &h(&[("host", "localhost:3001")])), None);
        assert_eq!(
            same_origin(&p, &h(&[("host", "localhost:3001"), ("origin", "http://localhost:3001")])),
            Some(true)
        );
        assert_eq!(
            same_origin(&p, &h(&[("host", "localhost:3001"), ("origin", "http://evil.example")])),
            Some(false)
        );
        // The scheme counts: the daemon is plain http; https only through an allowed origin.
        assert_eq!(
            same_origin(
                &p,
                &h(&[("host", "localhost:3001"), ("origin", "https://localhost:3001")])
            ),
            Some(false)
        );
        assert_eq!(
            same_origin(&p, &h(&[("host", "app.example"), ("origin", "http://app.example")])),
            Some(true)
        );
        assert_eq!(
            same_origin(&p, &h(&[("host", "x"), ("origin", "http://app.example")])),
            Some(false)
        );
        assert_eq!(same_origin(&p, &h(&[("origin", "http://")])), Some(false));
        assert_eq!(
            same_origin(&p, &h(&[("host", "x"), ("origin", "https://app.example")])),
            Some(true)
        );
        assert_eq!(same_origin(&p, &h(&[("host", "x"), ("origin", "null")])), Some(false));
        assert_eq!(
            same_origin(&p, &h(&[("host", "x"), ("sec-fetch-site", "cross-site")])),
            Some(false)
        );
        assert_eq!(
            same_origin(&p, &h(&[("host", "x"), ("sec-fetch-site", "same-origin")])),
            Some(true)
        );
    }

    #[test]
    fn relay_headers() {
        for name in [
            "x-forwarded",
            "x-forwarded-for",
            "x-client-ip",
            "true-client-ip",
            "x-envoy-external-address",
            "x-original-forwarded-for",
            "x-proxyuser-ip",
            "client-ip",
        ] {
            assert!(is_proxy_header(name), "{name}");
        }
        for name in ["host", "origin", "x-requested-with", "content-type", "authorization"] {
            assert!(!is_proxy_header(name), "{name}");
        }
    }

    #[test]
    fn bearer_and_cookie_parsing() {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("bearer  abc "));
        h.insert(header::COOKIE, HeaderValue::from_static("a=1; llmux_session=x.y; b=2"));
        assert_eq!(bearer(&h), Some("abc"));
        assert_eq!(session_cookie(&h), Some("x.y"));
    }
}
