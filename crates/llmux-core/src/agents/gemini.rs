//! Gemini CLI: screen detector, history in `~/.gemini/tmp/` (see [`history`]),
//! `--session-id` / `--resume`.

pub(crate) mod history;
mod screen;

use std::borrow::Cow;

use super::kind::{AgentKind, Builtin, Detector, History, IdSyntax, Live};

/// Gemini CLI.
pub struct Gemini;

const HISTORY: History = History {
    list: history::list,
    count: history::count,
    transcript: history::transcript,
    // It rewrites records in place: read whole when the file changed.
    live: Live::Whole,
    ids: IdSyntax::Uuid,
    resume: "--resume",
    fresh: Some("--session-id"),
};

impl AgentKind for Gemini {
    fn mention(&self, path: &str) -> String {
        // `@path` puts the file (an image too) into the prompt.
        format!("@{path}")
    }

    fn reads_ignored_files(&self) -> bool {
        false
    }

    fn key(&self) -> &'static str {
        "gemini"
    }

    fn builtin(&self) -> Builtin {
        Builtin {
            display_name: "Gemini CLI",
            cmd: Cow::Borrowed("gemini"),
            flags: "--yolo",
            env: &[],
            install_hint: "npm install -g @google/gemini-cli",
            docs_url: "https://github.com/google-gemini/gemini-cli",
        }
    }

    fn detector(&self) -> Option<Detector> {
        Some(|s, _| screen::detect(s))
    }

    fn history(&self) -> Option<&'static History> {
        Some(&HISTORY)
    }
}
