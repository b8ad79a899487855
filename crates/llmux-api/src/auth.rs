//! Accounts, tokens, browser sessions, settings, logs and audit: the wire types.

use serde::{Deserialize, Serialize};

use crate::sessions::patch;

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum TokenScope {
    /// Everything its owner may do, including admin routes if the owner is an admin.
    Admin,
    /// Everything a non-admin user may do with their own sessions.
    User,
    /// List, read and view (read-only terminal); nothing that changes state.
    ReadOnly,
    /// Read `GET /metrics` and nothing else (a Prometheus scraper's credential); admins only.
    Metrics,
    /// A fleet hub's credential on this host (issue 17): every session, as an admin would,
    /// and nothing else (no users, tokens, settings); the hub names the hub user it acts for
    /// in `X-Llmux-On-Behalf-Of`, which the audit log records. Admins only.
    Hub,
}

impl TokenScope {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenScope::Admin => "admin",
            TokenScope::User => "user",
            TokenScope::ReadOnly => "read-only",
            TokenScope::Metrics => "metrics",
            TokenScope::Hub => "hub",
        }
    }

    /// Parses the wire name.
    pub fn parse(text: &str) -> Option<TokenScope> {
        match text {
            "admin" => Some(TokenScope::Admin),
            "user" => Some(TokenScope::User),
            "read-only" | "readonly" | "read_only" => Some(TokenScope::ReadOnly),
            "metrics" => Some(TokenScope::Metrics),
            "hub" => Some(TokenScope::Hub),
            _ => None,
        }
    }
}

/// A user account as the API shows it (never with a hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    /// Login name, `^[a-z0-9_-]{1,32}$`.
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = r"^[a-z0-9_-]{1,32}$", min_length = 1, max_length = 32)
    )]
    pub username: String,
    /// Display name.
    pub name: String,
    /// Whether the user is an admin.
    pub admin: bool,
    /// When the account was created (RFC 3339).
    pub created_at: String,
    /// The workspace roots the user's confined sessions get read-write (absolute paths): the
    /// ones an admin granted, else the user's default workspace `<state>/workspaces/<username>`.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub roots: Vec<String>,
    /// The most sessions the user may have; `null`: no limit.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true, minimum = 1, maximum = 1000))]
    pub max_sessions: Option<u32>,
    /// The Unix account the user's sessions run as under a system daemon
    /// (`server.mode: system`); `null`: none mapped.
    #[serde(default)]
    pub unix_account: Option<String>,
    /// The memory ceiling of each of the user's sessions, in MiB (a session going over it is
    /// killed by the kernel's OOM killer); `null`: no ceiling.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true, minimum = 64, maximum = 1048576))]
    pub max_session_memory_mb: Option<u32>,
}

/// `POST /api/setup`: create the first admin with the one-time setup token.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SetupRequest {
    /// The setup token printed by the daemon at start.
    pub setup_token: String,
    /// Login name.
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = r"^[a-z0-9_-]{1,32}$", min_length = 1, max_length = 32)
    )]
    pub username: String,
    /// Display name (defaults to the username).
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 1, max_length = 100, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")
    )]
    pub name: Option<String>,
    /// Passphrase, at least 8 characters.
    #[cfg_attr(feature = "openapi", schema(min_length = 8, max_length = 1024))]
    pub passphrase: String,
}

/// `POST /api/auth/login`.
///
/// Without `deviceName` a browser session is started (cookie). With it, a device token named
/// `deviceName` is minted and returned once instead (what `llmux auth login` does).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct LoginRequest {
    /// Login name.
    pub username: String,
    /// Passphrase.
    pub passphrase: String,
    /// Mint a device token with this name instead of starting a browser session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_name: Option<String>,
}

/// Response of login and setup.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct LoginResponse {
    /// Always true.
    pub ok: bool,
    /// The signed-in user.
    pub user: UserView,
    /// The device token (only when `deviceName` was given); shown once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The device token's record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_info: Option<TokenView>,
}

/// `POST /api/auth/pair`: trade a one-time pairing code for a browser session.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PairRequest {
    /// The pairing code.
    pub code: String,
}

/// Response of `POST /api/auth/pair/peek`: whose sign-in a pairing code carries, without
/// using the code up (the pairing page asks before replacing a sign-in).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PairPeekResponse {
    /// The account the code signs in to.
    pub username: String,
    /// Its display name.
    pub name: String,
    /// The rights the paired browser gets (those of the credential that made the code).
    pub scope: TokenScope,
    /// Who this browser is signed in as now (from its session cookie), if anyone: redeeming
    /// the code would replace that sign-in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_in_as: Option<String>,
}

