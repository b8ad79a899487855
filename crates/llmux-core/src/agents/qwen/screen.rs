//! Qwen Code. All patterns verified against 0.15.10.
//!
//! - idle: `>   Type your message or @path/to/file` between rules, `? for shortcuts`;
//! - working: `⠇ <joke>... (1s · ↓ 6 tokens · esc to cancel)`;
//! - waiting: `Allow execution of: 'touch'?` with options `› 1. Yes, allow once`, **and a
//!   spinning** `Waiting for user confirmation...` (a spinner is not "working" here); the
//!   composer is hidden meanwhile. Keys Up/Down + Enter (digits also answer: `1` verified);
//! - exited: stats box + `To continue this session, run qwen --resume <uuid>`.

use llmux_api::{AgentState, Detection};

use crate::detect::{
    Screen, collapse, nav_options, numbered_options, permission_for, question_above, state, waiting,
};

pub(super) fn detect(s: &Screen) -> Detection {
    if s.has("qwen --resume") || s.has("To continue this session") {
        return state(AgentState::Exited);
    }
    let composer = s.last("Type your message");
    let dialog = s.last_of(&[
        "Waiting for user confirmation",
        "Allow execution",
        "Apply this change",
        "Do you trust",
    ]);
    if let Some(d) = dialog
        && composer.is_none_or(|c| c < d)
        && let Some(w) = prompt(s)
    {
        return w;
    }
    if s.has("esc to cancel)") {
        return state(AgentState::Working);
    }
    if composer.is_some()
        || s.has_in_last(3, "? for shortcuts")
        || s.has_in_last(3, "shift + tab to cycle")
    {
        return state(AgentState::Idle);
    }
    state(AgentState::Starting)
}

fn prompt(s: &Screen) -> Option<Detection> {
    let opts = numbered_options(s, 0, s.len(), &['›']);
    if opts.len() < 2 {
        return None;
    }
    let first = opts[0].line;
    let from = first.saturating_sub(12);
    let options = nav_options(&opts);
    if let Some(q) = (from..first).rev().find(|&i| {
        let l = &s.lines[i];
        l.starts_with("Allow execution")
            || l.starts_with("Apply this change")
            || l.starts_with("Allow ")
    }) {
        // `?  Shell touch approved.txt (Run touch approved.txt) ←` heads the box.
        let top = (from..q).rev().find(|&i| s.lines[i].starts_with("? "));
        let head = top.map_or("", |i| s.lines[i][2..].trim_end_matches('←').trim());
        // Drop the tool's description: `Shell touch x (Run touch x)` → `Shell touch x`.
        let head = head.find(" (").map_or(head, |p| &head[..p]);
        let detail = top
            .map(|t| {
                (t + 1..q)
                    .map(|i| s.lines[i].as_str())
                    .filter(|l| !l.is_empty())
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default();
        return Some(waiting(permission_for(head), collapse(&s.lines[q]), detail, options));
    }
    let question = question_above(s, first, 8);
    let what = if s.has("Do you trust") { "trust" } else { "choice" };
    Some(waiting(what.to_owned(), question, String::new(), options))
}
