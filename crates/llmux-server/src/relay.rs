//! Actions on a remote session, relayed to its host (issue 17).
//!
//! A hub names a host's session `host:name` (plain names have no `:`). A request to
//! `/api/sessions/host:name[/…]` is checked here, after authentication, and goes to the host
//! with the host's own name, through the link's client (the hub's credential on the host: its
//! token, or over SSH the SSH user's uid). Admins reach every session with that credential.
//! A non-admin reaches a host only where its user mapping names them a host user, and then
//! the request says so (`X-Llmux-Act-As`): the host narrows it to that user, so their own
//! sessions only, under the host's policy for them. Anyone else gets the same 404 as for a
//! session that does not exist. The host's answer comes back as it is, session names put
//! back in the hub's terms.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use llmux_auth::{Action, Principal, policy};

use crate::AppState;
use crate::error::ApiError;

/// Largest request body relayed (prompts are capped lower by the host itself).
const MAX_RELAYED_BODY: usize = 1 << 20;

/// The middleware: passes local names through untouched.
pub(crate) async fn relay(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some((host, name, tail)) = remote_target(req.uri().path()) else {
        return next.run(req).await;
    };
    let Some(principal) = req.extensions().get::<Principal>().cloned() else {
        return ApiError::unauthorized().into_response();
    };
    match forward(&state, &principal, &host, &name, &tail, req).await {
        Ok(res) => res,
        Err(e) => e.into_response(),
    }
}

/// `(host, name, rest of the path)` of `/api/sessions/host:name[/…]`.
fn remote_target(path: &str) -> Option<(String, String, String)> {
    let rest = path.strip_prefix("/api/sessions/")?;
    let (segment, tail) = match rest.split_once('/') {
        Some((s, t)) => (s, format!("/{t}")),
        None => (rest, String::new()),
    };
    let decoded = percent_decode(segment)?;
    let (host, name) = llmux_fleet::split_remote(&decoded)?;
    Some((host.to_owned(), name.to_owned(), tail))
}

async fn forward(
    state: &AppState,
    principal: &Principal,
    host: &str,
    name: &str,
    tail: &str,
    req: Request,
) -> Result<Response, ApiError> {
    let action = if matches!(*req.method(), Method::GET | Method::HEAD) {
        Action::ReadSessions
    } else {
        Action::DriveSessions
    };
    let reach = may_reach(state, principal, host, name, action)?;
    let client = state.fleet.client(host)?;
    reach.check_host(state, host)?;
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, MAX_RELAYED_BODY)
        .await
        .map_err(|_| ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", "body too large"))?;
    let mut path = format!("/api/sessions/{}{tail}", llmux_client::encode_segment(name));
    if let Some(q) = parts.uri.query() {
        path.push('?');
        path.push_str(q);
    }
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    let body = (!body.is_empty()).then_some((body, content_type));
    tracing::info!(host = %host, session.name = %name, method = %parts.method, "relayed to host");
    // The host records who acted when the hub's credential there is a `hub` token.
    let actor = principal.actor();
    let headers = reach.headers(&actor);
    let res = client.raw(parts.method.clone(), &path, body, &headers).await.map_err(|e| {
        ApiError::new(StatusCode::BAD_GATEWAY, "host_unreachable", format!("host {host:?}: {e}"))
    })?;
    let status = StatusCode::from_u16(res.status.as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    if status == StatusCode::UNAUTHORIZED {
        // The host refused the hub's credential: not the caller's own 401.
        return Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            "host_refused",
            format!("host {host:?} refused the hub's credential"),
        ));
    }
    let body = match serde_json::from_slice::<serde_json::Value>(&res.body) {
        Ok(mut json) => {
            rename(&mut json, host);
            bytes::Bytes::from(serde_json::to_vec(&json).expect("JSON values serialize"))
        }
        Err(_) => res.body,
    };
    let mut out = Response::new(Body::from(body));
    *out.status_mut() = status;
    if let Some(ct) = res.headers.get("content-type").and_then(|v| v.to_str().ok())
        && let Ok(v) = HeaderValue::from_str(ct)
    {
        out.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    Ok(out)
}

