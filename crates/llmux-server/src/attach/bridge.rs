//! The bridge between one viewer's WebSocket and one `tmux attach` client on its own PTY.
//!
//! One `select!` loop over: PTY output (bounded channel → binary frames), socket input
//! (keystrokes and resizes), session changes (close 4040 when it ends), credential revocations
//! (close 4001), keepalive pings (close 4008 when pongs stop) and the tmux client exiting.
//! Backpressure: a slow viewer fills its bounded channel, the PTY reader stops reading, and
//! tmux — which buffers per client and redraws lagging ones — throttles that client alone;
//! the agent and the other viewers never wait. Dropping the guard kills the tmux client.
//!
//! The viewer's bytes go to a real tmux client, so they reach only its own pane because llmux's
//! tmux server is sealed: no prefix, no key bindings, no mouse (`llmux_core::tmux`, `conf.rs`).
//! A session that ends detaches its clients (`detach-on-destroy on`): the PTY closes and the
//! viewer gets 4040, never another session's screen.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use bytes::Bytes;
use llmux_api::{ClientMsg, MAX_COLS, MAX_ROWS, MIN_COLS, MIN_ROWS, SessionStatus, close};
use llmux_auth::Principal;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::AppState;

/// Chunks of PTY output buffered per viewer before the reader waits.
const OUTPUT_QUEUE: usize = 4;
/// Largest chunk read from the PTY at once.
const READ_CHUNK: usize = 16 * 1024;
const PING_EVERY: Duration = Duration::from_secs(20);
/// Without any frame from the viewer for this long, the connection is presumed dead.
const SILENCE_LIMIT: Duration = Duration::from_secs(60);

/// What to attach to and how.
#[derive(Debug)]
pub(crate) struct Options {
    pub name: String,
    pub read_only: bool,
    pub cols: u16,
    pub rows: u16,
    pub history: u32,
}

fn clamp_size(cols: u16, rows: u16) -> pty_process::Size {
    pty_process::Size::new(rows.clamp(MIN_ROWS, MAX_ROWS), cols.clamp(MIN_COLS, MAX_COLS))
}

/// Kills the tmux client when the bridge ends, however it ends, and reaps it.
struct ChildGuard(Option<tokio::process::Child>);

impl ChildGuard {
    async fn wait(&mut self) -> Option<i32> {
        match self.0.as_mut() {
            Some(child) => child.wait().await.ok().and_then(|s| s.code()),
            None => None,
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.start_kill();
            tokio::spawn(async move {
                let _ = child.wait().await;
            });
        }
    }
}

