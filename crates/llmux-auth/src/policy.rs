//! The policy table: what each kind of principal may do. One place, one match.
//!
//! Session ownership is checked separately ([`crate::Principal::can_access`]): someone else's
//! session answers 404 as if absent, so its existence does not leak.

use crate::Principal;

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
}

/// Whether `principal` may do `action`.
pub fn allows(principal: &Principal, action: Action) -> bool {
    if principal.is_admin() {
        return true;
    }
    let read_only = principal.is_read_only();
    match action {
        Action::ReadSessions | Action::ViewTerminal | Action::OwnIdentity => true,
        Action::DriveSessions | Action::OwnAccount | Action::OwnTokens => !read_only,
        Action::Administer => false,
    }
}

#[cfg(test)]
mod tests {
    use llmux_core::api::TokenScope;

    use super::*;
    use crate::{UserPrincipal, Via};

    fn user(admin: bool, via: Via) -> Principal {
        Principal::User(UserPrincipal {
            username: "u".into(),
            name: "U".into(),
            admin,
            via,
            limit: None,
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
            (Principal::LocalOperator, [true; 7]),
            (user(true, cookie.clone()), [true; 7]),
            (user(true, token(TokenScope::Admin)), [true; 7]),
            (user(true, token(TokenScope::User)), [true, true, true, true, true, true, false]),
            (user(false, token(TokenScope::Admin)), [true, true, true, true, true, true, false]),
            (user(false, cookie), [true, true, true, true, true, true, false]),
            (user(true, paired(TokenScope::User)), [true, true, true, true, true, true, false]),
            (
                user(true, paired(TokenScope::ReadOnly)),
                [true, true, false, true, false, false, false],
            ),
            (user(false, token(TokenScope::User)), [true, true, true, true, true, true, false]),
            (
                user(true, token(TokenScope::ReadOnly)),
                [true, true, false, true, false, false, false],
            ),
            (
                user(false, token(TokenScope::ReadOnly)),
                [true, true, false, true, false, false, false],
            ),
        ];
        let actions = [
            ReadSessions,
            ViewTerminal,
            DriveSessions,
            OwnIdentity,
            OwnAccount,
            OwnTokens,
            Administer,
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
}
