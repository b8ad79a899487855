//! Serving connections: our own accept loops over hyper, with the limits `axum::serve` lacks.
//!
//! - A request's head must arrive within the header timeout, counted from the connection's
//!   start or from its first byte after an idle pause; a keep-alive connection with nothing in
//!   flight is closed after the idle timeout. Both are checked by a small watchdog per
//!   connection that knows whether a response (an event stream too) is still being sent, so
//!   long responses are never cut.
//! - TCP connections are capped: beyond the cap a new one gets a one-shot `503` (if its buffer
//!   takes it) and is closed at once, never left hanging. The Unix socket has its own accept
//!   loop and is never capped, so a flood on TCP cannot lock out the local operator.
//! - A connection's slot travels with its socket into a WebSocket upgrade, so upgraded
//!   connections count against the cap until they close.
//! - [`StreamCaps`]: per-user caps on WebSockets and event streams (429 beyond them).
//! - A WebSocket on the Unix socket gets a small send buffer once it is asked for
//!   ([`crate::listen::limit_send_buffer`]: a slow terminal viewer must back up to tmux); plain
//!   responses keep the kernel's, so a large one (the list at 1,000 sessions is ~620 KB) goes
//!   out in one or two writes instead of ten.

use std::collections::HashMap;
use std::io;
use std::os::fd::AsFd;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::StatusCode;
use futures_util::FutureExt;
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use llmux_auth::Principal;
use llmux_core::config::Limits;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;

use crate::error::ApiError;

/// At most one log line per this long about refused connections.
const REFUSAL_LOG_EVERY: Duration = Duration::from_secs(10);
/// How long shutdown waits for open responses (event streams never end on their own).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// What the accept loop of one listener enforces.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnPolicy {
    /// See [`Limits::header_timeout`].
    pub header_timeout: Duration,
    /// See [`Limits::idle_timeout`].
    pub idle_timeout: Duration,
    /// Open connections at once (`None`: no cap).
    pub max_connections: Option<usize>,
}

impl ConnPolicy {
    /// TCP: every limit.
    pub fn tcp(limits: &Limits) -> Self {
        ConnPolicy {
            header_timeout: limits.header_timeout,
            idle_timeout: limits.idle_timeout,
            max_connections: Some(limits.max_tcp_connections),
        }
    }

    /// The Unix socket: the same timeouts, no cap (only the daemon's own uid gets in).
    pub fn unix(limits: &Limits) -> Self {
        ConnPolicy { max_connections: None, ..ConnPolicy::tcp(limits) }
    }
}

/// Accepts connections from `listener` and serves `app` on each until `shutdown` turns true;
/// then stops accepting, lets idle connections close and open responses finish (for at most
/// [`SHUTDOWN_GRACE`]).
pub(crate) async fn serve<L>(
    mut listener: L,
    app: Router,
    policy: ConnPolicy,
    mut shutdown: watch::Receiver<bool>,
) -> io::Result<()>
where
    L: axum::serve::Listener,
    L::Io: AsyncRead + AsyncWrite + AsFd + Unpin + Send + 'static,
    L::Addr: crate::listen::PeerCredentials,
{
    let slots = policy.max_connections.map(|n| Arc::new(Semaphore::new(n)));
    let mut tasks = JoinSet::new();
    // Refusals are logged once per burst (with a count), not once each: a flood must not
    // flood the log too.
    let mut refused = 0u64;
    let mut refusal_logged: Option<Instant> = None;
    loop {
        let (io, addr) = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.wait_for(|v| *v) => break,
        };
        // Reap finished connection tasks so the set does not grow without bound.
        while tasks.try_join_next().is_some() {}
        let permit = match &slots {
            None => None,
            Some(slots) => match slots.clone().try_acquire_owned() {
                Ok(permit) => Some(permit),
                Err(_) => {
                    refuse(io);
                    refused += 1;
                    if refusal_logged.is_none_or(|t| t.elapsed() >= REFUSAL_LOG_EVERY) {
                        tracing::warn!(
                            refused,
                            cap = policy.max_connections,
                            "refused TCP connections: the connection cap is reached"
                        );
                        refused = 0;
                        refusal_logged = Some(Instant::now());
                    }
                    continue;
                }
            },
        };
        let peer = crate::listen::PeerCredentials::peer_uid(&addr).map(crate::listen::PeerUid);
        tasks.spawn(serve_conn(io, peer, permit, app.clone(), policy, shutdown.clone()));
    }
    let _ =
        tokio::time::timeout(SHUTDOWN_GRACE, async { while tasks.join_next().await.is_some() {} })
            .await;
    tasks.abort_all();
    Ok(())
}

