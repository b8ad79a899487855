//! The session service: the rules of a session's life, over the store and the tmux driver.
//!
//! Records live in SQLite and in an in-memory copy; the live half (pid, dead or alive) comes
//! from one `list-panes -a` call, refreshed in the background and after every change, so reads
//! never wait for tmux. Changes to one session are serialized by a per-session lock; creating,
//! renaming and removing records are serialized by the registry lock.

mod after_limit;
mod confine;
mod conversations;
mod counts;
mod ids;
mod input;
mod lifecycle;
mod live;
pub mod names;
mod owners;
mod procs;
mod prompt_queue;
mod queues;
pub use queues::{WaitReason, Waiting};
mod review;
mod screens;
mod spec;
mod status;
pub mod uploads;
mod wait;
mod worktrees;

pub use after_limit::{DEFAULT_AFTER_LIMIT, valid_after_limit};
pub use confine::Isolation;
pub use prompt_queue::{AfterLimitTyped, MAX_QUEUED, Schedule};
pub use spec::{Broadcast, NewReviewComment, NewSession, ReviewCommentEdit, SessionEdit};
pub use status::SETTLE;
pub use wait::WaitOutcome;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use llmux_api::{AgentState, AgentView, SessionStatus, SessionView};
use tokio::sync::Mutex as AsyncMutex;

use crate::agents::Catalog;
use crate::error::{Error, Result};
use crate::paths::display_path;
use crate::store::{SessionRecord, Store};
use crate::time::rfc3339_ms;
use crate::tmux::{PaneInfo, Servers, Tmux, tmux_name};

use counts::CountKey;

/// How the service is set up.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    /// Home directory: default cwd and `~` expansion.
    pub home: PathBuf,
    /// Pause between typing a prompt and pressing Enter (agents drop an Enter sent too soon).
    pub settle: Duration,
    /// Size of a new session's window.
    pub size: (u16, u16),
    /// Daemon-wide init prompts at start, fired before a session's own.
    pub init_prompts: Vec<String>,
    /// How long a prompt is held while the agent is still starting.
    pub ready_timeout: Duration,
    /// Confinement of non-admins' sessions, per-user tmux servers; `None`: every session on
    /// one server as the daemon's user (library tests only: the daemon always sets it).
    pub isolation: Option<Isolation>,
    /// Where session worktrees go and per-repository settings (the config's `worktrees:`).
    pub worktrees: crate::git::WorktreesConfig,
    /// The state dir, for `worktrees.location: state` (`None`: that location is refused).
    pub worktree_state_dir: Option<PathBuf>,
    /// What may be uploaded into a session's workspace (`server.uploads`).
    pub uploads: crate::config::UploadLimits,
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions {
            home: crate::paths::home_dir(),
            settle: Duration::from_millis(300),
            size: (120, 40),
            init_prompts: Vec::new(),
            ready_timeout: Duration::from_secs(90),
            isolation: None,
            worktrees: Default::default(),
            worktree_state_dir: None,
            uploads: crate::config::UploadLimits::default(),
        }
    }
}

/// Owns every session: records, tmux sessions, and the rules between them.
///
/// Lock order: `records` before the live panes (`live.panes()`), never the other way, and no
/// other lock of the service taken while holding either. std's `RwLock` makes a reader wait
/// behind a waiting writer, so two readers taking the pair in opposite orders deadlock as soon
/// as a writer queues on each.
#[derive(Debug)]
pub struct SessionService {
    store: Arc<Store>,
    /// llmux's own tmux server and the per-user ones.
    servers: Servers,
    catalog: Arc<Catalog>,
    opts: SessionOptions,
    init_prompts: RwLock<Vec<String>>,
    records: RwLock<BTreeMap<String, SessionRecord>>,
    /// The panes, the change counter and the cached list.
    live: live::Live,
    registry: AsyncMutex<()>,
    /// Per-session change locks and input queues.
    queues: queues::Queues,
    /// What each agent is doing.
    tracker: status::Tracker,
    /// Conversation counts per (agent, home, cwd), with when they were read.
    counts: counts::Counts,
    /// The live conversation id of each session, where llmux chose, resumed or adopted it.
    conversations: ids::ConversationIds,
    /// The screen of each stopped session just before the stop, for `capture`.
    last_screens: screens::KeptScreens,
    /// Whether each session last ran confined (where its agent's files are).
    last_confined: confine::LastConfined,
    /// The sessions' git worktrees and their cached status.
    worktrees: worktrees::Worktrees,
    /// The prompts waiting for each session (a copy of the store's `prompt_queue`).
    prompt_queue: prompt_queue::PromptQueue,
    /// Each session's after-limit text (a copy of the store's `session_after_limit`).
    after_limits: after_limit::AfterLimits,
    /// A handle on itself, for tasks spawned from `&self` methods (init prompts).
    me: std::sync::OnceLock<std::sync::Weak<SessionService>>,
}

