//! How `llmux session list` and `session show` print a session.

use llmux_api::{SessionStatus, SessionView};

use crate::output;

pub(super) fn row(s: &SessionView) -> Vec<String> {
    let status = match (s.status, s.exit_status) {
        (SessionStatus::Exited, Some(code)) => format!("exited ({code})"),
        (SessionStatus::Exited, None) => "exited".to_owned(),
        (SessionStatus::Running, _) => match &s.waiting_for {
            Some(w) => format!("waiting: {w}"),
            None => s.state.as_str().to_owned(),
        },
    };
    vec![s.name.clone(), s.agent.clone(), status, output::ago(&s.started_at), s.cwd_display.clone()]
}

/// `fix +2 -1 dirty`: a worktree's branch and how it stands against its base ("" without one).
pub(super) fn git_cell(s: &SessionView) -> String {
    let Some(w) = &s.worktree else { return String::new() };
    let mut cell = w.branch.clone();
    if let (Some(ahead), Some(behind)) = (w.ahead, w.behind) {
        cell.push_str(&format!(" +{ahead} -{behind}"));
    }
    if w.dirty == Some(true) {
        cell.push_str(" dirty");
    }
    cell
}

pub(super) fn print_details(s: &SessionView) {
    output::say!("name        {}", s.name);
    output::say!("agent       {}", s.agent);
    let state = state_line(s.status, s.exit_status, &row(s)[2], &output::ago(&s.state_since));
    output::say!("state       {state}");
    if let Some(p) = &s.prompt {
        output::say!("question    {}", p.question);
        for (n, o) in (1..).zip(&p.options) {
            output::say!("  {n}. {}", o.label);
        }
        output::say!("            answer with `llmux session answer {} N`", s.name);
    }
    if let Some(pid) = s.pid {
        output::say!("pid         {pid}");
    }
    output::say!("cwd         {}", s.cwd);
    if let Some(w) = &s.worktree {
        output::say!("repository  {}", w.repo);
        let made = if w.created_branch { "new" } else { "existing" };
        output::say!("branch      {} ({made}; base {})", w.branch, w.base);
        match (w.ahead, w.behind, w.dirty) {
            (Some(a), Some(b), Some(d)) => output::say!(
                "git         {a} ahead, {b} behind, {}",
                if d { "uncommitted changes" } else { "clean" }
            ),
            _ => output::say!("git         not read yet"),
        }
        if let Some(out) = &w.setup_output {
            output::say!("setup output");
            for line in out.lines() {
                output::say!("  {line}");
            }
        }
    }
    output::say!("command     {}", shell_join(&s.argv));
    if let Some(env) = &s.env
        && !env.is_empty()
    {
        output::say!("env");
        for (k, v) in env {
            output::say!("  {k}={v}");
        }
    }
    if !s.init_prompts.is_empty() {
        output::say!("init        {} prompt(s)", s.init_prompts.len());
    }
    if let Some(id) = &s.resume_from {
        output::say!("resume      {id}");
    }
    if let Some(at) = &s.resets_at {
        output::say!("limit       resets at {at}");
    }
    if let Some(text) = &s.after_limit {
        output::say!("after limit types {text:?} once the rate limit has reset");
    }
    output::say!("created     {} ({})", s.created_at, output::ago(&s.created_at));
    output::say!("started     {} ({})", s.started_at, output::ago(&s.started_at));
    output::say!("attach      {}", s.attach_command);
}

/// `session show`'s state: `idle (since 2m ago)`, `exited with status 3, 2m ago`.
fn state_line(status: SessionStatus, exit: Option<i32>, running: &str, since: &str) -> String {
    match (status, exit) {
        (SessionStatus::Exited, Some(code)) => format!("exited with status {code}, {since}"),
        (SessionStatus::Exited, None) => format!("exited, {since}"),
        (SessionStatus::Running, _) => format!("{running} (since {since})"),
    }
}

fn shell_join(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            if !a.is_empty()
                && a.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:@,+".contains(c))
            {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_exited_state_reads_as_a_sentence() {
        use llmux_api::SessionStatus::{Exited, Running};
        let line = super::state_line(Exited, Some(3), "exited (3)", "2m ago");
        assert_eq!(line, "exited with status 3, 2m ago");
        assert_eq!(super::state_line(Exited, None, "exited", "just now"), "exited, just now");
        assert_eq!(super::state_line(Running, None, "idle", "1h ago"), "idle (since 1h ago)");
    }
}
