//! Users, tokens, browser sessions and the audit log in core's store: their records and
//! queries, as [`AuthStore`], an extension of [`Store`] (`use llmux_auth::store::AuthStore`,
//! then `store.get_user(name)`).
//!
//! The tables are core's schema and migrations (every other table refers to `users`, and
//! core's `Store::delete_user` deletes a user with everything of theirs); this module reads
//! and writes them through core's seams, [`Store::read`] and [`Store::transaction`], under the
//! store's one lock. Methods are synchronous, as core's: async callers run them on a blocking
//! thread.

mod import;
mod records;
#[cfg(test)]
mod tests;

use llmux_core::store::{Store, roots_json};
use llmux_core::{Error, Result};
use rusqlite::{OptionalExtension, params};

pub use import::ImportBatch;
pub use records::{AuditRecord, BrowserSessionRecord, TokenRecord, UserRecord};

use records::{
    BROWSER_COLS, TOKEN_COLS, USER_COLS, audit_row, browser_row, insert_token, insert_user,
    token_row, user_row,
};

mod sealed {
    /// Only core's store is an [`super::AuthStore`].
    pub trait Sealed {}
    impl Sealed for llmux_core::store::Store {}
}

/// The queries of users, tokens, browser sessions and the audit log on core's [`Store`].
pub trait AuthStore: sealed::Sealed {
    // ---- users ----

    /// Inserts a user; [`Error::AlreadyExists`] if the name is taken.
    fn insert_user(&self, u: &UserRecord) -> Result<()>;
    /// Inserts the first user only if no user exists yet (setup races); returns whether it did.
    fn insert_first_user(&self, u: &UserRecord) -> Result<bool>;
    /// The user named `username`.
    fn get_user(&self, username: &str) -> Result<Option<UserRecord>>;
    /// All users, by name.
    fn list_users(&self) -> Result<Vec<UserRecord>>;
    /// Number of users.
    fn count_users(&self) -> Result<u64>;
    /// Updates name, hash, admin flag, roots, session limit, Unix account and memory ceiling.
    /// Demoting the last admin is refused ([`Error::Conflict`]) inside the same transaction,
    /// so two demotions cannot race past it.
    fn update_user(&self, u: &UserRecord) -> Result<()>;
    /// Where the user `username` was brought over from; `None` if made here or no such user.
    fn user_imported_from(&self, username: &str) -> Result<Option<String>>;
    /// Replaces the user's passphrase hash if it is still `old` (a sign-in upgrading an
    /// imported hash must not undo a passphrase change made meanwhile); returns whether it did.
    fn replace_passphrase_hash(&self, username: &str, old: &str, new: &str) -> Result<bool>;

    // ---- tokens ----

    /// Inserts a token.
    fn insert_token(&self, t: &TokenRecord) -> Result<()>;
    /// The token with this id.
    fn get_token(&self, id: &str) -> Result<Option<TokenRecord>>;
    /// Tokens of one user, or of everyone.
    fn list_tokens(&self, username: Option<&str>) -> Result<Vec<TokenRecord>>;
    /// Renames a token.
    fn rename_token(&self, id: &str, name: &str) -> Result<()>;
    /// Records a use of the token.
    fn touch_token(&self, id: &str, at: i64) -> Result<()>;
    /// Deletes a token; returns whether it existed.
    fn delete_token(&self, id: &str) -> Result<bool>;
    /// Deletes every token of a user; returns the deleted ids.
    fn delete_user_tokens(&self, username: &str) -> Result<Vec<String>>;

    // ---- browser sessions ----

    /// Inserts a browser session.
    fn insert_browser_session(&self, b: &BrowserSessionRecord) -> Result<()>;
    /// The browser session with this id.
    fn get_browser_session(&self, id: &str) -> Result<Option<BrowserSessionRecord>>;
    /// Browser sessions of one user.
    fn list_browser_sessions(&self, username: &str) -> Result<Vec<BrowserSessionRecord>>;
    /// Records activity on a browser session.
    fn touch_browser_session(&self, id: &str, at: i64) -> Result<()>;
    /// Ends a browser session; returns whether it existed.
    fn delete_browser_session(&self, id: &str) -> Result<bool>;
    /// Ends every browser session of a user except `keep`; returns the ended ids.
    fn delete_user_browser_sessions(
        &self,
        username: &str,
        keep: Option<&str>,
    ) -> Result<Vec<String>>;
    /// Deletes expired browser sessions.
    fn purge_browser_sessions(&self, now: i64) -> Result<u64>;

