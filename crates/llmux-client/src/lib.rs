//! A typed client of the llmux API, used by the CLI, the tests and the benchmarks.
//!
//! One [`Client`] type over two transports: HTTP/1.1 on the daemon's Unix socket
//! ([`Client::unix`], the local operator) or on TCP, plain or TLS ([`Client::remote`], with a
//! bearer token). Every method works over either. Errors separate "cannot reach the daemon"
//! ([`Error::Unreachable`]) from a refused credential ([`Error::Unauthorized`]) and other API
//! errors, so the CLI can print the right hint.

mod accounts;
mod agent;
mod hosts;
mod review;
mod sse;
mod url;
mod ws;

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, HeaderValue};
use hyper::{Request, Response};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use llmux_api::{
    AgentView, BroadcastRequest, BroadcastResponse, CaptureResponse, CreateSessionRequest,
    EditSessionRequest, ErrorBody, HealthResponse, KillResponse, OkResponse, QueueEditRequest,
    QueueItem, QueueResponse, SendRequest, SendResponse, SessionResponse, SessionView,
    UploadResponse, VersionResponse,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::net::UnixStream;

pub use crate::agent::{EventStream, SessionEvent};
pub use crate::sse::LogStream;
pub use crate::url::ServerUrl;
pub use crate::ws::{AttachOptions, Io, Terminal};
/// HTTP methods and statuses, for [`Client::raw`] callers.
pub use hyper::{Method, StatusCode};

/// What went wrong talking to the daemon.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Nothing answers at the target: no daemon on the socket (not running, or a stale socket),
    /// or a TCP server that cannot be reached (refused, DNS, timeout, TLS handshake).
    #[error("cannot connect to {target}")]
    Unreachable {
        /// The socket path or server URL.
        target: String,
        /// Why.
        source: std::io::Error,
    },
    /// The server wants a (valid) credential: HTTP 401.
    #[error("{message}")]
    Unauthorized {
        /// The server URL (none on the Unix socket).
        server: Option<String>,
        /// Stable error code.
        code: String,
        /// Human message from the server.
        message: String,
    },
    /// The daemon answered with another error status.
    #[error("{message}")]
    Api {
        /// HTTP status.
        status: StatusCode,
        /// Stable error code.
        code: String,
        /// Human message from the daemon.
        message: String,
    },
    /// The server URL given to [`Client::remote`] is not usable.
    #[error("invalid server URL {url:?}: {reason}")]
    InvalidUrl {
        /// As given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The token cannot be sent in an HTTP header (spaces or control characters).
    #[error("the token has characters that cannot be sent in an HTTP header")]
    InvalidToken,
    /// The exchange itself failed (connection dropped, bad JSON, …).
    #[error("talking to the daemon failed: {0}")]
    Protocol(String),
}

impl Error {
    /// The HTTP status of an API error (401 for [`Error::Unauthorized`]).
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Error::Api { status, .. } => Some(*status),
            Error::Unauthorized { .. } => Some(StatusCode::UNAUTHORIZED),
            _ => None,
        }
    }

    /// The stable error code of an API error.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Api { code, .. } | Error::Unauthorized { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A raw response: status and body.
#[derive(Debug, Clone)]
pub struct RawResponse {
    /// HTTP status.
    pub status: StatusCode,
    /// Response headers.
    pub headers: hyper::HeaderMap,
    /// Body bytes.
    pub body: Bytes,
}

type TcpClient = hyper_util::client::legacy::Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

#[derive(Clone)]
enum Transport {
    /// One connection per request: the socket is local, connecting costs microseconds.
    Unix(PathBuf),
    /// A pooled client (keep-alive matters for TLS).
    Tcp { base: ServerUrl, http: TcpClient },
}

