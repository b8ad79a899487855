//! The sandbox a non-admin's session runs in when the daemon runs as an ordinary user
//! (issue 15, the personal-daemon way of running).
//!
//! A [`Confinement`] says what one confined process tree may see: its persistent agent HOME,
//! the workspace roots granted read-write, its cwd, what to hide (the daemon's state and
//! runtime dirs, the daemon user's HOME, `/run`, `/var/tmp`), the user's own tmux socket dir,
//! the environment and the argv. [`Confinement::plan`] checks it against the filesystem and
//! resolves every path; [`Plan::bwrap_argv`] turns the plan into the exact argv of
//! [bubblewrap](https://github.com/containers/bubblewrap) (`bwrap`). [`probe`] says once per
//! process whether bwrap can run here, and if not, why and how to enable it.
//!
//! The rule for overlapping paths is "the most specific path wins": mounts are emitted from
//! the shortest path to the longest, so a granted root inside a hidden dir is visible again,
//! and a hidden dir inside a granted root stays hidden. No shell is involved anywhere.

mod accounts;
mod bwrap;
pub mod cgroup;
mod programs;

use std::ffi::OsString;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

pub use accounts::Account;
pub use bwrap::{Unavailable, find_bwrap, probe};
pub use programs::install_dirs;

use crate::error::{Error, Result};
use crate::paths::Paths;

/// One confined process tree, as asked for (paths not yet resolved).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confinement {
    /// The user's persistent agent HOME (see [`agent_home`]); bound read-write, `$HOME`.
    pub home: PathBuf,
    /// Workspace roots granted read-write. Everything else is read-only or hidden.
    pub roots: Vec<PathBuf>,
    /// Working directory; must lie inside one of `roots` (and not in a hidden dir).
    pub cwd: PathBuf,
    /// Directories (or files) to hide: an empty tmpfs over a dir, `/dev/null` over a file.
    /// Paths that do not exist are skipped (there is nothing to hide).
    pub hidden: Vec<PathBuf>,
    /// Paths under a hidden dir to show again read-only (e.g. `/run/systemd/resolve`, where
    /// `/etc/resolv.conf` points on systemd-resolved hosts). Missing paths are skipped.
    pub read_only: Vec<PathBuf>,
    /// The directory holding the user's own tmux socket, bound read-write (the user's tmux
    /// server, started inside the sandbox, creates its socket there). `None`: no tmux at all.
    pub tmux_dir: Option<PathBuf>,
    /// The whole environment of the confined process (nothing else is inherited).
    pub env: Vec<(String, String)>,
    /// The command to run: program and arguments.
    pub argv: Vec<OsString>,
}

/// What one mount in the plan does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountKind {
    /// An empty tmpfs over a directory.
    HideDir,
    /// `/dev/null` bound over a file (or socket).
    HideFile,
    /// Bound read-write at the same path.
    ReadWrite,
    /// Bound read-only at the same path.
    ReadOnly,
}

impl MountKind {
    fn hides(self) -> bool {
        matches!(self, MountKind::HideDir | MountKind::HideFile)
    }

    fn describe(self) -> &'static str {
        match self {
            MountKind::HideDir | MountKind::HideFile => "hidden",
            MountKind::ReadWrite => "granted read-write",
            MountKind::ReadOnly => "shown read-only",
        }
    }
}

/// One mount of a resolved [`Plan`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// What the mount does.
    pub kind: MountKind,
    /// The canonical path it applies to.
    pub path: PathBuf,
}

/// A checked confinement: canonical paths, mounts in the order bwrap must apply them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Mounts applied after `--ro-bind / /`, `--proc` and `--dev`, shortest path first (later
    /// mounts cover earlier ones); the private `/tmp` is one of them.
    pub mounts: Vec<Mount>,
    /// Canonical granted roots.
    pub roots: Vec<PathBuf>,
    /// Canonical HOME.
    pub home: PathBuf,
    /// Canonical cwd.
    pub cwd: PathBuf,
    /// The environment, HOME included.
    pub env: Vec<(String, String)>,
    /// The command.
    pub argv: Vec<OsString>,
}

/// Paths a granted root or HOME may not lie in: their content is made by the sandbox itself.
const SYSTEM_DIRS: [&str; 3] = ["/proc", "/dev", "/sys"];

