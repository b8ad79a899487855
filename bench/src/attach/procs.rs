//! Processes around the daemon, from `/proc`: the `tmux attach` clients it runs for its
//! viewers, their memory, and CPU time of any process.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::daemon;

/// A `/proc/<pid>/status` or `/proc/<pid>/smaps_rollup` figure in KiB (`VmRSS:`, `Pss:`, …).
pub fn kib(pid: u32, file: &str, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/{file}")).ok()?;
    let line = text.lines().find(|l| l.starts_with(key))?;
    line[key.len()..].trim().trim_end_matches("kB").trim().parse().ok()
}

/// CPU time (user + system) of a process so far; zero when it is gone.
pub fn cpu(pid: Option<u32>) -> Duration {
    pid.and_then(|p| daemon::cpu_time(&format!("/proc/{p}/stat")).ok()).unwrap_or_default()
}

/// The `tmux attach-session` clients whose parent is `parent`: the daemon's viewers.
/// (`comm` is `tmux`, or `tmux: client` as tmux renames itself, and the command line
/// attaches; the daemon's short-lived tmux commands are left out.)
pub fn tmux_clients(parent: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    let mut pids: Vec<u32> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse().ok()))
        .filter(|&pid| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            // `pid (comm) state ppid …`; comm may hold spaces and parentheses.
            let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
                return false;
            };
            let comm = &stat[open + 1..close];
            let ppid = stat[close + 1..].split_whitespace().nth(1).and_then(|p| p.parse().ok());
            (comm == "tmux" || comm.starts_with("tmux:"))
                && ppid == Some(parent)
                && std::fs::read(format!("/proc/{pid}/cmdline"))
                    .is_ok_and(|c| c.windows(14).any(|w| w == b"attach-session"))
        })
        .collect();
    pids.sort_unstable();
    pids
}

/// Memory of a group of processes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Group {
    /// Number of processes.
    pub count: usize,
    /// Sum of `VmRSS` (counts shared pages once per process).
    pub rss_kib: u64,
    /// Sum of `Pss` (shared pages split between their users).
    pub pss_kib: u64,
}

impl Group {
    /// Sums the memory of `pids`.
    pub fn of(pids: &[u32]) -> Group {
        Group {
            count: pids.len(),
            rss_kib: pids.iter().filter_map(|&p| kib(p, "status", "VmRSS:")).sum(),
            pss_kib: pids.iter().filter_map(|&p| kib(p, "smaps_rollup", "Pss:")).sum(),
        }
    }

    /// As JSON.
    pub fn json(&self) -> Value {
        json!({"count": self.count, "rss_kib": self.rss_kib, "pss_kib": self.pss_kib})
    }
}

/// The tmux server's pid, as it reports it.
pub fn tmux_server(socket: &Path) -> Option<u32> {
    let out = Command::new("tmux")
        .arg("-S")
        .arg(socket)
        .args(["display-message", "-p", "#{pid}"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    String::from_utf8(out.stdout).ok()?.trim().parse().ok()
}
