//! The agent catalog: which CLIs llmux knows how to launch, and how.
//!
//! Each known CLI is one module implementing [`AgentKind`] (`claude.rs`, `codex.rs`, …; the
//! ones llmux only launches are rows of `plain.rs`), listed in `KINDS` in catalog order.
//! The built-in catalog is one agent per kind; the config file may override any agent's
//! `cmd`, `flags` and `env`, or define new agents under any key. Every agent has one
//! [`Kind`], resolved here once: its own for a built-in, the one `detector:` names for a
//! custom agent (which then borrows all of it: detector, state file, history, resume and
//! fixed arguments, settle delay), else none of them (`plain`).

mod claude;
mod codex;
mod copilot;
mod gemini;
mod kind;
mod opencode;
mod plain;
mod qwen;
mod shell;

use std::collections::BTreeMap;
use std::path::Path;

pub use kind::{
    AgentKind, Builtin, Detector, FileState, History, IdSyntax, Kind, LineFn, Live, StateFileReader,
};

use crate::config::AgentConfig;
use crate::error::{Error, Result};
use crate::validate;

/// Every known kind, in catalog order: the agents of the old daemon, then `shell`.
static KINDS: [Kind; 16] = [
    Kind::new(&claude::Claude),
    Kind::new(&codex::Codex),
    Kind::new(&plain::AGY),
    Kind::new(&gemini::Gemini),
    Kind::new(&qwen::Qwen),
    Kind::new(&opencode::OpenCode),
    Kind::new(&plain::AMP),
    Kind::new(&plain::GROK),
    Kind::new(&plain::AIDER),
    Kind::new(&plain::CONTINUE),
    Kind::new(&plain::KIRO),
    Kind::new(&plain::CURSOR),
    Kind::new(&plain::PLANDEX),
    Kind::new(&plain::GOOSE),
    Kind::new(&copilot::Copilot),
    Kind::new(&shell::Shell),
];

/// The kind with this key (`claude`, `qwen`, `aider`, `shell`, …).
pub fn kind(key: &str) -> Option<Kind> {
    KINDS.iter().copied().find(|k| k.key() == key)
}

/// Every known kind, in catalog order.
pub fn kinds() -> impl Iterator<Item = Kind> {
    KINDS.iter().copied()
}

/// The kind of an agent llmux knows nothing special about (a custom agent that names no
/// `detector:`, or a record whose agent left the config): no detector, no history; its state
/// follows screen activity.
pub fn unknown() -> Kind {
    Kind::new(&plain::UNKNOWN)
}

/// One agent CLI llmux can run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentDef {
    /// Catalog key (`claude`, `codex`, …).
    pub key: String,
    /// Human name.
    pub display_name: String,
    /// Program and leading arguments, split by shell-word rules (no shell runs it).
    pub cmd: Vec<String>,
    /// Default flags, as typed (shell-word syntax).
    pub default_flags: String,
    /// Environment set for every session of this agent.
    pub env_defaults: BTreeMap<String, String>,
    /// How to install the agent.
    pub install_hint: String,
    /// Where its documentation is.
    pub docs_url: String,
    /// False for agents defined only in the config file.
    pub builtin: bool,
    /// The config's pause between a prompt's text and its Enter (`settle_ms`), which wins
    /// over the kind's; see [`AgentDef::settle`].
    pub settle: Option<std::time::Duration>,
    /// What llmux knows about the CLI: its own kind for a built-in agent, the one the
    /// config's `detector:` names for a custom one.
    pub kind: Kind,
}

impl AgentDef {
    /// The program name, as shown to users.
    pub fn program(&self) -> &str {
        self.cmd.first().map(String::as_str).unwrap_or("")
    }

    /// The command line shown to users (`cmd` joined, shell-quoted).
    pub fn cmd_display(&self) -> String {
        shell_words::join(&self.cmd)
    }

    /// Whether the program is on `path` (a `PATH`-style list) or, if it has a slash, executable.
    pub fn is_installed_in(&self, path: Option<&std::ffi::OsStr>) -> bool {
        let program = self.program();
        if program.is_empty() {
            return false;
        }
        if program.contains('/') {
            return is_executable(Path::new(program));
        }
        path.map(|p| std::env::split_paths(p).any(|dir| is_executable(&dir.join(program))))
            .unwrap_or(false)
    }

    /// Whether the program is on this process's `PATH`.
    pub fn is_installed(&self) -> bool {
        self.is_installed_in(std::env::var_os("PATH").as_deref())
    }

    /// The argv to launch: `cmd`, then the flags override (or the defaults), then the
    /// kind's fixed arguments the flags do not already have.
    pub fn argv(&self, flags_override: Option<&str>) -> Result<Vec<String>> {
        let mut argv = self.cmd.clone();
        argv.extend(validate::flags(flags_override.unwrap_or(&self.default_flags))?);
        for arg in self.kind.fixed_args() {
            if !argv.iter().any(|a| a == arg) {
                argv.push((*arg).to_owned());
            }
        }
        Ok(argv)
    }

