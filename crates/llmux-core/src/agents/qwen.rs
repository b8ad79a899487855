//! Qwen Code: screen detector, history in `~/.qwen/projects/` (see [`history`]),
//! `--session-id` / `--resume`.

mod history;
mod screen;

use std::borrow::Cow;

use super::kind::{AgentKind, Builtin, Detector, History, IdSyntax, Live};

/// Qwen Code.
pub struct Qwen;

const HISTORY: History = History {
    list: history::list,
    count: history::count,
    transcript: history::transcript,
    live: Live::Lines {
        // The path is known before the file exists; the tail waits for it.
        locate: |home, cwd, id| Ok(Some(history::path_of(home, cwd, id))),
        convert: |v, line, turns| history::convert(&v, line, turns),
    },
    ids: IdSyntax::Uuid,
    resume: "--resume",
    fresh: Some("--session-id"),
};

impl AgentKind for Qwen {
    fn mention(&self, path: &str) -> String {
        // `@path` puts the file (an image too) into the prompt.
        format!("@{path}")
    }

    fn reads_ignored_files(&self) -> bool {
        false
    }

    fn key(&self) -> &'static str {
        "qwen"
    }

    fn builtin(&self) -> Builtin {
        Builtin {
            display_name: "Qwen Code",
            cmd: Cow::Borrowed("qwen"),
            flags: "--yolo",
            env: &[],
            install_hint: "npm install -g @qwen-code/qwen-code",
            docs_url: "https://github.com/QwenLM/qwen-code",
        }
    }

    fn detector(&self) -> Option<Detector> {
        Some(|s, _| screen::detect(s))
    }

    fn history(&self) -> Option<&'static History> {
        Some(&HISTORY)
    }
}
