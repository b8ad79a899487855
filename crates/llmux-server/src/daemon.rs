//! The daemon: one per state dir, holding its lock, store, tmux server and listeners.

use std::fs::File;
use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
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
    /// A system daemon's users' socket and its path (none when the service manager passed it:
    /// the file is its socket unit's).
    users: Option<(UnixListener, Option<std::path::PathBuf>)>,
    tcp: TcpListener,
    /// Whether the operator's socket file is ours to remove at stop (not when the service
    /// manager passed the socket: its socket unit owns the file).
    own_socket: bool,
    /// The store, checkpointed at stop and read by the watchdog's liveness check.
    store: Arc<Store>,
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
        // Sockets a service manager passed (`LISTEN_FDS`) are used instead of binding.
        let mut activated = crate::systemd::take_activated();
        for refused in &activated.refused {
            tracing::warn!(fd = %refused, "ignored a socket passed by the service manager");
        }
        // Both listeners first: a port in use stops the start before anything else exists
        // (tmux server, VAPID key, store).
        let (unix, tcp) =
            bind(&paths, &effective.host.value, effective.port.value, &mut activated).await?;
        let own_socket = unix.1;
        let unix = unix.0;
        let had_tmux = std::os::unix::net::UnixStream::connect(&paths.tmux_socket).is_ok();
        let had_vapid = paths.state_dir.join("vapid.key").exists();
        let users = activated.users.take();
        match Daemon::start_services(opts, effective, (unix, own_socket), tcp, users, lock).await {
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
                if own_socket {
                    let _ = std::fs::remove_file(&paths.socket);
                }
                Err(e)
            }
        }
    }

    /// Everything after the listeners are bound; on error, the tmux handle (if one was made)
    /// so [`Daemon::start`] can clean up.
    async fn start_services(
        opts: DaemonOptions,
        effective: EffectiveConfig,
        (unix, own_socket): (UnixListener, bool),
        tcp: TcpListener,
        activated_users: Option<std::os::unix::net::UnixListener>,
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
        session_opts.worktrees = config.worktrees.clone();
        session_opts.worktree_state_dir = Some(paths.state_dir.clone());
        session_opts.uploads = config.server.uploads.resolve();
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
        let users = match (system, activated_users) {
            (true, Some(listener)) => Some(activated_users_socket(listener).map_err(fail)?),
            (true, None) => {
                Some(bind_users_socket(config.server.users_socket.clone()).map_err(fail)?)
            }
            (false, _) => None,
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
        let auth = AuthService::new(store.clone(), &paths.state_dir);
        let bootstrap = auth.bootstrap(opts.init_user).await.map_err(|e| fail(e.into()))?;
        let web = web_policy(&effective).await;
        let bound = tcp
            .local_addr()
            .map_err(|e| fail(llmux_core::Error::io("cannot read the TCP address", e).into()))?;
        // Fleet hosts: one link per host, started now (they reconnect on their own).
        let fleet =
            llmux_fleet::Fleet::start(store.clone(), llmux_fleet::ssh_settings(&paths.run_dir))
                .map_err(|e| fail(e.into()))?;
        // Nothing can fail from here: start the background work.
        // A tick lists every pane over the tmux control client (cheap) and captures only the
        // panes with activity: fast enough for status events within half a second.
        sessions.spawn_refresher(Duration::from_millis(250));
        // Types queued (scheduled) prompts when due.
        sessions.spawn_scheduler();
        // Every state change goes to the notifier, which picks the ones worth telling.
        notifier.listen(sessions.state_events());
        // And every fleet host's (`host:name`), owned by whom the host's mapping says.
        crate::remote_push::feed(&fleet, &notifier);
        // ... and every after-limit text typed (issue 19): "it went on at 15:02".
        notifier.listen_after_limit(sessions.after_limit_events());
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
            AppState::new(sessions, auth, opts.logs, web, info, notifier, fleet, &effective.limits);
        Ok(Daemon { state, bootstrap, paths, unix, users, tcp, own_socket, store, _lock: lock })
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
    ///
    /// Speaks systemd's protocol where its variables are set ([`crate::systemd`]): `READY=1`
    /// now (both listeners are bound, the store is open), watchdog pings while the store
    /// answers, `STOPPING=1` when `shutdown` completes. A stop first ends every event stream
    /// and terminal WebSocket with a reason, then waits for open responses (5 s at most),
    /// closes the tmux control clients and checkpoints the store.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let notifier = Arc::new(crate::systemd::Notifier::from_env());
        let (tx, rx) = tokio::sync::watch::channel(false);
        let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|stop| *stop).await;
        };
        let uid = rustix::process::getuid().as_raw();
        let status = format!(
            "STATUS=Serving on http://{} and {}",
            self.tcp_addr(),
            self.paths.socket.display()
        );
        // Two accept loops with their own limits: a flood on TCP never reaches the socket.
        // One set of routes for every listener (routes are layered one by one).
        let routed = crate::routed(self.state.clone());
        let unix = crate::serve_routed(
            PeerUidListener::new(self.unix, uid),
            &self.state,
            routed.clone(),
            Transport::Unix,
            stopped(rx.clone()),
        );
        let users_path = self.users.as_ref().and_then(|(_, path)| path.clone());
        let users = self.users.map(|(listener, _)| {
            let users = crate::listen::AnyPeerListener::new(listener);
            crate::serve_routed(
                users,
                &self.state,
                routed.clone(),
                Transport::UnixUsers,
                stopped(rx.clone()),
            )
        });
        let tcp = crate::serve_routed(self.tcp, &self.state, routed, Transport::Tcp, stopped(rx));
        let (stop_state, stop_notifier) = (self.state.clone(), notifier.clone());
        tokio::spawn(async move {
            shutdown.await;
            stop_notifier.notify("STOPPING=1\nSTATUS=Stopping (agents keep running in tmux)");
            // Streams and terminals end with a reason before the listeners' grace period.
            stop_state.begin_stop();
            let _ = tx.send(true);
        });
        let watchdog = crate::systemd::watchdog_interval().map(|interval| {
            tracing::info!(interval_ms = interval.as_millis() as u64, "systemd watchdog on");
            tokio::spawn(watchdog(interval, self.store.clone(), notifier.clone()))
        });
        let users = async move {
            match users {
                Some(serving) => serving.await,
                None => Ok(()),
            }
        };
        // The listeners are bound: a connection made from now on waits in the backlog until
        // the accept loops below take it.
        notifier.notify(&format!("READY=1\n{status}\nMAINPID={}", std::process::id()));
        let (a, b, c) = tokio::join!(unix, tcp, users);
        // Upgraded terminals live outside the accept loops: let them send their close frame.
        if !self.state.streams_closed(Duration::from_secs(5)).await {
            tracing::warn!("some event streams or terminals did not close within 5 s");
        }
        if let Some(watchdog) = watchdog {
            watchdog.abort();
        }
        self.state.sessions.servers().close().await;
        if self.own_socket {
            let _ = std::fs::remove_file(&self.paths.socket);
        }
        if let Some(path) = users_path {
            let _ = std::fs::remove_file(path);
        }
        let store = self.store.clone();
        match tokio::task::spawn_blocking(move || store.checkpoint()).await {
            Ok(Ok(())) => tracing::info!("store flushed"),
            Ok(Err(e)) => tracing::warn!(error = %e, "cannot checkpoint the store"),
            Err(e) => tracing::warn!(error = %e, "cannot checkpoint the store"),
        }
        a.and(b).and(c)
    }

    /// What reloads the config file on SIGHUP ([`Reloader::reload`]).
    pub fn reloader(&self) -> Reloader {
        Reloader { state: self.state.clone() }
    }
}

