//! Bootstrap over SSH (`llmux host add --ssh --install`, `llmux host upgrade`): put this
//! hub's own binary on a host and start it there as a user service.
//!
//! Every remote command is one of the fixed scripts below (nothing a user typed is in them;
//! the target was checked by [`SshTarget::parse`] and comes after `--`). Each step is its own
//! ssh connection, never multiplexed onto a link's tunnel (`ControlMaster=no`): an upgrade
//! stops the daemon that tunnel forwards to, and the link then drops its master connection.
//!
//! The binary goes to `~/.local/bin/.llmux.new` (streamed on ssh's stdin), is run once there
//! (`--version`, proving it starts on that host), and only then replaces `~/.local/bin/llmux`
//! by a rename: a failed copy leaves the host as it was.

use std::ffi::OsString;
use std::process::Stdio;
use std::time::Duration;

use llmux_api::InstallReport;
use llmux_core::Error;
use tokio::process::Command;

use crate::ssh::{SshSettings, ensure_dir};
use crate::target::SshTarget;

/// Which llmux a script means: the one we manage in `~/.local/bin`, else the one on `PATH`.
const LOCATE: &str =
    r#"b="$HOME/.local/bin/llmux"; [ -x "$b" ] || b=$(command -v llmux 2>/dev/null) || b="";"#;

/// What is there: machine, llmux (path, version, whether its daemon answers), systemd --user.
const PROBE: &str = r#"echo "arch $(uname -m)"
if [ -n "$b" ]; then
  echo "path $b"
  echo "version $("$b" --version 2>/dev/null | head -n 1)"
  "$b" session list >/dev/null 2>&1 && echo "running yes"
fi
systemctl --user show-environment >/dev/null 2>&1 && echo "systemd yes"
exit 0"#;

/// Receives the binary on stdin as `~/.local/bin/.llmux.new` and runs it once.
const RECEIVE: &str = r#"set -e
d="$HOME/.local/bin"
mkdir -p "$d"
cat >"$d/.llmux.new"
chmod 755 "$d/.llmux.new"
"$d/.llmux.new" --version"#;

/// Stops the running daemon (its agents keep running in tmux): its user unit, else the
/// process holding the state dir's lock (`llmux server stop` of the new binary).
const STOP: &str = r#"if systemctl --user is-active --quiet llmux.service 2>/dev/null; then
  systemctl --user stop llmux.service && echo "stopped the systemd user unit"
else
  "$HOME/.local/bin/.llmux.new" server stop
fi"#;

/// Puts the new binary in place (a rename: atomic).
const REPLACE: &str = r#"mv -f "$HOME/.local/bin/.llmux.new" "$HOME/.local/bin/llmux""#;

/// Starts the daemon: a systemd user unit where there is a user manager, else detached.
const START: &str = r#"if systemctl --user show-environment >/dev/null 2>&1; then
  "$b" service install --user >/dev/null && systemctl --user restart llmux.service && echo systemd
else
  s="${XDG_STATE_HOME:-$HOME/.local/state}/llmux"
  mkdir -p "$s"
  nohup "$b" server start >>"$s/daemon.log" 2>&1 </dev/null &
  echo detached
fi"#;

/// Waits (20 s at most) until the daemon answers; prints its socket.
const WAIT: &str = r#"i=0
until "$b" session list >/dev/null 2>&1; do
  i=$((i+1)); [ "$i" -ge 100 ] && { echo "the daemon did not answer within 20 s" >&2; exit 1; }
  sleep 0.2
done
"$b" server socket"#;

/// How long one step may take; copying the binary gets longer.
const STEP_TIMEOUT: Duration = Duration::from_secs(40);
const COPY_TIMEOUT: Duration = Duration::from_secs(600);

/// This binary's version, as `llmux --version` prints it after `llmux `.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// What [`PROBE`] found.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Probe {
    pub arch: String,
    pub path: Option<String>,
    pub version: Option<String>,
    pub running: bool,
    pub systemd: bool,
}

impl Probe {
    pub fn parse(text: &str) -> Probe {
        let mut p = Probe::default();
        for line in text.lines() {
            let (key, value) = line.split_once(' ').unwrap_or((line, ""));
            let value = value.trim().to_owned();
            match key {
                "arch" => p.arch = value,
                "path" => p.path = Some(value),
                "version" => p.version = version_of(&value),
                "running" => p.running = true,
                "systemd" => p.systemd = true,
                _ => {}
            }
        }
        p
    }
}

