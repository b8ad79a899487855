//! The error type of the domain crate: outcomes callers branch on, plus wrapped sources.

use std::path::PathBuf;

/// Result alias used across `llmux-core`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the domain layer.
///
/// Variants are outcomes a caller maps to a status or an exit code; their `Display` text is a
/// human message safe to show to the user who made the request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Input failed validation (bad name, cwd, env, flags, …). Nothing was changed.
    #[error("{0}")]
    Invalid(String),
    /// The named thing does not exist (or is not visible to the caller).
    #[error("{0}")]
    NotFound(String),
    /// A thing with that name already exists.
    #[error("{0}")]
    AlreadyExists(String),
    /// The request conflicts with the current state (e.g. removing a running session).
    #[error("{0}")]
    Conflict(String),
    /// The session is not running, and the action needs it to.
    #[error("{0}")]
    NotRunning(String),
    /// The agent did not reach the state the action waits for in time (still starting, not
    /// idle).
    #[error("{0}")]
    NotReady(String),
    /// The input is larger than allowed.
    #[error("{0}")]
    TooLarge(String),
    /// A tmux command failed.
    #[error("tmux {command} failed: {message}")]
    Tmux {
        /// The tmux subcommand that failed.
        command: String,
        /// What tmux said on stderr, trimmed.
        message: String,
    },
    /// tmux could not be run at all (not installed, not executable).
    #[error("cannot run tmux: {0}")]
    TmuxMissing(std::io::Error),
    /// The config file could not be read or parsed.
    #[error("config {path}: {message}")]
    Config {
        /// The file that failed.
        path: PathBuf,
        /// What was wrong with it.
        message: String,
    },
    /// The SQLite store failed.
    #[error("store: {0}")]
    Store(#[from] rusqlite::Error),
    /// A filesystem operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being attempted.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl Error {
    /// Wraps an I/O error with what was being attempted.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io { context: context.into(), source }
    }

    /// Shorthand for [`Error::Invalid`].
    pub fn invalid(message: impl Into<String>) -> Self {
        Error::Invalid(message.into())
    }

    /// Whether this error is the caller's fault (as opposed to an internal failure).
    pub fn is_client_error(&self) -> bool {
        matches!(
            self,
            Error::Invalid(_)
                | Error::NotFound(_)
                | Error::AlreadyExists(_)
                | Error::Conflict(_)
                | Error::NotRunning(_)
                | Error::NotReady(_)
                | Error::TooLarge(_)
        )
    }
}
