//! GitHub Copilot CLI (1.0.102). It needs a GitHub login, so only the screens before login
//! were captured.
//!
//! Verified: the trust dialog (`Confirm folder trust` … `Do you trust the files in this
//! folder?` `❯ 1. Yes` … `↑/↓ to navigate · enter to select · esc to cancel`), the login
//! choice after `/login` (`What account do you want to log into?` `❯ 1. GitHub.com`
//! … `↑/↓ to navigate · enter to select`), the composer `❯` between two rules with the footer
//! `… / commands · ? help …` (also shown while `Please use /login to sign in` — reported as
//! idle), and the exit (`/exit` clears the screen; only tmux's `Pane is dead` stays).
//!
//! Not verified (from its known UI): working = `esc to cancel` / `Esc to interrupt` with no
//! list footer; permission = `Do you want to run this command?` (or `Do you want to …`) with
//! a numbered `❯` list; exited = `copilot --resume`.

use llmux_api::{AgentState, Detection};

use crate::detect::{
    Screen, collapse, is_rule, nav_options, numbered_options, permission_for, question_above,
    state, waiting,
};

pub(super) fn detect(s: &Screen) -> Detection {
    if s.has_in_last(4, "copilot --resume") {
        return state(AgentState::Exited);
    }
    let composer = (1..s.len().saturating_sub(1)).rev().find(|&i| {
        s.lines[i].starts_with('❯') && is_rule(&s.lines[i - 1]) && is_rule(&s.lines[i + 1])
    });
    if let Some(f) = s.last_of(&["to navigate", "enter to select", "Enter to select"])
        && composer.is_none_or(|c| c < f)
        && let Some(d) = prompt(s, f)
    {
        return d;
    }
    let tail = s.len().saturating_sub(6);
    let working = (tail..s.len()).any(|i| {
        let l = s.lines[i].to_lowercase();
        l.contains("esc to interrupt") || (l.contains("esc to cancel") && !l.contains("to select"))
    });
    if working {
        return state(AgentState::Working);
    }
    if composer.is_some() || s.has_in_last(2, "/ commands") {
        return state(AgentState::Idle);
    }
    state(AgentState::Starting)
}

fn prompt(s: &Screen, footer: usize) -> Option<Detection> {
    let from = footer.saturating_sub(22);
    let opts = numbered_options(s, from, footer + 1, &['❯']);
    if opts.len() < 2 {
        return None;
    }
    let first = opts[0].line;
    let options = nav_options(&opts);
    let has = |pat: &str| (from..=footer).any(|i| s.lines[i].contains(pat));
    if let Some(q) = (from..first).rev().find(|&i| s.lines[i].starts_with("Do you want to")) {
        // Unverified layout: take the nearest non-empty line above the question as the command.
        let cmd =
            (from..q).rev().map(|i| s.lines[i].as_str()).find(|l| !l.is_empty() && !is_rule(l));
        let what = cmd.unwrap_or("");
        return Some(waiting(
            permission_for(what),
            collapse(&s.lines[q]),
            what.to_owned(),
            options,
        ));
    }
    let question = question_above(s, first, 8);
    if has("trust the files") || has("folder trust") {
        let detail = (from..first)
            .map(|i| s.lines[i].as_str())
            .find(|l| l.starts_with('/'))
            .unwrap_or("")
            .to_owned();
        return Some(waiting("trust".to_owned(), question, detail, options));
    }
    let what = if has("log into") || has("log in") || has("sign in") { "login" } else { "choice" };
    Some(waiting(what.to_owned(), question, String::new(), options))
}
