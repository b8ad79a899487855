//! The command line: one module per noun, each a clap `Subcommand` with `run`.
//!
//! Every command but `server start` is a client of a daemon: the local one over its Unix
//! socket, or a remote one over HTTP(S) with a token, chosen in [`target`].

#![deny(clippy::print_stdout, clippy::print_stderr)]

mod agent;
mod audit;
mod auth;
mod backup;
mod converse;
mod credentials;
mod diff;
mod host;
mod host_users;
mod import;
mod logs;
mod man;
mod pair;
mod queue;
mod server;
mod service;
mod session;
mod session_args;
mod settings;
mod show;
mod target;
mod token;
mod upload;
mod user;

use std::path::PathBuf;

use anyhow::Result;
use clap::{CommandFactory, Parser, Subcommand};
use llmux_client::Client;
use llmux_core::paths::Paths;

use self::credentials::CredentialsFile;
use self::target::{Source, Target, TargetInputs};

/// Run AI coding-agent CLIs in named tmux sessions, reachable from this CLI, a REST API and
/// the web.
///
/// Every command except `server start` talks to a daemon: the local one over its Unix socket,
/// or a server given by --server, LLMUX_SERVER or the active profile of `llmux auth login`.
/// Exit codes: 0 ok, 1 failure, 2 usage error, 3 daemon unreachable, 4 not found,
/// 130 interrupted.
#[derive(Debug, Parser)]
#[command(name = "llmux", version, propagate_version = true, max_term_width = 100)]
pub(crate) struct Cli {
    /// State dir of the daemon to use [default: $XDG_STATE_HOME/llmux or ~/.local/state/llmux].
    #[arg(long, global = true, env = "LLMUX_STATE_DIR", value_name = "DIR")]
    state_dir: Option<PathBuf>,

    /// Talk to the server at this URL instead of the local daemon [env: LLMUX_SERVER].
    ///
    /// Without --token, the token saved for this server by `llmux auth login` is used.
    #[arg(long, global = true, value_name = "URL")]
    pub(crate) server: Option<String>,

    /// API token for the server (`Authorization: Bearer`) [env: LLMUX_TOKEN].
    #[arg(long, global = true, value_name = "TOKEN")]
    token: Option<String>,

    /// Use this saved profile (server and token) of `llmux auth login`.
    #[arg(long, global = true, value_name = "NAME")]
    pub(crate) profile: Option<String>,

    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start, list, prompt and manage agent sessions.
    #[command(subcommand)]
    Session(session::SessionCmd),
    /// Shortcut for `session list`.
    #[command(hide = true)]
    Ls,
    /// The agent catalog.
    #[command(subcommand)]
    Agent(agent::AgentCmd),
    /// Sign in to servers and manage the saved profiles.
    #[command(subcommand)]
    Auth(auth::AuthCmd),
    /// Manage user accounts (admins).
    #[command(subcommand)]
    User(user::UserCmd),
    /// Mint, list and revoke API tokens.
    #[command(subcommand)]
    Token(token::TokenCmd),
    /// Print a one-time link and QR code that signs a phone's browser in as you.
    Pair(pair::PairArgs),
    /// The daemon's settings (admins).
    #[command(subcommand)]
    Settings(settings::SettingsCmd),
    /// The daemon's log (admins).
    #[command(subcommand)]
    Logs(logs::LogsCmd),
    /// The audit log (admins).
    Audit(audit::AuditArgs),
    /// Fleet hosts: other llmux daemons whose sessions this one shows and drives (admins).
    #[command(subcommand)]
    Host(host::HostCmd),
    /// Run the daemon.
    #[command(subcommand)]
    Server(server::ServerCmd),
    /// Run the daemon as a systemd service: install, status, uninstall.
    #[command(subcommand)]
    Service(service::ServiceCmd),
    /// Bring accounts, tokens, sessions and config over from another llmux (stop the daemon).
    #[command(subcommand)]
    Import(import::ImportCmd),
    /// Write the state dir's database, keys and settings to one archive (daemon running or
    /// not).
    Backup(backup::BackupArgs),
    /// Put a backup back into a state dir (daemon stopped).
    Restore(backup::RestoreArgs),
    /// Print a shell completion script.
    Completions {
        /// Shell to generate for.
        shell: clap_complete::Shell,
    },
    /// Write the man pages (llmux.1 and one per subcommand) into DIR; for packagers.
    #[command(name = "__man", hide = true)]
    Man {
        /// Folder to write the pages into (made if missing).
        dir: PathBuf,
    },
}

/// What every command gets: where the daemon is and how to print.
pub(crate) struct Ctx {
    pub paths: Paths,
    pub json: bool,
    /// `--server`, `--token`, `--profile` and their environment variables.
    pub inputs: TargetInputs,
}

impl Ctx {
    /// The daemon to talk to (see [`target`]).
    pub fn target(&self) -> Result<Target> {
        target::resolve(&self.inputs, || CredentialsFile::default_location()?.load())
    }

    /// A client of the daemon to talk to.
    pub fn client(&self) -> Result<Client> {
        self.client_for(&self.target()?)
    }

