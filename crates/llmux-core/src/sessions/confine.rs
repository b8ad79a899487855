//! Where a session runs: which tmux server, and whether its agent is confined (issue 15).
//!
//! With [`Isolation`] on (the daemon always sets it), a session whose owner is a user who is
//! not an admin runs on that user's own tmux server ([`crate::tmux::Servers`]) inside the
//! sandbox ([`crate::sandbox`]): the user's own agent HOME, the workspace roots an admin
//! granted them read-write, the daemon's state, sockets and other users' data hidden. The
//! local operator's and the admins' sessions run on llmux's own server as the daemon's user.
//! Whether a session is confined is decided at every (re)start from its owner as they are
//! then, so a session started before this existed moves into the sandbox at its next restart.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use super::SessionService;
use crate::error::{Error, Result};
use crate::paths::Paths;
use crate::sandbox::{self, Account, Confinement};
use crate::store::{SessionRecord, Store};
use crate::tmux::{PaneInfo, Tmux};

/// How the daemon confines the sessions of users who are not admins.
#[derive(Debug, Clone)]
pub struct Isolation {
    /// The daemon's paths: what the sandbox hides, where agent HOMEs, default workspaces and
    /// per-user tmux sockets live.
    pub paths: Paths,
    /// The daemon user's HOME (hidden inside).
    pub daemon_home: PathBuf,
    /// A system daemon (`server.mode: system`, run as root): every user's sessions run as the
    /// Unix account mapped to them, on a tmux server run as that account; non-admins' inside
    /// the sandbox on top. The local operator's stay root's, on llmux's own server.
    pub system: bool,
    /// The `llmux` binary, as found at daemon start: a session with a memory ceiling runs
    /// through its hidden `__cgroup-exec` ([`sandbox::cgroup`]). `None`: ceilings cannot be
    /// enforced (spawns of users who have one are refused).
    pub exec_helper: Option<PathBuf>,
}

/// Where one spawn goes and what it runs.
pub(super) struct Target {
    /// The tmux server.
    pub tmux: Arc<Tmux>,
    /// The pane's argv: the agent's, or bwrap's around it.
    pub argv: Vec<String>,
    /// The env given to tmux (`-e`); empty when confined (bwrap sets the agent's own).
    pub env: BTreeMap<String, String>,
    /// Whether `argv` is the sandbox.
    pub confined: bool,
}

/// What the store says about an owner, for the decision.
#[derive(Clone)]
struct Owner {
    confined: bool,
    roots: Vec<PathBuf>,
    /// Every other user's granted roots (hidden from this one unless also granted to them).
    others: Vec<PathBuf>,
    /// The Unix account mapped to the user (system daemon only).
    account: Option<Account>,
    /// The memory ceiling of each of the user's sessions, in MiB.
    memory_mb: Option<u32>,
}

/// Whether each session ran confined when last seen running (its agent's files are in the
/// sandbox HOME then, also after it stopped).
#[derive(Debug, Default)]
pub(super) struct LastConfined(RwLock<HashMap<String, bool>>);

impl LastConfined {
    /// Notes what a listing of live panes says.
    pub fn note<'a>(&self, panes: impl IntoIterator<Item = &'a PaneInfo>) {
        let mut map = self.0.write().expect("confined lock");
        for pane in panes {
            map.insert(pane.session.clone(), pane.confined);
        }
    }

    fn get(&self, name: &str) -> Option<bool> {
        self.0.read().expect("confined lock").get(name).copied()
    }
}

impl SessionService {
    /// The sandbox HOME of the session's owner when the session runs or last ran confined;
    /// for one not seen running since this start, when that HOME exists.
    /// Under a system daemon: the HOME of the account the owner's server runs as.
    pub(super) fn sandbox_home(&self, record: &SessionRecord) -> Option<PathBuf> {
        let iso = self.opts.isolation.as_ref().filter(|_| !record.owner.is_empty())?;
        if iso.system {
            return self.servers.account_of(&record.owner).map(|a| a.home);
        }
        let home = sandbox::agent_home(&iso.paths, &record.owner).ok()?;
        let confined = match self.last_confined.get(&record.name) {
            Some(confined) => confined,
            None => home.is_dir(),
        };
        confined.then_some(home)
    }

