//! Session worktrees (issue 18): made at create, moved at rename, removed with the session,
//! and their ahead/behind/dirty read in the background for the session views.
//!
//! Every git command and the setup command run through the owner's [`Runner`] (their
//! identity, their sandbox), and a confined owner's repository and worktree location must
//! both lie inside their granted roots. Locks: `worktrees` (records) and `status` (the cache)
//! are each held only inside one method and never while another service lock is taken.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use llmux_api::{BranchChoice, SessionStatus, SessionView, WorktreeRequest, WorktreeView};

use super::{SessionEdit, SessionService};
use crate::error::{Error, Result};
use crate::git::worktree::{self as wt, WorktreeStatus};
use crate::git::{RepoSettings, Runner, WorktreeLocation};
use crate::store::{SessionRecord, WorktreeRecord};
use crate::time::{now_ms, rfc3339_ms};

/// How long a worktree's ahead/behind/dirty is shown before it is read again (when the
/// session list is next built).
const FRESH: Duration = Duration::from_secs(5);
/// How long a setup command may run.
const SETUP_TIMEOUT: Duration = Duration::from_secs(600);
/// The largest `.llmux.yaml` read.
const MAX_REPO_FILE: u64 = 64 * 1024;

/// The worktree records and the status cache.
#[derive(Debug, Default)]
pub(super) struct Worktrees {
    records: RwLock<HashMap<String, WorktreeRecord>>,
    status: Mutex<HashMap<String, Cached>>,
    /// When [`Worktrees::claim_stale`] looks again, for the refresher's tick and for looks
    /// (each at most once a second: it is called on every list request).
    next_look: Mutex<[Option<Instant>; 2]>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Cached {
    status: Option<WorktreeStatus>,
    checked_ms: i64,
    claimed: Option<Instant>,
}

impl Worktrees {
    pub(super) fn load(records: Vec<WorktreeRecord>) -> Worktrees {
        let records = records.into_iter().map(|w| (w.name.clone(), w)).collect();
        Worktrees { records: RwLock::new(records), ..Default::default() }
    }

    pub(super) fn get(&self, name: &str) -> Option<WorktreeRecord> {
        self.records.read().expect("worktrees lock").get(name).cloned()
    }

    fn put(&self, w: WorktreeRecord) {
        self.records.write().expect("worktrees lock").insert(w.name.clone(), w);
    }

    pub(super) fn forget(&self, name: &str) {
        self.records.write().expect("worktrees lock").remove(name);
        self.status.lock().expect("status lock").remove(name);
    }

    fn rename(&self, old: &str, new: WorktreeRecord) {
        self.records.write().expect("worktrees lock").remove(old);
        let cached = self.status.lock().expect("status lock").remove(old);
        if let Some(c) = cached {
            self.status.lock().expect("status lock").insert(new.name.clone(), c);
        }
        self.put(new);
    }

    /// Follows a rename the store already made (its row cascaded with the session's name);
    /// the path stays where it is.
    pub(super) fn renamed_in_store(&self, old: &str, new: &str) {
        if let Some(w) = self.get(old) {
            self.rename(old, WorktreeRecord { name: new.to_owned(), ..w });
        }
    }

    /// The view of `name`'s worktree, with the last status read; `setup` adds its output.
    pub(super) fn view(&self, name: &str, setup: bool) -> Option<WorktreeView> {
        let w = self.get(name)?;
        let cached = self.status.lock().expect("status lock").get(name).copied();
        let status = cached.and_then(|c| c.status);
        Some(WorktreeView {
            repo: w.repo,
            path: w.path,
            branch: w.branch,
            base: w.base,
            created_branch: w.created_branch,
            ahead: status.map(|s| s.ahead),
            behind: status.map(|s| s.behind),
            dirty: status.map(|s| s.dirty),
            checked_at: status.and(cached).map(|c| rfc3339_ms(c.checked_ms)),
            setup_output: w.setup_output.filter(|_| setup),
        })
    }

