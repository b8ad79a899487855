//! A session's queue of waiting prompts on the wire (`/api/sessions/{name}/queue`).

use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// One prompt waiting for a session.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct QueueItem {
    /// Its id (for edit, move, cancel).
    pub id: i64,
    /// The session, in the caller's terms.
    pub session: String,
    /// The text to type.
    pub text: String,
    /// Press Enter after it.
    pub enter: bool,
    /// Not typed before this time (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<String>,
    /// Typed only when the agent is idle.
    #[serde(default)]
    pub when_idle: bool,
    /// Typed once the agent's rate limit has reset.
    #[serde(default)]
    pub after_limit: bool,
    /// Its place in the session's queue (1 = first).
    pub place: usize,
    /// Who queued it (empty for the local operator).
    #[serde(default)]
    pub created_by: String,
    /// When it was queued (RFC 3339).
    pub created_at: String,
}

/// `PATCH /api/sessions/{name}/queue/{id}`: edit the text, move it, or both.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QueueEditRequest {
    /// The new text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 262144))]
    pub text: Option<String>,
    /// Its new place (1 = first; past the end = last).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub to: Option<usize>,
}

/// What `GET /api/sessions/{name}/queue` answers.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct QueueResponse {
    /// The session, in the caller's terms.
    pub session: String,
    /// The waiting prompts, first first.
    pub items: Vec<QueueItem>,
    /// Prompts sent to be typed now that wait their turn (behind another sender, or for the
    /// agent to finish starting), first first: typed before `items`; not stored, not editable
    /// (their senders are still waiting for the answer).
    #[serde(default)]
    pub waiting: Vec<WaitingPrompt>,
}

/// A prompt sent to be typed now, waiting its turn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct WaitingPrompt {
    /// The text.
    pub text: String,
    /// When it was sent (RFC 3339).
    pub since: String,
    /// `behind` (another sender's prompt is being typed) or `starting` (held until the agent
    /// is ready).
    pub reason: String,
}
