//! The migrations keep the rows of the users and credentials tables (read here with plain
//! SQL: their records are `llmux-auth`'s), and what core reads of a user ([`OwnerFacts`]).

use std::path::PathBuf;

use super::*;
use crate::paths::Paths;

/// A connection at schema version `version`, for rows written the way that version had them.
fn at_version(version: usize) -> Connection {
    let conn = Connection::open_in_memory().unwrap();
    for sql in &MIGRATIONS[..version] {
        conn.execute_batch(sql).unwrap();
    }
    conn.pragma_update(None, "user_version", version as i64).unwrap();
    conn
}

/// Browser sessions signed in before sessions had a scope keep their full rights.
#[test]
fn browser_sessions_from_before_migration_6_keep_full_rights() {
    let conn = at_version(5);
    // the schema of version 5, written out: later migrations may change the users table
    conn.execute(
        "INSERT INTO users (username, name, passphrase_hash, admin, created_at, updated_at) \
         VALUES ('bob', 'Bob', 'h', 0, 1, 1)",
        [],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO browser_sessions (id, username, secret_hash, user_agent, created_at, \
         last_seen_at, expires_at) VALUES ('b1', 'bob', 's', 'ua', 1, 1, 10)",
        [],
    )
    .unwrap();
    let store = Store::init(conn).unwrap();
    let (scope, limit): (String, Option<i64>) = store
        .read(|c| {
            c.query_row(
                "SELECT scope, limit_expires_at FROM browser_sessions WHERE id = 'b1'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
        })
        .unwrap();
    assert_eq!((scope.as_str(), limit), ("admin", None));
}

/// A database from before migration 9 keeps its users, with no roots and no limit.
#[test]
fn users_from_before_migration_9_get_default_isolation_settings() {
    let conn = at_version(8);
    // the schema of version 8, written out: later migrations may change the users table
    conn.execute(
        "INSERT INTO users (username, name, passphrase_hash, admin, created_at, updated_at, \
         id) VALUES ('bob', 'Bob', 'h', 0, 1, 1, 1)",
        [],
    )
    .unwrap();
    let store = Store::init(conn).unwrap();
    assert!(store.schema_version().unwrap() >= 9);
    let (name, roots, max): (String, String, Option<u32>) = store
        .read(|c| {
            c.query_row(
                "SELECT name, roots, max_sessions FROM users WHERE username = 'bob'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
        })
        .unwrap();
    assert_eq!((name.as_str(), roots.as_str(), max), ("Bob", "[]", None));
    let bob = OwnerFacts { username: "bob".into(), ..Default::default() };
    assert_eq!(store.owner_facts().unwrap(), [bob]);
}

/// Migration 12 keeps every user and token of a version-11 database and marks none of them
/// imported.
#[test]
fn migration_12_keeps_users_and_tokens_and_marks_none_imported() {
    let conn = at_version(11);
    conn.execute(
        "INSERT INTO users (username, name, passphrase_hash, admin, created_at, updated_at, \
         id) VALUES ('bob', 'Bob', 'h', 1, 1, 1, 1)",
        [],
    )
    .unwrap();
    conn.execute("UPDATE user_id_seq SET last = 1", []).unwrap();
    conn.execute(
        "INSERT INTO tokens (id, username, name, scope, secret_hash, created_at) \
         VALUES ('t1', 'bob', 'laptop', 'admin', 'x', 5)",
        [],
    )
    .unwrap();
    let store = Store::init(conn).unwrap();
    assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len());
    let user: (String, String, bool, Option<String>) = store
        .read(|c| {
            c.query_row(
                "SELECT name, passphrase_hash, admin, imported_from FROM users \
                 WHERE username = 'bob'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
        })
        .unwrap();
    assert_eq!(user, ("Bob".into(), "h".into(), true, None));
    let token: (String, String, Option<String>) = store
        .read(|c| {
            c.query_row("SELECT name, scope, imported_from FROM tokens WHERE id = 't1'", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
        })
        .unwrap();
    assert_eq!(token, ("laptop".into(), "admin".into(), None));
    assert!(!store.imported_before("user", "bob").unwrap());
}

/// What the session side reads of every user: rights, Unix account, roots (the default
/// workspace when none) and memory ceiling.
#[test]
fn owner_facts_read_what_confinement_needs() {
    let store = Store::open_in_memory().unwrap();
    insert_test_user(&store, "root", true);
    insert_test_user(&store, "bob", false);
    store
        .transaction(|tx| {
            Ok(tx.execute(
                "UPDATE users SET roots = '[\"/srv/a\",\"/srv/b c\"]', unix_account = 'llmux-bob', \
                 max_session_memory_mb = 512 WHERE username = 'bob'",
                [],
            )?)
        })
        .unwrap();
    let facts = store.owner_facts().unwrap();
    let bob = OwnerFacts {
        username: "bob".into(),
        admin: false,
        roots: vec!["/srv/a".into(), "/srv/b c".into()],
        unix_account: Some("llmux-bob".into()),
        max_session_memory_mb: Some(512),
    };
    let root = OwnerFacts { username: "root".into(), admin: true, ..Default::default() };
    assert_eq!(facts, [bob.clone(), root.clone()]);

    let paths = Paths::in_state_dir(PathBuf::from("/s"));
    assert_eq!(root.granted_roots(&paths), [PathBuf::from("/s/workspaces/root")]);
    assert_eq!(bob.granted_roots(&paths), [PathBuf::from("/srv/a"), PathBuf::from("/srv/b c")]);
}

/// A transaction whose closure fails writes nothing; one that succeeds is committed.
#[test]
fn a_failed_transaction_writes_nothing() {
    let store = Store::open_in_memory().unwrap();
    let failed: Result<()> = store.transaction(|tx| {
        tx.execute("UPDATE user_id_seq SET last = last + 1", [])?;
        Err(Error::Conflict("no".into()))
    });
    assert!(matches!(failed, Err(Error::Conflict(_))));
    let last = |s: &Store| -> i64 {
        s.read(|c| c.query_row("SELECT last FROM user_id_seq", [], |r| r.get(0))).unwrap()
    };
    assert_eq!(last(&store), 0);
    insert_test_user(&store, "root", true);
    assert_eq!(last(&store), 1);
    assert_eq!(store.user_id("root").unwrap(), Some(1));
}