    /// The worktrees (of those `wanted`) whose status is older than [`FRESH`], claimed for
    /// reading.
    fn claim_stale(&self, all: bool, wanted: impl Fn(&str) -> bool) -> Vec<WorktreeRecord> {
        {
            let mut next = self.next_look.lock().expect("next look lock");
            let next = &mut next[usize::from(all)];
            if next.is_some_and(|at| Instant::now() < at) {
                return Vec::new();
            }
            *next = Some(Instant::now() + Duration::from_secs(1));
        }
        let records: Vec<WorktreeRecord> = {
            let records = self.records.read().expect("worktrees lock");
            records.values().filter(|w| wanted(&w.name)).cloned().collect()
        };
        if records.is_empty() {
            return Vec::new();
        }
        let mut status = self.status.lock().expect("status lock");
        let mut stale = Vec::new();
        for w in records {
            let name = w.name.clone();
            let entry = status.entry(name).or_default();
            if entry.claimed.is_none_or(|at| at.elapsed() >= FRESH) {
                entry.claimed = Some(Instant::now());
                stale.push(w);
            }
        }
        stale
    }

    /// Stores a status just read; true if it differs from the last one.
    fn set_status(&self, name: &str, s: Option<WorktreeStatus>) -> bool {
        let mut status = self.status.lock().expect("status lock");
        let entry = status.entry(name.to_owned()).or_default();
        let changed = entry.status != s;
        entry.status = s;
        entry.checked_ms = now_ms();
        entry.claimed.get_or_insert_with(Instant::now);
        changed
    }
}

/// What removing a session does to its worktree, decided before the session is stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Removal {
    /// The directory is already gone: git forgets it; the branch is kept.
    Prune,
    /// Clean, nothing unmerged: removed; a branch llmux made goes once merged into the base.
    Clean,
    /// Forced with an explicit choice.
    Forced(BranchChoice),
}

impl SessionService {
    /// Makes the worktree of the new session `name` from the repository `cwd` is in: checks
    /// roots, reads the settings, adds the worktree, copies the files, runs the setup. On any
    /// failure nothing it made is left (worktree, branch). The record it returns is not yet
    /// stored; with it, the session's cwd in the worktree: where `cwd` lies in the repository.
    pub(super) async fn make_worktree(
        &self,
        name: &str,
        owner: &str,
        cwd: &Path,
        req: &WorktreeRequest,
    ) -> Result<(WorktreeRecord, String)> {
        let (run, roots) = self.runner_for(owner).await?;
        let top = wt::toplevel(&run, cwd).await?;
        let top = canonical(&top).await;
        let sub = canonical(cwd).await.strip_prefix(&top).map(Path::to_owned).unwrap_or_default();
        inside_roots(&roots, &top, "the repository")?;
        let settings = self.repo_settings(&run, &top).await?;
        let branch = match req.branch.as_deref().map(str::trim).filter(|b| !b.is_empty()) {
            Some(b) => b.to_owned(),
            None => super::names::split(name).0.to_owned(),
        };
        wt::check_branch(&branch)?;
        let exists = wt::branch_exists(&run, &top, &branch).await?;
        let base = match req.base.as_deref().map(str::trim).filter(|b| !b.is_empty()) {
            Some(b) => b.to_owned(),
            None => match settings.base.clone() {
                Some(b) => b,
                None => wt::current_head(&run, &top).await?,
            },
        };
        wt::verify_commit(&run, &top, &base).await?;
        let path = self.worktree_path(&top, name)?;
        inside_roots(&roots, path.parent().unwrap_or(&path), "the worktree location")?;
        if tokio::fs::symlink_metadata(&path).await.is_ok() {
            return Err(Error::AlreadyExists(format!(
                "{} already exists; remove it or choose another session name",
                path.display()
            )));
        }
        let copies = copy_list(&top, &settings).await?;
        match self.opts.worktrees.location {
            WorktreeLocation::Repo => wt::exclude_worktrees_dir(&run, &top).await?,
            WorktreeLocation::State => {
                wt::mkdir_p(&run, &top, path.parent().unwrap_or(&path)).await?
            }
        }
        wt::add(&run, &top, &path, &branch, &base, !exists).await?;
        let mut record = WorktreeRecord {
            name: name.to_owned(),
            repo: top.to_string_lossy().into_owned(),
            path: path.to_string_lossy().into_owned(),
            branch,
            base,
            created_branch: !exists,
            setup_output: None,
        };
        if let Err(e) = self.prepare_worktree(&run, &mut record, &copies, &settings).await {
            self.discard_worktree(&run, &record).await;
            return Err(e);
        }
        let status = wt::status(&run, &path, &record.base).await.ok();
        self.worktrees.set_status(name, status);
        tracing::info!(session.name = %name, path = %record.path, branch = %record.branch, "worktree made");
        let cwd = subdir_in(&path, &sub).await;
        Ok((record, cwd))
    }

