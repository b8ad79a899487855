//! `/api/hosts…`: the hub's fleet hosts (admins). A host's token is stored on the hub and
//! never returned by any route; the list shows each host's status from its event stream.

use super::{ApiRouter, routes};
use axum::extract::State;
use axum::http::StatusCode;
use llmux_api::{
    AddHostRequest, EditHostRequest, ErrorBody, HostTestResponse, HostView, InstallReport,
    InstallRequest, OkResponse,
};
use llmux_auth::Action;

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Caller, Json, Path};

pub(crate) fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(list, add))
        .routes(routes!(remove, edit))
        .routes(routes!(test))
        .routes(routes!(install))
        .routes(routes!(upgrade))
}

/// Every host: up or down, last seen, version, sessions, load and free memory.
#[utoipa::path(get, path = "/api/hosts", operation_id = "listHosts", tag = "hosts",
    responses((status = 200, body = Vec<HostView>), (status = 403, body = ErrorBody)))]
async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<HostView>>> {
    caller.require(Action::Administer)?;
    Ok(Json(state.fleet.list()))
}

/// Add a host: by `url` with a `token` minted on it, or by `ssh` (`[user@]host[:port]`).
#[utoipa::path(post, path = "/api/hosts", operation_id = "addHost", tag = "hosts",
    request_body = AddHostRequest,
    responses((status = 201, body = HostView), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn add(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<AddHostRequest>,
) -> ApiResult<(StatusCode, Json<HostView>)> {
    caller.require(Action::Administer)?;
    let name = req.name.clone();
    let fleet = state.fleet.clone();
    let view = fleet.add(req)?;
    state.auth.audit(&caller.0.actor(), "host.add", &name, &view.address).await;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Remove a host: the hub stops following it; nothing changes on the host.
#[utoipa::path(delete, path = "/api/hosts/{name}", operation_id = "removeHost", tag = "hosts",
    responses((status = 200, body = OkResponse), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<OkResponse>> {
    caller.require(Action::Administer)?;
    state.fleet.remove(&name)?;
    state.auth.audit(&caller.0.actor(), "host.remove", &name, "").await;
    Ok(Json(OkResponse { ok: true }))
}

/// Change what the hub keeps about a host: its user mapping (which hub users reach their own
/// sessions there, as which host user; README "Hosts") and its labels (for
/// `--host label:NAME`). Fields left out stay; nothing changes when one is invalid.
#[utoipa::path(patch, path = "/api/hosts/{name}", operation_id = "editHost", tag = "hosts",
    request_body = EditHostRequest,
    responses((status = 200, body = HostView), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn edit(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    Json(req): Json<EditHostRequest>,
) -> ApiResult<Json<HostView>> {
    caller.require(Action::Administer)?;
    // Checked before the mapping is applied, so a bad label changes nothing.
    llmux_fleet::placement::labels(req.label.clone())?;
    llmux_fleet::placement::labels(req.unlabel.clone())?;
    let mut view = None;
    if let Some(users) = req.users {
        let detail = describe_users(&users);
        view = Some(state.fleet.set_users(&name, users)?);
        state.auth.audit(&caller.0.actor(), "host.users", &name, &detail).await;
    }
    if !req.label.is_empty() || !req.unlabel.is_empty() {
        let v = state.fleet.edit_labels(&name, req.label, &req.unlabel)?;
        state.auth.audit(&caller.0.actor(), "host.edit", &name, &v.labels.join(" ")).await;
        view = Some(v);
    }
    let view = match view {
        Some(view) => view,
        None => state.fleet.view(&name).ok_or_else(|| {
            ApiError::from(llmux_core::Error::NotFound(format!("no host named {name:?}")))
        })?,
    };
    Ok(Json(view))
}

/// A mapping as the audit log records it: `same names; ann=bob`.
pub(crate) fn describe_users(users: &llmux_api::HostUsers) -> String {
    let mut parts: Vec<String> = Vec::new();
    if users.same_names {
        parts.push("same names".into());
    }
    parts.extend(users.map.iter().map(|(from, to)| format!("{from}={to}")));
    if parts.is_empty() { "nobody".into() } else { parts.join("; ") }
}

/// Reach the host now over a fresh connection: version, who the host says the hub is, time.
#[utoipa::path(post, path = "/api/hosts/{name}/test", operation_id = "testHost", tag = "hosts",
    responses((status = 200, body = HostTestResponse), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn test(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<HostTestResponse>> {
    caller.require(Action::Administer)?;
    Ok(Json(state.fleet.test(&name).await.map_err(ApiError::from)?))
}

/// Put this hub's llmux on an SSH target and start its daemon there (a user service, or
/// detached without systemd --user); `llmux host add --ssh --install` then adds the host.
#[utoipa::path(post, path = "/api/installs", operation_id = "installOverSsh", tag = "hosts",
    request_body = InstallRequest,
    responses((status = 200, body = InstallReport), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn install(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<InstallRequest>,
) -> ApiResult<Json<InstallReport>> {
    caller.require(Action::Administer)?;
    let report = state.fleet.install(&req.ssh).await?;
    let detail = format!("{} {}", report.action, report.version);
    state.auth.audit(&caller.0.actor(), "host.install", &req.ssh, &detail).await;
    Ok(Json(report))
}

/// Upgrade an SSH host to this hub's llmux: stop its daemon, replace the binary, start it
/// (its sessions keep running in tmux); nothing is copied when it is already current.
#[utoipa::path(post, path = "/api/hosts/{name}/upgrade", operation_id = "upgradeHost",
    tag = "hosts",
    responses((status = 200, body = InstallReport), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn upgrade(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<InstallReport>> {
    caller.require(Action::Administer)?;
    let report = state.fleet.upgrade(&name).await?;
    let detail = format!("{} {}", report.action, report.version);
    state.auth.audit(&caller.0.actor(), "host.upgrade", &name, &detail).await;
    Ok(Json(report))
}
