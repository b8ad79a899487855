//! The session facade against a real session service: policy, 404 masking, names, audit.

use llmux_api::{AgentState, StateEvent, TokenScope};
use llmux_core::agents::Catalog;
use llmux_core::sessions::{Broadcast, SessionOptions};
use llmux_core::store::{SessionRecord, Store};

use crate::store::{AuthStore, UserRecord};
use llmux_core::tmux::Tmux;

use super::*;
use crate::{UserPrincipal, Via};

/// The facade over a real session service (its own tmux socket, an in-memory store) with
/// three recorded, stopped sessions: the operator's `op`, alice's `a@alice`, bob's
/// `b@bob`.
struct Fixture {
    sessions: Sessions,
    auth: Arc<AuthService>,
    tmux: Arc<Tmux>,
    _dir: tempfile::TempDir,
}

impl Fixture {
    async fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open_in_memory().unwrap());
        for (username, admin) in [("alice", false), ("bob", false), ("root", true)] {
            store
                .insert_user(&UserRecord {
                    username: username.into(),
                    name: username.into(),
                    passphrase_hash: "x".into(),
                    admin,
                    created_at: 1,
                    updated_at: 1,
                    ..Default::default()
                })
                .unwrap();
        }
        let cwd = dir.path().to_string_lossy().into_owned();
        for (name, owner) in [("op", ""), ("a@alice", "alice"), ("b@bob", "bob")] {
            store
                .insert_session(&SessionRecord {
                    name: name.into(),
                    agent: "shell".into(),
                    cwd: cwd.clone(),
                    flags: None,
                    env: Default::default(),
                    init_prompts: Vec::new(),
                    resume_from: None,
                    owner: owner.into(),
                    parent: None,
                    created_at: 1,
                    updated_at: 1,
                    started_at: 1,
                })
                .unwrap();
        }
        let tmux = Arc::new(Tmux::new(dir.path().join("tmux.sock"), dir.path().join("t.conf")));
        tmux.write_conf().unwrap();
        let opts = SessionOptions { home: dir.path().to_owned(), ..Default::default() };
        let catalog = Arc::new(Catalog::builtin());
        let service =
            SessionService::start(store.clone(), tmux.clone(), catalog, opts).await.unwrap();
        let auth = AuthService::new(store, dir.path());
        Fixture { sessions: Sessions::new(service, auth.clone()), auth, tmux, _dir: dir }
    }

    async fn audited(&self) -> Vec<(String, String, String)> {
        let events = self.auth.list_audit(1000).await.unwrap();
        events.into_iter().map(|e| (e.actor, e.action, e.target)).collect()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let socket = self.tmux.socket().to_owned();
        let _ =
            std::process::Command::new("tmux").arg("-S").arg(socket).arg("kill-server").output();
    }
}

fn user(username: &str, admin: bool, scope: TokenScope) -> Principal {
    Principal::User(UserPrincipal {
        username: username.into(),
        name: username.into(),
        admin,
        via: Via::Token { id: format!("{username}-{}", scope.as_str()), scope },
        limit: None,
        on_behalf_of: None,
        relayed_by: None,
    })
}

/// How a call ended: refused by the table, masked as absent, or let through to the service
/// (whatever it then answered).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Refused,
    Masked,
    Through,
}

fn outcome<T>(result: Result<T>) -> Outcome {
    match result {
        Err(Error::Forbidden(_)) => Outcome::Refused,
        Err(Error::Core(llmux_core::Error::NotFound(m))) if m.starts_with("no session named") => {
            Outcome::Masked
        }
        _ => Outcome::Through,
    }
}

/// Every method that takes a session name, with the action the table is asked for. Changes
/// come first; they are only called where the table refuses them or the session is masked.
async fn call_each(
    s: &Sessions,
    p: &Principal,
    name: &str,
) -> Vec<(&'static str, Action, Outcome)> {
    use Action::{DriveSessions as Drive, ReadSessions as Read, ViewTerminal as View};
    let prompt = || Prompt { text: "hi".into(), ..Default::default() };
    let waited =
        || Prompt { text: "hi".into(), wait: Some(true), timeout: Some(1), ..Default::default() };
    let edit = SessionEdit { cwd: Some("/".into()), ..Default::default() };
    let broadcast =
        Broadcast { prompt: "hi".into(), enter: true, names: Some(vec![name.into()]), agent: None };
    vec![
        ("edit", Drive, outcome(s.edit(p, name, edit).await)),
        ("restart", Drive, outcome(s.restart(p, name).await)),
        ("resume", Drive, outcome(s.resume(p, name, "x").await)),
        ("stop", Drive, outcome(s.stop(p, name).await)),
        ("kill", Drive, outcome(s.kill(p, name).await)),
        ("remove", Drive, outcome(s.remove(p, name, false, None).await)),
        ("send", Drive, outcome(s.send(p, name, prompt()).await)),
        ("send --wait", Drive, outcome(s.send(p, name, waited()).await)),
        ("answer", Drive, outcome(s.answer(p, name, 1).await)),
        ("key", Drive, outcome(s.press_key(p, name, "Enter").await)),
        ("interrupt", Drive, outcome(s.interrupt(p, name).await)),
        ("broadcast", Drive, outcome(s.broadcast(p, broadcast).await)),
        ("attach", View, outcome(s.attach(p, name, false).await)),
        ("get", Read, outcome(s.get(p, name))),
        ("capture", Read, outcome(s.capture(p, name, 10).await)),
        ("conversations", Read, outcome(s.conversations(p, name).await)),
        ("transcript", Read, outcome(s.transcript(p, name).await)),
        ("transcript feed", Read, outcome(s.transcript_feed(p, name))),
        ("target", Action::OwnTokens, outcome(s.target(p, name, Action::OwnTokens))),
    ]
}

