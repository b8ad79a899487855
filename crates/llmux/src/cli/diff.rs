//! `llmux session diff NAME`: what a session's agent changed in its git repository.

use std::io::{IsTerminal, Write};

use anyhow::Result;
use clap::Args;
use llmux_api::{DiffFile, DiffQuery, DiffRange, DiffResponse, FileStatus, LineKind};

use super::Ctx;
use crate::output::{self, escape};

/// Arguments of `llmux session diff`.
#[derive(Debug, Args)]
pub(crate) struct DiffArgs {
    /// Session name.
    name: String,
    /// Only the files with their counts.
    #[arg(long)]
    stat: bool,
    /// Compare with this branch, tag or commit [default: the default branch, else upstream].
    #[arg(long, value_name = "REF")]
    base: Option<String>,
    /// Only what is staged (the index against HEAD).
    #[arg(long, group = "range")]
    staged: bool,
    /// Only what is not committed (working tree and untracked files against HEAD).
    #[arg(long, group = "range")]
    uncommitted: bool,
    /// Only the commits since the base.
    #[arg(long, group = "range")]
    commits: bool,
    /// Only this file (shown even when large or generated).
    #[arg(long, value_name = "PATH")]
    path: Option<String>,
}

impl DiffArgs {
    pub async fn run(self, ctx: &Ctx) -> Result<u8> {
        let client = ctx.client()?;
        let range = if self.staged {
            DiffRange::Staged
        } else if self.uncommitted {
            DiffRange::Uncommitted
        } else if self.commits {
            DiffRange::Commits
        } else {
            DiffRange::All
        };
        let q = DiffQuery {
            range: Some(range),
            base: self.base,
            stat: self.stat,
            path: self.path,
            context: None,
        };
        let diff = client.diff(&self.name, &q).await?;
        if ctx.json {
            output::json(&diff)?;
            return Ok(0);
        }
        let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        let mut out = std::io::stdout().lock();
        let printed = if self.stat {
            print_stat(&mut out, &diff)
        } else {
            print_patch(&mut out, &diff, color)
        };
        match printed {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(0),
            other => other.map(|_| 0).map_err(Into::into),
        }
    }
}

fn summary(diff: &DiffResponse) -> String {
    let against = match (&diff.base, &diff.merge_base) {
        (Some(b), Some(mb)) => format!(" against {b} ({})", &mb[..mb.len().min(10)]),
        _ => String::new(),
    };
    format!(
        "{} file{} changed, +{} -{} ({}{against}){}",
        diff.files.len(),
        if diff.files.len() == 1 { "" } else { "s" },
        diff.additions,
        diff.deletions,
        diff.range.as_str(),
        if diff.truncated { "; some of it left out (too large)" } else { "" }
    )
}

fn name_of(file: &DiffFile) -> String {
    match &file.old_path {
        Some(old) => format!("{} → {}", escape(old, false), escape(&file.path, false)),
        None => escape(&file.path, false).into_owned(),
    }
}

fn print_stat(out: &mut impl Write, diff: &DiffResponse) -> std::io::Result<()> {
    for file in &diff.files {
        let mark = match file.status {
            FileStatus::Added => 'A',
            FileStatus::Deleted => 'D',
            FileStatus::Modified => 'M',
            FileStatus::Renamed => 'R',
            FileStatus::Copied => 'C',
        };
        let counts = if file.binary {
            "binary".to_owned()
        } else {
            format!("+{} -{}", file.additions, file.deletions)
        };
        writeln!(out, "{mark} {:>12}  {}", counts, name_of(file))?;
    }
    writeln!(out, "{}", escape(&summary(diff), false))
}

fn print_patch(out: &mut impl Write, diff: &DiffResponse, color: bool) -> std::io::Result<()> {
    let paint = |code: &str, text: &str| {
        if color { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_owned() }
    };
    for file in &diff.files {
        let status = match file.status {
            FileStatus::Added => "added",
            FileStatus::Deleted => "deleted",
            FileStatus::Modified => "modified",
            FileStatus::Renamed => "renamed",
            FileStatus::Copied => "copied",
        };
        writeln!(out, "{}", paint("1", &format!("{} ({status})", name_of(file))))?;
        if file.binary {
            writeln!(out, "  binary file")?;
        }
        if let Some(why) = file.collapsed {
            writeln!(
                out,
                "  {} lines not shown ({}); see them with --path",
                file.additions + file.deletions,
                format!("{why:?}").to_lowercase()
            )?;
        }
        for hunk in &file.hunks {
            writeln!(out, "{}", paint("36", &escape(&hunk.header, false)))?;
            for line in &hunk.lines {
                let text = escape(&line.text, false);
                let shown = match line.kind {
                    LineKind::Add => paint("32", &format!("+{text}")),
                    LineKind::Del => paint("31", &format!("-{text}")),
                    LineKind::Context => format!(" {text}"),
                };
                writeln!(out, "{shown}")?;
            }
        }
    }
    writeln!(out, "{}", paint("2", &escape(&summary(diff), false)))
}

