//! Identities and policy: who is asking, and what they may do to which session.
//!
//! - [`Principal`]: the caller, as proven by the kernel (Unix socket peer uid), a browser
//!   session cookie, or an API token. Nothing here ever looks at addresses or forwarding headers.
//! - [`policy`]: the one table of who may do what.
//! - [`AuthService`]: users, passphrases (Argon2id), tokens (SHA-256, shown once), browser
//!   sessions, the setup token, pairing codes, login throttling and the audit log.

mod password;
pub mod policy;
pub mod secrets;
mod service;
mod throttle;

use llmux_core::api::TokenScope;

pub use password::MIN_PASSPHRASE_LEN;
pub use policy::Action;
pub use service::{
    AuthService, Bootstrap, InitUser, Login, PAIRING_TTL, Revocation, SESSION_IDLE,
    SESSION_LIFETIME,
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
    /// Too many failed logins (429).
    #[error("too many failed sign-ins; try again in {retry_after} s")]
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
    /// The store failed.
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
            other => Error::Core(other),
        }
    }
}

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How a user proved who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// A browser session cookie (full rights of the user).
    Cookie {
        /// The browser session's public id.
        session_id: String,
    },
    /// An API token, limited by its scope.
    Token {
        /// The token's public id.
        id: String,
        /// What it may do.
        scope: TokenScope,
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
            Principal::User(u) => {
                u.admin
                    && matches!(
                        u.via,
                        Via::Cookie { .. } | Via::Token { scope: TokenScope::Admin, .. }
                    )
            }
        }
    }

    /// Whether the credential is a read-only token.
    pub fn is_read_only(&self) -> bool {
        matches!(
            self,
            Principal::User(UserPrincipal {
                via: Via::Token { scope: TokenScope::ReadOnly, .. },
                ..
            })
        )
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
            Principal::User(u) => u.username.clone(),
        }
    }

    /// Whether the caller may see and act on a session owned by `owner` (admins see all).
    pub fn can_access(&self, owner: &str) -> bool {
        self.is_admin() || self.owner() == owner
    }

    /// Whether a revocation ends this principal's credential.
    pub fn is_revoked_by(&self, revocation: &Revocation) -> bool {
        let Principal::User(u) = self else { return false };
        match (revocation, &u.via) {
            (Revocation::User(name), _) => *name == u.username,
            (Revocation::Token(id), Via::Token { id: mine, .. }) => id == mine,
            (Revocation::BrowserSession(id), Via::Cookie { session_id }) => id == session_id,
            _ => false,
        }
    }
}
