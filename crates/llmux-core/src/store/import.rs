//! The record of what `llmux import` brought over from another llmux (`imported`), which
//! outlives the rows: what was revoked, deleted or removed here after an import is not
//! brought back by the next one. The import itself (users, tokens and sessions in one
//! transaction) is `llmux-auth`'s `insert_imported`, through [`Store::transaction`].

use rusqlite::{OptionalExtension, params};

use super::Store;
use crate::error::Result;

/// Records in `imported`, on `conn` (the import's transaction), that `key` of `kind`
/// (`user`, `token`, `session`) was brought over from `origin` at `at` (unix ms).
pub fn record_imported(
    conn: &rusqlite::Connection,
    kind: &str,
    key: &str,
    origin: &str,
    at: i64,
) -> Result<()> {
    conn.execute(
        "INSERT OR REPLACE INTO imported (kind, key, origin, at) VALUES (?1, ?2, ?3, ?4)",
        params![kind, key, origin, at],
    )?;
    Ok(())
}

impl Store {
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
