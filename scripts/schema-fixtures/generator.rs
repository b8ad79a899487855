//! Makes one schema fixture with the llmux-core `Store` API of an old commit of this
//! repository: `scripts/make-schema-fixtures` copies it into a worktree at that commit as an
//! example of llmux-core, keeping the lines marked for the schema version at hand:
//! `//@N ` lines only from version N on, `//@<N ` lines only before version N. At a commit
//! where the users' and tokens' records are llmux-auth's (`llmux_auth::store`), it is an
//! example of llmux-auth, and keeps its `//@auth ` lines.
//! Usage: schema_fixture OUT [MIGRATION_SQL…]: the extra SQL files (HEAD's own migrations)
//! are applied after, each moving `user_version` up by one (for a version no commit had).
#![allow(missing_docs, unused, clippy::all)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use llmux_core::store::*;
//@auth use llmux_auth::store::*;

const T0: i64 = 1_764_000_000_000;

fn session(name: &str, agent: &str, cwd: &str, owner: &str) -> SessionRecord {
    SessionRecord {
        name: name.into(),
        agent: agent.into(),
        cwd: cwd.into(),
        flags: None,
        env: BTreeMap::new(),
        init_prompts: vec![],
        resume_from: None,
        owner: owner.into(),
        parent: None,
        created_at: T0,
        updated_at: T0 + 1,
        started_at: T0 + 2,
    }
}

//@2 fn user(username: &str, name: &str, admin: bool) -> UserRecord {
//@2     UserRecord {
//@2         username: username.into(),
//@2         name: name.into(),
//@2         passphrase_hash: format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$hash-of-{username}"),
//@2         admin,
//@2         created_at: T0,
//@2         updated_at: T0,
//@9         roots: vec![],
//@9         max_sessions: None,
//@10        unix_account: None,
//@11        max_session_memory_mb: None,
//@2     }
//@2 }

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = PathBuf::from(&args[0]);
    let _ = std::fs::remove_file(&out);
    let store = Store::open(&out).expect("open");

//@2     store.insert_user(&user("alice", "Alice Admin", true)).unwrap();
//@2     let mut bob = user("bob", "Bob User", false);
//@9     bob.roots = vec!["/srv/bob".into()];
//@9     bob.max_sessions = Some(3);
//@10    bob.unix_account = Some("llmux-bob".into());
//@11    bob.max_session_memory_mb = Some(512);
//@2     store.insert_user(&bob).unwrap();

    // The operator's session with every setting.
    let mut alpha = session("alpha", "claude", "/srv/alpha", "");
    alpha.flags = Some("--model opus".into());
    alpha.env.insert("FOO".into(), "bar baz".into());
    alpha.init_prompts = vec!["hello".into(), "read README.md".into()];
    store.insert_session(&alpha).unwrap();
    // Another of the operator's, resuming a conversation, spawned by alpha.
    let mut beta = session("beta", "codex", "/srv/beta", "");
    beta.resume_from = Some("conv-beta".into());
    beta.parent = Some("alpha".into());
    store.insert_session(&beta).unwrap();
    // A user's session and its child (before version 8 the owner was a bare name; from
    // version 2 on it is a user's).
//@<8     let b = |n: &str| n.to_string();
//@8     let b = |n: &str| format!("{n}@bob");
    let mut gamma = session(&b("gamma"), "claude", "/srv/bob/g", "bob");
    gamma.env.insert("K".into(), "v".into());
    store.insert_session(&gamma).unwrap();
    let mut delta = session(&b("delta"), "claude", "/srv/bob/d", "bob");
    delta.parent = Some(b("gamma"));
    store.insert_session(&delta).unwrap();