/// A client of one daemon.
#[derive(Clone)]
pub struct Client {
    transport: Transport,
    /// `Bearer <token>`, marked sensitive so it is never logged.
    auth: Option<HeaderValue>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("target", &self.target())
            .field("token", &self.auth.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// How long a TCP connect (with DNS) may take before the server counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

impl Client {
    /// A client of the daemon listening on the Unix socket `socket`.
    pub fn unix(socket: impl Into<PathBuf>) -> Client {
        Client { transport: Transport::Unix(socket.into()), auth: None }
    }

    /// A client of the server at `base_url` (`http://host:port` or `https://host[/prefix]`),
    /// sending `token` as `Authorization: Bearer <token>` on every request.
    ///
    /// `https` verifies the server against the system's roots (Mozilla's where the system has
    /// none). Nothing connects until the first request.
    pub fn remote(base_url: &str, token: Option<String>) -> Result<Client> {
        let base = ServerUrl::parse(base_url)?;
        let auth = token
            .map(|t| {
                let mut value = HeaderValue::try_from(format!("Bearer {t}"))
                    .map_err(|_| Error::InvalidToken)?;
                value.set_sensitive(true);
                Ok(value)
            })
            .transpose()?;
        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        tcp.set_connect_timeout(Some(CONNECT_TIMEOUT));
        tcp.set_nodelay(true);
        let tls = if base.is_https() { tls_config()? } else { plain_config() };
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(tcp);
        let http = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Ok(Client { transport: Transport::Tcp { base, http }, auth })
    }

    /// The socket path, for a Unix-socket client.
    pub fn socket(&self) -> Option<&Path> {
        match &self.transport {
            Transport::Unix(path) => Some(path),
            Transport::Tcp { .. } => None,
        }
    }

    /// The server URL, for a TCP client.
    pub fn server_url(&self) -> Option<&ServerUrl> {
        match &self.transport {
            Transport::Unix(_) => None,
            Transport::Tcp { base, .. } => Some(base),
        }
    }

    /// What this client talks to: the socket path or the server URL.
    pub fn target(&self) -> String {
        match &self.transport {
            Transport::Unix(path) => path.display().to_string(),
            Transport::Tcp { base, .. } => base.to_string(),
        }
    }

    /// Sends one request and returns the raw response (any status).
    ///
    /// The client's bearer token is added unless `headers` has its own `Authorization`.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        body: Option<(Bytes, &str)>,
        headers: &[(&str, &str)],
    ) -> Result<RawResponse> {
        let res = self.request(method, path, body, headers).await?;
        let status = res.status();
        let headers = res.headers().clone();
        let body =
            res.into_body().collect().await.map_err(|e| Error::Protocol(e.to_string()))?.to_bytes();
        Ok(RawResponse { status, headers, body })
    }

    /// Sends one request; the body of the response is left to stream.
    async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<(Bytes, &str)>,
        headers: &[(&str, &str)],
    ) -> Result<Response<Incoming>> {
        let mut builder = Request::builder().method(method);
        builder = match &self.transport {
            Transport::Unix(_) => builder.uri(path).header("host", "localhost"),
            // hyper-util sets Host from the URI.
            Transport::Tcp { base, .. } => builder.uri(base.join(path)),
        };
        if let Some(auth) = &self.auth
            && !headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("authorization"))
        {
            builder = builder.header(AUTHORIZATION, auth.clone());
        }
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let body = match body {
            Some((bytes, content_type)) => {
                builder = builder.header("content-type", content_type);
                bytes
            }
            None => Bytes::new(),
        };
        let req = builder.body(Full::new(body)).map_err(|e| Error::Protocol(e.to_string()))?;
        match &self.transport {
            Transport::Unix(socket) => {
                let stream = UnixStream::connect(socket).await.map_err(|source| {
                    Error::Unreachable { target: socket.display().to_string(), source }
                })?;
                let (mut sender, conn) =
                    hyper::client::conn::http1::handshake(TokioIo::new(stream))
                        .await
                        .map_err(|e| Error::Protocol(e.to_string()))?;
                tokio::spawn(async move {
                    let _ = conn.await;
                });
                sender.send_request(req).await.map_err(|e| Error::Protocol(e.to_string()))
            }
            Transport::Tcp { base, http } => http.request(req).await.map_err(|e| {
                if e.is_connect() {
                    // hyper-util's own message is only "client error (Connect)": the causes say it.
                    let cause = std::error::Error::source(&e).unwrap_or(&e);
                    Error::Unreachable { target: base.to_string(), source: io_error(cause) }
                } else {
                    Error::Protocol(chain_text(&e))
                }
            }),
        }
    }

    /// The error for a non-2xx response.
    fn api_error(&self, status: StatusCode, body: &[u8]) -> Error {
        let (message, code) = match serde_json::from_slice::<ErrorBody>(body) {
            Ok(e) => (e.error, e.code),
            Err(_) => (format!("HTTP {status}"), String::new()),
        };
        if status == StatusCode::UNAUTHORIZED {
            let server = self.server_url().map(ToString::to_string);
            return Error::Unauthorized { server, code, message };
        }
        Error::Api { status, code, message }
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&impl Serialize>,
    ) -> Result<T> {
        self.call_with(method, path, body, &[]).await
    }

    /// [`Client::call`] with a fresh `Idempotency-Key`: the daemon applies it at most once.
    pub(crate) async fn call_once<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&impl Serialize>,
    ) -> Result<T> {
        let key = idempotency_key();
        self.call_with(method, path, body, &[("idempotency-key", &key)]).await
    }

    async fn call_with<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&impl Serialize>,
        headers: &[(&str, &str)],
    ) -> Result<T> {
        let body = body
            .map(|b| serde_json::to_vec(b).map(|v| (Bytes::from(v), "application/json")))
            .transpose()
            .map_err(|e| Error::Protocol(e.to_string()))?;
        let res = self.raw(method, path, body, headers).await?;
        self.decode(res)
    }

    /// The JSON body of a 2xx response, or the error a non-2xx one carries.
    fn decode<T: DeserializeOwned>(&self, res: RawResponse) -> Result<T> {
        if !res.status.is_success() {
            return Err(self.api_error(res.status, &res.body));
        }
        serde_json::from_slice(&res.body)
            .map_err(|e| Error::Protocol(format!("unexpected response from the daemon: {e}")))
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.call(Method::GET, path, None::<&()>).await
    }

    async fn post<T: DeserializeOwned>(&self, path: &str, body: &impl Serialize) -> Result<T> {
        self.call(Method::POST, path, Some(body)).await
    }

    async fn delete<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.call(Method::DELETE, path, None::<&()>).await
    }

    /// `GET /health`.
    pub async fn health(&self) -> Result<HealthResponse> {
        self.get("/health").await
    }

    /// `GET /api/version`.
    pub async fn version(&self) -> Result<VersionResponse> {
        self.get("/api/version").await
    }

    /// `GET /api/sessions`.
    pub async fn list_sessions(&self) -> Result<Vec<SessionView>> {
        self.get("/api/sessions").await
    }

    /// `GET /api/sessions?host=HOST`: one fleet host's sessions on a hub (`local`: its own).
    pub async fn list_sessions_on(&self, host: &str) -> Result<Vec<SessionView>> {
        self.get(&format!("/api/sessions?host={}", encode_segment(host))).await
    }

    /// `GET /api/sessions/{name}`.
    pub async fn session(&self, name: &str) -> Result<SessionView> {
        self.get(&session_path(name, "")).await
    }

    /// `POST /api/sessions`.
    pub async fn create_session(&self, req: &CreateSessionRequest) -> Result<SessionView> {
        Ok(self.post::<SessionResponse>("/api/sessions", req).await?.session)
    }

    /// `PATCH /api/sessions/{name}`.
    pub async fn edit_session(&self, name: &str, req: &EditSessionRequest) -> Result<SessionView> {
        let res: SessionResponse =
            self.call(Method::PATCH, &session_path(name, ""), Some(req)).await?;
        Ok(res.session)
    }

    /// `DELETE /api/sessions/{name}[?force=true]`.
    pub async fn remove_session(&self, name: &str, force: bool) -> Result<()> {
        self.remove_session_with(name, force, None).await
    }

    /// `DELETE /api/sessions/{name}?force=…&branch=…`: with a choice of what becomes of the
    /// branch of a worktree that has work in it.
    pub async fn remove_session_with(
        &self,
        name: &str,
        force: bool,
        branch: Option<llmux_api::BranchChoice>,
    ) -> Result<()> {
        let mut query = Vec::new();
        if force {
            query.push("force=true");
        }
        match branch {
            Some(llmux_api::BranchChoice::Keep) => query.push("branch=keep"),
            Some(llmux_api::BranchChoice::Delete) => query.push("branch=delete"),
            None => {}
        }
        let query = if query.is_empty() { String::new() } else { format!("?{}", query.join("&")) };
        let path = format!("{}{query}", session_path(name, ""));
        self.delete::<OkResponse>(&path).await.map(drop)
    }

    /// `POST /api/sessions/{name}/stop`.
    pub async fn stop_session(&self, name: &str) -> Result<SessionView> {
        Ok(self.post::<SessionResponse>(&session_path(name, "/stop"), &()).await?.session)
    }

    /// `POST /api/sessions/{name}/kill`: stop and remove.
    pub async fn kill_session(&self, name: &str) -> Result<KillResponse> {
        self.post(&session_path(name, "/kill"), &()).await
    }

    /// `POST /api/sessions/{name}/respawn`.
    pub async fn restart_session(&self, name: &str) -> Result<SessionView> {
        Ok(self.post::<SessionResponse>(&session_path(name, "/respawn"), &()).await?.session)
    }

    /// `POST /api/sessions/{name}/send` (with an `Idempotency-Key`).
    pub async fn send(&self, name: &str, prompt: &str, enter: bool) -> Result<()> {
        let req =
            SendRequest { prompt: prompt.to_owned(), enter: Some(enter), ..Default::default() };
        self.send_request(name, &req).await.map(drop)
    }

    /// `POST /api/sessions/{name}/send` with any request (a scheduled one answers `queued`).
    pub async fn send_request(&self, name: &str, req: &SendRequest) -> Result<SendResponse> {
        self.call_once(Method::POST, &session_path(name, "/send"), Some(req)).await
    }

    /// `POST /api/sessions/broadcast` (with an `Idempotency-Key`).
    pub async fn broadcast(&self, req: &BroadcastRequest) -> Result<BroadcastResponse> {
        self.call_once(Method::POST, "/api/sessions/broadcast", Some(req)).await
    }

    /// `GET /api/sessions/{name}/queue`.
    pub async fn queue(&self, name: &str) -> Result<QueueResponse> {
        self.get(&session_path(name, "/queue")).await
    }

    /// `PATCH /api/sessions/{name}/queue/{id}`.
    pub async fn queue_edit(
        &self,
        name: &str,
        id: i64,
        req: &QueueEditRequest,
    ) -> Result<QueueItem> {
        self.call_once(Method::PATCH, &session_path(name, &format!("/queue/{id}")), Some(req)).await
    }

    /// `DELETE /api/sessions/{name}/queue/{id}`.
    pub async fn queue_cancel(&self, name: &str, id: i64) -> Result<()> {
        self.call_once::<OkResponse>(
            Method::DELETE,
            &session_path(name, &format!("/queue/{id}")),
            None::<&()>,
        )
        .await
        .map(drop)
    }

    /// `GET /api/sessions/{name}/capture?lines=N`.
    pub async fn capture(&self, name: &str, lines: u32) -> Result<CaptureResponse> {
        self.get(&format!("{}?lines={lines}", session_path(name, "/capture"))).await
    }

    /// `POST /api/sessions/{name}/uploads?filename=…` with the file's bytes.
    pub async fn upload(
        &self,
        name: &str,
        file_name: &str,
        bytes: Bytes,
    ) -> Result<UploadResponse> {
        let path =
            format!("{}?filename={}", session_path(name, "/uploads"), encode_segment(file_name));
        let body = Some((bytes, "application/octet-stream"));
        self.decode(self.raw(Method::POST, &path, body, &[]).await?)
    }

    /// `GET /api/agents` (installed) or `/api/agents/all`.
    pub async fn agents(&self, all: bool) -> Result<Vec<AgentView>> {
        self.get(if all { "/api/agents/all" } else { "/api/agents" }).await
    }
}

