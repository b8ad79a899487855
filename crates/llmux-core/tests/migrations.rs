//! Every schema migration from every earlier schema version: `tests/fixtures/schema/vN.sqlite`
//! is a database made by the repository's own code of version N (`scripts/make-schema-fixtures`,
//! which names the commit in the fixtures' README). Each is migrated (a copy) to this binary's
//! version and what it held is read back with today's `Store` API. A database newer than this
//! binary is refused and left byte for byte as it was.
#![allow(missing_docs)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use llmux_core::store::{SCHEMA_VERSION, Store};
use rusqlite::OptionalExtension;
use rusqlite::types::Value::{Integer, Null, Text};

const T0: i64 = 1_764_000_000_000;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/schema")
}

/// The fixtures present, by version; every version before this binary's must have one.
fn fixture_versions() -> Vec<usize> {
    let mut versions: Vec<usize> = std::fs::read_dir(fixtures())
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_prefix('v')?.strip_suffix(".sqlite")?.parse().ok()
        })
        .collect();
    versions.sort();
    let missing: Vec<usize> = (1..SCHEMA_VERSION).filter(|v| !versions.contains(v)).collect();
    assert!(
        missing.is_empty(),
        "no fixture for schema version(s) {missing:?}: make them with \
         `scripts/make-schema-fixtures N` (from the commit that last had that version)"
    );
    assert!(
        versions.iter().all(|&v| v <= SCHEMA_VERSION),
        "a fixture is newer than this binary's schema ({SCHEMA_VERSION}): {versions:?}"
    );
    versions
}

/// A migrated copy of fixture `v` in a temp dir.
fn migrated(v: usize) -> (tempfile::TempDir, PathBuf, Store) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("llmux.db");
    std::fs::copy(fixtures().join(format!("v{v}.sqlite")), &db).unwrap();
    assert_eq!(
        llmux_core::store::backup::file_schema_version(&db).unwrap(),
        Some(v),
        "fixture v{v} holds schema version {v}"
    );
    let store = Store::open(&db).unwrap_or_else(|e| panic!("v{v} does not migrate: {e}"));
    (dir, db, store)
}

/// The schema as SQLite stores it: every table, index and trigger with its SQL.
fn schema(db: &Path) -> Vec<(String, String, Option<String>)> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' \
             ORDER BY type, name",
        )
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

fn health(db: &Path) {
    let conn = rusqlite::Connection::open(db).unwrap();
    let ok: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(ok, "ok");
    let broken: i64 =
        conn.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| r.get(0)).unwrap();
    assert_eq!(broken, 0, "foreign keys hold after migrating");
}

#[test]
fn every_older_schema_migrates_to_the_current_one_with_its_data() {
    let fresh_dir = tempfile::tempdir().unwrap();
    let fresh = fresh_dir.path().join("fresh.db");
    drop(Store::open(&fresh).unwrap());
    let current = schema(&fresh);

    for v in fixture_versions() {
        let (_dir, db, store) = migrated(v);
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION, "v{v}");
        // issue 19: the prompt queue and the idempotency keys start empty, and work
        assert!(store.queue_all().unwrap().is_empty(), "v{v}");
        assert_eq!(store.idempotency_get("", "k", T0).unwrap(), None, "v{v}");
        check_data(v, &store);
        drop(store);
        health(&db);
        // The same tables, columns, indexes and triggers as a database made new today.
        assert_eq!(schema(&db), current, "v{v} migrated differs from a new database's schema");
        // Opening it again is a no-op.
        let again = Store::open(&db).unwrap();
        check_data(v, &again);
    }
}

