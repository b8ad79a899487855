//! bubblewrap: the argv of a [`Plan`], and the probe that says whether bwrap runs here.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::{MountKind, Plan};

impl Plan {
    /// The exact argv that runs this plan: `bwrap` (the path given) with its options, `--`,
    /// then the command. Hand it to `Command::new(&argv[0]).args(&argv[1..])` or to tmux as
    /// a pane's argv; never join it into a shell string.
    ///
    /// - `--ro-bind / /`: the system is there, read-only.
    /// - `--proc /proc` (a procfs of the new PID namespace: only the sandbox's processes) and
    ///   `--dev /dev` (null, zero, random, tty, a private `/dev/shm` and devpts).
    /// - the mounts, shortest path first: `--tmpfs` over a hidden dir (0755, empty), `/dev/null`
    ///   over a hidden file, `--bind` for granted roots, HOME and the tmux dir, `--ro-bind`.
    /// - `--unshare-pid --unshare-ipc --unshare-uts`: own PID, SysV IPC and hostname
    ///   namespaces. The network is shared (agents reach their model APIs).
    /// - `--cap-drop ALL`: a root daemon's bwrap keeps every capability otherwise, and with
    ///   `CAP_SYS_ADMIN` the agent could unmount what hides the state dir.
    /// - `--die-with-parent`: the command dies with bwrap (with the tmux pane).
    /// - no `--new-session`: the agent is a TUI on its pane's tty and needs it as its
    ///   controlling terminal (SIGWINCH on resize, SIGHUP when the pane dies). See
    ///   docs/DESIGN-NOTES.md for the TIOCSTI trade-off.
    /// - `--chdir`, `--clearenv` and one `--setenv` per variable.
    pub fn bwrap_argv(&self, bwrap: &Path) -> Vec<OsString> {
        let mut argv: Vec<OsString> = vec![bwrap.into()];
        let mut push = |args: &[&std::ffi::OsStr]| argv.extend(args.iter().map(|a| a.into()));
        push(&["--ro-bind".as_ref(), "/".as_ref(), "/".as_ref()]);
        push(&["--proc".as_ref(), "/proc".as_ref()]);
        push(&["--dev".as_ref(), "/dev".as_ref()]);
        for mount in &self.mounts {
            let path = mount.path.as_os_str();
            match mount.kind {
                MountKind::HideDir => push(&["--tmpfs".as_ref(), path]),
                MountKind::HideFile => push(&["--ro-bind".as_ref(), "/dev/null".as_ref(), path]),
                MountKind::ReadWrite => push(&["--bind".as_ref(), path, path]),
                MountKind::ReadOnly => push(&["--ro-bind".as_ref(), path, path]),
            }
        }
        for flag in ["--unshare-pid", "--unshare-ipc", "--unshare-uts"] {
            push(&[flag.as_ref()]);
        }
        push(&["--cap-drop".as_ref(), "ALL".as_ref(), "--die-with-parent".as_ref()]);
        push(&["--chdir".as_ref(), self.cwd.as_os_str()]);
        push(&["--clearenv".as_ref()]);
        for (key, value) in &self.env {
            push(&["--setenv".as_ref(), key.as_ref(), value.as_ref()]);
        }
        push(&["--".as_ref()]);
        argv.extend(self.argv.iter().cloned());
        argv
    }
}

/// Why the sandbox cannot run on this machine, and how to enable it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unavailable(pub String);

impl From<Unavailable> for crate::Error {
    fn from(e: Unavailable) -> Self {
        crate::Error::Conflict(e.0)
    }
}

/// Where bwrap is: the first `bwrap` on `PATH`, else `/usr/bin/bwrap`, else
/// `/usr/local/bin/bwrap`.
pub fn find_bwrap() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/local/bin")])
        .map(|dir| dir.join("bwrap"))
        .find(|p| p.is_absolute() && is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Whether the sandbox can run on this machine: bwrap is installed and can create the
/// namespaces and mounts a session needs (it runs `bwrap --version` inside a sandbox made of
/// the same options). Ok gives bwrap's path. Checked once per process; blocking (call it at
/// start-up or from a blocking task).
pub fn probe() -> Result<&'static Path, Unavailable> {
    static PROBE: OnceLock<Result<PathBuf, Unavailable>> = OnceLock::new();
    PROBE.get_or_init(run_probe).as_ref().map(PathBuf::as_path).map_err(Clone::clone)
}

