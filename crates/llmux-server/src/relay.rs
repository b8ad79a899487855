//! Actions on a remote session, relayed to its host (issue 17).
//!
//! A hub names a host's session `host:name` (plain names have no `:`). A request to
//! `/api/sessions/host:name[/…]` is checked here, after authentication: only admins reach
//! remote sessions (anyone else gets the same 404 as for a session that does not exist), and
//! the request goes to the host with the host's own name, through the link's client (the
//! hub's credential on the host: its token, or over SSH the SSH user's uid). The host's answer
//! comes back as it is, session names put back in the hub's terms.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use llmux_auth::Principal;

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
    may_reach(principal, host, name)?;
    let client = state.fleet.client(host)?;
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
    let on_behalf = [(crate::security::ON_BEHALF_OF, actor.as_str())];
    let res = client.raw(parts.method.clone(), &path, body, &on_behalf).await.map_err(|e| {
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

/// `POST /api/sessions` with `host`: the session is started on that host (admins only).
pub(crate) async fn create_on(
    state: &AppState,
    principal: &Principal,
    host: &str,
    req: llmux_api::CreateSessionRequest,
) -> Result<llmux_api::SessionView, ApiError> {
    if !principal.is_admin() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "starting a session on a fleet host is for admins",
        ));
    }
    let client = state.fleet.client(host)?;
    let body = bytes::Bytes::from(serde_json::to_vec(&req).expect("a request serializes"));
    let actor = principal.actor();
    let res = client
        .raw(
            axum::http::Method::POST,
            "/api/sessions",
            Some((body, "application/json")),
            &[(crate::security::ON_BEHALF_OF, actor.as_str())],
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
    may_reach(&principal, host, name)?;
    let client = state.fleet.client(host)?;
    let opts = llmux_client::AttachOptions {
        cols: q.cols.unwrap_or(80),
        rows: q.rows.unwrap_or(24),
        history: q.history.unwrap_or(1000).min(5_000),
        read_only: q.read_only,
        insecure: false,
    };
    let remote = client.attach(name, opts).await.map_err(|e| match e.status() {
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

/// Remote sessions are for the hub's admins (README "Hosts"): everyone else learns nothing,
/// not even whether the host exists (the 404 of a session that is not there).
fn may_reach(principal: &Principal, host: &str, name: &str) -> Result<(), ApiError> {
    if principal.is_admin() {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no session named {:?}", format!("{host}:{name}")),
    ))
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