/// What `scripts/schema-fixtures/generator.rs` wrote at version `v`, read with today's API.
fn check_data(v: usize, store: &Store) {
    let ctx = |what: &str| format!("v{v}: {what}");

    // The operator's sessions, every setting kept.
    let alpha = store.get_session("alpha").unwrap().unwrap_or_else(|| panic!("{}", ctx("alpha")));
    assert_eq!(alpha.agent, "claude");
    assert_eq!(alpha.cwd, "/srv/alpha");
    assert_eq!(alpha.flags.as_deref(), Some("--model opus"));
    assert_eq!(alpha.env, BTreeMap::from([("FOO".to_owned(), "bar baz".to_owned())]));
    assert_eq!(alpha.init_prompts, ["hello", "read README.md"]);
    assert_eq!(alpha.owner, "");
    assert_eq!((alpha.created_at, alpha.updated_at, alpha.started_at), (T0, T0 + 1, T0 + 2));
    let beta = store.get_session("beta").unwrap().unwrap_or_else(|| panic!("{}", ctx("beta")));
    assert_eq!(beta.resume_from.as_deref(), Some("conv-beta"));
    assert_eq!(beta.parent.as_deref(), Some("alpha"));

    if v == 1 {
        // Version 1 had no accounts: a session owned by a name no account has is dropped by
        // migration 8, and its tmux session is left for the daemon to end.
        assert_eq!(store.list_sessions().unwrap().len(), 2, "{}", ctx("sessions"));
        assert_eq!(
            store.pending_tmux().unwrap(),
            [("delta".to_owned(), None), ("gamma".to_owned(), None)],
            "{}",
            ctx("pending tmux")
        );
        return;
    }
    // A user's sessions: named NAME@USER from version 8 on, the child's parent too.
    let gamma =
        store.get_session("gamma@bob").unwrap().unwrap_or_else(|| panic!("{}", ctx("gamma")));
    assert_eq!(gamma.owner, "bob");
    assert_eq!(gamma.env.get("K").map(String::as_str), Some("v"));
    let delta =
        store.get_session("delta@bob").unwrap().unwrap_or_else(|| panic!("{}", ctx("delta")));
    assert_eq!(delta.parent.as_deref(), Some("gamma@bob"));
    assert_eq!(store.list_sessions().unwrap().len(), 4, "{}", ctx("sessions"));
    if v < 8 {
        // The renames migration 8 made, for the daemon to carry out in tmux.
        assert_eq!(
            store.pending_tmux().unwrap(),
            [
                ("delta".to_owned(), Some("delta@bob".to_owned())),
                ("gamma".to_owned(), Some("gamma@bob".to_owned()))
            ],
            "{}",
            ctx("pending tmux")
        );
    }

    // Users and credentials, read with plain SQL (their records are llmux-auth's), and what
    // the session side reads of a user.
    let row = |sql: &str| -> Option<Vec<rusqlite::types::Value>> {
        store
            .read(|c| {
                c.query_row(sql, [], |r| (0..r.as_ref().column_count()).map(|i| r.get(i)).collect())
                    .optional()
            })
            .unwrap()
    };
    let text = |s: &str| Text(s.to_owned());
    let alice = row("SELECT admin, name, passphrase_hash FROM users WHERE username = 'alice'")
        .unwrap_or_else(|| panic!("{}", ctx("alice")));
    assert_eq!(alice[..2], [Integer(1), text("Alice Admin")]);
    assert!(matches!(&alice[2], Text(h) if h.ends_with("hash-of-alice")), "{}", ctx("hash kept"));
    let bob = row("SELECT admin, max_sessions FROM users WHERE username = 'bob'")
        .unwrap_or_else(|| panic!("{}", ctx("bob")));
    assert_eq!(bob, [Integer(0), if v >= 9 { Integer(3) } else { Null }]);
    let facts = store.owner_facts().unwrap();
    let names: Vec<&str> = facts.iter().map(|u| u.username.as_str()).collect();
    assert_eq!(names, ["alice", "bob"]);
    let bob = &facts[1];
    assert!(!bob.admin);
    assert_eq!(bob.roots, if v >= 9 { vec!["/srv/bob".to_owned()] } else { vec![] });
    assert_eq!(bob.unix_account.as_deref(), (v >= 10).then_some("llmux-bob"));
    assert_eq!(bob.max_session_memory_mb, (v >= 11).then_some(512));

    let token = |id: &str| {
        row(&format!(
            "SELECT username, scope, secret_hash, expires_at, last_used_at FROM tokens \
             WHERE id = '{id}'"
        ))
        .unwrap_or_else(|| panic!("{}", ctx("token")))
    };
    assert_eq!(
        token("tokalice0001"),
        [text("alice"), text("admin"), text(&"a".repeat(64)), Null, Integer(T0 + 5)]
    );
    let t = token("tokbob000002");
    assert_eq!(
        (&t[0], &t[1], &t[3]),
        (&text("bob"), &text("read-only"), &Integer(T0 + 86_400_000_000))
    );

    let b = row("SELECT username, secret_hash, user_agent, scope FROM browser_sessions \
         WHERE id = 'bsalice00001'")
    .unwrap_or_else(|| panic!("{}", ctx("browser")));
    assert_eq!(b[..3], [text("alice"), text(&"c".repeat(64)), text("Mozilla/5.0 (phone)")]);
    assert_eq!(b[3], text("admin"), "{}", ctx("browser session scope"));
    assert!(
        row(&format!(
            "SELECT 1 FROM audit WHERE action = 'user.create' AND target = 'bob' AND ts = {T0}"
        ))
        .is_some(),
        "{}",
        ctx("audit")
    );

    if v >= 3 {
        let subs = store.list_push_subscriptions("alice").unwrap();
        assert_eq!(subs.len(), 1, "{}", ctx("push subscriptions"));
        assert_eq!(subs[0].endpoint, "https://push.example.invalid/alice");
        let opted = store.list_push_sessions("alice").unwrap();
        assert_eq!(opted.len(), 1, "{}", ctx("push sessions"));
        assert_eq!(opted[0].session, "alpha");
    }
    if v >= 4 {
        assert!(
            store.conversations().unwrap().contains(&("alpha".to_owned(), "conv-alpha".to_owned())),
            "{}",
            ctx("live conversation")
        );
    }
    if (4..7).contains(&v) {
        // Migration 7 made the operator the owner of the conversations recorded before it.
        assert!(store.owns_conversation("claude", "conv-alpha", "").unwrap(), "{}", ctx("owner"));
    }
    // Migration 13 (session worktrees): none before it; a migrated session can get one.
    assert_eq!(store.worktrees().unwrap(), vec![], "{}", ctx("worktrees"));
    if let Some(alpha) = store.list_sessions().unwrap().into_iter().find(|s| s.name == "alpha") {
        let w = llmux_core::store::WorktreeRecord {
            name: alpha.name.clone(),
            repo: "/srv/r".into(),
            path: "/srv/r/.worktrees/alpha".into(),
            branch: "alpha".into(),
            base: "main".into(),
            created_branch: true,
            setup_output: None,
        };
        store.set_worktree(&w).unwrap();
        assert_eq!(store.worktrees().unwrap(), vec![w], "{}", ctx("worktree"));
        store.forget_worktree("alpha").unwrap();
        assert_eq!(store.worktrees().unwrap(), vec![], "{}", ctx("worktree forgotten"));
    }
    if v >= 6 {
        let d = store.get_login_device("devalice0001").unwrap();
        assert_eq!(d.map(|d| d.secret_hash), Some("d".repeat(64)), "{}", ctx("device"));
    }
    if v >= 7 {
        assert!(
            store.owns_conversation("claude", "conv-gamma", "bob").unwrap(),
            "{}",
            ctx("owner")
        );
        assert!(!store.owns_conversation("claude", "conv-gamma", "alice").unwrap());
    }
}

