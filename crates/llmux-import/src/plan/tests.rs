//! The plan against hand-written 0.41 files: the edge cases the real package does not make.

use serde_json::json;

use crate::old::Locations;

use super::*;

/// A well-formed 0.41 hash (all-zero salt and digest) with cost `n`: planning only parses.
fn hash(n: u64) -> String {
    format!("scrypt${n}$AAAAAAAAAAAAAAAAAAAAAA==${}==", "A".repeat(86))
}

struct Setup {
    dir: tempfile::TempDir,
    store: Store,
    opts: Options,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let paths = Paths::in_state_dir(dir.path().join("state"));
    let opts = Options {
        paths,
        config_target: dir.path().join("config.yaml"),
        home: dir.path().to_owned(),
        owner: String::new(),
        llmux: "llmux".into(),
        dry_run: false,
    };
    Setup { store: Store::open_in_memory().unwrap(), dir, opts }
}

fn install(s: &Setup, users: Value, tokens: Value, sessions: Value) -> Install {
    let from = s.dir.path().join("old");
    std::fs::create_dir_all(&from).unwrap();
    std::fs::write(from.join("users.json"), users.to_string()).unwrap();
    std::fs::write(from.join("tokens.json"), tokens.to_string()).unwrap();
    let sessions = json!({"version": 1, "sessions": sessions});
    std::fs::write(from.join("sessions.json"), sessions.to_string()).unwrap();
    let loc = Locations {
        home: s.dir.path().to_owned(),
        xdg_data_home: None,
        xdg_state_home: None,
        tmux_tmpdir: Some(s.dir.path().join("no-tmux")),
        uid: 0,
    };
    Install::in_dir(&from, &loc)
}

fn user<'a>(plan: &'a Plan, username: &str) -> &'a UserPlan {
    plan.users.iter().find(|u| u.username == username).unwrap()
}

fn token<'a>(plan: &'a Plan, old_id: &str) -> &'a TokenPlan {
    plan.tokens.iter().find(|t| t.id == legacy::token_id(old_id)).unwrap()
}

fn secret_hash() -> &'static str {
    // base64 of a 32-byte digest
    "l7+XnRRZJVCqVdDgDuKKcy9SBySEC+JEq9yHa1BiFpE="
}

