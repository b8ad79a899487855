//! Process hygiene: when a session stops, every process it started stops too.
//!
//! Killing the tmux session only hangs up the pane's terminal. Gemini CLI ignores that
//! SIGHUP (and its re-spawned child keeps running as an orphan), and agents may start
//! helpers in a new session of their own. So before the tmux session goes, llmux signals
//! the pane's whole process group, plus any process still carrying this session's marks in
//! its environment (`LLMUX_SESSION=<name>` and `TMUX=<our socket>,…`, which tmux sets in every
//! pane), with SIGHUP and SIGTERM together (an interactive shell ignores SIGTERM but exits on a
//! hang-up; an agent that ignores hang-ups exits on SIGTERM), then, after a grace period,
//! SIGKILL. Whether they are gone is checked at once and then at growing intervals, so a
//! session whose processes exit on the signal ends in about a millisecond, not a fixed sleep.

use std::path::Path;
use std::time::Duration;

use rustix::process::{Pid, Signal, kill_process};

/// How long processes get to exit after SIGTERM before SIGKILL.
const GRACE: Duration = Duration::from_secs(3);
/// The first wait before checking again whether the processes are gone; it doubles up to
/// [`MAX_POLL`].
const FIRST_POLL: Duration = Duration::from_micros(500);
/// The longest wait between two checks.
const MAX_POLL: Duration = Duration::from_millis(50);

/// Ends every process of one session: the process group of `pane_pid`, and every process
/// whose environment says it belongs to session `name` of the tmux server on `socket`.
pub(crate) async fn end_session_processes(pane_pid: Option<u32>, name: &str, socket: &Path) {
    let (owned_name, socket) = (name.to_owned(), socket.to_string_lossy().into_owned());
    // Reading /proc is blocking file I/O (a read of every process's environment): off the runtime.
    let pids = tokio::task::spawn_blocking(move || {
        let pids = session_processes(pane_pid, &owned_name, &socket);
        for &pid in &pids {
            signal(pid, Signal::HUP);
            signal(pid, Signal::TERM);
        }
        pids
    })
    .await
    .unwrap_or_default();
    if pids.is_empty() {
        return;
    }
    let deadline = tokio::time::Instant::now() + GRACE;
    let mut pause = FIRST_POLL;
    loop {
        // A read of /proc per pid: off the runtime too.
        let check = pids.clone();
        let left: Vec<u32> =
            tokio::task::spawn_blocking(move || check.into_iter().filter(|p| alive(*p)).collect())
                .await
                .unwrap_or_default();
        if left.is_empty() {
            return;
        }
        if tokio::time::Instant::now() >= deadline {
            tracing::info!(session.name = %name, pids = ?left, "processes ignored SIGTERM; killing");
            for pid in left {
                signal(pid, Signal::KILL);
            }
            return;
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(MAX_POLL);
    }
}

fn signal(pid: u32, sig: Signal) {
    if let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) {
        let _ = kill_process(pid, sig);
    }
}

/// Alive and not a zombie.
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| stat.rsplit_once(')').map(|(_, rest)| rest.trim_start().starts_with('Z')))
        .is_some_and(|zombie| !zombie)
}

/// The processes of one session (never the daemon itself).
fn session_processes(pane_pid: Option<u32>, name: &str, socket: &str) -> Vec<u32> {
    let me = std::process::id();
    let marker = format!("LLMUX_SESSION={name}");
    let tmux = format!("TMUX={socket},");
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me && pid > 1)
        .filter(|&pid| {
            let in_group = pane_pid.is_some_and(|pg| process_group(pid) == Some(pg));
            in_group || {
                std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|env| {
                    let vars: Vec<&[u8]> = env.split(|b| *b == 0).collect();
                    vars.contains(&marker.as_bytes())
                        && vars.iter().any(|v| v.starts_with(tmux.as_bytes()))
                })
            }
        })
        .collect()
}

fn process_group(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    // After the command: state, ppid, pgrp, …
    rest.split_whitespace().nth(2)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_our_own_process_group() {
        let me = std::process::id();
        assert!(process_group(me).is_some());
        assert!(alive(me));
        assert!(!alive(u32::MAX - 1));
    }
}
