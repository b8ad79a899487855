//! Creating, editing, restarting, stopping and removing sessions.

use std::collections::BTreeMap;
use std::path::Path;

use llmux_api::{SessionStatus, SessionView};

use super::{NewSession, SessionEdit, SessionService, not_found};
use crate::error::{Error, Result};
use crate::store::SessionRecord;
use crate::time::now_ms;
use crate::tmux::SpawnSpec;
use crate::validate;

/// How many lines of a stopped session's screen (and scrollback) are kept for `capture`.
const KEPT_SCREEN_LINES: u32 = 2000;

impl SessionService {
    /// Checks `req`, records the session and starts it in tmux.
    ///
    /// Nothing is left behind when it fails: the record is removed again if tmux refuses.
    pub async fn create(&self, req: NewSession, owner: &str) -> Result<SessionView> {
        let agent = self.catalog.require(req.agent.trim())?.clone();
        if let Some(name) = &req.name {
            validate::session_name(name)?;
        }
        let cwd = match req.cwd.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
            Some(raw) => Some(self.valid_cwd(raw).await?),
            None => None,
        };
        let cwd = self.owner_cwd(owner, cwd).await?;
        let flags = req.flags.map(|f| f.trim().to_owned());
        agent.argv(flags.as_deref())?;
        let env = req.env.as_ref().map(validate::env).transpose()?.unwrap_or_default();
        if let Some(id) = req.resume_from.as_deref().filter(|r| !r.is_empty()) {
            validate::conversation_id(id)?;
            if agent.has_history() {
                agent.kind.validate_id(id)?;
            }
        }
        let skip_init = req.skip_init;
        let worktree = req.worktree.clone();
        let after_limit = super::valid_after_limit(req.after_limit.as_deref())?;
        if !agent.is_installed() {
            return Err(Error::invalid(format!(
                "agent {:?} is not installed (looked for {}); install it with: {}",
                agent.key,
                agent.program(),
                agent.install_hint
            )));
        }
        let now = now_ms();
        let mut record = SessionRecord {
            name: String::new(),
            agent: agent.key.clone(),
            cwd: cwd.to_string_lossy().into_owned(),
            flags,
            env,
            init_prompts: req.init_prompts,
            resume_from: req.resume_from.filter(|r| !r.is_empty()),
            owner: owner.to_owned(),
            parent: req.parent.filter(|p| !p.is_empty()),
            created_at: now,
            updated_at: now,
            started_at: now,
        };

        {
            let _registry = self.registry.lock().await;
            // Names are unique per owner: only the owner's own sessions can clash.
            record.name = match req.name {
                Some(name) => {
                    let canonical = super::names::canonical(&name, owner);
                    if self.records.read().expect("records lock").contains_key(&canonical) {
                        return Err(Error::AlreadyExists(format!(
                            "session {name:?} already exists"
                        )));
                    }
                    canonical
                }
                None => self.free_name(&agent.key, owner),
            };
            let (rec, after) = (record.clone(), after_limit.clone());
            self.db(move |s| {
                s.insert_session(&rec)?;
                s.set_after_limit(&rec.name, after.as_deref())
            })
            .await?;
            self.records.write().expect("records lock").insert(record.name.clone(), record.clone());
            if let Some(text) = after_limit {
                self.after_limits.set(&record.name, Some(text));
            }
            self.notify();
        }

