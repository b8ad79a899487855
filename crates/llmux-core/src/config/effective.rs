//! The effective config: every layer the daemon reads, resolved in one place, each value with
//! the layer it came from.
//!
//! Precedence, highest first: **flag** (`server start --port`), **env** (`LLMUX_PORT`),
//! **overlay** (`<state>/overlay.yaml`, written by the settings API), **config** (the YAML
//! file), **default**. Not every value exists in every layer:
//!
//! | value | flag | env | overlay | config | default |
//! |---|---|---|---|---|---|
//! | the effective port (`server.port`) | `--port` | `LLMUX_PORT` | | `server.port` | 3001 |
//! | `server.host` | `--host` | `LLMUX_HOST` | | `server.host` | 127.0.0.1 |
//! | `server.publicUrl`, `allowedHosts`, `allowedOrigins` | | | | ✓ | none |
//! | `stateDir` | `--state-dir` | `LLMUX_STATE_DIR` | | | XDG state dir |
//! | `initPrompts` | | | ✓ | `initPrompts` | none |
//!
//! [`EffectiveConfig::resolve`] is pure (no I/O): `server start` resolves once to bind, and
//! `GET /api/settings` resolves the same [`Layers`] again to report, so the two cannot
//! disagree. Reading the layers is the caller's part: [`Layer::from_env`],
//! [`super::LoadedConfig::discover`], [`super::Overlay::load`].

use std::path::PathBuf;

use llmux_api::SettingView;
use serde::Serialize;

use super::{DEFAULT_HOST, DEFAULT_PORT, Limits, LoadedConfig, Overlay};
use crate::error::{Error, Result};

/// Where an effective value came from: the wire type of `GET /api/settings`, so the resolver
/// and the settings page cannot name a layer differently.
pub use llmux_api::SettingSource as Source;

/// A value in effect and the layer it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sourced<T> {
    /// The value in effect.
    pub value: T,
    /// Where it came from.
    pub source: Source,
}

impl<T> Sourced<T> {
    fn new(value: T, source: Source) -> Self {
        Sourced { value, source }
    }

    /// The first layer that sets a value, highest first; else `default`.
    fn first(layers: impl IntoIterator<Item = (Option<T>, Source)>, default: T) -> Self {
        layers
            .into_iter()
            .find_map(|(value, source)| value.map(|v| Sourced::new(v, source)))
            .unwrap_or(Sourced::new(default, Source::Default))
    }
}

/// What one of the command line or the environment sets for the daemon.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Layer {
    /// TCP port (`--port`, `LLMUX_PORT`).
    pub port: Option<u16>,
    /// TCP bind address (`--host`, `LLMUX_HOST`).
    pub host: Option<String>,
    /// Whether this layer named the state dir (`--state-dir`, `LLMUX_STATE_DIR`). The path
    /// itself is [`Layers::state_dir`], as [`crate::paths::Paths::resolve`] found it.
    pub names_state_dir: bool,
}

impl Layer {
    /// The environment layer: `LLMUX_PORT`, `LLMUX_HOST`, `LLMUX_STATE_DIR` (blank counts as
    /// unset). A port that is not a number in 0..=65535 is an error.
    pub fn from_env() -> Result<Layer> {
        Layer::from_vars(|name| std::env::var(name).ok())
    }

    /// [`Layer::from_env`] over any variable lookup (for tests).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Layer> {
        let var = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let port = var("LLMUX_PORT")
            .map(|p| {
                p.trim()
                    .parse::<u16>()
                    .map_err(|e| Error::invalid(format!("LLMUX_PORT={p:?} is not a port: {e}")))
            })
            .transpose()?;
        Ok(Layer {
            port,
            host: var("LLMUX_HOST"),
            names_state_dir: var("LLMUX_STATE_DIR").is_some(),
        })
    }
}

