//! OpenCode: screen detector, history in its SQLite database (see [`history`]), `-s <id>`;
//! `OPENCODE_YOLO=1` by default. OpenCode chooses its own conversation ids: llmux adopts them.

mod history;
mod screen;

use std::borrow::Cow;

use super::kind::{AgentKind, Builtin, Detector, History, IdSyntax, Live};

/// OpenCode.
pub struct OpenCode;

/// `ses_` followed by 1–64 ASCII letters or digits.
const IDS: IdSyntax = IdSyntax::Prefixed("ses_");

const HISTORY: History = History {
    list: history::list,
    count: history::count,
    transcript: history::transcript,
    // A SQLite database: read whole when the db or its WAL changed.
    live: Live::Whole,
    ids: IDS,
    // `-s` is the form verified against opencode 1.18 (agents-lab); `--session` is its long name.
    resume: "-s",
    fresh: None,
};

impl AgentKind for OpenCode {
    fn mention(&self, path: &str) -> String {
        // `@path` puts the file (an image too) into the prompt.
        format!("@{path}")
    }

    fn key(&self) -> &'static str {
        "opencode"
    }

    fn builtin(&self) -> Builtin {
        Builtin {
            display_name: "OpenCode",
            cmd: Cow::Borrowed("opencode"),
            flags: "",
            env: &[("OPENCODE_YOLO", "1")],
            install_hint: "curl -fsSL https://opencode.ai/install | bash",
            docs_url: "https://opencode.ai",
        }
    }

    fn detector(&self) -> Option<Detector> {
        Some(|s, _| screen::detect(s))
    }

    fn history(&self) -> Option<&'static History> {
        Some(&HISTORY)
    }
}
