//! The daemon under test: started as a real `llmux server start` process, stopped (with its
//! tmux server) by a drop guard whatever happens.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use llmux_client::Client;
use llmux_core::paths::Paths;

/// How long the daemon may take to answer `/health`.
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a SIGTERM'd daemon may take to exit before it gets SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);
/// Poll interval while waiting for the daemon (to come up or to exit).
const POLL: Duration = Duration::from_millis(5);

/// A running daemon. Dropping it stops the daemon and kills its tmux server.
#[derive(Debug)]
pub struct Daemon {
    child: Child,
    paths: Paths,
    log: PathBuf,
    stopped: bool,
    /// From spawning the process to the first successful `/health`.
    pub ready_after: Duration,
}

impl Daemon {
    /// Starts `llmux server start --port 0 --config <config>` on state dir `state` and waits,
    /// up to a deadline, until it answers `/health` on its Unix socket.
    pub async fn start(llmux: &Path, state: &Path, config: &Path) -> Result<Daemon> {
        let paths = Paths::in_state_dir(state.to_path_buf());
        let log = state.join("daemon.log");
        let out = File::create(&log).with_context(|| format!("cannot create {}", log.display()))?;
        let err = out.try_clone()?;
        let started = Instant::now();
        let child = Command::new(llmux)
            .args(["server", "start", "--port", "0", "--config"])
            .arg(config)
            .env("LLMUX_STATE_DIR", state)
            .env("LLMUX_LOG", "warn")
            .env_remove("LLMUX_PORT")
            .env_remove("LLMUX_HOST")
            .env_remove("TMUX")
            .current_dir(state)
            // Its own process group: Ctrl-C reaches only the bench, which then cleans up.
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("cannot run {}", llmux.display()))?;
        // From here on the guard owns the process, so an early return still cleans up.
        let mut daemon = Daemon { child, paths, log, stopped: false, ready_after: Duration::ZERO };
        daemon.ready_after = daemon.wait_ready(started).await?;
        Ok(daemon)
    }

    async fn wait_ready(&mut self, started: Instant) -> Result<Duration> {
        let client = self.client();
        let deadline = started + READY_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "the daemon exited ({status}) before it answered /health; its log:\n{}",
                    self.log_tail(30)
                );
            }
            match client.health().await {
                Ok(_) => return Ok(started.elapsed()),
                Err(e) if Instant::now() >= deadline => bail!(
                    "the daemon did not answer /health within {READY_TIMEOUT:?} ({e}); its log:\n{}",
                    self.log_tail(30)
                ),
                Err(_) => tokio::time::sleep(POLL).await,
            }
        }
    }

    /// A client of this daemon over its Unix socket.
    pub fn client(&self) -> Client {
        Client::unix(&self.paths.socket)
    }

    /// Where this daemon keeps its sockets (its own Unix socket, its tmux server's).
    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    /// The daemon's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident set size now (`VmRSS`), in KiB.
    pub fn rss_kib(&self) -> Result<u64> {
        self.status_kib("VmRSS:")
    }

    /// Peak resident set size so far (`VmHWM`), in KiB.
    pub fn peak_rss_kib(&self) -> Result<u64> {
        self.status_kib("VmHWM:")
    }

    /// CPU time (user + system) the daemon has used so far.
    pub fn cpu_time(&self) -> Result<Duration> {
        cpu_time(&format!("/proc/{}/stat", self.pid()))
    }

    /// A number of `/proc/<pid>/status` (`key` with its colon, e.g. `RssAnon:`, `Threads:`),
    /// in KiB for the memory lines.
    pub fn status_kib(&self, key: &str) -> Result<u64> {
        let path = format!("/proc/{}/status", self.pid());
        let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
        let line = text
            .lines()
            .find(|l| l.starts_with(key))
            .with_context(|| format!("no {key} line in {path}"))?;
        line[key.len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .with_context(|| format!("cannot parse {line:?}"))
    }

    /// The last `n` lines of the daemon's stdout/stderr.
    pub fn log_tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(n)..].join("\n");
        if tail.trim().is_empty() { "(empty)".to_owned() } else { tail }
    }

    /// The daemon's log lines at WARN or above (it runs with `LLMUX_LOG=warn`).
    pub fn log_warnings(&self) -> Vec<String> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines()
            .filter(|l| l.contains("WARN") || l.contains("ERROR"))
            .map(String::from)
            .collect()
    }

    /// Stops the daemon (SIGTERM, then SIGKILL after a deadline) and kills its tmux server,
    /// which the daemon leaves running by design. Idempotent.
    pub fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = Command::new("kill")
                .args(["-TERM", &self.pid().to_string()])
                .stderr(Stdio::null())
                .status();
            let deadline = Instant::now() + STOP_TIMEOUT;
            while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(POLL);
            }
            if matches!(self.child.try_wait(), Ok(None)) {
                eprintln!(
                    "llmux-bench: the daemon ignored SIGTERM for {STOP_TIMEOUT:?}; killing it"
                );
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }
        let _ = Command::new("tmux")
            .arg("-S")
            .arg(&self.paths.tmux_socket)
            .arg("kill-server")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// User + system CPU time of a process, from its `/proc/<pid>/stat` (`/proc/self/stat` for