/// Response of `POST /api/pairing`: a one-time code valid for at most 5 minutes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PairingResponse {
    /// The code (shown once).
    pub code: String,
    /// Path to open, relative to the server's origin, carrying the code in the fragment
    /// (`/pair#code=…`), so it never reaches a server log.
    pub path: String,
    /// When the code stops working (RFC 3339).
    pub expires_at: String,
    /// The absolute pairing URL, when the server knows its own origin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// An SVG QR code of `url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qr_svg: Option<String>,
}

/// Who the caller is (`GET /api/auth/whoami`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct WhoamiResponse {
    /// Username; empty for the local operator.
    pub username: String,
    /// Display name.
    pub name: String,
    /// Whether the caller acts with admin rights now.
    pub admin: bool,
    /// `local`, `cookie`, `token`, or `unix` (a system daemon's users' socket).
    pub via: String,
    /// The credential's scope: for tokens, and for browsers paired from a narrower credential.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<TokenScope>,
    /// The token's id, for token callers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_id: Option<String>,
    /// The other machines (issue 17) the caller may start sessions on from here: every host
    /// for an admin; for others, the hosts whose user mapping names them. Absent: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<crate::HostChoice>,
}

/// `POST /api/account/passphrase`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ChangePassphraseRequest {
    /// The current passphrase.
    pub old_passphrase: String,
    /// The new one, at least 8 characters.
    #[cfg_attr(feature = "openapi", schema(min_length = 8, max_length = 1024))]
    pub new_passphrase: String,
}

/// `POST /api/account/profile`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ProfileRequest {
    /// New display name.
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 1, max_length = 100, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")
    )]
    pub name: String,
}

/// `POST /api/admin/users`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CreateUserRequest {
    /// Login name.
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = r"^[a-z0-9_-]{1,32}$", min_length = 1, max_length = 32)
    )]
    pub username: String,
    /// Display name (defaults to the username).
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 1, max_length = 100, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")
    )]
    pub name: Option<String>,
    /// Passphrase, at least 8 characters.
    #[cfg_attr(feature = "openapi", schema(min_length = 8, max_length = 1024))]
    pub passphrase: String,
    /// Make the user an admin.
    #[serde(default)]
    pub admin: bool,
}

/// `PATCH /api/admin/users/{username}`: absent fields are kept.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct UpdateUserRequest {
    /// New display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 1, max_length = 100, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")
    )]
    pub name: Option<String>,
    /// Grant or revoke admin (the last admin cannot be demoted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin: Option<bool>,
    /// Reset the passphrase (ends the user's browser sessions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_length = 8, max_length = 1024))]
    pub passphrase: Option<String>,
    /// Replace the workspace roots granted to the user's confined sessions: existing
    /// directories given as absolute paths (stored resolved: symlinks and `..` followed), at
    /// most 16; `[]` = back to the user's default workspace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_items = 16))]
    pub roots: Option<Vec<String>>,
    /// The most sessions the user may have (1-1000); `null` = no limit.
    #[serde(default, deserialize_with = "patch", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<u32>, minimum = 1, maximum = 1000))]
    pub max_sessions: Option<Option<u32>>,
    /// Map the user to an existing Unix account (not root, not the daemon's, not another
    /// user's) their sessions run as under a system daemon; `null` = none.
    #[serde(default, deserialize_with = "patch", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, min_length = 1, max_length = 32, pattern = r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$"))]
    pub unix_account: Option<Option<String>>,
    /// Make a Unix account for the user (`llmux-<username>`, with its own group and HOME;
    /// a system daemon, run as root, only) and map the user to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_unix_account: Option<bool>,
    /// The memory ceiling of each of the user's sessions, in MiB (64-1048576), enforced with
    /// a cgroup per session (409 when the daemon cannot manage the memory controller here);
    /// `null` = no ceiling.
    #[serde(default, deserialize_with = "patch", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<u32>, minimum = 64, maximum = 1048576))]
    pub max_session_memory_mb: Option<Option<u32>>,
}

/// `{ok, user}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct UserResponse {
    /// Always true.
    pub ok: bool,
    /// The user after the change.
    pub user: UserView,
}

/// `{ok, revokedTokens}`: the result of deleting a user or revoking in bulk.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct RevokedResponse {
    /// Always true.
    pub ok: bool,
    /// How many tokens were revoked.
    pub revoked_tokens: u64,
}

/// Response of `DELETE /api/admin/users/{username}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct UserDeletedResponse {
    /// Always true.
    pub ok: bool,
    /// How many tokens were revoked.
    pub revoked_tokens: u64,
    /// The user's sessions that ended with the account.
    #[serde(default)]
    pub ended_sessions: Vec<String>,
    /// The user's sessions handed over, by their new names.
    #[serde(default)]
    pub transferred_sessions: Vec<String>,
}

