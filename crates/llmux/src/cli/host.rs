//! `llmux host add|list|remove|test`: the fleet hosts of a hub (admins; issue 17).

use std::io::Read;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use llmux_api::{AddHostRequest, HostStatus};

use super::Ctx;
use crate::output;

#[derive(Debug, Subcommand)]
pub(crate) enum HostCmd {
    /// Add a host: another llmux daemon whose sessions this one (the hub) shows and drives.
    Add(AddArgs),
    /// List the hosts: up or down, last seen, version, sessions, load, free memory.
    #[command(visible_alias = "ls")]
    List,
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