/// `POST /api/sessions` with `host`: the session is started on that host, by an admin with
/// the hub's credential, by a mapped non-admin as their host user (who then owns it there).
/// What the hub's policy refuses the caller here (`shell` for a non-admin) is refused first.
pub(crate) async fn create_on(
    state: &AppState,
    principal: &Principal,
    host: &str,
    req: llmux_api::CreateSessionRequest,
) -> Result<llmux_api::SessionView, ApiError> {
    let reach = if principal.is_admin() {
        Reach::Hub
    } else {
        let mapped = principal.username().and_then(|u| state.fleet.host_user(host, u));
        let Some(host_user) = mapped else {
            return Err(llmux_core::Error::NotFound(format!("no host named {host:?}")).into());
        };
        policy::require(principal, Action::DriveSessions)?;
        if req.agent == llmux_auth::SHELL {
            policy::require(principal, Action::StartShell)?;
        }
        Reach::As(host_user)
    };
    let client = state.fleet.client(host)?;
    reach.check_host(state, host)?;
    let body = bytes::Bytes::from(serde_json::to_vec(&req).expect("a request serializes"));
    let actor = principal.actor();
    let res = client
        .raw(
            axum::http::Method::POST,
            "/api/sessions",
            Some((body, "application/json")),
            &reach.headers(&actor),
        )
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                "host_unreachable",
                format!("host {host:?}: {e}"),
            )
        })?;
    if !res.status.is_success() {
        let message = serde_json::from_slice::<llmux_api::ErrorBody>(&res.body)
            .map(|b| b.error)
            .unwrap_or_else(|_| format!("HTTP {}", res.status));
        let status = match res.status.as_u16() {
            401 => StatusCode::BAD_GATEWAY,
            s => StatusCode::from_u16(s).unwrap_or(StatusCode::BAD_GATEWAY),
        };
        return Err(ApiError::new(status, "host_refused", format!("host {host:?}: {message}")));
    }
    let created: llmux_api::SessionResponse = serde_json::from_slice(&res.body).map_err(|e| {
        ApiError::new(StatusCode::BAD_GATEWAY, "host_protocol", format!("host {host:?}: {e}"))
    })?;
    Ok(llmux_fleet::present(host, created.session, false))
}

/// `GET /ws/host:name`: the host's terminal, relayed (admins only). The hub opens the host's
/// terminal WebSocket over the link's transport first (so a refusal is an HTTP answer), then
/// pumps frames both ways until either side closes, the caller's credential is revoked, or
/// the hub stops.
pub(crate) async fn attach(
    state: AppState,
    principal: Principal,
    host: &str,
    name: &str,
    q: llmux_api::AttachQuery,
    ws: axum::extract::ws::WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let reach = may_reach(&state, &principal, host, name, Action::ViewTerminal)?;
    let client = state.fleet.client(host)?;
    reach.check_host(&state, host)?;
    let opts = llmux_client::AttachOptions {
        cols: q.cols.unwrap_or(80),
        rows: q.rows.unwrap_or(24),
        history: q.history.unwrap_or(1000).min(5_000),
        // a caller who may not type here gets a view-only terminal there
        read_only: q.read_only || !policy::allows(&principal, Action::DriveSessions),
        insecure: false,
    };
    let actor = principal.actor();
    let remote =
        client.attach_with(name, opts, &reach.headers(&actor)).await.map_err(|e| {
            match e.status() {
                Some(s) if s.as_u16() != 401 => ApiError::new(
                    StatusCode::from_u16(s.as_u16()).unwrap_or(StatusCode::BAD_GATEWAY),
                    "host_refused",
                    format!("host {host:?}: {e}"),
                ),
                _ => ApiError::new(
                    StatusCode::BAD_GATEWAY,
                    "host_unreachable",
                    format!("host {host:?}: {e}"),
                ),
            }
        })?;
    let slot = state.streams.acquire(crate::conn::StreamKind::WebSocket, &principal)?;
    tracing::info!(host = %host, session.name = %name, "relaying a terminal");
    Ok(ws
        .max_message_size(1 << 20)
        .on_upgrade(move |socket| async move {
            let _slot = slot;
            let _open = state.stream_guard();
            pump(state, principal, socket, remote).await;
        })
        .into_response())
}

async fn pump(
    state: AppState,
    principal: Principal,
    mut socket: axum::extract::ws::WebSocket,
    mut remote: llmux_client::Terminal,
) {
    use axum::extract::ws::Message as A;
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message as T;
    let mut revocations = state.auth.subscribe();
    let stopped = state.stopped();
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            from_viewer = socket.recv() => {
                let msg = match from_viewer {
                    Some(Ok(A::Binary(b))) => T::Binary(b),
                    Some(Ok(A::Text(t))) => T::Text(t.as_str().into()),
                    Some(Ok(A::Ping(_) | A::Pong(_))) => continue,
                    _ => break,
                };
                if remote.send(msg).await.is_err() {
                    break;
                }
            }
            from_host = remote.next() => {
                let msg = match from_host {
                    Some(Ok(T::Binary(b))) => A::Binary(b),
                    Some(Ok(T::Text(t))) => A::Text(t.as_str().into()),
                    Some(Ok(T::Close(frame))) => {
                        let frame = frame.map(|f| axum::extract::ws::CloseFrame {
                            code: u16::from(f.code),
                            reason: f.reason.as_str().into(),
                        });
                        let _ = socket.send(A::Close(frame)).await;
                        break;
                    }
                    Some(Ok(_)) => continue,
                    _ => break,
                };
                if socket.send(msg).await.is_err() {
                    break;
                }
            }
            revoked = revocations.recv() => match revoked {
                Ok(r) if principal.is_revoked_by(&r) => break,
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(_) => break,
            },
            () = &mut stopped => break,
        }
    }
    let _ = remote.close(None).await;
    let _ = socket.send(A::Close(None)).await;
}

