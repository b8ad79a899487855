//! Git for sessions (issue 18): worktrees made for sessions, and the review of a session's
//! changes (diff, commit, merge, push), run as the session's own identity inside its cwd, with
//! nothing of the repository's configuration able to run a program.
//!
//! Nothing here runs git as the daemon on a user's repository: a repository's own config
//! (`core.fsmonitor`, hooks, …) runs programs, so every git command goes through an argv the
//! session service builds for the session's owner ([`crate::sessions::SessionService`]'s
//! `as_owner`: the sandbox for a non-admin, the mapped Unix account under a system daemon, the
//! daemon's user for an admin).

pub mod actions;
pub mod diff;
pub mod patch;
pub mod runner;
pub mod settings;
pub mod worktree;

pub use settings::{RepoSettings, SetupCommand, WorktreeLocation, WorktreesConfig};
pub use worktree::{Output, Runner, WorktreeStatus};
