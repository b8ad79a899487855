//! The flags of `llmux session start` and `llmux session edit`, and the requests they make.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use llmux_api::{CreateSessionRequest, EditSessionRequest, EnvInput, WorktreeRequest};

#[derive(Debug, Args)]
pub(crate) struct StartArgs {
    /// Agent key (see `llmux agent list --all`).
    agent: String,
    /// Session name [default: the agent key, or key-2, key-3, … if taken].
    #[arg(long)]
    name: Option<String>,
    /// Working directory [default: the current directory].
    #[arg(long)]
    cwd: Option<PathBuf>,
    /// Flags for the agent, in shell syntax, replacing its defaults ("" for none).
    #[arg(long, allow_hyphen_values = true)]
    flags: Option<String>,
    /// Environment variable for the agent (repeatable).
    #[arg(long, short, value_name = "KEY=VALUE")]
    env: Vec<String>,
    /// A prompt to type once the agent is up (repeatable).
    #[arg(long = "init", value_name = "PROMPT")]
    init: Vec<String>,
    /// Resume this conversation id (see `llmux session history`); no init prompts then.
    #[arg(long, value_name = "ID")]
    resume_from: Option<String>,
    /// Do not type the init prompts (the daemon's or --init ones).
    #[arg(long)]
    skip_init: bool,
    /// Run the agent in a new git worktree of the repository --cwd is in, on BRANCH (an
    /// existing branch, or a new one from --base) [default branch: the session's name].
    /// Put it after the agent: `llmux session start claude --worktree fix-login`.
    #[arg(long, value_name = "BRANCH", num_args = 0..=1, default_missing_value = "")]
    worktree: Option<String>,
    /// With --worktree: where a new branch starts [default: the repository's worktree.base,
    /// else its current HEAD].
    #[arg(long, value_name = "REF", requires = "worktree")]
    base: Option<String>,
    /// Start it on this fleet host of the hub (see `llmux host list`); its name is then
    /// `HOST:NAME`. The cwd is a path on that host. `auto`: the reachable host where the
    /// agent is installed and the cwd exists, with the most free memory; `label:NAME`: the
    /// same among the hosts with that label (`llmux host edit HOST --label NAME`).
    #[arg(long, value_name = "HOST")]
    host: Option<String>,
    /// Whenever the agent stops at a rate limit, type TEXT once the limit has reset
    /// [default TEXT: continue].
    #[arg(long, value_name = "TEXT", num_args = 0..=1, default_missing_value = "continue")]
    after_limit: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct EditArgs {
    /// Session name.
    pub(super) name: String,
    /// New name.
    #[arg(long)]
    rename: Option<String>,
    /// New working directory.
    #[arg(long)]
    cwd: Option<PathBuf>,
    /// New flags in shell syntax ("" for none).
    #[arg(long, allow_hyphen_values = true, conflicts_with = "default_flags")]
    flags: Option<String>,
    /// Go back to the agent's default flags.
    #[arg(long)]
    default_flags: bool,
    /// Replace the environment with these variables (repeatable).
    #[arg(long, short, value_name = "KEY=VALUE", conflicts_with = "clear_env")]
    env: Vec<String>,
    /// Remove every session environment variable.
    #[arg(long)]
    clear_env: bool,
    /// Replace the init prompts (repeatable).
    #[arg(long = "init", value_name = "PROMPT", conflicts_with = "clear_init")]
    init: Vec<String>,
    /// Remove the init prompts.
    #[arg(long)]
    clear_init: bool,
    /// Whenever the agent stops at a rate limit, type TEXT once the limit has reset
    /// [default TEXT: continue].
    #[arg(
        long,
        value_name = "TEXT",
        num_args = 0..=1,
        default_missing_value = "continue",
        conflicts_with = "no_after_limit"
    )]
    after_limit: Option<String>,
    /// Turn the after-limit setting off.
    #[arg(long)]
    no_after_limit: bool,
    /// Move the session into a new git worktree of the repository its cwd is in, on BRANCH
    /// (as `session start --worktree`); a running agent restarts there. Only on its own.
    #[arg(
        long,
        value_name = "BRANCH",
        num_args = 0..=1,
        default_missing_value = "",
        conflicts_with_all = ["rename", "cwd", "flags", "default_flags", "env", "clear_env", "init", "clear_init", "after_limit", "no_after_limit"]
    )]
    worktree: Option<String>,
    /// With --worktree: where a new branch starts.
    #[arg(long, value_name = "REF", requires = "worktree")]
    base: Option<String>,
}

pub(super) fn parse_env(pairs: &[String]) -> Result<BTreeMap<String, String>> {
    pairs
        .iter()
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => Ok((k.to_owned(), v.to_owned())),
            None => bail!("--env {pair:?} is not KEY=VALUE"),
        })
        .collect()
}

fn absolute(path: PathBuf) -> Result<String> {
    let path = if path.is_absolute() || path.starts_with("~") {
        path
    } else {
        std::env::current_dir().context("cannot read the current directory")?.join(path)
    };
    Ok(path.to_string_lossy().into_owned())
}

impl StartArgs {
    pub(super) fn into_request(self) -> Result<CreateSessionRequest> {
        let cwd = match (self.cwd, &self.host) {
            (Some(cwd), _) => absolute(cwd)?,
            // The current directory is this machine's: on a host, the daemon's default.
            (None, Some(_)) => String::new(),
            (None, None) => absolute(PathBuf::from("."))?,
        };
        Ok(CreateSessionRequest {
            agent: self.agent,
            name: self.name,
            cwd: (!cwd.is_empty()).then_some(cwd),
            flags: self.flags,
            env: (!self.env.is_empty())
                .then(|| parse_env(&self.env))
                .transpose()?
                .map(EnvInput::Map),
            init_prompts: (!self.init.is_empty()).then_some(self.init),
            resume_from: self.resume_from,
            parent: std::env::var("LLMUX_SESSION").ok().filter(|s| !s.is_empty()),
            skip_init: self.skip_init.then_some(true),
            worktree: self.worktree.map(|branch| llmux_api::WorktreeRequest {
                branch: Some(branch).filter(|b| !b.is_empty()),
                base: self.base,
            }),
            host: self.host,
            after_limit: self.after_limit,
        })
    }
}

impl EditArgs {
    pub(super) fn into_request(self) -> Result<EditSessionRequest> {
        let req = EditSessionRequest {
            name: self.rename,
            cwd: self.cwd.map(absolute).transpose()?,
            flags: if self.default_flags { Some(None) } else { self.flags.map(Some) },
            env: if self.clear_env {
                Some(None)
            } else if self.env.is_empty() {
                None
            } else {
                Some(Some(EnvInput::Map(parse_env(&self.env)?)))
            },
            init_prompts: if self.clear_init {
                Some(Vec::new())
            } else {
                (!self.init.is_empty()).then_some(self.init)
            },
            resume_from: None,
            after_limit: if self.no_after_limit { Some(None) } else { self.after_limit.map(Some) },
            worktree: self.worktree.map(|branch| WorktreeRequest {
                branch: Some(branch).filter(|b| !b.is_empty()),
                base: self.base,
            }),
        };
        if req.worktree.is_none()
            && req.name.is_none()
            && req.cwd.is_none()
            && req.flags.is_none()
            && req.env.is_none()
            && req.init_prompts.is_none()
            && req.after_limit.is_none()
        {
            bail!(
                "nothing to change: give at least one of --rename, --cwd, --flags, --default-flags, --env, --clear-env, --init, --clear-init, --after-limit, --no-after-limit, --worktree"
            );
        }
        Ok(req)
    }
}
