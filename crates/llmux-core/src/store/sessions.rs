//! The `sessions` table.

use std::collections::BTreeMap;

use rusqlite::{OptionalExtension, Row, params};

use super::{Store, on_conflict};
use crate::error::{Error, Result};

/// The durable configuration of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// Unique name.
    pub name: String,
    /// Agent catalog key.
    pub agent: String,
    /// Absolute working directory.
    pub cwd: String,
    /// Flags override; `None` = the agent's default flags.
    pub flags: Option<String>,
    /// Per-session environment.
    pub env: BTreeMap<String, String>,
    /// Prompts typed after each spawn.
    pub init_prompts: Vec<String>,
    /// Conversation id to resume.
    pub resume_from: Option<String>,
    /// Owner's username; empty for the local operator.
    pub owner: String,
    /// Session that spawned this one.
    pub parent: Option<String>,
    /// Creation time, unix ms.
    pub created_at: i64,
    /// Last change, unix ms.
    pub updated_at: i64,
    /// Last (re)start, unix ms.
    pub started_at: i64,
}

const COLUMNS: &str = "name, agent, cwd, flags, env, init_prompts, resume_from, owner, parent, \
                       created_at, updated_at, started_at";

impl SessionRecord {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<SessionRecord> {
        let json_err = |i, e: serde_json::Error| {
            rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
        };
        let env: String = row.get(4)?;
        let prompts: String = row.get(5)?;
        Ok(SessionRecord {
            name: row.get(0)?,
            agent: row.get(1)?,
            cwd: row.get(2)?,
            flags: row.get(3)?,
            env: serde_json::from_str(&env).map_err(|e| json_err(4, e))?,
            init_prompts: serde_json::from_str(&prompts).map_err(|e| json_err(5, e))?,
            resume_from: row.get(6)?,
            owner: row.get(7)?,
            parent: row.get(8)?,
            created_at: row.get(9)?,
            updated_at: row.get(10)?,
            started_at: row.get(11)?,
        })
    }

    fn json(&self) -> (String, String) {
        (
            serde_json::to_string(&self.env).expect("a string map always serializes"),
            serde_json::to_string(&self.init_prompts).expect("a string list always serializes"),
        )
    }
}

impl Store {
    /// Inserts a new record; [`Error::AlreadyExists`] if the name is taken,
    /// [`Error::NotFound`] if the owner is not (or no longer) a user. The owner's id is
    /// recorded with it: ownership follows the account, not its name.
    pub fn insert_session(&self, rec: &SessionRecord) -> Result<()> {
        insert_session(&self.conn(), rec)
    }

    /// The tmux sessions a migration left to rename (`Some(new)`) or kill (`None`), as
    /// (llmux name, new llmux name).
    pub fn pending_tmux(&self) -> Result<Vec<(String, Option<String>)>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT name, new_name FROM pending_tmux ORDER BY name")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Forgets the pending tmux renames and kills (done).
    pub fn clear_pending_tmux(&self) -> Result<()> {
        self.conn().execute("DELETE FROM pending_tmux", [])?;
        Ok(())
    }

    /// Replaces the record stored as `name` with `rec` (whose name may differ: a rename).
    pub fn update_session(&self, name: &str, rec: &SessionRecord) -> Result<()> {
        update_in(&self.conn(), name, rec)
    }

