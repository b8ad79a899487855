//! Running git safely for a session.
//!
//! A repository's configuration is written by whoever wrote the repository (the agent, a
//! cloned project): it can name programs git runs (`diff.external`, a diff driver's
//! `command` or `textconv`, `filter.*.clean`, `core.fsmonitor`, `core.pager`, hooks). Every
//! git run here turns those off on the command line, which wins over every config file:
//! `--no-ext-diff` and `--no-textconv` on diffs, `-c` for the rest, each filter driver the
//! config defines emptied by name. Git itself runs as the session's identity (inside the
//! sandbox for a confined session: the argv [`Git::new`] is given), with an argv, never a
//! shell, with a deadline and a cap on what is read of its output.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt;

use crate::error::{Error, Result};

/// How long one git command may take.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// Options before every subcommand.
const HARDENED: [&str; 19] = [
    "--no-optional-locks",
    "-c",
    "core.quotePath=false",
    "-c",
    "core.fsmonitor=false",
    "-c",
    "core.pager=cat",
    "-c",
    "diff.external=",
    "-c",
    "color.ui=false",
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "diff.noprefix=false",
    "-c",
    "diff.mnemonicPrefix=false",
    "-c",
    "diff.suppressBlankEmpty=false",
];

/// What every git, gh or glab command is given, so none waits for a password or colours its
/// output. The argv of a command run as a session's owner carries them too
/// ([`crate::sessions::SessionService`]'s `as_owner`): a wrapper clears the rest.
pub const NEVER_ASK: &[(&str, &str)] =
    &[("GIT_TERMINAL_PROMPT", "0"), ("GH_PROMPT_DISABLED", "1"), ("NO_COLOR", "1")];

/// Environment variables that would point git elsewhere or run something.
const DROPPED_ENV: [&str; 12] = [
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_EXTERNAL_DIFF",
    "GIT_PAGER",
    "PAGER",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_NAMESPACE",
    "GIT_SSH_COMMAND",
];

/// What a git command left.
#[derive(Debug)]
pub struct Output {
    /// Exit code (`None`: killed by a signal).
    pub code: Option<i32>,
    /// Standard output, at most the cap asked for.
    pub stdout: Vec<u8>,
    /// The output was longer than the cap (git was killed).
    pub truncated: bool,
    /// Standard error (at most 64 KiB).
    pub stderr: String,
}

impl Output {
    /// Whether git exited 0.
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }

    /// Standard output as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Standard error, trimmed, or the exit code when it said nothing.
    pub fn error(&self) -> String {
        let msg = self.stderr.trim();
        if msg.is_empty() { format!("git exited with {:?}", self.code) } else { msg.to_owned() }
    }
}

/// Git for one session: how to run it and where.
#[derive(Debug, Clone)]
pub struct Git {
    /// The program and the arguments that run git as the session's identity: `["git"]`, or
    /// a sandbox's argv ending with `git`.
    argv: Vec<String>,
    /// The session's cwd.
    cwd: PathBuf,
    /// `-C TOP` once the repository's top is known, then `-c filter.NAME.clean= …` for
    /// every filter driver the repository's config names.
    filters: Vec<String>,
}

impl Git {
    /// Git run by `argv` (its last element the git program) in `cwd`.
    pub fn new(argv: Vec<String>, cwd: PathBuf) -> Git {
        Git { argv, cwd, filters: Vec::new() }
    }

    /// The session's cwd.
    pub fn cwd(&self) -> &Path {
        &self.cwd
    }

    /// Runs every later command at the repository's top (paths are relative to it).
    pub fn set_top(&mut self, top: &str) {
        self.filters.splice(0..0, ["-C".to_owned(), top.to_owned()]);
    }

    /// The same git, run in `dir` (another worktree of the repository).
    pub fn at(&self, dir: &str) -> Git {
        let mut git = self.clone();
        // after `-C TOP`: `dir` is absolute, so the last `-C` wins
        git.filters.extend(["-C".to_owned(), dir.to_owned()]);
        git
    }

    /// Whether the repository's config defines filter drivers (git-lfs): a checkout or an add
    /// without them would write or store the wrong bytes, so those actions are refused.
    pub fn has_filters(&self) -> bool {
        self.filters.iter().any(|f| f.starts_with("filter."))
    }

