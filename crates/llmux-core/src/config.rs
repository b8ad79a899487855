//! The optional YAML config file: discovery and schema.
//!
//! Discovery, first hit wins: `--config FILE` (must exist), `./.llmux.yaml`,
//! `~/.config/llmux/config.yaml`, `$LLMUX_CONFIG`. No file means built-in defaults. Reading the
//! config never writes a file. Flags, environment variables and the runtime overlay override
//! what it says: [`effective`] resolves every layer in one place.

pub mod effective;
mod uploads;
pub use uploads::{UploadLimits, UploadsConfig};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::paths::home_dir;

/// The default TCP port.
pub const DEFAULT_PORT: u16 = 3001;
/// The default TCP bind address: loopback only.
pub const DEFAULT_HOST: &str = "127.0.0.1";

/// The parsed config file. Unknown keys are ignored so old daemons' files still load.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    /// `server:` section.
    #[serde(default)]
    pub server: ServerConfig,
    /// `agents:` section: overrides of built-in agents and new agents.
    #[serde(default)]
    pub agents: BTreeMap<String, AgentConfig>,
    /// Daemon-wide prompts typed into every new session once it is ready.
    #[serde(default)]
    pub init_prompts: Vec<String>,
    /// `notifications:` section: Web Push and the webhook.
    #[serde(default)]
    pub notifications: NotificationsConfig,
}

/// `notifications:` section. Notifications are made when a session's agent goes from
/// `working` to `waiting` or `idle`.
#[derive(Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationsConfig {
    /// A URL that receives every such change of every session as a JSON `StateEvent` (POST,
    /// 5 s timeout, not retried).
    pub webhook: Option<String>,
    /// The VAPID contact sent to push services (`mailto:…` or `https://…`; default
    /// `mailto:llmux@localhost`).
    pub vapid_subject: Option<String>,
    /// Accept `http://127.0.0.1`, `http://[::1]` and `http://localhost` push endpoints (tests
    /// and local push servers); otherwise endpoints must be `https`.
    #[serde(default)]
    pub allow_loopback_push: bool,
}

impl std::fmt::Debug for NotificationsConfig {
    /// The webhook URL may carry a secret in its path or query: only its origin is shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let webhook = self.webhook.as_deref().map(|url| {
            let rest = url.split_once("://").map_or(url, |(_, r)| r);
            let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            format!("{}…", &url[..url.len() - rest.len() + host_end])
        });
        f.debug_struct("NotificationsConfig")
            .field("webhook", &webhook)
            .field("vapid_subject", &self.vapid_subject)
            .field("allow_loopback_push", &self.allow_loopback_push)
            .finish()
    }
}

/// `server:` section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerConfig {
    /// TCP port (default 3001).
    pub port: Option<u16>,
    /// TCP bind address (default 127.0.0.1).
    pub host: Option<String>,
    /// The URL people reach the daemon at (e.g. `https://box.tailnet.ts.net`): its host is
    /// allowed in `Host` headers and an `https` URL makes cookies `Secure`.
    pub public_url: Option<String>,
    /// More host names accepted in `Host` headers (besides localhost, IP addresses, the
    /// machine's names and the Tailscale names found at start).
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    /// Origins (`https://app.example`) allowed to make cookie-authenticated requests and to
    /// open WebSockets, besides the daemon's own.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// `server.limits:` timeouts and caps on connections and long-lived streams.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// `server.uploads:` what may be uploaded into a session's workspace.
    #[serde(default)]
    pub uploads: UploadsConfig,
    /// How users are kept apart (`personal`, the default, or `system`); see [`DaemonMode`].
    #[serde(default)]
    pub mode: DaemonMode,
    /// A system daemon's users' socket (default `/run/llmux/users.sock`): local Unix users
    /// mapped to llmux users reach the daemon there as themselves.
    pub users_socket: Option<std::path::PathBuf>,
}

/// `server.mode:` how the daemon keeps users apart (README, "Users and isolation").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DaemonMode {
    /// Run as an ordinary user: admins' sessions run as that user, every non-admin's in the
    /// sandbox.
    #[default]
    Personal,
    /// Run as root for a shared box: each llmux user's sessions run as the Unix account
    /// mapped to them, non-admins' in the sandbox on top.
    System,
}

