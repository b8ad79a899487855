//! `GET /api/placement`: could the caller start this agent in this directory here? The
//! narrowest read a hub needs to place a session (`session start --host auto`, issue 17): a
//! dry run of a start's own checks under the caller's own rights, so it tells nobody more
//! than a start would (a caller who may not start sessions gets 403, not an answer).

use super::{ApiRouter, routes};
use llmux_api::{ErrorBody, PlacementCheck, PlacementQuery};
use llmux_auth::Action;

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Caller, Json, Query};
use axum::extract::State;

pub(crate) fn router() -> ApiRouter {
    ApiRouter::new().routes(routes!(check))
}

/// Whether a start of `agent` in `cwd` would pass its checks here (nothing is made), and
/// this machine's available memory.
#[utoipa::path(get, path = "/api/placement", operation_id = "checkPlacement", tag = "sessions",
    params(PlacementQuery),
    responses((status = 200, body = PlacementCheck), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
async fn check(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<PlacementQuery>,
) -> ApiResult<Json<PlacementCheck>> {
    caller.require(Action::DriveSessions)?;
    let outcome = state.facade.can_start(&caller.0, &q.agent, q.cwd.as_deref()).await;
    Ok(Json(PlacementCheck {
        ok: outcome.is_ok(),
        error: outcome.err().map(|e| e.to_string()),
        mem_available: super::meta::mem_available().await,
    }))
}