    /// Reads which filter drivers the configuration defines, so that every later command
    /// empties them. Reading the configuration runs nothing.
    pub async fn disarm_filters(&mut self) -> Result<()> {
        let out = self.run(&["config", "-z", "--name-only", "--get-regexp", r"^filter\."]).await?;
        let mut names = std::collections::BTreeSet::new();
        for key in out.stdout.split(|b| *b == 0).filter(|k| !k.is_empty()) {
            let key = String::from_utf8_lossy(key);
            if let Some(rest) = key.strip_prefix("filter.")
                && let Some((name, _)) = rest.rsplit_once('.')
            {
                names.insert(name.to_owned());
            }
        }
        let disarm: Vec<String> = names
            .into_iter()
            .flat_map(|n| {
                ["clean", "smudge", "process"]
                    .map(|k| ["-c".to_owned(), format!("filter.{n}.{k}=")])
            })
            .flatten()
            .collect();
        self.filters.extend(disarm);
        Ok(())
    }

    /// Runs `git ARGS`, reading at most 1 MiB of output.
    pub async fn run(&self, args: &[&str]) -> Result<Output> {
        self.run_capped(args, 1 << 20).await
    }

    /// Runs `git ARGS`; output past `cap` bytes is not read and git is killed.
    pub async fn run_capped(&self, args: &[&str], cap: usize) -> Result<Output> {
        self.git(args, cap, TIMEOUT).await
    }

    /// Runs `git ARGS` that talk to a remote (push): [`LONG_TIMEOUT`], 1 MiB of output.
    pub async fn run_long(&self, args: &[&str]) -> Result<Output> {
        self.git(args, 1 << 20, LONG_TIMEOUT).await
    }

    async fn git(&self, args: &[&str], cap: usize, timeout: Duration) -> Result<Output> {
        let mut all: Vec<&str> = HARDENED.to_vec();
        all.extend(self.filters.iter().map(String::as_str));
        all.extend(args);
        run(&self.argv, &self.cwd, &all, cap, timeout).await
    }
}

/// How long a git command that talks to a remote, or gh/glab, may take.
pub const LONG_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs `argv ARGS` in `cwd` (stdin closed, the git variables of the daemon's environment
/// dropped); output past `cap` bytes is not read and the program is killed; killed after
/// `timeout`.
pub async fn run(
    argv: &[String],
    cwd: &Path,
    args: &[&str],
    cap: usize,
    timeout: Duration,
) -> Result<Output> {
    let (program, pre) = argv.split_first().ok_or_else(|| Error::invalid("no program"))?;
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(pre).args(args);
    cmd.current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .envs(NEVER_ASK.iter().copied());
    for key in DROPPED_ENV {
        cmd.env_remove(key);
    }
    let name = argv.last().map(String::as_str).unwrap_or("");
    let mut child = cmd.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            Error::Conflict(format!("cannot run {program}: not installed"))
        }
        _ => Error::io(format!("cannot run {name}"), e),
    })?;
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let work = async {
        let mut out = Vec::new();
        let mut err = Vec::new();
        let read_out = async { (&mut stdout).take(cap as u64 + 1).read_to_end(&mut out).await };
        let read_err = async { (&mut stderr).take(64 << 10).read_to_end(&mut err).await };
        let (a, b) = tokio::join!(read_out, read_err);
        a.and(b).map_err(|e| Error::io(format!("cannot read {name}'s output"), e))?;
        let truncated = out.len() > cap;
        if truncated {
            out.truncate(cap);
            let _ = child.start_kill();
        }
        let status = child.wait().await.map_err(|e| Error::io(format!("{name} failed"), e))?;
        Ok::<_, Error>(Output {
            code: status.code(),
            stdout: out,
            truncated,
            stderr: String::from_utf8_lossy(&err).into_owned(),
        })
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(result) => result,
        Err(_) => Err(Error::Conflict(format!(
            "{name} {} took longer than {} s and was stopped",
            args.iter().find(|a| !a.starts_with('-') && !a.contains('=')).copied().unwrap_or(""),
            timeout.as_secs()
        ))),
    }
}

/// The first `program` on `PATH`, if any.
pub fn find_program(program: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(program)).find(|p| {
        use std::os::unix::fs::PermissionsExt;
        p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

/// Checks a ref name given by a caller: it goes into git's argv, so it must not look like an
/// option, and it must be a plausible revision.
pub fn check_ref(name: &str) -> Result<()> {
    let bad = name.is_empty()
        || name.len() > 200
        || name.starts_with('-')
        || name.chars().any(|c| c.is_control() || c.is_whitespace())
        || name.contains("..")
        || name.contains(':');
    if bad {
        return Err(Error::invalid(format!("{name:?} is not a branch, tag or commit name")));
    }
    Ok(())
}
