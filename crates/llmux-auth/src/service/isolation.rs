//! The per-user isolation settings an admin controls (issue 15): the workspace roots granted to
//! a user's confined sessions and the most sessions they may have; the refusal to make a
//! non-admin when the sandbox cannot run; the session limit at creation.
//!
//! Roots are checked here, at the edge, and stored resolved, so whoever reads them (the session
//! service, building a sandbox) gets absolute canonical paths of directories that were fine
//! when granted.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use llmux_core::paths::Paths;
use tokio::sync::OwnedMutexGuard;

use super::AuthService;
use crate::store::AuthStore;
use crate::{Error, Result};

/// Most workspace roots one user may be granted.
pub const MAX_ROOTS: usize = 16;
/// Highest session limit an admin may set (the lowest is 1).
pub const MAX_SESSIONS_LIMIT: u32 = 1000;

impl AuthService {
    /// Makes the Unix account `llmux-<username>` (`useradd --create-home --user-group`) for a
    /// system daemon's user; returns its name. Root only; an existing account of that name is
    /// refused (map it by name instead).
    pub(crate) async fn create_unix_account(&self, username: &str) -> Result<String> {
        let name = format!("llmux-{username}");
        let made = {
            let name = name.clone();
            tokio::task::spawn_blocking(move || llmux_core::sandbox::Account::create(&name))
        };
        made.await.map_err(|e| Error::Invalid(format!("cannot make the account: {e}")))??;
        Ok(name)
    }

    /// Checks a Unix account an admin maps `username` to: it exists, is not root nor the
    /// daemon's own, and no other user has it. Returns its name.
    pub(crate) async fn check_unix_account(&self, username: &str, name: String) -> Result<String> {
        let found = {
            let name = name.clone();
            tokio::task::spawn_blocking(move || llmux_core::sandbox::Account::lookup(&name))
                .await
                .map_err(|e| Error::Invalid(format!("cannot look the account up: {e}")))??
        };
        let account =
            found.ok_or_else(|| Error::Invalid(format!("no Unix account named {name:?}")))?;
        account.check_mappable()?;
        let users = self.db(|s| s.list_users()).await?;
        if let Some(other) =
            users.iter().find(|u| u.username != username && u.unix_account.as_ref() == Some(&name))
        {
            return Err(Error::Conflict(format!(
                "Unix account {name:?} is already {:?}'s; each user needs an account of their own",
                other.username
            )));
        }
        Ok(name)
    }
}

/// Whether the sandbox for non-admin sessions can run here; `Err` says why and how to enable
/// it. Blocking.
pub(crate) type Probe = fn() -> std::result::Result<(), String>;

/// The real probe: [`llmux_core::sandbox::probe`] (run once per process, then cached).
pub(crate) fn sandbox_probe() -> std::result::Result<(), String> {
    llmux_core::sandbox::probe().map(drop).map_err(|e| e.0)
}

/// Checks the roots an admin grants and resolves them: each must be an absolute path of an
/// existing directory; it is stored canonical (symlinks and `..` resolved), and the resolved
/// path must not be `/`, lie in `/proc`, `/dev` or `/sys`, be or contain the daemon's state or
/// runtime dir, or lie inside them (except under `<state>/workspaces/`, where default
/// workspaces live). At most [`MAX_ROOTS`]; duplicates (after resolving) count once.
pub(crate) fn resolve_roots(raw: &[String], paths: &Paths) -> Result<Vec<String>> {
    if raw.len() > MAX_ROOTS {
        return Err(Error::Invalid(format!(
            "at most {MAX_ROOTS} workspace roots may be granted ({} given)",
            raw.len()
        )));
    }
    let state = resolved(&paths.state_dir);
    let run = resolved(&paths.run_dir);
    let workspaces = state.join("workspaces");
    let mut roots = Vec::new();
    for given in raw {
        let root = resolve_root(given, &state, &run, &workspaces)?;
        if !roots.contains(&root) {
            roots.push(root);
        }
    }
    Ok(roots)
}