    /// A client of `target`.
    pub fn client_for(&self, target: &Target) -> Result<Client> {
        Ok(match target {
            // `LLMUX_SOCKET`: another daemon's socket, e.g. a system daemon's users' socket
            // (`/run/llmux/users.sock`), where the kernel's word on who you are decides.
            Target::Local => match std::env::var_os("LLMUX_SOCKET").filter(|s| !s.is_empty()) {
                Some(socket) => Client::unix(std::path::Path::new(&socket)),
                None => Client::unix(&self.paths.socket),
            },
            Target::Remote(r) => Client::remote(&r.url, r.token.clone())?,
        })
    }
}

impl Cli {
    /// Runs the command; returns the exit code on success.
    pub async fn run(self) -> Result<u8> {
        let paths = Paths::resolve(self.state_dir.as_deref())?;
        let inputs = TargetInputs::with_env(self.server, self.token, self.profile);
        let ctx = Ctx { paths, json: self.json, inputs };
        let command = match self.command {
            Command::Server(cmd) => return cmd.run(&ctx).await,
            Command::Service(cmd) => return cmd.run(&ctx),
            Command::Import(cmd) => return cmd.run(&ctx).await,
            Command::Backup(args) => return args.run(&ctx).await,
            Command::Restore(args) => return args.run(&ctx).await,
            Command::Completions { shell } => {
                clap_complete::generate(
                    shell,
                    &mut Cli::command(),
                    "llmux",
                    &mut std::io::stdout(),
                );
                return Ok(0);
            }
            Command::Man { dir } => return man::run(&dir),
            command => command,
        };
        // Client commands end with exit code 130 on Ctrl-C. Handling SIGINT (rather than
        // dying of it) also lets a passphrase prompt restore the terminal: see `prompt`.
        tokio::select! {
            biased;
            _ = tokio::signal::ctrl_c() => Ok(crate::exit::INTERRUPTED),
            result = run_client(command, &ctx) => result.map_err(|e| hint(e, &ctx)),
        }
    }
}

async fn run_client(command: Command, ctx: &Ctx) -> Result<u8> {
    match command {
        Command::Session(cmd) => cmd.run(ctx).await,
        Command::Ls => session::SessionCmd::list().run(ctx).await,
        Command::Agent(cmd) => cmd.run(ctx).await,
        Command::Auth(cmd) => cmd.run(ctx).await,
        Command::User(cmd) => cmd.run(ctx).await,
        Command::Token(cmd) => cmd.run(ctx).await,
        Command::Pair(args) => args.run(ctx).await,
        Command::Settings(cmd) => cmd.run(ctx).await,
        Command::Logs(cmd) => cmd.run(ctx).await,
        Command::Audit(args) => args.run(ctx).await,
        Command::Host(cmd) => cmd.run(ctx).await,
        Command::Server(_)
        | Command::Service(_)
        | Command::Import(_)
        | Command::Backup(_)
        | Command::Restore(_)
        | Command::Man { .. }
        | Command::Completions { .. } => {
            unreachable!("handled before the client commands")
        }
    }
}

/// Adds what to do next to "cannot connect" and to a refused saved token.
fn hint(err: anyhow::Error, ctx: &Ctx) -> anyhow::Error {
    let Some(client_err) = err.downcast_ref::<llmux_client::Error>() else {
        return err;
    };
    let Ok(target) = ctx.target() else {
        return err;
    };
    match (client_err, &target) {
        (llmux_client::Error::Unreachable { source, .. }, Target::Local) => {
            crate::exit::NoDaemon(format!(
                "no llmux daemon is running for state dir {} (socket {}: {source}); \
                 start one with `llmux server start`",
                ctx.paths.state_dir.display(),
                ctx.paths.socket.display(),
            ))
            .into()
        }
        (llmux_client::Error::Unreachable { target: url, source }, Target::Remote(r)) => {
            let from = match &r.server_from {
                Source::Flag => String::new(),
                Source::Env => " (from LLMUX_SERVER)".to_owned(),
                Source::Profile(name) => format!(" (from profile '{name}')"),
            };
            crate::exit::NoDaemon(format!("cannot reach the llmux server at {url}{from}: {source}"))
                .into()
        }
        (llmux_client::Error::Unauthorized { message, .. }, Target::Remote(r)) => {
            match r.profile() {
                Some(name) => anyhow::anyhow!(
                    "{message}: the token saved in profile '{name}' was refused (revoked or \
                     expired?); sign in again with `llmux auth login --profile {name}`"
                ),
                None => err,
            }
        }
        _ => err,
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::Cli;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_go_anywhere_and_do_not_read_the_environment_themselves() {
        let cli = Cli::try_parse_from([
            "llmux",
            "session",
            "list",
            "--server=http://box:3001",
            "--token",
            "t",
            "--profile",
            "p",
            "--json",
        ])
        .unwrap();
        assert_eq!(cli.server.as_deref(), Some("http://box:3001"));
        assert_eq!(cli.token.as_deref(), Some("t"));
        assert_eq!(cli.profile.as_deref(), Some("p"));
        // `server start --port` and the global `--server` do not collide.
        assert!(Cli::try_parse_from(["llmux", "server", "start", "--port", "0"]).is_ok());
        assert!(Cli::try_parse_from(["llmux", "--server", "http://h", "server", "start"]).is_ok());
    }
}
