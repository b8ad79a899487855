//! Fleet hosts (`/api/hosts`, admins): the other llmux daemons a hub shows and drives.

use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use utoipa::{IntoParams, ToSchema};

/// `POST /api/hosts`: one of `url` (with `token`) or `ssh`.
#[derive(Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddHostRequest {
    /// The host's name on this hub (its sessions show as `name:session`).
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", min_length = 1, max_length = 64)
    )]
    pub name: String,
    /// The host daemon's URL (`https://…`, or `http://…`), reached with `token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// A token minted on the host; stored on the hub and never shown again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// `[user@]host[:port]`: reach the host's daemon socket through OpenSSH.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh: Option<String>,
    /// With `ssh`: the daemon's socket on the host (default: asked of `llmux` there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socket: Option<String>,
    /// Labels for placement (`gpu`, `fast-disk`): `session start --host label:gpu`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    /// Which hub users reach their own sessions there, as which host user (default: none;
    /// remote sessions stay admins' only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<HostUsers>,
}

/// A host's user mapping: which of the hub's non-admin users see, drive and start sessions
/// on the host, and as which user of the host. A hub user with an entry in `map` is that host
/// user; with `sameNames`, every other hub user is the host user of the same name (unless
/// that host user is already an entry's target). Each host user stands for one hub user at
/// most. Admins of the hub are not mapped: they reach every session with the hub's credential.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HostUsers {
    /// Every hub user is the host user of the same name.
    #[serde(default)]
    pub same_names: bool,
    /// Hub user → host user.
    #[serde(default)]
    pub map: std::collections::BTreeMap<String, String>,
}

impl HostUsers {
    /// The host user `hub_user` acts as, if any.
    pub fn host_user<'a>(&'a self, hub_user: &'a str) -> Option<&'a str> {
        if let Some(to) = self.map.get(hub_user) {
            return Some(to);
        }
        (self.same_names && !self.map.values().any(|v| v == hub_user)).then_some(hub_user)
    }

    /// The hub user who acts as `host_user`, if any (the inverse of [`HostUsers::host_user`]).
    pub fn hub_user<'a>(&'a self, host_user: &'a str) -> Option<&'a str> {
        if let Some((from, _)) = self.map.iter().find(|(_, to)| *to == host_user) {
            return Some(from);
        }
        (self.same_names && !self.map.contains_key(host_user)).then_some(host_user)
    }

    /// Whether nobody is mapped.
    pub fn is_empty(&self) -> bool {
        !self.same_names && self.map.is_empty()
    }
}

impl std::fmt::Debug for AddHostRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AddHostRequest")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("ssh", &self.ssh)
            .field("socket", &self.socket)
            .field("labels", &self.labels)
            .field("users", &self.users)
            .finish()
    }
}

/// Whether the hub reaches a host now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum HostStatus {
    /// Not reached yet since the hub started or the host was added.
    Connecting,
    /// Its event stream is open.
    Up,
    /// Unreachable (or refusing the hub's credential); retried with backoff.
    Down,
}

/// A host the caller may start sessions on, as `GET /api/auth/whoami` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct HostChoice {
    /// The host's name on this hub.
    pub name: String,
    /// Whether the hub reaches it now.
    pub status: HostStatus,
}

/// A host as `GET /api/hosts` shows it (never its token).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct HostView {
    /// The host's name on this hub.
    pub name: String,
    /// `url` or `ssh`.
    pub transport: String,
    /// The URL, or the `[user@]host[:port]` SSH target.
    pub address: String,
    /// Up, down or connecting.
    pub status: HostStatus,
    /// Why it is down, when it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When the hub last heard from it (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<String>,
    /// Its llmux version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// How many sessions it has (last known).
    pub sessions: u32,
    /// Its one-minute load average, when it reports one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load: Option<f64>,
    /// Its available memory in bytes, when it reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mem_available: Option<u64>,
    /// When it was added (RFC 3339).
    pub created_at: String,
    /// Which hub users reach their sessions there, as which host user.
    #[serde(default)]
    pub users: HostUsers,
    /// Its labels, for placement (`--host label:NAME`).
    #[serde(default)]
    pub labels: Vec<String>,
}

/// `PATCH /api/hosts/{name}`: change what the hub keeps about a host (each field left out
/// stays as it is).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EditHostRequest {
    /// The new user mapping (replaces the old one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<HostUsers>,
    /// Labels to add.
    #[serde(default)]
    pub label: Vec<String>,
    /// Labels to remove.
    #[serde(default)]
    pub unlabel: Vec<String>,
}

/// `GET /api/placement`: could the caller start `agent` in `cwd` here (a dry run of a
/// start's own checks, nothing made)? A hub asks it of each host for `--host auto`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(IntoParams))]
#[serde(rename_all = "camelCase")]
pub struct PlacementQuery {
    /// The agent's key.
    pub agent: String,
    /// The directory (absolute or `~/…`); none: the caller's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
}

/// The answer of `GET /api/placement`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PlacementCheck {
    /// Whether a start would pass these checks (the agent installed, the cwd usable).
    pub ok: bool,
    /// Why not, when not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// This machine's available memory in bytes (`MemAvailable`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mem_available: Option<u64>,
}

/// `POST /api/hosts/{name}/test`: one round trip to the host now.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct HostTestResponse {
    /// Whether the host answered and accepted the hub's credential.
    pub ok: bool,
    /// Its llmux version, when it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Who the host says the hub is (`local` over SSH: the SSH user's own daemon).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// Round-trip time in milliseconds.
    pub millis: u64,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `?host=NAME` (`GET /api/sessions`): only that host's sessions (`local`: the hub's own).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(IntoParams))]
pub struct SessionsQuery {
    /// A host name, or `local`.
    pub host: Option<String>,
}

/// `POST /api/installs`: put this hub's llmux on an SSH target and start it there.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InstallRequest {
    /// `[user@]host[:port]`, reached with the hub's ssh (its config, keys, known_hosts).
    pub ssh: String,
}

/// What an install or upgrade over SSH found and did (`POST /api/installs`,
/// `POST /api/hosts/{name}/upgrade`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct InstallReport {
    /// `installed` (there was none), `upgraded` (there was an older one) or `current`
    /// (nothing copied: the host's llmux is this version or newer).
    pub action: String,
    /// The host's machine (`uname -m`).
    pub arch: String,
    /// The llmux version found there before, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<String>,
    /// The llmux version running there now.
    pub version: String,
    /// How the daemon runs there: `systemd` (a user unit) or `detached` (no systemd --user:
    /// started in the background, not restarted at boot).
    pub service: String,
    /// The daemon's socket on the host (what the hub forwards).
    pub socket: String,
    /// What was done, step by step, for the CLI to print.
    pub steps: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::HostUsers;

    #[test]
    fn a_mapping_goes_both_ways_and_entries_win_over_same_names() {
        let mut u = HostUsers { same_names: true, ..HostUsers::default() };
        u.map.insert("ann".into(), "bob".into());
        assert_eq!(u.host_user("ann"), Some("bob"));
        assert_eq!(u.hub_user("bob"), Some("ann"));
        // bob (hub) would be host bob by name, but host bob is ann's
        assert_eq!(u.host_user("bob"), None);
        // host ann is nobody's: ann (hub) has an entry elsewhere
        assert_eq!(u.hub_user("ann"), None);
        assert_eq!((u.host_user("cy"), u.hub_user("cy")), (Some("cy"), Some("cy")));
        let none = HostUsers::default();
        assert!(none.is_empty() && none.host_user("cy").is_none() && none.hub_user("cy").is_none());
    }
}