    /// A session moving into the sandbox (personal daemon) takes its owner's conversations of
    /// its agent and cwd along: each one-file transcript the store records as the owner's is
    /// copied from the HOME the session ran with into the sandbox HOME, where its agent now
    /// reads and resumes them. Never a shared database (OpenCode's, Copilot's: other people's
    /// conversations are in it), never over a file already there. Best effort: logged.
    pub(super) async fn carry_history(&self, record: &SessionRecord) {
        let Some(iso) = self.opts.isolation.as_ref().filter(|i| !i.system) else { return };
        let kind = self.kind_of(&record.agent);
        if record.owner.is_empty()
            || !kind.has_history()
            || self.last_confined.get(&record.name) == Some(true)
        {
            return;
        }
        let Ok(new_home) = sandbox::agent_home(&iso.paths, &record.owner) else { return };
        let old_home = super::status::agent_home(record, &self.opts.home);
        let (cwd, owner) = (record.cwd.clone(), record.owner.clone());
        let store = self.store.clone();
        let carried = super::blocking(move || {
            let mut carried = 0;
            for id in store.owned_conversations(kind.key(), &cwd, &owner)? {
                let Ok(Some(t)) = kind.transcript(&old_home, Path::new(&cwd), Some(&id)) else {
                    continue;
                };
                let own_file =
                    t.path.file_name().is_some_and(|n| n.to_string_lossy().contains(&id))
                        && t.path.extension().is_some_and(|e| e == "jsonl" || e == "json");
                let Ok(rel) = t.path.strip_prefix(&old_home) else { continue };
                let dest = new_home.join(rel);
                if !own_file || dest.exists() {
                    continue;
                }
                if let Some(dir) = dest.parent() {
                    std::fs::create_dir_all(dir).map_err(|e| Error::io("cannot create", e))?;
                }
                std::fs::copy(&t.path, &dest).map_err(|e| Error::io("cannot copy", e))?;
                carried += 1;
            }
            Ok(carried)
        })
        .await;
        match carried {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(session.name = %record.name, conversations = n, "history carried into the sandbox")
            }
            Err(e) => {
                tracing::warn!(session.name = %record.name, error = %e, "cannot carry history into the sandbox")
            }
        }
    }

    /// Whether `owner`'s sessions are confined, with their granted roots (created when they
    /// are the default workspace). Off the runtime: the store and the filesystem block.
    async fn owner(&self, owner: &str) -> Result<Option<(Isolation, Owner)>> {
        let Some(iso) = self.opts.isolation.clone().filter(|_| !owner.is_empty()) else {
            return Ok(None);
        };
        let owner = owner.to_owned();
        self.db(move |store| {
            let found = owner_in_store(store, &iso, &owner)?;
            Ok(Some((iso, found)))
        })
        .await
    }

    /// A handle on every owner's server (run as their account under a system daemon), so the
    /// first refresh finds the sessions already running there; each running one is prepared
    /// and sealed at once ([`Tmux::prepare`]: it may have been unsealed since it started).
    pub(super) async fn bind_servers(&self) -> Result<()> {
        let owners: std::collections::BTreeSet<String> = {
            let records = self.records.read().expect("records lock");
            records.values().map(|r| r.owner.clone()).filter(|o| !o.is_empty()).collect()
        };
        for owner in owners {
            let tmux = match self.owner(&owner).await {
                Ok(Some((_, o))) if o.account.is_some() => {
                    self.servers.bind(&owner, o.account.expect("checked"))
                }
                Ok(Some((iso, _))) if !iso.system => self.servers.of(&owner)?,
                Ok(_) => continue,
                Err(e) => {
                    tracing::warn!(owner, error = %e, "cannot find this user's tmux server");
                    continue;
                }
            };
            if tmux.socket().exists() {
                tmux.prepare().await?;
            }
        }
        Ok(())
    }

    /// The cwd of `owner`'s session: `requested` (already checked to be a directory), or when
    /// none, the first granted root for a confined user (or a mapped account's HOME), else the
    /// daemon's HOME. A confined user's cwd must lie inside their granted roots: refused here,
    /// before anything is recorded (the sandbox checks again at spawn). One look at the owner.
    pub(super) async fn owner_cwd(
        &self,
        owner: &str,
        requested: Option<PathBuf>,
    ) -> Result<PathBuf> {
        let found = self.owner(owner).await?;
        let Some(cwd) = requested else {
            return match found {
                Some((iso, o)) if iso.system && o.account.is_none() => Err(no_account(owner)),
                Some((_, o)) if o.confined || o.account.is_some() => Ok(o.roots[0].clone()),
                _ => Ok(self.opts.home.clone()),
            };
        };
        let Some((_, o)) = found.filter(|(_, o)| o.confined) else { return Ok(cwd) };
        // Symlinks and `..` resolved, as the sandbox will (a stat: cheap, and rare).
        let real = cwd.canonicalize().unwrap_or_else(|_| cwd.clone());
        if o.roots.iter().any(|r| real.starts_with(r)) {
            return Ok(cwd);
        }
        let roots: Vec<String> = o.roots.iter().map(|r| r.display().to_string()).collect();
        Err(Error::invalid(format!(
            "cwd {} is not inside a workspace root granted to {owner:?} ({}); an admin can \
             grant more with: llmux user edit {owner} --root PATH",
            cwd.display(),
            roots.join(", ")
        )))
    }

    /// How commands (git, a worktree's setup, an upload's write) run as `owner`'s agents
    /// run, decided once from the store ([`RunAs`]).
    pub(crate) async fn run_as(&self, owner: &str) -> Result<RunAs> {
        let how = match self.owner(owner).await? {
            Some((iso, o)) if iso.system && o.account.is_none() => return Err(no_account(owner)),
            Some((_, o)) if o.account.is_none() && !o.confined => None,
            found => found,
        };
        Ok(RunAs { owner: owner.to_owned(), how })
    }

    /// How to run git as `owner`'s sessions run, with the roots the commands must stay in
    /// (`None`: unconfined).
    pub(super) async fn runner_for(
        &self,
        owner: &str,
    ) -> Result<(crate::git::Runner, Option<Vec<PathBuf>>)> {
        use crate::git::Runner;
        let run_as = self.run_as(owner).await?;
        if run_as.how.is_none() {
            return Ok((Runner::direct(), None));
        }
        let roots = run_as.roots();
        let wrap: crate::git::worktree::Wrapper =
            Arc::new(move |cwd: &Path, argv: Vec<String>, env: &[(&str, &str)]| {
                run_as.argv(cwd, argv, env)
            });
        Ok((Runner::wrapped(wrap), roots))
    }

    /// Where a spawn of `owner`'s session `name` goes and the argv its pane runs (inside the
    /// session's memory cgroup when the owner has a ceiling).
    pub(super) async fn target(
        &self,
        owner: &str,
        name: &str,
        cwd: &Path,
        argv: Vec<String>,
        env: BTreeMap<String, String>,
    ) -> Result<Target> {
        let found = self.owner(owner).await?;
        let Some((iso, o)) = found else {
            let tmux = self.servers.main().clone();
            return Ok(Target { tmux, argv, env, confined: false });
        };
        let tmux = match (&o.account, iso.system) {
            (Some(account), _) => self.servers.bind(owner, account.clone()),
            (None, true) => return Err(no_account(owner)),
            (None, false) if o.confined => self.servers.of(owner)?,
            (None, false) => self.servers.main().clone(),
        };
        let ceiling = o.memory_mb.map(|mb| Ceiling {
            mb,
            account: o.account.as_ref().map(|a| (a.uid, a.gid)),
            helper: iso.exec_helper.clone(),
        });
        let target = if o.confined {
            let (owner, cwd) = (owner.to_owned(), cwd.to_owned());
            let argv = super::blocking(move || sandboxed(&iso, &owner, o, &cwd, argv, env)).await?;
            Target { tmux, argv, env: BTreeMap::new(), confined: true }
        } else {
            Target { tmux, argv, env, confined: false }
        };
        let Some(ceiling) = ceiling else { return Ok(target) };
        let (owner, key) = (owner.to_owned(), self.cgroup_key(name));
        let argv = super::blocking(move || ceiling.wrap(&owner, &key, target.argv)).await?;
        Ok(Target { argv, ..target })
    }

    /// The argv that runs `argv` in `cwd` the way `owner`'s agents run, with `env` added to
    /// its environment ([`RunAs::argv`], off the runtime).
    pub(crate) async fn as_owner(
        &self,
        owner: &str,
        cwd: &Path,
        argv: Vec<String>,
        env: &'static [(&'static str, &'static str)],
    ) -> Result<Vec<String>> {
        let run_as = self.run_as(owner).await?;
        let cwd = cwd.to_owned();
        super::blocking(move || run_as.argv(&cwd, argv, env)).await
    }

    /// The name of session `name`'s memory cgroup: the session's name after a hash of this
    /// daemon's tmux socket, so two daemons sharing a cgroup never share a session's.
    fn cgroup_key(&self, name: &str) -> String {
        // FNV-1a: stable across builds, so an upgraded daemon still finds its cgroups.
        let hash = crate::paths::fnv1a(self.servers.main().socket().as_os_str());
        format!("{hash:016x}-{name}")
    }

    /// Moves a renamed session's memory cgroup along, off the runtime (best effort).
    pub(super) async fn rename_cgroup(&self, old: &str, new: &str) {
        let (old, new) = (self.cgroup_key(old), self.cgroup_key(new));
        let _ = tokio::task::spawn_blocking(move || sandbox::cgroup::rename(&old, &new)).await;
    }

    /// Removes the memory cgroup of a session that ended (stopped, killed, removed), off the
    /// runtime; best effort (see [`sandbox::cgroup::release`]).
    pub(super) async fn release_cgroup(&self, name: &str) {
        let key = self.cgroup_key(name);
        let _ = tokio::task::spawn_blocking(move || sandbox::cgroup::release(&key)).await;
    }
}

