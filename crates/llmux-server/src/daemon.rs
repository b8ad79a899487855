//! The daemon: one per state dir, holding its lock, store, tmux server and listeners.

use std::fs::File;
use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use llmux_auth::{AuthService, Bootstrap, InitUser};
use llmux_core::agents::Catalog;
use llmux_core::config::Overlay;
use llmux_core::config::effective::{EffectiveConfig, Layers};
use llmux_core::paths::Paths;
use llmux_core::sessions::{SessionOptions, SessionService};
use llmux_core::store::Store;
use llmux_core::tmux::Tmux;
use tokio::net::{TcpListener, UnixListener};

use crate::conn;
use crate::listen::PeerUidListener;
use crate::logbuf::LogBuffer;
use crate::{AppState, DaemonInfo, Transport, WebPolicy};

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
    /// A listener could not be bound. The io error is part of the message, not a `source`,
    /// so an error chain printed with `{:#}` says it once.
    #[error("cannot listen on {addr}: {error}{hint}")]
    Bind {
        /// The address.
        addr: String,
        /// Why.
        error: std::io::Error,
        /// What to do about it (may be empty).
        hint: String,
    },
    /// The domain layer failed (store, tmux, config).
    #[error(transparent)]
    Core(#[from] llmux_core::Error),
    /// The accounts layer failed (e.g. a bad `LLMUX_INIT_*` user).
    #[error("accounts: {0}")]
    Auth(#[from] llmux_auth::Error),
}

/// What the daemon needs to start.
#[derive(Debug, Clone)]
pub struct DaemonOptions {
    /// Where its files live.
    pub paths: Paths,
    /// The config layers `server start` read: flags, environment, config file. The daemon
    /// adds the overlay of its state dir and sets `state_dir` from `paths`, then resolves them
    /// ([`EffectiveConfig::resolve`]) for the effective port, host, init prompts, limits.
    pub config: Layers,
    /// Session tuning.
    pub sessions: SessionOptions,
    /// The log ring buffer the binary's tracing subscriber fills.
    pub logs: Arc<LogBuffer>,
    /// The first admin from `LLMUX_INIT_*`, if given.
    pub init_user: Option<InitUser>,
}

/// A daemon that has bound its sockets and is ready to serve.
#[derive(Debug)]
pub struct Daemon {
    paths: Paths,
    unix: UnixListener,
    /// A system daemon's users' socket and its path.
    users: Option<(UnixListener, std::path::PathBuf)>,
    tcp: TcpListener,
    state: AppState,
    bootstrap: Bootstrap,
    _lock: File,
}

impl Daemon {
    /// Takes the state dir's lock, resolves the config, opens the store, reconciles with tmux
    /// and binds both listeners. Nothing is served until [`Daemon::serve`].
    pub async fn start(mut opts: DaemonOptions) -> Result<Daemon, DaemonError> {
        let paths = opts.paths.clone();
        paths.create_dirs()?;
        let lock = take_lock(&paths)?;
        // The soft open-files limit (often 1024) would run out before the TCP cap does.
        let nofile = conn::raise_fd_limit();
        tracing::debug!(?nofile, "open-files limit");
        opts.config.state_dir = paths.state_dir.clone();
        opts.config.overlay = Overlay::load(&paths.overlay)?;
        let effective = EffectiveConfig::resolve(&opts.config);
        // Both listeners first: a port in use stops the start before anything else exists
        // (tmux server, VAPID key, store).
        let (unix, tcp) = bind(&paths, &effective.host.value, effective.port.value).await?;
        let had_tmux = std::os::unix::net::UnixStream::connect(&paths.tmux_socket).is_ok();
        let had_vapid = paths.state_dir.join("vapid.key").exists();
        match Daemon::start_services(opts, effective, unix, tcp, lock).await {
            Ok(daemon) => Ok(daemon),
            Err((e, tmux)) => {
                // Undo what this start made: the tmux server it started, the key it wrote.
                if let Some(tmux) = tmux.filter(|_| !had_tmux) {
                    tmux.close().await;
                    let _ = tmux.kill_server().await;
                }
                if !had_vapid {
                    let _ = std::fs::remove_file(paths.state_dir.join("vapid.key"));
                }
                let _ = std::fs::remove_file(&paths.socket);
                Err(e)
            }
        }
    }

    /// Everything after the listeners are bound; on error, the tmux handle (if one was made)
    /// so [`Daemon::start`] can clean up.
    async fn start_services(
        opts: DaemonOptions,
        effective: EffectiveConfig,
        unix: UnixListener,
        tcp: TcpListener,
        lock: File,
    ) -> Result<Daemon, (DaemonError, Option<Arc<Tmux>>)> {
        let paths = opts.paths;
        let config = &opts.config.file.config;
        let catalog = Arc::new(Catalog::with_config(&config.agents).map_err(|e| (e.into(), None))?);
        let store = Arc::new(Store::open(&paths.db).map_err(|e| (e.into(), None))?);
        let tmux = Arc::new(Tmux::new(paths.tmux_socket.clone(), paths.tmux_conf.clone()));
        let fail = |e: DaemonError| (e, Some(tmux.clone()));
        tmux.write_conf().map_err(|e| fail(e.into()))?;
        // A tmux server already running read an older config: seal it before anyone attaches.
        tmux.seal().await.map_err(|e| fail(e.into()))?;
        let mut session_opts = opts.sessions;
        session_opts.init_prompts = effective.init_prompts.value.clone();
        // Non-admins' sessions run confined, each user on a tmux server of their own.
        let system = config.server.mode == llmux_core::config::DaemonMode::System;
        if system && !rustix::process::getuid().is_root() {
            let e = llmux_core::Error::invalid(
                "server.mode: system needs the daemon to run as root (it runs each user's \
                 sessions as their own Unix account); run it as root, or use the default \
                 personal mode",
            );
            return Err((e.into(), None));
        }
        let users = match system {
            true => Some(bind_users_socket(config.server.users_socket.clone()).map_err(fail)?),
            false => None,
        };
        session_opts.isolation = Some(llmux_core::sessions::Isolation {
            paths: paths.clone(),
            daemon_home: llmux_core::paths::home_dir(),
            system,
            // Found now: a binary replaced by an upgrade later reads as "(deleted)".
            exec_helper: std::env::current_exe().ok(),
        });
        let sessions = SessionService::start(store.clone(), tmux.clone(), catalog, session_opts)
            .await
            .map_err(|e| fail(e.into()))?;
        let notifier = Arc::new(
            llmux_notify::Notifier::new(store.clone(), &paths.state_dir, &config.notifications)
                .map_err(|e| fail(e.into()))?,
        );
        let auth = AuthService::new(store, &paths.state_dir);
        let bootstrap = auth.bootstrap(opts.init_user).await.map_err(|e| fail(e.into()))?;
        let web = web_policy(&effective).await;
        let bound = tcp
            .local_addr()
            .map_err(|e| fail(llmux_core::Error::io("cannot read the TCP address", e).into()))?;
        // Nothing can fail from here: start the background work.
        // A tick lists every pane over the tmux control client (cheap) and captures only the
        // panes with activity: fast enough for status events within half a second.
        sessions.spawn_refresher(Duration::from_millis(250));
        // Every state change goes to the notifier, which picks the ones worth telling.
        notifier.listen(sessions.state_events());
        let public_url =
            effective.public_url.value.as_deref().map(|u| u.trim_end_matches('/').to_owned());
        let info = DaemonInfo {
            endpoints: endpoints(bound, public_url.as_deref(), &web),
            public_url,
            config: tokio::sync::RwLock::new(opts.config),
            state_dir: paths.state_dir.clone(),
            socket: paths.socket.clone(),
            overlay: paths.overlay.clone(),
        };
        let state =
            AppState::new(sessions, auth, opts.logs, web, info, notifier, &effective.limits);
        Ok(Daemon { state, bootstrap, paths, unix, users, tcp, _lock: lock })
    }

    /// How the first admin comes to exist (for the start banner).
    pub fn bootstrap(&self) -> &Bootstrap {
        &self.bootstrap
    }

    /// The host names the daemon answers to on TCP.
    pub fn allowed_hosts(&self) -> Vec<String> {
        let mut hosts: Vec<String> = self.state.web.allowed_hosts.iter().cloned().collect();
        hosts.sort();
        hosts
    }

    /// The bound TCP address.
    pub fn tcp_addr(&self) -> SocketAddr {
        self.tcp.local_addr().expect("a bound TCP listener has an address")
    }

    /// The paths in use.
    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    /// The state every handler sees: for calling the router in-process
    /// (`llmux_server::app(daemon.state().clone(), …)` and tower's `oneshot`).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves both listeners ([`crate::serve`]) until `shutdown` completes; tmux sessions keep
    /// running after.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let (tx, rx) = tokio::sync::watch::channel(false);
        let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|stop| *stop).await;
        };
        let uid = rustix::process::getuid().as_raw();
        // Two accept loops with their own limits: a flood on TCP never reaches the socket.
        let unix = crate::serve(
            PeerUidListener::new(self.unix, uid),
            self.state.clone(),
            Transport::Unix,
            stopped(rx.clone()),
        );
        let users_path = self.users.as_ref().map(|(_, path)| path.clone());
        let users = self.users.map(|(listener, _)| {
            let users = crate::listen::AnyPeerListener::new(listener);
            crate::serve(users, self.state.clone(), Transport::UnixUsers, stopped(rx.clone()))
        });
        let tcp = crate::serve(self.tcp, self.state.clone(), Transport::Tcp, stopped(rx));
        tokio::spawn(async move {
            shutdown.await;
            let _ = tx.send(true);
        });
        let users = async move {
            match users {
                Some(serving) => serving.await,
                None => Ok(()),
            }
        };
        let (a, b, c) = tokio::join!(unix, tcp, users);
        self.state.sessions.servers().close().await;
        let _ = std::fs::remove_file(&self.paths.socket);
        if let Some(path) = users_path {
            let _ = std::fs::remove_file(path);
        }
        a.and(b).and(c)
    }
}

