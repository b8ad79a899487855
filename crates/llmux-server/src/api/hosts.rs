//! `/api/hosts…`: the hub's fleet hosts (admins). A host's token is stored on the hub and
//! never returned by any route; the list shows each host's status from its event stream.

use axum::extract::State;
use axum::http::StatusCode;
use llmux_api::{
    AddHostRequest, EditHostRequest, ErrorBody, HostTestResponse, HostView, OkResponse,
};
use llmux_auth::Action;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Caller, Json, Path};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, add))
        .routes(routes!(remove, edit))
        .routes(routes!(test))
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
/// sessions there, as which host user; README "Hosts").
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
    let Some(users) = req.users else {
        return Ok(Json(state.fleet.view(&name).ok_or_else(|| {
            ApiError::from(llmux_core::Error::NotFound(format!("no host named {name:?}")))
        })?));
    };
    let detail = describe_users(&users);
    let view = state.fleet.set_users(&name, users)?;
    state.auth.audit(&caller.0.actor(), "host.users", &name, &detail).await;
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