/// Pings the watchdog at half its interval, each time after a liveness check: the store must
/// answer a read within a quarter of the interval (a daemon wedged on its store lock, or whose
/// runtime no longer runs this task, stops pinging and the service manager restarts it).
async fn watchdog(interval: Duration, store: Arc<Store>, notifier: Arc<crate::systemd::Notifier>) {
    let every = interval / 2;
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let store = store.clone();
        let check = tokio::task::spawn_blocking(move || store.schema_version());
        match tokio::time::timeout(interval / 4, check).await {
            Ok(Ok(Ok(_))) => notifier.notify("WATCHDOG=1"),
            Ok(Ok(Err(e))) => {
                tracing::error!(error = %e, "liveness: the store fails; no watchdog ping")
            }
            Ok(Err(e)) => {
                tracing::error!(error = %e, "liveness: the check failed; no watchdog ping")
            }
            Err(_) => tracing::error!("liveness: the store does not answer; no watchdog ping"),
        }
    }
}

/// Reloads the config file on SIGHUP: what can change live changes, the rest is logged as
/// needing a restart (docs/DESIGN-NOTES.md, "Issue 16 §1").
#[derive(Debug, Clone)]
pub struct Reloader {
    state: AppState,
}

impl Reloader {
    /// Re-reads the config file the daemon started with (or, if it had none, looks for one
    /// where `server start` does). Live: `initPrompts` (the overlay still wins). Everything
    /// else that differs is logged as needing a restart and stays as it was, in effect and in
    /// `GET /api/settings`. A file that does not parse changes nothing (logged).
    pub async fn reload(&self) {
        let notifier = crate::systemd::Notifier::from_env();
        notifier.notify("RELOADING=1\nSTATUS=Reloading the config file");
        let outcome = self.apply().await;
        let status = match &outcome {
            Ok(()) => "STATUS=Serving (config reloaded)".to_owned(),
            Err(e) => format!("STATUS=Serving (config reload failed: {e})"),
        };
        if let Err(e) = outcome {
            tracing::error!(error = %e, "config reload failed; nothing changed");
        }
        notifier.notify(&format!("READY=1\n{status}"));
    }

