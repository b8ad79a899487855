//! One host's link: a task that connects (over its transport), reads the host's `/api/events`
//! stream into the hub's cache, and reconnects with backoff when it breaks. A reconnect
//! resynchronises the whole list (the stream's first event is the full list); a host that
//! goes away keeps its last sessions, marked unreachable.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use llmux_api::{AboutResponse, HostStatus, SessionView, StateEvent};
use llmux_client::{Client, SessionEvent};
use llmux_core::store::{HostAddress, HostRecord};
use llmux_core::time::now_ms;

use crate::ssh::{SshSettings, Tunnel};
use crate::target::SshTarget;

/// First wait after a failure; doubled up to [`MAX_BACKOFF`], reset once connected.
const MIN_BACKOFF: Duration = Duration::from_millis(200);
/// Longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// How often a connected host is asked for its load and memory (and so, proven alive).
const ABOUT_EVERY: Duration = Duration::from_secs(10);
/// How long one request of the link may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// What the hub knows of one host now.
#[derive(Debug, Clone)]
pub(crate) struct Known {
    pub status: HostStatus,
    pub error: Option<String>,
    pub last_seen: Option<i64>,
    pub about: Option<AboutResponse>,
    /// The host's own view (names as the host has them).
    pub sessions: Vec<SessionView>,
    /// A client of the host while connected.
    pub client: Option<Client>,
}

