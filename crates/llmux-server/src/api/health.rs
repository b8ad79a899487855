//! Monitoring: `GET /metrics` (Prometheus text; admins, the operator, `metrics`-scope tokens)
//! and `GET /api/health` (the detailed checks; admins and the operator). The public
//! `/health` stays in [`super::meta`] and says only that the daemon is up.

use std::time::Duration;

use super::{ApiRouter, routes};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use llmux_api::ErrorBody;
use llmux_auth::Action;
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Caller, Json};

/// How long a check may take before it counts as failed.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);
/// Less free space than this in the state dir fails the disk check.
const MIN_FREE_BYTES: u64 = 100 << 20;

pub(crate) fn router() -> ApiRouter {
    ApiRouter::new().routes(routes!(metrics)).routes(routes!(health_details))
}

/// The daemon's metrics in the Prometheus text format (0.0.4): sessions by agent and state,
/// terminal viewers, event-stream clients, HTTP requests by route template and status with
/// latency histograms, sign-in failures and throttles, tmux command latency, push deliveries.
#[utoipa::path(get, path = "/metrics", operation_id = "getMetrics", tag = "monitoring",
    responses((status = 200, description = "Prometheus text exposition format 0.0.4",
            content_type = "text/plain; version=0.0.4; charset=utf-8", body = String),
        (status = 403, body = ErrorBody)))]
async fn metrics(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    caller.require(Action::ReadMetrics)?;
    let body = state.metrics.render();
    Ok(([(header::CONTENT_TYPE, prometheus_client::encoding::prometheus_text::CONTENT_TYPE)], body)
        .into_response())
}

/// `ok` or `error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum CheckStatus {
    /// Fine.
    Ok,
    /// Failed; the message says how.
    Error,
}

/// One check of `GET /api/health`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct HealthCheck {
    /// `tmux`, `store` or `disk`.
    name: &'static str,
    /// Whether it passed.
    status: CheckStatus,
    /// What was found (`3 panes`, `12.0 GiB free of 50.0 GiB`) or what went wrong.
    message: String,
}

/// `GET /api/health`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct HealthReport {
    /// `ok` when every check is.
    status: CheckStatus,
    /// The daemon's version.
    version: String,
    /// Seconds since the daemon started.
    uptime_seconds: u64,
    /// tmux reachable (its panes listed), the store writable (a write rolled back), free
    /// space in the state dir.
    checks: Vec<HealthCheck>,
}

/// Whether the daemon can do its work: tmux answers, the store takes writes, the state dir
/// has room. 503 when a check fails (the body says which).
#[utoipa::path(get, path = "/api/health", operation_id = "getHealthDetails", tag = "monitoring",
    responses((status = 200, body = HealthReport),
        (status = 503, description = "a check failed", body = HealthReport),
        (status = 403, body = ErrorBody)))]
async fn health_details(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    caller.require(Action::Administer)?;
    let (tmux, store) = tokio::join!(check_tmux(&state), check_store(&state));
    let disk = check_disk(&state.info.state_dir);
    let checks = vec![tmux, store, disk];
    let ok = checks.iter().all(|c| c.status == CheckStatus::Ok);
    let report = HealthReport {
        status: if ok { CheckStatus::Ok } else { CheckStatus::Error },
        version: llmux_core::VERSION.to_owned(),
        uptime_seconds: state.metrics.uptime().as_secs(),
        checks,
    };
    let code = if ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    Ok((code, Json(report)).into_response())
}

fn check(name: &'static str, result: Result<String, String>) -> HealthCheck {
    match result {
        Ok(message) => HealthCheck { name, status: CheckStatus::Ok, message },
        Err(message) => HealthCheck { name, status: CheckStatus::Error, message },
    }
}

async fn check_tmux(state: &AppState) -> HealthCheck {
    let listed = tokio::time::timeout(CHECK_TIMEOUT, state.sessions.servers().list_panes()).await;
    check(
        "tmux",
        match listed {
            Ok(Ok(panes)) => Ok(format!("{} panes", panes.len())),
            Ok(Err(e)) => Err(format!("cannot list tmux panes: {e}")),
            Err(_) => Err(format!("tmux did not answer in {} s", CHECK_TIMEOUT.as_secs())),
        },
    )
}

async fn check_store(state: &AppState) -> HealthCheck {
    let written = tokio::time::timeout(CHECK_TIMEOUT, state.auth.check_store()).await;
    check(
        "store",
        match written {
            Ok(Ok(())) => Ok("writable".to_owned()),
            Ok(Err(e)) => Err(format!("the store does not take writes: {e}")),
            Err(_) => Err(format!("the store did not answer in {} s", CHECK_TIMEOUT.as_secs())),
        },
    )
}

fn check_disk(state_dir: &std::path::Path) -> HealthCheck {
    let result = match rustix::fs::statvfs(state_dir) {
        Ok(st) => {
            let free = st.f_bavail.saturating_mul(st.f_frsize);
            let total = st.f_blocks.saturating_mul(st.f_frsize);
            let text = format!("{} free of {} in {}", gib(free), gib(total), state_dir.display());
            if free < MIN_FREE_BYTES { Err(format!("low on space: {text}")) } else { Ok(text) }
        }
        Err(e) => Err(format!("cannot read the free space of {}: {e}", state_dir.display())),
    };
    check("disk", result)
}

fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / f64::from(1u32 << 30))
}
