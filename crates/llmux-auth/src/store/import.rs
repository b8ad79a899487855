//! What `llmux import` brings over from another llmux: users, tokens and sessions written in
//! one transaction, each recorded in core's `imported` table (which outlives the rows: what
//! was revoked, deleted or removed here after an import is not brought back by the next one).

use llmux_core::Result;
use llmux_core::store::{SessionRecord, insert_session, record_imported};
use llmux_core::time::now_ms;
use rusqlite::{Connection, params};

use super::records::{insert_token, insert_user};
use super::{TokenRecord, UserRecord};

/// Users, tokens and sessions to insert together
/// ([`AuthStore::insert_imported`](super::AuthStore::insert_imported)).
#[derive(Debug, Clone, Default)]
pub struct ImportBatch {
    /// Users (their passphrase hashes as brought over).
    pub users: Vec<UserRecord>,
    /// Tokens.
    pub tokens: Vec<TokenRecord>,
    /// Sessions.
    pub sessions: Vec<SessionRecord>,
}

/// Writes `batch` on `tx` (the one transaction of the import), marking its users as imported
/// from `origin` and recording every item.
pub(super) fn insert(tx: &Connection, batch: &ImportBatch, origin: &str) -> Result<()> {
    let at = now_ms();
    for u in &batch.users {
        insert_user(tx, u)?;
        tx.execute(
            "UPDATE users SET imported_from = ?2 WHERE username = ?1",
            params![u.username, origin],
        )?;
        record_imported(tx, "user", &u.username, origin, at)?;
    }
    for t in &batch.tokens {
        insert_token(tx, t)?;
        record_imported(tx, "token", &t.id, origin, at)?;
    }
    for s in &batch.sessions {
        insert_session(tx, s)?;
        record_imported(tx, "session", &s.name, origin, at)?;
    }
    Ok(())
}
