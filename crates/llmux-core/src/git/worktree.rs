//! The git commands of session worktrees, and the [`Runner`] they run through.
//!
//! Every command is an argv (never a shell line built from input). Branch names and revisions
//! that reach git are checked first ([`check_branch`], [`check_rev`]): none starts with `-`,
//! so none is read as an option.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};

/// How long one git command may take.
pub const GIT_TIMEOUT: Duration = Duration::from_secs(60);
/// How much of a setup command's output is kept (its end).
pub const KEPT_OUTPUT: usize = 64 * 1024;

/// Turns an argv into the argv that runs it as the session's identity, in its confinement,
/// in `cwd` (the sandbox's `--chdir`, or nothing more), with the given variables added to the
/// environment it gets.
pub type Wrapper =
    Arc<dyn Fn(&Path, Vec<String>, &[(&str, &str)]) -> Result<Vec<String>> + Send + Sync>;

/// Runs commands as one session owner: directly (the daemon's user), or through a wrapper
/// (the sandbox, `setpriv` to a Unix account), which gives the command its environment.
#[derive(Clone)]
pub struct Runner {
    wrap: Option<Wrapper>,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner").field("wrapped", &self.wrap.is_some()).finish()
    }
}

/// What a command did.
#[derive(Debug, Clone, Default)]
pub struct Output {
    /// Whether it exited with status 0.
    pub ok: bool,
    /// Standard output (or, for [`Runner::run_merged`], both streams in order).
    pub stdout: String,
    /// Standard error (empty for [`Runner::run_merged`]).
    pub stderr: String,
}

/// How a worktree stands against its base.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorktreeStatus {
    /// Commits on the branch not in the base.
    pub ahead: u32,
    /// Commits in the base not on the branch.
    pub behind: u32,
    /// Uncommitted changes, untracked files included.
    pub dirty: bool,
}

impl Runner {
    /// Runs as the daemon's own user, with its environment.
    pub fn direct() -> Runner {
        Runner { wrap: None }
    }

    /// Runs every argv through `wrap`.
    pub fn wrapped(wrap: Wrapper) -> Runner {
        Runner { wrap: Some(wrap) }
    }

    fn command(&self, cwd: &Path, argv: Vec<String>) -> Result<tokio::process::Command> {
        // Never wait for a password or an editor.
        const NEVER_ASK: &[(&str, &str)] = &[("GIT_TERMINAL_PROMPT", "0"), ("GIT_EDITOR", "true")];
        let argv = match &self.wrap {
            Some(wrap) => wrap(cwd, argv, NEVER_ASK)?,
            None => argv,
        };
        let (program, args) = argv.split_first().ok_or_else(|| Error::invalid("empty command"))?;
        let mut cmd = tokio::process::Command::new(program);
        cmd.args(args).current_dir(cwd).stdin(Stdio::null()).kill_on_drop(true);
        if self.wrap.is_none() {
            cmd.envs(NEVER_ASK.iter().copied());
        }
        Ok(cmd)
    }

