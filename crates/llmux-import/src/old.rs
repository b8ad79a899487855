//! Where llmux 0.41 kept its files, and reading them.
//!
//! - `$XDG_DATA_HOME/llmux/v2/users.json` and `tokens.json` (default `~/.local/share`);
//! - `$XDG_STATE_HOME/llmuxd/sessions.json` (default `~/.local/state`), and there `auth.json`,
//!   the ownerless v1 tokens (never brought over: reported);
//! - `~/.config/llmux/config.yaml` and `overrides.yaml` (0.41 used the home dir, not
//!   `XDG_CONFIG_HOME`);
//! - tmux: the default server, `${TMUX_TMPDIR:-/tmp}/tmux-<uid>/default`.
//!
//! The JSON files are read as values and each entry is checked on its own, so one entry 0.41
//! would have choked on (or someone crafted) is reported and the rest still come over.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// The most bytes read from one old file.
pub const MAX_FILE_BYTES: u64 = 16 << 20;

/// The environment the default locations come from.
#[derive(Debug, Clone)]
pub struct Locations {
    /// `$HOME`.
    pub home: PathBuf,
    /// `$XDG_DATA_HOME`, if set and absolute.
    pub xdg_data_home: Option<PathBuf>,
    /// `$XDG_STATE_HOME`, if set and absolute.
    pub xdg_state_home: Option<PathBuf>,
    /// `$TMUX_TMPDIR`, if set.
    pub tmux_tmpdir: Option<PathBuf>,
    /// The uid whose tmux server 0.41 used.
    pub uid: u32,
}

impl Locations {
    /// From this process's environment.
    pub fn from_env() -> Locations {
        let abs =
            |name: &str| std::env::var_os(name).map(PathBuf::from).filter(|p| p.is_absolute());
        Locations {
            home: llmux_core::paths::home_dir(),
            xdg_data_home: abs("XDG_DATA_HOME"),
            xdg_state_home: abs("XDG_STATE_HOME"),
            tmux_tmpdir: std::env::var_os("TMUX_TMPDIR")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            uid: rustix::process::getuid().as_raw(),
        }
    }

    /// The socket of the default tmux server, which 0.41 ran its sessions on.
    pub fn tmux_socket(&self) -> PathBuf {
        let dir = self.tmux_tmpdir.clone().unwrap_or_else(|| PathBuf::from("/tmp"));
        dir.join(format!("tmux-{}", self.uid)).join("default")
    }
}

/// The files of one old install (each `None` when not found).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Install {
    /// How the install was named: `default locations` or the `--from` directory.
    pub label: String,
    /// `users.json`.
    pub users: Option<PathBuf>,
    /// `tokens.json`.
    pub tokens: Option<PathBuf>,
    /// `sessions.json`.
    pub sessions: Option<PathBuf>,
    /// `config.yaml`.
    pub config: Option<PathBuf>,
    /// `overrides.yaml` (the settings page's overlay).
    pub overrides: Option<PathBuf>,
    /// `auth.json`: v1 tokens (reported, never brought over).
    pub v1_auth: Option<PathBuf>,
    /// The tmux server its sessions ran on.
    pub tmux_socket: PathBuf,
}

fn first(candidates: Vec<PathBuf>) -> Option<PathBuf> {
    candidates.into_iter().find(|p| p.is_file())
}

impl Install {
    /// The old daemon's own locations.
    pub fn default_locations(loc: &Locations) -> Install {
        let data = loc.xdg_data_home.clone().unwrap_or_else(|| loc.home.join(".local/share"));
        let state = loc.xdg_state_home.clone().unwrap_or_else(|| loc.home.join(".local/state"));
        let v2 = data.join("llmux/v2");
        let llmuxd = state.join("llmuxd");
        let conf = loc.home.join(".config/llmux");
        Install {
            label: "default locations".into(),
            users: first(vec![v2.join("users.json")]),
            tokens: first(vec![v2.join("tokens.json")]),
            sessions: first(vec![llmuxd.join("sessions.json")]),
            config: first(vec![conf.join("config.yaml")]),
            overrides: first(vec![conf.join("overrides.yaml")]),
            v1_auth: first(vec![llmuxd.join("auth.json")]),
            tmux_socket: loc.tmux_socket(),
        }
    }

    /// The files under `dir`: a copy of the old home dir, of `XDG_DATA_HOME` / `XDG_STATE_HOME`
    /// / `~/.config/llmux`, or one flat directory holding the files.
    pub fn in_dir(dir: &Path, loc: &Locations) -> Install {
        let under = |rels: &[&str], file: &str| {
            first(rels.iter().map(|r| dir.join(r).join(file)).collect())
        };
        let v2 = ["", "v2", "llmux/v2", ".local/share/llmux/v2"];
        let state = ["", "llmuxd", ".local/state/llmuxd"];
        let conf = ["", "llmux", ".config/llmux"];
        Install {
            label: dir.display().to_string(),
            users: under(&v2, "users.json"),
            tokens: under(&v2, "tokens.json"),
            sessions: under(&state, "sessions.json"),
            config: under(&conf, "config.yaml"),
            overrides: under(&conf, "overrides.yaml"),
            v1_auth: under(&state, "auth.json"),
            tmux_socket: loc.tmux_socket(),
        }
    }
}

/// Reads a whole old file, at most [`MAX_FILE_BYTES`].
pub fn read(path: &Path) -> Result<String, String> {
    use std::io::Read;
    let file =
        std::fs::File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut text = String::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(format!("{} is larger than {} MiB", path.display(), MAX_FILE_BYTES >> 20));
    }
    Ok(text)
}

/// Reads a JSON file 0.41 kept as an array (`users.json`, `tokens.json`).
pub fn read_array(path: &Path) -> Result<Vec<Value>, String> {
    let text = read(path)?;
    match serde_json::from_str(&text) {
        Ok(Value::Array(items)) => Ok(items),
        Ok(_) => Err(format!("{}: expected a JSON array", path.display())),
        Err(e) => Err(format!("{}: invalid JSON: {e}", path.display())),
    }
}

/// Reads `sessions.json` (`{"version": 1, "sessions": {name: {...}}}`) as (key, entry) pairs
/// in file order.
pub fn read_sessions(path: &Path) -> Result<Vec<(String, Value)>, String> {
    let text = read(path)?;
    let value: Value = serde_json::from_str(&text)
        .map_err(|e| format!("{}: invalid JSON: {e}", path.display()))?;
    if value.get("version") != Some(&Value::from(1)) {
        return Err(format!("{}: not a version 1 sessions file", path.display()));
    }
    match value.get("sessions") {
        Some(Value::Object(map)) => Ok(map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        _ => Err(format!("{}: \"sessions\" is not an object", path.display())),
    }
}

/// A string field of an entry.
pub fn str_field<'a>(entry: &'a Value, key: &str) -> Option<&'a str> {
    entry.get(key).and_then(Value::as_str)
}
