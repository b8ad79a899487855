//! The diff of what a session's agent changed (issue 18, review).
//!
//! Ranges ([`DiffRange`]): `all` compares the merge-base of HEAD and the base with the working
//! tree (commits since the base, staged and unstaged changes) and adds untracked files;
//! `staged` is the index against HEAD; `uncommitted` the working tree against HEAD, untracked
//! files included; `commits` HEAD against the merge-base. The base is the caller's, else the
//! repository's default branch (`origin/HEAD`, else a local `main` or `master`), else the
//! branch's upstream; with none, HEAD.
//!
//! Limits: at most [`MAX_BYTES`] of patch are read, [`MAX_FILES`] files listed,
//! [`MAX_UNTRACKED`] untracked files diffed and [`MAX_LINES`] lines returned; a file with more
//! than [`LARGE_FILE_LINES`] changed lines, a lock file or one marked `linguist-generated`
//! comes without its hunks (`collapsed`), which asking for that file alone (`path`) shows.

use llmux_api::{Collapsed, DiffFile, DiffQuery, DiffRange, DiffResponse, FileStatus};

use crate::error::{Error, Result};

use super::patch;
use super::runner::{Git, check_ref};

/// Most patch bytes read from git.
pub const MAX_BYTES: usize = 16 << 20;
/// Most files listed.
pub const MAX_FILES: usize = 2000;
/// Most untracked files diffed (each is one git run).
pub const MAX_UNTRACKED: usize = 200;
/// A file with more changed lines than this is collapsed.
pub const LARGE_FILE_LINES: u32 = 3000;
/// Most hunk lines returned in one diff; later files are collapsed (`limit`).
pub const MAX_LINES: usize = 40_000;

/// git's empty tree: what an unborn branch is compared with.
const EMPTY_TREE: &str = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";

/// Files whose diff nobody reads: collapsed like generated ones.
const LOCK_FILES: [&str; 12] = [
    "Cargo.lock",
    "package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "bun.lockb",
    "go.sum",
    "poetry.lock",
    "Pipfile.lock",
    "composer.lock",
    "Gemfile.lock",
    "uv.lock",
];

/// Options common to every diff run.
const DIFF_OPTS: [&str; 7] = [
    "--no-ext-diff",
    "--no-textconv",
    "--no-color",
    "-M",
    "--src-prefix=a/",
    "--dst-prefix=b/",
    "--submodule=short",
];

/// Where the repository is and what the diff is against.
#[derive(Debug, Clone)]
pub struct RepoInfo {
    /// The repository's top directory.
    pub root: String,
    /// The checked-out branch.
    pub branch: Option<String>,
    /// HEAD's commit (`None`: unborn branch).
    pub head: Option<String>,
}

/// Finds the repository around the git's cwd and points every later run at its top.
pub async fn open(git: &mut Git) -> Result<RepoInfo> {
    let top = git.run(&["rev-parse", "--show-toplevel"]).await?;
    if !top.ok() {
        return Err(Error::Conflict(format!(
            "{} is not inside a git repository",
            git.cwd().display()
        )));
    }
    let root = top.text().trim_end_matches('\n').to_owned();
    git.set_top(&root);
    git.disarm_filters().await?;
    let branch = git.run(&["symbolic-ref", "--quiet", "--short", "HEAD"]).await?;
    let branch = branch.ok().then(|| branch.text().trim().to_owned());
    let head = verify(git, "HEAD").await?;
    Ok(RepoInfo { root, branch, head })
}

/// The commit `rev` names, if any.
pub async fn verify(git: &Git, rev: &str) -> Result<Option<String>> {
    let spec = format!("{rev}^{{commit}}");
    let out = git.run(&["rev-parse", "--verify", "--quiet", "--end-of-options", &spec]).await?;
    Ok(out.ok().then(|| out.text().trim().to_owned()))
}

/// The base to compare with: `asked` (checked), else the default branch, else the upstream.
pub async fn base(git: &Git, asked: Option<&str>) -> Result<Option<String>> {
    if let Some(name) = asked {
        check_ref(name)?;
        return match verify(git, name).await? {
            Some(_) => Ok(Some(name.to_owned())),
            None => Err(Error::invalid(format!("no branch, tag or commit named {name:?}"))),
        };
    }
    let origin =
        git.run(&["symbolic-ref", "--quiet", "--short", "refs/remotes/origin/HEAD"]).await?;
    if origin.ok() {
        return Ok(Some(origin.text().trim().to_owned()));
    }
    for name in ["main", "master"] {
        if verify(git, &format!("refs/heads/{name}")).await?.is_some() {
            return Ok(Some(name.to_owned()));
        }
    }
    let up = git.run(&["rev-parse", "--abbrev-ref", "--symbolic-full-name", "@{upstream}"]).await?;
    Ok(up.ok().then(|| up.text().trim().to_owned()).filter(|u| !u.is_empty()))
}