#[test]
fn bad_hashes_huge_costs_and_bad_entries_are_refused_with_their_reason() {
    let s = setup();
    let users = json!([
        {"username": "ok", "name": "Ok", "passphraseHash": hash(1024), "admin": false},
        {"username": "bad", "name": "Bad", "passphraseHash": "md5$1$abc$def", "admin": false},
        {"username": "huge", "name": "Huge", "passphraseHash": hash(1 << 30), "admin": true},
        {"username": "Upper Case", "name": "X", "passphraseHash": hash(1024)},
        {"username": "sneaky", "name": "S", "passphraseHash": hash(1024), "admin": "yes"},
        {"username": "ok", "name": "Twice", "passphraseHash": hash(1024), "admin": true},
        "not an object",
        {"username": "ctl", "name": "\u{1b}]0;pwned\u{7}", "passphraseHash": hash(1024)}
    ]);
    let tokens = json!([
        {"tokenId": "aaaaaaaaaaaaaaaa", "secretHash": secret_hash(), "username": "ok", "name": "t"},
        {"tokenId": "bbbbbbbbbbbbbbbb", "secretHash": secret_hash(), "username": "bad", "name": "t"},
        {"tokenId": "cccccccccccccccc", "secretHash": "short", "username": "ok", "name": "t"},
        {"tokenId": "../../etc", "secretHash": secret_hash(), "username": "ok", "name": "t"},
        {"tokenId": "dddddddddddddddd", "secretHash": secret_hash(), "username": "ok", "name": "t",
         "expiresAt": "2001-01-01T00:00:00.000Z"},
        {"tokenId": "eeeeeeeeeeeeeeee", "secretHash": secret_hash(), "username": "ok", "name": "t",
         "expiresAt": "some day"}
    ]);
    let i = install(&s, users, tokens, json!({}));
    let plan = plan(&[i], &s.store, &s.opts).unwrap();
    assert_eq!(user(&plan, "ok").action, Action::Import);
    assert_eq!(user(&plan, "ok").name, "Ok", "the first of two entries wins");
    let bad = user(&plan, "bad");
    assert_eq!(bad.action, Action::Refused);
    assert!(bad.notes[0].contains("algorithm"), "{:?}", bad.notes);
    let huge = user(&plan, "huge");
    assert_eq!(huge.action, Action::Refused);
    assert!(huge.notes[0].contains("maximum"), "{:?}", huge.notes);
    assert_eq!(user(&plan, "Upper Case").action, Action::Refused);
    let sneaky = user(&plan, "sneaky");
    assert_eq!((sneaky.action, sneaky.admin), (Action::Import, false), "only `true` grants admin");
    assert!(sneaky.notes[0].contains("non-admin"));
    assert_eq!(plan.users.iter().filter(|u| u.username == "ok").count(), 2);
    assert_eq!(
        plan.users.iter().find(|u| u.name.is_empty() && u.username.is_empty()).unwrap().action,
        Action::Refused
    );
    let ctl = user(&plan, "ctl");
    assert_eq!(
        (ctl.action, ctl.name.as_str()),
        (Action::Import, "ctl"),
        "control characters are not a name"
    );

    assert_eq!(token(&plan, "aaaaaaaaaaaaaaaa").action, Action::Import);
    assert_eq!(token(&plan, "aaaaaaaaaaaaaaaa").scope, TokenScope::User);
    let orphan = token(&plan, "bbbbbbbbbbbbbbbb");
    assert!(orphan.notes[0].contains("not brought over"), "{:?}", orphan.notes);
    assert!(token(&plan, "cccccccccccccccc").notes[0].contains("secretHash"));
    assert!(token(&plan, "../../etc").notes[0].contains("tokenId"));
    assert!(token(&plan, "dddddddddddddddd").notes[0].contains("expired"));
    assert!(token(&plan, "eeeeeeeeeeeeeeee").notes[0].contains("expiry"));

    apply(&plan, &s.store, &s.opts).unwrap();
    let names: Vec<String> =
        s.store.list_users().unwrap().into_iter().map(|u| u.username).collect();
    assert_eq!(names, ["ctl", "ok", "sneaky"]);
    assert!(!s.store.get_user("sneaky").unwrap().unwrap().admin);
    let tokens = s.store.list_tokens(None).unwrap();
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0].imported_from.as_deref(), Some(ORIGIN));
}

#[test]
fn accounts_made_here_are_never_touched_and_get_no_old_tokens() {
    let s = setup();
    let mine = UserRecord {
        username: "root".into(),
        name: "Root".into(),
        passphrase_hash: "$argon2id$mine".into(),
        admin: false,
        created_at: 1,
        updated_at: 1,
        ..Default::default()
    };
    s.store.insert_user(&mine).unwrap();
    let users =
        json!([{"username": "root", "name": "Evil", "passphraseHash": hash(1024), "admin": true}]);
    let tokens = json!([{"tokenId": "aaaaaaaaaaaaaaaa", "secretHash": secret_hash(), "username": "root", "name": "t"}]);
    let i = install(&s, users, tokens, json!({}));
    let plan = plan(std::slice::from_ref(&i), &s.store, &s.opts).unwrap();
    assert_eq!(user(&plan, "root").action, Action::AlreadyPresent);
    let t = token(&plan, "aaaaaaaaaaaaaaaa");
    assert_eq!(t.action, Action::Refused);
    assert!(t.notes[0].contains("not brought over from 0.41"), "{:?}", t.notes);
    apply(&plan, &s.store, &s.opts).unwrap();
    assert_eq!(s.store.get_user("root").unwrap().unwrap(), mine, "untouched");
    assert!(s.store.list_tokens(None).unwrap().is_empty());
}