/// How commands the daemon runs on a user's files run: inside the sandbox for a confined
/// owner, as the owner's Unix account under a system daemon (`setpriv`), else as they are (the
/// daemon's user, whose sessions run as it). Such a command reaches what the owner's agent
/// reaches, and nothing a process in the session planted (a symlink, a repo config) can take
/// it further.
#[derive(Clone)]
pub(crate) struct RunAs {
    owner: String,
    /// `None`: as the daemon's user.
    how: Option<(Isolation, Owner)>,
}

impl RunAs {
    /// The workspace roots the commands must stay in (`None`: unconfined).
    pub fn roots(&self) -> Option<Vec<PathBuf>> {
        self.how.as_ref().filter(|(_, o)| o.confined).map(|(_, o)| o.roots.clone())
    }

    /// The argv that runs `argv` in `cwd` with `env` added to the environment it gets: the
    /// daemon's for an unwrapped command, the sandbox's for a confined one (bwrap clears the
    /// rest), the account's own clean one under `setpriv` (which would keep root's: HOME=/root,
    /// where git fails reading its config). The variables travel in the argv because a wrapper
    /// clears what the command's process is given. The caller still sets `cwd` as the
    /// command's directory (bwrap is told it too). Blocking: the sandbox looks at the disk.
    pub fn argv(&self, cwd: &Path, argv: Vec<String>, env: &[(&str, &str)]) -> Result<Vec<String>> {
        let pairs = || env.iter().map(|(k, v)| format!("{k}={v}"));
        let Some((iso, o)) = &self.how else {
            if env.is_empty() {
                return Ok(argv);
            }
            return Ok(["env".to_owned()].into_iter().chain(pairs()).chain(argv).collect());
        };
        let prefix = o.account.as_ref().map(Account::setpriv).unwrap_or_default();
        let argv = if o.confined {
            let env = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
            sandboxed(iso, &self.owner, o.clone(), cwd, argv, env)?
        } else if let Some(account) = &o.account {
            let clean = account_env(account).into_iter().map(|(k, v)| format!("{k}={v}"));
            ["env".to_owned(), "-i".to_owned()]
                .into_iter()
                .chain(clean)
                .chain(pairs())
                .chain(argv)
                .collect()
        } else {
            argv
        };
        Ok(prefix.into_iter().chain(argv).collect())
    }
}