    /// Renames the record stored as `old` to `rec` (with its new name) and, when its tmux
    /// session runs, records in the same transaction that tmux still owes the rename
    /// (`pending_tmux`, which the next start carries out): a daemon killed between this and
    /// the tmux rename never leaves a record and its tmux session apart. The caller forgets
    /// the pending rename once tmux has done it ([`Store::forget_pending_tmux`]).
    pub fn rename_session(&self, old: &str, rec: &SessionRecord, live: bool) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        update_in(&tx, old, rec)?;
        if live {
            tx.execute(
                "INSERT OR REPLACE INTO pending_tmux (name, new_name) VALUES (?1, ?2)",
                params![old, rec.name],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Records (`Some`) or forgets (`None`) the conversation a session's agent is in.
    pub fn set_conversation(&self, name: &str, id: Option<&str>) -> Result<()> {
        let conn = self.conn();
        match id {
            Some(id) => conn.execute(
                "INSERT INTO session_conversations (name, conversation_id) VALUES (?1, ?2) \
                 ON CONFLICT(name) DO UPDATE SET conversation_id = excluded.conversation_id",
                params![name, id],
            )?,
            None => {
                conn.execute("DELETE FROM session_conversations WHERE name = ?1", params![name])?
            }
        };
        Ok(())
    }

    /// Sets (`Some(text)`) or clears (`None`) session `name`'s after-limit text.
    pub fn set_after_limit(&self, name: &str, text: Option<&str>) -> Result<()> {
        let conn = self.conn();
        match text {
            Some(text) => conn.execute(
                "INSERT INTO session_after_limit (name, text) VALUES (?1, ?2) \
                 ON CONFLICT(name) DO UPDATE SET text = excluded.text",
                params![name, text],
            )?,
            None => conn.execute("DELETE FROM session_after_limit WHERE name = ?1", [name])?,
        };
        Ok(())
    }

    /// Every session's after-limit text: (session name, text).
    pub fn after_limits(&self) -> Result<Vec<(String, String)>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT name, text FROM session_after_limit")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Every recorded session conversation: (session name, conversation id).
    pub fn conversations(&self) -> Result<Vec<(String, String)>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT name, conversation_id FROM session_conversations")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The record named `name`.
    pub fn get_session(&self, name: &str) -> Result<Option<SessionRecord>> {
        Ok(self
            .conn()
            .query_row(
                &format!("SELECT {COLUMNS} FROM sessions WHERE name = ?1"),
                [name],
                SessionRecord::from_row,
            )
            .optional()?)
    }

    /// All records, oldest first.
    pub fn list_sessions(&self) -> Result<Vec<SessionRecord>> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare(&format!("SELECT {COLUMNS} FROM sessions ORDER BY created_at, name"))?;
        let rows = stmt.query_map([], SessionRecord::from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Deletes the record; returns whether it existed.
    pub fn delete_session(&self, name: &str) -> Result<bool> {
        Ok(self.conn().execute("DELETE FROM sessions WHERE name = ?1", [name])? > 0)
    }
}

/// [`Store::insert_session`] on `conn`: inside a [`Store::transaction`], for a write of
/// sessions together with other tables' rows (an import).
pub fn insert_session(conn: &rusqlite::Connection, rec: &SessionRecord) -> Result<()> {
    let (env, prompts) = rec.json();
    let inserted = conn
        .execute(
            &format!(
                "INSERT INTO sessions ({COLUMNS}, owner_id) \
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, \
                 (SELECT id FROM users WHERE username = ?8) \
                 WHERE ?8 = '' OR EXISTS (SELECT 1 FROM users WHERE username = ?8)"
            ),
            params![
                rec.name,
                rec.agent,
                rec.cwd,
                rec.flags,
                env,
                prompts,
                rec.resume_from,
                rec.owner,
                rec.parent,
                rec.created_at,
                rec.updated_at,
                rec.started_at
            ],
        )
        .map_err(|e| on_conflict(e, || format!("session {:?} already exists", rec.name)))?;
    if inserted == 0 {
        return Err(Error::NotFound(format!("no user named {:?}", rec.owner)));
    }
    Ok(())
}

/// The `UPDATE` of [`Store::update_session`], on a connection or inside a transaction.
fn update_in(conn: &rusqlite::Connection, name: &str, rec: &SessionRecord) -> Result<()> {
    let (env, prompts) = rec.json();
    let changed = conn
        .execute(
            "UPDATE sessions SET name = ?1, agent = ?2, cwd = ?3, flags = ?4, env = ?5, \
             init_prompts = ?6, resume_from = ?7, owner = ?8, parent = ?9, created_at = ?10, \
             updated_at = ?11, started_at = ?12 WHERE name = ?13",
            params![
                rec.name,
                rec.agent,
                rec.cwd,
                rec.flags,
                env,
                prompts,
                rec.resume_from,
                rec.owner,
                rec.parent,
                rec.created_at,
                rec.updated_at,
                rec.started_at,
                name
            ],
        )
        .map_err(|e| on_conflict(e, || format!("session {:?} already exists", rec.name)))?;
    if changed == 0 {
        return Err(Error::NotFound(format!("no session named {name:?}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(name: &str) -> SessionRecord {
        SessionRecord {
            name: name.into(),
            agent: "shell".into(),
            cwd: "/tmp".into(),
            flags: Some("--x 'a b'".into()),
            env: [("A".to_owned(), "1".to_owned())].into(),
            init_prompts: vec!["hi".into()],
            resume_from: None,
            owner: String::new(),
            parent: None,
            created_at: 1,
            updated_at: 1,
            started_at: 1,
        }
    }

    /// The after-limit setting follows its session's renames and goes with it.
    #[test]
    fn after_limit_follows_the_session() {
        let store = Store::open_in_memory().unwrap();
        store.insert_session(&record("a")).unwrap();
        assert!(store.set_after_limit("nope", Some("x")).is_err(), "no such session");
        store.set_after_limit("a", Some("continue")).unwrap();
        store.set_after_limit("a", Some("go on")).unwrap();
        store.update_session("a", &record("b")).unwrap();
        assert_eq!(store.after_limits().unwrap(), [("b".to_owned(), "go on".to_owned())]);
        store.set_after_limit("b", None).unwrap();
        assert!(store.after_limits().unwrap().is_empty());
        store.set_after_limit("b", Some("continue")).unwrap();
        store.delete_session("b").unwrap();
        assert!(store.after_limits().unwrap().is_empty());
    }

    /// Walks a record through its whole life: create, conflict, read, rename, delete.
    #[test]
    fn session_story() {
        let store = Store::open_in_memory().unwrap();
        assert_eq!(store.schema_version().unwrap(), super::super::MIGRATIONS.len());
        store.insert_session(&record("a")).unwrap();
        assert!(matches!(store.insert_session(&record("a")), Err(Error::AlreadyExists(_))));
        store.insert_session(&record("b")).unwrap();
        assert_eq!(store.get_session("a").unwrap().unwrap(), record("a"));

        let mut renamed = record("c");
        renamed.flags = None;
        store.update_session("a", &renamed).unwrap();
        assert!(store.get_session("a").unwrap().is_none());
        assert_eq!(store.get_session("c").unwrap().unwrap().flags, None);
        assert!(matches!(store.update_session("c", &record("b")), Err(Error::AlreadyExists(_))));
        assert!(matches!(store.update_session("zz", &record("zz")), Err(Error::NotFound(_))));

        let names: Vec<_> = store.list_sessions().unwrap().into_iter().map(|r| r.name).collect();
        assert_eq!(names, ["b", "c"]);
        assert!(store.delete_session("b").unwrap());
        assert!(!store.delete_session("b").unwrap());
    }

    fn owned(name: &str, owner: &str) -> SessionRecord {
        SessionRecord { owner: owner.into(), ..record(name) }
    }

    fn add_user(store: &Store, name: &str) {
        crate::store::insert_test_user(store, name, true);
    }

    /// Sessions belong to an account (by id): none for a missing user, none outliving the
    /// user, and a new account of the same name is a new id.
    #[test]
    fn sessions_follow_the_account_not_its_name() {
        use crate::store::UserSessions;
        let store = Store::open_in_memory().unwrap();
        add_user(&store, "root");
        assert!(matches!(
            store.insert_session(&owned("x@ghost", "ghost")),
            Err(Error::NotFound(_))
        ));
        add_user(&store, "alice");
        add_user(&store, "bob");
        let alice = store.user_id("alice").unwrap().unwrap();
        store.insert_session(&owned("fix@alice", "alice")).unwrap();
        store.insert_session(&owned("notes@alice", "alice")).unwrap();
        store.insert_session(&owned("fix@bob", "bob")).unwrap();
        let conversation = |id: &str, owner: &str| crate::store::ConversationOwnerRecord {
            agent: "claude".into(),
            cwd: "/w".into(),
            conversation_id: id.into(),
            owner: owner.into(),
            how: crate::store::ConversationHow::Started,
            session: "fix".into(),
            recorded_at: 1,
        };
        store.record_conversation_owner(&conversation("c-alice", "alice")).unwrap();
        store.record_conversation_owner(&conversation("c-bob", "bob")).unwrap();
        // a user with sessions cannot just vanish: the foreign key holds
        assert!(store.conn().execute("DELETE FROM users WHERE username = 'alice'", []).is_err());

        let to_bob = UserSessions::Transfer("bob".into());
        assert!(matches!(
            store.delete_user("alice", &UserSessions::Transfer("nobody".into())),
            Err(Error::NotFound(_))
        ));
        let deleted = store.delete_user("alice", &to_bob).unwrap();
        assert_eq!(
            deleted.moved,
            [
                ("fix@alice".to_owned(), "fix-2@bob".to_owned()),
                ("notes@alice".to_owned(), "notes@bob".to_owned())
            ]
        );
        let names: Vec<_> = store.list_sessions().unwrap().into_iter().map(|r| r.name).collect();
        assert_eq!(names, ["fix-2@bob", "fix@bob", "notes@bob"]);
        // the tmux renames wait in the same transaction until the daemon did them
        assert_eq!(store.pending_tmux().unwrap().len(), 2);
        store.forget_pending_tmux(&["fix@alice".into(), "notes@alice".into()]).unwrap();
        assert!(store.pending_tmux().unwrap().is_empty());
        assert!(store.list_sessions().unwrap().iter().all(|r| r.owner == "bob"));
        assert!(store.owns_conversation("claude", "c-alice", "bob").unwrap(), "handed over");
        assert!(!store.owns_conversation("claude", "c-alice", "alice").unwrap());

        add_user(&store, "alice");
        assert!(store.user_id("alice").unwrap().unwrap() > alice, "ids are never reused");
        let deleted = store.delete_user("bob", &UserSessions::End).unwrap();
        assert_eq!(deleted.ended, ["fix-2@bob", "fix@bob", "notes@bob"]);
        assert!(store.list_sessions().unwrap().is_empty());
        // a new account of a deleted user's name inherits none of their conversations
        add_user(&store, "bob");
        assert!(store.owned_conversations("claude", "/w", "bob").unwrap().is_empty());
    }

    /// Migration 0008 on a database of the old schema: users' sessions get their canonical
    /// names (with their conversations and parents), sessions of deleted users end, and the
    /// tmux changes wait for the daemon.
    #[test]
    fn the_migration_renames_users_sessions_and_ends_orphans() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("llmux.db");
        {
            let conn = rusqlite::Connection::open(&path).unwrap();
            let old = super::super::MIGRATIONS.iter().position(|m| m.contains("owner_id")).unwrap();
            for sql in &super::super::MIGRATIONS[..old] {
                conn.execute_batch(sql).unwrap();
            }
            conn.pragma_update(None, "user_version", old as i64).unwrap();
            conn.execute_batch(
                "INSERT INTO users VALUES ('alice', 'A', 'h', 0, 1, 1);
                 INSERT INTO sessions (name, agent, cwd, owner, parent, created_at, updated_at, started_at)
                   VALUES ('ops', 'shell', '/', '', NULL, 1, 1, 1),
                          ('fix', 'shell', '/', 'alice', NULL, 1, 1, 1),
                          ('child', 'shell', '/', 'alice', 'fix', 1, 1, 1),
                          ('gone', 'shell', '/', 'ghost', NULL, 1, 1, 1);
                 INSERT INTO session_conversations VALUES ('fix', 'c1');",
            )
            .unwrap();
        }
        let store = Store::open(&path).unwrap();
        let records = store.list_sessions().unwrap();
        let got: Vec<_> = records.iter().map(|r| (r.name.as_str(), r.parent.as_deref())).collect();
        assert_eq!(got, [("child@alice", Some("fix@alice")), ("fix@alice", None), ("ops", None)]);
        assert_eq!(store.conversations().unwrap(), [("fix@alice".to_owned(), "c1".to_owned())]);
        assert_eq!(
            store.pending_tmux().unwrap(),
            [
                ("child".to_owned(), Some("child@alice".to_owned())),
                ("fix".to_owned(), Some("fix@alice".to_owned())),
                ("gone".to_owned(), None)
            ]
        );
        store.clear_pending_tmux().unwrap();
        assert!(store.pending_tmux().unwrap().is_empty());
        assert!(store.user_id("alice").unwrap().is_some());
    }

    #[test]
    fn file_is_private_and_reopens_migrated() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("llmux.db");
        Store::open(&path).unwrap().insert_session(&record("a")).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let store = Store::open(&path).unwrap();
        assert_eq!(store.list_sessions().unwrap().len(), 1);
    }
}