/// The diff `query` asks for, in the repository around `git`'s cwd. The response's `name`
/// is left empty for the caller to fill in.
pub async fn diff(git: &mut Git, query: &DiffQuery) -> Result<DiffResponse> {
    let repo = open(git).await?;
    let range = query.range.unwrap_or_default();
    let path = match query.path.as_deref() {
        Some(p) if p.is_empty() || p.len() > 4096 || p.contains('\0') => {
            return Err(Error::invalid("path must be a file path of the repository"));
        }
        p => p,
    };
    let wants_base = matches!(range, DiffRange::All | DiffRange::Commits);
    let base = if wants_base { base(git, query.base.as_deref()).await? } else { None };
    let merge_base = match (&base, &repo.head) {
        (Some(b), Some(_)) => {
            let out = git.run(&["merge-base", "--end-of-options", b, "HEAD"]).await?;
            out.ok().then(|| out.text().trim().to_owned())
        }
        _ => None,
    };
    let head = repo.head.as_deref();
    let from = merge_base.as_deref().or(head).unwrap_or(EMPTY_TREE).to_owned();
    let unified = format!("--unified={}", query.context.unwrap_or(3).min(1_000_000));
    let mut args: Vec<&str> = vec!["diff", &unified];
    args.extend(DIFF_OPTS);
    match range {
        DiffRange::All | DiffRange::Uncommitted => {
            let from =
                if range == DiffRange::All { from.as_str() } else { head.unwrap_or(EMPTY_TREE) };
            args.extend(["--end-of-options", from]);
        }
        DiffRange::Staged => {
            args.extend(["--cached", "--end-of-options", head.unwrap_or(EMPTY_TREE)])
        }
        DiffRange::Commits => {
            args.extend(["--end-of-options", from.as_str(), head.unwrap_or(EMPTY_TREE)])
        }
    }
    let literal = path.map(|p| format!(":(literal){p}"));
    args.push("--");
    args.extend(literal.as_deref());
    let out = git.run_capped(&args, MAX_BYTES).await?;
    if !out.ok() && !out.truncated {
        return Err(Error::Conflict(format!("git diff failed: {}", out.error())));
    }
    let mut truncated = out.truncated;
    let mut files = patch::parse(&String::from_utf8_lossy(&out.stdout));
    if truncated && let Some(last) = files.last_mut() {
        last.hunks.clear();
        last.collapsed = Some(Collapsed::Limit);
    }
    if matches!(range, DiffRange::All | DiffRange::Uncommitted) && !truncated {
        truncated |= untracked(git, literal.as_deref(), &mut files).await?;
    }
    if files.len() > MAX_FILES {
        files.truncate(MAX_FILES);
        truncated = true;
    }
    if path.is_none() {
        let generated = generated(git, &files).await?;
        truncated |= collapse(&mut files, &generated, query.stat);
    }
    let additions = files.iter().map(|f| f.additions).sum();
    let deletions = files.iter().map(|f| f.deletions).sum();
    Ok(DiffResponse {
        name: String::new(),
        root: repo.root,
        branch: repo.branch,
        base: if wants_base { base } else { None },
        merge_base: if wants_base { merge_base } else { None },
        range,
        files,
        additions,
        deletions,
        truncated,
    })
}

/// Adds the untracked files (as added ones); whether some were left out.
async fn untracked(git: &Git, literal: Option<&str>, files: &mut Vec<DiffFile>) -> Result<bool> {
    let mut args = vec!["ls-files", "-z", "--others", "--exclude-standard", "--"];
    args.extend(literal);
    let out = git.run_capped(&args, 4 << 20).await?;
    if !out.ok() {
        return Ok(false);
    }
    let names: Vec<String> = out
        .stdout
        .split(|b| *b == 0)
        .filter(|n| !n.is_empty() && !n.ends_with(b"/"))
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .collect();
    let left_out = names.len() > MAX_UNTRACKED || out.truncated;
    let mut budget = MAX_BYTES;
    for name in names.into_iter().take(MAX_UNTRACKED) {
        let mut args = vec!["diff", "--no-index"];
        args.extend(DIFF_OPTS);
        args.extend(["--", "/dev/null", name.as_str()]);
        let out = git.run_capped(&args, budget).await?;
        budget = budget.saturating_sub(out.stdout.len());
        for mut file in patch::parse(&String::from_utf8_lossy(&out.stdout)) {
            file.untracked = true;
            file.status = FileStatus::Added;
            file.path.clone_from(&name);
            file.old_path = None;
            if out.truncated {
                file.hunks.clear();
                file.collapsed = Some(Collapsed::Limit);
            }
            files.push(file);
        }
        if budget == 0 {
            return Ok(true);
        }
    }
    Ok(left_out)
}

/// The paths marked `linguist-generated` (read with `check-attr`, which runs nothing).
async fn generated(git: &Git, files: &[DiffFile]) -> Result<std::collections::HashSet<String>> {
    let mut found = std::collections::HashSet::new();
    for chunk in files.chunks(200) {
        let mut args = vec!["check-attr", "-z", "linguist-generated", "--"];
        args.extend(chunk.iter().map(|f| f.path.as_str()));
        let out = git.run(&args).await?;
        let fields: Vec<&[u8]> = out.stdout.split(|b| *b == 0).collect();
        for triple in fields.chunks(3) {
            if let [path, _, value] = triple
                && matches!(*value, b"set" | b"true")
            {
                found.insert(String::from_utf8_lossy(path).into_owned());
            }
        }
    }
    Ok(found)
}

/// Drops the hunks of generated, large and over-the-limit files (all of them with `stat`);
/// whether the limit was reached.
fn collapse(
    files: &mut [DiffFile],
    generated: &std::collections::HashSet<String>,
    stat: bool,
) -> bool {
    let mut lines = 0usize;
    let mut limited = false;
    for file in files.iter_mut() {
        if file.hunks.is_empty() {
            continue;
        }
        let name = file.path.rsplit('/').next().unwrap_or(&file.path);
        let reason = if generated.contains(&file.path) || LOCK_FILES.contains(&name) {
            Some(Collapsed::Generated)
        } else if file.additions + file.deletions > LARGE_FILE_LINES {
            Some(Collapsed::Large)
        } else {
            let n: usize = file.hunks.iter().map(|h| h.lines.len()).sum();
            if lines + n > MAX_LINES {
                limited = true;
                Some(Collapsed::Limit)
            } else {
                lines += n;
                None
            }
        };
        if stat || reason.is_some() {
            file.hunks = Vec::new();
            file.collapsed = reason;
        }
    }
    limited
}
