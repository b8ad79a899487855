//! Process hygiene: when a session stops, every process it started stops too.
//!
//! Killing the tmux session only hangs up the pane's terminal. Gemini CLI ignores that
//! SIGHUP (and its re-spawned child keeps running as an orphan), and agents may start
//! helpers in a new session of their own. So before the tmux session goes, llmux signals
//! the pane's whole process group, plus any process still carrying this session's marks in
//! its environment (`LLMUX_SESSION=<name>` and `TMUX=<our socket>,…`, which tmux sets in every
//! pane), first with SIGTERM, then, after a grace period, SIGKILL.

use std::path::Path;
use std::time::Duration;

use rustix::process::{Pid, Signal, kill_process};

/// How long processes get to exit after SIGTERM before SIGKILL.
const GRACE: Duration = Duration::from_secs(3);

/// Ends every process of one session: the process group of `pane_pid`, and every process
/// whose environment says it belongs to session `name` of the tmux server on `socket`.
pub(crate) async fn end_session_processes(pane_pid: Option<u32>, name: &str, socket: &Path) {
    let find = {
        let name = name.to_owned();
        let socket = socket.to_string_lossy().into_owned();
        move || session_processes(pane_pid, &name, &socket)
    };
    let pids = find.clone()();
    if pids.is_empty() {
        return;
    }
    for &pid in &pids {
        signal(pid, Signal::TERM);
    }
    let deadline = tokio::time::Instant::now() + GRACE;
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let left: Vec<u32> = pids.iter().copied().filter(|p| alive(*p)).collect();
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