impl Confinement {
    /// Checks the confinement against the filesystem and resolves it into a [`Plan`].
    ///
    /// Errors ([`Error::Invalid`]) say which path is wrong: a missing root, HOME or cwd, a
    /// cwd outside every granted root (symlinks and `..` are resolved first), a root that is
    /// also hidden, `/` granted whole, an empty argv, a bad env name.
    pub fn plan(&self) -> Result<Plan> {
        if self.argv.is_empty() {
            return Err(Error::invalid("the sandbox needs a command to run"));
        }
        for (key, value) in &self.env {
            crate::validate::env_key(key)?;
            if value.contains('\0') {
                return Err(Error::invalid(format!("env value of {key} contains a NUL byte")));
            }
        }
        if self.argv.iter().any(|a| a.as_encoded_bytes().contains(&0)) {
            return Err(Error::invalid("the sandboxed command contains a NUL byte"));
        }
        let home = existing_dir(&self.home, "agent HOME")?;
        check_not_system("agent HOME", &home)?;
        let mut roots = Vec::with_capacity(self.roots.len());
        for root in &self.roots {
            let root = existing_dir(root, "workspace root")?;
            if root == Path::new("/") {
                return Err(Error::invalid("the whole filesystem (/) cannot be a workspace root"));
            }
            check_not_system("workspace root", &root)?;
            roots.push(root);
        }
        // The private /tmp is a mount like the others, so a root under /tmp is shown again.
        let mut mounts = vec![Mount { kind: MountKind::HideDir, path: PathBuf::from("/tmp") }];
        mounts.extend(roots.iter().map(|r| Mount { kind: MountKind::ReadWrite, path: r.clone() }));
        mounts.push(Mount { kind: MountKind::ReadWrite, path: home.clone() });
        if let Some(dir) = &self.tmux_dir {
            let dir = existing_dir(dir, "tmux socket dir")?;
            mounts.push(Mount { kind: MountKind::ReadWrite, path: dir });
        }
        for path in &self.read_only {
            if let Ok(path) = path.canonicalize() {
                mounts.push(Mount { kind: MountKind::ReadOnly, path });
            }
        }
        for path in &self.hidden {
            let Ok(path) = path.canonicalize() else { continue };
            if path == Path::new("/") {
                return Err(Error::invalid("cannot hide the whole filesystem (/)"));
            }
            let kind = if path.is_dir() { MountKind::HideDir } else { MountKind::HideFile };
            mounts.push(Mount { kind, path });
        }
        // Most specific path wins: parents are mounted before their children.
        mounts.sort_by(|a, b| depth(&a.path).cmp(&depth(&b.path)).then(a.path.cmp(&b.path)));
        mounts.dedup();
        if let Some(pair) = mounts.windows(2).find(|w| w[0].path == w[1].path) {
            return Err(Error::invalid(format!(
                "{} is both {} and {}",
                pair[0].path.display(),
                pair[0].kind.describe(),
                pair[1].kind.describe()
            )));
        }
        // A hidden path inside another hidden path is already gone.
        let mut kept: Vec<Mount> = Vec::with_capacity(mounts.len());
        for mount in mounts {
            let parent = kept.iter().rev().find(|m| mount.path.starts_with(&m.path));
            let redundant = mount.kind.hides() && parent.is_some_and(|p| p.kind.hides());
            if !redundant {
                kept.push(mount);
            }
        }
        let mounts = kept;

        let mut env: Vec<(String, String)> =
            self.env.iter().filter(|(k, _)| k != "HOME").cloned().collect();
        env.push(("HOME".to_owned(), home.to_string_lossy().into_owned()));
        let argv = self.argv.clone();
        let mut plan = Plan { mounts, roots, home, cwd: PathBuf::new(), env, argv };
        plan.cwd = plan.check_cwd(&self.cwd)?;
        Ok(plan)
    }
}

impl Plan {
    /// Checks that `cwd` is a directory inside a granted root and not in a hidden or
    /// read-only part of it, after resolving symlinks and `..`; returns it resolved. The
    /// same check [`Confinement::plan`] applies to its cwd, for further sessions started
    /// inside an already running sandbox (e.g. `tmux new-session -c` in the user's confined
    /// tmux server).
    pub fn check_cwd(&self, cwd: &Path) -> Result<PathBuf> {
        let cwd = existing_dir(cwd, "cwd")?;
        if !self.roots.iter().any(|r| cwd.starts_with(r)) {
            return Err(Error::invalid(format!(
                "cwd {} is not inside a granted workspace root ({})",
                cwd.display(),
                list(&self.roots)
            )));
        }
        let covering = self.mounts.iter().rev().find(|m| cwd.starts_with(&m.path));
        if let Some(m) = covering.filter(|m| m.kind != MountKind::ReadWrite) {
            return Err(Error::invalid(format!(
                "cwd {} lies in {}, which the sandbox {}",
                cwd.display(),
                m.path.display(),
                if m.kind.hides() { "hides" } else { "shows read-only" }
            )));
        }
        Ok(cwd)
    }
}

fn existing_dir(path: &Path, what: &str) -> Result<PathBuf> {
    if !path.is_absolute() {
        return Err(Error::invalid(format!("{what} {} is not an absolute path", path.display())));
    }
    let canonical = path
        .canonicalize()
        .map_err(|e| Error::invalid(format!("{what} {}: {e}", path.display())))?;
    if !canonical.is_dir() {
        return Err(Error::invalid(format!("{what} {} is not a directory", path.display())));
    }
    Ok(canonical)
}

