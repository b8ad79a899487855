//! `llmux session attach`: the local terminal, raw, wired to a session's terminal socket.
//!
//! Keystrokes go up as binary frames; output comes down and is written to stdout; SIGWINCH
//! becomes a resize message. The detach key (Ctrl+] by default) ends it. The terminal is
//! restored on every exit path: detach, the session ending, a network drop, a signal, an error
//! (a guard restores it on drop, panics included).

use std::io::Write;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use futures_util::{SinkExt, StreamExt};
use llmux_api::close;
use llmux_client::{AttachOptions, Client};
use tokio::io::AsyncReadExt;
use tokio::signal::unix::{SignalKind, signal};
use tokio_tungstenite::tungstenite::Message;

use crate::exit;

/// How an attach ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The user pressed the detach key (or the CLI got SIGTERM/SIGHUP).
    Detached,
    /// The session ended (close 4040) with this reason.
    Ended(String),
    /// The credential was revoked (close 4001).
    Revoked,
    /// The connection dropped or the daemon went away.
    Lost(String),
}

impl Outcome {
    /// The exit code documented in `llmux session attach --help`.
    pub(crate) fn code(&self) -> u8 {
        match self {
            Outcome::Detached => 0,
            Outcome::Ended(_) => exit::SESSION_ENDED,
            Outcome::Revoked => exit::REFUSED,
            Outcome::Lost(_) => exit::CONNECTION_LOST,
        }
    }

    fn message(&self) -> String {
        match self {
            Outcome::Detached => "[detached]".into(),
            Outcome::Ended(reason) => format!("[{reason}]"),
            Outcome::Revoked => "[your credential was revoked]".into(),
            Outcome::Lost(reason) => format!("[connection lost: {reason}]"),
        }
    }
}

/// Parses a detach key: `ctrl-]` (default), `ctrl-a` … `ctrl-z`, `ctrl-\`, `ctrl-^`, `ctrl-_`.
pub(crate) fn parse_detach_key(text: &str) -> Result<u8> {
    let lower = text.trim().to_ascii_lowercase();
    let Some(key) = lower
        .strip_prefix("ctrl-")
        .or_else(|| lower.strip_prefix("c-"))
        .or_else(|| lower.strip_prefix('^'))
    else {
        bail!("--detach-key must look like ctrl-] or ctrl-q, not {text:?}");
    };
    let byte = match key.as_bytes() {
        [c @ b'a'..=b'z'] => c - b'a' + 1,
        [b'['] => bail!("ctrl-[ is Escape, which agents need; pick another detach key"),
        [b'\\'] => 0x1c,
        [b']'] => 0x1d,
        [b'^'] => 0x1e,
        [b'_'] => 0x1f,
        _ => bail!("--detach-key must look like ctrl-] or ctrl-q, not {text:?}"),
    };
    if matches!(byte, 0x03 | 0x0d | 0x09) {
        bail!("{text} (Ctrl-C, Enter or Tab) cannot be the detach key");
    }
    Ok(byte)
}

/// Puts the terminal in raw mode; restores it when dropped.
struct RawMode {
    active: bool,
}

impl RawMode {
    fn enable() -> Result<RawMode> {
        if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
            return Ok(RawMode { active: false });
        }
        crossterm::terminal::enable_raw_mode().context("cannot put the terminal in raw mode")?;
        Ok(RawMode { active: true })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if self.active {
            let _ = crossterm::terminal::disable_raw_mode();
        }
    }
}

fn terminal_size() -> (u16, u16) {
    crossterm::terminal::size().ok().filter(|(c, r)| *c > 0 && *r > 0).unwrap_or((80, 24))
}

/// Attaches to `name` until detach, session end or connection loss.
pub(crate) async fn run(
    client: &Client,
    name: &str,
    detach: u8,
    opts: AttachOptions,
) -> Result<Outcome> {
    let (cols, rows) = terminal_size();
    let ws = client.attach(name, AttachOptions { cols, rows, ..opts }).await?;
    let (mut up, mut down) = ws.split();

    let raw = RawMode::enable()?;
    let mut stdin = tokio::io::stdin();
    let mut stdout = std::io::stdout();
    let mut winch = signal(SignalKind::window_change()).context("cannot watch SIGWINCH")?;
    let mut term = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut hup = signal(SignalKind::hangup()).context("cannot watch SIGHUP")?;
    let mut buf = vec![0u8; 8192];
    let mut stdin_open = true;

    let outcome = loop {
        tokio::select! {
            read = stdin.read(&mut buf), if stdin_open => match read {
                Ok(0) | Err(_) => stdin_open = false, // keep viewing output
                Ok(n) => {
                    let bytes = &buf[..n];
                    let (input, detached) = match bytes.iter().position(|b| *b == detach) {
                        Some(at) => (&bytes[..at], true),
                        None => (bytes, false),
                    };
                    if !input.is_empty() && !opts.read_only
                        && up.send(Message::Binary(input.to_vec().into())).await.is_err()
                    {
                        break Outcome::Lost("cannot send".into());
                    }
                    if detached {
                        break Outcome::Detached;
                    }
                }
            },
            frame = down.next() => match frame {
                Some(Ok(Message::Binary(bytes))) => {
                    if stdout.write_all(&bytes).and_then(|()| stdout.flush()).is_err() {
                        break Outcome::Lost("cannot write to the terminal".into());
                    }
                }
                Some(Ok(Message::Text(text))) => {
                    let _ = stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush());
                }
                Some(Ok(Message::Close(frame))) => {
                    break match frame {
                        Some(f) if u16::from(f.code) == close::SESSION_ENDED => Outcome::Ended(f.reason.to_string()),
                        Some(f) if u16::from(f.code) == close::REVOKED => Outcome::Revoked,
                        Some(f) => Outcome::Lost(format!("closed ({}) {}", u16::from(f.code), f.reason)),
                        None => Outcome::Lost("closed by the daemon".into()),
                    };
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => break Outcome::Lost(e.to_string()),
                None => break Outcome::Lost("the connection closed".into()),
            },
            _ = winch.recv() => {
                let (cols, rows) = terminal_size();
                let resize = serde_json::json!({"type": "resize", "cols": cols, "rows": rows}).to_string();
                if up.send(Message::Text(resize.into())).await.is_err() {
                    break Outcome::Lost("cannot send".into());
                }
            }
            _ = term.recv() => break Outcome::Detached,
            _ = hup.recv() => break Outcome::Detached,
        }
    };
    // Tell the daemon we are going, but do not wait long for a dead network.
    let _ = tokio::time::timeout(Duration::from_millis(300), up.send(Message::Close(None))).await;
    drop(raw);
    let mut stderr = std::io::stderr();
    let _ = write!(stderr, "\r\n{}\r\n", outcome.message());
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys() {
        assert_eq!(parse_detach_key("ctrl-]").unwrap(), 0x1d);
        assert_eq!(parse_detach_key("Ctrl-Q").unwrap(), 0x11);
        assert_eq!(parse_detach_key("^\\").unwrap(), 0x1c);
        assert!(parse_detach_key("ctrl-c").is_err());
        assert!(parse_detach_key("ctrl-[").is_err());
        assert!(parse_detach_key("q").is_err());
    }

    #[test]
    fn exit_codes() {
        assert_eq!(Outcome::Detached.code(), 0);
        assert_eq!(Outcome::Ended("x".into()).code(), exit::SESSION_ENDED);
        assert_eq!(Outcome::Lost("x".into()).code(), exit::CONNECTION_LOST);
        assert_eq!(Outcome::Revoked.code(), exit::REFUSED);
    }
}