/// this one).
pub fn cpu_time(stat: &str) -> Result<Duration> {
    let text = std::fs::read_to_string(stat).with_context(|| format!("cannot read {stat}"))?;
    // Fields after the parenthesized command name: state is field 3, utime 14, stime 15.
    let rest = text.rsplit_once(')').map(|(_, r)| r).context("no command name in stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> Result<u64> {
        fields.get(i).context("short stat line")?.parse().context("bad tick count")
    };
    let total = ticks(11)? + ticks(12)?;
    Ok(Duration::from_secs_f64(total as f64 / clock_ticks() as f64))
}

/// `sysconf(_SC_CLK_TCK)`, via `getconf` (no unsafe here); 100 on every Linux we know of.
pub fn clock_ticks() -> u64 {
    static TICKS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .filter(|&t| t > 0)
            .unwrap_or(100)
    })
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One benchmark run: the load before and after, the daemon's warnings, and the body's result.
pub struct Run<T> {
    /// 1-minute load average before the daemon started.
    pub load_before: f64,
    /// 1-minute load average after it stopped.
    pub load_after: f64,
    /// Warnings and errors the daemon logged.
    pub warnings: Vec<String>,
    /// What the body returned.
    pub results: T,
}

/// Starts the daemon on `state` with `config`, runs `body` against it, and always stops it;
/// Ctrl-C or SIGTERM interrupt the body (the daemon runs in its own process group and does
/// not see the terminal's Ctrl-C, so the handlers are installed first).
pub async fn run_with_daemon<T>(
    llmux: &Path,
    state: &Path,
    config: &Path,
    label: &str,
    body: impl AsyncFnOnce(&Daemon) -> Result<T>,
) -> Result<Run<T>> {
    use tokio::signal::unix::{SignalKind, signal};
    let load_before = crate::load_average();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    if load_before > 0.5 * cpus as f64 {
        eprintln!(
            "llmux-bench: warning: the machine is busy (load average {load_before:.2} on {cpus} \
             CPUs); the figures will be noisy"
        );
    }
    let (mut int, mut term) = (signal(SignalKind::interrupt())?, signal(SignalKind::terminate())?);
    let stop = async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
    };
    tokio::pin!(stop);
    let mut daemon = tokio::select! {
        d = Daemon::start(llmux, state, config) => d?,
        () = &mut stop => bail!("interrupted"),
    };
    eprintln!("{label}: daemon pid {} ready", daemon.pid());
    let outcome = tokio::select! {
        r = body(&daemon) => r.map_err(Some),
        () = &mut stop => Err(None),
    };
    let warnings = daemon.log_warnings();
    if let Err(Some(_)) = &outcome {
        eprintln!("llmux-bench: daemon log (tail):\n{}", daemon.log_tail(30));
    }
    daemon.stop();
    drop(daemon);
    // The guard has cleaned up; now report a failure or an interruption.
    let results = outcome.map_err(|e| e.unwrap_or_else(|| anyhow::anyhow!("interrupted")))?;
    Ok(Run { load_before, load_after: crate::load_average(), warnings, results })
}