/// One host: its record, what is known, and the task keeping it fresh (aborted on drop).
#[derive(Debug)]
pub(crate) struct Link {
    pub record: HostRecord,
    /// The host's user mapping now (the record's, then as edited).
    pub users: std::sync::RwLock<llmux_api::HostUsers>,
    pub known: Mutex<Known>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Drop for Link {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A way to reach the host: a client, and the tunnel it goes through (SSH).
pub(crate) struct Connection {
    pub client: Client,
    pub tunnel: Option<Tunnel>,
}

impl Link {
    pub fn new(record: HostRecord) -> Arc<Link> {
        Arc::new(Link {
            users: std::sync::RwLock::new(record.users.clone()),
            record,
            known: Mutex::new(Known {
                status: HostStatus::Connecting,
                error: None,
                last_seen: None,
                about: None,
                sessions: Vec::new(),
                client: None,
            }),
            task: Mutex::new(None),
        })
    }

    /// Stops the task (its connection and tunnel close with it). The task holds the link
    /// while it follows the host's stream, so dropping the registry's handle alone would not.
    pub fn stop(&self) {
        if let Some(task) = self.task.lock().expect("link task lock").take() {
            task.abort();
        }
    }

    /// Starts the task; `changed` is called after every change of the host's status or list,
    /// `on_state` with each state change of one of its agents (host's names).
    pub fn spawn(
        self: &Arc<Link>,
        ssh: SshSettings,
        changed: Arc<dyn Fn() + Send + Sync>,
        on_state: Arc<dyn Fn(StateEvent) + Send + Sync>,
    ) {
        let weak = Arc::downgrade(self);
        let task = tokio::spawn(async move {
            let mut backoff = MIN_BACKOFF;
            loop {
                let Some(link) = weak.upgrade() else { return };
                let record = link.record.clone();
                drop(link);
                let outcome = connect(&record, &ssh).await;
                let Some(link) = weak.upgrade() else { return };
                match outcome {
                    Ok(conn) => {
                        let ended = link.follow(conn, &changed, &on_state).await;
                        // Reached: the next failure starts the backoff from the bottom.
                        backoff = MIN_BACKOFF;
                        link.down(ended, &changed);
                    }
                    Err(e) => link.down(e, &changed),
                }
                drop(link);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        });
        *self.task.lock().expect("link task lock") = Some(task);
    }

    /// Reads the host's event stream until it ends; why it ended.
    async fn follow(
        &self,
        mut conn: Connection,
        changed: &Arc<dyn Fn() + Send + Sync>,
        on_state: &Arc<dyn Fn(StateEvent) + Send + Sync>,
    ) -> String {
        let first = match about(&conn.client).await {
            Ok(first) => first,
            Err(e) => return e,
        };
        let mut events = match conn.client.events().await {
            Ok(events) => events,
            Err(e) => return describe(&e),
        };
        {
            let mut k = self.known.lock().expect("known lock");
            k.about = Some(first);
            k.client = Some(conn.client.clone());
            k.last_seen = Some(now_ms());
        }
        tracing::info!(host = %self.record.name, "fleet host connected");
        let mut tick = tokio::time::interval(ABOUT_EVERY);
        tick.tick().await;
        loop {
            let tunnel_closed = async {
                match conn.tunnel.as_mut() {
                    Some(t) => t.closed().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                event = events.next() => match event {
                    Some(Ok(SessionEvent::Sessions(list))) => {
                        let mut k = self.known.lock().expect("known lock");
                        k.sessions = list;
                        k.status = HostStatus::Up;
                        k.error = None;
                        k.last_seen = Some(now_ms());
                        drop(k);
                        changed();
                    }
                    Some(Ok(SessionEvent::State(ev))) => {
                        // The host sends no list for a state change: the cached view follows.
                        let mut k = self.known.lock().expect("known lock");
                        k.last_seen = Some(now_ms());
                        if let Some(s) = k.sessions.iter_mut().find(|s| s.name == ev.name) {
                            s.state = ev.state;
                            s.state_since = ev.since.clone();
                            s.waiting_for = ev.waiting_for.clone();
                            s.prompt = ev.prompt.clone();
                        }
                        drop(k);
                        on_state(ev);
                    }
                    Some(Err(e)) => return describe(&e),
                    None => return "the host ended its event stream".into(),
                },
                () = tunnel_closed => return "the SSH connection closed".into(),
                _ = tick.tick() => match about(&conn.client).await {
                    Ok(about) => {
                        let mut k = self.known.lock().expect("known lock");
                        k.about = Some(about);
                        k.last_seen = Some(now_ms());
                        drop(k);
                        changed();
                    }
                    Err(e) => return e,
                },
            }
        }
    }

    /// Marks the host down (its sessions kept as last known) with `why`.
    fn down(&self, why: String, changed: &Arc<dyn Fn() + Send + Sync>) {
        let mut k = self.known.lock().expect("known lock");
        let was = k.status;
        k.status = HostStatus::Down;
        k.client = None;
        let new_error = k.error.as_deref() != Some(why.as_str());
        k.error = Some(why.clone());
        drop(k);
        if was != HostStatus::Down || new_error {
            tracing::warn!(host = %self.record.name, error = %why, "fleet host unreachable");
            changed();
        }
    }
}

/// Opens the transport to `record`'s host.
pub(crate) async fn connect(record: &HostRecord, ssh: &SshSettings) -> Result<Connection, String> {
    match &record.address {
        HostAddress::Url { url, token } => {
            let client = Client::remote(url, Some(token.clone())).map_err(|e| e.to_string())?;
            Ok(Connection { client, tunnel: None })
        }
        HostAddress::Ssh { target, socket } => {
            let target = SshTarget::parse(target).map_err(|e| e.to_string())?;
            let remote = match socket {
                Some(s) => s.clone(),
                None => ssh.run(&target, &["llmux", "server", "socket"]).await.map_err(|e| {
                    format!(
                        "{e} (is llmux installed there? or give the host's socket with --socket)"
                    )
                })?,
            };
            let local = forwarded_socket(&ssh.dir, &record.name);
            let tunnel = ssh.open(&target, &remote, &local).await.map_err(|e| e.to_string())?;
            Ok(Connection { client: Client::unix(tunnel.socket()), tunnel: Some(tunnel) })
        }
    }
}

/// The hub's end of a host's forwarded socket: `<dir>/NAME.sock`, or a hash of the name
/// where that would not fit in `sun_path` (108 bytes with its NUL).
pub(crate) fn forwarded_socket(dir: &std::path::Path, name: &str) -> std::path::PathBuf {
    let plain = dir.join(format!("{name}.sock"));
    if plain.as_os_str().len() <= 100 {
        return plain;
    }
    // FNV-1a: stable across runs, so a restarted hub reuses (and unlinks) the same path.
    let hash = name
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    dir.join(format!("{hash:016x}.sock"))
}

/// `GET /api/about`, with a deadline; a failure as text.
pub(crate) async fn about(client: &Client) -> Result<AboutResponse, String> {
    let res =
        tokio::time::timeout(REQUEST_TIMEOUT, client.raw(hyper_get(), "/api/about", None, &[]))
            .await
            .map_err(|_| "the host did not answer in time".to_owned())?
            .map_err(|e| describe(&e))?;
    if !res.status.is_success() {
        return Err(match res.status.as_u16() {
            401 => "the host refused the hub's credential (401): revoked, expired or wrong".into(),
            403 => "the hub's credential on the host may not do this (403)".into(),
            s => format!("the host answered HTTP {s}"),
        });
    }
    serde_json::from_slice(&res.body).map_err(|e| format!("unexpected answer from the host: {e}"))
}

fn hyper_get() -> llmux_client::Method {
    llmux_client::Method::GET
}

/// A client error as the host list shows it.
pub(crate) fn describe(e: &llmux_client::Error) -> String {
    match e {
        llmux_client::Error::Unreachable { target, source } => {
            format!("cannot connect to {target}: {source}")
        }
        llmux_client::Error::Unauthorized { .. } => {
            "the host refused the hub's credential (401): revoked, expired or wrong".into()
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn forwarded_sockets_fit_in_sun_path() {
        let dir = std::path::Path::new("/home/someone/.local/state/llmux/run/ssh");
        assert_eq!(super::forwarded_socket(dir, "gpu"), dir.join("gpu.sock"));
        let long = "a".repeat(64);
        let path = super::forwarded_socket(dir, &long);
        assert!(path.as_os_str().len() <= 100, "{path:?}");
        assert_ne!(path, super::forwarded_socket(dir, &"b".repeat(64)));
    }
}
