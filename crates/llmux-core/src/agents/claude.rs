//! Claude Code: screen detector, the state file `~/.claude/sessions/<pid>.json`, history in
//! `~/.claude/projects/` (see [`history`]), `--session-id` / `--resume`.

mod history;
mod screen;

use std::borrow::Cow;
use std::path::Path;

use llmux_api::Turn;

use super::kind::{
    AgentKind, Builtin, Detector, FileState, History, IdSyntax, Live, StateFileReader,
};

/// Claude Code.
pub struct Claude;

const HISTORY: History = History {
    list: history::list,
    count: history::count,
    transcript: history::transcript,
    live: Live::Lines {
        // The path is known before the file exists; the tail waits for it.
        locate: |home, cwd, id| Ok(Some(history::path_of(home, cwd, id))),
        convert: |v, _, turns: &mut Vec<Turn>| history::convert(&v, turns),
    },
    ids: IdSyntax::Uuid,
    resume: "--resume",
    fresh: Some("--session-id"),
};

impl AgentKind for Claude {
    fn key(&self) -> &'static str {
        "claude"
    }

    fn builtin(&self) -> Builtin {
        Builtin {
            display_name: "Claude Code",
            cmd: Cow::Borrowed("claude"),
            flags: "--dangerously-skip-permissions",
            env: &[],
            install_hint: "curl -fsSL https://claude.ai/install.sh | bash",
            docs_url: "https://docs.claude.com/en/docs/claude-code/overview",
        }
    }

    fn detector(&self) -> Option<Detector> {
        Some(|s, _| screen::detect(s))
    }

    fn state_file(&self) -> Option<StateFileReader> {
        Some(state_file)
    }

    fn history(&self) -> Option<&'static History> {
        Some(&HISTORY)
    }
}

/// Reads Claude Code's state file for the pane's process (or its child, if the pane runs a
/// wrapper): `{status: busy|idle|waiting, waitingFor?}`.
fn state_file(home: &Path, pid: u32) -> Option<FileState> {
    let dir = home.join(".claude").join("sessions");
    let mut pids = vec![pid];
    if let Ok(children) = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")) {
        pids.extend(children.split_whitespace().filter_map(|p| p.parse::<u32>().ok()));
    }
    pids.iter().find_map(|pid| {
        let text = std::fs::read_to_string(dir.join(format!("{pid}.json"))).ok()?;
        let value: serde_json::Value = serde_json::from_str(&text).ok()?;
        Some(FileState {
            status: value.get("status")?.as_str()?.to_owned(),
            waiting_for: value.get("waitingFor").and_then(|w| w.as_str()).map(str::to_owned),
        })
    })
}
