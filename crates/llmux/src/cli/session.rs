//! `llmux session …`: start, list, prompt and manage agent sessions.

use std::io::Read;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Subcommand;
use llmux_api::BroadcastRequest;

use super::Ctx;
use super::session_args::{EditArgs, StartArgs};
use super::show::{print_details, row};
use crate::output;

#[derive(Debug, Subcommand)]
pub(crate) enum SessionCmd {
    /// List sessions, newest first (on a hub, with its hosts' sessions as `host:name`).
    #[command(visible_alias = "ls")]
    List {
        /// Only this fleet host's sessions (`local`: the hub's own).
        #[arg(long, value_name = "HOST")]
        host: Option<String>,
    },
    /// Start a new session of an agent.
    #[command(visible_alias = "spawn")]
    Start(StartArgs),
    /// Show one session, with the tmux command to attach from a plain shell.
    Show {
        /// Session name.
        name: String,
    },
    /// Stop sessions' agents; their records stay (status `exited`).
    Stop {
        /// Session names.
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Restart sessions from their recorded config.
    #[command(visible_alias = "respawn")]
    Restart {
        /// Session names.
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Change a session's name, cwd, flags, env or init prompts.
    ///
    /// A change of cwd, flags, env or resume id restarts a running session; a rename is live.
    Edit(EditArgs),
    /// Remove sessions' records (refused while running, unless --force).
    #[command(visible_alias = "rm")]
    Remove {
        /// Session names.
        #[arg(required = true)]
        names: Vec<String>,
        /// Stop running sessions first; with --keep-branch or --delete-branch, also remove a
        /// worktree with uncommitted changes or unmerged commits.
        #[arg(long, short)]
        force: bool,
        /// With --force: remove the worktree but keep its branch and commits.
        #[arg(long, requires = "force", conflicts_with = "delete_branch")]
        keep_branch: bool,
        /// With --force: remove the worktree and delete its branch, commits and all.
        #[arg(long, requires = "force")]
        delete_branch: bool,
    },
    /// Type a prompt into a session and press Enter.
    ///
    /// A prompt sent while the agent is still starting is held until it is ready; prompts from
    /// several senders are typed one after another. With --wait, returns when the agent is
    /// done and prints its reply. Exit codes with --wait: 0 idle, 8 waiting for an answer
    /// (a permission or a choice), 9 timeout, 5 the agent exited.
    ///
    /// With --at, --in, --when idle or --after-limit the prompt is queued instead: kept by the
    /// daemon (across restarts) and typed when due; see `llmux session queue NAME`.
    ///
    /// Flags may stand before or after the text. Text that starts with `-` goes after `--`:
    /// `llmux session prompt NAME --wait -- --literal text`.
    #[command(visible_alias = "send")]
    Prompt {
        /// Session name.
        name: String,
        /// The prompt; several words are joined with spaces; `-` reads stdin; put it after
        /// `--` if it starts with `-`. With --after-limit it defaults to "continue".
        #[arg(required_unless_present = "after_limit", num_args = 1..)]
        text: Vec<String>,
        #[command(flatten)]
        when: super::queue::WhenArgs,
        /// Type the text without pressing Enter.
        #[arg(long, conflicts_with = "wait")]
        no_enter: bool,
        /// Wait until the agent is done and print its reply.
        #[arg(long, conflicts_with_all = ["at", "within", "when", "after_limit"])]
        wait: bool,
        /// With --wait: give up after this many seconds.
        #[arg(long, default_value_t = 600, value_name = "SECS", requires = "wait")]
        timeout: u64,
    },
    /// Show the prompts waiting for a session, or change one: --cancel ID, --move ID --to N,
    /// --edit ID TEXT.
    Queue(super::queue::QueueArgs),
    /// Follow sessions' states live (`working`, `idle`, `waiting`, …) until Ctrl-C.
    Watch {
        /// Only these sessions (default: all).
        names: Vec<String>,
    },
    /// List a session's past conversations (its agent, its cwd), newest first.
    History {
        /// Session name.
        name: String,
    },
    /// Restart a session's agent on a past conversation.
    Resume {
        /// Session name.
        name: String,
        /// The newest conversation.
        #[arg(long, conflicts_with = "conversation", required_unless_present = "conversation")]
        latest: bool,
        /// This conversation id (see `llmux session history NAME`).
        #[arg(long, value_name = "ID")]
        conversation: Option<String>,
    },
    /// Answer the question a waiting agent shows, by option number (see `session show`).
    Answer {
        /// Session name.
        name: String,
        /// Option number as the screen and `session show` number them: 1 is the first.
        #[arg(value_parser = clap::value_parser!(u16).range(1..))]
        option: u16,
    },
    /// Type one prompt into many running sessions.
    ///
    /// Flags may stand before or after the text. Text that starts with `-` goes after `--`:
    /// `llmux session broadcast --to NAME -- --literal text`.
    Broadcast {
        /// The prompt; several words are joined with spaces; `-` reads stdin; put it after
        /// `--` if it starts with `-`.
        #[arg(required = true, num_args = 1..)]
        text: Vec<String>,
        /// Only sessions of this agent.
        #[arg(long)]
        agent: Option<String>,
        /// Only these sessions (repeatable); default: every running session.
        #[arg(long = "to", value_name = "NAME")]
        to: Vec<String>,
        /// Type the text without pressing Enter.
        #[arg(long)]
        no_enter: bool,
    },
    /// Sit at a session's terminal, locally or on a remote daemon (Ctrl+] detaches).
    ///
    /// Exit codes: 0 detached, 5 the session ended, 6 the connection was lost, 7 refused (not
    /// allowed, not running, or the credential was revoked), 4 no such session, 3 no daemon.
    Attach {
        /// Session name.
        name: String,
        /// The key that detaches: ctrl-] (default), ctrl-q, ctrl-\, …
        #[arg(long, default_value = "ctrl-]", value_name = "KEY")]
        detach_key: String,
        /// Only watch: the daemon attaches read-only and nothing typed is sent.
        #[arg(long)]
        read_only: bool,
        /// Do not replay the session's scrollback before the live screen.
        #[arg(long)]
        no_history: bool,
        /// Accept any TLS certificate (self-signed test servers only).
        #[arg(long)]
        insecure: bool,
    },
    /// Put files (screenshots, logs, …) into a session's folder and print how to name them in
    /// a prompt.
    ///
    /// Each lands in `.llmux/uploads/` in the session's cwd (kept out of git), written as the
    /// session's owner. With --prompt, TEXT followed by the files' names is then typed into the
    /// session as one prompt.
    Upload {
        /// Session name.
        name: String,
        /// The files.
        #[arg(required = true, num_args = 1..)]
        files: Vec<PathBuf>,
        /// Then send this prompt with the files named after it.
        #[arg(long, value_name = "TEXT")]
        prompt: Option<String>,
    },
    /// Show what a session's agent changed in its git repository (a coloured diff).
    ///
    /// By default: the commits since the merge-base with the base branch, staged and unstaged
    /// changes, and untracked files. --json gives the structure (files, hunks, lines).
    Diff(super::diff::DiffArgs),
    /// Review a session's changes: comments sent back to the agent, commit, merge, push, PR.
    #[command(subcommand)]
    Review(super::diff::ReviewCmd),
    /// Print the last lines of a session's screen and scrollback.
    Capture {
        /// Session name.
        name: String,
        /// How many lines.
        #[arg(long, short = 'n', default_value_t = 50)]
        lines: u32,
    },
}

impl SessionCmd {
    pub fn list() -> SessionCmd {
        SessionCmd::List { host: None }
    }

    pub async fn run(self, ctx: &Ctx) -> Result<u8> {
        let client = ctx.client()?;
        match self {
            SessionCmd::List { host } => {
                let sessions = match host {
                    Some(host) => client.list_sessions_on(&host).await?,
                    None => client.list_sessions().await?,
                };
                if ctx.json {
                    output::json(&sessions)?;
                } else if sessions.is_empty() {
                    output::say!("no sessions; start one with `llmux session start <agent>`");
                } else {
                    // The BRANCH column only where some session has a worktree.
                    if sessions.iter().any(|s| s.worktree.is_some()) {
                        let rows = sessions.iter().map(|s| {
                            let mut r = row(s);
                            r.push(super::show::git_cell(s));
                            r
                        });
                        output::table(
                            &["NAME", "AGENT", "STATE", "STARTED", "CWD", "BRANCH"],
                            &rows.collect::<Vec<_>>(),
                        )?;
                    } else {
                        output::table(
                            &["NAME", "AGENT", "STATE", "STARTED", "CWD"],
                            &sessions.iter().map(row).collect::<Vec<_>>(),
                        )?;
                    }
                }
            }
            SessionCmd::Start(args) => {
                let req = args.into_request()?;
                let placed =
                    req.host.as_deref().is_some_and(|h| h == "auto" || h.starts_with("label:"));
                let session = client.create_session(&req).await?;
                if ctx.json {
                    output::json(&session)?;
                } else {
                    if placed && let Some(host) = &session.host {
                        output::say!(
                            "placed on host {host} (the agent and the cwd are there; most free memory)"
                        );
                    }
                    output::say!(
                        "spawned {} (agent: {}, cwd: {})",
                        session.name,
                        session.agent,
                        session.cwd_display
                    );
                    if let Some(w) = &session.worktree {
                        let made = if w.created_branch { "new branch" } else { "branch" };
                        output::say!("worktree on {made} {} (base {})", w.branch, w.base);
                    }
                }
            }
            SessionCmd::Show { name } => {
                let session = client.session(&name).await?;
                if ctx.json {
                    output::json(&session)?;
                } else {
                    print_details(&session);
                }
            }
            SessionCmd::Stop { names } => {
                return each(ctx, &names, "stop", async |n| {
                    client.stop_session(n).await.map(|_| format!("stopped {n}"))
                })
                .await;
            }
            SessionCmd::Restart { names } => {
                return each(ctx, &names, "restart", async |n| {
                    client.restart_session(n).await.map(|s| {
                        format!("restarted {} (agent: {}, cwd: {})", s.name, s.agent, s.cwd_display)
                    })
                })
                .await;
            }
            SessionCmd::Remove { names, force, keep_branch, delete_branch } => {
                let branch = match (keep_branch, delete_branch) {
                    (true, _) => Some(llmux_api::BranchChoice::Keep),
                    (_, true) => Some(llmux_api::BranchChoice::Delete),
                    _ => None,
                };
                return each(ctx, &names, "remove", async |n| {
                    match client.remove_session_with(n, force, branch).await {
                        Ok(_) => Ok(format!("removed {n}")),
                        // Refused because it runs: name the flag that does it.
                        Err(llmux_client::Error::Api { status, code, message })
                            if status.as_u16() == 409 && !force && message.contains("running") =>
                        {
                            Err(llmux_client::Error::Api {
                                status,
                                code,
                                message: format!(
                                    "{n} is running; stop it first (`llmux session stop {n}`) \
                                     or remove it with --force (`llmux session rm --force {n}`)"
                                ),
                            })
                        }
                        Err(e) => Err(e),
                    }
                })
                .await;
            }
            SessionCmd::Edit(args) => {
                let name = args.name.clone();
                let req = args.into_request()?;
                let session = client.edit_session(&name, &req).await?;
                if ctx.json {
                    output::json(&session)?;
                } else {
                    output::say!(
                        "edited {} (agent: {}, cwd: {})",
                        session.name,
                        session.agent,
                        session.cwd_display
                    );
                }
            }
            SessionCmd::Prompt { name, text, wait: true, timeout, .. } => {
                let prompt = prompt_text(text)?;
                return super::converse::prompt_wait(ctx, &client, &name, &prompt, timeout).await;
            }
            SessionCmd::Diff(args) => return args.run(ctx).await,
            SessionCmd::Review(cmd) => return cmd.run(ctx).await,
            SessionCmd::Watch { names } => {
                return super::converse::watch(ctx, &client, &names).await;
            }
            SessionCmd::History { name } => {
                return super::converse::history(ctx, &client, &name).await;
            }
            SessionCmd::Resume { name, latest, conversation } => {
                return super::converse::resume(ctx, &client, &name, latest, conversation).await;
            }
            SessionCmd::Answer { name, option } => {
                // The API numbers options as the screen and `session show` do: from 1.
                client.answer(&name, usize::from(option)).await?;
                if ctx.json {
                    output::json(&serde_json::json!({"ok": true}))?;
                } else {
                    output::say!("answered {name} with option {option}");
                }
            }
            SessionCmd::Prompt { name, text, no_enter, when, .. } if when.is_queued() => {
                let prompt =
                    if text.is_empty() { "continue".to_owned() } else { prompt_text(text)? };
                return super::queue::prompt_later(ctx, &client, &name, prompt, !no_enter, when)
                    .await;
            }
            SessionCmd::Queue(args) => {
                return super::queue::run(ctx, &client, args).await;
            }
            SessionCmd::Prompt { name, text, no_enter, .. } => {
                let prompt = prompt_text(text)?;
                client.send(&name, &prompt, !no_enter).await?;
                if ctx.json {
                    output::json(
                        &serde_json::json!({"ok": true, "name": name, "bytes": prompt.len()}),
                    )?;
                } else {
                    let suffix = if no_enter { " (no enter)" } else { "" };
                    output::say!("sent {} bytes → {name}{suffix}", prompt.len());
                }
            }
            SessionCmd::Broadcast { text, agent, to, no_enter } => {
                let req = BroadcastRequest {
                    prompt: prompt_text(text)?,
                    enter: Some(!no_enter),
                    names: (!to.is_empty()).then_some(to),
                    agent,
                };
                let res = client.broadcast(&req).await?;
                if ctx.json {
                    output::json(&res)?;
                } else {
                    for name in &res.sent {
                        output::say!("sent → {name}");
                    }
                    for f in &res.failed {
                        output::say_err!("llmux: {}: {}", f.name, f.error);
                    }
                    output::say!(
                        "broadcast to {} of {} sessions",
                        res.sent.len(),
                        res.sent.len() + res.failed.len()
                    );
                }
                return Ok(if res.failed.is_empty() { 0 } else { crate::exit::FAILURE });
            }
            SessionCmd::Attach { name, detach_key, read_only, no_history, insecure } => {
                let detach = crate::attach::parse_detach_key(&detach_key)?;
                let opts = llmux_client::AttachOptions {
                    cols: 80,
                    rows: 24,
                    history: if no_history { 0 } else { 1000 },
                    read_only,
                    insecure,
                };
                return match crate::attach::run(&client, &name, detach, opts).await {
                    Ok(outcome) => Ok(outcome.code()),
                    Err(e) => {
                        match e.downcast_ref::<llmux_client::Error>().and_then(|c| c.status()) {
                            Some(s) if matches!(s.as_u16(), 401 | 403 | 409) => {
                                output::say_err!("llmux: {e:#}");
                                Ok(crate::exit::REFUSED)
                            }
                            _ => Err(e),
                        }
                    }
                };
            }
            SessionCmd::Upload { name, files, prompt } => {
                return super::upload::run(ctx, &client, &name, &files, prompt).await;
            }
            SessionCmd::Capture { name, lines } => {
                let capture = client.capture(&name, lines).await?;
                if ctx.json {
                    output::json(&capture)?;
                } else {
                    output::text(&capture.text)?;
                }
            }
        }
        Ok(0)
    }
}

/// Runs `f` for every name, reporting each; the exit code is 1 if any failed (4 if every
/// failure was "not found").
async fn each(
    ctx: &Ctx,
    names: &[String],
    verb: &str,
    f: impl AsyncFn(&str) -> llmux_client::Result<String>,
) -> Result<u8> {
    let mut failures = Vec::new();
    for name in names {
        match f(name).await {
            Ok(message) if !ctx.json => output::say!("{message}"),
            Ok(_) => {}
            // Not about this session: the whole command fails, with the global hints.
            Err(
                e @ (llmux_client::Error::Unreachable { .. }
                | llmux_client::Error::Unauthorized { .. }),
            ) => return Err(e.into()),
            Err(e) => {
                output::say_err!("llmux: {verb} {name}: {e}");
                failures.push(e);
            }
        }
    }
    if ctx.json {
        output::json(&serde_json::json!({"ok": failures.is_empty()}))?;
    }
    Ok(match failures.as_slice() {
        [] => 0,
        f if f.iter().all(|e| e.status().is_some_and(|s| s.as_u16() == 404)) => {
            crate::exit::NOT_FOUND
        }
        _ => crate::exit::FAILURE,
    })
}

/// Joins prompt words; a lone `-` reads the prompt from stdin.
pub(super) fn prompt_text(words: Vec<String>) -> Result<String> {
    if words.len() == 1 && words[0] == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).context("cannot read the prompt from stdin")?;
        let text = text.strip_suffix('\n').unwrap_or(&text).to_owned();
        return Ok(text);
    }
    Ok(words.join(" "))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::cli::Cli;