    /// The edit that moves session `old` into a new worktree of the repository its cwd is in
    /// (the caller holds its lock): made as at start, the cwd moved there, and the agent
    /// restarted in it when it runs. Refused combined with other changes (400) and for a
    /// session that has a worktree already (409).
    pub(super) async fn move_into_worktree(
        &self,
        old: &SessionRecord,
        req: &SessionEdit,
        spec: &WorktreeRequest,
    ) -> Result<SessionView> {
        let alone = SessionEdit { worktree: Some(spec.clone()), ..SessionEdit::default() };
        if *req != alone {
            return Err(Error::invalid("a worktree is made by an edit of its own"));
        }
        if self.worktrees.get(&old.name).is_some() {
            return Err(Error::Conflict(format!("session {:?} has a worktree already", old.name)));
        }
        let (w, cwd) = self.make_worktree(&old.name, &old.owner, Path::new(&old.cwd), spec).await?;
        let mut new = old.clone();
        new.cwd = cwd;
        new.updated_at = now_ms();
        let running = self.status(&new.name) == SessionStatus::Running;
        if running {
            new.started_at = new.updated_at;
        }
        let saved = match self.save(&new).await {
            Ok(()) => self.save_worktree(w.clone()).await,
            Err(e) => Err(e),
        };
        if let Err(e) = saved {
            if let Err(undo) = self.save(old).await {
                tracing::warn!(error = %undo, "cannot restore a session's record");
            }
            self.discard_worktree_of(&old.owner, &w).await;
            self.worktrees.set_status(&old.name, None);
            return Err(e);
        }
        if running {
            self.spawn(&new, true).await?;
            tracing::info!(session.name = %new.name, "session respawned in its new worktree");
        }
        self.get(&new.name)
    }

    /// Copies the files and runs the setup command in a fresh worktree.
    async fn prepare_worktree(
        &self,
        run: &Runner,
        record: &mut WorktreeRecord,
        copies: &[PathBuf],
        settings: &RepoSettings,
    ) -> Result<()> {
        let (top, path) = (PathBuf::from(&record.repo), PathBuf::from(&record.path));
        for rel in copies {
            if dest_through_symlink(&path, rel).await {
                return Err(Error::invalid(format!(
                    "worktree.copy entry {} would be written through a symlink in the worktree",
                    rel.display()
                )));
            }
        }
        wt::copy_files(run, &top, &path, copies).await?;
        let Some(setup) = &settings.setup else { return Ok(()) };
        let out = run.run_merged(&path, setup.argv()?, SETUP_TIMEOUT).await?;
        record.setup_output = Some(out.stdout.clone());
        if !out.ok {
            return Err(Error::Conflict(format!(
                "the worktree's setup command failed, so the session was not started (its \
                 worktree and new branch were removed); its output:\n{}",
                out.stdout.trim_end()
            )));
        }
        Ok(())
    }

    /// Removes a worktree llmux just made (and its branch, if llmux made it). Best effort.
    pub(super) async fn discard_worktree(&self, run: &Runner, w: &WorktreeRecord) {
        let top = Path::new(&w.repo);
        if let Err(e) = wt::remove(run, top, Path::new(&w.path), true).await {
            tracing::warn!(path = %w.path, error = %e, "cannot remove a failed session's worktree");
        }
        if w.created_branch
            && let Err(e) = wt::delete_branch(run, top, &w.branch, true).await
        {
            tracing::warn!(branch = %w.branch, error = %e, "cannot delete a failed session's branch");
        }
    }

