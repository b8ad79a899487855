//! Where llmux keeps its files: the state dir, the runtime dir with the sockets, the database.
//!
//! The CLI and the daemon resolve the same paths from the same inputs (`--state-dir`,
//! `LLMUX_STATE_DIR`, `XDG_STATE_HOME`, `HOME`), which is how the CLI finds its daemon.

use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Longest Unix socket path we create (the kernel limit is 108 bytes including the NUL).
const MAX_SOCKET_PATH: usize = 100;

/// All paths of one llmux instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// State dir (0700): database, lock, overlay.
    pub state_dir: PathBuf,
    /// Runtime dir (0700): the daemon's socket and the tmux socket.
    pub run_dir: PathBuf,
    /// The SQLite database.
    pub db: PathBuf,
    /// The daemon's Unix socket.
    pub socket: PathBuf,
    /// The socket of llmux's own tmux server.
    pub tmux_socket: PathBuf,
    /// The tmux config llmux's tmux server starts with.
    pub tmux_conf: PathBuf,
    /// Lock file held by the running daemon.
    pub lock: PathBuf,
    /// Runtime overlay written by the settings API.
    pub overlay: PathBuf,
}

impl Paths {
    /// Resolves the state dir: `explicit` > `$LLMUX_STATE_DIR` > `$XDG_STATE_HOME/llmux` >
    /// `~/.local/state/llmux`.
    pub fn resolve(explicit: Option<&Path>) -> Result<Paths> {
        let state_dir = match explicit {
            Some(dir) => dir.to_path_buf(),
            None => match std::env::var_os("LLMUX_STATE_DIR").filter(|v| !v.is_empty()) {
                Some(dir) => PathBuf::from(dir),
                None => match std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
                    Some(xdg) => PathBuf::from(xdg).join("llmux"),
                    None => home_dir().join(".local/state/llmux"),
                },
            },
        };
        let state_dir = if state_dir.is_absolute() {
            state_dir
        } else {
            std::env::current_dir()
                .map_err(|e| Error::io("cannot read the current directory", e))?
                .join(state_dir)
        };
        Ok(Paths::in_state_dir(state_dir))
    }

    /// The layout under a given state dir.
    pub fn in_state_dir(state_dir: PathBuf) -> Paths {
        let mut run_dir = state_dir.join("run");
        if run_dir.join("tmux.sock").as_os_str().len() > MAX_SOCKET_PATH {
            // A deep state dir would overflow sun_path: fall back to a short per-user dir
            // named after the state dir, so CLI and daemon still agree.
            let base = std::env::var_os("XDG_RUNTIME_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(std::env::temp_dir);
            let uid = rustix::process::getuid().as_raw();
            run_dir = base.join(format!("llmux-{uid}-{:016x}", fnv1a(state_dir.as_os_str())));
        }
        Paths {
            db: state_dir.join("llmux.db"),
            lock: state_dir.join("daemon.lock"),
            overlay: state_dir.join("overlay.yaml"),
            socket: run_dir.join("llmux.sock"),
            tmux_socket: run_dir.join("tmux.sock"),
            tmux_conf: run_dir.join("tmux.conf"),
            state_dir,
            run_dir,
        }
    }

    /// The default workspace root of a user whose admin granted none:
    /// `<state>/workspaces/<username>` (created 0700 when first needed).
    pub fn default_workspace(&self, username: &str) -> PathBuf {
        self.state_dir.join("workspaces").join(username)
    }

    /// The socket of one user's own tmux server: `<run>/u/<username>.sock`; when that would
    /// overflow `sun_path`, `<run>/u/<hash>.sock`, and when even that would, a short dir of
    /// our own under `$XDG_RUNTIME_DIR` or the temp dir. The runtime dir is hidden from every
    /// confined session, so no agent can reach or replace a server's socket. The caller
    /// creates the socket's directory private (`sandbox::ensure_private_dir`).
    pub fn user_tmux_socket(&self, username: &str) -> PathBuf {
        const SUN_PATH: usize = 107;
        let hash = format!("{:016x}.sock", fnv1a(std::ffi::OsStr::new(username)));
        let dir = self.run_dir.join("u");
        let plain = dir.join(format!("{username}.sock"));
        if plain.as_os_str().len() <= SUN_PATH {
            return plain;
        }
        let hashed = dir.join(&hash);
        if hashed.as_os_str().len() <= SUN_PATH {
            return hashed;
        }
        let base = std::env::var_os("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir);
        let uid = rustix::process::getuid().as_raw();
        base.join(format!("llmux-{uid}-{:016x}-u", fnv1a(self.state_dir.as_os_str()))).join(hash)
    }

    /// Creates the state and runtime dirs with mode 0700 and checks that nobody else owns
    /// them (a pre-created dir in /tmp must not let another user read our sockets).
    pub fn create_dirs(&self) -> Result<()> {
        for dir in [&self.state_dir, &self.run_dir] {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
            let meta = std::fs::metadata(dir)
                .map_err(|e| Error::io(format!("cannot stat {}", dir.display()), e))?;
            if meta.uid() != rustix::process::getuid().as_raw() {
                return Err(Error::invalid(format!(
                    "{} is owned by another user; refusing to use it",
                    dir.display()
                )));
            }
            if meta.permissions().mode() & 0o077 != 0 {
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                    .map_err(|e| Error::io(format!("cannot chmod {}", dir.display()), e))?;
            }
        }
        Ok(())
    }
}

/// The user's home directory: `$HOME`, else the password database.
pub fn home_dir() -> PathBuf {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .or_else(std::env::home_dir)
        .unwrap_or_else(|| PathBuf::from("/"))
}

/// Shortens `path` to `~/…` when it lies under `home`.
pub fn display_path(path: &Path, home: &Path) -> String {
    match path.strip_prefix(home) {
        Ok(rest) if rest.as_os_str().is_empty() => "~".to_owned(),
        Ok(rest) if home != Path::new("/") => format!("~/{}", rest.display()),
        _ => path.display().to_string(),
    }
}

/// Writes a file readable only by us, atomically (temp file + rename).
pub fn write_private(path: &Path, data: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| Error::io(format!("cannot write {}", tmp.display()), e))?;
    file.write_all(data).map_err(|e| Error::io(format!("cannot write {}", tmp.display()), e))?;
    std::fs::rename(&tmp, path)
        .map_err(|e| Error::io(format!("cannot replace {}", path.display()), e))
}

