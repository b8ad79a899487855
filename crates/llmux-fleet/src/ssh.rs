//! The OpenSSH transport: the system's `ssh` (its config, keys and `known_hosts`), never a
//! password prompt (`BatchMode=yes`), one master connection per host (`ControlMaster`) whose
//! socket sits in the hub's own run dir, and the host daemon's Unix socket forwarded to a
//! socket of the hub's (`-L local:remote`): the hub then talks to the host's daemon exactly
//! as the local CLI there does, and the host's daemon sees the SSH user's uid.
//!
//! Every argument is an argv word; the target was checked by [`SshTarget::parse`] and comes
//! after `--`, so nothing a user typed can be read as an option.
//!
//! Every ssh runs under `setpriv --pdeathsig KILL` (util-linux) where that works: the kernel
//! kills it when the hub dies, even by SIGKILL (asking for a parent-death signal ourselves
//! would need `unsafe`, which the workspace forbids). Without `setpriv`, a graceful stop still
//! kills the tunnels (`kill_on_drop`); a killed hub's tunnel lives until its connection ends.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use llmux_core::Error;
use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};

use crate::target::SshTarget;

/// How long a tunnel may take to come up (TCP, key exchange, authentication, forward).
const OPEN_TIMEOUT: Duration = Duration::from_secs(15);

/// Where the hub's ssh keeps its control sockets, and the config it reads.
#[derive(Debug, Clone)]
pub struct SshSettings {
    /// Directory (0700) for control sockets and forwarded sockets.
    pub dir: PathBuf,
    /// An ssh config file (`ssh -F`), e.g. `LLMUX_SSH_CONFIG`; `None`: ssh's own default.
    pub config: Option<PathBuf>,
}

impl SshSettings {
    /// The options every ssh the hub runs gets (before `--` and the destination).
    pub(crate) fn common(&self, target: &SshTarget) -> Vec<OsString> {
        let mut args: Vec<OsString> = Vec::new();
        if let Some(config) = &self.config {
            args.push("-F".into());
            args.push(config.into());
        }
        let mut control = OsString::from("ControlPath=");
        control.push(self.dir.join("%C"));
        for opt in [
            "BatchMode=yes".into(),
            "ControlMaster=auto".into(),
            control,
            // The tunnel process is the master: its life is the connection's (see DESIGN-NOTES).
            "ControlPersist=no".into(),
            "ConnectTimeout=10".into(),
            "ServerAliveInterval=5".into(),
            "ServerAliveCountMax=3".into(),
        ] {
            args.push("-o".into());
            args.push(opt);
        }
        if let Some(port) = target.port {
            args.push("-p".into());
            args.push(port.to_string().into());
        }
        args
    }

    /// Runs one command on the host (fixed words only: ssh joins them for the remote shell);
    /// its standard output, trimmed.
    pub async fn run(&self, target: &SshTarget, words: &[&str]) -> Result<String, Error> {
        ensure_dir(&self.dir)?;
        let mut cmd = ssh_command();
        cmd.args(self.common(target))
            .arg("--")
            .arg(target.destination())
            .args(words)
            .stdin(Stdio::null());
        stdout_of(&mut cmd, target, OPEN_TIMEOUT).await
    }

