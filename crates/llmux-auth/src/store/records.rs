//! The records of the `users`, `tokens`, `browser_sessions` and `audit` tables, and how each
//! maps to its row. Only hashes of secrets are stored. The tables are core's schema (every
//! other table refers to `users`); these are the only records of them.

use std::path::PathBuf;

use llmux_core::paths::Paths;
use llmux_core::store::{granted_roots, on_conflict, roots_column, roots_json};
use rusqlite::{Connection, Row, params};

/// A user account.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct UserRecord {
    /// Login name.
    pub username: String,
    /// Display name.
    pub name: String,
    /// Argon2id PHC string.
    pub passphrase_hash: String,
    /// Admin flag.
    pub admin: bool,
    /// Creation time, unix ms.
    pub created_at: i64,
    /// Last change, unix ms.
    pub updated_at: i64,
    /// Workspace roots granted read-write to the user's confined sessions: absolute canonical
    /// paths, checked by whoever sets them (`llmux-auth`). Empty: the user's default workspace
    /// (see [`UserRecord::granted_roots`]).
    pub roots: Vec<String>,
    /// The most sessions the user may have; `None`: no limit.
    pub max_sessions: Option<u32>,
    /// The Unix account the user's sessions run as under a system daemon
    /// (`server.mode: system`); `None`: none mapped.
    pub unix_account: Option<String>,
    /// The memory ceiling of each of the user's sessions, in MiB; `None`: no ceiling.
    pub max_session_memory_mb: Option<u32>,
}

impl UserRecord {
    /// The workspace roots the user's confined sessions get read-write: the granted ones, or
    /// when none was granted, the default workspace `<state>/workspaces/<username>`
    /// ([`Paths::default_workspace`], which the caller creates when first needed). The same
    /// rule as core's, which confines the sessions ([`granted_roots`]).
    pub fn granted_roots(&self, paths: &Paths) -> Vec<PathBuf> {
        granted_roots(paths, &self.username, &self.roots)
    }
}

impl std::fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRecord")
            .field("username", &self.username)
            .field("name", &self.name)
            .field("passphrase_hash", &"<redacted>")
            .field("admin", &self.admin)
            .field("roots", &self.roots)
            .field("max_sessions", &self.max_sessions)
            .field("unix_account", &self.unix_account)
            .field("max_session_memory_mb", &self.max_session_memory_mb)
            .finish_non_exhaustive()
    }
}

/// An API token (its secret's hash only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// Public id.
    pub id: String,
    /// Owner.
    pub username: String,
    /// Label.
    pub name: String,
    /// `admin`, `user` or `read-only`.
    pub scope: String,
    /// Hex SHA-256 of the secret.
    pub secret_hash: String,
    /// Creation, unix ms.
    pub created_at: i64,
    /// Expiry, unix ms.
    pub expires_at: Option<i64>,
    /// Last use, unix ms (written at most once a minute).
    pub last_used_at: Option<i64>,
    /// Where it was brought over from (`llmux 0.41`); `None` if minted here.
    pub imported_from: Option<String>,
}

/// A signed-in browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserSessionRecord {
    /// Public id (first half of the cookie).
    pub id: String,
    /// Owner.
    pub username: String,
    /// Hex SHA-256 of the cookie's secret half.
    pub secret_hash: String,
    /// User-Agent at sign-in.
    pub user_agent: String,
    /// Start, unix ms.
    pub created_at: i64,
    /// Last request, unix ms (to the minute).
    pub last_seen_at: i64,
    /// Absolute end, unix ms.
    pub expires_at: i64,
    /// `admin`, `user` or `read-only`: the rights of what made it.
    pub scope: String,
    /// The end of authority inherited from what made it (a paired token's expiry), if any.
    pub limit_expires_at: Option<i64>,
}

/// One audit event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Sequence number (0 before insertion).
    pub id: i64,
    /// Time, unix ms.
    pub ts: i64,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// To what.
    pub target: String,
    /// Extra detail.
    pub detail: String,
}

