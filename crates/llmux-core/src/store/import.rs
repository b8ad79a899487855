//! What `llmux import` brings over from another llmux, written in one transaction, and the
//! record of it (`imported`), which outlives the rows: what was revoked, deleted or removed
//! here after an import is not brought back by the next one.

use rusqlite::{OptionalExtension, params};

use super::auth::{insert_token, insert_user};
use super::sessions::insert_session;
use super::{SessionRecord, Store, TokenRecord, UserRecord, on_conflict};
use crate::error::Result;
use crate::time::now_ms;

/// Users, tokens and sessions to insert together.
#[derive(Debug, Clone, Default)]
pub struct ImportBatch {
    /// Users (their passphrase hashes as brought over).
    pub users: Vec<UserRecord>,
    /// Tokens.
    pub tokens: Vec<TokenRecord>,
    /// Sessions.
    pub sessions: Vec<SessionRecord>,
}

impl Store {
    /// Inserts the batch in one transaction (all or nothing), marks the users as imported
    /// from `origin`, and records every item in `imported`.
    pub fn insert_imported(&self, batch: &ImportBatch, origin: &str) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let at = now_ms();
        let record = |kind: &str, key: &str| {
            tx.execute(
                "INSERT OR REPLACE INTO imported (kind, key, origin, at) VALUES (?1, ?2, ?3, ?4)",
                params![kind, key, origin, at],
            )
        };
        for u in &batch.users {
            insert_user(&tx, u)
                .map_err(|e| on_conflict(e, || format!("user {:?} already exists", u.username)))?;
            tx.execute(
                "UPDATE users SET imported_from = ?2 WHERE username = ?1",
                params![u.username, origin],
            )?;
            record("user", &u.username)?;
        }
        for t in &batch.tokens {
            insert_token(&tx, t)?;
            record("token", &t.id)?;
        }
        for s in &batch.sessions {
            insert_session(&tx, s)?;
            record("session", &s.name)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Whether an import brought `key` of `kind` (`user`, `token`, `session`) over before,
    /// whether or not it is still here.
    pub fn imported_before(&self, kind: &str, key: &str) -> Result<bool> {
        Ok(self
            .conn()
            .query_row(
                "SELECT 1 FROM imported WHERE kind = ?1 AND key = ?2",
                params![kind, key],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }
}