    /// Runs `argv` in `cwd`, stdout and stderr apart; killed after `timeout`.
    pub async fn run(&self, cwd: &Path, argv: Vec<String>, timeout: Duration) -> Result<Output> {
        let mut cmd = self.command(cwd, argv)?;
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let child = cmd.spawn().map_err(|e| Error::io("cannot run git", e))?;
        let out = tokio::time::timeout(timeout, child.wait_with_output())
            .await
            .map_err(|_| Error::Conflict(format!("git took longer than {timeout:?}")))?
            .map_err(|e| Error::io("cannot run git", e))?;
        Ok(Output {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    /// Runs `argv` in `cwd` with stdout and stderr into one pipe (the order they were
    /// written), keeping the last [`KEPT_OUTPUT`] bytes; killed after `timeout`.
    pub async fn run_merged(
        &self,
        cwd: &Path,
        argv: Vec<String>,
        timeout: Duration,
    ) -> Result<Output> {
        let mut cmd = self.command(cwd, argv)?;
        let (mut reader, writer) =
            std::io::pipe().map_err(|e| Error::io("cannot make a pipe", e))?;
        let writer2 = writer.try_clone().map_err(|e| Error::io("cannot make a pipe", e))?;
        cmd.stdout(writer).stderr(writer2);
        let mut child = cmd.spawn().map_err(|e| Error::io("cannot run the setup command", e))?;
        // The command holds the pipe's write ends: drop ours so the read ends with the child.
        drop(cmd);
        let read = tokio::task::spawn_blocking(move || {
            use std::io::Read;
            let mut kept: Vec<u8> = Vec::new();
            let mut buf = [0u8; 8192];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        kept.extend_from_slice(&buf[..n]);
                        if kept.len() > 2 * KEPT_OUTPUT {
                            kept.drain(..kept.len() - KEPT_OUTPUT);
                        }
                    }
                }
            }
            if kept.len() > KEPT_OUTPUT {
                kept.drain(..kept.len() - KEPT_OUTPUT);
            }
            String::from_utf8_lossy(&kept).into_owned()
        });
        let status = match tokio::time::timeout(timeout, child.wait()).await {
            Ok(status) => status.map_err(|e| Error::io("cannot run the setup command", e))?,
            Err(_) => {
                let _ = child.kill().await;
                let mut text = read.await.unwrap_or_default();
                text.push_str(&format!("\n[llmux: stopped after {timeout:?}]\n"));
                return Ok(Output { ok: false, stdout: text, stderr: String::new() });
            }
        };
        let text = read.await.unwrap_or_default();
        Ok(Output { ok: status.success(), stdout: text, stderr: String::new() })
    }

    /// Runs `git ARGS` in `cwd`; its stdout (trimmed) when it succeeds, else an error with
    /// what git said.
    pub async fn git(&self, cwd: &Path, args: &[&str]) -> Result<String> {
        let out = self.git_out(cwd, args).await?;
        if out.ok {
            return Ok(out.stdout.trim().to_owned());
        }
        Err(Error::Conflict(format!("git {}: {}", args.first().unwrap_or(&""), out.stderr.trim())))
    }

    /// Runs `git ARGS` in `cwd`, whatever its exit status.
    pub async fn git_out(&self, cwd: &Path, args: &[&str]) -> Result<Output> {
        let argv = std::iter::once("git").chain(args.iter().copied()).map(str::to_owned).collect();
        self.run(cwd, argv, GIT_TIMEOUT).await
    }
}

/// Refuses a branch name git would not take (or would read as an option).
pub fn check_branch(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 200
        && !name.starts_with('-')
        && !name.starts_with('/')
        && !name.ends_with('/')
        && !name.ends_with(".lock")
        && !name.ends_with('.')
        && name != "@"
        && !name.contains("..")
        && !name.contains("@{")
        && !name.contains("//")
        && name.split('/').all(|p| !p.starts_with('.'))
        && name.chars().all(|c| !c.is_control() && !" ~^:?*[\\".contains(c));
    if ok { Ok(()) } else { Err(Error::invalid(format!("{name:?} is not a valid branch name"))) }
}

/// Refuses a revision that could be read as an option or is not a plain name.
pub fn check_rev(rev: &str) -> Result<()> {
    let ok = !rev.is_empty()
        && rev.len() <= 200
        && !rev.starts_with('-')
        && rev.chars().all(|c| !c.is_control() && c != ' ' && c != ':');
    if ok { Ok(()) } else { Err(Error::invalid(format!("{rev:?} is not a valid git revision"))) }
}

/// The top-level directory of the repository `cwd` is in.
pub async fn toplevel(run: &Runner, cwd: &Path) -> Result<PathBuf> {
    let out = run.git_out(cwd, &["rev-parse", "--show-toplevel"]).await?;
    if !out.ok {
        return Err(Error::invalid(format!(
            "{} is not inside a git repository, so it cannot have a worktree",
            cwd.display()
        )));
    }
    Ok(PathBuf::from(out.stdout.trim()))
}

