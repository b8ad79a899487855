//! Identities and policy: who is asking, and what they may do to which session.
//!
//! - [`Principal`]: the caller, as proven by the kernel (Unix socket peer uid), a browser
//!   session cookie, or an API token. Nothing here ever looks at addresses or forwarding headers.
//! - [`policy`]: the one table of who may do what.
//! - [`Sessions`]: every session action on behalf of a principal (policy, 404 masking, names
//!   in the caller's terms, audit), over core's session service.
//! - [`AuthService`]: users, passphrases (Argon2id), tokens (SHA-256, shown once), browser
//!   sessions, the setup token, pairing codes, login throttling and the audit log.
//! - [`store`]: the records of users, tokens, browser sessions and the audit log, and their
//!   queries on core's store ([`store::AuthStore`]).

mod hashing;
pub mod legacy;
mod password;
pub mod policy;
pub mod secrets;
mod service;
pub mod store;
mod throttle;

use llmux_api::TokenScope;

pub use password::MIN_PASSPHRASE_LEN;
pub use policy::Action;
pub use service::{
    Attachment, AuthService, Bootstrap, DEVICE_COOKIE_PREFIX, DEVICE_LIFETIME, InitUser, Listing,
    Login, MAX_ROOTS, MAX_SESSIONS_LIMIT, MAX_WAIT, PAIRING_TTL, Prompt, Queued, Revocation,
    SESSION_IDLE, SESSION_LIFETIME, SHELL, Sessions, Target, validate_name, validate_username,
};

/// [`SESSION_LIFETIME`] in seconds, for cookie `Max-Age`.
pub const SESSION_LIFETIME_SECS: u64 = SESSION_LIFETIME.as_secs();
pub use throttle::Throttled;

/// Errors of the auth layer; each maps to one HTTP status.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No credential, or one that is malformed, unknown, expired or revoked (401).
    #[error("{0}")]
    Unauthenticated(String),
    /// Authenticated, but not allowed (403).
    #[error("{0}")]
    Forbidden(String),
    /// Too many failed sign-ins for this account or device, one already in flight, or the
    /// hashing queue is full (429 with `Retry-After`).
    #[error("too many sign-in attempts; try again in {retry_after} s")]
    Throttled {
        /// Seconds to wait.
        retry_after: u64,
    },
    /// Bad input (400).
    #[error("{0}")]
    Invalid(String),
    /// The thing does not exist or is not visible to the caller (404).
    #[error("{0}")]
    NotFound(String),
    /// Conflicts with the current state (409).
    #[error("{0}")]
    Conflict(String),
    /// The session is not running, and the action needs it to (409, `not_running`).
    #[error("{0}")]
    NotRunning(String),
    /// The store or the session service failed; its own variant says how (a session
    /// action's errors come here as the service gave them).
    #[error(transparent)]
    Core(llmux_core::Error),
}

impl From<llmux_core::Error> for Error {
    fn from(e: llmux_core::Error) -> Self {
        use llmux_core::Error as E;
        match e {
            E::NotFound(m) => Error::NotFound(m),
            E::AlreadyExists(m) | E::Conflict(m) => Error::Conflict(m),
            E::Invalid(m) => Error::Invalid(m),
            E::NotRunning(m) => Error::NotRunning(m),
            other => Error::Core(other),
        }
    }
}

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How a user proved who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// A browser session cookie: full rights of the user if signed in with the passphrase,
    /// or the rights of the credential that paired it.
    Cookie {
        /// The browser session's public id.
        session_id: String,
        /// What it may do.
        scope: TokenScope,
    },
    /// An API token, limited by its scope.
    Token {
        /// The token's public id.
        id: String,
        /// What it may do.
        scope: TokenScope,
    },
    /// A system daemon's users' socket: the kernel says the caller runs as the Unix account
    /// an admin mapped to this user (full rights of the user, as with their passphrase).
    Unix {
        /// The peer's uid.
        uid: u32,
    },
}

/// A signed-in user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPrincipal {
    /// Login name.
    pub username: String,
    /// Display name.
    pub name: String,
    /// Whether the account is an admin (the credential may still be narrower).
    pub admin: bool,
    /// The credential used.
    pub via: Via,
    /// When the credential's authority ends (unix ms): a token's expiry, or the end a paired
    /// browser session inherited from its maker. `None` for credentials backed by the
    /// passphrase itself (a browser signed in with it, a token without expiry). Whatever
    /// this credential mints must end no later.
    pub limit: Option<i64>,
    /// With a `hub`-scope token only: the hub user the hub says it acts for
    /// (`X-Llmux-On-Behalf-Of`), recorded in the audit log. Never set for other credentials.
    pub on_behalf_of: Option<String>,
    /// Set when a fleet hub acts as this user (`X-Llmux-Act-As`, see
    /// [`AuthService::act_as`]): the user of the hub's credential (`local` for the host's
    /// operator socket, the SSH transport). Such a principal reads and drives this user's own
    /// sessions and nothing else ([`policy::allows`]).
    pub relayed_by: Option<String>,
}

