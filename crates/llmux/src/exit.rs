//! Exit codes: a contract with scripts.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | the command failed (the daemon refused it, or something broke) |
//! | 2 | usage error (bad flags or arguments; clap's own code) |
//! | 3 | no daemon is running (nothing listens on the socket) |
//! | 4 | the named session (or other thing) does not exist |
//! | 5 | `session attach`: the session ended while attached |
//! | 6 | `session attach`: the connection was lost |
//! | 7 | `session attach`: refused (not allowed, not running, credential revoked) |
//! | 8 | `session prompt --wait`: the agent is waiting for its person (a permission, a choice) |
//! | 9 | `session prompt --wait`: the timeout passed while the agent was still working |
//! | 130 | interrupted by Ctrl-C (128 + SIGINT, as a shell reports it) |
//!
//! `session prompt --wait` exits 0 when the agent is idle again and 5 when it exited.

/// The command failed.
pub(crate) const FAILURE: u8 = 1;
/// No daemon answers on the socket.
pub(crate) const NO_DAEMON: u8 = 3;
/// The named thing does not exist.
pub(crate) const NOT_FOUND: u8 = 4;
/// `session attach`: the session ended.
pub(crate) const SESSION_ENDED: u8 = 5;
/// `session attach`: the connection dropped.
pub(crate) const CONNECTION_LOST: u8 = 6;
/// `session attach`: the daemon refused (401, 403, 409) or revoked the credential.
pub(crate) const REFUSED: u8 = 7;
/// `session prompt --wait`: the agent waits for an answer.
pub(crate) const WAITING: u8 = 8;
/// `session prompt --wait`: the timeout passed.
pub(crate) const TIMEOUT: u8 = 9;
/// Ctrl-C.
pub(crate) const INTERRUPTED: u8 = 130;

/// The exit code for an error.
pub(crate) fn code_for(err: &anyhow::Error) -> u8 {
    if err.downcast_ref::<NoDaemon>().is_some() {
        return NO_DAEMON;
    }
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<llmux_client::Error>() {
            return match e {
                llmux_client::Error::Unreachable { .. } => NO_DAEMON,
                e if e.status().is_some_and(|s| s.as_u16() == 404) => NOT_FOUND,
                _ => FAILURE,
            };
        }
    }
    FAILURE
}

/// "No daemon is running", with the hint how to start one.
#[derive(Debug)]
pub(crate) struct NoDaemon(pub String);

impl std::fmt::Display for NoDaemon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NoDaemon {}
