//! A viewer of a session's terminal: either a WebSocket over the daemon's Unix socket (what a
//! browser gets, minus the network) or a plain `tmux attach` client on a PTY of our own (the
//! baseline). Both send keystrokes as bytes and yield output as chunks.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{WebSocketStream, client_async};

use super::vt::Finder;

/// Columns and rows of every viewer (the bridge's default size).
pub const COLS: u16 = 80;
/// See [`COLS`].
pub const ROWS: u16 = 24;
/// Largest chunk read from the baseline's PTY at once (the bridge reads 32 KiB too).
const READ_CHUNK: usize = 32 * 1024;

/// Which path a viewer takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `GET /ws/{name}` over the daemon's Unix socket.
    WebSocket,
    /// `tmux -S <socket> attach -t =<name>` on a PTY of the bench's own.
    Tmux,
}

impl Kind {
    /// Short label for tables and JSON.
    pub fn label(self) -> &'static str {
        match self {
            Kind::WebSocket => "websocket",
            Kind::Tmux => "tmux",
        }
    }
}

/// One attached viewer.
pub enum Viewer {
    /// A WebSocket client.
    Ws(Box<WebSocketStream<UnixStream>>),
    /// A tmux client on a PTY.
    Tmux(Box<PtyClient>),
}

/// A `tmux attach` process on a PTY of ours.
pub struct PtyClient {
    /// The PTY's controller side.
    pty: pty_process::Pty,
    /// The `tmux attach` process (killed on drop).
    child: tokio::process::Child,
    /// Read buffer.
    buf: Vec<u8>,
}

/// The timings of one WebSocket connect.
#[derive(Debug, Clone, Copy)]
pub struct Connect {
    /// Start to `101 Switching Protocols` (Unix connect + HTTP upgrade).
    pub upgraded: Duration,
}

impl Viewer {
    /// Opens `ws://localhost/ws/{name}{query}` over `socket`; `query` is `""` or `?…`.
    pub async fn websocket(socket: &Path, name: &str, query: &str) -> Result<(Viewer, Connect)> {
        let start = Instant::now();
        let stream = UnixStream::connect(socket)
            .await
            .with_context(|| format!("cannot connect to {}", socket.display()))?;
        let req = format!("ws://localhost/ws/{name}{query}").into_client_request()?;
        let (ws, _) = client_async(req, stream)
            .await
            .with_context(|| format!("WebSocket upgrade of /ws/{name}{query} failed"))?;
        let upgraded = start.elapsed();
        Ok((Viewer::Ws(Box::new(ws)), Connect { upgraded }))
    }

    /// Starts `tmux -S <tmux_socket> attach-session -t =<tmux_name>` on a new PTY of
    /// [`COLS`]×[`ROWS`], as the bridge does (same `TERM`, no `$TMUX`).
    pub fn tmux(tmux_socket: &Path, tmux_name: &str) -> Result<Viewer> {
        let (pty, pts) = pty_process::open().context("cannot open a pty")?;
        pty.resize(pty_process::Size::new(ROWS, COLS)).context("cannot size the pty")?;
        let child = pty_process::Command::new("tmux")
            .arg("-S")
            .arg(tmux_socket)
            .arg("attach-session")
            .arg("-t")
            .arg(format!("={tmux_name}"))
            .env("TERM", "xterm-256color")
            .env_remove("TMUX")
            .env_remove("TMUX_PANE")
            .kill_on_drop(true)
            .spawn(pts)
            .context("cannot start tmux attach")?;
        Ok(Viewer::Tmux(Box::new(PtyClient { pty, child, buf: vec![0; READ_CHUNK] })))
    }

    /// Which kind of viewer this is.
    pub fn kind(&self) -> Kind {
        match self {
            Viewer::Ws(_) => Kind::WebSocket,
            Viewer::Tmux(_) => Kind::Tmux,
        }
    }