/// `server.limits:` what one client can hold open. Every field is optional; [`Limits`] holds
/// the values in effect.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LimitsConfig {
    /// Seconds a client has to send a request's whole head, counted from the connection's
    /// start or its first byte after an idle pause (default 10).
    pub header_timeout_secs: Option<u64>,
    /// Seconds a keep-alive connection may sit idle between requests (default 60).
    pub idle_timeout_secs: Option<u64>,
    /// Open TCP connections at once; more are refused at accept (default 1024). The Unix
    /// socket has its own accept loop and never counts against this.
    pub max_tcp_connections: Option<usize>,
    /// Open terminal WebSockets per user (default 32); more answer 429.
    #[serde(rename = "maxWebSocketsPerUser")]
    pub max_websockets_per_user: Option<usize>,
    /// Open event streams per user (default 32); more answer 429.
    pub max_event_streams_per_user: Option<usize>,
}

/// The limits in effect: the config's values, defaults for the rest, each at least 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// See [`LimitsConfig::header_timeout_secs`].
    pub header_timeout: std::time::Duration,
    /// See [`LimitsConfig::idle_timeout_secs`].
    pub idle_timeout: std::time::Duration,
    /// See [`LimitsConfig::max_tcp_connections`].
    pub max_tcp_connections: usize,
    /// See [`LimitsConfig::max_websockets_per_user`].
    pub max_websockets_per_user: usize,
    /// See [`LimitsConfig::max_event_streams_per_user`].
    pub max_event_streams_per_user: usize,
}

impl Default for Limits {
    fn default() -> Self {
        LimitsConfig::default().resolve()
    }
}

impl LimitsConfig {
    /// The limits in effect (defaults for what is not set; zero counts as one).
    pub fn resolve(&self) -> Limits {
        let secs = |v: Option<u64>, d: u64| std::time::Duration::from_secs(v.unwrap_or(d).max(1));
        Limits {
            header_timeout: secs(self.header_timeout_secs, 10),
            idle_timeout: secs(self.idle_timeout_secs, 60),
            max_tcp_connections: self.max_tcp_connections.unwrap_or(1024).max(1),
            max_websockets_per_user: self.max_websockets_per_user.unwrap_or(32).max(1),
            max_event_streams_per_user: self.max_event_streams_per_user.unwrap_or(32).max(1),
        }
    }
}

/// One entry of `agents:`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AgentConfig {
    /// Program and leading arguments (shell-word syntax; no shell runs it).
    pub cmd: Option<String>,
    /// Default flags (`""` = none).
    pub flags: Option<String>,
    /// Extra environment for every session of the agent.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Human name.
    pub display_name: Option<String>,
    /// Regex matching the agent's ready prompt.
    pub ready_prompt: Option<String>,
    /// Install hint shown in the UI.
    pub install_hint: Option<String>,
    /// Documentation link shown in the UI.
    pub docs_url: Option<String>,
    /// Read this agent's screen with the detector of another agent (`qwen`, `claude`, …),
    /// e.g. for a wrapper script around a known CLI.
    pub detector: Option<String>,
    /// Pause between a prompt's text and its Enter, in milliseconds (default 300).
    pub settle_ms: Option<u64>,
}

/// A loaded config and the file it came from.
#[derive(Debug, Clone, Default)]
pub struct LoadedConfig {
    /// The parsed config (defaults when no file was found).
    pub config: Config,
    /// The file it was read from, if any.
    pub source: Option<PathBuf>,
}

impl LoadedConfig {
    /// Finds and parses the config file. An explicit path must exist; discovered ones are
    /// optional. A file that exists but does not parse is an error, never silently ignored.
    pub fn discover(explicit: Option<&Path>) -> Result<LoadedConfig> {
        let path = match explicit {
            Some(path) => Some(path.to_path_buf()),
            None => candidates().into_iter().find(|p| p.is_file()),
        };
        let Some(path) = path else {
            return Ok(LoadedConfig::default());
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|e| Error::Config { path: path.clone(), message: e.to_string() })?;
        let config =
            parse(&text).map_err(|message| Error::Config { path: path.clone(), message })?;
        Ok(LoadedConfig { config, source: Some(path) })
    }
}

