//! The policy table: what each kind of principal may do. One place, one match.
//!
//! Session ownership is checked separately ([`crate::Principal::can_access`]): someone else's
//! session answers 404 as if absent, so its existence does not leak. Both are applied to every
//! session action by one facade, [`crate::Sessions`]; accounts by [`crate::AuthService`].

use crate::{Error, Principal, Result};

/// Something a request wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// List sessions, read one, capture its screen, list agents.
    ReadSessions,
    /// Attach to a terminal read-only.
    ViewTerminal,
    /// Create, edit, restart, stop, remove, prompt sessions; type into a terminal.
    DriveSessions,
    /// Who am I; sign out (revoke the credential in use).
    OwnIdentity,
    /// Change one's own profile and passphrase, list and end one's browser sessions.
    OwnAccount,
    /// Mint, rename and revoke one's own tokens; pair a device.
    OwnTokens,
    /// Users, other users' tokens, settings, logs and audit.
    Administer,
    /// Start a session of the `shell` agent: only admins may start a shell (a bare shell is a
    /// login on the host; a coding agent at least shows what it runs). Asked on top of
    /// [`Action::DriveSessions`].
    StartShell,
    /// List any directory's agent history (`/api/conversations?agent=&cwd=`): reading the host,
    /// so admins only; everyone else reads the conversations of their own sessions.
    BrowseHistory,
    /// Read `GET /metrics`: admins, and an admin's `metrics`-scope token (which may do nothing
    /// else).
    ReadMetrics,
}

/// Whether `principal` may do `action`.
pub fn allows(principal: &Principal, action: Action) -> bool {
    if principal.is_admin() {
        return true;
    }
    if let Principal::User(u) = principal
        && u.relayed_by.is_some()
    {
        // A hub acting as one of this host's users (never an admin): that user's sessions,
        // read and driven, and nothing of the account (no tokens, no devices, no shell).
        return matches!(
            action,
            Action::ReadSessions
                | Action::ViewTerminal
                | Action::DriveSessions
                | Action::OwnIdentity
        );
    }
    if principal.scope() == llmux_api::TokenScope::Hub {
        // A hub drives sessions; it manages nothing (and a non-admin's hub token nothing).
        return principal.is_hub()
            && matches!(
                action,
                Action::ReadSessions
                    | Action::ViewTerminal
                    | Action::DriveSessions
                    | Action::OwnIdentity
                    | Action::StartShell
            );
    }
    if principal.is_metrics_only() {
        return action == Action::ReadMetrics && matches!(principal, Principal::User(u) if u.admin);
    }
    let read_only = principal.is_read_only();
    match action {
        Action::ReadSessions | Action::ViewTerminal | Action::OwnIdentity => true,
        Action::DriveSessions | Action::OwnAccount | Action::OwnTokens => !read_only,
        Action::Administer | Action::StartShell | Action::BrowseHistory | Action::ReadMetrics => {
            false
        }
    }
}

/// 403 unless `principal` may do `action`, with the message the caller needs.
pub fn require(principal: &Principal, action: Action) -> Result<()> {
    if allows(principal, action) {
        return Ok(());
    }
    let message = match action {
        Action::StartShell => "the shell agent is for admins; start a coding agent instead",
        Action::BrowseHistory => {
            "listing conversations by directory is for admins; use a session's conversations"
        }
        _ if principal.is_metrics_only() => "this token can only read /metrics",
        _ if principal.scope() == llmux_api::TokenScope::Hub => {
            "a hub token drives sessions and nothing else"
        }
        _ if principal.is_read_only() => "this token is read-only",
        _ => "admin only",
    };
    Err(Error::Forbidden(message.into()))
}

#[cfg(test)]
mod tests {
    use llmux_api::TokenScope;

    use super::*;
    use crate::{UserPrincipal, Via};

    fn user(admin: bool, via: Via) -> Principal {
        Principal::User(UserPrincipal {
            username: "u".into(),
            name: "U".into(),
            admin,
            via,
            limit: None,
            on_behalf_of: None,
            relayed_by: None,
        })
    }

    fn token(scope: TokenScope) -> Via {
        Via::Token { id: "t".into(), scope }
    }

