//! `/api/sessions…`: list, create, show, edit, remove, and act on sessions.

use super::{ApiRouter, routes};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use llmux_api::{
    AnswerRequest, BroadcastRequest, BroadcastResponse, CaptureQuery, CaptureResponse,
    CreateSessionRequest, DeliveredResponse, EditSessionRequest, ErrorBody, KeyRequest,
    KillResponse, OkResponse, RemoveSessionQuery, SendRequest, SendResponse, SessionResponse,
    SessionView, SessionsQuery,
};

use llmux_auth::{Listing, Prompt, Queued};
use llmux_core::sessions::{Broadcast, NewSession, Schedule, SessionEdit};

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Caller, Json, Path, Query};

pub(crate) fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show, edit, remove))
        .merge(
            ApiRouter::new()
                .routes(routes!(broadcast))
                .routes(routes!(send))
                .routes(routes!(answer))
                .routes(routes!(key))
                .routes(routes!(interrupt))
                .idempotent(),
        )
        .routes(routes!(kill))
        .routes(routes!(stop))
        .routes(routes!(respawn))
        .routes(routes!(capture))
}

/// Every session the caller may see, newest first; on a hub, admins also see every host's
/// sessions (`host:name`, with `host`), as last known: the list never waits on a host.
#[utoipa::path(get, path = "/api/sessions", operation_id = "listSessions", tag = "sessions",
    params(SessionsQuery),
    responses((status = 200, body = Vec<SessionView>), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<SessionsQuery>,
) -> ApiResult<Response> {
    let listing = state.facade.list(&caller.0)?;
    let remote = crate::relay::sees_remote(&state, &caller.0);
    match q.host.as_deref() {
        None | Some("local") if !remote => {}
        None => {
            if let Listing::All(_) = listing {
                return Ok(state.list_json(true));
            }
            let mut all = listing.into_vec();
            all.extend(crate::relay::remote_sessions(&state, &caller.0, None));
            return Ok(Json(all).into_response());
        }
        Some("local") => return Ok(Json(listing.into_vec()).into_response()),
        Some(host) => {
            let mapped = caller.0.is_admin()
                || caller.0.username().is_some_and(|u| state.fleet.host_user(host, u).is_some());
            if !remote || !mapped || state.fleet.view(host).is_none() {
                return Err(llmux_core::Error::NotFound(format!("no host named {host:?}")).into());
            }
            return Ok(
                Json(crate::relay::remote_sessions(&state, &caller.0, Some(host))).into_response()
            );
        }
    }
    Ok(match listing {
        // The operator sees canonical names, the same list for every request: serialize it
        // once per change, not once per request.
        Listing::All(_) => state.list_json(false),
        Listing::Visible(views) => Json(views).into_response(),
    })
}

/// Spawn a session; with `worktree`, in a new git worktree of the repository `cwd` is in
/// (its setup command's failure answers 409 with the command's output).
#[utoipa::path(post, path = "/api/sessions", operation_id = "createSession", tag = "sessions", request_body = CreateSessionRequest,
    responses((status = 201, body = SessionResponse), (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(mut req): Json<CreateSessionRequest>,
) -> ApiResult<(StatusCode, Json<SessionResponse>)> {
    if let Some(host) = req.host.take() {
        let host = crate::placement::resolve(&state, &caller.0, host, &req).await?;
        let session = crate::relay::create_on(&state, &caller.0, &host, req).await?;
        return Ok((StatusCode::CREATED, Json(SessionResponse { ok: true, session })));
    }
    let session = state.facade.create(&caller.0, new_session(req)).await?;
    Ok((StatusCode::CREATED, Json(SessionResponse { ok: true, session })))
}

/// The session service's input for a start here: the request as it came (the service checks
/// it), but for `host`, which the handler took first.
fn new_session(req: CreateSessionRequest) -> NewSession {
    let CreateSessionRequest {
        agent,
        name,
        cwd,
        flags,
        env,
        init_prompts,
        resume_from,
        parent,
        skip_init,
        worktree,
        after_limit,
        host: _,
    } = req;
    NewSession {
        agent,
        name,
        cwd,
        flags,
        env,
        init_prompts: init_prompts.unwrap_or_default(),
        resume_from,
        parent,
        skip_init: skip_init.unwrap_or(false),
        worktree,
        after_limit,
    }
}

/// One session.
#[utoipa::path(get, path = "/api/sessions/{name}", operation_id = "getSession", tag = "sessions",
    responses((status = 400, description = "Bad input: malformed JSON, a value outside the documented schema (length, pattern, range), a query number out of range", body = ErrorBody), (status = 200, body = SessionView), (status = 404, body = ErrorBody)))]
async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<SessionView>> {
    Ok(Json(state.facade.get(&caller.0, &name)?))
}