    /// Undoes [`SessionService::make_worktree`] for a session whose start failed later.
    pub(super) async fn discard_worktree_of(&self, owner: &str, w: &WorktreeRecord) {
        match self.runner_for(owner).await {
            Ok((run, _)) => self.discard_worktree(&run, w).await,
            Err(e) => tracing::warn!(error = %e, "cannot remove a failed session's worktree"),
        }
    }

    /// Stores a new session's worktree.
    pub(super) async fn save_worktree(&self, w: WorktreeRecord) -> Result<()> {
        let rec = w.clone();
        self.db(move |s| s.set_worktree(&rec)).await?;
        self.worktrees.put(w);
        Ok(())
    }

    /// The worktree directory of session `name` in the repository `top`.
    fn worktree_path(&self, top: &Path, name: &str) -> Result<PathBuf> {
        Ok(match self.opts.worktrees.location {
            WorktreeLocation::Repo => top.join(".worktrees").join(name),
            WorktreeLocation::State => match &self.opts.worktree_state_dir {
                Some(dir) => dir.join("worktrees").join(name),
                None => return Err(Error::invalid("worktrees.location: state needs a state dir")),
            },
        })
    }

    /// The settings of the repository `top`: the daemon config's entry over the
    /// repository's own `.llmux.yaml` (read as the owner, never followed through a symlink).
    async fn repo_settings(&self, run: &Runner, top: &Path) -> Result<RepoSettings> {
        let mut config = RepoSettings::default();
        for (key, settings) in &self.opts.worktrees.repos {
            if canonical(key).await == top {
                config = settings.clone();
            }
        }
        let file = top.join(".llmux.yaml");
        let meta = match tokio::fs::symlink_metadata(&file).await {
            Ok(meta) => meta,
            Err(_) => return Ok(config),
        };
        if !meta.is_file() || meta.len() > MAX_REPO_FILE {
            return Err(Error::invalid(format!(
                "{} must be a plain file of at most 64 KiB (not a symlink)",
                file.display()
            )));
        }
        let argv = vec!["cat".into(), "--".into(), file.to_string_lossy().into_owned()];
        let out = run.run(top, argv, wt::GIT_TIMEOUT).await?;
        if !out.ok {
            return Err(Error::invalid(format!(
                "cannot read {}: {}",
                file.display(),
                out.stderr.trim()
            )));
        }
        Ok(config.over(RepoSettings::from_repo_file(&out.stdout)?))
    }

    /// Decides what removing session `name` does to its worktree; refuses (409) a worktree
    /// with uncommitted changes or unmerged commits unless `force` with a branch choice.
    pub(super) async fn plan_removal(
        &self,
        name: &str,
        owner: &str,
        force: bool,
        choice: Option<BranchChoice>,
    ) -> Result<Option<(WorktreeRecord, Removal)>> {
        let Some(w) = self.worktrees.get(name) else { return Ok(None) };
        if tokio::fs::symlink_metadata(&w.path).await.is_err() {
            return Ok(Some((w, Removal::Prune)));
        }
        let (run, _) = self.runner_for(owner).await?;
        let status = wt::status(&run, Path::new(&w.path), &w.base).await;
        self.worktrees.set_status(name, status.as_ref().ok().copied());
        let work = match &status {
            Ok(s) if !s.dirty && s.ahead == 0 => None,
            Ok(s) => Some(describe(s, &w.base)),
            Err(e) => Some(format!("a state git could not read ({e})")),
        };
        let Some(work) = work else {
            return Ok(Some((w, choice.filter(|_| force).map_or(Removal::Clean, Removal::Forced))));
        };
        match choice.filter(|_| force) {
            Some(choice) => Ok(Some((w, Removal::Forced(choice)))),
            None => Err(Error::Conflict(format!(
                "session {name:?}'s worktree {} has {work}; nothing was removed. To remove it \
                 anyway say what becomes of branch {:?}: --force --keep-branch (the \
                 uncommitted changes go, the branch and its commits stay) or --force \
                 --delete-branch (all of it goes); in the API ?force=true&branch=keep|delete",
                w.path, w.branch
            ))),
        }
    }

