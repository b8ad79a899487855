//! Signing in and out: setup, login, pairing, logout, whoami.

use super::{ApiRouter, routes};
use axum::extract::State;
use axum::http::HeaderValue;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use llmux_api::{
    ErrorBody, LoginRequest, LoginResponse, OkResponse, PairPeekResponse, PairRequest,
    PairingResponse, SetupRequest, TokenScope, WhoamiResponse,
};
use llmux_auth::{Action, DEVICE_COOKIE_PREFIX, DEVICE_LIFETIME, Login, Principal, Via};

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Caller, Json, UserAgent};
use crate::security::{clear_cookie, session_cookie, session_cookie_header, wants_secure};

/// Routes that work without a credential.
pub(crate) fn public_router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(setup))
        .routes(routes!(login))
        .routes(routes!(pair))
        .routes(routes!(pair_peek))
}

/// Routes that need one.
pub(crate) fn router() -> ApiRouter {
    ApiRouter::new().routes(routes!(logout)).routes(routes!(whoami)).routes(routes!(pairing))
}

fn signed_in(state: &AppState, headers: &HeaderMap, login: Login) -> Response {
    let body = LoginResponse {
        ok: true,
        user: login.user,
        token_info: login.token.as_ref().map(|(_, t)| t.clone()),
        token: login.token.map(|(v, _)| v),
    };
    let mut res = Json(body).into_response();
    if let Some(cookie) = login.cookie {
        res.headers_mut()
            .insert(header::SET_COOKIE, session_cookie_header(state, headers, &cookie));
    }
    if let Some((name, value)) = login.device_cookie {
        // Sent back only to the sign-in routes, never readable by scripts.
        let secure = if wants_secure(&state.web, headers) { "; Secure" } else { "" };
        let max_age = DEVICE_LIFETIME.as_secs();
        let cookie = format!(
            "{name}={value}; Path=/api/auth; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
        );
        res.headers_mut().append(
            header::SET_COOKIE,
            HeaderValue::from_str(&cookie).expect("usernames and cookie values are header-safe"),
        );
    }
    res
}

/// The request's device cookies as (username, value).
fn device_cookies(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .filter_map(|(k, v)| Some((k.strip_prefix(DEVICE_COOKIE_PREFIX)?.to_owned(), v.to_owned())))
        .take(32)
        .collect()
}

/// Create the first admin with the one-time setup token; signs the browser in.
#[utoipa::path(post, path = "/api/setup", operation_id = "setupFirstAdmin", tag = "auth", request_body = SetupRequest,
    responses((status = 200, body = LoginResponse), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn setup(
    State(state): State<AppState>,
    UserAgent(ua): UserAgent,
    headers: HeaderMap,
    Json(req): Json<SetupRequest>,
) -> ApiResult<Response> {
    let login = state.auth.setup(req, &ua).await?;
    Ok(signed_in(&state, &headers, login))
}

/// Sign in with username and passphrase: a browser session (cookie, plus a long-lived device
/// cookie for this account), or with `deviceName` a device token returned once. Throttled per
/// account, and per device cookie for browsers that signed in to the account before (those
/// are not held by the account's lockout); `429` with `Retry-After` also when the daemon is
/// busy hashing other attempts.
#[utoipa::path(post, path = "/api/auth/login", operation_id = "login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 400, description = "Bad input: malformed JSON, a value outside the documented schema (length, pattern, range), a query number out of range", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn login(
    State(state): State<AppState>,
    UserAgent(ua): UserAgent,
    headers: HeaderMap,
    Json(req): Json<LoginRequest>,
) -> ApiResult<Response> {
    let login = state
        .auth
        .login(req, &device_cookies(&headers), &ua)
        .await
        .inspect_err(|e| state.metrics.signin_refused(e))?;
    Ok(signed_in(&state, &headers, login))
}

/// Whose sign-in a pairing code carries, without using the code up, and who this browser is
/// signed in as now: the pairing page asks before it replaces an existing sign-in. The code
/// travels in the body, never in a URL.
#[utoipa::path(post, path = "/api/auth/pair/peek", operation_id = "peekPairingCode", tag = "auth", request_body = PairRequest,
    responses((status = 200, body = PairPeekResponse), (status = 400, description = "Bad input: malformed JSON, a value outside the documented schema (length, pattern, range), a query number out of range", body = ErrorBody),
        (status = 401, body = ErrorBody)))]
async fn pair_peek(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(req): Json<PairRequest>,
) -> ApiResult<Json<PairPeekResponse>> {
    let mut peek = state.auth.peek_pairing(&req.code).await?;
    if let Some(cookie) = session_cookie(&headers) {
        let current = state.auth.authenticate_cookie(cookie).await.ok();
        peek.signed_in_as = current.and_then(|p| p.username().map(str::to_owned));
    }
    Ok(Json(peek))
}

