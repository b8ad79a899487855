//! systemd's service protocol, spoken by the daemon wherever it finds the variables (a unit of
//! `Type=notify`, `systemd-socket-activate`, a test): nothing here needs systemd to be PID 1.
//!
//! - **Readiness and status** ([`Notifier`]): datagrams to `$NOTIFY_SOCKET` (a path, or an
//!   abstract name written `@name`): `READY=1` once the listeners are bound and the store is
//!   open, `STATUS=…`, `RELOADING=1` around a config reload, `STOPPING=1` on stop.
//! - **The watchdog** ([`watchdog_interval`]): `WATCHDOG_USEC` (for us when `WATCHDOG_PID` is
//!   unset or ours); the daemon pings at half the interval, and only after a liveness check.
//! - **Socket activation** ([`capture_activation`], [`take_activated`]): `LISTEN_FDS` sockets
//!   from fd 3 on, for us when `LISTEN_PID` is ours: a Unix stream socket is the operator's
//!   socket (or the users' socket when its `LISTEN_FDNAMES` name is `users`), a TCP one the
//!   HTTP listener. Each is made close-on-exec at once, so no tmux server or agent inherits a
//!   listener.
//! - **The journal** ([`stderr_is_journal`]): `JOURNAL_STREAM` names stderr's device and inode
//!   when stderr is a journal stream; the log then leaves the timestamp to the journal.
//!
//! The workspace forbids `unsafe`, so the variables cannot be removed from our own environment
//! (the `listenfd` crate removes `LISTEN_PID` and `LISTEN_FDS` as it takes the sockets): every
//! one of [`PROTOCOL_VARS`] is removed from what tmux (so its servers and every agent) and
//! the terminal bridge inherit instead (`llmux_core::tmux`).

use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::sync::Mutex;
use std::time::Duration;

/// The protocol's variables: never passed on to tmux or an agent.
pub const PROTOCOL_VARS: &[&str] = llmux_core::tmux::SYSTEMD_VARS;

/// Sends state changes to the service manager; does nothing without `$NOTIFY_SOCKET`.
#[derive(Debug)]
pub struct Notifier {
    target: Option<(SocketAddr, UnixDatagram)>,
}

impl Notifier {
    /// From `$NOTIFY_SOCKET` (unset or unusable: a notifier that sends nothing; unusable is
    /// logged).
    pub fn from_env() -> Notifier {
        let Some(path) = std::env::var_os("NOTIFY_SOCKET").filter(|p| !p.is_empty()) else {
            return Notifier { target: None };
        };
        match notify_target(&path) {
            Ok(target) => Notifier { target: Some(target) },
            Err(e) => {
                tracing::warn!(socket = ?path, error = %e, "cannot use NOTIFY_SOCKET");
                Notifier { target: None }
            }
        }
    }

    /// Whether a service manager listens.
    pub fn is_enabled(&self) -> bool {
        self.target.is_some()
    }

    /// Sends `state` (newline-separated `KEY=value` lines); a failure is logged, not returned:
    /// the daemon serves on either way.
    pub fn notify(&self, state: &str) {
        let Some((addr, socket)) = &self.target else { return };
        if let Err(e) = socket.send_to_addr(state.as_bytes(), addr) {
            tracing::warn!(error = %e, "cannot notify the service manager");
        }
    }
}

fn notify_target(path: &std::ffi::OsStr) -> std::io::Result<(SocketAddr, UnixDatagram)> {
    use std::os::unix::ffi::OsStrExt;
    let bytes = path.as_bytes();
    let addr = match bytes.strip_prefix(b"@") {
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(name)?
        }
        None => SocketAddr::from_pathname(path)?,
    };
    let socket = UnixDatagram::unbound()?;
    // A full queue must never stall the daemon: the message is dropped (and logged) instead.
    socket.set_nonblocking(true)?;
    Ok((addr, socket))
}