/// Every layer the daemon reads, as read. Cheap to clone; [`EffectiveConfig::resolve`] turns
/// it into the values in effect.
#[derive(Debug, Clone, Default)]
pub struct Layers {
    /// `server start`'s flags.
    pub flags: Layer,
    /// The environment ([`Layer::from_env`]).
    pub env: Layer,
    /// The config file (also the only source of `agents:`, `notifications:` and
    /// `server.limits:`, which have no other layer).
    pub file: LoadedConfig,
    /// The runtime overlay (empty until the daemon has read its state dir's).
    pub overlay: Overlay,
    /// The state dir in use.
    pub state_dir: PathBuf,
}

/// The configuration in effect, each value with its source. Built only by
/// [`EffectiveConfig::resolve`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectiveConfig {
    /// The effective port: `--port` > `LLMUX_PORT` > `server.port` > 3001 (0 picks a free
    /// one when binding).
    pub port: Sourced<u16>,
    /// The effective bind address: `--host` > `LLMUX_HOST` > `server.host` > 127.0.0.1.
    pub host: Sourced<String>,
    /// `server.publicUrl` as written (config file or none).
    pub public_url: Sourced<Option<String>>,
    /// `server.allowedHosts` (config file when it lists any, else none).
    pub allowed_hosts: Sourced<Vec<String>>,
    /// `server.allowedOrigins` (config file when it lists any, else none).
    pub allowed_origins: Sourced<Vec<String>>,
    /// The state dir: `--state-dir` > `LLMUX_STATE_DIR` > the XDG default.
    pub state_dir: Sourced<PathBuf>,
    /// The daemon-wide init prompts: overlay (even an empty list) > `initPrompts` of the
    /// config file (when it lists any) > none.
    pub init_prompts: Sourced<Vec<String>>,
    /// Whether the overlay sets anything.
    pub overlay_active: bool,
    /// The config file read, if any.
    pub config_file: Option<PathBuf>,
    /// `server.limits` in effect (config file, else defaults).
    pub limits: Limits,
}

impl EffectiveConfig {
    /// Resolves every value from `layers` (see the module docs for the order). No I/O.
    pub fn resolve(layers: &Layers) -> EffectiveConfig {
        let Layers { flags, env, file, overlay, state_dir } = layers;
        let config = &file.config;
        let server = &config.server;
        let from_config = |list: &Vec<String>| (!list.is_empty()).then(|| list.clone());
        EffectiveConfig {
            port: Sourced::first(
                [
                    (flags.port, Source::Flag),
                    (env.port, Source::Env),
                    (server.port, Source::Config),
                ],
                DEFAULT_PORT,
            ),
            host: Sourced::first(
                [
                    (flags.host.clone(), Source::Flag),
                    (env.host.clone(), Source::Env),
                    (server.host.clone(), Source::Config),
                ],
                DEFAULT_HOST.to_owned(),
            ),
            public_url: Sourced::first(
                [(server.public_url.clone().map(Some), Source::Config)],
                None,
            ),
            allowed_hosts: Sourced::first(
                [(from_config(&server.allowed_hosts), Source::Config)],
                Vec::new(),
            ),
            allowed_origins: Sourced::first(
                [(from_config(&server.allowed_origins), Source::Config)],
                Vec::new(),
            ),
            state_dir: Sourced::new(
                state_dir.clone(),
                if flags.names_state_dir {
                    Source::Flag
                } else if env.names_state_dir {
                    Source::Env
                } else {
                    Source::Default
                },
            ),
            init_prompts: Sourced::first(
                [
                    (overlay.init_prompts.clone(), Source::Overlay),
                    (from_config(&config.init_prompts), Source::Config),
                ],
                Vec::new(),
            ),
            overlay_active: overlay.init_prompts.is_some(),
            config_file: file.source.clone(),
            limits: server.limits.resolve(),
        }
    }