#[tracing::instrument(name = "attach", skip_all, fields(session.name = %opts.name, read_only = opts.read_only))]
pub(crate) async fn run(
    state: AppState,
    principal: Principal,
    opts: Options,
    mut socket: WebSocket,
) {
    // Counted until the close frame is sent: a stopping daemon waits for it.
    let _open = state.stream_guard();
    let tmux = state.sessions.tmux_of(&opts.name);
    // Scrollback first, pushed up into the viewer's own scrollback by enough newlines, so that
    // a reconnecting viewer can scroll back; then tmux draws the live screen.
    if opts.history > 0
        && let Ok(history) = tmux.history(&opts.name, opts.history).await
        && !history.is_empty()
    {
        let mut replay = history.replace('\n', "\r\n").into_bytes();
        replay.extend(std::iter::repeat_n(b"\r\n".as_slice(), usize::from(opts.rows)).flatten());
        if socket.send(Message::Binary(replay.into())).await.is_err() {
            return;
        }
    }

    let (pty, pts) = match pty_process::open() {
        Ok(pair) => pair,
        Err(e) => return fail(socket, &format!("cannot open a pty: {e}")).await,
    };
    if let Err(e) = pty.resize(clamp_size(opts.cols, opts.rows)) {
        return fail(socket, &format!("cannot size the pty: {e}")).await;
    }
    // The tmux driver says what to run; the terminal it runs on is ours (xterm.js's TERM).
    let client = tmux.attach_client(&opts.name, opts.read_only);
    let mut cmd =
        pty_process::Command::new(client.program).args(&client.args).env("TERM", "xterm-256color");
    for key in &client.env_remove {
        cmd = cmd.env_remove(key);
    }
    let child = match cmd.spawn(pts) {
        Ok(child) => child,
        Err(e) => return fail(socket, &format!("cannot start tmux attach: {e}")).await,
    };
    let mut child = ChildGuard(Some(child));
    let (mut pty_read, mut pty_write) = pty.into_split();

    // PTY → bounded queue. When the viewer is slow the queue fills and this task stops
    // reading; tmux copes with its lagging client on its own.
    let (out_tx, mut out_rx) = mpsc::channel::<Bytes>(OUTPUT_QUEUE);
    let reader = tokio::spawn(async move {
        let mut buf = vec![0u8; READ_CHUNK];
        loop {
            match pty_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if out_tx.send(Bytes::copy_from_slice(&buf[..n])).await.is_err() {
                        break;
                    }
                }
            }
        }
    });
    let _reader = AbortOnDrop(reader);

    let mut changes = state.sessions.watch();
    let mut revocations = state.auth.subscribe();
    let stopped = state.stopped();
    tokio::pin!(stopped);
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    let mut last_heard = tokio::time::Instant::now();

    let end: Option<(u16, String)> = loop {
        tokio::select! {
            chunk = out_rx.recv() => match chunk {
                Some(first) => {
                    // Whatever else is already queued goes in the same frame: fewer frames and
                    // writes when the agent floods the screen.
                    let mut frame = first;
                    if !out_rx.is_empty() {
                        let mut joined = bytes::BytesMut::from(&frame[..]);
                        while joined.len() < READ_CHUNK * 4 {
                            match out_rx.try_recv() {
                                Ok(more) => joined.extend_from_slice(&more),
                                Err(_) => break,
                            }
                        }
                        frame = joined.freeze();
                    }
                    if socket.send(Message::Binary(frame)).await.is_err() {
                        break None;
                    }
                }
                // The tmux client is gone: the session ended (or was detached in tmux).
                None => {
                    let status = child.wait().await;
                    break Some((close::SESSION_ENDED, ended_reason(&state, &opts.name, status)));
                }
            },
            frame = socket.recv() => {
                last_heard = tokio::time::Instant::now();
                match frame {
                    Some(Ok(Message::Binary(bytes))) => {
                        if !opts.read_only && pty_write.write_all(&bytes).await.is_err() {
                            break Some((close::SESSION_ENDED, "the terminal closed".into()));
                        }
                    }
                    Some(Ok(Message::Text(text))) => match ClientMsg::parse(&text) {
                        Some(ClientMsg::Resize { cols, rows }) => {
                            let _ = pty_write.resize(clamp_size(cols, rows));
                        }
                        Some(ClientMsg::Unknown) => {}
                        None => {
                            if !opts.read_only && pty_write.write_all(text.as_bytes()).await.is_err() {
                                break Some((close::SESSION_ENDED, "the terminal closed".into()));
                            }
                        }
                    },
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break None,
                }
            }
            _ = changes.changed() => {
                if !state.sessions.contains(&opts.name)
                    || state.sessions.status(&opts.name) != SessionStatus::Running
                {
                    break Some((close::SESSION_ENDED, ended_reason(&state, &opts.name, None)));
                }
            }
            revoked = revocations.recv() => match revoked {
                Ok(r) if principal.is_revoked_by(&r) => {
                    break Some((close::REVOKED, "your credential was revoked".into()));
                }
                Ok(_) => {}
                // Missed revocations might include ours: close; the viewer reconnects.
                Err(_) => break Some((close::REVOKED, "please reconnect".into())),
            },
            () = &mut stopped => {
                break Some((close::SHUTDOWN, crate::api::SHUTDOWN_REASON.into()));
            }
            _ = ping.tick() => {
                if last_heard.elapsed() > SILENCE_LIMIT {
                    break Some((close::TIMEOUT, "no answer to pings".into()));
                }
                if socket.send(Message::Ping(Bytes::new())).await.is_err() {
                    break None;
                }
            }
        }
    };
    if let Some((code, reason)) = end {
        tracing::info!(code, reason = %reason, "closing the terminal socket");
        let frame = CloseFrame { code, reason: reason.into() };
        let _ = socket.send(Message::Close(Some(frame))).await;
    }
    drop(child);
}

fn ended_reason(state: &AppState, name: &str, tmux_status: Option<i32>) -> String {
    match state.sessions.get(name) {
        Ok(view) if view.status == SessionStatus::Exited => match view.exit_status {
            Some(code) => format!("session ended (exit status {code})"),
            None => "session ended".into(),
        },
        Ok(_) => match tmux_status {
            Some(code) => format!("tmux client exited (status {code})"),
            None => "tmux client exited".into(),
        },
        Err(_) => "session removed".into(),
    }
}

async fn fail(mut socket: WebSocket, reason: &str) {
    tracing::error!(reason, "attach failed");
    let frame = CloseFrame { code: close::SESSION_ENDED, reason: reason.to_owned().into() };
    let _ = socket.send(Message::Close(Some(frame))).await;
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