fn check_not_system(what: &str, path: &Path) -> Result<()> {
    match SYSTEM_DIRS.iter().find(|d| path.starts_with(d)) {
        Some(dir) => Err(Error::invalid(format!(
            "{what} {} lies in {dir}, which the sandbox replaces with its own",
            path.display()
        ))),
        None => Ok(()),
    }
}

fn depth(path: &Path) -> usize {
    path.components().filter(|c| matches!(c, Component::Normal(_))).count()
}

fn list(paths: &[PathBuf]) -> String {
    if paths.is_empty() {
        return "none granted".to_owned();
    }
    paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
}

/// What the sandbox hides from every confined session of this daemon: its state dir (store,
/// VAPID key, overlay, every user's agent HOME), its runtime dir (its own socket, the tmux
/// sockets), the daemon user's own HOME (logins, ssh keys, shell history), `/run` (the
/// per-user runtime dirs with dbus, ssh-agent, gpg-agent and systemd sockets, the docker
/// socket), `/var/tmp`, and wherever the daemon's environment `daemon_env` puts its XDG dirs,
/// tmux socket dir, ssh-agent socket or GnuPG home when they lie outside its HOME. `/tmp`,
/// `/proc` and `/dev` are always replaced by the sandbox's own and need not be listed.
///
/// The caller adds what belongs to other llmux users outside the state dir: their granted
/// workspace roots (those not also granted to this user).
pub fn default_hidden(
    paths: &Paths,
    daemon_home: &Path,
    daemon_env: impl IntoIterator<Item = (String, String)>,
) -> Vec<PathBuf> {
    const ENV_PATHS: [&str; 8] = [
        "XDG_CONFIG_HOME",
        "XDG_DATA_HOME",
        "XDG_STATE_HOME",
        "XDG_CACHE_HOME",
        "XDG_RUNTIME_DIR",
        "TMUX_TMPDIR",
        "SSH_AUTH_SOCK",
        "GNUPGHOME",
    ];
    let mut hidden = vec![
        paths.state_dir.clone(),
        paths.run_dir.clone(),
        daemon_home.to_path_buf(),
        PathBuf::from("/run"),
        PathBuf::from("/var/tmp"),
    ];
    for (key, value) in daemon_env {
        let path = PathBuf::from(value);
        if ENV_PATHS.contains(&key.as_str()) && path.is_absolute() && depth(&path) > 0 {
            hidden.push(path);
        }
    }
    hidden
}

/// What [`default_hidden`] hides that must stay readable: the resolver's dir, where
/// `/etc/resolv.conf` points on systemd-resolved hosts (agents must reach their model APIs).
pub fn default_read_only() -> Vec<PathBuf> {
    vec![PathBuf::from("/run/systemd/resolve")]
}

/// Names of the daemon's environment a confined agent keeps (terminal, locale, PATH); all
/// else (`LLMUX_*`, `TMUX`, `SSH_AUTH_SOCK`, `DBUS_SESSION_BUS_ADDRESS`, `XDG_*`, tokens) is
/// dropped.
pub const KEPT_ENV: [&str; 6] = ["PATH", "TERM", "COLORTERM", "LANG", "TZ", "NO_COLOR"];

/// The environment of a confined agent: the [`KEPT_ENV`] and `LC_*` entries of `inherited`,
/// `TMPDIR=/tmp`, then `extra` (the session's own env) on top. HOME is set by [`Plan`].
pub fn agent_env(
    inherited: impl IntoIterator<Item = (String, String)>,
    extra: impl IntoIterator<Item = (String, String)>,
) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = inherited
        .into_iter()
        .filter(|(k, _)| KEPT_ENV.contains(&k.as_str()) || k.starts_with("LC_"))
        .collect();
    env.push(("TMPDIR".to_owned(), "/tmp".to_owned()));
    for (key, value) in extra {
        env.retain(|(k, _)| *k != key);
        env.push((key, value));
    }
    env
}

/// The persistent agent HOME of llmux user `user_id`: `<state>/homes/<user_id>`.
pub fn agent_home(paths: &Paths, user_id: &str) -> Result<PathBuf> {
    let ok = !user_id.is_empty()
        && user_id.len() <= 64
        && !user_id.starts_with('.')
        && user_id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if !ok {
        return Err(Error::invalid(format!("invalid user id {user_id:?} for an agent HOME")));
    }
    Ok(paths.state_dir.join("homes").join(user_id))
}

/// Creates `dir` (and its parents) with mode 0700 if missing, and checks that it is ours and
/// private (tightening the mode of an existing one).
pub fn ensure_private_dir(dir: &Path) -> Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
    let meta = std::fs::symlink_metadata(dir)
        .map_err(|e| Error::io(format!("cannot stat {}", dir.display()), e))?;
    if !meta.is_dir() || meta.uid() != rustix::process::getuid().as_raw() {
        return Err(Error::invalid(format!(
            "{} is not a directory owned by the daemon's user; refusing to use it",
            dir.display()
        )));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| Error::io(format!("cannot chmod {}", dir.display()), e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
