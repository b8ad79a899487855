//! Admin-only routes: effective settings, the log buffer (and its live tail), the audit log.

use std::convert::Infallible;
use std::time::Duration;

use super::{ApiRouter, routes};
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use llmux_api::{
    AuditEvent, ErrorBody, InitPromptsRequest, InitPromptsResponse, InitPromptsSetting, LimitQuery,
    LogEntry, LogsResponse, SettingsResponse,
};
use llmux_auth::{Action, Principal};
use tokio::sync::broadcast;

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Caller, Json, Query};
use crate::logbuf::LOG_CAPACITY;

pub(crate) fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(settings))
        .routes(routes!(set_init_prompts))
        .routes(routes!(logs))
        .routes(routes!(logs_stream))
        .routes(routes!(audit))
}

/// The effective configuration, where each value came from, and the daemon's paths. No
/// secrets: there are none in the config, and tokens and passphrases live only as hashes.
///
/// Resolved from the layers the daemon started with and the overlay as the settings API last
/// wrote it, by the same resolver `server start` used (nothing is read from disk here).
#[utoipa::path(get, path = "/api/settings", operation_id = "getSettings", tag = "admin",
    responses((status = 200, body = SettingsResponse), (status = 403, body = ErrorBody)))]
async fn settings(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<SettingsResponse>> {
    caller.require(Action::Administer)?;
    let info = &state.info;
    let effective = info.effective().await;
    Ok(Json(SettingsResponse {
        version: llmux_core::VERSION.to_owned(),
        state_dir: info.state_dir.clone(),
        socket: info.socket.clone(),
        settings: effective.settings(),
        config_source: effective.config_file,
        overlay_path: info.overlay.clone(),
        overlay_active: effective.overlay_active,
        init_prompts: InitPromptsSetting {
            value: effective.init_prompts.value,
            source: effective.init_prompts.source,
        },
        agents: state.sessions.catalog().keys().into_iter().map(str::to_owned).collect(),
    }))
}

/// Replace the daemon-wide init prompts (written to the runtime overlay file atomically).
#[utoipa::path(put, path = "/api/settings/init-prompts", operation_id = "setInitPrompts", tag = "admin",
    request_body = InitPromptsRequest,
    responses((status = 400, description = "Bad input: malformed JSON, a value outside the documented schema (length, pattern, range), a query number out of range", body = ErrorBody), (status = 200, body = InitPromptsResponse), (status = 403, body = ErrorBody)))]
async fn set_init_prompts(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<InitPromptsRequest>,
) -> ApiResult<Json<InitPromptsResponse>> {
    caller.require(Action::Administer)?;
    let prompts: Vec<String> = req
        .init_prompts
        .into_iter()
        .map(|p| p.trim_end().to_owned())
        .filter(|p| !p.is_empty())
        .collect();
    {
        // Held while the file is written: concurrent changes land in the file, in what
        // `GET /api/settings` reports and in the sessions in the same order.
        let mut layers = state.info.config.write().await;
        let mut overlay = layers.overlay.clone();
        overlay.init_prompts = Some(prompts.clone());
        let (path, saved) = (state.info.overlay.clone(), overlay.clone());
        tokio::task::spawn_blocking(move || saved.save(&path))
            .await
            .map_err(|e| llmux_core::Error::io("overlay task", std::io::Error::other(e)))??;
        layers.overlay = overlay;
        state.sessions.set_init_prompts(prompts.clone());
    }
    tracing::info!(count = prompts.len(), "daemon init prompts updated");
    state
        .auth
        .audit(
            &caller.0.actor(),
            "settings_changed",
            "initPrompts",
            &format!("{} prompts", prompts.len()),
        )
        .await;
    Ok(Json(InitPromptsResponse { ok: true, init_prompts: prompts, overlay_active: true }))
}

/// The newest log lines, oldest first.
#[utoipa::path(get, path = "/api/logs", operation_id = "listLogs", tag = "admin", params(LimitQuery),
    responses((status = 400, description = "Bad input: malformed JSON, a value outside the documented schema (length, pattern, range), a query number out of range", body = ErrorBody), (status = 200, body = LogsResponse), (status = 403, body = ErrorBody)))]
async fn logs(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<LimitQuery>,
) -> ApiResult<Json<LogsResponse>> {
    caller.require(Action::Administer)?;
    let limit = q.limit.map_or(LOG_CAPACITY, |l| l as usize);
    Ok(Json(LogsResponse { capacity: LOG_CAPACITY, entries: state.logs.recent(limit) }))
}

/// New log lines as server-sent events (`data: <LogEntry JSON>`). The stream ends when the
/// caller's credential is revoked.
#[utoipa::path(get, path = "/api/logs/stream", operation_id = "streamLogs", tag = "admin",
    responses((status = 200, description = "text/event-stream of LogEntry"), (status = 403, body = ErrorBody)))]
async fn logs_stream(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    caller.require(Action::Administer)?;
    let stream = until_revoked(
        state.logs.subscribe(),
        state.auth.subscribe(),
        caller.0,
        |entry: LogEntry| Event::default().json_data(entry).ok(),
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// Turns a broadcast of items into SSE events, ending as soon as `principal` is revoked.
pub(crate) fn until_revoked<T: Clone + Send + 'static>(
    items: broadcast::Receiver<T>,
    revocations: broadcast::Receiver<llmux_auth::Revocation>,
    principal: Principal,
    to_event: impl Fn(T) -> Option<Event> + Send + 'static,
) -> impl Stream<Item = Result<Event, Infallible>> {
    futures_util::stream::unfold(
        (items, revocations, principal, to_event),
        |(mut items, mut revocations, principal, to_event)| async move {
            loop {
                tokio::select! {
                    item = items.recv() => match item {
                        Ok(item) => {
                            if let Some(event) = to_event(item) {
                                return Some((Ok(event), (items, revocations, principal, to_event)));
                            }
                        }
                        Err(broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(broadcast::error::RecvError::Closed) => return None,
                    },
                    revoked = revocations.recv() => match revoked {
                        Ok(r) if principal.is_revoked_by(&r) => return None,
                        Ok(_) => continue,
                        // Missed revocations might have been ours: end, the client reconnects
                        // and authenticates again.
                        Err(_) => return None,
                    },
                }
            }
        },
    )
}

/// The newest audit events (default 100), oldest first.
#[utoipa::path(get, path = "/api/audit", operation_id = "listAuditEvents", tag = "admin", params(LimitQuery),
    responses((status = 400, description = "Bad input: malformed JSON, a value outside the documented schema (length, pattern, range), a query number out of range", body = ErrorBody), (status = 200, body = Vec<AuditEvent>), (status = 403, body = ErrorBody)))]
async fn audit(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<LimitQuery>,
) -> ApiResult<Json<Vec<AuditEvent>>> {
    caller.require(Action::Administer)?;
    Ok(Json(state.auth.list_audit(q.limit.unwrap_or(100).min(10_000)).await?))
}
