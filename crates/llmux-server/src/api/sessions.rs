//! `/api/sessions…`: list, create, show, edit, remove, and act on sessions.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use llmux_core::api::{
    AnswerRequest, BroadcastRequest, BroadcastResponse, CaptureResponse, CreateSessionRequest,
    EditSessionRequest, ErrorBody, KeyRequest, KillResponse, OkResponse, SendRequest, SendResponse,
    SessionResponse, SessionView,
};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use llmux_auth::{Action, Principal};
use llmux_core::sessions::names;

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Caller, Json, Path, Query};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(broadcast))
        .routes(routes!(show, edit, remove))
        .routes(routes!(send))
        .routes(routes!(answer))
        .routes(routes!(key))
        .routes(routes!(interrupt))
        .routes(routes!(kill))
        .routes(routes!(stop))
        .routes(routes!(respawn))
        .routes(routes!(capture))
}

/// 403 unless the policy allows `action`; 404 unless the caller may see the session
/// (someone else's session looks absent). Returns the session's canonical name: `name` is in
/// the caller's terms (see [`llmux_core::sessions::names`]), a bare name being its own.
///
/// Every route that takes a session name goes through here, so a non-admin's bare name can
/// only ever reach its own session and a suffixed one answers exactly like an absent one.
pub(crate) fn check_access(
    state: &AppState,
    caller: &Caller,
    name: &str,
    action: Action,
) -> ApiResult<String> {
    caller.require(action)?;
    let canonical = resolve(state, &caller.0, name);
    match state.sessions.record(&canonical) {
        Ok(record) if caller.0.can_access(&record.owner) => Ok(canonical),
        _ => Err(llmux_core::Error::NotFound(format!("no session named {name:?}")).into()),
    }
}

/// The canonical name `principal` means by `name` (see [`llmux_core::sessions::names`]): a
/// bare name is its own session, except that an admin user without a session of that name
/// means the local operator's, which admins see without a suffix while it clashes with none
/// of their own. Non-admins never fall back: their bare names reach only their own sessions.
pub(crate) fn resolve(state: &AppState, principal: &Principal, name: &str) -> String {
    let own = names::resolve(name, principal.owner());
    if name.contains(names::SEP) || principal.owner().is_empty() || !principal.is_admin() {
        return own;
    }
    if !state.sessions.contains(&own) && state.sessions.contains(name) {
        name.to_owned()
    } else {
        own
    }
}

/// A canonical session name as `principal` sees it: its own without a suffix, the local
/// operator's without one too for an admin user who has none of that name (else `NAME@`),
/// other users' as `NAME@USER`. [`resolve`] takes every shown name back to its session.
pub(crate) fn shown(state: &AppState, principal: &Principal, canonical: &str) -> String {
    let (base, owner) = names::split(canonical);
    if owner.is_empty()
        && principal.is_admin()
        && !principal.owner().is_empty()
        && !state.sessions.contains(&names::canonical(base, principal.owner()))
    {
        return base.to_owned();
    }
    names::display(canonical, principal.owner())
}

/// A session as `principal` sees it: its name and its parent's in the caller's terms.
pub(crate) fn present(
    state: &AppState,
    principal: &Principal,
    mut view: SessionView,
) -> SessionView {
    view.name = shown(state, principal, &view.name);
    view.parent = view.parent.map(|p| shown(state, principal, &p));
    view
}

/// Every session the caller may see, newest first.
#[utoipa::path(get, path = "/api/sessions", operation_id = "listSessions", tag = "sessions",
    responses((status = 200, body = Vec<SessionView>)))]
async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    caller.require(Action::ReadSessions)?;
    if matches!(caller.0, llmux_auth::Principal::LocalOperator) {
        // The operator sees canonical names, the same list for every request: serialize it
        // once per change, not once per request.
        return Ok(state.list_json().into_response());
    }
    Ok(Json(visible(&state, &caller.0)).into_response())
}

/// The sessions `principal` may see, named in its terms. Env values therefore reach only a
/// session's owner and admins: nobody else is shown the session at all.
pub(crate) fn visible(state: &AppState, principal: &Principal) -> Vec<SessionView> {
    state
        .sessions
        .list()
        .iter()
        .filter(|s| principal.can_access(&s.owner))
        .map(|s| present(state, principal, s.clone()))
        .collect()
}

/// Spawn a session.
#[utoipa::path(post, path = "/api/sessions", operation_id = "createSession", tag = "sessions", request_body = CreateSessionRequest,
    responses((status = 201, body = SessionResponse), (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<CreateSessionRequest>,
) -> ApiResult<(StatusCode, Json<SessionResponse>)> {
    caller.require(Action::DriveSessions)?;
    // A bare shell is a login on the host: admins only (agents at least show what they run).
    if req.agent.trim() == "shell" && !caller.0.is_admin() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "the shell agent is for admins; start a coding agent instead",
        ));
    }
    let mut req = req;
    req.parent = req.parent.map(|p| resolve(&state, &caller.0, &p));
    let mine = super::conversations::mine(&caller);
    state.sessions.check_resume(&req.agent, req.resume_from.as_deref(), mine, None).await?;
    let session = state.sessions.create(req, caller.0.owner()).await?;
    state.auth.audit(&caller.0.actor(), "session_created", &session.name, &session.agent).await;
    Ok((
        StatusCode::CREATED,
        Json(SessionResponse { ok: true, session: present(&state, &caller.0, session) }),
    ))
}