/// The watchdog interval asked for (`WATCHDOG_USEC`, when `WATCHDOG_PID` is unset or ours).
pub fn watchdog_interval() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.trim().parse().ok()?;
    if let Ok(pid) = std::env::var("WATCHDOG_PID")
        && pid.trim().parse::<u32>().ok() != Some(std::process::id())
    {
        return None;
    }
    (usec > 0).then(|| Duration::from_micros(usec))
}

/// Whether stderr is the journal (`JOURNAL_STREAM` is `DEVICE:INODE` of stderr).
pub fn stderr_is_journal() -> bool {
    let Ok(value) = std::env::var("JOURNAL_STREAM") else { return false };
    let Some((dev, ino)) = value.trim().split_once(':') else { return false };
    let (Ok(dev), Ok(ino)) = (dev.parse::<u64>(), ino.parse::<u64>()) else { return false };
    match rustix::fs::fstat(std::io::stderr()) {
        Ok(stat) => stat.st_dev == dev && stat.st_ino == ino,
        Err(_) => false,
    }
}

/// Sockets the service manager passed.
#[derive(Debug, Default)]
pub struct Activated {
    /// The operator's Unix socket.
    pub unix: Option<std::os::unix::net::UnixListener>,
    /// A system daemon's users' socket (name `users`).
    pub users: Option<std::os::unix::net::UnixListener>,
    /// The HTTP listener.
    pub tcp: Option<std::net::TcpListener>,
    /// What could not be used, for the log: one line per fd.
    pub refused: Vec<String>,
}

impl Activated {
    /// Whether any socket was passed.
    pub fn is_empty(&self) -> bool {
        self.unix.is_none() && self.users.is_none() && self.tcp.is_none()
    }
}

static ACTIVATED: Mutex<Option<Activated>> = Mutex::new(None);

/// Takes the sockets of `LISTEN_FDS` (if they are ours) and makes each close-on-exec. Call it
/// first thing in `main`, before any thread starts: the `listenfd` crate removes `LISTEN_PID`
/// and `LISTEN_FDS` from the environment as it reads them.
pub fn capture_activation() {
    if std::env::var_os("LISTEN_FDS").is_none() {
        return;
    }
    let names: Vec<String> = std::env::var("LISTEN_FDNAMES")
        .map(|n| n.split(':').map(str::to_owned).collect())
        .unwrap_or_default();
    let mut fds = listenfd::ListenFd::from_env();
    let mut found = Activated::default();
    for i in 0..fds.len() {
        let name = names.get(i).map(String::as_str).unwrap_or("");
        let fd = i + 3;
        match fds.take_unix_listener(i) {
            Ok(Some(listener)) => {
                let slot = if name == "users" { &mut found.users } else { &mut found.unix };
                if slot.is_some() {
                    found.refused.push(format!("fd {fd} ({name}): a second Unix socket"));
                } else {
                    *slot = Some(listener);
                }
                continue;
            }
            Ok(None) => continue,
            Err(_) => {}
        }
        match fds.take_tcp_listener(i) {
            Ok(Some(listener)) if found.tcp.is_none() => found.tcp = Some(listener),
            Ok(Some(_)) => found.refused.push(format!("fd {fd} ({name}): a second TCP socket")),
            Ok(None) => {}
            Err(e) => {
                // Not a listener we use: datagram sockets are still taken (and so made
                // close-on-exec) and dropped, so no child inherits them.
                let _ = fds.take_unix_datagram(i).map(drop);
                let _ = fds.take_udp_socket(i).map(drop);
                found.refused.push(format!("fd {fd} ({name}): {e}"));
            }
        }
    }
    *ACTIVATED.lock().unwrap_or_else(|e| e.into_inner()) = Some(found);
}

/// The sockets [`capture_activation`] found (once; later calls get none).
pub fn take_activated() -> Activated {
    ACTIVATED.lock().unwrap_or_else(|e| e.into_inner()).take().unwrap_or_default()
}
