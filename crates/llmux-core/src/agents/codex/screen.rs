//! OpenAI Codex CLI. All patterns verified against 0.171.0.
//!
//! - starting: the header shows `loading` under `>_ OpenAI Codex` (the composer is already
//!   drawn then, and keys sent now are lost);
//! - working: `• Working (3s • esc to interrupt)`; while reply text streams that line is
//!   hidden, so a user line `› …` above the composer with no `Worked for` after it also counts;
//! - waiting: `Press enter to confirm or esc to cancel` (permission), `enter continue · esc back`
//!   (trust); options `› 1. Yes, proceed (y)`; keys Up/Down + Enter (the letters in brackets
//!   also answer: `y` verified);
//! - exited: `codex resume <id>` (`To reconnect, run:` / `To continue this session, run`).

use llmux_api::{AgentState, Detection};

use crate::detect::{
    Screen, collapse, nav_options, numbered_options, permission_for, question_above, state, waiting,
};

pub(super) fn detect(s: &Screen, screen: &str) -> Detection {
    if s.has_in_last(6, "codex resume") {
        return state(AgentState::Exited);
    }
    if let Some(f) =
        s.last_of(&["Press enter to confirm", "enter continue", "esc to cancel", "esc back"])
        && f + 3 >= s.len()
        && let Some(d) = prompt(s, f)
    {
        return d;
    }
    if s.has("esc to interrupt") {
        return state(AgentState::Working);
    }
    let Some(c) = (0..s.len()).rev().find(|&i| s.lines[i].starts_with('›')) else {
        return state(AgentState::Starting);
    };
    if loading(screen) {
        return state(AgentState::Starting);
    }
    // Streaming: the user's message is above the composer and the turn has not ended.
    for i in (0..c).rev() {
        let l = s.lines[i].as_str();
        if l.starts_with("Worked for") || l.starts_with("─ Worked for") || l.starts_with('■') {
            break;
        }
        if l.starts_with('›') {
            return state(AgentState::Working);
        }
    }
    state(AgentState::Idle)
}

/// The session header still says `loading` instead of the directory.
fn loading(screen: &str) -> bool {
    let mut lines = screen.lines().map(|l| l.trim_matches(|c: char| c.is_whitespace() || c == '│'));
    while let Some(l) = lines.next() {
        if l.starts_with(">_ OpenAI Codex") {
            return lines.next().is_some_and(|n| n.starts_with("loading"));
        }
    }
    false
}

fn prompt(s: &Screen, footer: usize) -> Option<Detection> {
    let from = footer.saturating_sub(20);
    let opts = numbered_options(s, from, footer + 1, &['›']);
    if opts.len() < 2 {
        return None;
    }
    let first = opts[0].line;
    let options = nav_options(&opts);
    let has = |pat: &str| (from..=footer).any(|i| s.lines[i].contains(pat));
    if let Some(q) = (from..first).rev().find(|&i| s.lines[i].starts_with("Would you like to")) {
        let detail: Vec<&str> = (q + 1..first).map(|i| s.lines[i].as_str()).collect();
        let cmd = detail.iter().find_map(|l| l.strip_prefix("$ ")).unwrap_or("");
        let what = if cmd.is_empty() && has("edits") { "edits" } else { cmd };
        return Some(waiting(
            permission_for(what),
            collapse(&s.lines[q]),
            detail.join("\n"),
            options,
        ));
    }
    if has("Trust this folder") || has("trust these files") {
        let q = (from..first).rev().find(|&i| s.lines[i].starts_with("Trust this folder"));
        let question =
            q.map_or_else(|| question_above(s, first, 6), |_| "Trust this folder?".to_owned());
        let detail = (from..first)
            .find(|&i| s.lines[i] == "Folder access")
            .and_then(|i| s.lines.get(i + 1).cloned())
            .unwrap_or_default();
        return Some(waiting("trust".to_owned(), question, detail, options));
    }
    Some(waiting("choice".to_owned(), question_above(s, first, 6), String::new(), options))
}
