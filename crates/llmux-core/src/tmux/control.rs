//! One long-lived control-mode client (`tmux -C`) for the reads the daemon makes all the time:
//! `list-panes -a` every tick and `capture-pane` of panes that showed activity.
//!
//! A control client takes commands on stdin and answers each in a `%begin … %end` block, so a
//! read costs a pipe write and a little work in the tmux server, instead of a fork and exec
//! of a whole tmux client (measured: ~3.3 ms of client CPU per exec'd `list-panes` of 100
//! panes, ~0 over control mode). It is attached to a hidden session, [`CONTROL_SESSION`],
//! whose pane only sleeps. Only fixed commands with validated targets go through it; text
//! typed into agents never does (that stays an argv `send-keys`).
//!
//! If the client dies (the tmux server was killed, say) the next call starts a new one.

use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::Mutex;

use crate::error::{Error, Result};

/// The hidden tmux session the control client sits in. Not a valid llmux name (names start
/// with a letter or digit), so it can never clash with a user's session.
pub const CONTROL_SESSION: &str = "_llmux";

/// A lazily started control-mode client.
#[derive(Debug, Default)]
pub struct Control {
    conn: Mutex<Option<Conn>>,
    /// Set at shutdown: no new client may start (a late tick would otherwise re-create the
    /// hidden session, and a tmux server, after the daemon meant to be gone).
    closed: std::sync::atomic::AtomicBool,
}

#[derive(Debug)]
struct Conn {
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Control {
    /// Runs one tmux command line (already quoted for tmux's parser) and returns its output
    /// lines; a `%error` block becomes an error with tmux's message.
    pub async fn run(&self, base: &Command, line: &str) -> Result<Vec<String>> {
        let mut guard = self.conn.lock().await;
        if self.closed.load(std::sync::atomic::Ordering::Acquire) {
            return Err(Error::io("tmux control client", std::io::Error::other("closed")));
        }
        if guard.is_none() {
            *guard = Some(Conn::start(base).await?);
        }
        let conn = guard.as_mut().expect("connection just set");
        match conn.call(line).await {
            Ok(out) => out,
            Err(e) => {
                // The pipe broke: drop this client; the next call starts a fresh one.
                if let Some(mut old) = guard.take() {
                    let _ = old.child.start_kill();
                    let _ = old.child.wait().await;
                }
                Err(e)
            }
        }
    }

    /// Ends the client (the daemon is shutting down).
    pub async fn close(&self) {
        self.closed.store(true, std::sync::atomic::Ordering::Release);
        if let Some(mut conn) = self.conn.lock().await.take() {
            drop(conn.stdin);
            let _ = conn.child.start_kill();
            let _ = conn.child.wait().await;
        }
    }
}

impl Conn {
    async fn start(base: &Command) -> Result<Conn> {
        let std = base.as_std();
        let mut cmd = Command::new(std.get_program());
        cmd.args(std.get_args());
        for (key, value) in std.get_envs() {
            match value {
                Some(value) => cmd.env(key, value),
                None => cmd.env_remove(key),
            };
        }
        super::scrub_env(&mut cmd);
        cmd.args([
            "-C",
            "new-session",
            "-A",
            "-s",
            CONTROL_SESSION,
            "-x",
            "80",
            "-y",
            "24",
            "--",
            "sleep",
            "infinity",
        ]);
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::null());
        cmd.kill_on_drop(true);
        let mut child = cmd.spawn().map_err(Error::TmuxMissing)?;
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut conn = Conn { child, stdin, lines: BufReader::new(stdout).lines() };
        // The attach itself is answered with an (empty) block; wait for it so the replies
        // of later commands line up.
        conn.read_block().await?.map_err(|m| Error::Tmux { command: "-C".into(), message: m })?;
        conn.detach_stale().await;
        Ok(conn)
    }

    /// Detaches the control clients of earlier daemons that died without closing theirs (a
    /// SIGKILL leaves one behind, attached to the hidden session): only ours stays.
    async fn detach_stale(&mut self) {
        let me = self.child.id().unwrap_or(0);
        let list = format!(
            "list-clients -F {}",
            quote("#{client_name}\t#{client_pid}\t#{client_control_mode}\t#{session_name}")
        );
        let Ok(Ok(lines)) = self.call(&list).await else { return };
        for line in lines {
            let f: Vec<&str> = line.split('\t').collect();
            let stale = f.len() == 4
                && f[2] == "1"
                && f[3] == CONTROL_SESSION
                && f[1].parse::<u32>().is_ok_and(|pid| pid != me);
            if stale {
                tracing::info!(
                    client = f[0],
                    "detaching a control client left by an earlier daemon"
                );
                let _ = self.call(&format!("detach-client -t {}", quote(f[0]))).await;
            }
        }
    }

    /// Sends one command; the outer error is a broken client, the inner one tmux's answer.
    async fn call(&mut self, line: &str) -> Result<Result<Vec<String>>> {
        let mut bytes = line.as_bytes().to_vec();
        bytes.push(b'\n');
        self.stdin.write_all(&bytes).await.map_err(|e| Error::io("tmux control client", e))?;
        self.stdin.flush().await.map_err(|e| Error::io("tmux control client", e))?;
        Ok(self.read_block().await?.map_err(|message| super::classify(verb(line), message)))
    }

    /// Reads up to the next `%end`/`%error` block, skipping notifications outside blocks.
    async fn read_block(&mut self) -> Result<std::result::Result<Vec<String>, String>> {
        let mut open: Option<String> = None;
        let mut out = Vec::new();
        loop {
            let line = self
                .lines
                .next_line()
                .await
                .map_err(|e| Error::io("tmux control client", e))?
                .ok_or_else(|| {
                    Error::io("tmux control client", std::io::Error::other("tmux exited"))
                })?;
            match &open {
                None => {
                    if let Some(rest) = line.strip_prefix("%begin ") {
                        open = Some(block_id(rest));
                    } else if line.starts_with("%exit") {
                        return Err(Error::io(
                            "tmux control client",
                            std::io::Error::other("tmux control client exited"),
                        ));
                    }
                    // Other notifications (%output, %session-changed, …) are not needed.
                }
                Some(id) => {
                    if let Some(rest) = line.strip_prefix("%end ")
                        && block_id(rest) == *id
                    {
                        return Ok(Ok(out));
                    }
                    if let Some(rest) = line.strip_prefix("%error ")
                        && block_id(rest) == *id
                    {
                        return Ok(Err(out.join("\n")));
                    }
                    out.push(line);
                }
            }
        }
    }
}

/// `<time> <number>` of a `%begin/%end <time> <number> <flags>` line: what pairs them.
fn block_id(rest: &str) -> String {
    rest.split(' ').take(2).collect::<Vec<_>>().join(" ")
}

fn verb(line: &str) -> String {
    line.split(' ').next().unwrap_or_default().to_owned()
}

/// Quotes one argument for tmux's command parser (single quotes; `'` itself escaped).
pub fn quote(arg: &str) -> String {
    format!("'{}'", arg.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_and_block_ids() {
        assert_eq!(quote("#{a}\t#{b}"), "'#{a}\t#{b}'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(block_id("1700000000 42 1"), "1700000000 42");
    }
}