    /// Carries out a [`Removal`] (the session is stopped by now).
    pub(super) async fn remove_worktree(
        &self,
        owner: &str,
        w: &WorktreeRecord,
        removal: Removal,
    ) -> Result<()> {
        let (run, _) = self.runner_for(owner).await?;
        let (top, path) = (Path::new(&w.repo), Path::new(&w.path));
        match removal {
            Removal::Prune => {
                let _ = wt::prune(&run, top).await;
            }
            Removal::Clean => {
                // Without --force: git itself refuses if the agent left changes since.
                wt::remove(&run, top, path, false).await?;
                let merged = matches!(wt::unmerged(&run, top, &w.branch, &w.base).await, Ok(0));
                if w.created_branch && merged {
                    wt::delete_branch(&run, top, &w.branch, true).await?;
                }
            }
            Removal::Forced(choice) => {
                wt::remove(&run, top, path, true).await?;
                if choice == BranchChoice::Delete {
                    wt::delete_branch(&run, top, &w.branch, true).await?;
                }
            }
        }
        tracing::info!(path = %w.path, ?removal, "worktree removed");
        Ok(())
    }

    /// Moves a renamed session's worktree to its new name's place, when it is where llmux put
    /// it; returns the record to store under the new name (unchanged path otherwise).
    pub(super) async fn move_worktree(
        &self,
        owner: &str,
        old: &str,
        new: &str,
    ) -> Result<Option<(WorktreeRecord, WorktreeRecord)>> {
        let Some(w) = self.worktrees.get(old) else { return Ok(None) };
        let from = PathBuf::from(&w.path);
        let mut moved = WorktreeRecord { name: new.to_owned(), ..w.clone() };
        if from.file_name().is_some_and(|n| n == old) && from.exists() {
            let to = from.with_file_name(new);
            if tokio::fs::symlink_metadata(&to).await.is_ok() {
                return Err(Error::AlreadyExists(format!("{} already exists", to.display())));
            }
            let (run, _) = self.runner_for(owner).await?;
            wt::move_to(&run, Path::new(&w.repo), &from, &to).await?;
            moved.path = to.to_string_lossy().into_owned();
        }
        Ok(Some((w, moved)))
    }

    /// Moves a worktree back after a rename that failed later. Best effort.
    pub(super) async fn unmove_worktree(
        &self,
        owner: &str,
        w: &WorktreeRecord,
        moved: &WorktreeRecord,
    ) {
        if w.path == moved.path {
            return;
        }
        if let Ok((run, _)) = self.runner_for(owner).await {
            let _ =
                wt::move_to(&run, Path::new(&w.repo), Path::new(&moved.path), Path::new(&w.path))
                    .await;
        }
    }

    /// Stores a renamed session's worktree (the row followed the rename; its path may not).
    pub(super) async fn renamed_worktree(&self, old: &str, moved: WorktreeRecord) -> Result<()> {
        let rec = moved.clone();
        self.db(move |s| s.set_worktree(&rec)).await?;
        self.worktrees.rename(old, moved);
        Ok(())
    }