#[test]
fn owner_gives_the_sessions_to_a_user_and_must_exist() {
    let mut s = setup();
    let cwd = s.dir.path().display().to_string();
    let users = json!([{"username": "bob", "name": "Bob", "passphraseHash": hash(1024)}]);
    let sessions = json!({"fix": {"name": "fix", "agent": "claude", "cwd": cwd, "parent": "fix"}});
    let i = install(&s, users, json!([]), sessions);
    s.opts.owner = "nobody".into();
    let err = plan(std::slice::from_ref(&i), &s.store, &s.opts).unwrap_err();
    assert!(err.contains("--owner nobody"), "{err}");
    s.opts.owner = "bob".into();
    let p = plan(std::slice::from_ref(&i), &s.store, &s.opts).unwrap();
    assert_eq!((p.sessions[0].name.as_str(), p.sessions[0].owner.as_str()), ("fix@bob", "bob"));
    apply(&p, &s.store, &s.opts).unwrap();
    let rec = s.store.get_session("fix@bob").unwrap().unwrap();
    assert_eq!((rec.owner.as_str(), rec.parent.as_deref()), ("bob", Some("fix@bob")));
}

#[test]
fn sessions_are_checked_like_new_ones_and_deleted_imports_stay_deleted() {
    let s = setup();
    let cwd = s.dir.path().display().to_string();
    let sessions = json!({
        "ok": {"name": "ok", "agent": "claude", "cwd": cwd, "flags": "--model opus",
               "env": {"A": "b c"}, "initPrompts": ["hi"], "turnqMarker": "LLMUX_DONE_1",
               "parent": "ghost"},
        "Claude Code": {"name": "Claude Code", "agent": "claude", "cwd": cwd},
        "shell": {"name": "shell", "agent": "claude", "cwd": cwd, "flags": "--x `id`"},
        "badenv": {"name": "badenv", "agent": "claude", "cwd": cwd, "env": {"A-B": "1"}},
        "noagent": {"name": "noagent", "agent": "nosuch", "cwd": cwd},
        "nocwd": {"name": "nocwd", "agent": "claude", "cwd": "/nonexistent/dir"},
        "marker": {"name": "marker", "agent": "claude", "cwd": cwd,
                   "initPrompts": ["x", "end with LLMUX_DONE_abcd"], "turnqMarker": "LLMUX_DONE_abcd"}
    });
    let i = install(&s, json!([]), json!([]), sessions);
    let plan1 = plan(std::slice::from_ref(&i), &s.store, &s.opts).unwrap();
    let by = |p: &Plan, n: &str| p.sessions.iter().find(|x| x.old_name == n).unwrap().clone();
    assert_eq!(by(&plan1, "ok").action, Action::Import);
    for (name, why) in [
        ("Claude Code", "invalid session name"),
        ("shell", "need a shell"),
        ("badenv", "invalid env name"),
        ("noagent", "catalog"),
        ("nocwd", "does not exist"),
    ] {
        let x = by(&plan1, name);
        assert_eq!(x.action, Action::Refused, "{name}");
        assert!(x.notes[0].contains(why), "{name}: {:?}", x.notes);
    }
    assert_eq!(by(&plan1, "marker").init_prompts, 1, "the turnq marker prompt is dropped");
    apply(&plan1, &s.store, &s.opts).unwrap();
    let rec = s.store.get_session("ok").unwrap().unwrap();
    assert_eq!(
        (rec.flags.as_deref(), rec.env["A"].as_str(), rec.parent),
        (Some("--model opus"), "b c", None)
    );
    assert_eq!(rec.init_prompts, ["hi"]);

    // a second run adds nothing; a session removed here since is not brought back
    s.store.delete_session("marker").unwrap();
    let plan2 = plan(std::slice::from_ref(&i), &s.store, &s.opts).unwrap();
    assert_eq!(by(&plan2, "ok").action, Action::AlreadyPresent);
    assert_eq!(by(&plan2, "marker").action, Action::Refused);
    assert!(by(&plan2, "marker").notes[0].contains("removed here since"));
    assert_eq!(plan2.counts().0, 0);
}