pub(super) const USER_COLS: &str = "username, name, passphrase_hash, admin, created_at, \
     updated_at, roots, max_sessions, unix_account, max_session_memory_mb";
pub(super) const TOKEN_COLS: &str =
    "id, username, name, scope, secret_hash, created_at, expires_at, last_used_at, imported_from";
pub(super) const BROWSER_COLS: &str = "id, username, secret_hash, user_agent, created_at, \
     last_seen_at, expires_at, scope, limit_expires_at";

pub(super) fn user_row(r: &Row<'_>) -> rusqlite::Result<UserRecord> {
    Ok(UserRecord {
        username: r.get(0)?,
        name: r.get(1)?,
        passphrase_hash: r.get(2)?,
        admin: r.get(3)?,
        created_at: r.get(4)?,
        updated_at: r.get(5)?,
        roots: roots_column(r, 6)?,
        max_sessions: r.get(7)?,
        unix_account: r.get(8)?,
        max_session_memory_mb: r.get(9)?,
    })
}

pub(super) fn token_row(r: &Row<'_>) -> rusqlite::Result<TokenRecord> {
    Ok(TokenRecord {
        id: r.get(0)?,
        username: r.get(1)?,
        name: r.get(2)?,
        scope: r.get(3)?,
        secret_hash: r.get(4)?,
        created_at: r.get(5)?,
        expires_at: r.get(6)?,
        last_used_at: r.get(7)?,
        imported_from: r.get(8)?,
    })
}

pub(super) fn browser_row(r: &Row<'_>) -> rusqlite::Result<BrowserSessionRecord> {
    Ok(BrowserSessionRecord {
        id: r.get(0)?,
        username: r.get(1)?,
        secret_hash: r.get(2)?,
        user_agent: r.get(3)?,
        created_at: r.get(4)?,
        last_seen_at: r.get(5)?,
        expires_at: r.get(6)?,
        scope: r.get(7)?,
        limit_expires_at: r.get(8)?,
    })
}

pub(super) fn audit_row(r: &Row<'_>) -> rusqlite::Result<AuditRecord> {
    Ok(AuditRecord {
        id: r.get(0)?,
        ts: r.get(1)?,
        actor: r.get(2)?,
        action: r.get(3)?,
        target: r.get(4)?,
        detail: r.get(5)?,
    })
}

/// Inserts a user with the next id (ids are never reused) on `conn`, a transaction: a failed
/// insert rolls the id back with it. [`llmux_core::Error::AlreadyExists`] if the name is taken.
pub(super) fn insert_user(conn: &Connection, u: &UserRecord) -> llmux_core::Result<()> {
    let insert = || {
        conn.execute("UPDATE user_id_seq SET last = last + 1", [])?;
        conn.execute(
            &format!(
                "INSERT INTO users ({USER_COLS}, id) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, (SELECT last FROM user_id_seq))"
            ),
            params![
                u.username,
                u.name,
                u.passphrase_hash,
                u.admin,
                u.created_at,
                u.updated_at,
                roots_json(&u.roots),
                u.max_sessions,
                u.unix_account,
                u.max_session_memory_mb
            ],
        )
    };
    insert()
        .map(drop)
        .map_err(|e| on_conflict(e, || format!("user {:?} already exists", u.username)))
}

/// Inserts a token on `conn` (a transaction).
pub(super) fn insert_token(conn: &Connection, t: &TokenRecord) -> llmux_core::Result<()> {
    conn.execute(
        &format!("INSERT INTO tokens ({TOKEN_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"),
        params![
            t.id,
            t.username,
            t.name,
            t.scope,
            t.secret_hash,
            t.created_at,
            t.expires_at,
            t.last_used_at,
            t.imported_from
        ],
    )
    .map_err(|e| on_conflict(e, || "token id collision".into()))?;
    Ok(())
}