#[tokio::test]
async fn someone_elses_session_is_absent_to_every_method() {
    let f = Fixture::new().await;
    let before = f.audited().await;
    for p in [user("alice", false, TokenScope::User), user("alice", true, TokenScope::User)] {
        for name in ["b@bob", "op@", "nope"] {
            for (method, action, got) in call_each(&f.sessions, &p, name).await {
                assert!(allows(&p, action), "{method}");
                assert_eq!(got, Outcome::Masked, "{method} {name:?} as {p:?}");
            }
        }
    }
    // Nothing happened to anyone's session, and nothing was audited.
    assert!(f.sessions.get(&Principal::LocalOperator, "b@bob").is_ok());
    assert_eq!(f.audited().await, before);
}

#[tokio::test]
async fn each_method_refuses_what_the_table_refuses() {
    let f = Fixture::new().await;
    let before = f.audited().await;
    // A read-only credential on its own session: every change refused with 403, every read
    // let through (to the service, which answers what it answers).
    let read_only = user("alice", false, TokenScope::ReadOnly);
    let results = call_each(&f.sessions, &read_only, "a").await;
    for (method, action, got) in results {
        let want = if allows(&read_only, action) { Outcome::Through } else { Outcome::Refused };
        assert_eq!(got, want, "{method} ({action:?})");
    }
    let refused = f.sessions.kill(&read_only, "a").await.unwrap_err().to_string();
    assert_eq!(refused, "this token is read-only");
    // Read-only even on a terminal asked for read-write (the session is not running: 409).
    assert!(matches!(f.sessions.attach(&read_only, "a", false).await, Err(Error::NotRunning(_))));
    let create = NewSession { agent: "claude".into(), ..Default::default() };
    assert_eq!(outcome(f.sessions.create(&read_only, create).await), Outcome::Refused);
    assert_eq!(f.audited().await, before, "a refusal is not a change");
    assert!(f.sessions.get(&read_only, "a").is_ok(), "alice's session is still there");
}

#[tokio::test]
async fn only_admins_start_a_shell_or_read_any_directory() {
    let f = Fixture::new().await;
    let shell = || NewSession { agent: " shell ".into(), ..Default::default() };
    for p in [
        user("alice", false, TokenScope::User),
        user("alice", false, TokenScope::Admin),
        user("root", true, TokenScope::User),
    ] {
        let refused = f.sessions.create(&p, shell()).await.unwrap_err();
        assert!(matches!(refused, Error::Forbidden(_)), "{p:?}");
        assert_eq!(
            refused.to_string(),
            "the shell agent is for admins; start a coding agent instead"
        );
        let history = f.sessions.conversations_in(&p, "claude", "/").await.unwrap_err();
        assert!(matches!(history, Error::Forbidden(_)), "{p:?}");
    }
    assert!(f.sessions.list(&user("root", true, TokenScope::User)).is_ok());
    let root = user("root", true, TokenScope::Admin);
    assert!(f.sessions.conversations_in(&root, "claude", "/").await.is_ok());
    assert!(f.audited().await.is_empty(), "{:?}", f.audited().await);
}

#[tokio::test]
async fn lists_and_state_events_show_only_what_the_caller_may_see() {
    let f = Fixture::new().await;
    let alice = user("alice", false, TokenScope::ReadOnly);
    let names = |l: Listing| l.into_vec().into_iter().map(|v| v.name).collect::<Vec<_>>();
    assert_eq!(names(f.sessions.list(&alice).unwrap()), ["a"]);
    let mut all = names(f.sessions.list(&Principal::LocalOperator).unwrap());
    all.sort();
    assert_eq!(all, ["a@alice", "b@bob", "op"]);
    let root = user("root", true, TokenScope::Admin);
    let mut seen = names(f.sessions.list(&root).unwrap());
    seen.sort();
    assert_eq!(seen, ["a@alice", "b@bob", "op"], "the operator's without a suffix");

    let event = |name: &str, owner: &str| StateEvent {
        name: name.into(),
        owner: owner.into(),
        agent: "shell".into(),
        state: AgentState::Idle,
        previous: AgentState::Working,
        since: String::new(),
        waiting_for: None,
        prompt: None,
        resets_at: None,
    };
    assert!(f.sessions.state_event(&alice, event("b@bob", "bob")).is_none());
    assert!(f.sessions.state_event(&alice, event("op", "")).is_none());
    assert_eq!(f.sessions.state_event(&alice, event("a@alice", "alice")).unwrap().name, "a");
    assert_eq!(f.sessions.state_event(&root, event("b@bob", "bob")).unwrap().name, "b@bob");
    assert!(f.sessions.may_see(&root, "b@bob"));
    assert!(!f.sessions.may_see(&alice, "b@bob"));
}

#[tokio::test]
async fn a_change_is_audited_under_the_sessions_canonical_name() {
    let f = Fixture::new().await;
    let alice = user("alice", false, TokenScope::User);
    let edit = SessionEdit { name: Some("a2".into()), ..Default::default() };
    assert_eq!(f.sessions.edit(&alice, "a", edit).await.unwrap().name, "a2");
    f.sessions.remove(&alice, "a2", false, None).await.unwrap();
    let entry = |action: &str, target: &str| ("alice".into(), action.into(), target.into());
    assert_eq!(
        f.audited().await,
        [entry("session_renamed", "a2@alice"), entry("session_removed", "a2@alice")]
    );
}