/// What new branches start from by default: the current branch's name, else HEAD's commit.
pub async fn current_head(run: &Runner, top: &Path) -> Result<String> {
    let out = run.git_out(top, &["symbolic-ref", "--quiet", "--short", "HEAD"]).await?;
    if out.ok && !out.stdout.trim().is_empty() {
        return Ok(out.stdout.trim().to_owned());
    }
    run.git(top, &["rev-parse", "--verify", "HEAD"]).await.map_err(|_| {
        Error::invalid("the repository has no commit yet: a worktree needs one to start from")
    })
}

/// Checks that `rev` names a commit.
pub async fn verify_commit(run: &Runner, top: &Path, rev: &str) -> Result<()> {
    check_rev(rev)?;
    let spec = format!("{rev}^{{commit}}");
    let out =
        run.git_out(top, &["rev-parse", "--verify", "--quiet", "--end-of-options", &spec]).await?;
    if out.ok { Ok(()) } else { Err(Error::invalid(format!("base {rev:?} is not a commit here"))) }
}

/// Whether a local branch `name` exists.
pub async fn branch_exists(run: &Runner, top: &Path, name: &str) -> Result<bool> {
    let r = format!("refs/heads/{name}");
    Ok(run.git_out(top, &["show-ref", "--verify", "--quiet", &r]).await?.ok)
}

/// Makes the worktree at `path`: on a new branch from `base`, or on the existing `branch`.
pub async fn add(
    run: &Runner,
    top: &Path,
    path: &Path,
    branch: &str,
    base: &str,
    new_branch: bool,
) -> Result<()> {
    let path = path.to_string_lossy();
    let args: Vec<&str> = if new_branch {
        vec!["worktree", "add", "-b", branch, "--", &path, base]
    } else {
        vec!["worktree", "add", "--", &path, branch]
    };
    run.git(top, &args).await.map(drop)
}

/// Keeps `.worktrees/` out of git: `/.worktrees/` in the repository's `info/exclude` (once).
pub async fn exclude_worktrees_dir(run: &Runner, top: &Path) -> Result<()> {
    let exclude = run
        .git(top, &["rev-parse", "--path-format=absolute", "--git-path", "info/exclude"])
        .await?;
    // A fixed script: the path is its argument, never part of the script.
    let script = "mkdir -p -- \"$(dirname -- \"$1\")\" && \
                  { grep -qxF /.worktrees/ -- \"$1\" 2>/dev/null || printf '%s\\n' /.worktrees/ >> \"$1\"; }";
    let argv = ["sh", "-c", script, "sh", &exclude].map(str::to_owned).to_vec();
    let out = run.run(top, argv, GIT_TIMEOUT).await?;
    if out.ok {
        Ok(())
    } else {
        Err(Error::Conflict(format!("cannot add /.worktrees/ to {exclude}: {}", out.stderr.trim())))
    }
}

/// Creates `dir` and its parents (as the runner's identity).
pub async fn mkdir_p(run: &Runner, cwd: &Path, dir: &Path) -> Result<()> {
    let argv = vec!["mkdir".into(), "-p".into(), "--".into(), dir.to_string_lossy().into_owned()];
    let out = run.run(cwd, argv, GIT_TIMEOUT).await?;
    if out.ok {
        Ok(())
    } else {
        Err(Error::Conflict(format!("cannot create {}: {}", dir.display(), out.stderr.trim())))
    }
}