/// Puts the host's session names in the hub's terms: a session view (`name`, or `session`
/// holding one) gets `host:` and its `host`.
fn rename(json: &mut serde_json::Value, host: &str) {
    let Some(obj) = json.as_object_mut() else { return };
    if let Some(session) = obj.get_mut("session") {
        rename(session, host);
    }
    if let Some(serde_json::Value::String(name)) = obj.get_mut("name") {
        *name = format!("{host}:{name}");
        obj.insert("host".into(), serde_json::Value::String(host.to_owned()));
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Whether `principal` sees any remote session: the hub's admins (when it has hosts), and a
/// non-admin some host's mapping names.
pub(crate) fn sees_remote(state: &AppState, principal: &Principal) -> bool {
    !state.fleet.is_empty()
        && (principal.is_admin() || principal.username().is_some_and(|u| state.fleet.maps(u)))
}

/// The remote sessions `principal` sees (of `host` only, if given): every one for admins,
/// a non-admin's own through the mappings, none for anyone else. Never waits on a host.
pub(crate) fn remote_sessions(
    state: &AppState,
    principal: &Principal,
    host: Option<&str>,
) -> Vec<llmux_api::SessionView> {
    if principal.is_admin() {
        return state.fleet.sessions(host);
    }
    match principal.username() {
        Some(user) if policy::allows(principal, Action::ReadSessions) => {
            state.fleet.sessions_of(user, host)
        }
        _ => Vec::new(),
    }
}

/// A remote agent's state change as `principal` may see it (`None`: not theirs to see).
pub(crate) fn remote_state_event(
    state: &AppState,
    principal: &Principal,
    ev: llmux_api::StateEvent,
) -> Option<llmux_api::StateEvent> {
    if principal.is_admin() {
        return Some(ev);
    }
    let user = principal.username()?;
    policy::allows(principal, Action::ReadSessions).then_some(())?;
    state.fleet.state_event_of(user, &ev)
}

/// How a caller reaches a host's sessions.
enum Reach {
    /// With the hub's credential there (the hub's admins).
    Hub,
    /// As this host user (a non-admin the host's mapping names).
    As(String),
}

impl Reach {
    /// The headers that tell the host who acts: the hub user (audit), and as whom.
    fn headers<'a>(&'a self, actor: &'a str) -> Vec<(&'static str, &'a str)> {
        let mut headers = vec![(crate::security::ON_BEHALF_OF, actor)];
        if let Reach::As(user) = self {
            headers.push((crate::security::ACT_AS, user.as_str()));
        }
        headers
    }

    /// 409 when a mapped non-admin would reach a host that does not act as its users (an
    /// older llmux would take the request as the hub's own: every session).
    fn check_host(&self, state: &AppState, host: &str) -> Result<(), ApiError> {
        if matches!(self, Reach::As(_)) && !state.fleet.acts_as_users(host) {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "host_too_old",
                format!("host {host:?} cannot act for the hub's users yet: upgrade llmux there"),
            ));
        }
        Ok(())
    }
}

/// Who reaches `host:name`: admins with the hub's credential; a non-admin as the host user
/// the host's mapping names (their own sessions there, checked by the host), if the hub's
/// policy lets them do `action` at all. Anyone else learns nothing, not even whether the
/// host exists: the 404 of a session that is not there.
fn may_reach(
    state: &AppState,
    principal: &Principal,
    host: &str,
    name: &str,
    action: Action,
) -> Result<Reach, ApiError> {
    if principal.is_admin() {
        return Ok(Reach::Hub);
    }
    let mapped = principal.username().and_then(|u| state.fleet.host_user(host, u));
    let Some(host_user) = mapped else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no session named {:?}", format!("{host}:{name}")),
        ));
    };
    policy::require(principal, action)?;
    Ok(Reach::As(host_user))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_host_names_are_relayed() {
        assert_eq!(remote_target("/api/sessions/fix"), None);
        assert_eq!(remote_target("/api/sessions/fix@bob/send"), None);
        assert_eq!(
            remote_target("/api/sessions/gpu%3Afix/send"),
            Some(("gpu".into(), "fix".into(), "/send".into()))
        );
        assert_eq!(
            remote_target("/api/sessions/gpu:fix@bob"),
            Some(("gpu".into(), "fix@bob".into(), String::new()))
        );
        assert_eq!(remote_target("/api/sessionsx/a:b"), None);
    }

    #[test]
    fn answers_name_sessions_in_the_hubs_terms() {
        let mut v = serde_json::json!({"ok": true, "session": {"name": "fix", "agent": "x"}});
        rename(&mut v, "gpu");
        assert_eq!(v["session"]["name"], "gpu:fix");
        assert_eq!(v["session"]["host"], "gpu");
    }
}