    #[test]
    fn prompt_accepts_hyphenated_text_and_flags_accept_dashes() {
        let cli =
            Cli::try_parse_from(["llmux", "session", "prompt", "a", "--", "-x", "y"]).unwrap();
        assert!(format!("{cli:?}").contains("\"-x\""));
        let cli =
            Cli::try_parse_from(["llmux", "session", "start", "claude", "--flags", "--model opus"]);
        assert!(cli.is_ok());
    }

    #[test]
    fn flags_after_the_text_are_flags() {
        let cli =
            Cli::try_parse_from(["llmux", "session", "prompt", "a", "echo hi", "--wait"]).unwrap();
        let debug = format!("{cli:?}");
        assert!(debug.contains("wait: true") && !debug.contains("\"--wait\""), "{debug}");
        let cli = Cli::try_parse_from(["llmux", "session", "broadcast", "echo B", "--to", "build"])
            .unwrap();
        let debug = format!("{cli:?}");
        assert!(debug.contains("to: [\"build\"]") && debug.contains("[\"echo B\"]"), "{debug}");
        // a word that starts with `-` is refused unless it comes after `--`
        assert!(Cli::try_parse_from(["llmux", "session", "prompt", "a", "-x"]).is_err());
    }

    #[test]
    fn env_pairs_must_have_equals() {
        assert!(crate::cli::session_args::parse_env(&["A=1".into()]).is_ok());
        assert!(crate::cli::session_args::parse_env(&["A".into()]).is_err());
    }
}
