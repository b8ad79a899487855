//! Notifications for fleet hosts' sessions (issue 17): their agents' state changes go to the
//! notifier like local ones, named `host:name` as the hub's credential sees them and owned, on
//! the hub, by the hub user the host's user mapping names (`""`: nobody's, admins only). A
//! follow (`PUT /api/push/sessions/host:name`) is stored under that name and owner, so it
//! matches only while the mapping still gives the session to the same hub user.

use std::sync::Arc;

use llmux_auth::{Action, Principal, policy};
use llmux_core::sessions::names;

use crate::AppState;
use crate::error::ApiError;

/// Feeds every notable state change of the fleet's agents to the notifier, with its hub owner.
pub(crate) fn feed(
    fleet: &Arc<llmux_fleet::Fleet>,
    notifier: &Arc<llmux_notify::Notifier>,
) -> tokio::task::JoinHandle<()> {
    use tokio::sync::broadcast::error::RecvError;
    let mut events = fleet.state_events();
    // Weak: the fleet (and its links' ssh children) goes when the daemon drops it.
    let (fleet, notifier) = (Arc::downgrade(fleet), notifier.clone());
    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(mut ev) if llmux_notify::is_notable(&ev) => {
                    let Some(fleet) = fleet.upgrade() else { return };
                    let Some((host, _)) = llmux_fleet::split_remote(&ev.name) else { continue };
                    ev.owner = fleet.hub_owner(host, &ev.owner);
                    notifier.on_state(&ev);
                }
                Ok(_) => {}
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "notifications fell behind the fleet's state events")
                }
                Err(RecvError::Closed) => return,
            }
        }
    })
}

/// The stored name and hub owner of the remote session `host:name` as `principal` names it,
/// if they may see it and opt in (`OwnTokens`): admins by the hub credential's name, a mapped
/// user by their own. Anyone else: the 404 of a session that is not there.
pub(crate) fn follow_target(
    state: &AppState,
    principal: &Principal,
    host: &str,
    name: &str,
) -> Result<(String, String), ApiError> {
    policy::require(principal, Action::OwnTokens)?;
    let view = if principal.is_admin() {
        state.fleet.cached(host, name)
    } else {
        principal.username().and_then(|u| state.fleet.cached_of(u, host, name))
    };
    let view = view.ok_or_else(|| {
        ApiError::from(llmux_core::Error::NotFound(format!(
            "no session named {:?}",
            format!("{host}:{name}")
        )))
    })?;
    Ok((format!("{host}:{}", view.name), state.fleet.hub_owner(host, &view.owner)))
}

/// The stored name `principal` means by `host:name` (for opting out: touches only their own
/// opt-ins, so no check beyond the name).
pub(crate) fn stored_name(
    state: &AppState,
    principal: &Principal,
    host: &str,
    name: &str,
) -> String {
    if !principal.is_admin()
        && let Some(mine) = principal.username().and_then(|u| state.fleet.host_user(host, u))
    {
        return format!("{host}:{}", names::resolve(name, &mine));
    }
    format!("{host}:{name}")
}

/// A stored remote opt-in (`host:name@hostuser`) as `username` reads it: their own sessions
/// (they are its hub owner) without the host user's suffix.
pub(crate) fn shown(session: &str, owner: &str, username: &str) -> Option<String> {
    let (host, rest) = llmux_fleet::split_remote(session)?;
    Some(if owner == username {
        format!("{host}:{}", names::split(rest).0)
    } else {
        session.to_owned()
    })
}
