//! `Idempotency-Key` (IETF draft-ietf-httpapi-idempotency-key-header) on the routes that act
//! on a session: send, answer, key, interrupt, broadcast and the queue edits.
//!
//! A request with the header is applied once per caller and key: its outcome (status,
//! `Content-Type`, body) is remembered in the store for a day
//! ([`llmux_core::store::IDEMPOTENCY_TTL_MS`]) and a repeat answers it again, marked
//! `Idempotent-Replayed: true`, without acting. Keys are scoped to the authenticated caller,
//! so one user's keys can neither collide with nor reveal another's.
//!
//! - A repeat whose method, path or body differ from the first: 422 `idempotency_key_reused`.
//! - A repeat while the first is still being handled: 409 `idempotency_in_flight` (retry
//!   later: the first one's outcome will be there).
//! - Only successes are remembered: a request that failed (the session not running, a bad
//!   body) changed nothing, and a retry with the same key tries again.
//! - The action runs in its own task, so a client that drops the connection mid-way (a phone
//!   in a tunnel) does not cancel it: its retry finds the outcome.
//!
//! A request without the header is handled as before, with no store access.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use llmux_auth::Principal;
use llmux_core::store::{IdempotencyRecord, Store};
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// The request header.
pub(crate) const HEADER: &str = "idempotency-key";
/// The header marking a replayed outcome.
pub(crate) const REPLAYED: &str = "idempotent-replayed";
/// Longest key, in characters.
pub(crate) const MAX_KEY_LEN: usize = 255;

/// The remembered outcomes (in the store) and the requests being handled now.
#[derive(Debug)]
pub struct Keys {
    store: Arc<Store>,
    in_flight: Mutex<HashMap<(String, String), String>>,
}

impl Keys {
    /// Over the daemon's store.
    pub fn new(store: Arc<Store>) -> Keys {
        Keys { store, in_flight: Mutex::new(HashMap::new()) }
    }

    /// Marks `(scope, key)` as being handled; a repeat already in flight is refused.
    fn begin(
        self: &Arc<Self>,
        scope: &str,
        key: &str,
        fingerprint: &str,
    ) -> Result<InFlight, ApiError> {
        let mut map = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        let id = (scope.to_owned(), key.to_owned());
        if let Some(other) = map.get(&id) {
            return Err(if other == fingerprint { in_flight() } else { reused() });
        }
        map.insert(id.clone(), fingerprint.to_owned());
        Ok(InFlight { keys: self.clone(), id })
    }
}

/// Removes its key from the in-flight set when dropped.
struct InFlight {
    keys: Arc<Keys>,
    id: (String, String),
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.keys.in_flight.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.id);
    }
}

fn reused() -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
        "this Idempotency-Key was already used for a different request: use a new key",
    )
}

fn in_flight() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "idempotency_in_flight",
        "a request with this Idempotency-Key is still being handled: retry later",
    )
}

/// The key of a header value: 1 to [`MAX_KEY_LEN`] visible ASCII characters (spaces inside
/// allowed), optionally as the draft's quoted structured-field string (`"…"`).
pub(crate) fn parse_key(value: &HeaderValue) -> Result<String, ApiError> {
    let bad = |why: &str| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_idempotency_key",
            format!("Idempotency-Key {why}: 1 to {MAX_KEY_LEN} visible ASCII characters"),
        )
    };
    let text = value.to_str().map_err(|_| bad("is not ASCII"))?.trim();
    let text = match text.strip_prefix('"') {
        Some(rest) => rest.strip_suffix('"').ok_or_else(|| bad("has an unclosed quote"))?,
        None => text,
    };
    if text.is_empty() {
        return Err(bad("is empty"));
    }
    if text.len() > MAX_KEY_LEN {
        return Err(bad("is too long"));
    }
    if !text.bytes().all(|b| (0x20..0x7f).contains(&b)) || text.contains(['"', '\\']) {
        return Err(bad("has a character not allowed"));
    }
    Ok(text.to_owned())
}

/// Whose keys: `""` for the local operator, `u:NAME` for a user.
fn scope_of(principal: &Principal) -> String {
    match principal {
        Principal::LocalOperator => String::new(),
        Principal::User(u) => format!("u:{}", u.username),
    }
}

