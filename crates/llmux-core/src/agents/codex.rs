//! OpenAI Codex CLI: screen detector, history in `~/.codex/sessions/` (see [`history`]),
//! `resume <id>`, and `--no-daemon` always (or its app-server daemon outlives the session).
//! Codex chooses its own conversation ids: llmux adopts them.

mod history;
mod screen;

use std::borrow::Cow;

use super::kind::{AgentKind, Builtin, Detector, History, IdSyntax, Live};

/// Codex CLI.
pub struct Codex;

const HISTORY: History = History {
    list: history::list,
    count: history::count,
    transcript: history::transcript,
    live: Live::Lines {
        locate: |home, cwd, id| Ok(history::locate(home, cwd, id)),
        convert: |v, line, turns| history::convert(&v, line, turns),
    },
    ids: IdSyntax::Uuid,
    resume: "resume",
    fresh: None,
};

impl AgentKind for Codex {
    fn key(&self) -> &'static str {
        "codex"
    }

    fn builtin(&self) -> Builtin {
        Builtin {
            display_name: "Codex CLI",
            cmd: Cow::Borrowed("codex"),
            flags: "--dangerously-bypass-approvals-and-sandbox",
            env: &[],
            install_hint: "npm install -g @openai/codex",
            docs_url: "https://github.com/openai/codex",
        }
    }

    fn detector(&self) -> Option<Detector> {
        Some(screen::detect)
    }

    fn history(&self) -> Option<&'static History> {
        Some(&HISTORY)
    }

    fn fixed_args(&self) -> &'static [&'static str] {
        &["--no-daemon"]
    }
}