/// Parses config text. An empty file is the default config.
pub fn parse(text: &str) -> std::result::Result<Config, String> {
    if text.trim().is_empty() {
        return Ok(Config::default());
    }
    serde_saphyr::from_str(text).map_err(|e| e.to_string())
}

/// The runtime overlay written by the settings API (`<state>/overlay.yaml`): it wins over the
/// config file and loses to flags and environment variables.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Overlay {
    /// Daemon-wide init prompts, replacing the config file's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_prompts: Option<Vec<String>>,
}

impl Overlay {
    /// Reads the overlay; a missing file is an empty overlay, a broken one an error.
    pub fn load(path: &Path) -> Result<Overlay> {
        match std::fs::read_to_string(path) {
            Ok(text) if text.trim().is_empty() => Ok(Overlay::default()),
            Ok(text) => serde_saphyr::from_str(&text)
                .map_err(|e| Error::Config { path: path.to_path_buf(), message: e.to_string() }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Overlay::default()),
            Err(e) => Err(Error::Config { path: path.to_path_buf(), message: e.to_string() }),
        }
    }

    /// Writes the overlay atomically (temp file + rename), mode 0600.
    pub fn save(&self, path: &Path) -> Result<()> {
        let yaml = serde_saphyr::to_string(self)
            .map_err(|e| Error::Config { path: path.to_path_buf(), message: e.to_string() })?;
        let text = format!(
            "# llmux runtime overrides, written by the settings API; they win over the config\n\
             # file. Delete this file to go back to the config file's values.\n{yaml}"
        );
        crate::paths::write_private(path, text.as_bytes())
    }
}

fn candidates() -> Vec<PathBuf> {
    let mut list = vec![PathBuf::from(".llmux.yaml"), home_dir().join(".config/llmux/config.yaml")];
    if let Some(env) = std::env::var_os("LLMUX_CONFIG").filter(|v| !v.is_empty()) {
        list.push(PathBuf::from(env));
    }
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_schema() {
        let config = parse(
            "server:\n  port: 4000\nagents:\n  claude:\n    flags: \"--model opus\"\n    env:\n      A: b\n  \
             mine:\n    cmd: my-agent\ninitPrompts:\n  - hello\nturnq:\n  enabled: true\n",
        )
        .unwrap();
        assert_eq!(config.server.port, Some(4000));
        assert_eq!(config.agents["claude"].flags.as_deref(), Some("--model opus"));
        assert_eq!(config.agents["claude"].env["A"], "b");
        assert_eq!(config.agents["mine"].cmd.as_deref(), Some("my-agent"));
        assert_eq!(config.init_prompts, ["hello"]);
    }

    #[test]
    fn bad_yaml_is_an_error_and_empty_is_default() {
        assert!(parse("server: [").is_err());
        assert!(parse("server:\n  port: 99999\n").is_err());
        assert!(parse("  \n").unwrap().agents.is_empty());
    }

    #[test]
    fn limits_default_and_override() {
        let d = parse("server:\n  port: 1\n").unwrap().server.limits.resolve();
        assert_eq!(d, Limits::default());
        assert_eq!(d.header_timeout, std::time::Duration::from_secs(10));
        assert_eq!(d.max_tcp_connections, 1024);
        let l = parse("server:\n  limits:\n    headerTimeoutSecs: 1\n    maxTcpConnections: 0\n    maxWebSocketsPerUser: 2\n")
            .unwrap()
            .server
            .limits
            .resolve();
        assert_eq!(l.header_timeout, std::time::Duration::from_secs(1));
        assert_eq!(l.max_tcp_connections, 1);
        assert_eq!(l.max_websockets_per_user, 2);
        assert_eq!(l.idle_timeout, std::time::Duration::from_secs(60));
    }

    #[test]
    fn overlay_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("overlay.yaml");
        assert_eq!(Overlay::load(&path).unwrap(), Overlay::default());
        let overlay = Overlay { init_prompts: Some(vec!["a: b".into(), "multi\nline".into()]) };
        overlay.save(&path).unwrap();
        assert_eq!(Overlay::load(&path).unwrap(), overlay);
    }

    #[test]
    fn explicit_missing_file_is_an_error() {
        assert!(LoadedConfig::discover(Some(Path::new("/nonexistent/llmux.yaml"))).is_err());
    }
}
