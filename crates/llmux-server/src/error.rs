//! `ApiError`: every failure of a handler, as a status and a JSON `{error, code}` body.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use llmux_api::ErrorBody;

/// A failed request. Client mistakes carry their message; internal failures answer with a
/// generic message and are logged once, here.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    retry_after: Option<u64>,
}

/// Result alias for handlers.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// An error with an explicit status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), retry_after: None }
    }

    /// 401: no valid credential.
    pub fn unauthorized() -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "authentication required")
    }

    /// 404 for an unknown route.
    pub fn no_route(method: &str, path: &str) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no route for {method} {path}"))
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl ApiError {
    /// 500 with a generic message; the real error is logged here, once, never sent.
    fn internal(err: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %err, "request failed");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; the daemon log has the details",
        )
    }
}

impl From<llmux_core::Error> for ApiError {
    fn from(err: llmux_core::Error) -> Self {
        use llmux_core::Error as E;
        let (status, code) = match &err {
            E::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid"),
            E::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            E::AlreadyExists(_) => (StatusCode::CONFLICT, "already_exists"),
            E::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            E::NotRunning(_) => (StatusCode::CONFLICT, "not_running"),
            E::NotReady(_) => (StatusCode::CONFLICT, "not_ready"),
            E::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            _ => return ApiError::internal(&err),
        };
        ApiError::new(status, code, err.to_string())
    }
}

impl From<llmux_auth::Error> for ApiError {
    fn from(err: llmux_auth::Error) -> Self {
        use llmux_auth::Error as E;
        if let E::Core(core) = err {
            // The session service's own outcome, with its own status and code.
            return core.into();
        }
        let (status, code) = match &err {
            E::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            E::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            E::Throttled { retry_after } => {
                let mut e =
                    ApiError::new(StatusCode::TOO_MANY_REQUESTS, "throttled", err.to_string());
                e.retry_after = Some(*retry_after);
                return e;
            }
            E::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid"),
            E::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            E::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            E::NotRunning(_) => (StatusCode::CONFLICT, "not_running"),
            _ => return ApiError::internal(&err),
        };
        ApiError::new(status, code, err.to_string())
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let status = rejection.status();
        let code = match status {
            StatusCode::PAYLOAD_TOO_LARGE => "too_large",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
            _ => "invalid_json",
        };
        // Normalise 422 (well-formed JSON of the wrong shape) to 400: bad input is bad input.
        let status = if status == StatusCode::UNPROCESSABLE_ENTITY {
            StatusCode::BAD_REQUEST
        } else {
            status
        };
        ApiError::new(status, code, rejection.body_text())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody { error: self.message, code: self.code.to_owned() };
        let mut res = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            res.headers_mut().insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        res
    }
}
