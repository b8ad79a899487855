//! `llmux server start`: run the daemon in the foreground.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use llmux_core::config::{DEFAULT_HOST, DEFAULT_PORT, LoadedConfig};
use llmux_core::sessions::SessionOptions;
use llmux_server::daemon::{Daemon, DaemonOptions};

use super::Ctx;

#[derive(Debug, Subcommand)]
pub(crate) enum ServerCmd {
    /// Run the daemon in the foreground (Ctrl-C stops it; agent sessions keep running).
    #[command(visible_alias = "serve")]
    Start(StartArgs),
}

#[derive(Debug, Args)]
pub(crate) struct StartArgs {
    /// TCP port [default: config `server.port`, else 3001; 0 picks a free port].
    #[arg(long, env = "LLMUX_PORT")]
    port: Option<u16>,
    /// TCP bind address [default: config `server.host`, else 127.0.0.1].
    #[arg(long, env = "LLMUX_HOST")]
    host: Option<String>,
    /// Config file [default: ./.llmux.yaml, ~/.config/llmux/config.yaml, $LLMUX_CONFIG].
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

impl ServerCmd {
    pub async fn run(self, ctx: &Ctx) -> Result<u8> {
        match self {
            ServerCmd::Start(args) => start(args, ctx).await,
        }
    }
}

async fn start(args: StartArgs, ctx: &Ctx) -> Result<u8> {
    init_tracing();
    check_tmux().await?;
    let config = LoadedConfig::discover(args.config.as_deref())?;
    let port = args.port.or(config.config.server.port).unwrap_or(DEFAULT_PORT);
    let host = args
        .host
        .or_else(|| config.config.server.host.clone())
        .unwrap_or_else(|| DEFAULT_HOST.to_owned());
    let source = config.source.clone();
    let daemon = Daemon::start(DaemonOptions {
        paths: ctx.paths.clone(),
        host,
        port,
        config,
        sessions: SessionOptions::default(),
    })
    .await?;
    let addr = daemon.tcp_addr();
    tracing::info!(
        version = llmux_core::VERSION,
        tcp = %addr,
        socket = %daemon.paths().socket.display(),
        state_dir = %daemon.paths().state_dir.display(),
        config = %source.as_ref().map_or("(none)".into(), |p| p.display().to_string()),
        "llmux daemon ready"
    );
    print_banner(&daemon, addr);
    daemon.serve(shutdown_signal()).await.context("the server failed")?;
    tracing::info!("daemon stopped; agent sessions keep running in tmux");
    Ok(0)
}

fn print_banner(daemon: &Daemon, addr: std::net::SocketAddr) {
    let paths = daemon.paths();
    println!("llmux v{}", llmux_core::VERSION);
    println!();
    println!("  ▸ Local    http://{addr}");
    println!("  ▸ Socket   {}", paths.socket.display());
    println!("  ▸ State    {}", paths.state_dir.display());
    println!();
    println!("  ✓ the CLI on this machine talks to the daemon over its socket");
    println!("  ✓ TCP needs credentials on every route but /health and /api/version");
    println!();
}

/// tmux must exist and be 3.2 or newer (for `new-session -e`).
async fn check_tmux() -> Result<()> {
    let out = tokio::process::Command::new("tmux").arg("-V").output().await;
    let version = match out {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        _ => bail!(
            "tmux is required but was not found on PATH; install it with `sudo apt-get install tmux`"
        ),
    };
    // "tmux 3.3a", "tmux next-3.4", "tmux master"
    let digits: String = version
        .trim_start_matches("tmux ")
        .trim_start_matches("next-")
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let mut parts = digits.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    if !digits.is_empty() && (major, minor) < (3, 2) {
        bail!("{version} is too old: llmux needs tmux 3.2 or newer");
    }
    Ok(())
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LLMUX_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler installs");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler installs");
    let name = tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    };
    tracing::info!(signal = name, "shutting down");
}
