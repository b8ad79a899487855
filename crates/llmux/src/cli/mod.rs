//! The command line: one module per noun, each a clap `Subcommand` with `run`.

mod agent;
mod server;
mod session;

use std::path::PathBuf;

use anyhow::Result;
use clap::{CommandFactory, Parser, Subcommand};
use llmux_client::Client;
use llmux_core::paths::Paths;

/// Run AI coding-agent CLIs in named tmux sessions, reachable from this CLI, a REST API and
/// the web.
///
/// Every command except `server start` talks to a running daemon over its Unix socket.
/// Exit codes: 0 ok, 1 failure, 2 usage error, 3 no daemon running, 4 not found.
#[derive(Debug, Parser)]
#[command(name = "llmux", version, propagate_version = true, max_term_width = 100)]
pub(crate) struct Cli {
    /// State dir of the daemon to use [default: $XDG_STATE_HOME/llmux or ~/.local/state/llmux].
    #[arg(long, global = true, env = "LLMUX_STATE_DIR", value_name = "DIR")]
    state_dir: Option<PathBuf>,

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
    /// Run the daemon.
    #[command(subcommand)]
    Server(server::ServerCmd),
    /// Print a shell completion script.
    Completions {
        /// Shell to generate for.
        shell: clap_complete::Shell,
    },
}

/// What every command gets: where the daemon is and how to print.
pub(crate) struct Ctx {
    pub paths: Paths,
    pub json: bool,
}

impl Ctx {
    /// A client of the local daemon.
    pub fn client(&self) -> Client {
        Client::unix(&self.paths.socket)
    }
}

impl Cli {
    /// Runs the command; returns the exit code on success.
    pub async fn run(self) -> Result<u8> {
        let paths = Paths::resolve(self.state_dir.as_deref())?;
        let ctx = Ctx { paths, json: self.json };
        match self.command {
            Command::Session(cmd) => cmd.run(&ctx).await.map_err(|e| hint(e, &ctx)),
            Command::Ls => session::SessionCmd::list().run(&ctx).await.map_err(|e| hint(e, &ctx)),
            Command::Agent(cmd) => cmd.run(&ctx).await.map_err(|e| hint(e, &ctx)),
            Command::Server(cmd) => cmd.run(&ctx).await,
            Command::Completions { shell } => {
                clap_complete::generate(
                    shell,
                    &mut Cli::command(),
                    "llmux",
                    &mut std::io::stdout(),
                );
                Ok(0)
            }
        }
    }
}

/// Adds "how to start one" to a connection failure.
fn hint(err: anyhow::Error, ctx: &Ctx) -> anyhow::Error {
    if let Some(llmux_client::Error::Unreachable { source, .. }) =
        err.downcast_ref::<llmux_client::Error>()
    {
        return crate::exit::NoDaemon(format!(
            "no llmux daemon is running for state dir {} (socket {}: {source}); \
             start one with `llmux server start`",
            ctx.paths.state_dir.display(),
            ctx.paths.socket.display(),
        ))
        .into();
    }
    err
}
