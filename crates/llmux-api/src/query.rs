//! Query strings of the REST API (`?limit=N`, `?force=true`, …).

use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use utoipa::{IntoParams, ToSchema};

/// `?limit=N` (`GET /api/logs`, `GET /api/audit`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(IntoParams))]
pub struct LimitQuery {
    /// How many of the newest entries.
    pub limit: Option<u32>,
}

/// `?agent=&cwd=` (`GET /api/conversations`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(IntoParams))]
pub struct ConversationsQuery {
    /// Agent key.
    pub agent: String,
    /// Working directory (`~` expanded).
    pub cwd: String,
}

/// `?force=true` removes a running session too (`DELETE /api/sessions/{name}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(IntoParams))]
pub struct RemoveSessionQuery {
    /// Stop the session first if it is running; with `branch`, also remove a worktree that
    /// has uncommitted changes or commits not in its base.
    #[serde(default)]
    pub force: bool,
    /// What becomes of the branch of a worktree that is dirty or has unmerged commits, when
    /// `force` removes it anyway: `keep` it, or `delete` it. Without it such a worktree is
    /// refused (409) even with `force`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<BranchChoice>,
}

/// The explicit choice a forced removal of a worktree with work in it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum BranchChoice {
    /// Remove the worktree (its uncommitted changes go), keep the branch and its commits.
    Keep,
    /// Remove the worktree and delete the branch, commits and all.
    Delete,
}

/// `?lines=N` (default 100; `GET /api/sessions/{name}/capture`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(IntoParams))]
pub struct CaptureQuery {
    /// How many lines from the bottom, 1 to 10000.
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 10000))]
    pub lines: Option<u32>,
}

/// `?all=true` (admins: everyone's tokens; `GET /api/tokens`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(IntoParams))]
pub struct ListTokensQuery {
    /// Every user's tokens (admins only; ignored otherwise).
    #[serde(default)]
    pub all: bool,
}

/// `?username=U` (default: the caller; `DELETE /api/tokens`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(IntoParams))]
pub struct RevokeTokensQuery {
    /// Whose tokens (admins may name anyone).
    pub username: Option<String>,
}

/// What becomes of a deleted user's sessions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum SessionsFate {
    /// They end (tmux sessions killed).
    #[default]
    End,
    /// They pass to the user named by `to`, renamed to that user's names.
    Transfer,
}

/// `?sessions=end|transfer&to=USER` (`DELETE /api/admin/users/{username}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(IntoParams))]
pub struct DeleteUserQuery {
    /// `end` (default) or `transfer`.
    #[serde(default)]
    pub sessions: SessionsFate,
    /// With `transfer`: the user who gets the sessions.
    pub to: Option<String>,
}