/// The version in `llmux 1.2.3` (the last word), if it looks like one.
fn version_of(line: &str) -> Option<String> {
    let word = line.split_whitespace().last()?;
    parse_version(word).map(|_| word.to_owned())
}

fn parse_version(v: &str) -> Option<Vec<u64>> {
    let core = v.split(['-', '+']).next()?;
    core.split('.').map(|n| n.parse().ok()).collect()
}

/// Whether `theirs` is older than `ours` (numeric, dotted; a pre-release suffix ignored).
pub(crate) fn older(theirs: &str, ours: &str) -> bool {
    match (parse_version(theirs), parse_version(ours)) {
        (Some(t), Some(o)) => t < o,
        _ => true,
    }
}

/// Whether `uname -m` on the host names this binary's architecture.
pub(crate) fn same_arch(uname: &str) -> bool {
    let ours = std::env::consts::ARCH;
    uname == ours
        || matches!((uname, ours), ("arm64", "aarch64") | ("amd64", "x86_64") | ("i686", "x86"))
}

/// What to tell an admin whose host has another architecture.
fn other_arch(dest: &str, arch: &str) -> Error {
    Error::Conflict(format!(
        "{dest} is {arch} but this llmux is built for {}: install llmux {VERSION} for {arch} \
         there yourself (the Debian package of that architecture, or `cargo install --path \
         crates/llmux` from the source), then add the host without --install",
        std::env::consts::ARCH
    ))
}

/// Installs (or upgrades) this llmux on `target` and starts its daemon. `upgrade`: also
/// when the host's llmux is current, restart nothing; report what was done.
pub async fn install(ssh: &SshSettings, target: &SshTarget) -> Result<InstallReport, Error> {
    let dest = target.destination();
    let mut steps = Vec::new();
    let probe = Probe::parse(&run(ssh, target, PROBE, None, STEP_TIMEOUT).await?);
    if probe.arch.is_empty() {
        return Err(Error::Conflict(format!("{dest} did not say its machine (uname -m)")));
    }
    match (&probe.path, &probe.version) {
        (Some(path), Some(v)) => {
            steps.push(format!("found llmux {v} at {path} on {dest} ({})", probe.arch))
        }
        (Some(path), None) => steps.push(format!("found {path} on {dest}, but not its version")),
        _ => steps.push(format!("no llmux on {dest} ({})", probe.arch)),
    }
    let current = probe.version.as_deref().is_some_and(|v| !older(v, VERSION));
    let previous = probe.version.clone();
    let (action, service) = if current {
        steps.push(format!("llmux there is current (this hub runs {VERSION}): nothing copied"));
        let service = if probe.running {
            steps.push("its daemon is running".into());
            if probe.systemd { "systemd" } else { "detached" }.to_owned()
        } else {
            start(ssh, target, &mut steps).await?
        };
        ("current", service)
    } else {
        if !same_arch(&probe.arch) {
            return Err(other_arch(&dest, &probe.arch));
        }
        copy(ssh, target, &mut steps).await?;
        if probe.running {
            let out = run(ssh, target, STOP, None, STEP_TIMEOUT).await?;
            let said = out.lines().last().unwrap_or("stopped the daemon");
            steps.push(format!("{said}; its agents keep running in tmux"));
        }
        run(ssh, target, REPLACE, None, STEP_TIMEOUT).await?;
        steps.push("replaced ~/.local/bin/llmux".into());
        let service = start(ssh, target, &mut steps).await?;
        (if previous.is_some() { "upgraded" } else { "installed" }, service)
    };
    let socket = run(ssh, target, WAIT, None, STEP_TIMEOUT).await?;
    let socket = socket.lines().last().unwrap_or_default().to_owned();
    if !socket.starts_with('/') {
        return Err(Error::Conflict(format!("{dest}: unexpected socket path {socket:?}")));
    }
    steps.push(format!("the daemon answers on {socket}"));
    let version = if current { previous.clone().unwrap_or_default() } else { VERSION.into() };
    Ok(InstallReport {
        action: action.into(),
        arch: probe.arch,
        previous,
        version,
        service,
        socket,
        steps,
    })
}

