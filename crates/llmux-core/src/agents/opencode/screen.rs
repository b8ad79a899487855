//! OpenCode. All patterns verified against 1.18.33.
//!
//! - starting: the pane stays blank for seconds (keys sent then are lost);
//! - idle: footer `<cwd> … ctrl+p commands`;
//! - working: footer `■■■■⬝⬝⬝⬝  esc interrupt`; while it retries after an error (a rate
//!   limit) the footer is `⬝⬝⬝⬝⬝<error> [retrying in 1h 59m attempt #1] esc interrupt`,
//!   which at 120 columns wraps so that `esc interrupt` is cut off: `[retrying in` counts;
//! - waiting, permission: `△ Permission required` `$ touch approved.txt` and the row
//!   `Allow once   Allow always   Reject` (`⇆ select  enter confirm`). The cursor is shown
//!   by colour only, so the keys assume it is on `Allow once`, where the row opens
//!   (Enter verified; Left/Right wrap around);
//! - waiting, choice: `1. Red` … `↑↓ select  enter submit  esc dismiss`. The cursor is shown
//!   by colour only; the digit answers at once whatever is selected (`1` verified);
//! - exited: logo + `Session   <title>` + `Continue  opencode -s ses_…`.

use llmux_api::{AgentState, Detection, PromptOption};

use crate::detect::{
    Screen, collapse, numbered_options, permission_for, question_above, state, waiting,
};

/// The permission row's answers, in screen order.
const PERMISSION: [&str; 3] = ["Allow once", "Allow always", "Reject"];

pub(super) fn detect(s: &Screen) -> Detection {
    if s.has_in_last(4, "opencode -s ses_") {
        return state(AgentState::Exited);
    }
    if let Some(p) = s.last("Permission required")
        && let Some(row) = (p..s.len()).find(|&i| s.lines[i].contains("Allow once"))
    {
        let options = PERMISSION
            .iter()
            .enumerate()
            .map(|(i, label)| {
                let mut keys = vec!["Right".to_owned(); i];
                keys.push("Enter".to_owned());
                PromptOption { label: (*label).to_owned(), selected: i == 0, keys }
            })
            .collect();
        let detail: Vec<&str> =
            (p + 1..row).map(|i| s.lines[i].as_str()).filter(|l| !l.is_empty()).collect();
        let cmd = detail.iter().find_map(|l| l.strip_prefix("$ "));
        let what = cmd.or_else(|| detail.first().map(|h| h.trim_start_matches("# "))).unwrap_or("");
        return waiting(
            permission_for(what),
            "Permission required".to_owned(),
            detail.join("\n"),
            options,
        );
    }
    if let Some(f) = s.last_of(&["esc dismiss", "enter submit"]) {
        let opts = numbered_options(s, f.saturating_sub(20), f, &[]);
        if opts.len() >= 2 {
            let question = question_above(s, opts[0].line, 6);
            let options = opts
                .iter()
                .enumerate()
                .map(|(i, o)| PromptOption {
                    label: collapse(&o.label),
                    selected: false,
                    keys: vec![(i + 1).to_string()],
                })
                .collect();
            return waiting("choice".to_owned(), question, String::new(), options);
        }
    }
    if s.has_in_last(2, "esc interrupt") || s.has_in_last(2, "[retrying in") {
        return state(AgentState::Working);
    }
    if s.has_in_last(2, "ctrl+p commands") {
        return state(AgentState::Idle);
    }
    state(AgentState::Starting)
}
