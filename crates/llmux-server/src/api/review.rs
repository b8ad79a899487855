//! `/api/sessions/{name}/diff` and `/api/sessions/{name}/review/…`: reviewing what a
//! session's agent changed in its git repository, and sending comments back (issue 18).

use super::{ApiRouter, routes};
use axum::extract::State;
use axum::http::StatusCode;
use llmux_api::{
    ActionResponse, CommentResponse, CommitRequest, DiffQuery, DiffResponse, DiscardRequest,
    EditCommentRequest, ErrorBody, MergeRequest, NewCommentRequest, OkResponse, PullRequestRequest,
    ReviewComment, SendCommentsResponse,
};

use llmux_core::sessions::{NewReviewComment, ReviewCommentEdit};

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Caller, Json, Path, Query};

pub(crate) fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(diff))
        .routes(routes!(comments, add_comment))
        .routes(routes!(edit_comment, delete_comment))
        .routes(routes!(send_comments))
        .routes(routes!(commit))
        .routes(routes!(merge))
        .routes(routes!(push))
        .routes(routes!(pull_request))
        .routes(routes!(discard))
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

/// The session's review comments, oldest first, open and resolved.
#[utoipa::path(get, path = "/api/sessions/{name}/review/comments", operation_id = "listReviewComments", tag = "sessions",
    responses((status = 200, body = Vec<ReviewComment>), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn comments(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<Vec<ReviewComment>>> {
    Ok(Json(state.facade.comments(&caller.0, &name).await?))
}

/// Comment on a line or a range of a file; sent to the agent with `review/send`.
#[utoipa::path(post, path = "/api/sessions/{name}/review/comments", operation_id = "addReviewComment", tag = "sessions",
    request_body = NewCommentRequest,
    responses((status = 201, body = CommentResponse), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody)))]
async fn add_comment(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    Json(req): Json<NewCommentRequest>,
) -> ApiResult<(StatusCode, Json<CommentResponse>)> {
    let comment = state.facade.add_comment(&caller.0, &name, new_comment(req)).await?;
    Ok((StatusCode::CREATED, Json(CommentResponse { ok: true, comment })))
}

/// The session service's input for a new comment (on the new side unless `side` says).
fn new_comment(req: NewCommentRequest) -> NewReviewComment {
    let NewCommentRequest { path, side, start_line, end_line, code, body } = req;
    NewReviewComment { path, side: side.unwrap_or_default(), start_line, end_line, code, body }
}

/// Resolve, reopen or reword a comment.
#[utoipa::path(patch, path = "/api/sessions/{name}/review/comments/{id}", operation_id = "editReviewComment", tag = "sessions",
    request_body = EditCommentRequest,
    responses((status = 200, body = CommentResponse), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody)))]
async fn edit_comment(
    State(state): State<AppState>,
    caller: Caller,
    Path((name, id)): Path<(String, i64)>,
    Json(req): Json<EditCommentRequest>,
) -> ApiResult<Json<CommentResponse>> {
    let EditCommentRequest { status, body } = req;
    let edit = ReviewCommentEdit { status, body };
    let comment = state.facade.edit_comment(&caller.0, &name, id, edit).await?;
    Ok(Json(CommentResponse { ok: true, comment }))
}

/// Delete a comment.
#[utoipa::path(delete, path = "/api/sessions/{name}/review/comments/{id}", operation_id = "deleteReviewComment", tag = "sessions",
    responses((status = 200, body = OkResponse), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn delete_comment(
    State(state): State<AppState>,
    caller: Caller,
    Path((name, id)): Path<(String, i64)>,
) -> ApiResult<Json<OkResponse>> {
    state.facade.delete_comment(&caller.0, &name, id).await?;
    Ok(Json(OkResponse { ok: true }))
}

/// Send the open comments not sent yet to the agent as one prompt (file, lines, the code
/// quoted, the words), queued like every prompt. 409 when none waits.
#[utoipa::path(post, path = "/api/sessions/{name}/review/send", operation_id = "sendReviewComments", tag = "sessions",
    responses((status = 200, body = SendCommentsResponse), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody)))]
async fn send_comments(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<SendCommentsResponse>> {
    let (sent, prompt) = state.facade.send_comments(&caller.0, &name).await?;
    Ok(Json(SendCommentsResponse { ok: true, sent, prompt }))
}

/// Commit every uncommitted change with `message` (hooks do not run), or with `ask` have the
/// agent commit (a prompt, queued like every prompt).
#[utoipa::path(post, path = "/api/sessions/{name}/review/commit", operation_id = "reviewCommit", tag = "sessions",
    request_body = CommitRequest,
    responses((status = 200, body = ActionResponse), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn commit(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    Json(req): Json<CommitRequest>,
) -> ApiResult<Json<ActionResponse>> {
    Ok(Json(state.facade.commit(&caller.0, &name, req).await?))
}

/// Merge the session's branch into the base: fast-forward or merge commit, never forced;
/// 409 with the conflicting files when it conflicts (nothing is changed then).
#[utoipa::path(post, path = "/api/sessions/{name}/review/merge", operation_id = "reviewMerge", tag = "sessions",
    request_body = MergeRequest,
    responses((status = 200, body = ActionResponse), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn merge(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    Json(req): Json<MergeRequest>,
) -> ApiResult<Json<ActionResponse>> {
    Ok(Json(state.facade.merge(&caller.0, &name, req).await?))
}

/// Push the session's branch to its remote (never forced).
#[utoipa::path(post, path = "/api/sessions/{name}/review/push", operation_id = "reviewPush", tag = "sessions",
    responses((status = 200, body = ActionResponse), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn push(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<ActionResponse>> {
    Ok(Json(state.facade.push(&caller.0, &name).await?))
}

/// Open a pull request with `gh` (or a merge request with `glab`) where installed and signed
/// in; their output is returned.
#[utoipa::path(post, path = "/api/sessions/{name}/review/pr", operation_id = "reviewPullRequest", tag = "sessions",
    request_body = PullRequestRequest,
    responses((status = 200, body = ActionResponse), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn pull_request(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    Json(req): Json<PullRequestRequest>,
) -> ApiResult<Json<ActionResponse>> {
    Ok(Json(state.facade.pull_request(&caller.0, &name, req.base.as_deref()).await?))
}

/// Throw away every uncommitted change and untracked file (`confirm: true`).
#[utoipa::path(post, path = "/api/sessions/{name}/review/discard", operation_id = "reviewDiscard", tag = "sessions",
    request_body = DiscardRequest,
    responses((status = 200, body = ActionResponse), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn discard(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    Json(req): Json<DiscardRequest>,
) -> ApiResult<Json<ActionResponse>> {
    Ok(Json(state.facade.discard(&caller.0, &name, req.confirm).await?))
}