/// A token as the API shows it (never its secret or hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct TokenView {
    /// Public id (the part after `llmux_` and before the secret; `sas_<id>` for an imported
    /// token).
    pub id: String,
    /// Owner.
    pub username: String,
    /// Label.
    pub name: String,
    /// What it may do.
    pub scope: TokenScope,
    /// Creation time (RFC 3339).
    pub created_at: String,
    /// Expiry (RFC 3339), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// Last use, to the minute (RFC 3339), if ever used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<String>,
    /// Where the token was brought over from (`llmux 0.41`: an old `sas_…` token that keeps
    /// working as it is); absent for tokens minted here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imported_from: Option<String>,
}

/// `GET /api/tokens`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TokenListResponse {
    /// The tokens the caller may see: their own, or (admins with `?all=true`) everyone's.
    pub tokens: Vec<TokenView>,
}

/// `POST /api/tokens`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CreateTokenRequest {
    /// Label (default `<username>-<date>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 1, max_length = 100, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")
    )]
    pub name: Option<String>,
    /// Scope (default `user`; `admin` only for admins).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<TokenScope>,
    /// Expiry (RFC 3339, in the future).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// Mint for another user (admins only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = r"^[a-z0-9_-]{1,32}$", min_length = 1, max_length = 32)
    )]
    pub username: Option<String>,
}

/// Response of `POST /api/tokens`: the secret is in `value`, shown once.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CreateTokenResponse {
    /// Always true.
    pub ok: bool,
    /// The whole token, `llmux_<id>_<secret>`; store it now.
    pub value: String,
    /// Its record.
    pub token: TokenView,
}

/// `PATCH /api/tokens/{id}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RenameTokenRequest {
    /// New label.
    pub name: String,
}

/// `{ok, token}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TokenResponse {
    /// Always true.
    pub ok: bool,
    /// The token after the change.
    pub token: TokenView,
}

/// A browser session as its owner sees it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct BrowserSessionView {
    /// Public id (not the cookie value).
    pub id: String,
    /// When it was started (RFC 3339).
    pub created_at: String,
    /// Last request (RFC 3339, to the minute).
    pub last_seen_at: String,
    /// The browser's User-Agent when it signed in.
    pub user_agent: String,
    /// Whether this is the session making the request.
    pub current: bool,
}

/// One line of the daemon log.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct LogEntry {
    /// Time (RFC 3339).
    pub ts: String,
    /// `error`, `warn`, `info`, `debug` or `trace`.
    pub level: String,
    /// The module that logged it.
    pub target: String,
    /// Message and fields.
    pub text: String,
}

/// `GET /api/logs`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct LogsResponse {
    /// Ring buffer size.
    pub capacity: usize,
    /// Oldest first.
    pub entries: Vec<LogEntry>,
}

/// One audit event.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AuditEvent {
    /// Sequence number.
    pub id: i64,
    /// Time (RFC 3339).
    pub ts: String,
    /// Who did it (`username`, `local`, or `-` for anonymous attempts).
    pub actor: String,
    /// What happened: `login`, `login_failed`, `token_created`, `token_revoked`,
    /// `user_created`, `user_deleted`, `passphrase_changed`, `session_created`,
    /// `session_killed`, `session_attached`, …
    pub action: String,
    /// What it happened to (a username, token id or session name).
    pub target: String,
    /// Extra detail.
    pub detail: String,
}

/// `GET /api/about`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AboutResponse {
    /// Daemon version.
    pub version: String,
    /// The machine's host name.
    pub hostname: String,
    /// Where the daemon can be reached.
    pub endpoints: Vec<Endpoint>,
    /// Session records.
    pub sessions: usize,
    /// Running sessions.
    pub running: usize,
    /// The machine's one-minute load average (Linux), for a hub's `host list`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load: Option<f64>,
    /// The machine's available memory in bytes (Linux `MemAvailable`).
    #[serde(default, rename = "memAvailable", skip_serializing_if = "Option::is_none")]
    pub mem_available: Option<u64>,
    /// This daemon lets a fleet hub act as one of its users (`X-Llmux-Act-As`): a hub maps
    /// its non-admin users only onto hosts that say so.
    #[serde(default, rename = "actsAsUsers", skip_serializing_if = "std::ops::Not::not")]
    pub acts_as_users: bool,
}

/// One address of the daemon.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Endpoint {
    /// `Local`, `Public`, `Tailscale`, `LAN`.
    pub label: String,
    /// The URL.
    pub url: String,
}
