//! The `users`, `tokens`, `browser_sessions` and `audit` tables. Only hashes of secrets are
//! stored; the rules about them live in `llmux-auth`.

use std::path::PathBuf;

use rusqlite::{OptionalExtension, Row, params};

use super::{Store, on_conflict};
use crate::error::{Error, Result};
use crate::paths::Paths;

/// A user account.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct UserRecord {
    /// Login name.
    pub username: String,
    /// Display name.
    pub name: String,
    /// Argon2id PHC string.
    pub passphrase_hash: String,
    /// Admin flag.
    pub admin: bool,
    /// Creation time, unix ms.
    pub created_at: i64,
    /// Last change, unix ms.
    pub updated_at: i64,
    /// Workspace roots granted read-write to the user's confined sessions: absolute canonical
    /// paths, checked by whoever sets them (`llmux-auth`). Empty: the user's default workspace
    /// (see [`UserRecord::granted_roots`]).
    pub roots: Vec<String>,
    /// The most sessions the user may have; `None`: no limit.
    pub max_sessions: Option<u32>,
    /// The Unix account the user's sessions run as under a system daemon
    /// (`server.mode: system`); `None`: none mapped.
    pub unix_account: Option<String>,
    /// The memory ceiling of each of the user's sessions, in MiB; `None`: no ceiling.
    pub max_session_memory_mb: Option<u32>,
}

impl UserRecord {
    /// The workspace roots the user's confined sessions get read-write: the granted ones, or
    /// when none was granted, the default workspace `<state>/workspaces/<username>`
    /// ([`Paths::default_workspace`], which the caller creates when first needed).
    pub fn granted_roots(&self, paths: &Paths) -> Vec<PathBuf> {
        if self.roots.is_empty() {
            vec![paths.default_workspace(&self.username)]
        } else {
            self.roots.iter().map(PathBuf::from).collect()
        }
    }
}

impl std::fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRecord")
            .field("username", &self.username)
            .field("name", &self.name)
            .field("passphrase_hash", &"<redacted>")
            .field("admin", &self.admin)
            .field("roots", &self.roots)
            .field("max_sessions", &self.max_sessions)
            .field("unix_account", &self.unix_account)
            .field("max_session_memory_mb", &self.max_session_memory_mb)
            .finish_non_exhaustive()
    }
}

/// An API token (its secret's hash only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// Public id.
    pub id: String,
    /// Owner.
    pub username: String,
    /// Label.
    pub name: String,
    /// `admin`, `user` or `read-only`.
    pub scope: String,
    /// Hex SHA-256 of the secret.
    pub secret_hash: String,
    /// Creation, unix ms.
    pub created_at: i64,
    /// Expiry, unix ms.
    pub expires_at: Option<i64>,
    /// Last use, unix ms (written at most once a minute).
    pub last_used_at: Option<i64>,
    /// Where it was brought over from (`llmux 0.41`); `None` if minted here.
    pub imported_from: Option<String>,
}

/// A signed-in browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserSessionRecord {
    /// Public id (first half of the cookie).
    pub id: String,
    /// Owner.
    pub username: String,
    /// Hex SHA-256 of the cookie's secret half.
    pub secret_hash: String,
    /// User-Agent at sign-in.
    pub user_agent: String,
    /// Start, unix ms.
    pub created_at: i64,
    /// Last request, unix ms (to the minute).
    pub last_seen_at: i64,
    /// Absolute end, unix ms.
    pub expires_at: i64,
    /// `admin`, `user` or `read-only`: the rights of what made it.
    pub scope: String,
    /// The end of authority inherited from what made it (a paired token's expiry), if any.
    pub limit_expires_at: Option<i64>,
}

/// One audit event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Sequence number (0 before insertion).
    pub id: i64,
    /// Time, unix ms.
    pub ts: i64,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// To what.
    pub target: String,
    /// Extra detail.
    pub detail: String,
}

fn user_row(r: &Row<'_>) -> rusqlite::Result<UserRecord> {
    let roots: String = r.get(6)?;
    Ok(UserRecord {
        username: r.get(0)?,
        name: r.get(1)?,
        passphrase_hash: r.get(2)?,
        admin: r.get(3)?,
        created_at: r.get(4)?,
        updated_at: r.get(5)?,
        roots: serde_json::from_str(&roots).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(6, rusqlite::types::Type::Text, Box::new(e))
        })?,
        max_sessions: r.get(7)?,
        unix_account: r.get(8)?,
        max_session_memory_mb: r.get(9)?,
    })
}