    async fn apply(&self) -> Result<(), llmux_core::Error> {
        let source = self.state.info.config.read().await.file.source.clone();
        let loaded = tokio::task::spawn_blocking(move || {
            llmux_core::config::LoadedConfig::discover(source.as_deref())
        })
        .await
        .map_err(|e| llmux_core::Error::io("config reload task", std::io::Error::other(e)))??;
        let mut layers = self.state.info.config.write().await;
        if layers.file.source != loaded.source {
            let show = |p: &Option<std::path::PathBuf>| {
                p.as_ref().map_or("(none)".to_owned(), |p| p.display().to_string())
            };
            tracing::warn!(
                started_with = %show(&layers.file.source),
                found = %show(&loaded.source),
                "config reload: another config file is in place; it applies at the next \
                 restart (needs a restart), nothing changed"
            );
            return Ok(());
        }
        let old = &layers.file.config;
        let new = &loaded.config;
        let restart = needs_restart(old, new);
        let prompts_changed = old.init_prompts != new.init_prompts;
        layers.file.config.init_prompts = new.init_prompts.clone();
        let effective = EffectiveConfig::resolve(&layers);
        self.state.sessions.set_init_prompts(effective.init_prompts.value.clone());
        drop(layers);
        for key in &restart {
            tracing::warn!(setting = %key, "config reload: changed in the file; needs a restart");
        }
        let applied: &[&str] = if prompts_changed { &["initPrompts"] } else { &[] };
        tracing::info!(
            applied = ?applied,
            needs_restart = ?restart,
            "config reloaded"
        );
        Ok(())
    }
}

