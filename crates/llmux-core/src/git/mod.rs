//! Git, run for a session (issue 18): as the session's own identity, inside its cwd, with
//! nothing of the repository's configuration able to run a program.

pub mod actions;
pub mod diff;
pub mod patch;
pub mod runner;