/// One session.
#[utoipa::path(get, path = "/api/sessions/{name}", operation_id = "getSession", tag = "sessions",
    responses((status = 400, description = "Bad input: malformed JSON, a value outside the documented schema (length, pattern, range), a query number out of range", body = ErrorBody), (status = 200, body = SessionView), (status = 404, body = ErrorBody)))]
async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<SessionView>> {
    let name = check_access(&state, &caller, &name, Action::ReadSessions)?;
    Ok(Json(present(&state, &caller.0, state.sessions.get(&name)?)))
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
    let name = check_access(&state, &caller, &name, Action::DriveSessions)?;
    let mut req = req;
    if let Some(new) = req.name.as_mut().filter(|n| n.contains(names::SEP)) {
        // A new name in its full form (as the session list shows another owner's) must keep
        // the owner: a rename never moves a session to someone else.
        let canonical = names::resolve(new, caller.0.owner());
        let (base, owner) = names::split(&canonical);
        if owner != state.sessions.record(&name)?.owner {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid",
                "a rename cannot change the session's owner",
            ));
        }
        *new = base.to_owned();
    }
    if let Some(id) = req.resume_from.as_ref() {
        let agent = state.sessions.record(&name)?.agent;
        let mine = super::conversations::mine(&caller);
        state.sessions.check_resume(&agent, id.as_deref(), mine, Some(&name)).await?;
    }
    let session = state.sessions.edit(&name, req).await?;
    Ok(Json(SessionResponse { ok: true, session: present(&state, &caller.0, session) }))
}

/// `?force=true` removes a running session too.
#[derive(Debug, Deserialize, IntoParams)]
struct RemoveQuery {
    /// Stop the session first if it is running.
    #[serde(default)]
    force: bool,
}

/// Remove a session's record; refused (409) while it runs unless `force`.
#[utoipa::path(delete, path = "/api/sessions/{name}", operation_id = "removeSession", tag = "sessions", params(RemoveQuery),
    responses((status = 400, description = "Bad input: malformed JSON, a value outside the documented schema (length, pattern, range), a query number out of range", body = ErrorBody), (status = 200, body = OkResponse), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    Query(q): Query<RemoveQuery>,
) -> ApiResult<Json<OkResponse>> {
    let name = check_access(&state, &caller, &name, Action::DriveSessions)?;
    state.sessions.remove(&name, q.force).await?;
    state.auth.audit(&caller.0.actor(), "session_removed", &name, "").await;
    Ok(Json(OkResponse { ok: true }))
}

/// Longest `timeout` of a waited prompt, in seconds.
const MAX_WAIT_SECS: u64 = 3600;

/// Type a prompt into a running session (Enter follows unless `enter` is false). Prompts to one
/// session are queued in order; one sent while the agent starts is held until it is ready.
/// With `wait`, answers once the agent leaves `working`, with its reply.
#[utoipa::path(post, path = "/api/sessions/{name}/send", operation_id = "sendPrompt", tag = "sessions", request_body = SendRequest,
    responses((status = 200, body = SendResponse), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody)))]
async fn send(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    Json(req): Json<SendRequest>,
) -> ApiResult<Json<SendResponse>> {
    let name = check_access(&state, &caller, &name, Action::DriveSessions)?;
    if !req.wait.unwrap_or(false) {
        state.sessions.send(&name, &req.prompt, req.enter.unwrap_or(true)).await?;
        return Ok(Json(SendResponse { ok: true, ..Default::default() }));
    }
    if req.enter == Some(false) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid",
            "wait needs enter: a prompt that is not submitted gets no reply",
        ));
    }
    let timeout = req.timeout.unwrap_or(600);
    if timeout == 0 || timeout > MAX_WAIT_SECS {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid",
            format!("timeout must be between 1 and {MAX_WAIT_SECS} seconds"),
        ));
    }
    let out = state
        .sessions
        .send_and_wait(&name, &req.prompt, std::time::Duration::from_secs(timeout))
        .await?;
    Ok(Json(SendResponse {
        ok: true,
        state: Some(out.state),
        reply: Some(out.reply),
        waiting_for: out.waiting_for,
        prompt: out.prompt,
        timed_out: out.timed_out,
    }))
}