/// Where people can reach the daemon: its public URL, Tailscale names, loopback.
fn endpoints(
    bound: SocketAddr,
    public_url: Option<&str>,
    web: &WebPolicy,
) -> Vec<(String, String)> {
    let mut list = Vec::new();
    if let Some(url) = public_url {
        list.push(("Public".to_owned(), url.to_owned()));
    }
    let mut tailnet: Vec<&String> =
        web.allowed_hosts.iter().filter(|h| h.ends_with(".ts.net")).collect();
    tailnet.sort();
    for host in tailnet {
        list.push(("Tailscale".to_owned(), format!("https://{host}")));
    }
    let local = if bound.ip().is_unspecified() {
        format!("http://localhost:{}", bound.port())
    } else {
        format!("http://{bound}")
    };
    list.push(("Local".to_owned(), local));
    list
}

/// Which `Host`/`Origin` values TCP requests may carry: configured names, the public URL's
/// host, this machine's host name, and the Tailscale names found at start.
async fn web_policy(config: &EffectiveConfig) -> WebPolicy {
    let bind_host = config.host.value.as_str();
    let mut hosts: std::collections::HashSet<String> =
        config.allowed_hosts.value.iter().map(|h| h.trim().to_ascii_lowercase()).collect();
    let mut origins: std::collections::HashSet<String> = config
        .allowed_origins
        .value
        .iter()
        .map(|o| o.trim().trim_end_matches('/').to_ascii_lowercase())
        .collect();
    let mut secure = false;
    if let Some(url) = &config.public_url.value {
        let url = url.trim().trim_end_matches('/').to_ascii_lowercase();
        secure = url.starts_with("https://");
        if let Some(rest) = url.split_once("://").map(|(_, r)| r) {
            let authority = rest.split('/').next().unwrap_or("");
            hosts.insert(authority.rsplit_once(':').map_or(authority, |(h, _)| h).to_owned());
            origins.insert(url.split('/').take(3).collect::<Vec<_>>().join("/"));
        }
    }
    if !bind_host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_unspecified()) {
        hosts.insert(bind_host.to_ascii_lowercase());
    }
    if let Ok(name) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
        let name = name.trim().to_ascii_lowercase();
        if !name.is_empty() {
            hosts.insert(format!("{name}.local"));
            hosts.insert(name);
        }
    }
    // Names a TLS proxy serves us under (`tailscale serve`, or a proxy for a configured
    // host): their https origin is ours too. The daemon itself is plain http, so an https
    // origin is never "own" by the Host header alone.
    for host in &config.allowed_hosts.value {
        let host = host.trim().to_ascii_lowercase();
        if !host.is_empty() {
            origins.insert(format!("https://{host}"));
        }
    }
    let tailnet = tailscale_names().await;
    origins.extend(tailnet.iter().filter(|n| n.contains('.')).map(|n| format!("https://{n}")));
    hosts.extend(tailnet);
    hosts.retain(|h| !h.is_empty());
    WebPolicy { allowed_hosts: hosts, allowed_origins: origins, secure_cookies: secure }
}