impl SessionService {
    /// Loads the records and reconciles them with tmux.
    pub async fn start(
        store: Arc<Store>,
        tmux: Arc<Tmux>,
        catalog: Arc<Catalog>,
        opts: SessionOptions,
    ) -> Result<Arc<SessionService>> {
        let (records, conversations, worktrees, queued, after_limits) = {
            let store = store.clone();
            blocking(move || {
                Ok((
                    store.list_sessions()?,
                    store.conversations()?,
                    store.worktrees()?,
                    store.queue_all()?,
                    store.after_limits()?,
                ))
            })
            .await?
        };
        let servers = match &opts.isolation {
            Some(iso) => Servers::per_user(tmux, iso.paths.clone()),
            None => Servers::single(tmux),
        };
        let service = Arc::new(SessionService {
            init_prompts: RwLock::new(opts.init_prompts.clone()),
            store,
            servers,
            catalog,
            opts,
            records: RwLock::new(records.into_iter().map(|r| (r.name.clone(), r)).collect()),
            live: live::Live::default(),
            registry: AsyncMutex::new(()),
            queues: queues::Queues::default(),
            tracker: status::Tracker::default(),
            conversations: ids::ConversationIds::new(conversations),
            counts: counts::Counts::default(),
            last_screens: screens::KeptScreens::default(),
            last_confined: confine::LastConfined::default(),
            worktrees: worktrees::Worktrees::load(worktrees),
            prompt_queue: prompt_queue::PromptQueue::new(queued),
            after_limits: after_limit::AfterLimits::new(after_limits),
            me: std::sync::OnceLock::new(),
        });
        let _ = service.me.set(Arc::downgrade(&service));
        service.bind_servers().await?;
        service.apply_pending_tmux().await?;
        service.refresh().await?;
        let (running, total) = {
            // Lock order everywhere: records, then panes (see `SessionService`).
            let records = service.records.read().expect("records lock");
            let live = service.live.panes();
            let running = records.keys().filter(|n| live.get(*n).is_some_and(|p| !p.dead)).count();
            for name in live.keys().filter(|n| !records.contains_key(*n)) {
                tracing::warn!(session.name = %name, "tmux session without a record; ignoring it");
            }
            (running, records.len())
        };
        tracing::info!(sessions = total, running, "sessions reconciled with tmux");
        Ok(service)
    }

    /// Re-reads the live state of every pane from tmux (one call); tells watchers when
    /// anything changed.
    pub async fn refresh(&self) -> Result<()> {
        let panes = self.servers.list_panes().await?;
        self.last_confined.note(&panes);
        let live: HashMap<String, PaneInfo> =
            panes.into_iter().map(|p| (p.session.clone(), p)).collect();
        self.live.replace(live.clone());
        self.observe(&live).await;
        Ok(())
    }

    /// Bumps the change counter (records or live state changed).
    pub(crate) fn notify(&self) {
        self.live.notify();
    }

    /// A number that changes whenever [`SessionService::list`] may answer differently.
    pub fn generation(&self) -> u64 {
        self.live.generation()
    }

    /// A receiver that wakes whenever a session appears, goes, starts or exits.
    pub fn watch(&self) -> tokio::sync::watch::Receiver<u64> {
        self.live.watch()
    }

