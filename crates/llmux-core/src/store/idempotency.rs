//! The `idempotency_keys` table: the first outcome of each request made with an
//! `Idempotency-Key` header, per caller, so a retry answers it again instead of acting twice.
//! The rules (what is remembered, what a repeat gets) live in the server.

use rusqlite::{OptionalExtension, params};

use super::Store;
use crate::error::Result;

/// How long an outcome is remembered: long enough to cover any client's retries.
pub const IDEMPOTENCY_TTL_MS: i64 = 24 * 3600 * 1000;

/// Outcomes kept per caller; the oldest beyond this are forgotten early.
const KEYS_PER_SCOPE: i64 = 10_000;

/// The remembered outcome of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    /// Whose key: `""` for the local operator, `u:NAME` for a user.
    pub scope: String,
    /// The key as the client sent it.
    pub key: String,
    /// Hex SHA-256 of what the request asked (method, path, body).
    pub fingerprint: String,
    /// The response's status code.
    pub status: u16,
    /// The response's `Content-Type`.
    pub content_type: String,
    /// The response's body.
    pub body: Vec<u8>,
    /// When it was answered, unix ms.
    pub created_at: i64,
}

impl Store {
    /// The outcome remembered for `key` of `scope`, if younger than [`IDEMPOTENCY_TTL_MS`].
    pub fn idempotency_get(
        &self,
        scope: &str,
        key: &str,
        now: i64,
    ) -> Result<Option<IdempotencyRecord>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT fingerprint, status, content_type, body, created_at \
                 FROM idempotency_keys WHERE scope = ?1 AND key = ?2 AND created_at > ?3",
                params![scope, key, now - IDEMPOTENCY_TTL_MS],
                |r| {
                    Ok(IdempotencyRecord {
                        scope: scope.to_owned(),
                        key: key.to_owned(),
                        fingerprint: r.get(0)?,
                        status: r.get(1)?,
                        content_type: r.get(2)?,
                        body: r.get(3)?,
                        created_at: r.get(4)?,
                    })
                },
            )
            .optional()?)
    }

    /// Remembers an outcome (replacing an expired one of the same key); forgets outcomes
    /// older than [`IDEMPOTENCY_TTL_MS`] and all but the newest few thousand of the scope.
    pub fn idempotency_put(&self, rec: &IdempotencyRecord) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "DELETE FROM idempotency_keys WHERE created_at <= ?1",
            [rec.created_at - IDEMPOTENCY_TTL_MS],
        )?;
        tx.execute(
            "INSERT OR REPLACE INTO idempotency_keys \
             (scope, key, fingerprint, status, content_type, body, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                rec.scope,
                rec.key,
                rec.fingerprint,
                rec.status,
                rec.content_type,
                rec.body,
                rec.created_at
            ],
        )?;
        let count: i64 = tx.query_row(
            "SELECT count(*) FROM idempotency_keys WHERE scope = ?1",
            [&rec.scope],
            |r| r.get(0),
        )?;
        if count > KEYS_PER_SCOPE {
            tx.execute(
                "DELETE FROM idempotency_keys WHERE scope = ?1 AND key IN \
                 (SELECT key FROM idempotency_keys WHERE scope = ?1 \
                  ORDER BY created_at LIMIT ?2)",
                params![rec.scope, count - KEYS_PER_SCOPE],
            )?;
        }
        tx.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(scope: &str, key: &str, at: i64) -> IdempotencyRecord {
        IdempotencyRecord {
            scope: scope.into(),
            key: key.into(),
            fingerprint: "f".into(),
            status: 200,
            content_type: "application/json".into(),
            body: b"{\"ok\":true}".to_vec(),
            created_at: at,
        }
    }

    #[test]
    fn remembered_per_scope_until_expired() {
        let store = Store::open_in_memory().unwrap();
        let t = 1_000_000_000_000;
        store.idempotency_put(&rec("u:a", "k", t)).unwrap();
        assert_eq!(store.idempotency_get("u:a", "k", t + 1).unwrap(), Some(rec("u:a", "k", t)));
        assert_eq!(store.idempotency_get("u:b", "k", t + 1).unwrap(), None, "scoped per user");
        assert_eq!(store.idempotency_get("u:a", "k", t + IDEMPOTENCY_TTL_MS).unwrap(), None);
        store.idempotency_put(&rec("u:a", "other", t + IDEMPOTENCY_TTL_MS + 1)).unwrap();
        let n: i64 = store
            .conn()
            .query_row("SELECT count(*) FROM idempotency_keys", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1, "the expired key was pruned");
    }
}
