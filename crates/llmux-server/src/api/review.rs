//! `/api/sessions/{name}/diff` and `/api/sessions/{name}/review/…`: reviewing what a
//! session's agent changed in its git repository (issue 18).

use axum::extract::State;
use llmux_api::{DiffQuery, DiffResponse, ErrorBody};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Caller, Json, Path, Query};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(diff))
}

/// The diff of what the session's agent changed in the git repository around its cwd:
/// files, hunks and lines. 409 when the cwd is not in a repository.
#[utoipa::path(get, path = "/api/sessions/{name}/diff", operation_id = "sessionDiff", tag = "sessions", params(DiffQuery),
    responses((status = 200, body = DiffResponse), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn diff(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    Query(q): Query<DiffQuery>,
) -> ApiResult<Json<DiffResponse>> {
    Ok(Json(state.facade.diff(&caller.0, &name, &q).await?))
}
