//! Review actions on a session's repository (issue 18): commit what is uncommitted, merge the
//! branch into the base, push it, open a pull request, discard what is uncommitted. Never
//! forced: a merge with conflicts is reported and undone, a push is never `--force`.

use llmux_api::{ActionResponse, MergeMode};

use crate::error::{Error, Result};

use super::diff::{self, RepoInfo};
use super::runner::{Git, Output, check_ref};

/// The output of successful runs, joined.
fn said(outs: &[&Output]) -> String {
    let mut text = String::new();
    for o in outs {
        for part in [o.text(), o.stderr.clone()] {
            let part = part.trim();
            if !part.is_empty() {
                text.push_str(part);
                text.push('\n');
            }
        }
    }
    text.trim_end().to_owned()
}

fn failed(what: &str, out: &Output) -> Error {
    Error::Conflict(format!("{what}: {}", out.error()))
}

fn refuse_filters(git: &Git, what: &str) -> Result<()> {
    if git.has_filters() {
        return Err(Error::Conflict(format!(
            "this repository's config defines filter drivers (git-lfs?), which llmux does not \
             run; {what} from a shell, or ask the agent"
        )));
    }
    Ok(())
}

async fn head(git: &Git) -> Result<Option<String>> {
    diff::verify(git, "HEAD").await
}

/// Commits every change (tracked, untracked, staged or not) with `message`; hooks do not run.
pub async fn commit(git: &mut Git, message: &str) -> Result<ActionResponse> {
    diff::open(git).await?;
    refuse_filters(git, "commit")?;
    let add = git.run(&["add", "-A"]).await?;
    if !add.ok() {
        return Err(failed("git add failed", &add));
    }
    let out = git.run(&["commit", "--no-verify", "--no-gpg-sign", "-m", message]).await?;
    if !out.ok() {
        let text = format!("{}{}", out.text(), out.stderr);
        if text.contains("nothing to commit") || text.contains("nothing added to commit") {
            return Err(Error::Conflict("nothing to commit".into()));
        }
        return Err(failed("git commit failed", &out));
    }
    Ok(ActionResponse { ok: true, output: said(&[&out]), commit: head(git).await?, prompt: None })
}

/// The worktree where `branch` is checked out, if any (`git worktree list --porcelain`).
async fn checked_out_at(git: &Git, branch: &str) -> Result<Option<String>> {
    let out = git.run(&["worktree", "list", "--porcelain"]).await?;
    let want = format!("branch refs/heads/{branch}");
    let mut dir = None;
    for line in out.text().lines() {
        if let Some(path) = line.strip_prefix("worktree ") {
            dir = Some(path.to_owned());
        } else if line == want {
            return Ok(dir);
        }
    }
    Ok(None)
}

/// The local branch a base names: `main`, or `origin/main` when a local `main` exists.
async fn local_base(git: &Git, asked: Option<&str>) -> Result<String> {
    let base = match asked {
        Some(b) => {
            check_ref(b)?;
            b.to_owned()
        }
        None => diff::base(git, None).await?.ok_or_else(|| {
            Error::Conflict(
                "no base branch found (no origin/HEAD, main, master or upstream); name one".into(),
            )
        })?,
    };
    let mut candidates = vec![base.clone()];
    if let Some((_, rest)) = base.split_once('/') {
        candidates.push(rest.to_owned());
    }
    for c in candidates {
        if diff::verify(git, &format!("refs/heads/{c}")).await?.is_some() {
            return Ok(c);
        }
    }
    Err(Error::invalid(format!("{base:?} is not a local branch to merge into")))
}