    /// The process id of the baseline's tmux client (`None` for a WebSocket).
    pub fn tmux_pid(&self) -> Option<u32> {
        match self {
            Viewer::Ws(_) => None,
            Viewer::Tmux(c) => c.child.id(),
        }
    }

    /// Types `bytes` (one binary frame, or one PTY write).
    pub async fn send(&mut self, bytes: &[u8]) -> Result<()> {
        match self {
            Viewer::Ws(ws) => ws
                .send(Message::Binary(Bytes::copy_from_slice(bytes)))
                .await
                .context("cannot send a frame"),
            Viewer::Tmux(c) => {
                c.pty.write_all(bytes).await.context("cannot write to the pty")?;
                c.pty.flush().await.context("cannot flush the pty")
            }
        }
    }

    /// The next chunk of terminal output; `None` once the viewer is closed.
    pub async fn recv(&mut self) -> Result<Option<Bytes>> {
        match self {
            Viewer::Ws(ws) => loop {
                match ws.next().await {
                    Some(Ok(Message::Binary(b))) => return Ok(Some(b)),
                    Some(Ok(Message::Text(t))) => {
                        return Ok(Some(Bytes::copy_from_slice(t.as_bytes())));
                    }
                    Some(Ok(Message::Close(_))) | None => return Ok(None),
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(e).context("WebSocket error"),
                }
            },
            Viewer::Tmux(c) => match c.pty.read(&mut c.buf).await {
                Ok(0) => Ok(None),
                Ok(n) => Ok(Some(Bytes::copy_from_slice(&c.buf[..n]))),
                // EIO: the tmux client exited and closed its side.
                Err(e) if e.raw_os_error() == Some(5) => Ok(None),
                Err(e) => Err(e).context("cannot read the pty"),
            },
        }
    }

    /// The next chunk, or an error after `within`.
    pub async fn recv_within(&mut self, within: Duration, what: &str) -> Result<Bytes> {
        match tokio::time::timeout(within, self.recv()).await {
            Ok(Ok(Some(chunk))) => Ok(chunk),
            Ok(Ok(None)) => {
                bail!("the {} viewer closed while waiting for {what}", self.kind().label())
            }
            Ok(Err(e)) => Err(e.context(format!("waiting for {what}"))),
            Err(_) => bail!("no {what} within {within:?} ({} viewer)", self.kind().label()),
        }
    }

    /// Reads until `needle` shows up in the printable output; returns the bytes read.
    pub async fn wait_text(&mut self, needle: &str, within: Duration) -> Result<u64> {
        let deadline = Instant::now() + within;
        let mut finder = Finder::new(needle);
        let mut bytes = 0;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let chunk = self.recv_within(left, &format!("{needle:?}")).await?;
            bytes += chunk.len() as u64;
            if finder.feed(&chunk) {
                return Ok(bytes);
            }
        }
    }

    /// Reads and discards output until none came for `quiet` (at most `max` in all).
    pub async fn settle(&mut self, quiet: Duration, max: Duration) -> Result<()> {
        let deadline = Instant::now() + max;
        while Instant::now() < deadline {
            match tokio::time::timeout(quiet, self.recv()).await {
                Err(_) => return Ok(()),
                Ok(Ok(Some(_))) => {}
                Ok(Ok(None)) => bail!("the {} viewer closed", self.kind().label()),
                Ok(Err(e)) => return Err(e),
            }
        }
        Ok(())
    }

    /// Detaches: a close handshake for a WebSocket (waiting up to 2 s for the daemon's side),
    /// SIGKILL for a tmux client.
    pub async fn close(self) {
        match self {
            Viewer::Ws(mut ws) => {
                let _ = WebSocketStream::close(&mut ws, None).await;
                let _ = tokio::time::timeout(Duration::from_secs(2), async {
                    while let Some(Ok(_)) = ws.next().await {}
                })
                .await;
            }
            Viewer::Tmux(mut c) => {
                let _ = c.child.start_kill();
                let _ = c.child.wait().await;
            }
        }
    }
}