fn roots_json(u: &UserRecord) -> String {
    serde_json::to_string(&u.roots).expect("a string list always serializes")
}

fn token_row(r: &Row<'_>) -> rusqlite::Result<TokenRecord> {
    Ok(TokenRecord {
        id: r.get(0)?,
        username: r.get(1)?,
        name: r.get(2)?,
        scope: r.get(3)?,
        secret_hash: r.get(4)?,
        created_at: r.get(5)?,
        expires_at: r.get(6)?,
        last_used_at: r.get(7)?,
        imported_from: r.get(8)?,
    })
}

fn browser_row(r: &Row<'_>) -> rusqlite::Result<BrowserSessionRecord> {
    Ok(BrowserSessionRecord {
        id: r.get(0)?,
        username: r.get(1)?,
        secret_hash: r.get(2)?,
        user_agent: r.get(3)?,
        created_at: r.get(4)?,
        last_seen_at: r.get(5)?,
        expires_at: r.get(6)?,
        scope: r.get(7)?,
        limit_expires_at: r.get(8)?,
    })
}

/// Inserts a user with the next id (ids are never reused; a failed insert only skips one).
pub(super) fn insert_user(conn: &rusqlite::Connection, u: &UserRecord) -> rusqlite::Result<()> {
    conn.execute("UPDATE user_id_seq SET last = last + 1", [])?;
    conn.execute(
        &format!(
            "INSERT INTO users ({USER_COLS}, id) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, (SELECT last FROM user_id_seq))"
        ),
        params![
            u.username,
            u.name,
            u.passphrase_hash,
            u.admin,
            u.created_at,
            u.updated_at,
            roots_json(u),
            u.max_sessions,
            u.unix_account,
            u.max_session_memory_mb
        ],
    )
    .map(drop)
}

/// [`Store::insert_token`] on `conn` (which may be a transaction).
pub(super) fn insert_token(conn: &rusqlite::Connection, t: &TokenRecord) -> Result<()> {
    conn.execute(
        &format!("INSERT INTO tokens ({TOKEN_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"),
        params![
            t.id,
            t.username,
            t.name,
            t.scope,
            t.secret_hash,
            t.created_at,
            t.expires_at,
            t.last_used_at,
            t.imported_from
        ],
    )
    .map_err(|e| on_conflict(e, || "token id collision".into()))?;
    Ok(())
}

const USER_COLS: &str = "username, name, passphrase_hash, admin, created_at, updated_at, roots, max_sessions, \
     unix_account, max_session_memory_mb";
const TOKEN_COLS: &str =
    "id, username, name, scope, secret_hash, created_at, expires_at, last_used_at, imported_from";
const BROWSER_COLS: &str = "id, username, secret_hash, user_agent, created_at, last_seen_at, \
     expires_at, scope, limit_expires_at";

impl Store {
    // ---- users ----

    /// Inserts a user; [`Error::AlreadyExists`] if the name is taken.
    pub fn insert_user(&self, u: &UserRecord) -> Result<()> {
        insert_user(&self.conn(), u)
            .map_err(|e| on_conflict(e, || format!("user {:?} already exists", u.username)))
    }