/// Copies the (checked, relative) `files` from `top` into the worktree at `dest`, keeping
/// their relative paths; symlinks are copied as links, never followed.
pub async fn copy_files(run: &Runner, top: &Path, dest: &Path, files: &[PathBuf]) -> Result<()> {
    if files.is_empty() {
        return Ok(());
    }
    let mut argv: Vec<String> = ["cp", "-R", "-P", "--parents", "--"].map(str::to_owned).to_vec();
    argv.extend(files.iter().map(|f| f.to_string_lossy().into_owned()));
    argv.push(dest.to_string_lossy().into_owned());
    let out = run.run(top, argv, GIT_TIMEOUT).await?;
    if out.ok {
        Ok(())
    } else {
        Err(Error::Conflict(format!("cannot copy files into the worktree: {}", out.stderr.trim())))
    }
}

/// Removes the worktree at `path` (`force`: with its uncommitted changes).
pub async fn remove(run: &Runner, top: &Path, path: &Path, force: bool) -> Result<()> {
    let path = path.to_string_lossy();
    let mut args = vec!["worktree", "remove"];
    if force {
        args.push("--force");
    }
    args.extend(["--", &path]);
    run.git(top, &args).await.map(drop)
}

/// Deletes branch `name`: only when merged into HEAD or its upstream unless `force`.
pub async fn delete_branch(run: &Runner, top: &Path, name: &str, force: bool) -> Result<()> {
    check_branch(name)?;
    run.git(top, &["branch", if force { "-D" } else { "-d" }, name]).await.map(drop)
}

/// Moves the worktree at `from` to `to`.
pub async fn move_to(run: &Runner, top: &Path, from: &Path, to: &Path) -> Result<()> {
    let (from, to) = (from.to_string_lossy(), to.to_string_lossy());
    run.git(top, &["worktree", "move", "--", &from, &to]).await.map(drop)
}

/// Forgets worktrees whose directories are gone.
pub async fn prune(run: &Runner, top: &Path) -> Result<()> {
    run.git(top, &["worktree", "prune"]).await.map(drop)
}

/// Ahead/behind against `base` and whether the worktree at `path` is dirty.
pub async fn status(run: &Runner, path: &Path, base: &str) -> Result<WorktreeStatus> {
    check_rev(base)?;
    let dirty = run.git(path, &["status", "--porcelain", "--untracked-files=normal"]).await?;
    let range = format!("{base}...HEAD");
    let counts = run.git(path, &["rev-list", "--left-right", "--count", &range, "--"]).await?;
    let (behind, ahead) = parse_left_right(&counts)
        .ok_or_else(|| Error::Conflict(format!("git rev-list said {counts:?}")))?;
    Ok(WorktreeStatus { ahead, behind, dirty: !dirty.is_empty() })
}

/// How many commits of `branch` are not in `base` (0: fully merged).
pub async fn unmerged(run: &Runner, top: &Path, branch: &str, base: &str) -> Result<u32> {
    check_branch(branch)?;
    check_rev(base)?;
    let range = format!("{base}..refs/heads/{branch}");
    let n = run.git(top, &["rev-list", "--count", &range, "--"]).await?;
    n.parse().map_err(|_| Error::Conflict(format!("git rev-list said {n:?}")))
}

/// `"3\t1"` → `(3, 1)`.
fn parse_left_right(text: &str) -> Option<(u32, u32)> {
    let mut parts = text.split_whitespace().map(str::parse::<u32>);
    Some((parts.next()?.ok()?, parts.next()?.ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_could_be_options_are_refused() {
        for bad in ["-b", "--force", "a..b", "x y", "a:b", ".hidden", "a/.b", "x.lock", ""] {
            assert!(check_branch(bad).is_err(), "{bad:?} accepted");
        }
        for good in ["fix", "feature/login-2", "wt_A.1"] {
            check_branch(good).unwrap();
        }
        assert!(check_rev("--upload-pack=x").is_err());
        check_rev("origin/main").unwrap();
        check_rev("HEAD~2").unwrap();
    }

    #[test]
    fn left_right_counts() {
        assert_eq!(parse_left_right("3\t1\n"), Some((3, 1)));
        assert_eq!(parse_left_right("x"), None);
    }
}
