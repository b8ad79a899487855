//! The agent catalog: which CLIs llmux knows how to launch, and how.
//!
//! The built-in table lists the agents of the old daemon plus a `shell` agent; the config file
//! may override any agent's `cmd`, `flags` and `env`, or define new agents under any key.

use std::collections::BTreeMap;
use std::path::Path;

use crate::config::AgentConfig;
use crate::error::{Error, Result};
use crate::validate;

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
    /// Regex matching the agent's input prompt on screen once it is ready.
    pub ready_prompt: String,
    /// How to install the agent.
    pub install_hint: String,
    /// Where its documentation is.
    pub docs_url: String,
    /// Whether llmux can read its conversation history.
    pub has_history: bool,
    /// False for agents defined only in the config file.
    pub builtin: bool,
    /// Pause between a prompt's text and its Enter (`None`: the daemon default, 0.3 s).
    pub settle: Option<std::time::Duration>,
    /// Whose screen detector reads this agent (its own key unless the config says).
    pub detector: String,
    /// Arguments always added after the flags, for process hygiene (Codex: `--no-daemon`,
    /// or its app-server daemon outlives the session).
    pub fixed_args: Vec<String>,
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
    /// fixed arguments the flags do not already have.
    pub fn argv(&self, flags_override: Option<&str>) -> Result<Vec<String>> {
        let mut argv = self.cmd.clone();
        argv.extend(validate::flags(flags_override.unwrap_or(&self.default_flags))?);
        for arg in &self.fixed_args {
            if !argv.contains(arg) {
                argv.push(arg.clone());
            }
        }
        Ok(argv)
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

/// (key, display name, cmd, flags, env, ready prompt, history, install hint, docs url)
type Row = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static str,
    bool,
    &'static str,
    &'static str,
);

#[rustfmt::skip]
const BUILTIN: &[Row] = &[
    ("claude", "Claude Code", "claude", "--dangerously-skip-permissions", &[], "^>", true,
     "curl -fsSL https://claude.ai/install.sh | bash", "https://docs.claude.com/en/docs/claude-code/overview"),
    ("codex", "Codex CLI", "codex", "--dangerously-bypass-approvals-and-sandbox", &[], "^>", true,
     "npm install -g @openai/codex", "https://github.com/openai/codex"),
    ("agy", "Antigravity CLI", "agy", "--dangerously-skip-permissions", &[], "^agy>", true,
     "curl -fsSL https://antigravity.google/cli/install.sh | bash", "https://antigravity.google/docs/cli-install"),
    ("gemini", "Gemini CLI", "gemini", "--yolo", &[], "^>", true,
     "npm install -g @google/gemini-cli", "https://github.com/google-gemini/gemini-cli"),
    ("qwen", "Qwen Code", "qwen", "--yolo", &[], "^>", true,
     "npm install -g @qwen-code/qwen-code", "https://github.com/QwenLM/qwen-code"),
    ("opencode", "OpenCode", "opencode", "", &[("OPENCODE_YOLO", "1")], "^>", true,
     "curl -fsSL https://opencode.ai/install | bash", "https://opencode.ai"),
    ("amp", "Sourcegraph Amp", "amp", "--dangerously-allow-all", &[], "^>", false,
     "npm install -g @sourcegraph/amp", "https://ampcode.com/manual"),
    ("grok", "Grok Build CLI", "grok", "--always-approve", &[], "^grok>", false,
     "curl -fsSL https://x.ai/cli/install.sh | bash", "https://x.ai/cli"),
    ("aider", "Aider", "aider", "--yes-always --model claude-opus-4-6", &[], "^> $", false,
     "python -m pip install aider-chat", "https://aider.chat"),
    ("continue", "Continue CLI", "cn", "--auto", &[], "^>", false,
     "npm install -g @continuedev/cli", "https://docs.continue.dev/guides/cli"),
    ("kiro", "Kiro CLI", "kiro-cli", "--trust-all-tools", &[], "^>", false,
     "brew install kiro  # or see docs for Linux/Windows", "https://kiro.dev/docs/cli/installation/"),
    ("cursor", "Cursor CLI", "cursor-agent", "", &[], "^>", false,
     "curl https://cursor.com/install -fsSL | bash", "https://cursor.com/docs/cli/installation"),
    ("plandex", "Plandex", "plandex", "", &[], "^>", false,
     "curl -fsSL https://plandex.ai/install.sh | bash", "https://docs.plandex.ai"),
    ("goose", "Goose", "goose", "", &[("GOOSE_MODE", "auto")], "Goose❯", false,
     "curl -fsSL https://github.com/block/goose/releases/download/stable/download_cli.sh | bash", "https://block.github.io/goose"),
    ("copilot", "GitHub Copilot CLI", "copilot", "--yolo", &[], "^❯", true,
     "npm install -g @github/copilot", "https://docs.github.com/copilot/how-tos/copilot-cli"),
];

impl Catalog {
    /// The built-in catalog: the 15 agents of the old daemon, then `shell`.
    pub fn builtin() -> Catalog {
        let mut agents: Vec<AgentDef> = BUILTIN
            .iter()
            .map(|&(key, name, cmd, flags, env, ready, history, hint, docs)| AgentDef {
                key: key.to_owned(),
                display_name: name.to_owned(),
                cmd: vec![cmd.to_owned()],
                default_flags: flags.to_owned(),
                env_defaults: env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
                ready_prompt: ready.to_owned(),
                install_hint: hint.to_owned(),
                docs_url: docs.to_owned(),
                has_history: history,
                builtin: true,
                settle: None,
                detector: key.to_owned(),
                fixed_args: if key == "codex" { vec!["--no-daemon".into()] } else { Vec::new() },
            })
            .collect();
        let shell =
            std::env::var("SHELL").ok().filter(|s| s.starts_with('/')).unwrap_or_else(|| {
                if Path::new("/bin/bash").exists() { "/bin/bash".into() } else { "/bin/sh".into() }
            });
        agents.push(AgentDef {
            key: "shell".into(),
            display_name: "Shell".into(),
            cmd: vec![shell],
            default_flags: String::new(),
            env_defaults: BTreeMap::new(),
            ready_prompt: String::new(),
            install_hint: "a POSIX shell is part of every system".into(),
            docs_url: "https://www.gnu.org/software/bash/manual/".into(),
            has_history: false,
            builtin: true,
            settle: None,
            detector: "shell".into(),
            fixed_args: Vec::new(),
        });
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
                    if let Some(ready) = &cfg.ready_prompt {
                        agent.ready_prompt = ready.clone();
                    }
                    if let Some(detector) = &cfg.detector {
                        agent.detector = detector.clone();
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
                        ready_prompt: cfg.ready_prompt.clone().unwrap_or_default(),
                        install_hint: cfg.install_hint.clone().unwrap_or_default(),
                        docs_url: cfg.docs_url.clone().unwrap_or_default(),
                        has_history: false,
                        builtin: false,
                        settle: cfg.settle_ms.map(std::time::Duration::from_millis),
                        detector: cfg.detector.clone().unwrap_or_else(|| key.clone()),
                        fixed_args: Vec::new(),
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
