//! `--map-user` and friends of `llmux host add|edit`: which of the hub's non-admin users reach
//! their own sessions on a host, as which host user (issue 17).

use anyhow::{Result, bail};
use clap::Args;
use llmux_api::HostUsers;

/// The mapping flags `host add` and `host edit` share.
#[derive(Debug, Args, Default)]
pub(crate) struct MapArgs {
    /// Let hub user HUB reach their own sessions on the host as the host's user HOST (not an
    /// admin there); `HUB` alone means the same name. Repeatable.
    #[arg(long = "map-user", value_name = "HUB[=HOST]")]
    map_user: Vec<String>,
    /// Every hub user (not an admin) is the host user of the same name.
    #[arg(long)]
    map_same_names: bool,
}

/// `host edit`'s flags that take mappings away.
#[derive(Debug, Args, Default)]
pub(crate) struct UnmapArgs {
    /// Take hub user HUB's entry out of the mapping. Repeatable.
    #[arg(long = "unmap-user", value_name = "HUB")]
    unmap_user: Vec<String>,
    /// Stop mapping hub users to host users of the same name.
    #[arg(long, conflicts_with = "map_same_names")]
    no_map_same_names: bool,
}

impl MapArgs {
    /// Whether any flag was given.
    pub fn given(&self) -> bool {
        self.map_same_names || !self.map_user.is_empty()
    }

    /// Applies the flags to `users`.
    pub fn apply(&self, users: &mut HostUsers) -> Result<()> {
        if self.map_same_names {
            users.same_names = true;
        }
        for entry in &self.map_user {
            let (hub, host) = entry.split_once('=').unwrap_or((entry, entry));
            if hub.is_empty() || host.is_empty() {
                bail!("--map-user takes HUB=HOST (or HUB for the same name), not {entry:?}");
            }
            users.map.insert(hub.to_owned(), host.to_owned());
        }
        Ok(())
    }
}

impl UnmapArgs {
    /// Whether any flag was given.
    pub fn given(&self) -> bool {
        self.no_map_same_names || !self.unmap_user.is_empty()
    }

    /// Applies the flags to `users`.
    pub fn apply(&self, users: &mut HostUsers) {
        if self.no_map_same_names {
            users.same_names = false;
        }
        for hub in &self.unmap_user {
            users.map.remove(hub);
        }
    }
}

/// A mapping in one line: `same names, ann→bob`, or `admins only`.
pub(crate) fn describe(users: &HostUsers) -> String {
    let mut parts: Vec<String> = Vec::new();
    if users.same_names {
        parts.push("same names".into());
    }
    parts.extend(users.map.iter().map(|(hub, host)| format!("{hub}→{host}")));
    if parts.is_empty() { "admins only".into() } else { parts.join(", ") }
}
