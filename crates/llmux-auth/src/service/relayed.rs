//! A fleet hub acting as one of this host's users (issue 17, `X-Llmux-Act-As`).
//!
//! A hub's credential on a host (a `hub`-scope token, or over SSH the host's own operator
//! socket) reaches every session there. When the hub relays for one of its non-admin users,
//! it names the host user that hub user maps to, and the host narrows the request to that
//! user: their sessions only (someone else's answer 404 as if absent), their policy (no
//! `shell`, their sandbox, their session cap), sessions they start are theirs. Only an
//! existing non-admin user can be named: acting as an admin would widen a `hub` token (which
//! drives sessions and nothing else) to an admin's account rights.

use super::AuthService;
use crate::store::AuthStore;
use crate::{Error, Principal, Result, UserPrincipal, Via};

impl AuthService {
    /// `relayer` (a hub token, or the local operator) acting as the host user `username` for
    /// the hub user `on_behalf_of`; `operator_uid` is the daemon's uid (the local operator's
    /// credential). 403 for any other relayer, an unknown user or an admin.
    pub async fn act_as(
        &self,
        relayer: &Principal,
        username: &str,
        on_behalf_of: Option<String>,
        operator_uid: u32,
    ) -> Result<Principal> {
        let (relayed_by, via, limit) = match relayer {
            Principal::LocalOperator => ("local".to_owned(), Via::Unix { uid: operator_uid }, None),
            Principal::User(u) if relayer.is_hub() => (u.username.clone(), u.via.clone(), u.limit),
            Principal::User(_) => {
                return Err(Error::Forbidden(
                    "only a fleet hub's credential (a hub token) may act as a user".into(),
                ));
            }
        };
        let refused = || {
            Error::Forbidden(format!(
                "a hub may act only as an existing user of this host who is not an admin \
                 ({username:?} is not one)"
            ))
        };
        let name = username.to_owned();
        let user = self.db(move |s| s.get_user(&name)).await?.ok_or_else(refused)?;
        if user.admin {
            return Err(refused());
        }
        Ok(Principal::User(UserPrincipal {
            username: user.username,
            name: user.name,
            admin: false,
            via,
            limit,
            on_behalf_of,
            relayed_by: Some(relayed_by),
        }))
    }
}
