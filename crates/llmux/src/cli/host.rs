//! `llmux host add|list|edit|remove|test|upgrade`: the fleet hosts of a hub (admins; issue 17).

use std::io::Read;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use llmux_api::{AddHostRequest, EditHostRequest, HostStatus, InstallReport};

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
    /// Change a host: which hub users reach their own sessions there (as which host user),
    /// and its labels (for `session start --host label:NAME`).
    Edit {
        /// The host's name.
        name: String,
        #[command(flatten)]
        map: MapArgs,
        #[command(flatten)]
        unmap: UnmapArgs,
        /// A label to add (repeatable), e.g. gpu or fast-disk.
        #[arg(long = "label", value_name = "LABEL")]
        label: Vec<String>,
        /// A label to remove (repeatable).
        #[arg(long = "unlabel", value_name = "LABEL")]
        unlabel: Vec<String>,
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
    /// Upgrade an SSH host to this hub's llmux: stop its daemon, replace the binary in
    /// ~/.local/bin, start it again (its sessions keep running in tmux).
    Upgrade {
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
    /// With --ssh: put this hub's llmux on the host first if it has none or an older one
    /// (same architecture; else says what to install), and start its daemon there.
    #[arg(long, requires = "ssh", conflicts_with = "socket")]
    install: bool,
    /// A label for placement (repeatable): `session start --host label:LABEL`.
    #[arg(long = "label", value_name = "LABEL")]
    labels: Vec<String>,
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
                let mut socket = args.socket;
                if args.install
                    && let Some(ssh) = &args.ssh
                {
                    // A name the hub would refuse fails now, before anything is copied.
                    if client.list_hosts().await?.iter().any(|h| h.name == args.name) {
                        bail!("a host named {:?} exists already", args.name);
                    }
                    if !ctx.json {
                        output::say!("installing llmux on {ssh} over SSH…");
                    }
                    let report = client.install_over_ssh(ssh).await?;
                    if !ctx.json {
                        print_report(&report);
                    }
                    socket = Some(report.socket);
                }
                let req = AddHostRequest {
                    name: args.name,
                    url: args.url,
                    token,
                    ssh: args.ssh,
                    socket,
                    labels: args.labels,
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
                } else if args.install {
                    let up = wait_up(&client, &host.name).await?;
                    output::say!(
                        "added host {} ({} {}): {up}",
                        host.name,
                        host.transport,
                        host.address
                    );
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
                                h.labels.join(","),
                            ]
                        })
                        .collect();
                    output::table(
                        &[
                            "NAME", "ADDRESS", "STATUS", "SEEN", "VERSION", "SESSIONS", "LOAD",
                            "FREE", "LABELS",
                        ],
                        &rows,
                    )?;
                }
            }
            HostCmd::Edit { name, map, unmap, label, unlabel } => {
                let mapping = map.given() || unmap.given();
                if !mapping && label.is_empty() && unlabel.is_empty() {
                    bail!(
                        "nothing to change: give --map-user, --map-same-names, --unmap-user, \
                         --no-map-same-names, --label or --unlabel"
                    );
                }
                let users = if mapping {
                    let hosts = client.list_hosts().await?;
                    let Some(host) = hosts.into_iter().find(|h| h.name == name) else {
                        bail!("no host named {name:?}");
                    };
                    let mut users = host.users;
                    unmap.apply(&mut users);
                    map.apply(&mut users)?;
                    Some(users)
                } else {
                    None
                };
                let req = EditHostRequest { users, label, unlabel };
                let host = client.edit_host(&name, &req).await?;
                if ctx.json {
                    output::json(&host)?;
                } else {
                    if mapping {
                        output::say!("host {name}: remote sessions for {}", describe(&host.users));
                    }
                    if host.labels.is_empty() {
                        output::say!("host {name} has no labels");
                    } else {
                        output::say!("host {name} labels: {}", host.labels.join(", "));
                    }
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
            HostCmd::Upgrade { name } => {
                if !ctx.json {
                    output::say!("upgrading {name} over SSH…");
                }
                let report = client.upgrade_host(&name).await?;
                if ctx.json {
                    output::json(&report)?;
                } else {
                    print_report(&report);
                    let up = wait_up(&client, &name).await?;
                    output::say!("{name}: {up}");
                }
            }
        }
        Ok(0)
    }
}

fn print_report(report: &InstallReport) {
    for step in &report.steps {
        output::say!("  · {step}");
    }
    let how = match report.action.as_str() {
        "current" => "already current",
        "upgraded" => "upgraded",
        _ => "installed",
    };
    let from = report.previous.as_deref().map(|p| format!(" from {p}")).unwrap_or_default();
    output::say!("✓ llmux {} {how}{from} ({}, {})", report.version, report.arch, report.service);
}

/// How long the CLI waits for a host it just installed or upgraded to be up at the hub.
const UP_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Waits until the hub reaches host `name`; what to say about it.
async fn wait_up(client: &llmux_client::Client, name: &str) -> Result<String> {
    let deadline = std::time::Instant::now() + UP_WAIT;
    loop {
        let hosts = client.list_hosts().await?;
        let host = hosts.iter().find(|h| h.name == name).context("the host vanished")?;
        if host.status == HostStatus::Up {
            return Ok(format!(
                "up, llmux {}, {} session(s)",
                host.version.as_deref().unwrap_or("?"),
                host.sessions
            ));
        }
        if std::time::Instant::now() > deadline {
            return Ok(format!(
                "not up yet ({}); `llmux host list` shows when it is",
                host.error.as_deref().unwrap_or("connecting")
            ));
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
