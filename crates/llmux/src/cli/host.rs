//! `llmux host add|list|edit|remove|test`: the fleet hosts of a hub (admins; issue 17).

use std::io::Read;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use llmux_api::{AddHostRequest, EditHostRequest, HostStatus};

use super::Ctx;
use super::host_users::{MapArgs, UnmapArgs, describe};
use crate::output;

#[derive(Debug, Subcommand)]
pub(crate) enum HostCmd {
    /// Add a host: another llmux daemon whose sessions this one (the hub) shows and drives.
    Add(AddArgs),
    /// List the hosts: up or down, last seen, version, sessions, load, free memory.
    #[command(visible_alias = "ls")]
    List,
    /// Change which hub users reach their own sessions on a host, as which host user.
    Edit {
        /// The host's name.
        name: String,
        #[command(flatten)]
        map: MapArgs,
        #[command(flatten)]
        unmap: UnmapArgs,
    },
    /// Remove a host (nothing changes on the host itself).
    #[command(visible_alias = "rm")]
    Remove {
        /// The host's name.
        name: String,
    },
    /// Reach a host now: version, who the host says the hub is, round-trip time.
    Test {
        /// The host's name.
        name: String,
    },
}

#[derive(Debug, Args)]
pub(crate) struct AddArgs {
    /// The host's name on this hub (its sessions show as NAME:session).
    name: String,
    /// The host daemon's URL (https://…, e.g. its Tailscale name); needs --host-token.
    #[arg(long, conflicts_with = "ssh", required_unless_present = "ssh")]
    url: Option<String>,
    /// A token minted on the host (`llmux token create` there); `-` reads it from stdin.
    /// (`--token` is the global flag: the hub's own credential.)
    #[arg(long, value_name = "TOKEN", requires = "url")]
    host_token: Option<String>,
    /// Reach the host's daemon socket over OpenSSH: [USER@]HOST[:PORT] (your ssh config,
    /// keys and known_hosts; never a password prompt).
    #[arg(long, value_name = "[USER@]HOST[:PORT]")]
    ssh: Option<String>,
    /// With --ssh: the daemon's socket on the host [default: asked of `llmux` there].
    #[arg(long, requires = "ssh", value_name = "PATH")]
    socket: Option<String>,
    #[command(flatten)]
    map: MapArgs,
}

impl HostCmd {
    pub async fn run(self, ctx: &Ctx) -> Result<u8> {
        let client = ctx.client()?;
        match self {
            HostCmd::Add(args) => {
                let token = match args.host_token.as_deref() {
                    Some("-") => {
                        let mut t = String::new();
                        std::io::stdin().read_to_string(&mut t).context("cannot read the token")?;
                        Some(t.trim().to_owned())
                    }
                    other => other.map(str::to_owned),
                };
                if args.url.is_some() && token.is_none() {
                    bail!("a host added by --url needs --host-token (a token minted on that host)");
                }
                let req = AddHostRequest {
                    name: args.name,
                    url: args.url,
                    token,
                    ssh: args.ssh,
                    socket: args.socket,
                    users: if args.map.given() {
                        let mut users = llmux_api::HostUsers::default();
                        args.map.apply(&mut users)?;
                        Some(users)
                    } else {
                        None
                    },
                };
                let host = client.add_host(&req).await?;
                if ctx.json {
                    output::json(&host)?;
                } else {
                    output::say!(
                        "added host {} ({} {}); `llmux host list` shows when it is up",
                        host.name,
                        host.transport,
                        host.address
                    );
                }
            }
            HostCmd::List => {
                let hosts = client.list_hosts().await?;
                if ctx.json {
                    output::json(&hosts)?;
                } else if hosts.is_empty() {
                    output::say!("no hosts; add one with `llmux host add NAME --ssh HOST`");
                } else {
                    let rows: Vec<Vec<String>> = hosts
                        .iter()
                        .map(|h| {
                            let status = match (h.status, &h.error) {
                                (HostStatus::Up, _) => "up".to_owned(),
                                (HostStatus::Connecting, _) => "connecting".to_owned(),
                                (HostStatus::Down, Some(e)) => format!("down: {e}"),
                                (HostStatus::Down, None) => "down".to_owned(),
                            };
                            vec![
                                h.name.clone(),
                                format!("{} {}", h.transport, h.address),
                                status,
                                h.last_seen.as_deref().map(output::ago).unwrap_or_default(),
                                h.version.clone().unwrap_or_default(),
                                h.sessions.to_string(),
                                h.load.map(|l| format!("{l:.2}")).unwrap_or_default(),
                                h.mem_available
                                    .map(|m| format!("{} MiB", m >> 20))
                                    .unwrap_or_default(),
                            ]
                        })
                        .collect();
                    output::table(
                        &[
                            "NAME", "ADDRESS", "STATUS", "SEEN", "VERSION", "SESSIONS", "LOAD",
                            "FREE",
                        ],
                        &rows,
                    )?;
                }
            }
            HostCmd::Edit { name, map, unmap } => {
                if !map.given() && !unmap.given() {
                    bail!(
                        "nothing to change: give --map-user, --map-same-names, --unmap-user or --no-map-same-names"
                    );
                }
                let hosts = client.list_hosts().await?;
                let Some(host) = hosts.into_iter().find(|h| h.name == name) else {
                    bail!("no host named {name:?}");
                };
                let mut users = host.users;
                unmap.apply(&mut users);
                map.apply(&mut users)?;
                let host = client.edit_host(&name, &EditHostRequest { users: Some(users) }).await?;
                if ctx.json {
                    output::json(&host)?;
                } else {
                    output::say!("host {name}: remote sessions for {}", describe(&host.users));
                }
            }
            HostCmd::Remove { name } => {
                client.remove_host(&name).await?;
                if !ctx.json {
                    output::say!("removed host {name}");
                }
            }
            HostCmd::Test { name } => {
                let t = client.test_host(&name).await?;
                if ctx.json {
                    output::json(&t)?;
                } else if t.ok {
                    output::say!(
                        "✓ {name}: llmux {} as {} in {} ms",
                        t.version.unwrap_or_default(),
                        t.identity.unwrap_or_default(),
                        t.millis
                    );
                } else {
                    output::say!("✗ {name}: {}", t.error.unwrap_or_default());
                    return Ok(1);
                }
            }
        }
        Ok(0)
    }
}