    // ---- audit ----

    /// Appends an audit event.
    fn insert_audit(&self, a: &AuditRecord) -> Result<()>;
    /// The newest `limit` audit events, oldest first.
    fn list_audit(&self, limit: u32) -> Result<Vec<AuditRecord>>;

    // ---- import ----

    /// Inserts the batch in one transaction (all or nothing), marks the users as imported
    /// from `origin`, and records every item in core's `imported` table.
    fn insert_imported(&self, batch: &ImportBatch, origin: &str) -> Result<()>;
}

impl AuthStore for Store {
    fn insert_user(&self, u: &UserRecord) -> Result<()> {
        self.transaction(|tx| insert_user(tx, u))
    }

    fn insert_first_user(&self, u: &UserRecord) -> Result<bool> {
        self.transaction(|tx| {
            let count: i64 = tx.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))?;
            if count > 0 {
                return Ok(false);
            }
            insert_user(tx, u)?;
            Ok(true)
        })
    }

    fn get_user(&self, username: &str) -> Result<Option<UserRecord>> {
        self.read(|c| {
            c.query_row(
                &format!("SELECT {USER_COLS} FROM users WHERE username = ?1"),
                [username],
                user_row,
            )
            .optional()
        })
    }

    fn list_users(&self) -> Result<Vec<UserRecord>> {
        self.read(|c| {
            let mut stmt =
                c.prepare(&format!("SELECT {USER_COLS} FROM users ORDER BY username"))?;
            stmt.query_map([], user_row)?.collect()
        })
    }

    fn count_users(&self) -> Result<u64> {
        self.read(|c| c.query_row("SELECT COUNT(*) FROM users", [], |r| r.get::<_, i64>(0)))
            .map(|n| n as u64)
    }

    fn update_user(&self, u: &UserRecord) -> Result<()> {
        self.transaction(|tx| {
            let was_admin: Option<bool> = tx
                .query_row("SELECT admin FROM users WHERE username = ?1", [&u.username], |r| {
                    r.get(0)
                })
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
                    roots_json(&u.roots),
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
            Ok(())
        })
    }

    fn user_imported_from(&self, username: &str) -> Result<Option<String>> {
        self.read(|c| {
            c.query_row("SELECT imported_from FROM users WHERE username = ?1", [username], |r| {
                r.get(0)
            })
            .optional()
        })
        .map(Option::flatten)
    }

    fn replace_passphrase_hash(&self, username: &str, old: &str, new: &str) -> Result<bool> {
        self.transaction(|tx| {
            Ok(tx.execute(
                "UPDATE users SET passphrase_hash = ?3 WHERE username = ?1 AND passphrase_hash = ?2",
                params![username, old, new],
            )? > 0)
        })
    }

    fn insert_token(&self, t: &TokenRecord) -> Result<()> {
        self.transaction(|tx| insert_token(tx, t))
    }

    fn get_token(&self, id: &str) -> Result<Option<TokenRecord>> {
        self.read(|c| {
            c.query_row(&format!("SELECT {TOKEN_COLS} FROM tokens WHERE id = ?1"), [id], token_row)
                .optional()
        })
    }

    fn list_tokens(&self, username: Option<&str>) -> Result<Vec<TokenRecord>> {
        self.read(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {TOKEN_COLS} FROM tokens WHERE ?1 IS NULL OR username = ?1 \
                 ORDER BY created_at, id"
            ))?;
            stmt.query_map([username], token_row)?.collect()
        })
    }

    fn rename_token(&self, id: &str, name: &str) -> Result<()> {
        self.transaction(|tx| {
            if tx.execute("UPDATE tokens SET name = ?2 WHERE id = ?1", params![id, name])? == 0 {
                return Err(Error::NotFound(format!("no token with id {id:?}")));
            }
            Ok(())
        })
    }

    fn touch_token(&self, id: &str, at: i64) -> Result<()> {
        self.transaction(|tx| {
            tx.execute("UPDATE tokens SET last_used_at = ?2 WHERE id = ?1", params![id, at])?;
            Ok(())
        })
    }

    fn delete_token(&self, id: &str) -> Result<bool> {
        self.transaction(|tx| Ok(tx.execute("DELETE FROM tokens WHERE id = ?1", [id])? > 0))
    }

    fn delete_user_tokens(&self, username: &str) -> Result<Vec<String>> {
        self.transaction(|tx| {
            let ids = {
                let mut stmt = tx.prepare("SELECT id FROM tokens WHERE username = ?1")?;
                stmt.query_map([username], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?
            };
            tx.execute("DELETE FROM tokens WHERE username = ?1", [username])?;
            Ok(ids)
        })
    }

    fn insert_browser_session(&self, b: &BrowserSessionRecord) -> Result<()> {
        self.transaction(|tx| {
            tx.execute(
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
        })
    }

    fn get_browser_session(&self, id: &str) -> Result<Option<BrowserSessionRecord>> {
        self.read(|c| {
            c.query_row(
                &format!("SELECT {BROWSER_COLS} FROM browser_sessions WHERE id = ?1"),
                [id],
                browser_row,
            )
            .optional()
        })
    }

    fn list_browser_sessions(&self, username: &str) -> Result<Vec<BrowserSessionRecord>> {
        self.read(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {BROWSER_COLS} FROM browser_sessions WHERE username = ?1 \
                 ORDER BY created_at"
            ))?;
            stmt.query_map([username], browser_row)?.collect()
        })
    }

    fn touch_browser_session(&self, id: &str, at: i64) -> Result<()> {
        self.transaction(|tx| {
            tx.execute(
                "UPDATE browser_sessions SET last_seen_at = ?2 WHERE id = ?1",
                params![id, at],
            )?;
            Ok(())
        })
    }

    fn delete_browser_session(&self, id: &str) -> Result<bool> {
        self.transaction(|tx| {
            Ok(tx.execute("DELETE FROM browser_sessions WHERE id = ?1", [id])? > 0)
        })
    }

    fn delete_user_browser_sessions(
        &self,
        username: &str,
        keep: Option<&str>,
    ) -> Result<Vec<String>> {
        self.transaction(|tx| {
            let ids = {
                let mut stmt = tx.prepare(
                    "SELECT id FROM browser_sessions WHERE username = ?1 AND id IS NOT ?2",
                )?;
                stmt.query_map(params![username, keep], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()?
            };
            tx.execute(
                "DELETE FROM browser_sessions WHERE username = ?1 AND id IS NOT ?2",
                params![username, keep],
            )?;
            Ok(ids)
        })
    }

    fn purge_browser_sessions(&self, now: i64) -> Result<u64> {
        self.transaction(|tx| {
            Ok(tx.execute("DELETE FROM browser_sessions WHERE expires_at <= ?1", [now])? as u64)
        })
    }

    fn insert_audit(&self, a: &AuditRecord) -> Result<()> {
        self.transaction(|tx| {
            tx.execute(
                "INSERT INTO audit (ts, actor, action, target, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![a.ts, a.actor, a.action, a.target, a.detail],
            )?;
            Ok(())
        })
    }

    fn list_audit(&self, limit: u32) -> Result<Vec<AuditRecord>> {
        self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT id, ts, actor, action, target, detail FROM \
                 (SELECT * FROM audit ORDER BY id DESC LIMIT ?1) ORDER BY id",
            )?;
            stmt.query_map([limit], audit_row)?.collect()
        })
    }

    fn insert_imported(&self, batch: &ImportBatch, origin: &str) -> Result<()> {
        self.transaction(|tx| import::insert(tx, batch, origin))
    }
}