    /// The pause between a prompt's text and its Enter: the config's, else the kind's,
    /// else `None` (the daemon's default).
    pub fn settle(&self) -> Option<std::time::Duration> {
        self.settle.or(self.kind.settle())
    }

    /// Whether llmux can read this agent's conversation history.
    pub fn has_history(&self) -> bool {
        self.kind.has_history()
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// The agents llmux knows, built in and configured.
#[derive(Debug, Clone)]
pub struct Catalog {
    agents: Vec<AgentDef>,
}

impl Catalog {
    /// The built-in catalog: one agent per kind (the 15 agents of the old daemon, then `shell`).
    pub fn builtin() -> Catalog {
        let agents = kinds()
            .map(|kind| {
                let row = kind.builtin();
                AgentDef {
                    key: kind.key().to_owned(),
                    display_name: row.display_name.to_owned(),
                    cmd: vec![row.cmd.into_owned()],
                    default_flags: row.flags.to_owned(),
                    env_defaults: row
                        .env
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                        .collect(),
                    install_hint: row.install_hint.to_owned(),
                    docs_url: row.docs_url.to_owned(),
                    builtin: true,
                    settle: None,
                    kind,
                }
            })
            .collect();
        Catalog { agents }
    }

    /// The built-in catalog with the config file's `agents:` section applied.
    pub fn with_config(overrides: &BTreeMap<String, AgentConfig>) -> Result<Catalog> {
        let mut catalog = Catalog::builtin();
        for (key, cfg) in overrides {
            let context = |msg: String| Error::invalid(format!("agents.{key}: {msg}"));
            let cmd = match &cfg.cmd {
                Some(cmd) => {
                    let words = validate::flags(cmd).map_err(|e| context(e.to_string()))?;
                    if words.is_empty() {
                        return Err(context("cmd must not be empty".into()));
                    }
                    Some(words)
                }
                None => None,
            };
            if let Some(flags) = &cfg.flags {
                validate::flags(flags).map_err(|e| context(e.to_string()))?;
            }
            for k in cfg.env.keys() {
                validate::env_key(k).map_err(|e| context(e.to_string()))?;
            }
            let borrowed = match &cfg.detector {
                Some(name) => Some(kind(name).ok_or_else(|| {
                    context(format!(
                        "detector {name:?} is not an agent llmux knows; known: {}",
                        kinds().map(Kind::key).collect::<Vec<_>>().join(", ")
                    ))
                })?),
                None => None,
            };
            if cfg.ready_prompt.is_some() {
                // Never read: states come from the kind's detector or screen activity.
                tracing::warn!(
                    "agents.{key}.readyPrompt is ignored (llmux reads states from the screen)"
                );
            }
            match catalog.agents.iter_mut().find(|a| &a.key == key) {
                Some(agent) => {
                    if let Some(cmd) = cmd {
                        agent.cmd = cmd;
                    }
                    if let Some(flags) = &cfg.flags {
                        agent.default_flags = flags.clone();
                    }
                    agent.env_defaults.extend(cfg.env.clone());
                    if let Some(name) = &cfg.display_name {
                        agent.display_name = name.clone();
                    }
                    if let Some(kind) = borrowed {
                        agent.kind = kind;
                    }
                    if let Some(ms) = cfg.settle_ms {
                        agent.settle = Some(std::time::Duration::from_millis(ms));
                    }
                }
                None => {
                    validate_key(key)?;
                    let Some(cmd) = cmd else {
                        return Err(context("a new agent needs a cmd".into()));
                    };
                    catalog.agents.push(AgentDef {
                        key: key.clone(),
                        display_name: cfg.display_name.clone().unwrap_or_else(|| key.clone()),
                        cmd,
                        default_flags: cfg.flags.clone().unwrap_or_default(),
                        env_defaults: cfg.env.clone(),
                        install_hint: cfg.install_hint.clone().unwrap_or_default(),
                        docs_url: cfg.docs_url.clone().unwrap_or_default(),
                        builtin: false,
                        settle: cfg.settle_ms.map(std::time::Duration::from_millis),
                        kind: borrowed.unwrap_or_else(unknown),
                    });
                }
            }
        }
        Ok(catalog)
    }

    /// The agent with this key.
    pub fn get(&self, key: &str) -> Option<&AgentDef> {
        self.agents.iter().find(|a| a.key == key)
    }

    /// Like [`Catalog::get`], but an unknown key is an [`Error::Invalid`] listing the known ones.
    pub fn require(&self, key: &str) -> Result<&AgentDef> {
        self.get(key).ok_or_else(|| {
            Error::invalid(format!(
                "unknown agent {key:?}; known agents: {}",
                self.keys().join(", ")
            ))
        })
    }

    /// All agents, built-in first, in catalog order.
    pub fn iter(&self) -> impl Iterator<Item = &AgentDef> {
        self.agents.iter()
    }

    /// All keys, in catalog order.
    pub fn keys(&self) -> Vec<&str> {
        self.agents.iter().map(|a| a.key.as_str()).collect()
    }
}

/// Agent keys: `^[a-z0-9][a-z0-9_-]{0,31}$`.
fn validate_key(key: &str) -> Result<()> {
    let ok = key.len() <= 32
        && key.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "agent key {key:?} must be lower-case letters, digits, '-' or '_'"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_has_all_fifteen_agents_and_shell() {
        let catalog = Catalog::builtin();
        assert_eq!(catalog.iter().count(), 16);
        let claude = catalog.get("claude").unwrap();
        assert_eq!(claude.argv(None).unwrap(), ["claude", "--dangerously-skip-permissions"]);
        assert_eq!(claude.argv(Some("")).unwrap(), ["claude"]);
        assert_eq!(catalog.get("goose").unwrap().env_defaults["GOOSE_MODE"], "auto");
        assert!(catalog.require("nope").unwrap_err().to_string().contains("claude, codex"));
    }

    #[test]
    fn config_overrides_and_new_agents() {
        let mut overrides = BTreeMap::new();
        overrides.insert(
            "claude".to_owned(),
            AgentConfig { flags: Some("--model 'x y'".into()), ..Default::default() },
        );
        overrides.insert(
            "mine".to_owned(),
            AgentConfig { cmd: Some("/opt/my agent/run --fast".into()), ..Default::default() },
        );
        let catalog = Catalog::with_config(&overrides).unwrap();
        assert_eq!(
            catalog.get("claude").unwrap().argv(None).unwrap(),
            ["claude", "--model", "x y"]
        );
        let mine = catalog.get("mine").unwrap();
        assert_eq!(mine.argv(None).unwrap(), ["/opt/my", "agent/run", "--fast"]);
        assert!(!mine.builtin);

        let bad = [("new".to_owned(), AgentConfig::default())].into();
        assert!(Catalog::with_config(&bad).is_err(), "a new agent needs a cmd");
    }

    #[test]
    fn a_custom_agent_borrows_all_of_a_kind() {
        let cfg = |detector: Option<&str>| AgentConfig {
            cmd: Some("/opt/wrap".into()),
            detector: detector.map(str::to_owned),
            ..Default::default()
        };
        let overrides =
            [("wrapq".to_owned(), cfg(Some("qwen"))), ("wrapx".to_owned(), cfg(Some("codex")))]
                .into_iter()
                .chain([("mine".to_owned(), cfg(None))])
                .collect();
        let catalog = Catalog::with_config(&overrides).unwrap();
        let wrapq = catalog.get("wrapq").unwrap();
        assert_eq!(wrapq.kind, kind("qwen").unwrap());
        assert!(wrapq.kind.has_detector() && wrapq.has_history());
        assert_eq!(wrapq.kind.fresh_args("x").unwrap(), ["--session-id", "x"]);
        // Codex's fixed argument comes with its kind.
        assert_eq!(catalog.get("wrapx").unwrap().argv(None).unwrap(), ["/opt/wrap", "--no-daemon"]);
        let mine = catalog.get("mine").unwrap();
        assert!(!mine.kind.has_detector() && !mine.has_history());
        assert_eq!(mine.kind.resume_args("x"), None);

        let bad = [("w".to_owned(), cfg(Some("nope")))].into();
        let err = Catalog::with_config(&bad).unwrap_err().to_string();
        assert!(
            err.contains("agents.w: detector \"nope\"") && err.contains("claude, codex"),
            "{err}"
        );
    }

    #[test]
    fn one_answer_to_has_history() {
        let catalog = Catalog::builtin();
        let with: Vec<&str> =
            catalog.iter().filter(|a| a.has_history()).map(|a| a.key.as_str()).collect();
        assert_eq!(with, ["claude", "codex", "gemini", "qwen", "opencode", "copilot"]);
        for a in catalog.iter() {
            assert_eq!(a.kind.key(), a.key, "a built-in agent is its own kind");
            assert_eq!(a.has_history(), a.kind.has_detector(), "{}", a.key);
        }
        assert_eq!(
            catalog.get("codex").unwrap().argv(None).unwrap().last().unwrap(),
            "--no-daemon"
        );
    }

    #[test]
    fn install_detection_walks_path() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("fakeagent");
        std::fs::write(&bin, "#!/bin/sh\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        let agent = AgentDef {
            cmd: vec!["fakeagent".into()],
            ..Catalog::builtin().get("claude").unwrap().clone()
        };
        assert!(agent.is_installed_in(Some(dir.path().as_os_str())));
        assert!(!agent.is_installed_in(Some("/nonexistent".as_ref())));
    }
}