/// Who made a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The daemon's own user on the Unix socket (peer uid checked by the kernel): an admin.
    LocalOperator,
    /// A user with a cookie or a token.
    User(UserPrincipal),
}

impl Principal {
    /// Whether the caller acts with admin rights now (an admin's `user` or `read-only` token
    /// does not).
    pub fn is_admin(&self) -> bool {
        match self {
            Principal::LocalOperator => true,
            Principal::User(u) => u.admin && self.scope() == TokenScope::Admin,
        }
    }

    /// Whether the credential is read-only.
    pub fn is_read_only(&self) -> bool {
        self.scope() == TokenScope::ReadOnly
    }

    /// Whether the caller is a fleet hub: an admin's `hub`-scope token (every session, as an
    /// admin would, and nothing else; see [`policy::allows`]).
    pub fn is_hub(&self) -> bool {
        matches!(self, Principal::User(u) if u.admin) && self.scope() == TokenScope::Hub
    }

    /// Whether the credential may read `GET /metrics` and nothing else.
    pub fn is_metrics_only(&self) -> bool {
        self.scope() == TokenScope::Metrics
    }

    /// The credential's scope (the operator's is `admin`).
    pub fn scope(&self) -> TokenScope {
        match self {
            Principal::LocalOperator => TokenScope::Admin,
            Principal::User(u) => match &u.via {
                Via::Cookie { scope, .. } | Via::Token { scope, .. } => *scope,
                Via::Unix { .. } => TokenScope::Admin,
            },
        }
    }

    /// When the credential's authority ends, if it does (see [`UserPrincipal::limit`]).
    pub fn limit(&self) -> Option<i64> {
        match self {
            Principal::LocalOperator => None,
            Principal::User(u) => u.limit,
        }
    }

    /// Refuses (403) minting a credential with `scope` ending at `expires_at` (`None`:
    /// never) that would be wider or longer-lived than this one.
    pub fn check_mint(&self, scope: TokenScope, expires_at: Option<i64>) -> Result<()> {
        let mine = self.scope();
        if scope_rank(scope) > scope_rank(mine) {
            return Err(Error::Forbidden(format!(
                "a credential with scope {} cannot make one with scope {}",
                mine.as_str(),
                scope.as_str()
            )));
        }
        if let Some(limit) = self.limit() {
            let until = llmux_core::time::rfc3339_ms(limit);
            match expires_at {
                None => {
                    return Err(Error::Forbidden(format!(
                        "this credential expires at {until}; what it makes must expire no                          later (set expiresAt)"
                    )));
                }
                Some(at) if at > limit => {
                    return Err(Error::Forbidden(format!(
                        "this credential expires at {until}; what it makes must expire no later"
                    )));
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// The owner recorded on sessions this principal creates (`""` for the operator).
    pub fn owner(&self) -> &str {
        match self {
            Principal::LocalOperator => "",
            Principal::User(u) => &u.username,
        }
    }

    /// The username, if a user.
    pub fn username(&self) -> Option<&str> {
        match self {
            Principal::LocalOperator => None,
            Principal::User(u) => Some(&u.username),
        }
    }

    /// The name written in the audit log.
    pub fn actor(&self) -> String {
        match self {
            Principal::LocalOperator => "local".into(),
            Principal::User(UserPrincipal {
                username,
                on_behalf_of,
                relayed_by: Some(hub),
                ..
            }) => match on_behalf_of {
                Some(hub_user) => format!("{hub} for hub user {hub_user} as {username}"),
                None => format!("{hub} as {username}"),
            },
            Principal::User(UserPrincipal { username, on_behalf_of: Some(hub_user), .. }) => {
                format!("{username} for hub user {hub_user}")
            }
            Principal::User(u) => u.username.clone(),
        }
    }

    /// Whether the caller may see and act on a session owned by `owner` (admins see all).
    pub fn can_access(&self, owner: &str) -> bool {
        self.is_admin() || self.is_hub() || self.owner() == owner
    }

    /// Whether a revocation ends this principal's credential.
    pub fn is_revoked_by(&self, revocation: &Revocation) -> bool {
        let Principal::User(u) = self else { return false };
        match (revocation, &u.via) {
            (Revocation::User(name), _) => {
                *name == u.username || u.relayed_by.as_deref() == Some(name.as_str())
            }
            (Revocation::Token(id), Via::Token { id: mine, .. }) => id == mine,
            (Revocation::BrowserSession(id), Via::Cookie { session_id, .. }) => id == session_id,
            _ => false,
        }
    }
}

/// Orders scopes by what they allow.
fn scope_rank(scope: TokenScope) -> u8 {
    match scope {
        TokenScope::ReadOnly => 0,
        TokenScope::User => 1,
        // daemon-wide figures: only an admin credential makes one
        TokenScope::Metrics | TokenScope::Hub | TokenScope::Admin => 2,
    }
}