/// A memory ceiling to put a spawn under.
struct Ceiling {
    mb: u32,
    /// The account the pane runs as (it must be able to move itself in).
    account: Option<(u32, u32)>,
    helper: Option<PathBuf>,
}

impl Ceiling {
    /// Makes the session's cgroup and wraps the pane's argv to enter it before anything
    /// forks. Where no memory cgroup can be managed, the spawn is refused: a ceiling an
    /// admin set is never silently not enforced. Blocking.
    fn wrap(self, owner: &str, name: &str, argv: Vec<String>) -> Result<Vec<String>> {
        let refuse = |why: String| {
            Error::Conflict(format!(
                "{owner:?}'s sessions have a memory ceiling of {} MiB, which cannot be enforced \
                 here: {why}; an admin can lift it with: llmux user edit {owner} \
                 --no-memory-limit",
                self.mb
            ))
        };
        let h = sandbox::cgroup::hierarchy().map_err(|e| refuse(e.0))?;
        if self.account.is_some() && h.version == sandbox::cgroup::Version::V2 {
            // v2 also asks for write access to the common ancestor of the pane's cgroup and
            // the session's, which only root has here.
            return Err(refuse(
                "on cgroup v2 a pane running as the user's Unix account cannot move itself \
                 into the session's cgroup (needs cgroup v1 here)"
                    .into(),
            ));
        }
        let helper = self.helper.ok_or_else(|| refuse("the llmux binary is unknown".into()))?;
        let procs = h.create(name, self.mb, self.account).map_err(refuse)?;
        Ok(sandbox::cgroup::wrap(&helper, &procs, argv))
    }
}

