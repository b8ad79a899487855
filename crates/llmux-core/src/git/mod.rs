//! Git for sessions (issue 18): worktrees made for sessions, run as the session's own
//! identity and inside its confinement.
//!
//! Nothing here runs git as the daemon on a user's repository: a repository's own config
//! (`core.fsmonitor`, hooks, …) runs programs, so every git command goes through a
//! [`Runner`] the session service builds for the session's owner (the sandbox for a
//! non-admin, the mapped Unix account under a system daemon, the daemon's user for an admin).

pub mod settings;
pub mod worktree;

pub use settings::{RepoSettings, SetupCommand, WorktreeLocation, WorktreesConfig};
pub use worktree::{Output, Runner, WorktreeStatus};
