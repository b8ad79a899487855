//! A typed client of the llmux API, used by the CLI, the tests and the benchmarks.
//!
//! It speaks HTTP/1.1 over the daemon's Unix socket. Errors separate "cannot reach the
//! daemon" from an API error with its status, so the CLI can print a hint.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use llmux_core::api::{
    AgentView, BroadcastRequest, BroadcastResponse, CaptureResponse, CreateSessionRequest,
    EditSessionRequest, ErrorBody, HealthResponse, KillResponse, OkResponse, SendRequest,
    SessionResponse, SessionView, VersionResponse,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::net::UnixStream;

/// What went wrong talking to the daemon.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No daemon answers on the socket (not running, or a stale socket).
    #[error("cannot connect to {}", path.display())]
    Unreachable {
        /// The socket path.
        path: PathBuf,
        /// The connect error.
        source: std::io::Error,
    },
    /// The daemon answered with an error status.
    #[error("{message}")]
    Api {
        /// HTTP status.
        status: StatusCode,
        /// Stable error code.
        code: String,
        /// Human message from the daemon.
        message: String,
    },
    /// The exchange itself failed (connection dropped, bad JSON, …).
    #[error("talking to the daemon failed: {0}")]
    Protocol(String),
}

impl Error {
    /// The HTTP status of an API error.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Error::Api { status, .. } => Some(*status),
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

/// A client of one daemon.
#[derive(Debug, Clone)]
pub struct Client {
    socket: PathBuf,
}

impl Client {
    /// A client of the daemon listening on the Unix socket `socket`.
    pub fn unix(socket: impl Into<PathBuf>) -> Client {
        Client { socket: socket.into() }
    }

    /// The socket path.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Sends one request and returns the raw response (any status).
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        body: Option<(Bytes, &str)>,
        headers: &[(&str, &str)],
    ) -> Result<RawResponse> {
        let stream = UnixStream::connect(&self.socket)
            .await
            .map_err(|source| Error::Unreachable { path: self.socket.clone(), source })?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| Error::Protocol(e.to_string()))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let mut builder = Request::builder().method(method).uri(path).header("host", "localhost");
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
        let res = sender.send_request(req).await.map_err(|e| Error::Protocol(e.to_string()))?;
        let status = res.status();
        let headers = res.headers().clone();
        let body =
            res.into_body().collect().await.map_err(|e| Error::Protocol(e.to_string()))?.to_bytes();
        Ok(RawResponse { status, headers, body })
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&impl Serialize>,
    ) -> Result<T> {
        let body = body
            .map(|b| serde_json::to_vec(b).map(|v| (Bytes::from(v), "application/json")))
            .transpose()
            .map_err(|e| Error::Protocol(e.to_string()))?;
        let res = self.raw(method, path, body, &[]).await?;
        if !res.status.is_success() {
            let (message, code) = match serde_json::from_slice::<ErrorBody>(&res.body) {
                Ok(e) => (e.error, e.code),
                Err(_) => (format!("HTTP {}", res.status), String::new()),
            };
            return Err(Error::Api { status: res.status, code, message });
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
        let path = format!("{}{}", session_path(name, ""), if force { "?force=true" } else { "" });
        self.call::<OkResponse>(Method::DELETE, &path, None::<&()>).await.map(drop)
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

    /// `POST /api/sessions/{name}/send`.
    pub async fn send(&self, name: &str, prompt: &str, enter: bool) -> Result<()> {
        let req = SendRequest { prompt: prompt.to_owned(), enter: Some(enter) };
        self.post::<OkResponse>(&session_path(name, "/send"), &req).await.map(drop)
    }

    /// `POST /api/sessions/broadcast`.
    pub async fn broadcast(&self, req: &BroadcastRequest) -> Result<BroadcastResponse> {
        self.post("/api/sessions/broadcast", req).await
    }

    /// `GET /api/sessions/{name}/capture?lines=N`.
    pub async fn capture(&self, name: &str, lines: u32) -> Result<CaptureResponse> {
        self.get(&format!("{}?lines={lines}", session_path(name, "/capture"))).await
    }

    /// `GET /api/agents` (installed) or `/api/agents/all`.
    pub async fn agents(&self, all: bool) -> Result<Vec<AgentView>> {
        self.get(if all { "/api/agents/all" } else { "/api/agents" }).await
    }
}

/// `/api/sessions/<percent-encoded name><suffix>`.
fn session_path(name: &str, suffix: &str) -> String {
    format!("/api/sessions/{}{suffix}", encode_segment(name))
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

#[cfg(test)]
mod tests {
    #[test]
    fn segments_are_encoded() {
        assert_eq!(super::encode_segment("a.b-c"), "a.b-c");
        assert_eq!(super::encode_segment("a/b c"), "a%2Fb%20c");
    }
}