/// The environment of a command run as `account` outside the sandbox: the agents' kept
/// variables and the account's own HOME (`setpriv` would keep root's).
fn account_env(account: &Account) -> Vec<(String, String)> {
    let home = ("HOME".to_owned(), account.home.to_string_lossy().into_owned());
    sandbox::agent_env(std::env::vars(), [home])
}

fn no_account(owner: &str) -> Error {
    Error::Conflict(format!(
        "{owner:?} has no Unix account to run sessions as; an admin maps one with: llmux user \
         edit {owner} --unix-account NAME"
    ))
}

fn owner_in_store(store: &Store, iso: &Isolation, owner: &str) -> Result<Owner> {
    let paths = &iso.paths;
    let users = store.owner_facts()?;
    // A session whose owner is gone (or never was a user) is confined: never the other way.
    let me = users.iter().find(|u| u.username == owner);
    let confined = me.is_none_or(|u| !u.admin);
    let account = match me.and_then(|u| u.unix_account.as_deref()).filter(|_| iso.system) {
        Some(name) => {
            let account = Account::lookup(name)?.ok_or_else(|| {
                Error::Conflict(format!(
                    "{owner:?} is mapped to Unix account {name:?}, which does not exist"
                ))
            })?;
            account.check_mappable()?;
            Some(account)
        }
        None => None,
    };
    let granted = match (me, &account) {
        // Under a system daemon, the account's own HOME is the default workspace.
        (Some(user), Some(account)) if user.roots.is_empty() => vec![account.home.clone()],
        (Some(user), _) => user.granted_roots(paths),
        (None, _) => vec![paths.default_workspace(owner)],
    };
    let default = paths.default_workspace(owner);
    if confined && !iso.system && granted.contains(&default) {
        sandbox::ensure_private_dir(&default)?;
    }
    let canonical = |r: PathBuf| r.canonicalize().unwrap_or(r);
    let roots: Vec<PathBuf> = granted.into_iter().map(canonical).collect();
    let mut others = Vec::new();
    for user in users.iter().filter(|u| u.username != owner) {
        for root in user.granted_roots(paths).into_iter().map(canonical) {
            if !roots.iter().any(|r| root.starts_with(r)) {
                others.push(root);
            }
        }
    }
    let memory_mb = me.and_then(|u| u.max_session_memory_mb);
    Ok(Owner { confined, roots, others, account, memory_mb })
}

