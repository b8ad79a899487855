//! `POST /api/sessions` with `host: "auto"` or `"label:NAME"` (issue 17): the hub asks each
//! candidate host whether the start would pass its checks there (`GET /api/placement`, with
//! the hub's credential and the acting user named, as every relayed call) and picks by the
//! rules of [`llmux_fleet::placement`]. Placing on hosts is for admins, as any remote start.

use std::time::Duration;

use axum::http::StatusCode;
use llmux_api::{CreateSessionRequest, PlacementCheck};
use llmux_auth::Principal;
use llmux_fleet::placement::{Candidate, Spec, pick};

use crate::AppState;
use crate::error::ApiError;

/// How long one host may take to answer; a slower one is left out (and says so).
const ASK_TIMEOUT: Duration = Duration::from_secs(5);

/// The host `host` names: itself, or for `auto` / `label:NAME` the chosen one.
pub(crate) async fn resolve(
    state: &AppState,
    principal: &Principal,
    host: String,
    req: &CreateSessionRequest,
) -> Result<String, ApiError> {
    let Some(spec) = Spec::parse(&host) else { return Ok(host) };
    if !principal.is_admin() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "starting a session on a fleet host is for admins",
        ));
    }
    if let Spec::Label(label) = &spec {
        llmux_fleet::placement::validate_label(label)?;
    }
    let mut path = format!("/api/placement?agent={}", llmux_client::encode_segment(&req.agent));
    if let Some(cwd) = req.cwd.as_deref() {
        path.push_str(&format!("&cwd={}", llmux_client::encode_segment(cwd)));
    }
    let actor = principal.actor();
    let asks = state.fleet.candidates(&spec).into_iter().map(|(host, client)| {
        let (path, actor) = (path.clone(), actor.clone());
        async move {
            let asked = tokio::time::timeout(
                ASK_TIMEOUT,
                client.raw(
                    axum::http::Method::GET,
                    &path,
                    None,
                    &[(crate::security::ON_BEHALF_OF, actor.as_str())],
                ),
            )
            .await;
            let answer = match asked {
                Err(_) => Err("did not answer in time".to_owned()),
                Ok(Err(e)) => Err(e.to_string()),
                Ok(Ok(res)) if res.status.is_success() => {
                    serde_json::from_slice::<PlacementCheck>(&res.body)
                        .map_err(|_| "cannot place sessions (an older llmux?)".to_owned())
                }
                Ok(Ok(res)) => Err(format!("answered HTTP {}", res.status)),
            };
            match answer {
                Ok(check) => Candidate {
                    host,
                    fits: if check.ok {
                        Ok(())
                    } else {
                        Err(check.error.unwrap_or_else(|| "cannot take it".into()))
                    },
                    mem_available: check.mem_available,
                },
                Err(why) => Candidate { host, fits: Err(why), mem_available: None },
            }
        }
    });
    let candidates = futures_util::future::join_all(asks).await;
    let chosen = pick(&candidates, &spec)?;
    tracing::info!(host = %chosen, spec = %host, "session placed");
    Ok(chosen)
}