//@2     store
//@2         .insert_token(&TokenRecord {
//@2             id: "tokalice0001".into(),
//@2             username: "alice".into(),
//@2             name: "laptop".into(),
//@2             scope: "admin".into(),
//@2             secret_hash: "a".repeat(64),
//@2             created_at: T0,
//@2             expires_at: None,
//@2             last_used_at: Some(T0 + 5),
//@12            imported_from: None,
//@2         })
//@2         .unwrap();
//@2     store
//@2         .insert_token(&TokenRecord {
//@2             id: "tokbob000002".into(),
//@2             username: "bob".into(),
//@2             name: "ci".into(),
//@2             scope: "read-only".into(),
//@2             secret_hash: "b".repeat(64),
//@2             created_at: T0,
//@2             expires_at: Some(T0 + 86_400_000_000),
//@2             last_used_at: None,
//@12            imported_from: Some("llmux-0.41".into()),
//@2         })
//@2         .unwrap();
//@2     store
//@2         .insert_browser_session(&BrowserSessionRecord {
//@2             id: "bsalice00001".into(),
//@2             username: "alice".into(),
//@2             secret_hash: "c".repeat(64),
//@2             user_agent: "Mozilla/5.0 (phone)".into(),
//@2             created_at: T0,
//@2             last_seen_at: T0 + 60_000,
//@2             expires_at: T0 + 86_400_000_000,
//@6             scope: "admin".into(),
//@6             limit_expires_at: None,
//@2         })
//@2         .unwrap();
//@2     store
//@2         .insert_audit(&AuditRecord {
//@2             id: 0,
//@2             ts: T0,
//@2             actor: "alice".into(),
//@2             action: "user.create".into(),
//@2             target: "bob".into(),
//@2             detail: "{}".into(),
//@2         })
//@2         .unwrap();

//@3     store
//@3         .upsert_push_subscription(&PushSubscriptionRecord {
//@3             id: "pushalice001".into(),
//@3             username: "alice".into(),
//@3             endpoint: "https://push.example.invalid/alice".into(),
//@3             p256dh: "BPk3".into(),
//@3             auth: "YXV0aA".into(),
//@3             label: "phone".into(),
//@3             created_at: T0,
//@3             last_success_at: None,
//@3         })
//@3         .unwrap();
//@3     store.set_push_session("alice", "alpha", "", T0).unwrap();

//@4     store.set_conversation("alpha", Some("conv-alpha")).unwrap();

//@6     store
//@6         .insert_login_device(&LoginDeviceRecord {
//@6             id: "devalice0001".into(),
//@6             username: "alice".into(),
//@6             secret_hash: "d".repeat(64),
//@6             created_at: T0,
//@6             expires_at: T0 + 86_400_000_000,
//@6         })
//@6         .unwrap();

//@8     store
//@8         .record_conversation_owner(&ConversationOwnerRecord {
//@8             agent: "claude".into(),
//@8             cwd: "/srv/bob/g".into(),
//@8             conversation_id: "conv-gamma".into(),
//@8             owner: "bob".into(),
//@8             how: ConversationHow::Adopted,
//@8             session: "gamma@bob".into(),
//@8             recorded_at: T0,
//@8         })
//@8         .unwrap();
    drop(store);

    // Versions no commit of the repository had: HEAD's own migrations, applied after.
    let conn = rusqlite::Connection::open(&out).unwrap();
    for sql in &args[1..] {
        let sql = std::fs::read_to_string(sql).unwrap();
        let v: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
        conn.execute_batch(&format!("BEGIN; {sql}; PRAGMA user_version = {}; COMMIT;", v + 1))
            .unwrap();
    }
    let has_owners: bool = conn
        .query_row("SELECT count(*) FROM sqlite_master WHERE name = 'conversation_owners'", [], |r| r.get::<_, i64>(0))
        .unwrap()
        > 0;
    if args.len() > 1 && has_owners {
        // The record migration 0007 has no store API for at the commit used.
        conn.execute(
            "INSERT INTO conversation_owners VALUES \
             ('claude', '/srv/bob/g', 'conv-gamma', 'bob', 'adopted', 'gamma', ?1)",
            [T0],
        )
        .unwrap();
    }
    // One self-contained file: no WAL beside it, no free pages.
    conn.pragma_update(None, "journal_mode", "DELETE").unwrap();
    conn.execute_batch("VACUUM").unwrap();
    let v: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
    println!("{} schema version {v}", out.display());
}