    /// Keeps the live state fresh until the service is dropped.
    pub fn spawn_refresher(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(service) = weak.upgrade() else { break };
                // Worktrees change with nobody looking (an agent at work, the web UI on the
                // event stream): a working agent's is read again once a few seconds old.
                service.refresh_worktrees(false);
                if let Err(e) = service.refresh().await {
                    tracing::warn!(error = %e, "cannot refresh tmux state");
                }
            }
        })
    }

    /// The daemon-wide init prompts.
    pub fn init_prompts(&self) -> Vec<String> {
        self.init_prompts.read().expect("init prompts lock").clone()
    }

    /// Replaces the daemon-wide init prompts (for sessions spawned from now on).
    pub fn set_init_prompts(&self, prompts: Vec<String>) {
        *self.init_prompts.write().expect("init prompts lock") = prompts;
    }

    /// The store (for what the server keeps beside the sessions: idempotency keys).
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// The agent catalog.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// llmux's own tmux server and the per-user ones.
    pub fn servers(&self) -> &Servers {
        &self.servers
    }

    /// The tmux server holding session `name` now (llmux's own when tmux holds none).
    pub fn tmux_of(&self, name: &str) -> Arc<Tmux> {
        let server = self.live.panes().get(name).map(|p| p.server.clone());
        server
            .and_then(|owner| self.servers.of(&owner).ok())
            .unwrap_or_else(|| self.servers.main().clone())
    }

    /// Number of records.
    pub fn count(&self) -> usize {
        self.records.read().expect("records lock").len()
    }

    /// Every session, newest first. Built once per generation and shared: reads between
    /// changes (and the once-a-second refresh) cost a clone of an `Arc`.
    pub fn list(&self) -> Arc<Vec<SessionView>> {
        self.refresh_worktrees(true);
        self.live.list_or(|| {
            let mut views: Vec<_> = {
                let records = self.records.read().expect("records lock");
                let live = self.live.panes();
                records.values().map(|r| self.view(r, live.get(&r.name))).collect()
            };
            views.sort_by(|a, b| b.created_at.cmp(&a.created_at).then_with(|| a.name.cmp(&b.name)));
            self.refresh_counts();
            views
        })
    }

    /// One session.
    pub fn get(&self, name: &str) -> Result<SessionView> {
        self.refresh_worktrees(true);
        let records = self.records.read().expect("records lock");
        let record = records.get(name).ok_or_else(|| not_found(name))?;
        let mut view = self.view(record, self.live.panes().get(name));
        if view.worktree.is_some() {
            view.worktree = self.worktrees.view(name, true);
        }
        Ok(view)
    }

    /// The record of one session.
    pub fn record(&self, name: &str) -> Result<SessionRecord> {
        self.records.read().expect("records lock").get(name).cloned().ok_or_else(|| not_found(name))
    }

    /// Whether a session of that (canonical) name exists; [`SessionService::record`] without
    /// the copy.
    pub fn contains(&self, name: &str) -> bool {
        self.records.read().expect("records lock").contains_key(name)
    }

    /// Whether the session's process is alive, per the last refresh.
    pub fn status(&self, name: &str) -> SessionStatus {
        if self.live.is_running(name) { SessionStatus::Running } else { SessionStatus::Exited }
    }

    /// The catalog with install state and running counts (of `owner`'s sessions only, when
    /// given: a non-admin learns nothing about others' sessions).
    pub fn agents(&self, owner: Option<&str>) -> Vec<AgentView> {
        let path = std::env::var_os("PATH");
        let mut running: HashMap<String, u32> = HashMap::new();
        {
            let records = self.records.read().expect("records lock");
            let live = self.live.panes();
            for r in records.values().filter(|r| owner.is_none_or(|o| r.owner == o)) {
                if live.get(&r.name).is_some_and(|p| !p.dead) {
                    *running.entry(r.agent.clone()).or_default() += 1;
                }
            }
        }
        self.catalog
            .iter()
            .map(|a| AgentView {
                key: a.key.clone(),
                display_name: a.display_name.clone(),
                cmd: a.cmd_display(),
                flags: a.default_flags.clone(),
                env_defaults: a.env_defaults.clone(),
                has_history: a.has_history(),
                installed: a.is_installed_in(path.as_deref()),
                install_hint: a.install_hint.clone(),
                docs_url: a.docs_url.clone(),
                builtin: a.builtin,
                running: running.get(&a.key).copied().unwrap_or(0),
            })
            .collect()
    }

    fn view(&self, r: &SessionRecord, pane: Option<&PaneInfo>) -> SessionView {
        let agent = self.catalog.get(&r.agent);
        let argv = agent.and_then(|a| a.argv(r.flags.as_deref()).ok()).unwrap_or_default();
        let status = match pane {
            Some(p) if !p.dead => SessionStatus::Running,
            _ => SessionStatus::Exited,
        };
        let track = self.tracker.get(&r.name);
        let resets_at = track.as_ref().and_then(|t| t.resets_at()).map(rfc3339_ms);
        let (state, state_since, waiting_for, prompt) = match (status, track) {
            (SessionStatus::Exited, t) => {
                (AgentState::Exited, t.map_or(r.updated_at, |t| t.since_ms), None, None)
            }
            (_, Some(t)) if t.state != AgentState::Exited => {
                (t.state, t.since_ms, t.waiting_for, t.prompt)
            }
            _ => (AgentState::Starting, r.started_at, None, None),
        };
        SessionView {
            name: r.name.clone(),
            agent: r.agent.clone(),
            cwd: r.cwd.clone(),
            cwd_display: display_path(r.cwd.as_ref(), &self.opts.home),
            flags: r.flags.clone(),
            default_flags: agent.map(|a| a.default_flags.clone()).unwrap_or_default(),
            argv,
            env: Some(r.env.clone()),
            default_env: agent.map(|a| a.env_defaults.clone()).unwrap_or_default(),
            resume_from: r.resume_from.clone(),
            conversation_id: self.conversations_get(&r.name).or_else(|| r.resume_from.clone()),
            init_prompts: r.init_prompts.clone(),
            has_history: self.kind_of(&r.agent).has_history(),
            conversation_count: self.cached_count(r),
            owner: r.owner.clone(),
            created_at: rfc3339_ms(r.created_at),
            updated_at: rfc3339_ms(r.updated_at),
            started_at: rfc3339_ms(r.started_at),
            parent: r.parent.clone(),
            status,
            state,
            state_since: rfc3339_ms(state_since),
            waiting_for,
            prompt,
            pid: pane.filter(|p| !p.dead).map(|p| p.pid),
            exit_status: pane.filter(|p| p.dead).and_then(|p| p.dead_status),
            activity_at: pane.filter(|p| !p.dead).map(|p| rfc3339_ms(p.activity * 1000)),
            tmux_name: tmux_name(&r.name),
            attach_command: match pane {
                // The pane's own server, not `tmux_of` (which read-locks the panes again: a
                // second read lock while a writer waits deadlocks `list`).
                Some(p) if !p.server.is_empty() => self
                    .servers
                    .of(&p.server)
                    .unwrap_or_else(|_| self.servers.main().clone())
                    .attach_command(&r.name),
                _ => self.servers.main().attach_command(&r.name),
            },
            confined: pane.is_some_and(|p| p.confined),
            worktree: self.worktrees.view(&r.name, false),
            queued: self.prompt_queue.count(&r.name) + self.queues.waiting_count(&r.name) as u32,
            resets_at: if state == AgentState::Limited { resets_at } else { None },
            after_limit: self.after_limits.get(&r.name),
            host: None,
            unreachable: false,
        }
    }

    fn count_key(&self, r: &SessionRecord) -> CountKey {
        (self.kind_of(&r.agent), self.agent_home(r), r.cwd.clone())
    }

    /// The last conversation count read for the session's agent and cwd (0 until read).
    fn cached_count(&self, r: &SessionRecord) -> u32 {
        if !self.kind_of(&r.agent).has_history() {
            return 0;
        }
        self.counts.get(&self.count_key(r))
    }

    /// Re-reads, off the async threads, the counts older than 30 s; the list is rebuilt when
    /// one changed.
    fn refresh_counts(&self) {
        let stale = {
            let records = self.records.read().expect("records lock");
            self.counts.claim_stale(
                records
                    .values()
                    .filter(|r| self.kind_of(&r.agent).has_history())
                    .map(|r| self.count_key(r)),
            )
        };
        if stale.is_empty() {
            return;
        }
        let Some(service) = self.me.get().and_then(std::sync::Weak::upgrade) else { return };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        runtime.spawn_blocking(move || {
            let mut changed = false;
            for key in stale {
                let n = key.0.count(&key.1, std::path::Path::new(&key.2)).unwrap_or(0);
                changed |= service.counts.set(key, n);
            }
            if changed {
                service.notify();
            }
        });
    }

    /// The lock serializing changes to one session.
    fn session_lock(&self, name: &str) -> Arc<AsyncMutex<()>> {
        self.queues.change(name)
    }

    fn forget_lock(&self, name: &str) {
        self.queues.forget(name);
    }

    /// The id of the conversation the session's agent is in, when llmux knows it: the one it
    /// resumed, or the fresh id llmux chose at spawn.
    pub fn conversation_id(&self, name: &str) -> Option<String> {
        self.conversations_get(name).or_else(|| self.record(name).ok()?.resume_from)
    }

    /// The queue of one session's input: held for one whole prompt.
    fn input_lock(&self, name: &str) -> Arc<AsyncMutex<()>> {
        self.queues.input(name)
    }

    async fn db<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T> + Send + 'static,
    {
        let store = self.store.clone();
        blocking(move || f(&store)).await
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(Error::io("store task failed", std::io::Error::other(e))))
}

fn not_found(name: &str) -> Error {
    Error::NotFound(format!("no session named {name:?}"))
}