/// `llmux session review …`: comments back to the agent, and the review's actions.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum ReviewCmd {
    /// List the session's review comments.
    Comments {
        /// Session name.
        name: String,
    },
    /// Comment on a line or a range: FILE:LINE or FILE:START-END (new file's numbers).
    Comment {
        /// Session name.
        name: String,
        /// FILE:LINE or FILE:START-END.
        at: String,
        /// The words; several are joined with spaces.
        #[arg(required = true, num_args = 1..)]
        text: Vec<String>,
    },
    /// Send the open comments not sent yet to the agent, as one prompt.
    Send {
        /// Session name.
        name: String,
    },
    /// Commit every uncommitted change (-m), or ask the agent to (--ask).
    Commit {
        /// Session name.
        name: String,
        /// The commit message.
        #[arg(short, long, required_unless_present = "ask", conflicts_with = "ask")]
        message: Option<String>,
        /// Ask the agent to commit and write the message.
        #[arg(long)]
        ask: bool,
    },
    /// Merge the session's branch into the base (never forced; conflicts change nothing).
    Merge {
        /// Session name.
        name: String,
        /// The local branch to merge into [default: the diff's base].
        #[arg(long, value_name = "BRANCH")]
        base: Option<String>,
        /// Only a fast-forward.
        #[arg(long, conflicts_with = "no_ff")]
        ff_only: bool,
        /// Always a merge commit.
        #[arg(long)]
        no_ff: bool,
    },
    /// Push the session's branch (never forced).
    Push {
        /// Session name.
        name: String,
    },
    /// Open a pull request with gh (or a merge request with glab).
    Pr {
        /// Session name.
        name: String,
        /// The branch to merge into [default: the diff's base].
        #[arg(long, value_name = "BRANCH")]
        base: Option<String>,
    },
    /// Throw away every uncommitted change and untracked file.
    Discard {
        /// Session name.
        name: String,
        /// Yes, lose them.
        #[arg(long, required = true)]
        yes: bool,
    },
}

impl ReviewCmd {
    pub async fn run(self, ctx: &Ctx) -> Result<u8> {
        use serde_json::json;
        let client = ctx.client()?;
        let (name, action, body) = match self {
            ReviewCmd::Comments { name } => {
                let list = client.review_comments(&name).await?;
                if ctx.json {
                    output::json(&list)?;
                }
                for c in list.iter().filter(|_| !ctx.json) {
                    let state = match (c.status, &c.sent_at) {
                        (llmux_api::CommentStatus::Resolved, _) => "resolved",
                        (_, Some(_)) => "sent",
                        _ => "not sent",
                    };
                    output::say!(
                        "#{} {}:{}-{} [{state}] {}",
                        c.id,
                        c.path,
                        c.start_line,
                        c.end_line,
                        c.body
                    );
                }
                return Ok(0);
            }
            ReviewCmd::Comment { name, at, text } => {
                let (path, lines) = at
                    .rsplit_once(':')
                    .ok_or_else(|| anyhow::anyhow!("say where: FILE:LINE or FILE:START-END"))?;
                let (start, end) = match lines.split_once('-') {
                    Some((a, b)) => (a.parse()?, Some(b.parse()?)),
                    None => (lines.parse()?, None),
                };
                let req = llmux_api::NewCommentRequest {
                    path: path.to_owned(),
                    start_line: start,
                    end_line: end,
                    body: text.join(" "),
                    ..Default::default()
                };
                let c = client.add_review_comment(&name, &req).await?;
                if ctx.json {
                    output::json(&c)?;
                } else {
                    output::say!(
                        "comment #{} on {}:{}-{}; send it with `llmux session review send {name}`",
                        c.id,
                        c.path,
                        c.start_line,
                        c.end_line
                    );
                }
                return Ok(0);
            }
            ReviewCmd::Send { name } => {
                let res = client.send_review(&name).await?;
                if ctx.json {
                    output::json(&res)?;
                } else {
                    output::say!(
                        "sent {} comment{} to {name}",
                        res.sent,
                        if res.sent == 1 { "" } else { "s" }
                    );
                }
                return Ok(0);
            }
            ReviewCmd::Commit { name, message, ask } => {
                (name, "commit", json!({"message": message, "ask": ask}))
            }
            ReviewCmd::Merge { name, base, ff_only, no_ff } => {
                let mode = if ff_only {
                    "ff-only"
                } else if no_ff {
                    "merge-commit"
                } else {
                    "auto"
                };
                (name, "merge", json!({"base": base, "mode": mode}))
            }
            ReviewCmd::Push { name } => (name, "push", json!({})),
            ReviewCmd::Pr { name, base } => (name, "pr", json!({"base": base})),
            ReviewCmd::Discard { name, yes } => (name, "discard", json!({"confirm": yes})),
        };
        let res = client.review_action(&name, action, &body).await?;
        if ctx.json {
            output::json(&res)?;
        } else {
            let text = res.output.clone();
            let said = if text.is_empty() { res.prompt.clone().unwrap_or_default() } else { text };
            output::text(if said.is_empty() { "done" } else { &said })?;
        }
        Ok(0)
    }
}
