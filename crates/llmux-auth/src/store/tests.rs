//! The records through their queries. (What the migrations keep of these tables is core's
//! test: `llmux_core::store`'s tests and `tests/migrations.rs`.)

use std::path::PathBuf;

use llmux_core::Error;
use llmux_core::paths::Paths;
use llmux_core::store::{Store, UserSessions};

use super::*;

fn user(name: &str, admin: bool) -> UserRecord {
    UserRecord {
        username: name.into(),
        name: name.into(),
        passphrase_hash: "h".into(),
        admin,
        created_at: 1,
        updated_at: 1,
        ..Default::default()
    }
}

fn token(id: &str, user: &str) -> TokenRecord {
    TokenRecord {
        id: id.into(),
        username: user.into(),
        name: "t".into(),
        scope: "user".into(),
        secret_hash: "x".into(),
        created_at: 1,
        expires_at: None,
        last_used_at: None,
        imported_from: None,
    }
}

/// Users, tokens and browser sessions through their life, with the last-admin rule.
#[test]
fn accounts_story() {
    let store = Store::open_in_memory().unwrap();
    assert!(store.insert_first_user(&user("root", true)).unwrap());
    assert!(!store.insert_first_user(&user("late", true)).unwrap(), "setup only once");
    assert!(matches!(store.insert_user(&user("root", false)), Err(Error::AlreadyExists(_))));
    store.insert_user(&user("bob", false)).unwrap();

    let mut demoted = user("root", false);
    demoted.updated_at = 2;
    assert!(matches!(store.update_user(&demoted), Err(Error::Conflict(_))));
    assert!(store.get_user("root").unwrap().unwrap().admin, "rolled back");
    assert!(matches!(store.delete_user("root", &UserSessions::End), Err(Error::Conflict(_))));

    store.insert_token(&token("t1", "bob")).unwrap();
    store.insert_token(&token("t2", "bob")).unwrap();
    store.insert_token(&token("t3", "root")).unwrap();
    assert_eq!(store.list_tokens(Some("bob")).unwrap().len(), 2);
    assert_eq!(store.list_tokens(None).unwrap().len(), 3);
    store.rename_token("t1", "laptop").unwrap();
    assert_eq!(store.get_token("t1").unwrap().unwrap().name, "laptop");

    let b = BrowserSessionRecord {
        id: "b1".into(),
        username: "bob".into(),
        secret_hash: "s".into(),
        user_agent: "ua".into(),
        created_at: 1,
        last_seen_at: 1,
        expires_at: 10,
        scope: "user".into(),
        limit_expires_at: Some(9),
    };
    store.insert_browser_session(&b).unwrap();
    assert_eq!(store.get_browser_session("b1").unwrap().unwrap(), b);
    let deleted = store.delete_user("bob", &UserSessions::End).unwrap();
    assert_eq!((deleted.tokens, deleted.browser_sessions), (2, vec!["b1".to_owned()]));
    assert!(store.get_token("t1").unwrap().is_none());
    assert!(store.get_browser_session("b1").unwrap().is_none());
    assert_eq!(store.list_tokens(None).unwrap().len(), 1);
    assert!(!format!("{:?}", user("x", false)).contains("\"h\""), "hash redacted in Debug");
}

/// Tokens and browser sessions: uses recorded, one or all of a user's ended, the expired
/// purged.
#[test]
fn credentials_end() {
    let store = Store::open_in_memory().unwrap();
    store.insert_user(&user("root", true)).unwrap();
    store.insert_token(&token("t1", "root")).unwrap();
    store.insert_token(&token("t2", "root")).unwrap();
    assert!(matches!(store.insert_token(&token("t1", "root")), Err(Error::AlreadyExists(_))));
    assert!(matches!(store.rename_token("nope", "x"), Err(Error::NotFound(_))));
    store.touch_token("t1", 42).unwrap();
    assert_eq!(store.get_token("t1").unwrap().unwrap().last_used_at, Some(42));
    assert!(store.delete_token("t1").unwrap());
    assert!(!store.delete_token("t1").unwrap());
    assert_eq!(store.delete_user_tokens("root").unwrap(), ["t2"]);
    assert!(store.list_tokens(None).unwrap().is_empty());

    let browser = |id: &str, expires_at: i64| BrowserSessionRecord {
        id: id.into(),
        username: "root".into(),
        secret_hash: "s".into(),
        user_agent: "ua".into(),
        created_at: expires_at,
        last_seen_at: 1,
        expires_at,
        scope: "admin".into(),
        limit_expires_at: None,
    };
    for (id, at) in [("b1", 10), ("b2", 20), ("b3", 30), ("b4", 40)] {
        store.insert_browser_session(&browser(id, at)).unwrap();
    }
    store.touch_browser_session("b1", 5).unwrap();
    assert_eq!(store.get_browser_session("b1").unwrap().unwrap().last_seen_at, 5);
    assert_eq!(store.purge_browser_sessions(10).unwrap(), 1);
    assert!(store.delete_browser_session("b2").unwrap());
    assert!(!store.delete_browser_session("b2").unwrap());
    assert_eq!(store.delete_user_browser_sessions("root", Some("b4")).unwrap(), ["b3"]);
    let left: Vec<_> =
        store.list_browser_sessions("root").unwrap().into_iter().map(|b| b.id).collect();
    assert_eq!(left, ["b4"]);
}