    /// Re-reads, in the background, the status of the worktrees not read for [`FRESH`]; the
    /// list is rebuilt when one changed. `all`: every worktree (someone looks: list, show);
    /// else only those whose agent is at work or stopped working in the last few seconds (the
    /// refresher's tick), so idle agents nobody looks at cost no git.
    pub(super) fn refresh_worktrees(&self, all: bool) {
        let now = now_ms();
        let busy = |name: &str| {
            self.tracker.get(name).is_some_and(|t| {
                !matches!(t.state, llmux_api::AgentState::Idle | llmux_api::AgentState::Exited)
                    || now - t.since_ms < 2 * FRESH.as_millis() as i64
            })
        };
        let stale = self.worktrees.claim_stale(all, |name| all || busy(name));
        if stale.is_empty() {
            return;
        }
        let Some(service) = self.me.get().and_then(std::sync::Weak::upgrade) else { return };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        runtime.spawn(async move {
            let mut changed = false;
            for w in stale {
                let owner = match service.record(&w.name) {
                    Ok(r) => r.owner,
                    Err(_) => continue,
                };
                let status = match service.runner_for(&owner).await {
                    Ok((run, _)) => wt::status(&run, Path::new(&w.path), &w.base).await.ok(),
                    Err(_) => None,
                };
                changed |= service.worktrees.set_status(&w.name, status);
            }
            if changed {
                service.notify();
            }
        });
    }
}

/// "uncommitted changes and 2 commits not in main".
fn describe(s: &WorktreeStatus, base: &str) -> String {
    let commits = match s.ahead {
        0 => None,
        1 => Some(format!("1 commit not in {base}")),
        n => Some(format!("{n} commits not in {base}")),
    };
    match (s.dirty, commits) {
        (true, Some(c)) => format!("uncommitted changes and {c}"),
        (true, None) => "uncommitted changes".to_owned(),
        (false, Some(c)) => c,
        (false, None) => "nothing to lose".to_owned(),
    }
}

/// `path` with symlinks resolved (as is when it cannot be).
/// `sub` (a cwd relative to the repository's top) in the worktree at `path` when the branch
/// has that directory, really inside the worktree (a symlink in the branch may point anywhere);
/// else the worktree's top.
async fn subdir_in(path: &Path, sub: &Path) -> String {
    let top = path.to_string_lossy().into_owned();
    if sub.as_os_str().is_empty() {
        return top;
    }
    let (Ok(real_top), Ok(real)) =
        (tokio::fs::canonicalize(path).await, tokio::fs::canonicalize(path.join(sub)).await)
    else {
        return top;
    };
    let is_dir = tokio::fs::metadata(&real).await.is_ok_and(|m| m.is_dir());
    match real.strip_prefix(&real_top) {
        Ok(rel) if is_dir && rel == sub => path.join(rel).to_string_lossy().into_owned(),
        _ => top,
    }
}

async fn canonical(path: &Path) -> PathBuf {
    tokio::fs::canonicalize(path).await.unwrap_or_else(|_| path.to_owned())
}

/// Refuses `path` outside every root, when the owner is confined (`roots` is `Some`).
fn inside_roots(roots: &Option<Vec<PathBuf>>, path: &Path, what: &str) -> Result<()> {
    let Some(roots) = roots else { return Ok(()) };
    let real = path.canonicalize().unwrap_or_else(|_| path.to_owned());
    if roots.iter().any(|r| real.starts_with(r)) {
        return Ok(());
    }
    Err(Error::invalid(format!(
        "{what} ({}) is not inside a workspace root granted to you",
        path.display()
    )))
}

/// The checked `copy` entries of `settings` that exist in `top`.
async fn copy_list(top: &Path, settings: &RepoSettings) -> Result<Vec<PathBuf>> {
    let entries = settings.copy.clone().unwrap_or_default();
    let top = top.to_owned();
    super::blocking(move || {
        let mut out = Vec::new();
        for raw in &entries {
            let rel = crate::git::settings::copy_entry(raw)?;
            if crate::git::settings::copy_source_ok(&top, &rel)? {
                out.push(rel);
            }
        }
        Ok(out)
    })
    .await
}

/// Whether writing `rel` into the worktree `path` would go through a symlink there (a
/// checked-out branch may hold one pointing anywhere).
async fn dest_through_symlink(path: &Path, rel: &Path) -> bool {
    let mut at = path.to_owned();
    for part in rel.components() {
        at.push(part);
        if tokio::fs::symlink_metadata(&at).await.is_ok_and(|m| m.file_type().is_symlink()) {
            return true;
        }
    }
    false
}