    /// Inserts the first user only if no user exists yet (setup races); returns whether it did.
    pub fn insert_first_user(&self, u: &UserRecord) -> Result<bool> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let count: i64 = tx.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))?;
        if count > 0 {
            return Ok(false);
        }
        insert_user(&tx, u)?;
        tx.commit()?;
        Ok(true)
    }

    /// The user named `username`.
    pub fn get_user(&self, username: &str) -> Result<Option<UserRecord>> {
        Ok(self
            .conn()
            .query_row(
                &format!("SELECT {USER_COLS} FROM users WHERE username = ?1"),
                [username],
                user_row,
            )
            .optional()?)
    }

    /// All users, by name.
    pub fn list_users(&self) -> Result<Vec<UserRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!("SELECT {USER_COLS} FROM users ORDER BY username"))?;
        Ok(stmt.query_map([], user_row)?.collect::<rusqlite::Result<_>>()?)
    }

    /// Number of users.
    pub fn count_users(&self) -> Result<u64> {
        Ok(self.conn().query_row("SELECT COUNT(*) FROM users", [], |r| r.get::<_, i64>(0))? as u64)
    }

    /// Updates name, hash, admin flag, roots, session limit, Unix account and memory ceiling. Demoting the last admin is refused
    /// ([`Error::Conflict`]) inside the same transaction, so two demotions cannot race past it.
    pub fn update_user(&self, u: &UserRecord) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let was_admin: Option<bool> = tx
            .query_row("SELECT admin FROM users WHERE username = ?1", [&u.username], |r| r.get(0))
            .optional()?;
        let changed = tx.execute(
            "UPDATE users SET name = ?2, passphrase_hash = ?3, admin = ?4, updated_at = ?5, \
             roots = ?6, max_sessions = ?7, unix_account = ?8, max_session_memory_mb = ?9 \
             WHERE username = ?1",
            params![
                u.username,
                u.name,
                u.passphrase_hash,
                u.admin,
                u.updated_at,
                roots_json(u),
                u.max_sessions,
                u.unix_account,
                u.max_session_memory_mb
            ],
        )?;
        if changed == 0 {
            return Err(Error::NotFound(format!("no user named {:?}", u.username)));
        }
        let admins: i64 =
            tx.query_row("SELECT COUNT(*) FROM users WHERE admin = 1", [], |r| r.get(0))?;
        if admins == 0 && was_admin == Some(true) {
            return Err(Error::Conflict("the last admin cannot be demoted".into()));
        }
        tx.commit()?;
        Ok(())
    }

    /// Where the user `username` was brought over from; `None` if made here or no such user.
    pub fn user_imported_from(&self, username: &str) -> Result<Option<String>> {
        Ok(self
            .conn()
            .query_row("SELECT imported_from FROM users WHERE username = ?1", [username], |r| {
                r.get(0)
            })
            .optional()?
            .flatten())
    }

    /// Replaces the user's passphrase hash if it is still `old` (a sign-in upgrading an
    /// imported hash must not undo a passphrase change made meanwhile); returns whether it did.
    pub fn replace_passphrase_hash(&self, username: &str, old: &str, new: &str) -> Result<bool> {
        Ok(self.conn().execute(
            "UPDATE users SET passphrase_hash = ?3 WHERE username = ?1 AND passphrase_hash = ?2",
            params![username, old, new],
        )? > 0)
    }

    // ---- tokens ----

    /// Inserts a token.
    pub fn insert_token(&self, t: &TokenRecord) -> Result<()> {
        insert_token(&self.conn(), t)
    }

    /// The token with this id.
    pub fn get_token(&self, id: &str) -> Result<Option<TokenRecord>> {
        Ok(self
            .conn()
            .query_row(&format!("SELECT {TOKEN_COLS} FROM tokens WHERE id = ?1"), [id], token_row)
            .optional()?)
    }

    /// Tokens of one user, or of everyone.
    pub fn list_tokens(&self, username: Option<&str>) -> Result<Vec<TokenRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {TOKEN_COLS} FROM tokens WHERE ?1 IS NULL OR username = ?1 \
             ORDER BY created_at, id"
        ))?;
        Ok(stmt.query_map([username], token_row)?.collect::<rusqlite::Result<_>>()?)
    }

    /// Renames a token.
    pub fn rename_token(&self, id: &str, name: &str) -> Result<()> {
        if self.conn().execute("UPDATE tokens SET name = ?2 WHERE id = ?1", params![id, name])? == 0
        {
            return Err(Error::NotFound(format!("no token with id {id:?}")));
        }
        Ok(())
    }

    /// Records a use of the token.
    pub fn touch_token(&self, id: &str, at: i64) -> Result<()> {
        self.conn()
            .execute("UPDATE tokens SET last_used_at = ?2 WHERE id = ?1", params![id, at])?;
        Ok(())
    }

    /// Deletes a token; returns whether it existed.
    pub fn delete_token(&self, id: &str) -> Result<bool> {
        Ok(self.conn().execute("DELETE FROM tokens WHERE id = ?1", [id])? > 0)
    }

    /// Deletes every token of a user; returns the deleted ids.
    pub fn delete_user_tokens(&self, username: &str) -> Result<Vec<String>> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let ids = {
            let mut stmt = tx.prepare("SELECT id FROM tokens WHERE username = ?1")?;
            stmt.query_map([username], |r| r.get(0))?.collect::<rusqlite::Result<Vec<String>>>()?
        };
        tx.execute("DELETE FROM tokens WHERE username = ?1", [username])?;
        tx.commit()?;
        Ok(ids)
    }

    // ---- browser sessions ----

    /// Inserts a browser session.
    pub fn insert_browser_session(&self, b: &BrowserSessionRecord) -> Result<()> {
        self.conn().execute(
            &format!(
                "INSERT INTO browser_sessions ({BROWSER_COLS}) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
            ),
            params![
                b.id,
                b.username,
                b.secret_hash,
                b.user_agent,
                b.created_at,
                b.last_seen_at,
                b.expires_at,
                b.scope,
                b.limit_expires_at
            ],
        )?;
        Ok(())
    }

    /// The browser session with this id.
    pub fn get_browser_session(&self, id: &str) -> Result<Option<BrowserSessionRecord>> {
        Ok(self
            .conn()
            .query_row(
                &format!("SELECT {BROWSER_COLS} FROM browser_sessions WHERE id = ?1"),
                [id],
                browser_row,
            )
            .optional()?)
    }

    /// Browser sessions of one user.
    pub fn list_browser_sessions(&self, username: &str) -> Result<Vec<BrowserSessionRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {BROWSER_COLS} FROM browser_sessions WHERE username = ?1 ORDER BY created_at"
        ))?;
        Ok(stmt.query_map([username], browser_row)?.collect::<rusqlite::Result<_>>()?)
    }

    /// Records activity on a browser session.
    pub fn touch_browser_session(&self, id: &str, at: i64) -> Result<()> {
        self.conn().execute(
            "UPDATE browser_sessions SET last_seen_at = ?2 WHERE id = ?1",
            params![id, at],
        )?;
        Ok(())
    }

    /// Ends a browser session; returns whether it existed.
    pub fn delete_browser_session(&self, id: &str) -> Result<bool> {
        Ok(self.conn().execute("DELETE FROM browser_sessions WHERE id = ?1", [id])? > 0)
    }

    /// Ends every browser session of a user except `keep`; returns the ended ids.
    pub fn delete_user_browser_sessions(
        &self,
        username: &str,
        keep: Option<&str>,
    ) -> Result<Vec<String>> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let ids = {
            let mut stmt =
                tx.prepare("SELECT id FROM browser_sessions WHERE username = ?1 AND id IS NOT ?2")?;
            stmt.query_map(params![username, keep], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<String>>>()?
        };
        tx.execute(
            "DELETE FROM browser_sessions WHERE username = ?1 AND id IS NOT ?2",
            params![username, keep],
        )?;
        tx.commit()?;
        Ok(ids)
    }

    /// Deletes expired browser sessions.
    pub fn purge_browser_sessions(&self, now: i64) -> Result<u64> {
        Ok(self.conn().execute("DELETE FROM browser_sessions WHERE expires_at <= ?1", [now])?
            as u64)
    }

    // ---- audit ----

    /// Appends an audit event.
    pub fn insert_audit(&self, a: &AuditRecord) -> Result<()> {
        self.conn().execute(
            "INSERT INTO audit (ts, actor, action, target, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![a.ts, a.actor, a.action, a.target, a.detail],
        )?;
        Ok(())
    }

    /// The newest `limit` audit events, oldest first.
    pub fn list_audit(&self, limit: u32) -> Result<Vec<AuditRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id, ts, actor, action, target, detail FROM \
             (SELECT * FROM audit ORDER BY id DESC LIMIT ?1) ORDER BY id",
        )?;
        let rows = stmt.query_map([limit], |r| {
            Ok(AuditRecord {
                id: r.get(0)?,
                ts: r.get(1)?,
                actor: r.get(2)?,
                action: r.get(3)?,
                target: r.get(4)?,
                detail: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

#[cfg(test)]
mod tests {
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
        assert!(matches!(
            store.delete_user("root", &crate::store::UserSessions::End),
            Err(Error::Conflict(_))
        ));

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
        let deleted = store.delete_user("bob", &crate::store::UserSessions::End).unwrap();
        assert_eq!((deleted.tokens, deleted.browser_sessions), (2, vec!["b1".to_owned()]));
        assert!(store.get_token("t1").unwrap().is_none());
        assert!(store.get_browser_session("b1").unwrap().is_none());
        assert_eq!(store.list_tokens(None).unwrap().len(), 1);
        assert!(!format!("{:?}", user("x", false)).contains("\"h\""), "hash redacted in Debug");
    }

    /// Browser sessions signed in before sessions had a scope keep their full rights.
    #[test]
    fn browser_sessions_from_before_migration_6_keep_full_rights() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        for sql in &super::super::MIGRATIONS[..5] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 5).unwrap();
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
        let b = store.get_browser_session("b1").unwrap().unwrap();
        assert_eq!((b.scope.as_str(), b.limit_expires_at), ("admin", None));
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

        bob.roots = vec!["/srv/only".into()];
        bob.max_sessions = None;
        bob.updated_at = 2;
        store.update_user(&bob).unwrap();
        assert_eq!(store.get_user("bob").unwrap().unwrap(), bob);
        bob.roots.clear();
        bob.max_sessions = Some(1000);
        store.update_user(&bob).unwrap();
        assert_eq!(store.get_user("bob").unwrap().unwrap(), bob);

        let paths = Paths::in_state_dir(PathBuf::from("/s"));
        assert_eq!(bob.granted_roots(&paths), [PathBuf::from("/s/workspaces/bob")]);
        bob.roots = vec!["/srv/a".into(), "/srv/b".into()];
        assert_eq!(bob.granted_roots(&paths), [PathBuf::from("/srv/a"), PathBuf::from("/srv/b")]);
    }

    /// A database from before migration 9 keeps its users, with no roots and no limit.
    #[test]
    fn users_from_before_migration_9_get_default_isolation_settings() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        for sql in &super::super::MIGRATIONS[..8] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 8).unwrap();
        // the schema of version 8, written out: later migrations may change the users table
        conn.execute(
            "INSERT INTO users (username, name, passphrase_hash, admin, created_at, updated_at, \
             id) VALUES ('bob', 'Bob', 'h', 0, 1, 1, 1)",
            [],
        )
        .unwrap();
        let store = Store::init(conn).unwrap();
        assert!(store.schema_version().unwrap() >= 9);
        let bob = store.get_user("bob").unwrap().unwrap();
        assert_eq!((bob.name.as_str(), bob.roots.len(), bob.max_sessions), ("Bob", 0, None));
        assert_eq!(store.list_users().unwrap(), [bob]);
    }

    /// Migration 12 keeps every user and token of a version-11 database, marks none of them
    /// imported, and an imported user's hash is replaced only while it is still the old one.
    #[test]
    fn migration_12_keeps_users_and_tokens_and_marks_none_imported() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        for sql in &super::super::MIGRATIONS[..11] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 11).unwrap();
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
        assert_eq!(store.schema_version().unwrap(), super::super::MIGRATIONS.len());
        let bob = store.get_user("bob").unwrap().unwrap();
        assert_eq!(
            (bob.name.as_str(), bob.passphrase_hash.as_str(), bob.admin),
            ("Bob", "h", true)
        );
        assert_eq!(store.user_imported_from("bob").unwrap(), None);
        let t = store.get_token("t1").unwrap().unwrap();
        assert_eq!((t.name.as_str(), t.scope.as_str(), t.imported_from), ("laptop", "admin", None));

        let batch =
            crate::store::ImportBatch { users: vec![user("old", false)], ..Default::default() };
        store.insert_imported(&batch, "llmux 0.41").unwrap();
        assert_eq!(store.user_imported_from("old").unwrap().as_deref(), Some("llmux 0.41"));
        assert!(store.imported_before("user", "old").unwrap());
        assert!(store.insert_imported(&batch, "llmux 0.41").is_err(), "all or nothing");
        assert!(!store.replace_passphrase_hash("old", "other", "new").unwrap());
        assert!(store.replace_passphrase_hash("old", "h", "new").unwrap());
        assert_eq!(store.get_user("old").unwrap().unwrap().passphrase_hash, "new");
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
}
