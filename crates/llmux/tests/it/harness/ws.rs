//! The terminal WebSocket from a test: open a viewer over TCP, read its frames.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{WebSocketStream, client_async};

use super::TestDaemon;

/// Tries a viewer of `name` over TCP with extra headers; returns the socket or the HTTP status.
pub async fn tcp_viewer(
    d: &TestDaemon,
    name: &str,
    headers: &[(&str, &str)],
) -> Result<WebSocketStream<TcpStream>, u16> {
    let stream = TcpStream::connect(("127.0.0.1", d.port)).await.unwrap();
    let mut req = format!("ws://127.0.0.1:{}/ws/{name}", d.port).into_client_request().unwrap();
    for (k, v) in headers {
        req.headers_mut().insert(
            hyper::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    match client_async(req, stream).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => Err(res.status().as_u16()),
        Err(e) => panic!("unexpected handshake error: {e}"),
    }
}

/// Reads frames until the close frame (within `within`); returns its code (1005 when it has
/// none) and everything shown before it.
pub async fn read_to_close<S>(ws: &mut WebSocketStream<S>, within: Duration) -> (u16, String)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let deadline = Instant::now() + within;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, ws.next()).await {
            Ok(Some(Ok(Message::Binary(bytes)))) => seen.extend_from_slice(&bytes),
            Ok(Some(Ok(Message::Close(frame)))) => {
                let code = frame.map_or(1005, |f| u16::from(f.code));
                return (code, String::from_utf8_lossy(&seen).into_owned());
            }
            Ok(Some(Ok(_))) => {}
            other => panic!(
                "no close frame within {within:?}: {other:?}; got:\n{}",
                String::from_utf8_lossy(&seen)
            ),
        }
    }
}

/// Reads frames until the accumulated output contains `needle`; returns everything read.
pub async fn read_until<S>(ws: &mut WebSocketStream<S>, needle: &str) -> String
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, ws.next()).await {
            Ok(Some(Ok(Message::Binary(bytes)))) => seen.extend_from_slice(&bytes),
            Ok(Some(Ok(Message::Text(text)))) => seen.extend_from_slice(text.as_bytes()),
            Ok(Some(Ok(_))) => {}
            other => {
                panic!("no {needle:?} before {other:?}; got:\n{}", String::from_utf8_lossy(&seen))
            }
        }
        let text = String::from_utf8_lossy(&seen);
        if text.contains(needle) {
            return text.into_owned();
        }
    }
}
