//! `/api/admin/users…`: user management (admins and the local operator).

use axum::extract::State;
use axum::http::StatusCode;
use llmux_core::api::{
    CreateUserRequest, ErrorBody, RevokedResponse, UpdateUserRequest, UserResponse, UserView,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Caller, Json, Path};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create)).routes(routes!(update, delete))
}

/// Every user.
#[utoipa::path(get, path = "/api/admin/users", operation_id = "listUsers", tag = "users",
    responses((status = 200, body = Vec<UserView>), (status = 403, body = ErrorBody)))]
async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<UserView>>> {
    Ok(Json(state.auth.list_users(&caller.0).await?))
}

/// Create a user.
#[utoipa::path(post, path = "/api/admin/users", operation_id = "createUser", tag = "users", request_body = CreateUserRequest,
    responses((status = 201, body = UserResponse), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<CreateUserRequest>,
) -> ApiResult<(StatusCode, Json<UserResponse>)> {
    let user = state.auth.create_user(&caller.0, req).await?;
    Ok((StatusCode::CREATED, Json(UserResponse { ok: true, user })))
}

/// Change a user's name, admin flag or passphrase.
#[utoipa::path(patch, path = "/api/admin/users/{username}", operation_id = "updateUser", tag = "users",
    request_body = UpdateUserRequest,
    responses((status = 200, body = UserResponse), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(username): Path<String>,
    Json(req): Json<UpdateUserRequest>,
) -> ApiResult<Json<UserResponse>> {
    let user = state.auth.update_user(&caller.0, &username, req).await?;
    Ok(Json(UserResponse { ok: true, user }))
}

/// Delete a user with their tokens and browser sessions.
#[utoipa::path(delete, path = "/api/admin/users/{username}", operation_id = "deleteUser", tag = "users",
    responses((status = 400, description = "Bad input: malformed JSON, a value outside the documented schema (length, pattern, range), a query number out of range", body = ErrorBody), (status = 200, body = RevokedResponse), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(username): Path<String>,
) -> ApiResult<Json<RevokedResponse>> {
    let revoked_tokens = state.auth.delete_user(&caller.0, &username).await?;
    Ok(Json(RevokedResponse { ok: true, revoked_tokens }))
}
