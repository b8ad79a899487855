//! Hub users on hosts (issue 17): a host's user mapping ([`HostUsers`]) says which of the
//! hub's non-admin users reach their own sessions there, as which host user. The fleet keeps
//! every host's whole list (the hub credential sees all); here it is cut down to one hub
//! user's part and named in that user's terms: `host:name` for the host user's own `name`.
//! Deciding who may is the server's; this module only answers what a mapping says.

use llmux_api::{HostChoice, HostStatus, HostUsers, HostView, SessionView, StateEvent};
use llmux_core::Error;
use llmux_core::sessions::names;

use crate::{Fleet, split_remote};

/// Refuses a mapping with a name that is not a username, or a host user named twice.
pub fn check_users(users: &HostUsers) -> Result<(), Error> {
    let username = |n: &str| {
        !n.is_empty()
            && n.len() <= 32
            && n.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    };
    for (from, to) in &users.map {
        if !username(from) || !username(to) {
            return Err(Error::invalid(format!(
                "invalid user mapping {from}={to}: use usernames (1-32 lower-case letters, \
                 digits, '_' or '-')"
            )));
        }
    }
    let mut targets: Vec<&String> = users.map.values().collect();
    targets.sort();
    if let Some(w) = targets.windows(2).find(|w| w[0] == w[1]) {
        return Err(Error::invalid(format!(
            "host user {:?} is mapped twice: each host user stands for one hub user",
            w[0]
        )));
    }
    Ok(())
}

impl Fleet {
    /// Replaces `host`'s user mapping (checked, stored, applied at once).
    pub fn set_users(&self, host: &str, users: HostUsers) -> Result<HostView, Error> {
        check_users(&users)?;
        let link = self.link(host)?;
        if !self.store.set_host_users(host, &users)? {
            return Err(Error::NotFound(format!("no host named {host:?}")));
        }
        *link.users.write().expect("users lock") = users;
        self.changes.send_modify(|g| *g += 1);
        tracing::info!(host = %host, "fleet host's user mapping changed");
        Ok(crate::view(&link, self.labels_of(host)))
    }

    /// The host user `hub_user` acts as on `host`; `None` when unmapped (or no such host).
    pub fn host_user(&self, host: &str, hub_user: &str) -> Option<String> {
        let link = self.link(host).ok()?;
        let users = link.users.read().expect("users lock");
        users.host_user(hub_user).map(str::to_owned)
    }

