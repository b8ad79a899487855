//! `/api/settings`: the effective configuration, where each value came from, and the daemon's
//! paths (admins only).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

// Core's config resolver (`llmux_core::config::effective`) uses this type as its `Source`.
/// Where an effective value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum SettingSource {
    /// Built into llmux.
    Default,
    /// The config file.
    Config,
    /// The runtime overlay written by the settings API.
    Overlay,
    /// An environment variable.
    Env,
    /// A command-line flag.
    Flag,
}

impl SettingSource {
    /// The name shown on the settings page and in `settings show` (`flag`, `env`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            SettingSource::Default => "default",
            SettingSource::Config => "config",
            SettingSource::Overlay => "overlay",
            SettingSource::Env => "env",
            SettingSource::Flag => "flag",
        }
    }
}

impl std::fmt::Display for SettingSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One effective setting and where its value came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SettingView {
    /// Dotted key (`server.port`).
    pub key: String,
    /// The value in effect (secrets are never reported).
    pub value: serde_json::Value,
    /// `flag`, `env`, `overlay`, `config` or `default`.
    pub source: SettingSource,
}

/// The daemon-wide init prompts in effect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct InitPromptsSetting {
    /// `overlay`, `config` or `default`.
    pub source: SettingSource,
    /// Typed into every new session once its screen settles, in order.
    pub value: Vec<String>,
}

/// `GET /api/settings`. No secrets: there are none in the config, and tokens and passphrases
/// live only as hashes. (Fields in alphabetical order: the order the answer has always had.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SettingsResponse {
    /// The agents of the catalog, by key.
    pub agents: Vec<String>,
    /// The config file read (`null`: none, built-in defaults).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub config_source: Option<PathBuf>,
    /// The daemon-wide init prompts.
    pub init_prompts: InitPromptsSetting,
    /// Whether the overlay sets anything.
    pub overlay_active: bool,
    /// The runtime overlay file the settings API writes.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub overlay_path: PathBuf,
    /// The effective server settings (`server.port`, `server.host`, `server.publicUrl`,
    /// `server.allowedHosts`, `server.allowedOrigins`, `stateDir`), in that order.
    pub settings: Vec<SettingView>,
    /// The daemon's Unix socket.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub socket: PathBuf,
    /// The state dir.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub state_dir: PathBuf,
    /// The daemon's version.
    pub version: String,
}

/// `PUT /api/settings/init-prompts` body.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct InitPromptsRequest {
    /// The daemon-wide init prompts; blank ones are dropped.
    pub init_prompts: Vec<String>,
}

/// `PUT /api/settings/init-prompts` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct InitPromptsResponse {
    /// The init prompts now in effect (blank ones dropped).
    pub init_prompts: Vec<String>,
    /// Always true.
    pub ok: bool,
    /// Always true: they live in the overlay now.
    pub overlay_active: bool,
}
