//! `GET /api/events`: the caller's session list as server-sent events, pushed on every change
//! (created, removed, started, exited, renamed) — the web UI's live view, with no polling.

use std::convert::Infallible;
use std::time::Duration;

use super::{ApiRouter, routes};
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use llmux_api::ErrorBody;

use crate::AppState;
use crate::conn::StreamKind;
use crate::error::ApiResult;
use crate::extract::Caller;

pub(crate) fn router() -> ApiRouter {
    ApiRouter::new().routes(routes!(events))
}

/// Completes when the daemon stops (the guard `wait_for` returns is not `Send`: dropped here).
async fn until_stopped(stopping: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = stopping.wait_for(|stop| *stop).await;
}

/// Why an event stream or a terminal ends when the daemon stops.
pub(crate) const SHUTDOWN_REASON: &str = "the llmux daemon is stopping";

/// `event: sessions` with the caller's sessions (as `GET /api/sessions`), at once and after
/// every change; `event: state` with a [`StateEvent`](llmux_api::StateEvent) whenever
/// one of the caller's agents changes state. Ends when the caller's credential is revoked, and
/// when the daemon stops, after an `event: shutdown` (data `{"reason": "…"}`).
// The summary is the doc comment as it read when the type was `llmux_core::api::StateEvent`:
// utoipa would take the comment's new link text into the OpenAPI document (issue 14 item 3
// kept the document byte for byte).
#[utoipa::path(get, path = "/api/events", operation_id = "streamSessionEvents", tag = "sessions",
    summary = "`event: sessions` with the caller's sessions (as `GET /api/sessions`), at once and after\n\
        every change; `event: state` with a [`StateEvent`](llmux_core::api::StateEvent) whenever\n\
        one of the caller's agents changes state. Ends when the caller's credential is revoked, and\n\
        when the daemon stops, after an `event: shutdown` (data `{\"reason\": \"…\"}`).",
    responses((status = 200, description = "text/event-stream: `event: sessions` (data = SessionView[]), `event: state` (data = StateEvent), and `event: shutdown` (data = {\"reason\": …}) last when the daemon stops"),
        (status = 403, body = ErrorBody),
        (status = 429, description = "the caller already has the maximum of event streams open (`server.limits.maxEventStreamsPerUser`)", body = ErrorBody)))]
async fn events(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    // Refused before a slot is taken; the stream asks the facade again at every change.
    state.facade.list(&caller.0)?;
    // Held by the stream: the slot frees when the client goes away.
    let slot = state.streams.acquire(StreamKind::EventStream, &caller.0)?;
    let open = (state.metrics.event_client(), state.stream_guard());
    let changes = state.facade.changes();
    // Fleet hosts' lists (admins see them): a change there is a change of the list too.
    let fleet = state.fleet.changes();
    let remote_states = state.fleet.state_events();
    let revocations = state.auth.subscribe();
    let states = state.facade.state_events();
    let stopping = state.stopping.subscribe();
    let stream = futures_util::stream::unfold(
        (state, caller.0, (changes, fleet, remote_states), revocations, states, true, stopping),
        |(
            state,
            principal,
            (mut changes, mut fleet, mut remote_states),
            mut revocations,
            mut states,
            first,
            mut stopping,
        )| async move {
            if *stopping.borrow() {
                return None;
            }
            if first {
                changes.borrow_and_update();
                fleet.borrow_and_update();
            } else {
                loop {
                    tokio::select! {
                        changed = changes.changed() => {
                            if changed.is_err() {
                                return None;
                            }
                            // Coalesce a burst of changes into one event.
                            tokio::time::sleep(Duration::from_millis(30)).await;
                            changes.borrow_and_update();
                            break;
                        }
                        changed = fleet.changed() => {
                            if changed.is_err() {
                                return None;
                            }
                            tokio::time::sleep(Duration::from_millis(30)).await;
                            fleet.borrow_and_update();
                            if !crate::relay::sees_remote(&state, &principal) {
                                continue;
                            }
                            break;
                        }
                        ev = states.recv() => match ev {
                            Ok(ev) => {
                                let ev = std::sync::Arc::unwrap_or_clone(ev);
                                let Some(ev) = state.facade.state_event(&principal, ev) else {
                                    continue;
                                };
                                let event = Event::default().event("state").json_data(&ev).ok()?;
                                return Some((
                                    Ok(event),
                                    (state, principal, (changes, fleet, remote_states), revocations, states, false, stopping),
                                ));
                            }
                            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                            Err(_) => return None,
                        },
                        ev = remote_states.recv() => match ev {
                            // A fleet host's agent (`host:name`): whoever sees it in the list.
                            Ok(ev) => {
                                let Some(ev) = crate::relay::remote_state_event(&state, &principal, ev) else {
                                    continue;
                                };
                                let event = Event::default().event("state").json_data(&ev).ok()?;
                                return Some((
                                    Ok(event),
                                    (state, principal, (changes, fleet, remote_states), revocations, states, false, stopping),
                                ));
                            }
                            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                            Err(_) => return None,
                        },
                        revoked = revocations.recv() => match revoked {
                            Ok(r) if principal.is_revoked_by(&r) => return None,
                            Ok(_) => continue,
                            Err(_) => return None,
                        },
                        // The daemon stops: one last event says so, then the stream ends.
                        () = until_stopped(&mut stopping) => {
                            let event = Event::default()
                                .event("shutdown")
                                .json_data(serde_json::json!({"reason": SHUTDOWN_REASON}))
                                .ok()?;
                            return Some((
                                Ok(event),
                                (state, principal, (changes, fleet, remote_states), revocations, states, false, stopping),
                            ));
                        }
                    }
                }
            }
            let mut sessions = state.facade.list(&principal).ok()?.into_vec();
            sessions.extend(crate::relay::remote_sessions(&state, &principal, None));
            let event = Event::default().event("sessions").json_data(sessions).ok()?;
            Some((
                Ok(event),
                (
                    state,
                    principal,
                    (changes, fleet, remote_states),
                    revocations,
                    states,
                    false,
                    stopping,
                ),
            ))
        },
    );
    let stream = futures_util::StreamExt::map(stream, move |event| {
        let _ = (&slot, &open);
        event
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
