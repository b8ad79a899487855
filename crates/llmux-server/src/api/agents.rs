//! `/api/agents`: the agent catalog.

use super::{ApiRouter, routes};
use axum::extract::State;
use llmux_api::AgentView;

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Caller, Json};

pub(crate) fn router() -> ApiRouter {
    ApiRouter::new().routes(routes!(installed)).routes(routes!(all))
}

/// Installed agents.
#[utoipa::path(get, path = "/api/agents", operation_id = "listInstalledAgents", tag = "agents", responses((status = 200, body = Vec<AgentView>)))]
async fn installed(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<AgentView>>> {
    Ok(Json(state.facade.agents(&caller.0)?.into_iter().filter(|a| a.installed).collect()))
}

/// Every agent of the catalog, installed or not, with install hints.
#[utoipa::path(get, path = "/api/agents/all", operation_id = "listAllAgents", tag = "agents", responses((status = 200, body = Vec<AgentView>)))]
async fn all(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<AgentView>>> {
    Ok(Json(state.facade.agents(&caller.0)?))
}