async fn copy(ssh: &SshSettings, target: &SshTarget, steps: &mut Vec<String>) -> Result<(), Error> {
    // `/proc/self/exe` is this process's binary even after a package replaced the file.
    let exe = std::path::Path::new("/proc/self/exe");
    let exe = if exe.exists() {
        exe.to_owned()
    } else {
        std::env::current_exe().map_err(|e| Error::io("cannot find this llmux binary", e))?
    };
    let size = std::fs::metadata(&exe).map(|m| m.len()).unwrap_or(0);
    let file = std::fs::File::open(&exe)
        .map_err(|e| Error::io(format!("cannot read {}", exe.display()), e))?;
    let out = run(ssh, target, RECEIVE, Some(file), COPY_TIMEOUT).await?;
    let got = version_of(out.lines().last().unwrap_or_default());
    if got.as_deref() != Some(VERSION) {
        return Err(Error::Conflict(format!(
            "the copied llmux does not run on {} (it printed {out:?}); nothing replaced",
            target.destination()
        )));
    }
    steps.push(format!("copied llmux {VERSION} ({} MB) and ran it there", size >> 20));
    Ok(())
}

async fn start(
    ssh: &SshSettings,
    target: &SshTarget,
    steps: &mut Vec<String>,
) -> Result<String, Error> {
    let how = run(ssh, target, START, None, STEP_TIMEOUT).await?;
    let how = how.lines().last().unwrap_or_default().to_owned();
    steps.push(match how.as_str() {
        "systemd" => "started the daemon as a systemd user unit (llmux.service)".into(),
        _ => "no systemd user manager there: started the daemon detached (nohup); it will not \
              come back after a reboot by itself"
            .into(),
    });
    Ok(if how == "systemd" { how } else { "detached".into() })
}

/// Runs `script` (after [`LOCATE`]) on the host over a connection of its own; its stdout.
async fn run(
    ssh: &SshSettings,
    target: &SshTarget,
    script: &str,
    stdin: Option<std::fs::File>,
    timeout: Duration,
) -> Result<String, Error> {
    ensure_dir(&ssh.dir)?;
    let mut cmd = Command::new("ssh");
    // First value wins in ssh: these come before the shared options.
    let own: [OsString; 4] =
        ["-o".into(), "ControlMaster=no".into(), "-o".into(), "ControlPath=none".into()];
    cmd.args(own)
        .args(ssh.common(target))
        .arg("--")
        .arg(target.destination())
        .arg(format!("{LOCATE}\n{script}"));
    match stdin {
        Some(f) => cmd.stdin(Stdio::from(f)),
        None => cmd.stdin(Stdio::null()),
    };
    crate::ssh::stdout_of(&mut cmd, target, timeout).await
}

impl crate::Fleet {
    /// Installs this llmux on the SSH target `ssh` (not a host yet: `host add --install`
    /// calls this, then adds the host with the reported socket).
    pub async fn install(&self, ssh: &str) -> Result<InstallReport, Error> {
        let target = SshTarget::parse(ssh)?;
        install(&self.ssh, &target).await
    }

    /// Upgrades the known SSH host `name` to this llmux (stop, replace, start; its sessions
    /// keep running). The host's link reconnects by itself once the daemon answers again.
    pub async fn upgrade(&self, name: &str) -> Result<InstallReport, Error> {
        let record = self.link(name)?.record.clone();
        let llmux_core::store::HostAddress::Ssh { target, .. } = &record.address else {
            return Err(Error::invalid(format!(
                "host {name:?} is reached by URL: upgrade it there (only SSH hosts are upgraded \
                 from the hub)"
            )));
        };
        install(&self.ssh, &SshTarget::parse(target)?).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_parse_and_versions_compare() {
        let p = Probe::parse(
            "arch x86_64\npath /home/a/.local/bin/llmux\nversion llmux 0.0.9\nrunning yes\n",
        );
        assert_eq!(p.arch, "x86_64");
        assert_eq!(p.version.as_deref(), Some("0.0.9"));
        assert!(p.running && !p.systemd);
        assert_eq!(Probe::parse("arch aarch64\n").path, None);
        assert_eq!(Probe::parse("arch x\npath /x\nversion \n").version, None);
        assert!(older("0.0.9", "0.1.0") && older("0.9.10", "0.10.0"));
        assert!(!older("0.1.0", "0.1.0") && !older("1.0.0", "0.1.0"));
        assert!(!older("0.1.0-rc1", "0.1.0"), "a pre-release suffix is ignored");
        assert!(older("garbage", "0.1.0"), "unreadable counts as older");
        assert!(same_arch(std::env::consts::ARCH));
        assert!(!same_arch("sparc64"));
    }
}