    /// The hosts a start may go to: all of them for an admin (`hub_user` `None`); for a hub
    /// user, those whose mapping names them and that act as their users (or are not reached
    /// yet, shown so). By name.
    pub fn start_choices(&self, hub_user: Option<&str>) -> Vec<HostChoice> {
        let mut out: Vec<HostChoice> = self
            .list()
            .into_iter()
            .filter(|h| match hub_user {
                None => true,
                Some(u) => {
                    self.host_user(&h.name, u).is_some()
                        && (h.status != HostStatus::Up || self.acts_as_users(&h.name))
                }
            })
            .map(|h| HostChoice { name: h.name, status: h.status })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// Whether `hub_user` is mapped on any host.
    pub fn maps(&self, hub_user: &str) -> bool {
        let links = self.links.read().expect("links lock");
        links.values().any(|l| l.users.read().expect("users lock").host_user(hub_user).is_some())
    }

    /// Whether `host` lets the hub act as its users (it says so in `/api/about`).
    pub fn acts_as_users(&self, host: &str) -> bool {
        self.link(host).is_ok_and(|l| {
            l.known.lock().expect("known lock").about.as_ref().is_some_and(|a| a.acts_as_users)
        })
    }

    /// The remote sessions of `hub_user` (of `host` only, if given): on each host that maps
    /// them, the sessions of their host user, named `host:name` in that user's terms.
    pub fn sessions_of(&self, hub_user: &str, host: Option<&str>) -> Vec<SessionView> {
        let links = self.links.read().expect("links lock");
        let mut out = Vec::new();
        for (name, link) in links.iter() {
            if host.is_some_and(|h| h != name) {
                continue;
            }
            let Some(mine) =
                link.users.read().expect("users lock").host_user(hub_user).map(str::to_owned)
            else {
                continue;
            };
            let k = link.known.lock().expect("known lock");
            let unreachable = k.status != llmux_api::HostStatus::Up;
            for s in k.sessions.iter().filter(|s| s.owner == mine) {
                out.push(crate::present(name, as_user(s.clone(), &mine), unreachable));
            }
        }
        out
    }

    /// A remote agent's state change (`host:name`, in the hub credential's terms) as
    /// `hub_user` sees it, if it is theirs.
    pub fn state_event_of(&self, hub_user: &str, ev: &StateEvent) -> Option<StateEvent> {
        let (host, name) = split_remote(&ev.name)?;
        let mine = self.host_user(host, hub_user)?;
        if ev.owner != mine {
            return None;
        }
        let mut shown = ev.clone();
        shown.name = format!("{host}:{}", names::split(name).0);
        Some(shown)
    }

    /// The hub user a remote session (`host:name`, owned by `host_owner` there) belongs to
    /// through the host's mapping; `""` when it is nobody's (admins only).
    pub fn hub_owner(&self, host: &str, host_owner: &str) -> String {
        let Ok(link) = self.link(host) else { return String::new() };
        let users = link.users.read().expect("users lock");
        if host_owner.is_empty() {
            return String::new();
        }
        users.hub_user(host_owner).unwrap_or_default().to_owned()
    }

    /// The cached view of `host`'s session named `name` in the hub credential's terms.
    pub fn cached(&self, host: &str, name: &str) -> Option<SessionView> {
        let link = self.link(host).ok()?;
        let k = link.known.lock().expect("known lock");
        k.sessions.iter().find(|s| s.name == name).cloned()
    }

    /// The cached session `hub_user` names `name` on `host` (their host user's own `name`).
    pub fn cached_of(&self, hub_user: &str, host: &str, name: &str) -> Option<SessionView> {
        let mine = self.host_user(host, hub_user)?;
        let (base, owner) = names::split(name);
        if !owner.is_empty() && owner != mine {
            return None;
        }
        self.cached(host, &names::canonical(base, &mine))
    }
}

/// A host user's session named in that user's terms: their own names without a suffix.
fn as_user(mut s: SessionView, host_user: &str) -> SessionView {
    s.name = names::split(&s.name).0.to_owned();
    s.parent = s.parent.and_then(|p| {
        let (base, owner) = names::split(&p);
        (owner == host_user).then(|| base.to_owned())
    });
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mappings_name_usernames_and_each_host_user_once() {
        let mut users = HostUsers::default();
        users.map.insert("ann".into(), "ann".into());
        users.map.insert("bob".into(), "robert".into());
        assert!(check_users(&users).is_ok());
        users.map.insert("cy".into(), "robert".into());
        assert!(check_users(&users).is_err(), "robert twice");
        for (from, to) in [("Ann", "ann"), ("ann", "-oX"), ("", "x"), ("a b", "x"), ("x", "a:b")] {
            let mut bad = HostUsers::default();
            bad.map.insert(from.into(), to.into());
            assert!(check_users(&bad).is_err(), "{from}={to}");
        }
    }

    #[test]
    fn a_host_users_sessions_are_named_in_their_terms() {
        let view: SessionView = serde_json::from_value(serde_json::json!({
            "name": "fix@ann", "agent": "fake", "cwd": "/", "cwdDisplay": "/", "defaultFlags": "",
            "argv": [], "defaultEnv": {}, "initPrompts": [], "hasHistory": false,
            "conversationCount": 0, "owner": "ann", "createdAt": "", "updatedAt": "",
            "startedAt": "", "parent": "lead@ann", "status": "running", "state": "idle",
            "stateSince": "", "tmuxName": "x", "attachCommand": "tmux"
        }))
        .unwrap();
        let mine = as_user(view.clone(), "ann");
        assert_eq!((mine.name.as_str(), mine.parent.as_deref()), ("fix", Some("lead")));
        let mut other = view;
        other.parent = Some("boss@bob".into());
        assert_eq!(as_user(other, "ann").parent, None, "another user's name stays hidden");
    }
}