fn fingerprint(method: &str, path: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(method.as_bytes());
    h.update([0]);
    h.update(path.as_bytes());
    h.update([0]);
    h.update(body);
    llmux_core::hex::encode(&h.finalize())
}

fn replay(rec: IdempotencyRecord) -> Response {
    let status = StatusCode::from_u16(rec.status).unwrap_or(StatusCode::OK);
    let mut resp = (status, rec.body).into_response();
    if let Ok(ct) = HeaderValue::from_str(&rec.content_type) {
        resp.headers_mut().insert(header::CONTENT_TYPE, ct);
    }
    resp.headers_mut().insert(REPLAYED, HeaderValue::from_static("true"));
    resp
}

/// The middleware (a `route_layer` on the idempotent routes, inside authentication).
pub(crate) async fn layer(req: Request, next: Next) -> Response {
    let Some(value) = req.headers().get(HEADER) else { return next.run(req).await };
    let key = match parse_key(value) {
        Ok(k) => k,
        Err(e) => return e.into_response(),
    };
    let (Some(principal), Some(keys)) = (
        req.extensions().get::<Principal>().cloned(),
        req.extensions().get::<Arc<Keys>>().cloned(),
    ) else {
        // No caller: the handler answers 401 as usual.
        return next.run(req).await;
    };
    let scope = scope_of(&principal);
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, llmux_api::MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(_) => {
            return ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the request body is too large",
            )
            .into_response();
        }
    };
    let print = fingerprint(parts.method.as_str(), parts.uri.path(), &bytes);
    let guard = match keys.begin(&scope, &key, &print) {
        Ok(g) => g,
        Err(e) => return e.into_response(),
    };
    let stored = {
        let (store, scope, key) = (keys.store.clone(), scope.clone(), key.clone());
        let now = llmux_core::time::now_ms();
        tokio::task::spawn_blocking(move || store.idempotency_get(&scope, &key, now)).await
    };
    match stored {
        Ok(Ok(Some(rec))) if rec.fingerprint == print => return replay(rec),
        Ok(Ok(Some(_))) => return reused().into_response(),
        Ok(Ok(None)) => {}
        Ok(Err(e)) => return ApiError::from(e).into_response(),
        Err(_) => {
            return ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error")
                .into_response();
        }
    }
    let req = Request::from_parts(parts, Body::from(bytes));
    let store = keys.store.clone();
    // Its own task: a dropped connection does not cancel an action half done.
    let task = tokio::spawn(async move {
        let resp = next.run(req).await;
        let (parts, body) = resp.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
        if parts.status.is_success() {
            let rec = IdempotencyRecord {
                scope,
                key,
                fingerprint: print,
                status: parts.status.as_u16(),
                content_type: parts
                    .headers
                    .get(header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("application/json")
                    .to_owned(),
                body: bytes.to_vec(),
                created_at: llmux_core::time::now_ms(),
            };
            let put = tokio::task::spawn_blocking(move || store.idempotency_put(&rec)).await;
            if !matches!(put, Ok(Ok(()))) {
                tracing::error!("an idempotency key's outcome was not remembered");
            }
        }
        drop(guard);
        Response::from_parts(parts, Body::from(bytes))
    });
    task.await.unwrap_or_else(|_| {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error")
            .into_response()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked() {
        let ok = |s: &str| parse_key(&HeaderValue::from_str(s).unwrap());
        assert_eq!(ok("abc-123").unwrap(), "abc-123");
        assert_eq!(
            ok("\"8e03978e-40d5-43e8-bc93-6894a57f9324\"").unwrap(),
            "8e03978e-40d5-43e8-bc93-6894a57f9324"
        );
        assert!(ok("").is_err());
        assert!(ok("\"\"").is_err());
        assert!(ok("\"open").is_err());
        assert!(ok(&"k".repeat(256)).is_err());
        assert!(ok(&"k".repeat(255)).is_ok());
        assert!(ok("a\"b").is_err());
    }

    #[test]
    fn fingerprints_differ_by_path_and_body() {
        let a = fingerprint("POST", "/api/sessions/a/send", b"{}");
        assert_eq!(a, fingerprint("POST", "/api/sessions/a/send", b"{}"));
        assert_ne!(a, fingerprint("POST", "/api/sessions/b/send", b"{}"));
        assert_ne!(a, fingerprint("POST", "/api/sessions/a/send", b"{ }"));
    }
}