        let lock = self.session_lock(&record.name);
        let _guard = lock.lock().await;
        let mut made = None;
        if let Some(spec) = &worktree {
            let cwd = std::path::PathBuf::from(&record.cwd);
            let result = match self.make_worktree(&record.name, owner, &cwd, spec).await {
                Ok((w, cwd)) => {
                    record.cwd = cwd;
                    made = Some(w.clone());
                    match self.save(&record).await {
                        Ok(()) => self.save_worktree(w).await,
                        Err(e) => Err(e),
                    }
                }
                Err(e) => Err(e),
            };
            if let Err(e) = result {
                if let Some(w) = &made {
                    self.discard_worktree_of(owner, w).await;
                }
                self.forget_failed(&record.name).await;
                return Err(e);
            }
        }
        if let Err(e) = self.spawn(&record, !skip_init).await {
            if let Some(w) = &made {
                self.discard_worktree_of(owner, w).await;
            }
            self.forget_failed(&record.name).await;
            return Err(e);
        }
        tracing::info!(session.name = %record.name, agent = %record.agent, "session created");
        self.get(&record.name)
    }

    /// Whether `owner` could start `agent` in `cwd` here: the first checks of
    /// [`Self::create`] (the agent known and installed, the cwd a directory inside what the
    /// owner may use), nothing made. A hub asks it to place a session (issue 17).
    pub async fn can_start(&self, agent: &str, cwd: Option<&str>, owner: &str) -> Result<()> {
        let agent = self.catalog.require(agent.trim())?.clone();
        if !agent.is_installed() {
            return Err(Error::invalid(format!(
                "agent {:?} is not installed (looked for {})",
                agent.key,
                agent.program()
            )));
        }
        let cwd = match cwd.map(str::trim).filter(|c| !c.is_empty()) {
            Some(raw) => Some(self.valid_cwd(raw).await?),
            None => None,
        };
        self.owner_cwd(owner, cwd).await.map(drop)
    }

    /// Removes the record of a session whose start failed (its worktree row goes with it).
    async fn forget_failed(&self, name: &str) {
        let _registry = self.registry.lock().await;
        self.records.write().expect("records lock").remove(name);
        self.worktrees.forget(name);
        self.after_limits.forget(name);
        self.notify();
        self.forget_lock(name);
        let name = name.to_owned();
        if let Err(db) = self.db(move |s| s.delete_session(&name)).await {
            tracing::error!(error = %db, "cannot remove the record of a failed spawn");
        }
    }

    /// Checks a cwd (`~` expanded; it must be a directory), off the runtime: a stat blocks.
    pub(super) async fn valid_cwd(&self, raw: &str) -> Result<std::path::PathBuf> {
        let (raw, home) = (raw.to_owned(), self.opts.home.clone());
        super::blocking(move || validate::cwd(&raw, &home)).await
    }

    /// The canonical name of the agent key, or of `key-2`, `key-3`, … if the owner has
    /// those: other owners' names are never looked at.
    fn free_name(&self, key: &str, owner: &str) -> String {
        let records = self.records.read().expect("records lock");
        let live = self.live.panes();
        let taken = |n: &str| records.contains_key(n) || live.contains_key(n);
        std::iter::once(key.to_owned())
            .chain((2..).map(|i| format!("{key}-{i}")))
            .map(|n| super::names::canonical(&n, owner))
            .find(|n| !taken(n))
            .expect("an unbounded range")
    }

    /// Starts the record's tmux session (killing a leftover one of the same name first).
    /// Init prompts follow when `init` is set and the spawn is not a resume.
    pub(super) async fn spawn(&self, record: &SessionRecord, init: bool) -> Result<()> {
        let agent = self.catalog.require(&record.agent)?;
        let mut argv = agent.argv(record.flags.as_deref())?;
        argv.extend(self.conversation_args(
            &record.name,
            agent.kind,
            record.resume_from.as_deref(),
        ));
        self.remember_conversation(record).await?;
        if !tokio::fs::metadata(&record.cwd).await.is_ok_and(|m| m.is_dir()) {
            return Err(Error::invalid(format!("cwd does not exist: {}", record.cwd)));
        }
        let mut env: BTreeMap<String, String> = agent.env_defaults.clone();
        env.extend(record.env.clone());
        env.insert("LLMUX_SESSION".into(), record.name.clone());
        env.insert("LLMUX_AGENT".into(), record.agent.clone());
        let cwd = Path::new(&record.cwd);
        let target = self.target(&record.owner, &record.name, cwd, argv, env).await?;
        if target.confined {
            self.carry_history(record).await;
        }
        // A dead pane (remain-on-exit) or a running one being restarted still holds the name,
        // perhaps on another server (a session started before it was confined).
        if self.live.contains(&record.name) {
            self.end_processes(&record.name).await;
            self.tmux_of(&record.name).kill_session(&record.name).await?;
            self.forget_pane(&record.name);
        }
        self.tracker.reset(&record.name);
        self.last_screens.forget(&record.name);
        let spec = SpawnSpec {
            name: &record.name,
            cwd: Path::new(&record.cwd),
            argv: &target.argv,
            env: &target.env,
            width: self.opts.size.0,
            height: self.opts.size.1,
            confined: target.confined,
        };
        let pane = match target.tmux.new_session(&spec).await {
            Ok(pane) => pane,
            Err(Error::AlreadyExists(_)) => {
                // Our view was stale (the name was taken in tmux after the last refresh).
                target.tmux.kill_session(&record.name).await?;
                target.tmux.new_session(&spec).await?
            }
            Err(e) => {
                self.refresh().await?;
                return Err(e);
            }
        };
        self.last_confined.note([&pane]);
        self.live.insert(&record.name, pane);
        if init && record.resume_from.is_none() {
            self.fire_init_prompts(record);
        }
        Ok(())
    }

    /// Applies an edit. A change of cwd, flags, env or resume id respawns a running session;
    /// a rename is live.
    pub async fn edit(&self, name: &str, req: SessionEdit) -> Result<SessionView> {
        let lock = self.session_lock(name);
        let _guard = lock.lock().await;
        let old = self.record(name)?;
        if let Some(spec) = &req.worktree {
            return self.move_into_worktree(&old, &req, spec).await;
        }
        if let Some(after) = &req.after_limit {
            super::valid_after_limit(after.as_deref())?;
        }
        let mut new = old.clone();
        if let Some(n) = &req.name {
            // A new name stays in the owner's namespace (an admin renaming `fix@bob` to
            // `fix2` makes `fix2@bob`).
            validate::session_name(n)?;
            new.name = super::names::canonical(n, &old.owner);
        }
        if let Some(raw) = &req.cwd {
            let cwd = self.valid_cwd(raw).await?;
            let cwd = self.owner_cwd(&old.owner, Some(cwd)).await?;
            new.cwd = cwd.to_string_lossy().into_owned();
        }
        if let Some(flags) = req.flags {
            let flags = flags.map(|f| f.trim().to_owned());
            self.catalog.require(&new.agent)?.argv(flags.as_deref())?;
            new.flags = flags;
        }
        if let Some(env) = req.env {
            new.env = env.as_ref().map(validate::env).transpose()?.unwrap_or_default();
        }
        if let Some(prompts) = req.init_prompts {
            new.init_prompts = prompts;
        }
        if let Some(resume) = req.resume_from {
            let resume = resume.filter(|r| !r.is_empty());
            if let Some(id) = &resume {
                validate::conversation_id(id)?;
                let kind = self.kind_of(&new.agent);
                if kind.has_history() {
                    kind.validate_id(id)?;
                }
            }
            new.resume_from = resume;
        }
        if let Some(after) = &req.after_limit {
            // its own table, and no respawn: applied once every other field is known good
            self.set_after_limit(name, after.as_deref()).await?;
        }
        if new == old {
            return self.get(name);
        }
        new.updated_at = now_ms();
        let relaunch = new.cwd != old.cwd
            || new.flags != old.flags
            || new.env != old.env
            || new.resume_from != old.resume_from;

        if new.name != old.name {
            self.rename(&old, &mut new).await?;
        } else {
            let rec = new.clone();
            let key = old.name.clone();
            self.db(move |s| s.update_session(&key, &rec)).await?;
            self.records.write().expect("records lock").insert(new.name.clone(), new.clone());
            self.notify();
        }
        if relaunch && self.status(&new.name) == SessionStatus::Running {
            new.started_at = now_ms();
            self.save(&new).await?;
            self.spawn(&new, true).await?;
            tracing::info!(session.name = %new.name, "session respawned after edit");
        }
        self.get(&new.name)
    }

    async fn rename(&self, old: &SessionRecord, new: &mut SessionRecord) -> Result<()> {
        let _registry = self.registry.lock().await;
        if self.records.read().expect("records lock").contains_key(&new.name) {
            return Err(Error::AlreadyExists(format!("session {:?} already exists", new.name)));
        }
        // The worktree follows (`git worktree move`), and the cwd with it; a running agent
        // keeps its cwd (the directory moved, not another one).
        let moved = self.move_worktree(&old.owner, &old.name, &new.name).await?;
        if let Some((w, m)) = &moved
            && let Some(sub) = std::path::Path::new(&new.cwd).strip_prefix(&w.path).ok()
        {
            // the cwd may be a folder inside the worktree (`join("")` would add a "/")
            new.cwd = match sub.as_os_str().is_empty() {
                true => m.path.clone(),
                false => std::path::Path::new(&m.path).join(sub).to_string_lossy().into_owned(),
            };
        }
        let result = self.rename_records(old, new).await;
        match (&moved, result) {
            (Some((w, m)), Err(e)) => {
                self.unmove_worktree(&old.owner, w, m).await;
                Err(e)
            }
            (Some((_, m)), Ok(())) => {
                self.renamed_worktree(&old.name, m.clone()).await?;
                self.notify();
                Ok(())
            }
            (None, result) => result,
        }
    }

    async fn rename_records(&self, old: &SessionRecord, new: &SessionRecord) -> Result<()> {
        let live = self.live.contains(&old.name);
        // The record first, with the tmux rename it owes (`pending_tmux`, carried out by the
        // next start): a daemon killed between the two would otherwise leave the record under
        // the old name and the running agent under the new one, out of reach.
        let (rec, key) = (new.clone(), old.name.clone());
        self.db(move |s| s.rename_session(&key, &rec, live)).await?;
        if live {
            if let Err(e) = self.tmux_of(&old.name).rename_session(&old.name, &new.name).await {
                // Put the record back so record and session keep matching.
                let (back, key, owed) = (old.clone(), new.name.clone(), vec![old.name.clone()]);
                let undo = self.db(move |s| {
                    s.update_session(&key, &back)?;
                    s.forget_pending_tmux(&owed)
                });
                if let Err(db) = undo.await {
                    tracing::error!(error = %db, "cannot put back the record of a failed rename");
                }
                return Err(e);
            }
            let owed = vec![old.name.clone()];
            self.db(move |s| s.forget_pending_tmux(&owed)).await?;
        }
        self.rename_cgroup(&old.name, &new.name).await;
        {
            let mut records = self.records.write().expect("records lock");
            self.notify();
            records.remove(&old.name);
            records.insert(new.name.clone(), new.clone());
        }
        self.tracker.rename(&old.name, &new.name);
        self.conversations.rename(&old.name, &new.name);
        self.queue_session_renamed(&old.name, &new.name).await;
        self.after_limits.rename(&old.name, &new.name);
        self.notify();
        self.forget_lock(&old.name);
        self.refresh().await?;
        tracing::info!(session.name = %new.name, old = %old.name, "session renamed");
        Ok(())
    }

    /// Stores a changed record and tells the lists.
    pub(super) async fn save(&self, record: &SessionRecord) -> Result<()> {
        let rec = record.clone();
        self.db(move |s| s.update_session(&rec.name, &rec)).await?;
        self.records.write().expect("records lock").insert(record.name.clone(), record.clone());
        self.notify();
        Ok(())
    }

    /// Kills the session's tmux session and starts it again from its record.
    pub async fn restart(&self, name: &str) -> Result<SessionView> {
        let lock = self.session_lock(name);
        let _guard = lock.lock().await;
        let mut record = self.record(name)?;
        let agent = self.catalog.require(&record.agent)?;
        if !agent.is_installed() {
            return Err(Error::invalid(format!(
                "agent {:?} is not installed (looked for {})",
                agent.key,
                agent.program()
            )));
        }
        record.started_at = now_ms();
        record.updated_at = record.started_at;
        self.save(&record).await?;
        self.spawn(&record, true).await?;
        tracing::info!(session.name = %name, "session restarted");
        self.get(name)
    }

    /// Ends every process of the session (its pane's process group and strays), see
    /// [`super::procs`].
    pub(super) async fn end_processes(&self, name: &str) {
        let pid = self.live.running_pid(name);
        super::procs::end_session_processes(pid, name, self.tmux_of(name).socket()).await;
    }

    /// Drops a killed session's pane from the live view (the next refresh agrees).
    pub(super) fn forget_pane(&self, name: &str) {
        self.live.remove(name);
    }

    /// Ends the agent but keeps the record (status becomes `exited`). Idempotent.
    pub async fn stop(&self, name: &str) -> Result<SessionView> {
        let lock = self.session_lock(name);
        let _guard = lock.lock().await;
        self.record(name)?;
        // Keep its last screen for `capture` (the web UI shows it read-only): the pane goes.
        if let Ok(screen) = self.tmux_of(name).capture(name, KEPT_SCREEN_LINES).await {
            self.last_screens.keep(name, screen);
        }
        self.end_processes(name).await;
        self.tmux_of(name).kill_session(name).await?;
        self.forget_pane(name);
        self.release_cgroup(name).await;
        tracing::info!(session.name = %name, "session stopped");
        self.get(name)
    }

    /// Deletes the record; a running session is refused unless `force`, which stops it first.
    ///
    /// A session's worktree goes with it when it is clean and has nothing unmerged; one with
    /// work in it is refused unless `force` with a `branch` choice (see
    /// [`llmux_api::BranchChoice`]).
    pub async fn remove(
        &self,
        name: &str,
        force: bool,
        branch: Option<llmux_api::BranchChoice>,
    ) -> Result<SessionStatus> {
        let lock = self.session_lock(name);
        let _guard = lock.lock().await;
        let record = self.record(name)?;
        let status = self.status(name);
        if status == SessionStatus::Running && !force {
            return Err(Error::Conflict(format!(
                "session {name:?} is running; stop it first or remove it with force"
            )));
        }
        let worktree = self.plan_removal(name, &record.owner, force, branch).await?;
        // Kill first, while the record still reserves the name against concurrent creates.
        self.end_processes(name).await;
        self.tmux_of(name).kill_session(name).await?;
        self.forget_pane(name);
        self.release_cgroup(name).await;
        if let Some((w, removal)) = &worktree {
            self.remove_worktree(&record.owner, w, *removal).await?;
        }
        let _registry = self.registry.lock().await;
        let key = name.to_owned();
        if !self.db(move |s| s.delete_session(&key)).await? {
            return Err(not_found(name));
        }
        self.records.write().expect("records lock").remove(name);
        self.worktrees.forget(name);
        self.conversations.remove(name);
        self.queue_session_removed(name).await;
        self.after_limits.forget(name);
        self.last_screens.forget(name);
        self.notify();
        self.forget_lock(name);
        tracing::info!(session.name = %name, "session removed");
        Ok(status)
    }
}