/// Merges the session's branch into the base: a fast-forward or a merge commit, made in the
/// worktree where the base is checked out (which must be clean) or, where it is checked out
/// nowhere, without a checkout (`merge-tree`, `commit-tree`, `update-ref` with the old value).
/// Conflicts are reported and nothing is changed.
pub async fn merge(git: &mut Git, asked: Option<&str>, mode: MergeMode) -> Result<ActionResponse> {
    let repo: RepoInfo = diff::open(git).await?;
    let branch = repo.branch.ok_or_else(|| {
        Error::Conflict("the session is on a detached HEAD: no branch to merge".into())
    })?;
    let tip = repo.head.ok_or_else(|| Error::Conflict("the branch has no commit yet".into()))?;
    let base = local_base(git, asked).await?;
    if base == branch {
        return Err(Error::Conflict(format!("the session is on {base} itself: nothing to merge")));
    }
    let base_ref = format!("refs/heads/{base}");
    let old = diff::verify(git, &base_ref).await?.expect("checked");
    let ancestor = git.run(&["merge-base", "--is-ancestor", &old, &tip]).await?.ok();
    let up_to_date = git.run(&["merge-base", "--is-ancestor", &tip, &old]).await?.ok();
    if up_to_date {
        return Err(Error::Conflict(format!("{base} already has every commit of {branch}")));
    }
    let ff = ancestor && mode != MergeMode::MergeCommit;
    if !ancestor && mode == MergeMode::FfOnly {
        return Err(Error::Conflict(format!(
            "{base} has commits {branch} has not: no fast-forward; merge with a merge commit or \
             rebase {branch} first"
        )));
    }
    let message = format!("Merge branch '{branch}' into {base}");
    if let Some(dir) = checked_out_at(git, &base).await? {
        refuse_filters(git, "merge")?;
        let there = git.at(&dir);
        let dirty = there.run(&["status", "--porcelain", "--untracked-files=no"]).await?;
        if !dirty.ok() || !dirty.stdout.is_empty() {
            return Err(Error::Conflict(format!(
                "{base} is checked out in {dir} with uncommitted changes: commit or stash them first"
            )));
        }
        let how = if ff { "--ff-only" } else { "--no-ff" };
        let out =
            there.run(&["merge", how, "--no-verify", "--no-edit", "-m", &message, &tip]).await?;
        if !out.ok() {
            let conflicts = there.run(&["diff", "--name-only", "--diff-filter=U"]).await?;
            let files: Vec<String> = conflicts.text().lines().map(str::to_owned).collect();
            let _ = there.run(&["merge", "--abort"]).await;
            if files.is_empty() {
                return Err(failed("git merge failed", &out));
            }
            return Err(conflict(&branch, &base, &files));
        }
        return Ok(ActionResponse {
            ok: true,
            output: said(&[&out]),
            commit: diff::verify(git, &base_ref).await?,
            prompt: None,
        });
    }
    let new = if ff {
        tip.clone()
    } else {
        let out = git
            .run(&["merge-tree", "--write-tree", "--name-only", "--no-messages", &old, &tip])
            .await?;
        let text = out.text();
        let mut lines = text.lines();
        let tree = lines.next().unwrap_or("").to_owned();
        match out.code {
            Some(0) => {}
            Some(1) => {
                let files: Vec<String> =
                    lines.filter(|l| !l.is_empty()).map(str::to_owned).collect();
                return Err(conflict(&branch, &base, &files));
            }
            _ => return Err(failed("git merge-tree failed", &out)),
        }
        let made = git
            .run(&["commit-tree", "--no-gpg-sign", &tree, "-p", &old, "-p", &tip, "-m", &message])
            .await?;
        if !made.ok() {
            return Err(failed("git commit-tree failed", &made));
        }
        made.text().trim().to_owned()
    };
    let msg = format!("llmux review: {message}");
    let out = git.run(&["update-ref", "-m", &msg, &base_ref, &new, &old]).await?;
    if !out.ok() {
        return Err(failed("git update-ref failed (did the base move?)", &out));
    }
    let how = if ff { "fast-forward" } else { "merge commit" };
    Ok(ActionResponse {
        ok: true,
        output: format!(
            "{base}: {} → {} ({how})",
            &old[..12.min(old.len())],
            &new[..12.min(new.len())]
        ),
        commit: Some(new),
        prompt: None,
    })
}

fn conflict(branch: &str, base: &str, files: &[String]) -> Error {
    Error::Conflict(format!(
        "merging {branch} into {base} conflicts in {}: nothing was merged; resolve it in the \
         branch (ask the agent to merge {base} in) and try again",
        files.join(", ")
    ))
}

/// Pushes the session's branch to its remote (its upstream's, else `origin`), setting the
/// upstream; never forced.
pub async fn push(git: &mut Git) -> Result<ActionResponse> {
    let repo = diff::open(git).await?;
    let branch =
        repo.branch.ok_or_else(|| Error::Conflict("detached HEAD: no branch to push".into()))?;
    let key = format!("branch.{branch}.remote");
    let remote = git.run(&["config", "--get", &key]).await?;
    let remote = if remote.ok() { remote.text().trim().to_owned() } else { "origin".to_owned() };
    check_ref(&remote)?;
    let spec = format!("refs/heads/{branch}:refs/heads/{branch}");
    let out = git.run_long(&["push", "--porcelain", "-u", &remote, &spec]).await?;
    if !out.ok() {
        return Err(failed(&format!("git push to {remote} failed"), &out));
    }
    Ok(ActionResponse { ok: true, output: said(&[&out]), commit: repo.head, prompt: None })
}

/// Throws away every uncommitted change and untracked (not ignored) file.
pub async fn discard(git: &mut Git) -> Result<ActionResponse> {
    diff::open(git).await?;
    refuse_filters(git, "discard")?;
    let reset = git.run(&["reset", "--hard", "-q", "HEAD"]).await?;
    if !reset.ok() {
        return Err(failed("git reset failed", &reset));
    }
    let clean = git.run(&["clean", "-fd"]).await?;
    if !clean.ok() {
        return Err(failed("git clean failed", &clean));
    }
    Ok(ActionResponse { ok: true, output: said(&[&reset, &clean]), commit: None, prompt: None })
}

/// Opens a pull request (GitHub, `gh`) or merge request (GitLab, `glab`) for the session's
/// branch into the base; `tool` is the program's argv as the session's identity, its last
/// element `gh` or `glab`. Refused when it is not signed in; its output is returned.
pub async fn pull_request(
    git: &mut Git,
    tool: Vec<String>,
    asked: Option<&str>,
) -> Result<ActionResponse> {
    let repo = diff::open(git).await?;
    let branch = repo.branch.ok_or_else(|| Error::Conflict("detached HEAD: no branch".into()))?;
    let base = local_base(git, asked).await?;
    let name = tool.last().cloned().unwrap_or_default();
    let cwd = git.cwd().to_owned();
    let long = super::runner::LONG_TIMEOUT;
    let status = super::runner::run(&tool, &cwd, &["auth", "status"], 1 << 16, long).await?;
    if !status.ok() {
        return Err(Error::Conflict(format!("{name} is not signed in: {}", status.error())));
    }
    let args: Vec<&str> = if name == "glab" {
        vec![
            "mr",
            "create",
            "--fill",
            "--yes",
            "--target-branch",
            &base,
            "--source-branch",
            &branch,
        ]
    } else {
        vec!["pr", "create", "--fill", "--base", &base, "--head", &branch]
    };
    let out = super::runner::run(&tool, &cwd, &args, 1 << 20, long).await?;
    if !out.ok() {
        return Err(failed(&format!("{name} failed"), &out));
    }
    Ok(ActionResponse { ok: true, output: said(&[&out]), commit: None, prompt: None })
}