/// A path with symlinks resolved when it exists, as it is otherwise.
fn resolved(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

fn resolve_root(given: &str, state: &Path, run: &Path, workspaces: &Path) -> Result<String> {
    let refuse = |why: &str| Err(Error::Invalid(format!("workspace root {given:?} {why}")));
    if !Path::new(given).is_absolute() {
        return refuse("is not an absolute path");
    }
    let canonical = match std::fs::canonicalize(given) {
        Ok(path) => path,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return refuse("does not exist"),
        Err(e) => return refuse(&format!("cannot be resolved: {e}")),
    };
    let Some(text) = canonical.to_str() else {
        return refuse("resolves to a path that is not valid UTF-8");
    };
    // Name the resolved path too when it differs, so a symlink's target is visible.
    let is = if text == given { String::new() } else { format!("(resolved to {text:?}) ") };
    let refuse = |why: &str| Err(Error::Invalid(format!("workspace root {given:?} {is}{why}")));
    if !canonical.is_dir() {
        return refuse("is not a directory");
    }
    if canonical == Path::new("/") {
        return refuse("is the whole filesystem; grant a directory");
    }
    for system in ["/proc", "/dev", "/sys"] {
        if canonical.starts_with(system) {
            return refuse(&format!("lies in {system}, which no session may write"));
        }
    }
    let dirs = [(state, "state"), (run, "runtime")];
    for (dir, what) in dirs {
        if dir.starts_with(&canonical) {
            return refuse(&format!(
                "is or contains the daemon's {what} directory {:?}",
                dir.display().to_string()
            ));
        }
    }
    for (dir, what) in dirs {
        let in_workspaces = canonical.starts_with(workspaces) && canonical != workspaces;
        if canonical.starts_with(dir) && !in_workspaces {
            return refuse(&format!(
                "lies inside the daemon's {what} directory {:?} (only folders under {:?} may \
                 be granted there)",
                dir.display().to_string(),
                workspaces.display().to_string()
            ));
        }
    }
    Ok(text.to_owned())
}

/// Checks a session limit: 1 to [`MAX_SESSIONS_LIMIT`].
pub(crate) fn check_max_sessions(max: u32) -> Result<u32> {
    if (1..=MAX_SESSIONS_LIMIT).contains(&max) {
        Ok(max)
    } else {
        Err(Error::Invalid(format!(
            "maxSessions must be 1-{MAX_SESSIONS_LIMIT} (or null for no limit), not {max}"
        )))
    }
}

/// Checks a memory ceiling per session, in MiB: [`cgroup::MIN_MB`] to [`cgroup::MAX_MB`].
///
/// [`cgroup::MIN_MB`]: llmux_core::sandbox::cgroup::MIN_MB
/// [`cgroup::MAX_MB`]: llmux_core::sandbox::cgroup::MAX_MB
pub(crate) fn check_session_memory(mb: u32) -> Result<u32> {
    use llmux_core::sandbox::cgroup::{MAX_MB, MIN_MB};
    if (MIN_MB..=MAX_MB).contains(&mb) {
        Ok(mb)
    } else {
        Err(Error::Invalid(format!(
            "maxSessionMemoryMb must be {MIN_MB}-{MAX_MB} MiB (or null for no ceiling), not {mb}"
        )))
    }
}

/// Refuses (409, with the reason and what makes it work) a memory ceiling where the daemon
/// cannot manage a memory cgroup: it would not be enforced. Probed once per process.
pub(crate) async fn require_memory_cgroups() -> Result<()> {
    let probed = tokio::task::spawn_blocking(|| llmux_core::sandbox::cgroup::hierarchy().map(drop))
        .await
        .map_err(|e| Error::Invalid(format!("cannot look for memory cgroups: {e}")))?;
    probed.map_err(|e| Error::Conflict(format!("a memory ceiling cannot be enforced: {e}")))
}

/// Held while a session is created for an owner with a session limit, so two creations at
/// once cannot both pass the count.
#[derive(Debug)]
pub(crate) struct SessionSlot {
    _guard: Option<OwnedMutexGuard<()>>,
}

/// One lock per owner creating a session right now.
#[derive(Debug, Default)]
pub(crate) struct CreationLocks(Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>);

impl AuthService {
    /// 409 with the probe's message (why, and how to enable it) unless the sandbox for
    /// non-admin sessions can run here.
    pub(crate) async fn require_sandbox(&self) -> Result<()> {
        let probe = self.probe;
        let outcome = tokio::task::spawn_blocking(probe)
            .await
            .map_err(|e| Error::Conflict(format!("the sandbox check failed: {e}")))?;
        outcome.map_err(|why| {
            Error::Conflict(format!(
                "non-admin users cannot be made on this machine: their sessions must run in a \
                 sandbox, and {why}"
            ))
        })
    }

    /// Reserves a new session of `owner` against their session limit: `count` says how many
    /// sessions they have now (asked while holding the owner's creation lock). 409 when at
    /// the limit. Keep the slot until the session exists. The local operator has no limit.
    pub(crate) async fn session_slot(
        &self,
        owner: &str,
        count: impl FnOnce() -> usize,
    ) -> Result<SessionSlot> {
        if owner.is_empty() {
            return Ok(SessionSlot { _guard: None });
        }
        let lock = {
            let mut locks = self.creating.0.lock().unwrap_or_else(|e| e.into_inner());
            locks.retain(|_, lock| Arc::strong_count(lock) > 1);
            locks.entry(owner.to_owned()).or_default().clone()
        };
        let guard = lock.lock_owned().await;
        let key = owner.to_owned();
        let limit = self.db(move |s| s.get_user(&key)).await?.and_then(|u| u.max_sessions);
        if let Some(max) = limit
            && count() >= max as usize
        {
            let sessions = if max == 1 { "session" } else { "sessions" };
            return Err(Error::Conflict(format!(
                "user {owner:?} may have at most {max} {sessions} (an admin can raise it: \
                 llmux user edit {owner} --max-sessions N)"
            )));
        }
        Ok(SessionSlot { _guard: Some(guard) })
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    /// A state dir with a runtime dir inside, a default workspace, and a few folders around.
    struct Fixture {
        _dir: tempfile::TempDir,
        base: PathBuf,
        paths: Paths,
    }

    impl Fixture {
        fn new() -> Fixture {
            let dir = tempfile::tempdir().unwrap();
            let base = dir.path().canonicalize().unwrap();
            let paths = Paths::in_state_dir(base.join("state"));
            for d in [&paths.run_dir, &paths.default_workspace("bob"), &base.join("proj/a")] {
                std::fs::create_dir_all(d).unwrap();
            }
            std::fs::write(base.join("file"), "x").unwrap();
            Fixture { _dir: dir, base, paths }
        }

        fn p(&self, rel: &str) -> String {
            self.base.join(rel).display().to_string()
        }

        fn refused(&self, root: &str) -> String {
            match resolve_roots(&[root.to_owned()], &self.paths) {
                Err(Error::Invalid(message)) => {
                    assert!(message.contains(&format!("{root:?}")), "{message}");
                    message
                }
                other => panic!("{root:?} was not refused: {other:?}"),
            }
        }
    }

    #[test]
    fn roots_are_resolved_and_deduplicated() {
        let f = Fixture::new();
        symlink(f.base.join("proj/a"), f.base.join("link")).unwrap();
        let given = [f.p("proj/a"), f.p("proj/a/../a/"), f.p("link"), f.p("proj")];
        let roots = resolve_roots(&given, &f.paths).unwrap();
        assert_eq!(roots, [f.p("proj/a"), f.p("proj")]);
        let ws = f.paths.default_workspace("bob").display().to_string();
        assert_eq!(resolve_roots(std::slice::from_ref(&ws), &f.paths).unwrap(), [ws]);
        assert!(resolve_roots(&[], &f.paths).unwrap().is_empty());
    }

    #[test]
    fn each_bad_root_is_refused_by_name() {
        let f = Fixture::new();
        assert!(f.refused("proj/a").contains("is not an absolute path"));
        assert!(f.refused("").contains("is not an absolute path"));
        assert!(f.refused(&f.p("missing")).contains("does not exist"));
        assert!(f.refused(&f.p("file")).contains("is not a directory"));
        assert!(f.refused("/").contains("whole filesystem"));
        assert!(f.refused(&f.p("proj/..")).contains("is or contains the daemon's state"));
        assert!(f.refused("/proc/self").contains("lies in /proc"));
        assert!(f.refused("/dev").contains("lies in /dev"));
        assert!(f.refused("/sys/kernel").contains("lies in /sys"));
        let state = f.paths.state_dir.display().to_string();
        assert!(f.refused(&state).contains("is or contains the daemon's state directory"));
        let run = f.paths.run_dir.display().to_string();
        assert!(f.refused(&run).contains("is or contains the daemon's runtime directory"));
        let u = f.paths.run_dir.join("u");
        std::fs::create_dir(&u).unwrap();
        let inside_run = u.display().to_string();
        assert!(f.refused(&inside_run).contains("inside the daemon's state directory"));
        std::fs::create_dir(f.paths.state_dir.join("homes")).unwrap();
        assert!(f.refused(&format!("{state}/homes")).contains("lies inside the daemon's state"));
        let dotdot = f.refused(&format!("{state}/homes/../run"));
        assert!(dotdot.contains(&format!("resolved to {run:?}")), "{dotdot}");
        // the workspaces dir itself holds every user's default workspace
        assert!(f.refused(&format!("{state}/workspaces")).contains("only folders under"));
        // a symlink is judged by where it leads, and the message says where
        symlink(&f.paths.state_dir, f.base.join("sneaky")).unwrap();
        let message = f.refused(&f.p("sneaky"));
        assert!(message.contains(&format!("resolved to {state:?}")), "{message}");

        let many: Vec<String> = (0..=MAX_ROOTS).map(|_| f.p("proj")).collect();
        let Err(Error::Invalid(message)) = resolve_roots(&many, &f.paths) else { panic!() };
        assert!(message.contains("at most 16"), "{message}");
    }

    #[test]
    fn a_runtime_dir_outside_the_state_dir_is_protected_too() {
        let f = Fixture::new();
        let mut paths = f.paths.clone();
        paths.run_dir = f.base.join("proj/a");
        let Err(Error::Invalid(message)) = resolve_roots(&[f.p("proj")], &paths) else { panic!() };
        assert!(message.contains("contains the daemon's runtime directory"), "{message}");
    }

    mod service {
        use llmux_api::{CreateUserRequest, TokenScope, UpdateUserRequest};
        use llmux_core::store::Store;

        use super::*;
        use crate::{Principal, UserPrincipal, Via};

        const WHY: &str = "bubblewrap is not installed: install it";

        fn unavailable() -> std::result::Result<(), String> {
            Err(WHY.to_owned())
        }

        fn available() -> std::result::Result<(), String> {
            Ok(())
        }

        /// A service with the admin `root` and the state dir `state` in a temp dir, whose
        /// sandbox probe answers `probe`.
        async fn service(probe: Probe) -> (Arc<AuthService>, tempfile::TempDir) {
            let dir = tempfile::tempdir().unwrap();
            let state = dir.path().join("state");
            std::fs::create_dir(&state).unwrap();
            let mut auth = AuthService::new(Arc::new(Store::open_in_memory().unwrap()), &state);
            Arc::get_mut(&mut auth).unwrap().probe = probe;
            auth.create_user(&Principal::LocalOperator, new_user("root", true)).await.unwrap();
            (auth, dir)
        }

        fn new_user(username: &str, admin: bool) -> CreateUserRequest {
            CreateUserRequest {
                username: username.into(),
                name: None,
                passphrase: "long passphrase".into(),
                admin,
            }
        }

        fn principal(username: &str, admin: bool, scope: TokenScope) -> Principal {
            Principal::User(UserPrincipal {
                username: username.into(),
                name: username.into(),
                admin,
                via: Via::Token { id: "t".into(), scope },
                limit: None,
                on_behalf_of: None,
                relayed_by: None,
            })
        }

        #[tokio::test]
        async fn no_non_admin_is_made_where_the_sandbox_cannot_run() {
            let (auth, _dir) = service(unavailable).await;
            let op = Principal::LocalOperator;
            let Err(Error::Conflict(message)) = auth.create_user(&op, new_user("bob", false)).await
            else {
                panic!("a non-admin was created without a sandbox")
            };
            assert!(message.contains(WHY), "{message}");
            assert!(auth.db(|s| s.get_user("bob")).await.unwrap().is_none());
            auth.create_user(&op, new_user("ann", true)).await.unwrap();
            let demote = UpdateUserRequest { admin: Some(false), ..Default::default() };
            let Err(Error::Conflict(message)) = auth.update_user(&op, "ann", demote).await else {
                panic!("an admin was demoted without a sandbox")
            };
            assert!(message.contains(WHY), "{message}");
            assert!(auth.db(|s| s.get_user("ann")).await.unwrap().unwrap().admin);
            // Other changes of an admin do not need the sandbox.
            let rename = UpdateUserRequest { name: Some("Ann".into()), ..Default::default() };
            assert_eq!(auth.update_user(&op, "ann", rename).await.unwrap().name, "Ann");

            let (auth, _dir) = service(available).await;
            assert!(!auth.create_user(&op, new_user("bob", false)).await.unwrap().admin);
        }

        #[tokio::test]
        async fn admins_set_roots_and_limits_and_the_change_is_audited() {
            let (auth, dir) = service(available).await;
            let op = Principal::LocalOperator;
            auth.create_user(&op, new_user("bob", false)).await.unwrap();
            let default = auth.paths.default_workspace("bob").display().to_string();
            let users = auth.list_users(&op).await.unwrap();
            let bob = users.into_iter().find(|u| u.username == "bob").unwrap();
            assert_eq!((bob.roots, bob.max_sessions), (vec![default.clone()], None));

            let proj = dir.path().canonicalize().unwrap().join("proj");
            std::fs::create_dir(&proj).unwrap();
            let proj = proj.display().to_string();
            let admin = principal("root", true, TokenScope::Admin);
            let req = UpdateUserRequest {
                roots: Some(vec![format!("{proj}/.")]),
                max_sessions: Some(Some(3)),
                ..Default::default()
            };
            let bob = auth.update_user(&admin, "bob", req).await.unwrap();
            assert_eq!((bob.roots, bob.max_sessions), (vec![proj.clone()], Some(3)));
            let stored = auth.db(|s| s.get_user("bob")).await.unwrap().unwrap();
            assert_eq!((stored.roots, stored.max_sessions), (vec![proj.clone()], Some(3)));

            // Absent fields are kept; null clears the limit, [] restores the default root.
            let keep = UpdateUserRequest { name: Some("Bob".into()), ..Default::default() };
            assert_eq!(auth.update_user(&admin, "bob", keep).await.unwrap().max_sessions, Some(3));
            let clear = UpdateUserRequest {
                roots: Some(Vec::new()),
                max_sessions: Some(None),
                unix_account: None,
                max_session_memory_mb: None,
                ..Default::default()
            };
            let bob = auth.update_user(&admin, "bob", clear).await.unwrap();
            assert_eq!((bob.roots, bob.max_sessions), (vec![default], None));

            let audit = auth.list_audit(100).await.unwrap();
            let details: Vec<_> = audit
                .iter()
                .filter(|e| e.action == "user_updated" && e.target == "bob")
                .map(|e| e.detail.as_str())
                .collect();
            assert_eq!(
                details,
                [
                    format!("maxSessions=3, roots={proj}").as_str(),
                    "maxSessions=none, roots=default"
                ]
            );

            // Bad values change nothing.
            let bad = UpdateUserRequest {
                roots: Some(vec![proj.clone()]),
                max_sessions: Some(Some(0)),
                ..Default::default()
            };
            assert!(matches!(auth.update_user(&admin, "bob", bad).await, Err(Error::Invalid(_))));
            let bad = UpdateUserRequest { roots: Some(vec!["/".into()]), ..Default::default() };
            assert!(matches!(auth.update_user(&admin, "bob", bad).await, Err(Error::Invalid(_))));
            let stored = auth.db(|s| s.get_user("bob")).await.unwrap().unwrap();
            assert_eq!((stored.roots.len(), stored.max_sessions), (0, None));
        }

        #[tokio::test]
        async fn only_admins_change_isolation_settings() {
            let (auth, _dir) = service(available).await;
            auth.create_user(&Principal::LocalOperator, new_user("bob", false)).await.unwrap();
            for caller in [
                principal("bob", false, TokenScope::User),
                principal("root", true, TokenScope::User),
                principal("root", true, TokenScope::ReadOnly),
            ] {
                let req = UpdateUserRequest { max_sessions: Some(Some(5)), ..Default::default() };
                let refused = auth.update_user(&caller, "bob", req).await;
                assert!(matches!(refused, Err(Error::Forbidden(_))), "{caller:?}");
            }
            let stored = auth.db(|s| s.get_user("bob")).await.unwrap().unwrap();
            assert_eq!(stored.max_sessions, None);
        }

        #[tokio::test]
        async fn the_session_limit_refuses_the_one_over() {
            let (auth, _dir) = service(available).await;
            let op = Principal::LocalOperator;
            auth.create_user(&op, new_user("bob", false)).await.unwrap();
            // no limit: any number
            drop(auth.session_slot("bob", || 500).await.unwrap());
            let req = UpdateUserRequest { max_sessions: Some(Some(2)), ..Default::default() };
            auth.update_user(&op, "bob", req).await.unwrap();
            drop(auth.session_slot("bob", || 1).await.unwrap());
            let Err(Error::Conflict(message)) = auth.session_slot("bob", || 2).await else {
                panic!("the third session was allowed")
            };
            assert_eq!(
                message,
                "user \"bob\" may have at most 2 sessions (an admin can raise it: llmux user \
                 edit bob --max-sessions N)"
            );
            // the local operator and unknown owners have no limit here
            drop(auth.session_slot("", || 10_000).await.unwrap());
            drop(auth.session_slot("ghost", || 10_000).await.unwrap());
            // a slot held blocks the next creation of the same owner until it is dropped
            let held = auth.session_slot("bob", || 0).await.unwrap();
            let waiting = {
                let auth = auth.clone();
                tokio::spawn(async move { auth.session_slot("bob", || 0).await.map(drop) })
            };
            tokio::task::yield_now().await;
            assert!(!waiting.is_finished());
            drop(held);
            waiting.await.unwrap().unwrap();
        }
    }

    #[test]
    fn session_limits_are_1_to_1000() {
        assert_eq!(check_max_sessions(1).unwrap(), 1);
        assert_eq!(check_max_sessions(1000).unwrap(), 1000);
        for bad in [0, 1001, u32::MAX] {
            let Err(Error::Invalid(message)) = check_max_sessions(bad) else { panic!() };
            assert!(message.contains("1-1000"), "{message}");
        }
    }

    #[test]
    fn the_memory_ceiling_is_64_mib_to_1_tib() {
        assert_eq!(check_session_memory(64).unwrap(), 64);
        assert_eq!(check_session_memory(1_048_576).unwrap(), 1_048_576);
        for bad in [0, 63, 1_048_577, u32::MAX] {
            let Err(Error::Invalid(message)) = check_session_memory(bad) else { panic!() };
            assert!(message.contains("64-1048576 MiB"), "{message}");
        }
    }
}