/// Trade a one-time pairing code for a browser session with the rights of the credential
/// that made the code.
#[utoipa::path(post, path = "/api/auth/pair", operation_id = "pairBrowser", tag = "auth", request_body = PairRequest,
    responses((status = 200, body = LoginResponse), (status = 400, description = "Bad input: malformed JSON, a value outside the documented schema (length, pattern, range), a query number out of range", body = ErrorBody),
        (status = 401, body = ErrorBody)))]
async fn pair(
    State(state): State<AppState>,
    UserAgent(ua): UserAgent,
    headers: HeaderMap,
    Json(req): Json<PairRequest>,
) -> ApiResult<Response> {
    let login = state.auth.redeem_pairing(&req.code, &ua).await?;
    Ok(signed_in(&state, &headers, login))
}

/// End the credential in use: the browser session, or the token.
#[utoipa::path(post, path = "/api/auth/logout", operation_id = "logout", tag = "auth",
    responses((status = 200, body = OkResponse)))]
async fn logout(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    caller.require(Action::OwnIdentity)?;
    state.auth.logout(&caller.0).await?;
    let mut res = Json(OkResponse { ok: true }).into_response();
    res.headers_mut().insert(header::SET_COOKIE, clear_cookie());
    Ok(res)
}

/// Who the caller is and what the credential may do.
#[utoipa::path(get, path = "/api/auth/whoami", operation_id = "whoami", tag = "auth",
    responses((status = 200, body = WhoamiResponse)))]
async fn whoami(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<WhoamiResponse>> {
    caller.require(Action::OwnIdentity)?;
    let admin = caller.0.is_admin();
    // where a start may go: the fleet's own rule for a mapped user, and only for a caller
    // whose credential may start sessions at all
    let hosts = match &caller.0 {
        _ if !llmux_auth::policy::allows(&caller.0, Action::DriveSessions) => Vec::new(),
        _ if admin => state.fleet.start_choices(None),
        Principal::User(u) => state.fleet.start_choices(Some(&u.username)),
        Principal::LocalOperator => Vec::new(),
    };
    Ok(Json(match caller.0 {
        Principal::LocalOperator => WhoamiResponse {
            username: String::new(),
            name: "local operator".into(),
            admin,
            via: "local".into(),
            scope: None,
            token_id: None,
            hosts,
        },
        Principal::User(u) => {
            let (via, scope, token_id) = match u.via {
                // a paired browser's narrower scope is worth showing
                Via::Cookie { scope: TokenScope::Admin, .. } => ("cookie", None, None),
                Via::Cookie { scope, .. } => ("cookie", Some(scope), None),
                Via::Token { id, scope } => ("token", Some(scope), Some(id)),
                Via::Unix { .. } => ("unix", None, None),
            };
            WhoamiResponse {
                username: u.username,
                name: u.name,
                admin,
                via: via.into(),
                scope,
                token_id,
                hosts,
            }
        }
    }))
}

/// Mint a one-time pairing code (≤ 5 minutes) that signs a phone in as the caller, with no
/// more rights than the caller's credential and ending no later; the local operator pairs as
/// the first admin.
#[utoipa::path(post, path = "/api/pairing", operation_id = "createPairingCode", tag = "auth",
    responses((status = 201, body = PairingResponse), (status = 409, body = ErrorBody)))]
async fn pairing(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
) -> ApiResult<(StatusCode, Json<PairingResponse>)> {
    caller.require(Action::OwnTokens)?;
    let mut pairing = state.auth.create_pairing(&caller.0).await?;
    // The browser's own origin is where the phone should go; else the configured public URL,
    // else where the daemon really listens (a Tailscale name may have no `tailscale serve`
    // behind it): the CLI, on the socket, cannot know the port and must not guess it.
    let origin = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .filter(|o| o.starts_with("http://") || o.starts_with("https://"))
        .map(str::to_owned)
        .or_else(|| state.info.public_url.clone())
        .or_else(|| state.info.endpoints.last().map(|(_, url)| url.clone()));
    if let Some(origin) = origin {
        let url = format!("{}{}", origin.trim_end_matches('/'), pairing.path);
        pairing.qr_svg = qr_svg(&url);
        pairing.url = Some(url);
    }
    Ok((StatusCode::CREATED, Json(pairing)))
}

/// An SVG QR code (dark on light, with a quiet zone) of `text`.
fn qr_svg(text: &str) -> Option<String> {
    let code = qrcode::QrCode::new(text.as_bytes()).ok()?;
    Some(
        code.render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(240, 240)
            .dark_color(qrcode::render::svg::Color("#0b0c10"))
            .light_color(qrcode::render::svg::Color("#ffffff"))
            .build(),
    )
}