/// The settings that differ between `old` and `new` and apply only at start.
fn needs_restart(
    old: &llmux_core::config::Config,
    new: &llmux_core::config::Config,
) -> Vec<String> {
    let (o, n) = (&old.server, &new.server);
    let mut keys = Vec::new();
    let mut check = |key: &str, differs: bool| {
        if differs {
            keys.push(key.to_owned());
        }
    };
    check("server.port", o.port != n.port);
    check("server.host", o.host != n.host);
    check("server.publicUrl", o.public_url != n.public_url);
    check("server.allowedHosts", o.allowed_hosts != n.allowed_hosts);
    check("server.allowedOrigins", o.allowed_origins != n.allowed_origins);
    check("server.limits", o.limits.resolve() != n.limits.resolve());
    check("server.mode", o.mode != n.mode);
    check("server.usersSocket", o.users_socket != n.users_socket);
    check("agents", old.agents != new.agents);
    let (o, n) = (&old.notifications, &new.notifications);
    check(
        "notifications",
        o.webhook != n.webhook
            || o.vapid_subject != n.vapid_subject
            || o.allow_loopback_push != n.allow_loopback_push,
    );
    keys
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

/// Binds the Unix socket and the TCP listener, or takes the ones the service manager passed
/// (`activated`); a port in use says which and how to pick another. The flag says whether the
/// socket file is ours (bound here).
async fn bind(
    paths: &Paths,
    host: &str,
    port: u16,
    activated: &mut crate::systemd::Activated,
) -> Result<((UnixListener, bool), TcpListener), DaemonError> {
    let unix = match activated.unix.take() {
        Some(listener) => {
            let where_: Option<std::path::PathBuf> =
                listener.local_addr().ok().and_then(|a| a.as_pathname().map(Into::into));
            if where_.as_deref() != Some(paths.socket.as_path()) {
                tracing::warn!(
                    passed = ?where_,
                    expected = %paths.socket.display(),
                    "the Unix socket the service manager passed is not where the CLI looks \
                     (set LLMUX_STATE_DIR or the socket unit's ListenStream= to agree)"
                );
            }
            tracing::info!(socket = ?where_, "using the Unix socket passed by the service manager");
            (from_std_unix(listener, &paths.socket.display().to_string())?, false)
        }
        None => {
            // We hold the lock, so a socket file left here is a dead daemon's.
            let _ = std::fs::remove_file(&paths.socket);
            let unix = UnixListener::bind(&paths.socket).map_err(|error| DaemonError::Bind {
                addr: paths.socket.display().to_string(),
                error,
                hint: String::new(),
            })?;
            std::fs::set_permissions(&paths.socket, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| llmux_core::Error::io("cannot chmod the socket", e))?;
            (unix, true)
        }
    };
    if let Some(listener) = activated.tcp.take() {
        let addr = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
        tracing::info!(tcp = %addr, "using the TCP socket passed by the service manager");
        let tcp = listener
            .set_nonblocking(true)
            .and_then(|()| TcpListener::from_std(listener))
            .map_err(|error| DaemonError::Bind { addr, error, hint: String::new() })?;
        return Ok((unix, tcp));
    }
    let addr = format!("{host}:{port}");
    match TcpListener::bind(&addr).await {
        Ok(tcp) => Ok((unix, tcp)),
        Err(error) => {
            if unix.1 {
                drop(unix);
                let _ = std::fs::remove_file(&paths.socket);
            }
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

/// A passed std listener as tokio's.
fn from_std_unix(
    listener: std::os::unix::net::UnixListener,
    what: &str,
) -> Result<UnixListener, DaemonError> {
    listener
        .set_nonblocking(true)
        .and_then(|()| UnixListener::from_std(listener))
        .map_err(|error| DaemonError::Bind { addr: what.to_owned(), error, hint: String::new() })
}

/// A system daemon's users' socket passed by the service manager (`FileDescriptorName=users`).
fn activated_users_socket(
    listener: std::os::unix::net::UnixListener,
) -> Result<(UnixListener, Option<std::path::PathBuf>), DaemonError> {
    let path =
        listener.local_addr().ok().and_then(|a| a.as_pathname().map(|p| p.display().to_string()));
    tracing::info!(socket = ?path, "using the users' socket passed by the service manager");
    Ok((from_std_unix(listener, "the users' socket")?, None))
}

/// A system daemon's users' socket: `path` (default `/run/llmux/users.sock`), its dir made
/// 0755 if missing, the socket 0666: any local user may connect, and the peer uid decides who
/// they are (`Transport::UnixUsers`).
fn bind_users_socket(
    path: Option<std::path::PathBuf>,
) -> Result<(UnixListener, Option<std::path::PathBuf>), DaemonError> {
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
    Ok((listener, Some(path)))
}

/// Takes the exclusive lock on `daemon.lock` and writes our pid into it.
fn take_lock(paths: &Paths) -> Result<File, DaemonError> {
    let mut file = llmux_core::state_lock::try_lock(paths)?.map_err(|held| {
        DaemonError::AlreadyRunning { dir: paths.state_dir.clone(), pid: held.pid }
    })?;
    file.set_len(0).map_err(|e| llmux_core::Error::io("cannot write the lock file", e))?;
    writeln!(file, "{}", std::process::id())
        .map_err(|e| llmux_core::Error::io("cannot write the lock file", e))?;
    Ok(file)
}