/// FNV-1a (64-bit) of some bytes: a short, stable name for a path (the same in every build,
/// so a newer daemon finds what an older one named).
pub fn fnv1a(bytes: &std::ffi::OsStr) -> u64 {
    use std::os::unix::ffi::OsStrExt;
    bytes
        .as_bytes()
        .iter()
        .fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_state_dirs_get_a_short_runtime_dir() {
        let short = Paths::in_state_dir(PathBuf::from("/tmp/s"));
        assert_eq!(short.socket, PathBuf::from("/tmp/s/run/llmux.sock"));
        let long = Paths::in_state_dir(PathBuf::from(format!("/tmp/{}", "x".repeat(120))));
        assert!(long.tmux_socket.as_os_str().len() <= MAX_SOCKET_PATH);
        assert_eq!(long, Paths::in_state_dir(long.state_dir.clone()), "deterministic");
    }

    #[test]
    fn user_tmux_sockets_fit_in_sun_path() {
        let user = "u".repeat(32);
        // Every state dir length up to where the runtime dir falls back to a short one.
        for len in 1..120 {
            let paths = Paths::in_state_dir(PathBuf::from(format!("/{}", "x".repeat(len))));
            let socket = paths.user_tmux_socket(&user);
            assert!(socket.as_os_str().len() <= 107, "{}", socket.display());
            assert_ne!(socket, paths.user_tmux_socket("other"));
        }
        let short = Paths::in_state_dir(PathBuf::from("/s"));
        assert_eq!(short.user_tmux_socket("bob"), PathBuf::from("/s/run/u/bob.sock"));
    }

    #[test]
    fn home_shortening() {
        let home = Path::new("/home/u");
        assert_eq!(display_path(Path::new("/home/u"), home), "~");
        assert_eq!(display_path(Path::new("/home/u/p"), home), "~/p");
        assert_eq!(display_path(Path::new("/srv"), home), "/srv");
    }
}