    /// The settings listed by `GET /api/settings` (`server.port`, …, `stateDir`), in order.
    pub fn settings(&self) -> Vec<SettingView> {
        fn view<T: Serialize>(key: &str, s: &Sourced<T>) -> SettingView {
            SettingView {
                key: key.to_owned(),
                value: serde_json::to_value(&s.value).expect("a setting serializes"),
                source: s.source,
            }
        }
        vec![
            view("server.port", &self.port),
            view("server.host", &self.host),
            view("server.publicUrl", &self.public_url),
            view("server.allowedHosts", &self.allowed_hosts),
            view("server.allowedOrigins", &self.allowed_origins),
            view("stateDir", &self.state_dir),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;

    fn layers(yaml: &str) -> Layers {
        Layers {
            file: LoadedConfig {
                config: parse(yaml).unwrap(),
                source: Some(PathBuf::from("/etc/llmux.yaml")),
            },
            state_dir: PathBuf::from("/state"),
            ..Layers::default()
        }
    }

    fn cli(port: Option<u16>, host: Option<&str>) -> Layer {
        Layer { port, host: host.map(str::to_owned), names_state_dir: false }
    }

    #[test]
    fn nothing_set_is_all_defaults() {
        let mut l = layers("");
        l.file.source = None;
        let e = EffectiveConfig::resolve(&l);
        assert_eq!(e.port, Sourced::new(DEFAULT_PORT, Source::Default));
        assert_eq!(e.host, Sourced::new(DEFAULT_HOST.to_owned(), Source::Default));
        assert_eq!(e.public_url, Sourced::new(None, Source::Default));
        assert_eq!(e.allowed_hosts, Sourced::new(vec![], Source::Default));
        assert_eq!(e.allowed_origins, Sourced::new(vec![], Source::Default));
        assert_eq!(e.state_dir, Sourced::new(PathBuf::from("/state"), Source::Default));
        assert_eq!(e.init_prompts, Sourced::new(vec![], Source::Default));
        assert!(!e.overlay_active);
        assert_eq!(e.config_file, None);
        assert_eq!(e.limits, Limits::default());
    }

    #[test]
    fn the_effective_port_and_host_are_flag_then_env_then_config_then_default() {
        let mut l = layers("server:\n  port: 4000\n  host: 0.0.0.0\n");
        let e = EffectiveConfig::resolve(&l);
        assert_eq!(e.port, Sourced::new(4000, Source::Config));
        assert_eq!(e.host, Sourced::new("0.0.0.0".to_owned(), Source::Config));

        l.env = cli(Some(5000), Some("::1"));
        let e = EffectiveConfig::resolve(&l);
        assert_eq!(e.port, Sourced::new(5000, Source::Env));
        assert_eq!(e.host, Sourced::new("::1".to_owned(), Source::Env));

        l.flags = cli(Some(0), None);
        let e = EffectiveConfig::resolve(&l);
        assert_eq!(e.port, Sourced::new(0, Source::Flag), "0 (pick a free port) is a value");
        assert_eq!(e.host, Sourced::new("::1".to_owned(), Source::Env), "each value on its own");

        l.flags.host = Some("127.0.0.2".into());
        l.env = Layer::default();
        let e = EffectiveConfig::resolve(&l);
        assert_eq!(e.host, Sourced::new("127.0.0.2".to_owned(), Source::Flag));
        assert_eq!(e.port, Sourced::new(0, Source::Flag));
    }

    #[test]
    fn init_prompts_are_overlay_then_config_then_default() {
        let mut l = layers("initPrompts: [from config]\n");
        let e = EffectiveConfig::resolve(&l);
        assert_eq!(e.init_prompts, Sourced::new(vec!["from config".to_owned()], Source::Config));
        assert!(!e.overlay_active);

        l.overlay.init_prompts = Some(vec!["from overlay".into()]);
        let e = EffectiveConfig::resolve(&l);
        assert_eq!(e.init_prompts, Sourced::new(vec!["from overlay".to_owned()], Source::Overlay));
        assert!(e.overlay_active);

        // An overlay that empties the list wins too: the admin cleared them on purpose.
        l.overlay.init_prompts = Some(vec![]);
        let e = EffectiveConfig::resolve(&l);
        assert_eq!(e.init_prompts, Sourced::new(vec![], Source::Overlay));
        assert!(e.overlay_active);

        // An empty list in the file is no setting at all.
        let e = EffectiveConfig::resolve(&layers("initPrompts: []\n"));
        assert_eq!(e.init_prompts.source, Source::Default);
    }

    #[test]
    fn file_only_values_are_config_when_set_and_default_when_empty() {
        let l = layers(
            "server:\n  publicUrl: https://box.example\n  allowedHosts: [box.ts.net]\n  \
             allowedOrigins: []\n  limits:\n    maxTcpConnections: 7\n",
        );
        let e = EffectiveConfig::resolve(&l);
        assert_eq!(e.public_url, Sourced::new(Some("https://box.example".into()), Source::Config));
        assert_eq!(e.allowed_hosts, Sourced::new(vec!["box.ts.net".into()], Source::Config));
        assert_eq!(e.allowed_origins, Sourced::new(vec![], Source::Default));
        assert_eq!(e.limits.max_tcp_connections, 7);
        assert_eq!(e.config_file.as_deref(), Some(std::path::Path::new("/etc/llmux.yaml")));
    }

    #[test]
    fn the_state_dir_source_is_the_layer_that_named_it() {
        let mut l = layers("");
        l.env.names_state_dir = true;
        assert_eq!(EffectiveConfig::resolve(&l).state_dir.source, Source::Env);
        l.flags.names_state_dir = true;
        let e = EffectiveConfig::resolve(&l);
        assert_eq!(e.state_dir, Sourced::new(PathBuf::from("/state"), Source::Flag));
    }

    #[test]
    fn the_environment_layer_reads_llmux_variables_and_refuses_a_bad_port() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            Layer::from_vars(|name| {
                vars.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
            })
        };
        assert_eq!(env(&[]).unwrap(), Layer::default());
        assert_eq!(
            env(&[("LLMUX_PORT", " 4001 "), ("LLMUX_HOST", "0.0.0.0"), ("LLMUX_STATE_DIR", "/s")])
                .unwrap(),
            Layer { port: Some(4001), host: Some("0.0.0.0".into()), names_state_dir: true }
        );
        // blank is unset
        assert_eq!(
            env(&[("LLMUX_PORT", " "), ("LLMUX_HOST", ""), ("LLMUX_STATE_DIR", "")]).unwrap(),
            Layer::default()
        );
        let err = env(&[("LLMUX_PORT", "70000")]).unwrap_err().to_string();
        assert!(err.starts_with("LLMUX_PORT=\"70000\" is not a port"), "{err}");
    }

    #[test]
    fn settings_are_listed_with_their_keys_values_and_sources() {
        let mut l = layers("server:\n  allowedHosts: [a.example]\n");
        l.flags = cli(Some(4100), None);
        let listed: Vec<(String, serde_json::Value, Source)> = EffectiveConfig::resolve(&l)
            .settings()
            .into_iter()
            .map(|s| (s.key, s.value, s.source))
            .collect();
        use serde_json::json;
        assert_eq!(
            listed,
            [
                ("server.port".to_owned(), json!(4100), Source::Flag),
                ("server.host".to_owned(), json!("127.0.0.1"), Source::Default),
                ("server.publicUrl".to_owned(), json!(null), Source::Default),
                ("server.allowedHosts".to_owned(), json!(["a.example"]), Source::Config),
                ("server.allowedOrigins".to_owned(), json!([]), Source::Default),
                ("stateDir".to_owned(), json!("/state"), Source::Default),
            ]
        );
        assert_eq!(serde_json::to_value(Source::Overlay).unwrap(), json!("overlay"));
    }
}
