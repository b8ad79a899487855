//! Claude Code. All patterns verified against 2.1.197.
//!
//! - idle: the composer `❯` followed by U+00A0 (history lines use a plain space);
//! - working: `esc to interrupt` in the footer;
//! - waiting: a list footer with `Esc to cancel` (`Esc to cancel · Tab to amend`,
//!   `Enter to select · ↑/↓ to navigate · Esc to cancel`, `Enter to confirm · Esc to cancel`),
//!   options `❯ 1. Yes`; keys Up/Down + Enter (digits also answer at once);
//! - exited: `Resume this session with:` / `claude --resume <uuid>`.

use llmux_api::{AgentState, Detection};

use crate::detect::{
    Screen, collapse, is_rule, nav_options, numbered_options, permission_for, question_above,
    state, waiting,
};

pub(super) fn detect(s: &Screen) -> Detection {
    if s.has_in_last(4, "claude --resume") || s.has_in_last(4, "Resume this session with") {
        return state(AgentState::Exited);
    }
    let composer = (0..s.len()).rev().find(|&i| is_composer(s.raw[i]));
    if let Some(f) = s.last_of(&["Esc to cancel", "Esc to exit", "Enter to confirm"])
        && composer.is_none_or(|c| c < f)
        && let Some(d) = prompt(s, f)
    {
        return d;
    }
    if s.has_in_last(4, "esc to interrupt") {
        return state(AgentState::Working);
    }
    if composer.is_some() {
        return state(AgentState::Idle);
    }
    state(AgentState::Starting)
}

/// The composer: `❯` alone or followed by U+00A0.
fn is_composer(raw: &str) -> bool {
    let t = raw.trim_start();
    t.strip_prefix('❯').is_some_and(|r| r.is_empty() || r.starts_with('\u{a0}'))
}

fn prompt(s: &Screen, footer: usize) -> Option<Detection> {
    let from = footer.saturating_sub(20);
    let opts = numbered_options(s, from, footer + 1, &['❯']);
    if opts.len() < 2 {
        return None;
    }
    let first = opts[0].line;
    let options = nav_options(&opts);
    let block = |pat: &str| (from..=footer).any(|i| s.lines[i].contains(pat));
    if let Some(q) = (from..first).rev().find(|&i| s.lines[i].starts_with("Do you want to")) {
        // `Bash command` / `touch approved.txt` / `Run touch …` between the rule and the question.
        let top = (from..q).rev().find(|&i| is_rule(&s.lines[i])).map_or(from, |i| i + 1);
        let detail: Vec<&str> = (top..q).map(|i| s.lines[i].as_str()).collect();
        let what = match detail.first() {
            Some(h) if h.ends_with(" command") && detail.len() > 1 => detail[1],
            Some(h) => h,
            None => "",
        };
        let question = collapse(&s.lines[q]);
        return Some(waiting(permission_for(what), question, detail.join("\n"), options));
    }
    let question = question_above(s, first, 10);
    // The trust dialog names the folder under `Accessing workspace:`.
    let detail = (from..first)
        .find(|&i| s.lines[i] == "Accessing workspace:")
        .and_then(|i| s.lines.get(i + 1).cloned())
        .unwrap_or_default();
    let what = if block("trust this folder") || block("Accessing workspace") {
        "trust"
    } else if block("☐") || block("☒") || block("Enter to select") {
        "choice"
    } else if block("login") || block("Login") || block("log in") {
        "login"
    } else {
        "dialog"
    };
    Some(waiting(what.to_owned(), question, detail, options))
}
