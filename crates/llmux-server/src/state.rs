//! `AppState`: what every handler can reach. Cheap to clone (all `Arc`s).

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

use llmux_auth::AuthService;
use llmux_core::config::effective::{EffectiveConfig, Layers};
use llmux_core::sessions::SessionService;

use crate::logbuf::LogBuffer;

/// Shared state of every handler.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The session service.
    pub sessions: Arc<SessionService>,
    /// Session actions on behalf of a principal (policy, 404 masking, names, audit): what
    /// handlers call instead of the service.
    pub facade: llmux_auth::Sessions,
    /// The outcomes of requests made with an `Idempotency-Key`.
    pub(crate) idempotency: Arc<crate::idempotency::Keys>,
    /// Users, credentials, audit.
    pub auth: Arc<AuthService>,
    /// The log ring buffer.
    pub logs: Arc<LogBuffer>,
    /// Host, origin and cookie rules for TCP requests.
    pub web: Arc<WebPolicy>,
    /// Notifications: Web Push devices, opt-ins, webhook; `on_state` for every state change.
    pub notifier: Arc<llmux_notify::Notifier>,
    /// What `GET /api/settings` reports.
    pub info: Arc<DaemonInfo>,
    /// Fleet hosts (issue 17): their sessions in the lists, relays to them.
    pub fleet: Arc<llmux_fleet::Fleet>,
    /// `GET /api/sessions` for admins, serialized once per generation of the session list
    /// (and of the fleet's, when it has hosts).
    pub(crate) list_cache: Arc<std::sync::Mutex<(ListKey, bytes::Bytes)>>,
    /// Per-user caps on open WebSockets and event streams.
    pub(crate) streams: Arc<crate::StreamCaps>,
    /// The Prometheus metrics (`GET /metrics`).
    pub(crate) metrics: Arc<crate::metrics::Metrics>,
    /// Connection timeouts and the TCP cap, for [`crate::serve`].
    pub(crate) limits: llmux_core::config::Limits,
    /// Turns true when the daemon stops: event streams and terminal WebSockets end with a
    /// reason ([`AppState::begin_stop`]).
    pub(crate) stopping: Arc<tokio::sync::watch::Sender<bool>>,
    /// How many event streams and terminal WebSockets are open ([`AppState::stream_guard`]):
    /// a stop waits for them to have said goodbye.
    pub(crate) open_streams: Arc<tokio::sync::watch::Sender<usize>>,
}

/// Counts one open event stream or terminal WebSocket while it lives.
#[derive(Debug)]
pub(crate) struct StreamGuard(Arc<tokio::sync::watch::Sender<usize>>);

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n -= 1);
    }
}

impl AppState {
    /// Tells every event stream and terminal WebSocket that the daemon is stopping.
    pub fn begin_stop(&self) {
        self.stopping.send_replace(true);
    }

    /// Counts a stream as open until the guard drops.
    pub(crate) fn stream_guard(&self) -> StreamGuard {
        self.open_streams.send_modify(|n| *n += 1);
        StreamGuard(self.open_streams.clone())
    }

    /// Waits (`within` at most) until every event stream and terminal WebSocket has ended.
    pub async fn streams_closed(&self, within: std::time::Duration) -> bool {
        let mut rx = self.open_streams.subscribe();
        tokio::time::timeout(within, async move {
            let _ = rx.wait_for(|n| *n == 0).await;
        })
        .await
        .is_ok()
    }

    /// Completes once [`AppState::begin_stop`] was called.
    pub(crate) fn stopped(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.stopping.subscribe();
        async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }
    }

    /// The full session list as JSON, with the fleet's remote sessions after the local ones
    /// when `with_fleet`, cached until either list changes.
    pub(crate) fn list_json(&self, with_fleet: bool) -> axum::response::Response {
        use axum::response::IntoResponse;
        let key = (self.sessions.generation(), with_fleet.then(|| self.fleet.generation()));
        let cached = {
            let cache = self.list_cache.lock().expect("list cache lock");
            (cache.0 == key).then(|| cache.1.clone())
        };
        let body = match cached {
            Some(body) => body,
            None => {
                let local = self.sessions.list();
                let remote = if with_fleet { self.fleet.sessions(None) } else { Vec::new() };
                let all: Vec<&llmux_api::SessionView> = local.iter().chain(&remote).collect();
                let body = bytes::Bytes::from(serde_json::to_vec(&all).expect("views serialize"));
                *self.list_cache.lock().expect("list cache lock") = (key, body.clone());
                body
            }
        };
        ([(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response()
    }
}

/// What a cached list was built from: the session list's generation and, when it includes
/// remote sessions, the fleet's.
pub(crate) type ListKey = (u64, Option<u64>);

/// Which `Host` and `Origin` values TCP requests may carry, and how cookies are set.
#[derive(Debug, Clone, Default)]
pub struct WebPolicy {
    /// Host names (lower case, no port) accepted besides IP literals and `localhost`.
    pub allowed_hosts: HashSet<String>,
    /// Origins (`scheme://host[:port]`) accepted besides the request's own.
    pub allowed_origins: HashSet<String>,
    /// Always set `Secure` on cookies (the public URL is https).
    pub secure_cookies: bool,
}

/// Facts about the running daemon for the settings page.
#[derive(Debug, Default)]
pub struct DaemonInfo {
    /// Every config layer as read at start, the overlay kept current by the settings API:
    /// `GET /api/settings` resolves them ([`EffectiveConfig::resolve`]) as `server start` did.
    /// An async lock: a change holds it while the overlay file is written, so the file and
    /// what is reported cannot disagree.
    pub config: tokio::sync::RwLock<Layers>,
    /// The state dir.
    pub state_dir: PathBuf,
    /// The Unix socket.
    pub socket: PathBuf,
    /// The overlay file.
    pub overlay: PathBuf,
    /// Where the daemon can be reached (label, URL).
    pub endpoints: Vec<(String, String)>,
    /// The configured public URL, if any.
    pub public_url: Option<String>,
}

impl DaemonInfo {
    /// The configuration in effect now.
    pub async fn effective(&self) -> EffectiveConfig {
        EffectiveConfig::resolve(&*self.config.read().await)
    }
}