/// Sets the header's `user_version` of the database file (as bytes).
fn set_header_version(db: &Path, version: u32) {
    let mut bytes = std::fs::read(db).unwrap();
    bytes[60..64].copy_from_slice(&version.to_be_bytes());
    std::fs::write(db, bytes).unwrap();
}

fn side_files(db: &Path) -> Vec<PathBuf> {
    ["-wal", "-shm", "-journal"]
        .iter()
        .map(|s| PathBuf::from(format!("{}{s}", db.display())))
        .filter(|p| p.exists())
        .collect()
}

#[test]
fn a_newer_database_is_refused_and_left_untouched() {
    let newest = *fixture_versions().last().unwrap();
    // A fixture as it is (rollback journal), and a database the daemon left (WAL mode).
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.db");
    std::fs::copy(fixtures().join(format!("v{newest}.sqlite")), &journal).unwrap();
    let wal = dir.path().join("wal.db");
    drop(Store::open(&wal).unwrap());
    assert!(side_files(&wal).is_empty(), "a closed store leaves no WAL");
    for db in [journal, wal] {
        set_header_version(&db, (SCHEMA_VERSION + 1) as u32);
        let before = std::fs::read(&db).unwrap();
        let err = Store::open(&db).unwrap_err().to_string();
        assert!(
            err.contains(&format!("schema version {}", SCHEMA_VERSION + 1))
                && err.contains("newer than this llmux")
                && err.contains("untouched"),
            "{err}"
        );
        assert_eq!(std::fs::read(&db).unwrap(), before, "{} changed", db.display());
        assert_eq!(side_files(&db), Vec::<PathBuf>::new(), "files appeared beside it");
    }
}