/// Roots and the session limit go in with the user, come back from get and list, and
/// change with update; no roots means the default workspace.
#[test]
fn isolation_settings_round_trip() {
    let store = Store::open_in_memory().unwrap();
    store.insert_user(&user("root", true)).unwrap();
    let mut bob = user("bob", false);
    bob.roots = vec!["/srv/a".into(), "/srv/b c".into()];
    bob.max_sessions = Some(3);
    store.insert_user(&bob).unwrap();
    assert_eq!(store.get_user("bob").unwrap().unwrap(), bob);
    let root = store.get_user("root").unwrap().unwrap();
    assert_eq!((root.roots.len(), root.max_sessions), (0, None));
    let listed = store.list_users().unwrap();
    assert_eq!(listed.iter().find(|u| u.username == "bob"), Some(&bob));
    assert_eq!(store.count_users().unwrap(), 2);

    bob.roots = vec!["/srv/only".into()];
    bob.max_sessions = None;
    bob.updated_at = 2;
    store.update_user(&bob).unwrap();
    assert_eq!(store.get_user("bob").unwrap().unwrap(), bob);
    bob.roots.clear();
    bob.max_sessions = Some(1000);
    store.update_user(&bob).unwrap();
    assert_eq!(store.get_user("bob").unwrap().unwrap(), bob);
    assert!(matches!(store.update_user(&user("nobody", false)), Err(Error::NotFound(_))));

    let paths = Paths::in_state_dir(PathBuf::from("/s"));
    assert_eq!(bob.granted_roots(&paths), [PathBuf::from("/s/workspaces/bob")]);
    bob.roots = vec!["/srv/a".into(), "/srv/b".into()];
    assert_eq!(bob.granted_roots(&paths), [PathBuf::from("/srv/a"), PathBuf::from("/srv/b")]);
    // what core's confinement reads of the same user
    store.update_user(&bob).unwrap();
    let facts = store.owner_facts().unwrap().into_iter().find(|u| u.username == "bob").unwrap();
    assert_eq!(facts.granted_roots(&paths), bob.granted_roots(&paths));
}

/// An import is all or nothing and marks its users imported, and an imported user's hash is
/// replaced only while it is still the old one.
#[test]
fn imports_are_all_or_nothing_and_recorded() {
    let store = Store::open_in_memory().unwrap();
    store.insert_user(&user("bob", true)).unwrap();
    assert_eq!(store.user_imported_from("bob").unwrap(), None);

    let batch = ImportBatch { users: vec![user("old", false)], ..Default::default() };
    store.insert_imported(&batch, "llmux 0.41").unwrap();
    assert_eq!(store.user_imported_from("old").unwrap().as_deref(), Some("llmux 0.41"));
    assert!(store.imported_before("user", "old").unwrap());
    assert!(store.insert_imported(&batch, "llmux 0.41").is_err(), "all or nothing");
    assert!(!store.replace_passphrase_hash("old", "other", "new").unwrap());
    assert!(store.replace_passphrase_hash("old", "h", "new").unwrap());
    assert_eq!(store.get_user("old").unwrap().unwrap().passphrase_hash, "new");

    // a failing item (a session of nobody) undoes the users and tokens before it
    let batch = ImportBatch {
        users: vec![user("ann", false)],
        tokens: vec![token("sas_1", "ann")],
        sessions: vec![llmux_core::store::SessionRecord {
            name: "s@ghost".into(),
            agent: "shell".into(),
            cwd: "/tmp".into(),
            flags: None,
            env: Default::default(),
            init_prompts: vec![],
            resume_from: None,
            owner: "ghost".into(),
            parent: None,
            created_at: 1,
            updated_at: 1,
            started_at: 1,
        }],
    };
    assert!(matches!(store.insert_imported(&batch, "llmux 0.41"), Err(Error::NotFound(_))));
    assert!(store.get_user("ann").unwrap().is_none());
    assert!(store.get_token("sas_1").unwrap().is_none());
    assert!(!store.imported_before("user", "ann").unwrap());
    let mut batch = batch;
    batch.sessions[0].name = "s@ann".into();
    batch.sessions[0].owner = "ann".into();
    store.insert_imported(&batch, "llmux 0.41").unwrap();
    assert_eq!(store.get_token("sas_1").unwrap().unwrap().username, "ann");
    assert!(store.get_session("s@ann").unwrap().is_some());
    for (kind, key) in [("user", "ann"), ("token", "sas_1"), ("session", "s@ann")] {
        assert!(store.imported_before(kind, key).unwrap(), "{kind} {key}");
    }
}

#[test]
fn audit_keeps_the_newest() {
    let store = Store::open_in_memory().unwrap();
    for i in 0..5 {
        store
            .insert_audit(&AuditRecord {
                id: 0,
                ts: i,
                actor: "a".into(),
                action: format!("act{i}"),
                target: String::new(),
                detail: String::new(),
            })
            .unwrap();
    }
    let last: Vec<_> = store.list_audit(2).unwrap().into_iter().map(|a| a.action).collect();
    assert_eq!(last, ["act3", "act4"]);
}
