//! Agents llmux launches but does not read: no detector (their state follows screen
//! activity), no history. One row each; a row grows into its own module (`claude.rs`) when
//! llmux learns to read that CLI.

use std::borrow::Cow;

use super::kind::{AgentKind, Builtin};

/// A built-in agent with nothing but its catalog row.
pub struct Plain {
    key: &'static str,
    display_name: &'static str,
    cmd: &'static str,
    flags: &'static str,
    env: &'static [(&'static str, &'static str)],
    install_hint: &'static str,
    docs_url: &'static str,
}

impl AgentKind for Plain {
    fn key(&self) -> &'static str {
        self.key
    }

    fn builtin(&self) -> Builtin {
        Builtin {
            display_name: self.display_name,
            cmd: Cow::Borrowed(self.cmd),
            flags: self.flags,
            env: self.env,
            install_hint: self.install_hint,
            docs_url: self.docs_url,
        }
    }
}

const fn plain(
    key: &'static str,
    display_name: &'static str,
    cmd: &'static str,
    flags: &'static str,
    env: &'static [(&'static str, &'static str)],
    install_hint: &'static str,
    docs_url: &'static str,
) -> Plain {
    Plain { key, display_name, cmd, flags, env, install_hint, docs_url }
}

#[rustfmt::skip]
pub(super) static AGY: Plain = plain("agy", "Antigravity CLI", "agy", "--dangerously-skip-permissions", &[],
    "curl -fsSL https://antigravity.google/cli/install.sh | bash", "https://antigravity.google/docs/cli-install");
#[rustfmt::skip]
pub(super) static AMP: Plain = plain("amp", "Sourcegraph Amp", "amp", "--dangerously-allow-all", &[],
    "npm install -g @sourcegraph/amp", "https://ampcode.com/manual");
#[rustfmt::skip]
pub(super) static GROK: Plain = plain("grok", "Grok Build CLI", "grok", "--always-approve", &[],
    "curl -fsSL https://x.ai/cli/install.sh | bash", "https://x.ai/cli");
#[rustfmt::skip]
pub(super) static AIDER: Plain = plain("aider", "Aider", "aider", "--yes-always --model claude-opus-4-6", &[],
    "python -m pip install aider-chat", "https://aider.chat");
#[rustfmt::skip]
pub(super) static CONTINUE: Plain = plain("continue", "Continue CLI", "cn", "--auto", &[],
    "npm install -g @continuedev/cli", "https://docs.continue.dev/guides/cli");
#[rustfmt::skip]
pub(super) static KIRO: Plain = plain("kiro", "Kiro CLI", "kiro-cli", "--trust-all-tools", &[],
    "brew install kiro  # or see docs for Linux/Windows", "https://kiro.dev/docs/cli/installation/");
#[rustfmt::skip]
pub(super) static CURSOR: Plain = plain("cursor", "Cursor CLI", "cursor-agent", "", &[],
    "curl https://cursor.com/install -fsSL | bash", "https://cursor.com/docs/cli/installation");
#[rustfmt::skip]
pub(super) static PLANDEX: Plain = plain("plandex", "Plandex", "plandex", "", &[],
    "curl -fsSL https://plandex.ai/install.sh | bash", "https://docs.plandex.ai");
#[rustfmt::skip]
pub(super) static GOOSE: Plain = plain("goose", "Goose", "goose", "", &[("GOOSE_MODE", "auto")],
    "curl -fsSL https://github.com/block/goose/releases/download/stable/download_cli.sh | bash", "https://block.github.io/goose");

/// What an agent no longer in the catalog is read as: nothing.
pub(super) static UNKNOWN: Plain = plain("", "", "", "", &[], "", "");