/// Edit a session; a change of cwd, flags, env or resume id respawns it if running.
#[utoipa::path(patch, path = "/api/sessions/{name}", operation_id = "editSession", tag = "sessions",
    request_body = EditSessionRequest,
    responses((status = 200, body = SessionResponse), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn edit(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    Json(req): Json<EditSessionRequest>,
) -> ApiResult<Json<SessionResponse>> {
    let session = state.facade.edit(&caller.0, &name, session_edit(req)).await?;
    Ok(Json(SessionResponse { ok: true, session }))
}

/// The session service's input for an edit: field for field (`null` = back to the default).
fn session_edit(req: EditSessionRequest) -> SessionEdit {
    let EditSessionRequest {
        name,
        cwd,
        flags,
        env,
        init_prompts,
        resume_from,
        after_limit,
        worktree,
    } = req;
    SessionEdit { name, cwd, flags, env, init_prompts, resume_from, after_limit, worktree }
}

/// Remove a session's record; refused (409) while it runs unless `force`. Its worktree (if
/// any) goes with it when clean with nothing unmerged; one with uncommitted changes or
/// commits not in its base is refused (409) unless `force` with `branch=keep|delete`.
#[utoipa::path(delete, path = "/api/sessions/{name}", operation_id = "removeSession", tag = "sessions", params(RemoveSessionQuery),
    responses((status = 400, description = "Bad input: malformed JSON, a value outside the documented schema (length, pattern, range), a query number out of range", body = ErrorBody), (status = 200, body = OkResponse), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    Query(q): Query<RemoveSessionQuery>,
) -> ApiResult<Json<OkResponse>> {
    state.facade.remove(&caller.0, &name, q.force, q.branch).await?;
    Ok(Json(OkResponse { ok: true }))
}

/// Type a prompt into a running session (Enter follows unless `enter` is false). Prompts to one
/// session are queued in order; one sent while the agent starts is held until it is ready.
/// With `wait`, answers once the agent leaves `working`, with its reply. The answer says when
/// it was typed (`deliveredAt`). With `at`, `in`, `when: "idle"` or `afterLimit` the prompt is
/// queued instead (kept in the store; see `GET /api/sessions/{name}/queue`) and the answer is
/// the queue item (`queued`).
#[utoipa::path(post, path = "/api/sessions/{name}/send", operation_id = "sendPrompt", tag = "sessions", request_body = SendRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Apply this request once: a repeat with the same key answers the first outcome (a day long; 422 for a different request, 409 while the first is in flight)")),
    responses((status = 422, description = "The Idempotency-Key was used for a different request", body = ErrorBody), (status = 200, body = SendResponse), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody)))]
async fn send(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    Json(req): Json<SendRequest>,
) -> ApiResult<Json<SendResponse>> {
    if req.is_queued() {
        if req.wait == Some(true) {
            return Err(llmux_auth::Error::Invalid(
                "wait cannot be combined with at, in, when or afterLimit".into(),
            )
            .into());
        }
        let schedule = Schedule::parse(
            req.at.as_deref(),
            req.in_.as_deref(),
            req.when.as_deref(),
            req.after_limit == Some(true),
            llmux_core::time::now_ms(),
        )?;
        let queued = Queued { text: req.prompt, enter: req.enter, schedule };
        let item = state.facade.enqueue(&caller.0, &name, queued).await?;
        return Ok(Json(SendResponse { ok: true, queued: Some(item), ..Default::default() }));
    }
    let prompt =
        Prompt { text: req.prompt, enter: req.enter, wait: req.wait, timeout: req.timeout };
    let Some(out) = state.facade.send(&caller.0, &name, prompt).await? else {
        return Ok(Json(SendResponse {
            ok: true,
            delivered_at: Some(now()),
            ..Default::default()
        }));
    };
    Ok(Json(SendResponse {
        ok: true,
        state: Some(out.state),
        reply: Some(out.reply),
        waiting_for: out.waiting_for,
        prompt: out.prompt,
        timed_out: out.timed_out,
        delivered_at: None,
        queued: None,
    }))
}

/// Now, as the acknowledgement's `deliveredAt`.
fn now() -> String {
    llmux_core::time::rfc3339_ms(llmux_core::time::now_ms())
}

fn delivered() -> Json<DeliveredResponse> {
    Json(DeliveredResponse { ok: true, delivered_at: now() })
}