/// A fresh `Idempotency-Key`: 128 random bits as hex.
pub fn idempotency_key() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the system's random source");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `/api/sessions/<percent-encoded name><suffix>`.
pub(crate) fn session_path(name: &str, suffix: &str) -> String {
    format!("/api/sessions/{}{suffix}", encode_segment(name))
}

pub(crate) fn with_limit(path: &str, limit: Option<u32>) -> String {
    match limit {
        Some(n) => format!("{path}?limit={n}"),
        None => path.to_owned(),
    }
}

/// Percent-encodes everything but unreserved characters.
pub fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// TLS settings for `https` servers: the system's roots, else Mozilla's. Built once per
/// process (reading the system store takes a few milliseconds).
fn tls_config() -> Result<rustls::ClientConfig> {
    static CONFIG: OnceLock<Result<rustls::ClientConfig, String>> = OnceLock::new();
    let config = CONFIG.get_or_init(|| {
        let builder = || {
            rustls::ClientConfig::builder_with_provider(provider())
                .with_safe_default_protocol_versions()
                .map_err(|e| e.to_string())
        };
        use hyper_rustls::ConfigBuilderExt;
        let config = match builder()?.with_native_roots() {
            Ok(b) => b,
            Err(_) => builder()?.with_webpki_roots(),
        };
        Ok(config.with_no_client_auth())
    });
    config.clone().map_err(|e| Error::Protocol(format!("cannot set up TLS: {e}")))
}

/// TLS settings that are never used (an `http` server); avoids reading the root store.
fn plain_config() -> rustls::ClientConfig {
    rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth()
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The whole cause chain of an error on one line.
fn chain_text(err: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

/// An `io::Error` carrying the kind of the innermost I/O error (connection refused, timed
/// out, …) and the whole chain as its message.
fn io_error(err: &(dyn std::error::Error + 'static)) -> std::io::Error {
    let mut kind = std::io::ErrorKind::Other;
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            kind = io.kind();
        }
        next = e.source();
    }
    std::io::Error::new(kind, chain_text(err))
}

#[cfg(test)]
mod tests;
