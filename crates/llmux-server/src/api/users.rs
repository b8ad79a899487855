//! `/api/admin/users…`: user management (admins and the local operator).

use super::{ApiRouter, routes};
use axum::extract::State;
use axum::http::StatusCode;
use llmux_api::{
    CreateUserRequest, DeleteUserQuery, ErrorBody, SessionsFate, UpdateUserRequest,
    UserDeletedResponse, UserResponse, UserView,
};
use llmux_core::store::UserSessions;

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Caller, Json, Path, Query};

pub(crate) fn router() -> ApiRouter {
    ApiRouter::new().routes(routes!(list, create)).routes(routes!(update, delete))
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

/// Delete a user: their tokens, browser sessions, push subscriptions and opt-ins go, and
/// their sessions end or pass to another user, in one transaction.
#[utoipa::path(delete, path = "/api/admin/users/{username}", operation_id = "deleteUser", tag = "users", params(DeleteUserQuery),
    responses((status = 200, body = UserDeletedResponse), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(username): Path<String>,
    Query(q): Query<DeleteUserQuery>,
) -> ApiResult<Json<UserDeletedResponse>> {
    let fate = match (q.sessions, q.to) {
        (SessionsFate::End, None) => UserSessions::End,
        (SessionsFate::Transfer, Some(to)) => UserSessions::Transfer(to),
        (SessionsFate::Transfer, None) => {
            return Err(invalid("sessions=transfer needs to=USER, who gets them"));
        }
        (SessionsFate::End, Some(_)) => {
            return Err(invalid("to=USER goes with sessions=transfer"));
        }
    };
    // On its own task: once the transaction committed, the tmux sessions must follow even
    // if the client goes away and this handler is dropped.
    let task = tokio::spawn({
        let (state, principal) = (state.clone(), caller.0.clone());
        async move {
            let deleted = state.auth.delete_user(&principal, &username, fate).await?;
            // The records are gone or moved; now the tmux sessions follow.
            state.sessions.apply_user_deletion(&deleted).await?;
            Ok::<_, ApiError>(deleted)
        }
    });
    let deleted = task.await.map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("deletion failed: {e}"),
        )
    })??;
    let shown = |n: &String| state.facade.shown(&caller.0, n);
    Ok(Json(UserDeletedResponse {
        ok: true,
        revoked_tokens: deleted.tokens,
        ended_sessions: deleted.ended.iter().map(shown).collect(),
        transferred_sessions: deleted.moved.iter().map(|(_, new)| shown(new)).collect(),
    }))
}

fn invalid(message: &str) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid", message)
}