/// Choose one option of the question a `waiting` agent shows, by its number as the screen
/// shows it (1 is the first of `prompt.options`).
#[utoipa::path(post, path = "/api/sessions/{name}/answer", operation_id = "answerQuestion", tag = "sessions", request_body = AnswerRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Apply this request once: a repeat with the same key answers the first outcome (a day long; 422 for a different request, 409 while the first is in flight)")),
    responses((status = 422, description = "The Idempotency-Key was used for a different request", body = ErrorBody), (status = 200, body = DeliveredResponse), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn answer(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    Json(req): Json<AnswerRequest>,
) -> ApiResult<Json<DeliveredResponse>> {
    state.facade.answer(&caller.0, &name, req.option).await?;
    Ok(delivered())
}

/// Press one key (arrows, Enter, Escape, Tab, …, or one letter or digit).
#[utoipa::path(post, path = "/api/sessions/{name}/key", operation_id = "sendKey", tag = "sessions", request_body = KeyRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Apply this request once: a repeat with the same key answers the first outcome (a day long; 422 for a different request, 409 while the first is in flight)")),
    responses((status = 422, description = "The Idempotency-Key was used for a different request", body = ErrorBody), (status = 200, body = DeliveredResponse), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn key(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    Json(req): Json<KeyRequest>,
) -> ApiResult<Json<DeliveredResponse>> {
    state.facade.press_key(&caller.0, &name, &req.key).await?;
    Ok(delivered())
}

/// Stop what the agent is doing (presses Escape).
#[utoipa::path(post, path = "/api/sessions/{name}/interrupt", operation_id = "interruptSession", tag = "sessions",
    params(("Idempotency-Key" = Option<String>, Header, description = "Apply this request once: a repeat with the same key answers the first outcome (a day long; 422 for a different request, 409 while the first is in flight)")),
    responses((status = 422, description = "The Idempotency-Key was used for a different request", body = ErrorBody), (status = 400, description = "Bad input: malformed JSON, a value outside the documented schema (length, pattern, range), a query number out of range", body = ErrorBody), (status = 200, body = DeliveredResponse), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn interrupt(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<DeliveredResponse>> {
    state.facade.interrupt(&caller.0, &name).await?;
    Ok(delivered())
}

/// Kill the session and delete its record (the old daemon's `kill`).
#[utoipa::path(post, path = "/api/sessions/{name}/kill", operation_id = "killSession", tag = "sessions",
    responses((status = 400, description = "Bad input: malformed JSON, a value outside the documented schema (length, pattern, range), a query number out of range", body = ErrorBody), (status = 200, body = KillResponse), (status = 404, body = ErrorBody)))]
async fn kill(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<KillResponse>> {
    let status = state.facade.kill(&caller.0, &name).await?;
    Ok(Json(KillResponse { ok: true, status }))
}

/// Stop the agent and keep the record (status becomes `exited`).
#[utoipa::path(post, path = "/api/sessions/{name}/stop", operation_id = "stopSession", tag = "sessions",
    responses((status = 400, description = "Bad input: malformed JSON, a value outside the documented schema (length, pattern, range), a query number out of range", body = ErrorBody), (status = 200, body = SessionResponse), (status = 404, body = ErrorBody)))]
async fn stop(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<SessionResponse>> {
    let session = state.facade.stop(&caller.0, &name).await?;
    Ok(Json(SessionResponse { ok: true, session }))
}

/// Restart the session from its recorded config.
#[utoipa::path(post, path = "/api/sessions/{name}/respawn", operation_id = "respawnSession", tag = "sessions",
    responses((status = 200, body = SessionResponse), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn respawn(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<SessionResponse>> {
    let session = state.facade.restart(&caller.0, &name).await?;
    Ok(Json(SessionResponse { ok: true, session }))
}

/// Send one prompt to several sessions: `names`, or every running one (of `agent`).
#[utoipa::path(post, path = "/api/sessions/broadcast", operation_id = "broadcastPrompt", tag = "sessions",
    request_body = BroadcastRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Apply this request once: a repeat with the same key answers the first outcome (a day long; 422 for a different request, 409 while the first is in flight)")),
    responses((status = 422, description = "The Idempotency-Key was used for a different request", body = ErrorBody), (status = 200, body = BroadcastResponse), (status = 400, body = ErrorBody),
        (status = 413, body = ErrorBody)))]
async fn broadcast(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<BroadcastRequest>,
) -> ApiResult<Json<BroadcastResponse>> {
    Ok(Json(state.facade.broadcast(&caller.0, broadcast_of(req)).await?))
}

/// The session service's input for a broadcast (Enter pressed unless `enter` is false).
fn broadcast_of(req: BroadcastRequest) -> Broadcast {
    let BroadcastRequest { prompt, enter, names, agent } = req;
    Broadcast { prompt, enter: enter.unwrap_or(true), names, agent }
}

/// The last lines of the session's screen and scrollback.
#[utoipa::path(get, path = "/api/sessions/{name}/capture", operation_id = "captureScreen", tag = "sessions", params(CaptureQuery),
    responses((status = 200, body = CaptureResponse), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn capture(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    Query(q): Query<CaptureQuery>,
) -> ApiResult<Json<CaptureResponse>> {
    let lines = q.lines.unwrap_or(100);
    let (name, text) = state.facade.capture(&caller.0, &name, lines).await?;
    Ok(Json(CaptureResponse { name, lines, text }))
}
