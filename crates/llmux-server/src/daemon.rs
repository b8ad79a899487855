//! The daemon: one per state dir, holding its lock, store, tmux server and listeners.

use std::fs::File;
use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use llmux_core::agents::Catalog;
use llmux_core::config::LoadedConfig;
use llmux_core::paths::Paths;
use llmux_core::sessions::{SessionOptions, SessionService};
use llmux_core::store::Store;
use llmux_core::tmux::Tmux;
use tokio::net::{TcpListener, UnixListener};

use crate::listen::PeerUidListener;
use crate::{AppState, Transport, app};

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DaemonError {
    /// Another daemon holds the state dir's lock.
    #[error("another llmux daemon is already running with state dir {dir} (pid {pid})")]
    AlreadyRunning {
        /// The state dir.
        dir: PathBuf,
        /// The pid written in the lock file.
        pid: String,
    },
    /// A listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// The domain layer failed (store, tmux, config).
    #[error(transparent)]
    Core(#[from] llmux_core::Error),
}

/// What the daemon needs to start.
#[derive(Debug, Clone)]
pub struct DaemonOptions {
    /// Where its files live.
    pub paths: Paths,
    /// TCP bind address.
    pub host: String,
    /// TCP port (0 picks a free one).
    pub port: u16,
    /// The loaded config file.
    pub config: LoadedConfig,
    /// Session tuning.
    pub sessions: SessionOptions,
}

/// A daemon that has bound its sockets and is ready to serve.
#[derive(Debug)]
pub struct Daemon {
    paths: Paths,
    unix: UnixListener,
    tcp: TcpListener,
    state: AppState,
    _lock: File,
}

impl Daemon {
    /// Takes the state dir's lock, opens the store, reconciles with tmux and binds both
    /// listeners. Nothing is served until [`Daemon::serve`].
    pub async fn start(opts: DaemonOptions) -> Result<Daemon, DaemonError> {
        let paths = opts.paths;
        paths.create_dirs()?;
        let lock = take_lock(&paths)?;

        let catalog = Arc::new(Catalog::with_config(&opts.config.config.agents)?);
        let store = Arc::new(Store::open(&paths.db)?);
        let tmux = Arc::new(Tmux::new(paths.tmux_socket.clone(), paths.tmux_conf.clone()));
        tmux.write_conf()?;
        let mut session_opts = opts.sessions;
        session_opts.init_prompts = opts.config.config.init_prompts.clone();
        let sessions = SessionService::start(store, tmux, catalog, session_opts).await?;
        sessions.spawn_refresher(Duration::from_secs(1));

        // We hold the lock, so a socket file left here is a dead daemon's.
        let _ = std::fs::remove_file(&paths.socket);
        let unix = UnixListener::bind(&paths.socket).map_err(|source| DaemonError::Bind {
            addr: paths.socket.display().to_string(),
            source,
        })?;
        std::fs::set_permissions(&paths.socket, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| llmux_core::Error::io("cannot chmod the socket", e))?;
        let addr = format!("{}:{}", opts.host, opts.port);
        let tcp =
            TcpListener::bind(&addr).await.map_err(|source| DaemonError::Bind { addr, source })?;

        Ok(Daemon { state: AppState::new(sessions), paths, unix, tcp, _lock: lock })
    }

    /// The bound TCP address.
    pub fn tcp_addr(&self) -> SocketAddr {
        self.tcp.local_addr().expect("a bound TCP listener has an address")
    }

    /// The paths in use.
    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    /// Serves both listeners until `shutdown` completes; tmux sessions keep running after.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let (tx, rx) = tokio::sync::watch::channel(false);
        let uid = rustix::process::getuid().as_raw();
        let unix_app = app(self.state.clone(), Transport::Unix);
        let tcp_app = app(self.state.clone(), Transport::Tcp);
        let mut rx_unix = rx.clone();
        let mut rx_tcp = rx;
        let unix = axum::serve(PeerUidListener::new(self.unix, uid), unix_app)
            .with_graceful_shutdown(async move {
                let _ = rx_unix.wait_for(|v| *v).await;
            });
        let tcp =
            axum::serve(self.tcp, tcp_app.into_make_service()).with_graceful_shutdown(async move {
                let _ = rx_tcp.wait_for(|v| *v).await;
            });
        tokio::spawn(async move {
            shutdown.await;
            let _ = tx.send(true);
        });
        let (a, b) = tokio::join!(unix.into_future(), tcp.into_future());
        let _ = std::fs::remove_file(&self.paths.socket);
        a.and(b)
    }
}

/// Takes the exclusive lock on `daemon.lock` and writes our pid into it.
fn take_lock(paths: &Paths) -> Result<File, DaemonError> {
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&paths.lock)
        .map_err(|e| llmux_core::Error::io(format!("cannot open {}", paths.lock.display()), e))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let pid = std::fs::read_to_string(&paths.lock).unwrap_or_default().trim().to_owned();
            return Err(DaemonError::AlreadyRunning { dir: paths.state_dir.clone(), pid });
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(llmux_core::Error::io("cannot lock the state dir", e).into());
        }
    }
    file.set_len(0).map_err(|e| llmux_core::Error::io("cannot write the lock file", e))?;
    writeln!(file, "{}", std::process::id())
        .map_err(|e| llmux_core::Error::io("cannot write the lock file", e))?;
    Ok(file)
}