/// Choose one option of the question a `waiting` agent shows, by its number as the screen
/// shows it (1 is the first of `prompt.options`).
#[utoipa::path(post, path = "/api/sessions/{name}/answer", operation_id = "answerQuestion", tag = "sessions", request_body = AnswerRequest,
    responses((status = 200, body = OkResponse), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn answer(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    Json(req): Json<AnswerRequest>,
) -> ApiResult<Json<OkResponse>> {
    let name = check_access(&state, &caller, &name, Action::DriveSessions)?;
    state.sessions.answer(&name, req.option).await?;
    Ok(Json(OkResponse { ok: true }))
}

/// Press one key (arrows, Enter, Escape, Tab, …, or one letter or digit).
#[utoipa::path(post, path = "/api/sessions/{name}/key", operation_id = "sendKey", tag = "sessions", request_body = KeyRequest,
    responses((status = 200, body = OkResponse), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn key(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    Json(req): Json<KeyRequest>,
) -> ApiResult<Json<OkResponse>> {
    let name = check_access(&state, &caller, &name, Action::DriveSessions)?;
    state.sessions.press_key(&name, &req.key).await?;
    Ok(Json(OkResponse { ok: true }))
}

/// Stop what the agent is doing (presses Escape).
#[utoipa::path(post, path = "/api/sessions/{name}/interrupt", operation_id = "interruptSession", tag = "sessions",
    responses((status = 400, description = "Bad input: malformed JSON, a value outside the documented schema (length, pattern, range), a query number out of range", body = ErrorBody), (status = 200, body = OkResponse), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn interrupt(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<OkResponse>> {
    let name = check_access(&state, &caller, &name, Action::DriveSessions)?;
    state.sessions.press_key(&name, "Escape").await?;
    Ok(Json(OkResponse { ok: true }))
}

/// Kill the session and delete its record (the old daemon's `kill`).
#[utoipa::path(post, path = "/api/sessions/{name}/kill", operation_id = "killSession", tag = "sessions",
    responses((status = 400, description = "Bad input: malformed JSON, a value outside the documented schema (length, pattern, range), a query number out of range", body = ErrorBody), (status = 200, body = KillResponse), (status = 404, body = ErrorBody)))]
async fn kill(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<KillResponse>> {
    let name = check_access(&state, &caller, &name, Action::DriveSessions)?;
    let status = state.sessions.remove(&name, true).await?;
    state.auth.audit(&caller.0.actor(), "session_killed", &name, status.as_str()).await;
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
    let name = check_access(&state, &caller, &name, Action::DriveSessions)?;
    let session = state.sessions.stop(&name).await?;
    state.auth.audit(&caller.0.actor(), "session_stopped", &name, "").await;
    Ok(Json(SessionResponse { ok: true, session: present(&state, &caller.0, session) }))
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
    let name = check_access(&state, &caller, &name, Action::DriveSessions)?;
    let session = state.sessions.restart(&name).await?;
    Ok(Json(SessionResponse { ok: true, session: present(&state, &caller.0, session) }))
}

/// Send one prompt to several sessions: `names`, or every running one (of `agent`).
#[utoipa::path(post, path = "/api/sessions/broadcast", operation_id = "broadcastPrompt", tag = "sessions",
    request_body = BroadcastRequest,
    responses((status = 200, body = BroadcastResponse), (status = 400, body = ErrorBody),
        (status = 413, body = ErrorBody)))]
async fn broadcast(
    State(state): State<AppState>,
    caller: Caller,
    Json(mut req): Json<BroadcastRequest>,
) -> ApiResult<Json<BroadcastResponse>> {
    caller.require(Action::DriveSessions)?;
    let visible: Vec<String> = state
        .sessions
        .list()
        .iter()
        .filter(|s| caller.0.can_access(&s.owner))
        .map(|s| s.name.clone())
        .collect();
    match &mut req.names {
        Some(names) => {
            for name in names.iter_mut() {
                let canonical = resolve(&state, &caller.0, name);
                if !visible.contains(&canonical) {
                    return Err(
                        llmux_core::Error::NotFound(format!("no session named {name:?}")).into()
                    );
                }
                *name = canonical;
            }
        }
        None => req.names = Some(filter_running(&state, visible, req.agent.as_deref())),
    }
    let mut out = state.sessions.broadcast(req).await?;
    out.sent = out.sent.iter().map(|n| shown(&state, &caller.0, n)).collect();
    for failure in &mut out.failed {
        failure.name = shown(&state, &caller.0, &failure.name);
    }
    Ok(Json(out))
}

fn filter_running(state: &AppState, visible: Vec<String>, agent: Option<&str>) -> Vec<String> {
    if let Some(agent) = agent
        && state.sessions.catalog().get(agent).is_none()
    {
        // Leave the names empty; the service reports the unknown agent.
        return Vec::new();
    }
    visible
        .into_iter()
        .filter(|n| state.sessions.status(n) == llmux_core::api::SessionStatus::Running)
        .filter(|n| agent.is_none_or(|a| state.sessions.record(n).is_ok_and(|r| r.agent == a)))
        .collect()
}

/// `?lines=N` (default 100).
#[derive(Debug, Deserialize, IntoParams)]
struct CaptureQuery {
    /// How many lines from the bottom, 1 to 10000.
    #[param(minimum = 1, maximum = 10000)]
    lines: Option<u32>,
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
    let name = check_access(&state, &caller, &name, Action::ReadSessions)?;
    let lines = q.lines.unwrap_or(100);
    let text = state.sessions.capture(&name, lines).await?;
    Ok(Json(CaptureResponse { name: shown(&state, &caller.0, &name), lines, text }))
}