/// Over the cap: one non-blocking write of a `503` (whatever the socket buffer takes), then
/// the socket is closed. Never waits on the client.
fn refuse<Io: AsyncWrite + Unpin>(mut io: Io) {
    let body = r#"{"error":"the daemon has too many open connections","code":"busy"}"#;
    let busy = format!(
        "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 5\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = io.write(busy.as_bytes()).now_or_never();
}

/// Serves one connection: hyper's HTTP/1.1 with upgrades, under the header and idle watchdog.
async fn serve_conn<Io>(
    io: Io,
    peer: Option<crate::listen::PeerUid>,
    permit: Option<OwnedSemaphorePermit>,
    app: Router,
    policy: ConnPolicy,
    mut shutdown: watch::Receiver<bool>,
) where
    Io: AsyncRead + AsyncWrite + AsFd + Unpin + Send + 'static,
{
    let activity = Arc::new(Activity::new());
    let io = Tracked {
        inner: io,
        activity: activity.clone(),
        _permit: permit,
        send_buffer_limited: false,
    };
    let svc_activity = activity.clone();
    let service =
        hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            if let Some(peer) = peer {
                req.extensions_mut().insert(peer);
                if is_websocket(&req) {
                    svc_activity.limit_send_buffer.store(true, Ordering::Release);
                }
            }
            let guard = InFlight::start(svc_activity.clone());
            let call = tower::ServiceExt::oneshot(app.clone(), req.map(Body::new));
            async move {
                let res = call.await?;
                // The guard lives as long as the response body: a stream counts as in flight.
                Ok::<_, std::convert::Infallible>(res.map(|body| {
                    Body::new(body.map_frame(move |frame| {
                        let _ = &guard;
                        frame
                    }))
                }))
            }
        });
    let conn = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(conn);
    let mut closing = false;
    loop {
        let deadline = activity.deadline(&policy);
        tokio::select! {
            res = conn.as_mut() => {
                if let Err(e) = res {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            _ = shutdown.wait_for(|v| *v), if !closing => {
                closing = true;
                conn.as_mut().graceful_shutdown();
            }
            _ = activity.changed.notified() => {}
            _ = sleep_until(deadline), if deadline.is_some() => {
                if activity.deadline(&policy).is_some_and(|d| d <= Instant::now()) {
                    tracing::debug!("closed a connection: header or idle timeout");
                    return;
                }
            }
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    if let Some(deadline) = deadline {
        tokio::time::sleep_until(deadline.into()).await;
    }
}

/// Whether a request asks to become a WebSocket (`Upgrade: websocket`).
fn is_websocket<B>(req: &hyper::Request<B>) -> bool {
    req.headers()
        .get(axum::http::header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// What the watchdog knows of one connection.
#[derive(Debug)]
struct Activity {
    state: Mutex<ActivityState>,
    /// Woken when the deadline may have moved (a response ended, a new request began).
    changed: Notify,
    /// Set when a request on a Unix connection asks for a WebSocket: the socket's send buffer
    /// is made small before the next write (the `101` that answers it).
    limit_send_buffer: AtomicBool,
}

#[derive(Debug)]
struct ActivityState {
    /// Requests whose response (body included) is not done.
    in_flight: usize,
    /// When the head now being read began (accept, or the first byte after a pause).
    head_since: Option<Instant>,
    /// When the connection last became idle.
    idle_since: Instant,
}

impl Activity {
    fn new() -> Self {
        let now = Instant::now();
        Activity {
            state: Mutex::new(ActivityState {
                in_flight: 0,
                head_since: Some(now),
                idle_since: now,
            }),
            changed: Notify::new(),
            limit_send_buffer: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ActivityState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// When the connection must close if nothing changes; `None` while a response is open.
    fn deadline(&self, policy: &ConnPolicy) -> Option<Instant> {
        let s = self.lock();
        if s.in_flight > 0 {
            return None;
        }
        Some(match s.head_since {
            Some(since) => since + policy.header_timeout,
            None => s.idle_since + policy.idle_timeout,
        })
    }

    /// Bytes arrived: an idle connection starts a new head, and its clock.
    fn on_read(&self) {
        let mut s = self.lock();
        if s.in_flight == 0 && s.head_since.is_none() {
            s.head_since = Some(Instant::now());
            drop(s);
            self.changed.notify_one();
        }
    }
}

/// One request in flight, from its parsed head to the end of its response body.
struct InFlight(Arc<Activity>);

impl InFlight {
    fn start(activity: Arc<Activity>) -> Self {
        {
            let mut s = activity.lock();
            s.in_flight += 1;
            s.head_since = None;
        }
        activity.changed.notify_one();
        InFlight(activity)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        {
            let mut s = self.0.lock();
            s.in_flight -= 1;
            s.idle_since = Instant::now();
        }
        self.0.changed.notify_one();
    }
}

/// A connection's socket, which reports reads to the watchdog and holds the connection's slot
/// under the cap for as long as the socket lives (through a WebSocket upgrade too).
struct Tracked<Io> {
    inner: Io,
    activity: Arc<Activity>,
    _permit: Option<OwnedSemaphorePermit>,
    /// Whether [`Activity::limit_send_buffer`] was applied to the socket.
    send_buffer_limited: bool,
}

impl<Io: AsFd> Tracked<Io> {
    /// Before a write: limits the send buffer once a WebSocket was asked for.
    fn before_write(&mut self) {
        if !self.send_buffer_limited && self.activity.limit_send_buffer.load(Ordering::Acquire) {
            self.send_buffer_limited = true;
            crate::listen::limit_send_buffer(&self.inner);
        }
    }
}

impl<Io: AsyncRead + Unpin> AsyncRead for Tracked<Io> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let res = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(res, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.on_read();
        }
        res
    }
}

impl<Io: AsyncWrite + AsFd + Unpin> AsyncWrite for Tracked<Io> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.before_write();
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.before_write();
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Raises the soft limit on open files to the hard limit, so the TCP cap (not the kernel's
/// default soft limit of 1024) is what bounds connections, with room left for the Unix
/// socket, tmux, the store and sessions. Returns the soft limit now in effect.
pub(crate) fn raise_fd_limit() -> Option<u64> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        limit.current = limit.maximum;
        if let Err(e) = setrlimit(Resource::Nofile, limit) {
            tracing::warn!(error = %e, "cannot raise the open-files limit");
        }
    }
    getrlimit(Resource::Nofile).current
}

/// Which kind of long-lived stream a slot is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum StreamKind {
    /// A terminal WebSocket (`/ws/NAME`).
    WebSocket,
    /// A server-sent event stream.
    EventStream,
}

/// Per-user caps on open WebSockets and event streams. The local operator (Unix socket) is
/// not capped; a user's tokens and browsers share one count, so minting more credentials does
/// not buy more streams.
#[derive(Debug)]
pub struct StreamCaps {
    max_websockets: usize,
    max_event_streams: usize,
    open: Mutex<HashMap<(StreamKind, String), usize>>,
}

impl StreamCaps {
    /// Caps from the limits in effect.
    pub fn new(limits: &Limits) -> Self {
        StreamCaps {
            max_websockets: limits.max_websockets_per_user,
            max_event_streams: limits.max_event_streams_per_user,
            open: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a slot for one stream of `principal`, held until the returned guard drops;
    /// 429 when the user already has the maximum open.
    pub(crate) fn acquire(
        self: &Arc<Self>,
        kind: StreamKind,
        principal: &Principal,
    ) -> Result<StreamSlot, ApiError> {
        let Principal::User(user) = principal else {
            return Ok(StreamSlot(None));
        };
        let (max, what) = match kind {
            StreamKind::WebSocket => (self.max_websockets, "terminal WebSockets"),
            StreamKind::EventStream => (self.max_event_streams, "event streams"),
        };
        let key = (kind, user.username.clone());
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let count = open.entry(key.clone()).or_insert(0);
        if *count >= max {
            tracing::warn!(user = %user.username, kind = ?kind, max, "refused a stream over the cap");
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_streams",
                format!("{what}: at most {max} open per user; close one first"),
            ));
        }
        *count += 1;
        Ok(StreamSlot(Some((self.clone(), key))))
    }
}

/// One open stream's slot under [`StreamCaps`]; freed on drop.
#[derive(Debug)]
pub(crate) struct StreamSlot(Option<(Arc<StreamCaps>, (StreamKind, String))>);

impl Drop for StreamSlot {
    fn drop(&mut self) {
        if let Some((caps, key)) = self.0.take() {
            let mut open = caps.open.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(count) = open.get_mut(&key) {
                *count -= 1;
                if *count == 0 {
                    open.remove(&key);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use llmux_api::TokenScope;
    use llmux_auth::{UserPrincipal, Via};

    fn alice() -> Principal {
        Principal::User(UserPrincipal {
            username: "alice".into(),
            name: "Alice".into(),
            admin: false,
            via: Via::Cookie { session_id: "s".into(), scope: TokenScope::Admin },
            limit: None,
            on_behalf_of: None,
            relayed_by: None,
        })
    }

    #[test]
    fn stream_caps_count_per_user_and_free_on_drop() {
        let limits = Limits { max_websockets_per_user: 2, ..Limits::default() };
        let caps = Arc::new(StreamCaps::new(&limits));
        let a = caps.acquire(StreamKind::WebSocket, &alice()).unwrap();
        let _b = caps.acquire(StreamKind::WebSocket, &alice()).unwrap();
        let err = caps.acquire(StreamKind::WebSocket, &alice()).unwrap_err();
        assert_eq!(err.status(), StatusCode::TOO_MANY_REQUESTS);
        // Another kind and the local operator are counted apart.
        let _e = caps.acquire(StreamKind::EventStream, &alice()).unwrap();
        for _ in 0..5 {
            std::mem::forget(caps.acquire(StreamKind::WebSocket, &Principal::LocalOperator));
        }
        drop(a);
        let _c = caps.acquire(StreamKind::WebSocket, &alice()).unwrap();
    }

    #[test]
    fn watchdog_deadlines() {
        let policy = ConnPolicy {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: None,
        };
        let a = Arc::new(Activity::new());
        let start = a.lock().head_since.unwrap();
        assert_eq!(a.deadline(&policy), Some(start + policy.header_timeout));
        let guard = InFlight::start(a.clone());
        a.on_read();
        assert_eq!(a.deadline(&policy), None);
        drop(guard);
        let idle = a.lock().idle_since;
        assert_eq!(a.deadline(&policy), Some(idle + policy.idle_timeout));
        a.on_read();
        let head = a.lock().head_since.unwrap();
        assert_eq!(a.deadline(&policy), Some(head + policy.header_timeout));
    }
    /// Sends one request on `client` and reads its whole response (the route answers `ok`).
    async fn get(client: &mut tokio::net::UnixStream, headers: &str) -> String {
        use tokio::io::AsyncReadExt;
        let request = format!("GET / HTTP/1.1\r\nhost: x\r\n{headers}\r\n");
        client.write_all(request.as_bytes()).await.unwrap();
        let mut response = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !response.ends_with(b"ok") {
            assert!(Instant::now() < deadline, "no response: {response:?}");
            let mut buf = [0u8; 4096];
            let n = tokio::time::timeout(Duration::from_secs(10), client.read(&mut buf))
                .await
                .expect("the response in time")
                .unwrap();
            assert!(n > 0, "closed before the response ended: {response:?}");
            response.extend_from_slice(&buf[..n]);
        }
        String::from_utf8(response).unwrap()
    }

    #[tokio::test]
    async fn a_unix_connection_gets_the_small_send_buffer_once_it_asks_for_a_websocket() {
        let (server, mut client) = tokio::net::UnixStream::pair().unwrap();
        // The same socket through a second descriptor, to read its option while hyper owns it.
        let probe = server.as_fd().try_clone_to_owned().unwrap();
        let send_buffer = || socket2::SockRef::from(&probe).send_buffer_size().unwrap();
        let default = send_buffer();
        let app = Router::new().route("/", axum::routing::get(|| async { "ok" }));
        let (_stop, stopped) = watch::channel(false);
        let policy = ConnPolicy::unix(&Limits::default());
        let peer = Some(crate::listen::PeerUid(0));
        tokio::spawn(serve_conn(server, peer, None, app, policy, stopped));

        // A plain request (a large list) keeps the kernel's buffer: few writes per response.
        assert!(get(&mut client, "").await.starts_with("HTTP/1.1 200"));
        assert_eq!(send_buffer(), default);
        // A WebSocket's screens must back up to tmux when the viewer is slow.
        get(&mut client, "connection: upgrade\r\nupgrade: websocket\r\n").await;
        let limited = send_buffer();
        assert!(
            limited < default && limited >= 64 * 1024,
            "send buffer {limited} (kernel default {default})"
        );
    }
}