/// This node's Tailscale DNS names, if `tailscale` is installed and up (1.5 s at most).
async fn tailscale_names() -> Vec<String> {
    let run = tokio::process::Command::new("tailscale")
        .args(["status", "--json", "--self=true", "--peers=false"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let Ok(Ok(out)) = tokio::time::timeout(Duration::from_millis(1500), run).await else {
        return Vec::new();
    };
    let Ok(status) = serde_json::from_slice::<serde_json::Value>(&out.stdout) else {
        return Vec::new();
    };
    let mut names = Vec::new();
    if let Some(dns) = status["Self"]["DNSName"].as_str() {
        let dns = dns.trim_end_matches('.').to_ascii_lowercase();
        if let Some(short) = dns.split('.').next() {
            names.push(short.to_owned());
        }
        names.push(dns);
    }
    for domain in status["CertDomains"].as_array().into_iter().flatten().filter_map(|d| d.as_str())
    {
        names.push(domain.to_ascii_lowercase());
    }
    names
}

/// Takes the exclusive lock on `daemon.lock` and writes our pid into it.
/// Binds the Unix socket and the TCP listener; a port in use says which and how to pick another.
async fn bind(
    paths: &Paths,
    host: &str,
    port: u16,
) -> Result<(UnixListener, TcpListener), DaemonError> {
    // We hold the lock, so a socket file left here is a dead daemon's.
    let _ = std::fs::remove_file(&paths.socket);
    let unix = UnixListener::bind(&paths.socket).map_err(|error| DaemonError::Bind {
        addr: paths.socket.display().to_string(),
        error,
        hint: String::new(),
    })?;
    std::fs::set_permissions(&paths.socket, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| llmux_core::Error::io("cannot chmod the socket", e))?;
    let addr = format!("{host}:{port}");
    match TcpListener::bind(&addr).await {
        Ok(tcp) => Ok((unix, tcp)),
        Err(error) => {
            drop(unix);
            let _ = std::fs::remove_file(&paths.socket);
            let hint = if error.kind() == std::io::ErrorKind::AddrInUse {
                "; another program has this port: choose another with `--port` (0 picks a free one)"
                    .to_owned()
            } else {
                String::new()
            };
            Err(DaemonError::Bind { addr, error, hint })
        }
    }
}

/// A system daemon's users' socket: `path` (default `/run/llmux/users.sock`), its dir made
/// 0755 if missing, the socket 0666: any local user may connect, and the peer uid decides who
/// they are (`Transport::UnixUsers`).
fn bind_users_socket(
    path: Option<std::path::PathBuf>,
) -> Result<(UnixListener, std::path::PathBuf), DaemonError> {
    use std::os::unix::fs::DirBuilderExt;
    let path = path.unwrap_or_else(|| "/run/llmux/users.sock".into());
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(dir)
            .map_err(|e| llmux_core::Error::io(format!("cannot create {}", dir.display()), e))?;
    }
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).map_err(|error| DaemonError::Bind {
        addr: path.display().to_string(),
        error,
        hint: String::new(),
    })?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666))
        .map_err(|e| llmux_core::Error::io("cannot chmod the users' socket", e))?;
    Ok((listener, path))
}

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
