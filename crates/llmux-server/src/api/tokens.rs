//! `/api/tokens…`: API tokens, shown once, stored hashed.

use super::{ApiRouter, routes};
use axum::extract::State;
use axum::http::StatusCode;
use llmux_api::{
    CreateTokenRequest, CreateTokenResponse, ErrorBody, ListTokensQuery, OkResponse,
    RenameTokenRequest, RevokeTokensQuery, RevokedResponse, TokenListResponse, TokenResponse,
};

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Caller, Json, Path, Query};

pub(crate) fn router() -> ApiRouter {
    ApiRouter::new().routes(routes!(list, create, revoke_all)).routes(routes!(rename, revoke))
}

/// The caller's tokens (admins: everyone's with `all=true`).
#[utoipa::path(get, path = "/api/tokens", operation_id = "listTokens", tag = "tokens", params(ListTokensQuery),
    responses((status = 400, description = "Bad input: malformed JSON, a value outside the documented schema (length, pattern, range), a query number out of range", body = ErrorBody), (status = 200, body = TokenListResponse)))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<ListTokensQuery>,
) -> ApiResult<Json<TokenListResponse>> {
    Ok(Json(TokenListResponse { tokens: state.auth.list_tokens(&caller.0, q.all).await? }))
}

/// Mint a token; its value is in the response once and never again.
#[utoipa::path(post, path = "/api/tokens", operation_id = "createToken", tag = "tokens", request_body = CreateTokenRequest,
    responses((status = 201, body = CreateTokenResponse), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<CreateTokenRequest>,
) -> ApiResult<(StatusCode, Json<CreateTokenResponse>)> {
    if req.username.is_none() && caller.0.username().is_none() {
        // Say how to name the owner: the CLI's flag and the API's field.
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid",
            "the local operator has no account of its own: say whose token it is with \
             `llmux token create --user NAME` (`username` in the API)",
        ));
    }
    let (value, token) = state.auth.create_token(&caller.0, req).await?;
    Ok((StatusCode::CREATED, Json(CreateTokenResponse { ok: true, value, token })))
}

/// Revoke every token of a user; their open connections close.
#[utoipa::path(delete, path = "/api/tokens", operation_id = "revokeAllTokens", tag = "tokens", params(RevokeTokensQuery),
    responses((status = 400, description = "Bad input: malformed JSON, a value outside the documented schema (length, pattern, range), a query number out of range", body = ErrorBody), (status = 200, body = RevokedResponse), (status = 403, body = ErrorBody)))]
async fn revoke_all(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<RevokeTokensQuery>,
) -> ApiResult<Json<RevokedResponse>> {
    let revoked_tokens = state.auth.revoke_user_tokens(&caller.0, q.username.as_deref()).await?;
    Ok(Json(RevokedResponse { ok: true, revoked_tokens }))
}

/// Rename a token.
#[utoipa::path(patch, path = "/api/tokens/{id}", operation_id = "renameToken", tag = "tokens", request_body = RenameTokenRequest,
    responses((status = 400, description = "Bad input: malformed JSON, a value outside the documented schema (length, pattern, range), a query number out of range", body = ErrorBody), (status = 200, body = TokenResponse), (status = 404, body = ErrorBody)))]
async fn rename(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(req): Json<RenameTokenRequest>,
) -> ApiResult<Json<TokenResponse>> {
    let token = state.auth.rename_token(&caller.0, &id, &req.name).await?;
    Ok(Json(TokenResponse { ok: true, token }))
}

/// Revoke a token; its open connections close.
#[utoipa::path(delete, path = "/api/tokens/{id}", operation_id = "revokeToken", tag = "tokens",
    responses((status = 400, description = "Bad input: malformed JSON, a value outside the documented schema (length, pattern, range), a query number out of range", body = ErrorBody), (status = 200, body = OkResponse), (status = 404, body = ErrorBody)))]
async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<OkResponse>> {
    state.auth.revoke_token(&caller.0, &id).await?;
    Ok(Json(OkResponse { ok: true }))
}
