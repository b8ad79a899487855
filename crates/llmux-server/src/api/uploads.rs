//! `POST /api/sessions/{name}/uploads`: a file from a person's device into the session's
//! workspace (issue 19). The body is the file's bytes as they are (no multipart: one file per
//! request, so a phone's retry resends one file and a progress bar is the request's own).

use super::{ApiRouter, routes};
use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use llmux_api::{ErrorBody, UploadQuery, UploadResponse};

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Caller, Json, Path, Query};

pub(crate) fn router() -> ApiRouter {
    ApiRouter::new().routes(routes!(upload))
}

/// Write a file into the session's `.llmux/uploads/` folder (kept out of git), as the
/// session's owner, and get the way to name it in a prompt. The body is the file itself;
/// `server.uploads` sets the largest size (413 beyond), the folder's file count and the types.
#[utoipa::path(post, path = "/api/sessions/{name}/uploads", operation_id = "uploadFile", tag = "sessions",
    params(UploadQuery), request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = UploadResponse), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody)))]
async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    Query(q): Query<UploadQuery>,
    body: Body,
) -> ApiResult<(StatusCode, Json<UploadResponse>)> {
    let max = state.sessions.upload_limits().max_bytes;
    // One byte over the limit is enough to know, and the core words the refusal.
    let cap = usize::try_from(max.saturating_add(1)).unwrap_or(usize::MAX);
    let bytes = axum::body::to_bytes(body, cap).await.map_err(|_| {
        ApiError::from(llmux_core::Error::TooLarge(format!(
            "the file is over this daemon's upload limit of {max} bytes (server.uploads.maxBytes)"
        )))
    })?;
    let done = state.facade.upload(&caller.0, &name, &q.filename, &bytes).await?;
    Ok((
        StatusCode::CREATED,
        Json(UploadResponse {
            ok: true,
            name: done.name,
            relative_path: done.relative,
            path: done.path,
            size: done.size,
            mention: done.mention,
        }),
    ))
}