    #[test]
    fn the_table() {
        use Action::*;
        let cookie = Via::Cookie { session_id: "s".into(), scope: TokenScope::Admin };
        // a browser paired from an admin's narrower token
        let paired = |scope| Via::Cookie { session_id: "p".into(), scope };
        let cases = [
            (Principal::LocalOperator, [true; 10]),
            (user(true, cookie.clone()), [true; 10]),
            (user(true, token(TokenScope::Admin)), [true; 10]),
            (
                user(true, token(TokenScope::User)),
                [true, true, true, true, true, true, false, false, false, false],
            ),
            (
                user(false, token(TokenScope::Admin)),
                [true, true, true, true, true, true, false, false, false, false],
            ),
            (user(false, cookie), [true, true, true, true, true, true, false, false, false, false]),
            (
                user(true, paired(TokenScope::User)),
                [true, true, true, true, true, true, false, false, false, false],
            ),
            (
                user(true, paired(TokenScope::ReadOnly)),
                [true, true, false, true, false, false, false, false, false, false],
            ),
            (
                user(false, token(TokenScope::User)),
                [true, true, true, true, true, true, false, false, false, false],
            ),
            (
                user(true, token(TokenScope::ReadOnly)),
                [true, true, false, true, false, false, false, false, false, false],
            ),
            (
                user(false, token(TokenScope::ReadOnly)),
                [true, true, false, true, false, false, false, false, false, false],
            ),
            // a metrics token reads /metrics and nothing else; a non-admin's reads nothing
            (
                user(true, token(TokenScope::Metrics)),
                [false, false, false, false, false, false, false, false, false, true],
            ),
            (
                user(true, paired(TokenScope::Metrics)),
                [false, false, false, false, false, false, false, false, false, true],
            ),
            (user(false, token(TokenScope::Metrics)), [false; 10]),
            // a hub's token: every session, nothing else; a non-admin's: nothing
            (
                user(true, token(TokenScope::Hub)),
                [true, true, true, true, false, false, false, true, false, false],
            ),
            (user(false, token(TokenScope::Hub)), [false; 10]),
        ];
        let actions = [
            ReadSessions,
            ViewTerminal,
            DriveSessions,
            OwnIdentity,
            OwnAccount,
            OwnTokens,
            Administer,
            StartShell,
            BrowseHistory,
            ReadMetrics,
        ];
        for (principal, expected) in cases {
            for (action, want) in actions.iter().zip(expected) {
                assert_eq!(allows(&principal, *action), want, "{principal:?} {action:?}");
            }
        }
    }

    #[test]
    fn non_admins_only_reach_their_own_sessions() {
        let u = user(false, Via::Cookie { session_id: "s".into(), scope: TokenScope::Admin });
        assert!(u.can_access("u"));
        assert!(!u.can_access("other"));
        assert!(!u.can_access(""), "the operator's sessions are not theirs");
        let narrowed_admin = user(true, token(TokenScope::User));
        assert!(!narrowed_admin.can_access("other"));
    }

    #[test]
    fn only_admins_may_start_a_shell() {
        let cookie = Via::Cookie { session_id: "s".into(), scope: TokenScope::Admin };
        assert!(allows(&Principal::LocalOperator, Action::StartShell));
        assert!(allows(&user(true, cookie.clone()), Action::StartShell));
        for principal in [
            user(false, cookie),
            user(false, token(TokenScope::Admin)),
            user(true, token(TokenScope::User)),
            user(true, token(TokenScope::ReadOnly)),
        ] {
            assert!(!allows(&principal, Action::StartShell), "{principal:?}");
            let refused = require(&principal, Action::StartShell).unwrap_err().to_string();
            assert_eq!(refused, "the shell agent is for admins; start a coding agent instead");
        }
        let read_only = user(true, token(TokenScope::ReadOnly));
        let refused = require(&read_only, Action::DriveSessions).unwrap_err().to_string();
        assert_eq!(refused, "this token is read-only");
        let refused = require(&user(false, token(TokenScope::User)), Action::Administer);
        assert_eq!(refused.unwrap_err().to_string(), "admin only");
        let metrics = user(true, token(TokenScope::Metrics));
        let refused = require(&metrics, Action::ReadSessions).unwrap_err().to_string();
        assert_eq!(refused, "this token can only read /metrics");
        let refused = require(&user(false, token(TokenScope::User)), Action::ReadMetrics);
        assert_eq!(refused.unwrap_err().to_string(), "admin only");
    }
}