/// The bwrap argv around `argv` for `owner`'s session in `cwd`.
fn sandboxed(
    iso: &Isolation,
    owner: &str,
    o: Owner,
    cwd: &Path,
    argv: Vec<String>,
    env: BTreeMap<String, String>,
) -> Result<Vec<String>> {
    let bwrap = sandbox::probe().map_err(|e| {
        Error::Conflict(format!(
            "{owner:?}'s sessions must run in the sandbox, which cannot run here: {e}"
        ))
    })?;
    let mut hidden = sandbox::default_hidden(&iso.paths, &iso.daemon_home, std::env::vars());
    hidden.extend(o.others);
    let home = match &o.account {
        Some(account) => {
            // bwrap runs as the account: it cannot even look at what the account cannot
            // reach, and needs not hide it.
            hidden.retain(|path| account.can_reach(path));
            account.home.clone()
        }
        None => {
            let home = sandbox::agent_home(&iso.paths, owner)?;
            sandbox::ensure_private_dir(&home)?;
            home
        }
    };
    let mut read_only = sandbox::default_read_only();
    let path_env = std::env::var("PATH").ok();
    if let Some(program) = argv.first() {
        // `/tmp` is the sandbox's own too: an agent installed there is shown again.
        let replaced: Vec<PathBuf> =
            hidden.iter().cloned().chain([PathBuf::from("/tmp")]).collect();
        read_only.extend(sandbox::install_dirs(program, path_env.as_deref(), &replaced));
    }
    let confinement = Confinement {
        home,
        roots: o.roots,
        cwd: cwd.to_owned(),
        hidden,
        read_only,
        tmux_dir: None,
        env: sandbox::agent_env(std::env::vars(), env),
        argv: argv.into_iter().map(Into::into).collect(),
    };
    let plan = confinement.plan()?;
    plan.bwrap_argv(bwrap)
        .into_iter()
        .map(|a| {
            a.into_string().map_err(|a| {
                Error::invalid(format!("a sandbox path is not UTF-8: {}", a.to_string_lossy()))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_the_daemon_a_command_runs_as_it_is_and_gets_its_variables_in_the_argv() {
        let run_as = RunAs { owner: "admin".into(), how: None };
        let git = || vec!["git".to_owned(), "status".to_owned()];
        assert_eq!(run_as.argv(Path::new("/"), git(), &[]).unwrap(), git());
        assert_eq!(
            run_as.argv(Path::new("/"), git(), &[("GIT_EDITOR", "true")]).unwrap(),
            ["env", "GIT_EDITOR=true", "git", "status"]
        );
        assert!(run_as.roots().is_none());
    }
}
