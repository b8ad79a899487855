//! `llmux server start`: run the daemon in the foreground.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use llmux_auth::{Bootstrap, InitUser};
use llmux_core::config::LoadedConfig;
use llmux_core::config::effective::{Layer, Layers};
use llmux_core::sessions::SessionOptions;
use llmux_server::daemon::{Daemon, DaemonOptions};
use llmux_server::logbuf::LogBuffer;

use super::Ctx;
use crate::output;

#[derive(Debug, Subcommand)]
pub(crate) enum ServerCmd {
    /// Run the daemon in the foreground (Ctrl-C stops it; agent sessions keep running).
    #[command(visible_alias = "serve")]
    Start(StartArgs),
    /// Print the path of the daemon's Unix socket for this state dir (a hub asks it over SSH).
    Socket,
    /// Stop the daemon of this state dir (SIGTERM to the process holding its lock) and wait
    /// until it is gone; agent sessions keep running in tmux. Nothing running: nothing to do.
    Stop,
}

#[derive(Debug, Args)]
pub(crate) struct StartArgs {
    /// TCP port [env: LLMUX_PORT; default: config `server.port`, else 3001; 0 picks a free one].
    #[arg(long)]
    port: Option<u16>,
    /// TCP bind address [env: LLMUX_HOST; default: config `server.host`, else 127.0.0.1].
    #[arg(long)]
    host: Option<String>,
    /// Config file [default: ./.llmux.yaml, ~/.config/llmux/config.yaml, $LLMUX_CONFIG].
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

impl ServerCmd {
    pub async fn run(self, ctx: &Ctx) -> Result<u8> {
        match self {
            ServerCmd::Start(args) => start(args, ctx).await,
            ServerCmd::Socket => {
                output::say!("{}", ctx.paths.socket.display());
                Ok(0)
            }
            ServerCmd::Stop => stop(ctx).await,
        }
    }
}

/// How long `server stop` waits for the daemon to let go of its lock.
const STOP_WAIT: std::time::Duration = std::time::Duration::from_secs(20);

async fn stop(ctx: &Ctx) -> Result<u8> {
    use llmux_core::state_lock::try_lock;
    let held = match try_lock(&ctx.paths)? {
        Ok(_free) => {
            output::say!("no daemon running for {}", ctx.paths.state_dir.display());
            return Ok(0);
        }
        Err(held) => held,
    };
    let pid = held
        .pid
        .parse::<i32>()
        .ok()
        .and_then(rustix::process::Pid::from_raw)
        .with_context(|| format!("the daemon's lock holds no pid ({:?})", held.pid))?;
    rustix::process::kill_process(pid, rustix::process::Signal::TERM)
        .with_context(|| format!("cannot signal the daemon (pid {})", pid.as_raw_nonzero()))?;
    let deadline = std::time::Instant::now() + STOP_WAIT;
    loop {
        if try_lock(&ctx.paths)?.is_ok() {
            output::say!("stopped the daemon (pid {})", pid.as_raw_nonzero());
            return Ok(0);
        }
        if std::time::Instant::now() > deadline {
            bail!(
                "the daemon (pid {}) is still running after {} s",
                pid.as_raw_nonzero(),
                STOP_WAIT.as_secs()
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

async fn start(args: StartArgs, ctx: &Ctx) -> Result<u8> {
    let logs = LogBuffer::new();
    init_tracing(&logs);
    check_tmux().await?;
    // The layers; the daemon adds its overlay and resolves the effective port, host, … from
    // them (`llmux_core::config::effective`), as `GET /api/settings` reports them.
    let file = LoadedConfig::discover(args.config.as_deref())?;
    let env = Layer::from_env()?;
    let flags = Layer { port: args.port, host: args.host, names_state_dir: state_dir_flag_given() };
    let config = Layers { flags, env, file, ..Layers::default() };
    let init_user = match (env_var("LLMUX_INIT_USERNAME"), env_var("LLMUX_INIT_PASSPHRASE")) {
        (Some(username), Some(passphrase)) => {
            Some(InitUser { username, name: env_var("LLMUX_INIT_NAME"), passphrase })
        }
        (Some(_), None) => bail!("LLMUX_INIT_USERNAME is set but LLMUX_INIT_PASSPHRASE is not"),
        _ => None,
    };
    let source = config.file.source.clone();
    let daemon = Daemon::start(DaemonOptions {
        paths: ctx.paths.clone(),
        config,
        sessions: session_options()?,
        logs,
        init_user,
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
    // SIGHUP reloads the config file (its default action would end the daemon): installed
    // before `serve` tells a service manager the daemon is ready.
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .context("cannot handle SIGHUP")?;
    let reloader = daemon.reloader();
    tokio::spawn(async move {
        while hangup.recv().await.is_some() {
            tracing::info!(signal = "SIGHUP", "reloading the config file");
            reloader.reload().await;
        }
    });
    daemon.serve(shutdown_signal()).await.context("the server failed")?;
    tracing::info!("daemon stopped; agent sessions keep running in tmux");
    Ok(0)
}

fn print_banner(daemon: &Daemon, addr: std::net::SocketAddr) {
    let paths = daemon.paths();
    output::say!("llmux v{}", llmux_core::VERSION);
    output::say!();
    output::say!("  ▸ Local    http://{addr}");
    output::say!("  ▸ Socket   {}", paths.socket.display());
    output::say!("  ▸ State    {}", paths.state_dir.display());
    output::say!();
    output::say!("  ✓ the CLI on this machine talks to the daemon over its socket");
    output::say!("  ✓ TCP needs a sign-in or a token on every route but /health and /api/version");
    match daemon.bootstrap() {
        Bootstrap::Ready { users } => {
            output::say!("  ✓ {users} user(s); sign in at http://{addr}/login")
        }
        Bootstrap::CreatedFromEnv { username } => {
            output::say!(
                "  ✓ created admin {username:?} from LLMUX_INIT_USERNAME; sign in at http://{addr}/login"
            )
        }
        Bootstrap::Setup { token, file } => {
            output::say!();
            output::say!("  ⚠ no user yet. Create the first admin within the hour at:");
            output::say!();
            output::say!("      http://{addr}/setup#token={token}");
            output::say!();
            output::say!(
                "    (the token is also in {}; or run `llmux user create NAME --admin`)",
                file.display()
            );
        }
    }
    output::say!();
}

/// Session tuning. `LLMUX_READY_TIMEOUT_MS` (tests only, undocumented) shortens how long a
/// prompt is held while its agent starts (90 s, as the README says).
fn session_options() -> Result<SessionOptions> {
    let mut opts = SessionOptions::default();
    if let Some(ms) = env_var("LLMUX_READY_TIMEOUT_MS") {
        let ms: u64 = ms
            .trim()
            .parse()
            .with_context(|| format!("LLMUX_READY_TIMEOUT_MS={ms:?} is not a number"))?;
        opts.ready_timeout = std::time::Duration::from_millis(ms);
    }
    Ok(opts)
}

/// Whether `--state-dir` is on the command line (clap folds `LLMUX_STATE_DIR` into the same
/// argument, so only the raw arguments tell a flag from the environment).
fn state_dir_flag_given() -> bool {
    std::env::args().any(|a| a == "--state-dir" || a.starts_with("--state-dir="))
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

/// Logs go to stderr and to the ring buffer the admin API serves, both filtered by `LLMUX_LOG`
/// (default `info`). When stderr is the journal (`JOURNAL_STREAM`), each line goes without
/// the timestamp (the journal stamps it) and with its `<N>` syslog priority.
fn init_tracing(logs: &std::sync::Arc<LogBuffer>) {
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = tracing_subscriber::EnvFilter::try_from_env("LLMUX_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let journal = llmux_server::systemd::stderr_is_journal();
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    // Colour only for a person at a terminal (and not with NO_COLOR): a log file gets
    // plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let stderr = match journal {
        false => fmt.with_ansi(ansi).boxed(),
        true => fmt
            .with_ansi(false)
            .event_format(JournalFormat(
                tracing_subscriber::fmt::format().without_time().with_ansi(false),
            ))
            .boxed(),
    };
    let _ = tracing_subscriber::registry().with(filter).with(stderr).with(logs.layer()).try_init();
}

/// The default line format without a timestamp, after the `<N>` syslog priority the journal
/// reads (`SyslogLevelPrefix=`) and strips.
struct JournalFormat(
    tracing_subscriber::fmt::format::Format<tracing_subscriber::fmt::format::Full, ()>,
);

impl<S, N> tracing_subscriber::fmt::FormatEvent<S, N> for JournalFormat
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let priority = match *event.metadata().level() {
            tracing::Level::ERROR => 3,
            tracing::Level::WARN => 4,
            tracing::Level::INFO => 6,
            tracing::Level::DEBUG | tracing::Level::TRACE => 7,
        };
        write!(writer, "<{priority}>")?;
        self.0.format_event(ctx, writer, event)
    }
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