fn run_probe() -> Result<PathBuf, Unavailable> {
    let Some(bwrap) = find_bwrap() else {
        return Err(Unavailable(
            "the sandbox for non-admin sessions needs bubblewrap, which is not installed: \
             install it (Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install \
             bubblewrap; Arch: pacman -S bubblewrap) and restart the daemon"
                .to_owned(),
        ));
    };
    let plan = Plan {
        mounts: vec![super::Mount { kind: MountKind::HideDir, path: PathBuf::from("/tmp") }],
        roots: Vec::new(),
        home: PathBuf::from("/"),
        cwd: PathBuf::from("/"),
        env: Vec::new(),
        argv: vec![bwrap.clone().into(), "--version".into()],
    };
    let argv = plan.bwrap_argv(&bwrap);
    let output = std::process::Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| Unavailable(format!("cannot run {}: {e}", bwrap.display())))?;
    if output.status.success() {
        return Ok(bwrap);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    Err(Unavailable(diagnose(&bwrap, stderr.trim(), &Sysctls::read())))
}

/// The kernel settings that decide whether unprivileged user namespaces are allowed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Sysctls {
    /// `kernel.unprivileged_userns_clone` (Debian's older kernels), when present.
    pub unprivileged_userns_clone: Option<u64>,
    /// `user.max_user_namespaces`.
    pub max_user_namespaces: Option<u64>,
    /// `kernel.apparmor_restrict_unprivileged_userns` (Ubuntu 23.10+), when present.
    pub apparmor_restrict: Option<u64>,
}

impl Sysctls {
    fn read() -> Sysctls {
        let read = |name: &str| -> Option<u64> {
            std::fs::read_to_string(Path::new("/proc/sys").join(name)).ok()?.trim().parse().ok()
        };
        Sysctls {
            unprivileged_userns_clone: read("kernel/unprivileged_userns_clone"),
            max_user_namespaces: read("user/max_user_namespaces"),
            apparmor_restrict: read("kernel/apparmor_restrict_unprivileged_userns"),
        }
    }
}

/// The message for a bwrap that is installed but fails: what it said, and which setting to
/// change (the ones found off first; all of them when none is).
pub(crate) fn diagnose(bwrap: &Path, stderr: &str, sysctls: &Sysctls) -> String {
    let mut fixes = Vec::new();
    let all = sysctls.unprivileged_userns_clone != Some(0)
        && sysctls.max_user_namespaces != Some(0)
        && sysctls.apparmor_restrict != Some(1);
    if all || sysctls.unprivileged_userns_clone == Some(0) {
        fixes.push("sysctl -w kernel.unprivileged_userns_clone=1");
    }
    if all || sysctls.max_user_namespaces == Some(0) {
        fixes.push("sysctl -w user.max_user_namespaces=28633");
    }
    if all || sysctls.apparmor_restrict == Some(1) {
        fixes.push(
            "on Ubuntu 23.10+, allow bwrap user namespaces with an AppArmor profile \
             (/etc/apparmor.d/bwrap: `abi <abi/4.0>, include <tunables/global> profile bwrap \
             /usr/bin/bwrap flags=(unconfined) { userns, }`, then `apparmor_parser -r \
             /etc/apparmor.d/bwrap`) or sysctl -w kernel.apparmor_restrict_unprivileged_userns=0",
        );
    }
    format!(
        "the sandbox for non-admin sessions cannot run here: {} failed ({}). It needs \
         unprivileged user namespaces; to enable them: {} (persist it in /etc/sysctl.d/), then \
         restart the daemon",
        bwrap.display(),
        if stderr.is_empty() { "no message" } else { stderr },
        fixes.join("; ")
    )
}
