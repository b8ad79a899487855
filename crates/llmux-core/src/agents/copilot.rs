//! GitHub Copilot CLI: screen detector, history in `~/.copilot/` (see [`history`]),
//! `--session-id` / `--resume`.

mod history;
mod screen;

use std::borrow::Cow;

use super::kind::{AgentKind, Builtin, Detector, History, IdSyntax, Live};

/// GitHub Copilot CLI.
pub struct Copilot;

const HISTORY: History = History {
    list: history::list,
    count: history::count,
    transcript: history::transcript,
    live: Live::Lines {
        locate: history::locate,
        convert: |v, line, turns| history::convert(&v, line, turns),
    },
    ids: IdSyntax::Uuid,
    resume: "--resume",
    fresh: Some("--session-id"),
};

impl AgentKind for Copilot {
    fn key(&self) -> &'static str {
        "copilot"
    }

    fn builtin(&self) -> Builtin {
        Builtin {
            display_name: "GitHub Copilot CLI",
            cmd: Cow::Borrowed("copilot"),
            flags: "--yolo",
            env: &[],
            install_hint: "npm install -g @github/copilot",
            docs_url: "https://docs.github.com/copilot/how-tos/copilot-cli",
        }
    }

    fn detector(&self) -> Option<Detector> {
        Some(|s, _| screen::detect(s))
    }

    fn history(&self) -> Option<&'static History> {
        Some(&HISTORY)
    }
}