    /// Opens the tunnel: `local` (a socket path of the hub's) forwarded to `remote` (the host
    /// daemon's socket); returns once `local` accepts connections.
    pub async fn open(
        &self,
        target: &SshTarget,
        remote: &str,
        local: &Path,
    ) -> Result<Tunnel, Error> {
        ensure_dir(&self.dir)?;
        let _ = std::fs::remove_file(local);
        let mut forward = OsString::from(local);
        forward.push(":");
        forward.push(remote);
        let mut child = ssh_command()
            .args(self.common(target))
            .args(["-N", "-o", "ExitOnForwardFailure=yes", "-o", "StreamLocalBindUnlink=yes"])
            .arg("-L")
            .arg(forward)
            .arg("--")
            .arg(target.destination())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| Error::io("cannot run ssh", e))?;
        let deadline = Instant::now() + OPEN_TIMEOUT;
        loop {
            if tokio::net::UnixStream::connect(local).await.is_ok() {
                return Ok(Tunnel { child, local: local.to_owned() });
            }
            if let Ok(Some(status)) = child.try_wait() {
                let mut err = Vec::new();
                if let Some(mut stderr) = child.stderr.take() {
                    let _ = stderr.read_to_end(&mut err).await;
                }
                return Err(Error::Conflict(format!(
                    "ssh to {} ended ({status}): {}",
                    target.destination(),
                    last_line(&err)
                )));
            }
            if Instant::now() > deadline {
                return Err(Error::Conflict(format!(
                    "ssh to {} did not forward the daemon's socket within {} s",
                    target.destination(),
                    OPEN_TIMEOUT.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A running tunnel; closed (ssh killed, socket removed) on drop.
#[derive(Debug)]
pub struct Tunnel {
    child: Child,
    local: PathBuf,
}

impl Tunnel {
    /// The hub's end of the forwarded socket.
    pub fn socket(&self) -> &Path {
        &self.local
    }

    /// Completes when ssh exits (the connection broke).
    pub async fn closed(&mut self) {
        let _ = self.child.wait().await;
    }
}

impl Drop for Tunnel {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let _ = std::fs::remove_file(&self.local);
    }
}

/// `ssh`, under `setpriv --pdeathsig KILL --` when it is there: the parent-death signal is
/// kept across `exec` (ssh is not set-uid), so the ssh dies with the hub. The signal follows
/// the *thread* that spawned it: the link tasks spawn from the runtime's worker threads, which
/// live as long as the daemon (never from `spawn_blocking`, whose threads come and go).
fn ssh_command() -> Command {
    match setpriv() {
        Some(setpriv) => {
            let mut cmd = Command::new(setpriv);
            cmd.args(["--pdeathsig", "KILL", "--", "ssh"]);
            cmd
        }
        None => Command::new("ssh"),
    }
}

/// The `setpriv` that takes `--pdeathsig` (util-linux ≥ 2.33), looked for once.
fn setpriv() -> Option<&'static Path> {
    static FOUND: OnceLock<Option<PathBuf>> = OnceLock::new();
    FOUND
        .get_or_init(|| {
            let path = ["/usr/bin/setpriv", "/bin/setpriv", "/usr/local/bin/setpriv"]
                .into_iter()
                .map(PathBuf::from)
                .find(|p| p.is_file())?;
            // One try: an old setpriv without --pdeathsig refuses the option.
            let works = std::process::Command::new(&path)
                .args(["--pdeathsig", "KILL", "--", "true"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if !works {
                tracing::warn!(setpriv = %path.display(),
                    "setpriv has no --pdeathsig: a killed hub's ssh tunnels outlive it");
            }
            works.then_some(path)
        })
        .as_deref()
}

pub(crate) fn ensure_dir(dir: &Path) -> Result<(), Error> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))
}

/// The last non-empty line of ssh's standard error, without control characters.
/// Runs an ssh `cmd` to `target` to its end within `timeout`; its standard output, trimmed,
/// or the last line ssh (or the remote command) wrote to standard error.
pub(crate) async fn stdout_of(
    cmd: &mut Command,
    target: &SshTarget,
    timeout: Duration,
) -> Result<String, Error> {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
    let out = tokio::time::timeout(timeout, cmd.output())
        .await
        .map_err(|_| Error::Conflict(format!("ssh to {} timed out", target.destination())))?
        .map_err(|e| Error::io("cannot run ssh", e))?;
    if !out.status.success() {
        return Err(Error::Conflict(format!(
            "ssh to {} failed: {}",
            target.destination(),
            last_line(&out.stderr)
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

pub(crate) fn last_line(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let line = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no message");
    line.chars().filter(|c| !c.is_control()).take(300).collect()
}
