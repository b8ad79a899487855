//! Gemini CLI. All patterns verified against 0.61.0.
//!
//! Gemini renders inline, so old dialogs stay on screen: a dialog counts only when it is below
//! the last composer/user box (the `▀▀▀` rule under it).
//! - idle: `Type your message or @path/to/file`, mode line, `? for shortcuts`;
//! - working: `⠦ Thinking... (esc to cancel, 3s)` (lower-case `esc`);
//! - waiting: `Allow execution of [Shell]?` (permission), `Answer Questions` … `Enter to select`
//!   (choice), `Do you trust the files in this folder?` (trust); options `● 1. Allow once`;
//!   keys Up/Down + Enter (digits also answer at once: `2` verified);
//! - exited: `Agent powering down. Goodbye!` … `To resume this session: gemini --resume <uuid>`.

use llmux_api::{AgentState, Detection};

use crate::detect::{
    Screen, collapse, nav_options, numbered_options, permission_for, question_above, state, waiting,
};

pub(super) fn detect(s: &Screen) -> Detection {
    if s.has("To resume this session") || s.has("Agent powering down") {
        return state(AgentState::Exited);
    }
    // Below the last box bottom (`▀▀▀…`): the composer's or an old user message's.
    let from = (0..s.len()).rev().find(|&i| s.lines[i].starts_with('▀')).map_or(0, |i| i + 1);
    if let Some(d) = prompt(s, from) {
        return d;
    }
    if s.has("(esc to cancel") {
        return state(AgentState::Working);
    }
    if s.has_in_last(8, "Type your message")
        || s.has_in_last(4, "? for shortcuts")
        || s.has_in_last(6, "Shift+Tab to accept edits")
        || s.has_in_last(6, "YOLO Ctrl+Y")
        || s.has_in_last(3, "workspace (/directory)")
    {
        return state(AgentState::Idle);
    }
    state(AgentState::Starting)
}

fn prompt(s: &Screen, from: usize) -> Option<Detection> {
    let opts = numbered_options(s, from, s.len(), &['●']);
    // Every Gemini dialog marks its current option with `●`; a plain numbered list (the
    // startup "Tips for getting started: 1. … 4.", seen read as a dialog while text was in the
    // composer) is not one.
    if opts.len() < 2 || !opts.iter().any(|o| o.selected) {
        return None;
    }
    let first = opts[0].line;
    let options = nav_options(&opts);
    let has = |pat: &str| (from..s.len()).any(|i| s.lines[i].contains(pat));
    if let Some(q) = (from..first).rev().find(|&i| {
        let l = &s.lines[i];
        l.starts_with("Allow execution")
            || l.starts_with("Apply this change")
            || l.starts_with("Allow ")
    }) {
        // `? Shell  touch approved.txt` heads the box.
        // The box starts at its `? Tool …` head; never reach above it (the logo and tips).
        let top = (from.max(q.saturating_sub(12))..q)
            .rev()
            .find(|&i| s.lines[i].starts_with("? "))
            .unwrap_or(q.saturating_sub(6).max(from));
        let head = s.lines[top].strip_prefix("? ").unwrap_or("");
        let detail = (top..q)
            .map(|i| s.lines[i].as_str())
            .filter(|l| !l.starts_with("? ") && !l.is_empty() && !crate::detect::is_rule(l))
            .collect::<Vec<_>>()
            .join("\n");
        return Some(waiting(permission_for(head), collapse(&s.lines[q]), detail, options));
    }
    let question = question_above(s, first, 8);
    let what = if has("Do you trust") || has("Trust folder") {
        "trust"
    } else if has("Answer Questions") || has("to select") {
        "choice"
    } else {
        "dialog"
    };
    Some(waiting(what.to_owned(), question, String::new(), options))
}
