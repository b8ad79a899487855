//! The SQLite store: one file in the state dir, WAL mode, mode 0600, schema versioned with
//! `PRAGMA user_version`.
//!
//! Every write is one transaction, so a crash leaves the previous or the next state. Methods
//! are synchronous: async callers run them on a blocking thread.
//!
//! Core owns the schema (every migration) and the queries of the domain's tables. The records
//! of accounts and credentials (`users`, `tokens`, `browser_sessions`, `audit`) are read and
//! written by `llmux-auth` (`llmux_auth::store`) through the seams [`Store::read`] and
//! [`Store::transaction`]; core reads only what the session side needs of a user
//! ([`Store::owner_facts`]) and deletes users with everything of theirs
//! ([`Store::delete_user`]), since every other table refers to them.

pub mod backup;
mod conversations;
mod devices;
mod hosts;
mod idempotency;
mod import;
mod owners;
mod prompt_queue;
mod push;
mod review;
mod sessions;
#[cfg(test)]
mod tests;
mod worktrees;

use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, Transaction};

pub use conversations::{ConversationHow, ConversationOwnerRecord};
pub use devices::LoginDeviceRecord;
pub use hosts::{HostAddress, HostRecord};
pub use idempotency::{IDEMPOTENCY_TTL_MS, IdempotencyRecord};
pub use import::record_imported;
pub use owners::{DeletedUser, OwnerFacts, UserSessions, granted_roots, roots_column, roots_json};
pub use prompt_queue::{NewQueueItem, QueueItemRecord};
pub use push::{PushSessionRecord, PushSubscriptionRecord};
pub use review::{CommentRecord, NewComment};
pub use sessions::{SessionRecord, insert_session};
pub use worktrees::WorktreeRecord;

use crate::error::{Error, Result};

/// Migrations in order; migration `i` moves the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/0001_sessions.sql"),
    include_str!("../../migrations/0002_auth.sql"),
    include_str!("../../migrations/0003_push.sql"),
    include_str!("../../migrations/0004_conversations.sql"),
    include_str!("../../migrations/0005_push_sessions_follow.sql"),
    include_str!("../../migrations/0006_credential_limits.sql"),
    include_str!("../../migrations/0007_conversation_owners.sql"),
    include_str!("../../migrations/0008_owner_names_and_user_ids.sql"),
    include_str!("../../migrations/0009_user_isolation_settings.sql"),
    include_str!("../../migrations/0010_unix_accounts.sql"),
    include_str!("../../migrations/0011_session_memory_ceiling.sql"),
    include_str!("../../migrations/0012_imported_credentials.sql"),
    include_str!("../../migrations/0013_review_comments.sql"),
    include_str!("../../migrations/0014_worktrees.sql"),
    include_str!("../../migrations/0015_prompt_queue.sql"),
    include_str!("../../migrations/0016_hosts.sql"),
    include_str!("../../migrations/0017_host_labels.sql"),
    include_str!("../../migrations/0018_host_users.sql"),
    include_str!("../../migrations/0019_session_after_limit.sql"),
];

/// The schema version this binary's store is at after [`Store::open`]: the number of
/// migrations it knows.
pub const SCHEMA_VERSION: usize = MIGRATIONS.len();

/// The refusal of a database newer than this binary.
fn newer_schema(path: &Path, version: usize) -> Error {
    Error::invalid(format!(
        "the database {} has schema version {version}, newer than this llmux {} knows \
         (version {SCHEMA_VERSION}): it was written by a newer llmux and is left untouched; \
         run that newer llmux again, or restore a backup made by this version",
        path.display(),
        env!("CARGO_PKG_VERSION"),
    ))
}

/// The database handle.
#[derive(Debug)]
pub struct Store {
    conn: Mutex<Connection>,
}

impl Store {
    /// Opens (creating if needed, mode 0600) and migrates the database at `path`.
    ///
    /// A database of a newer schema than this binary knows is refused before SQLite opens
    /// it (its header is read as plain bytes), so the file is left byte for byte as it was
    /// and no `-wal` or `-shm` file appears beside it.
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(version) = backup::file_schema_version(path)?
            && version > SCHEMA_VERSION
        {
            return Err(newer_schema(path, version));
        }
        // Create the file ourselves so it is born 0600: SQLite would use the umask.
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| Error::io(format!("cannot create {}", path.display()), e))?;
        let conn = Connection::open(path)?;
        Store::init(conn)
    }

    /// An in-memory database, for tests.
    pub fn open_in_memory() -> Result<Store> {
        Store::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<Store> {
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        // The version before anything that writes (journal_mode writes the header): a
        // newer database is never touched. (The header check in `open` covers the file as
        // it is on disk; this one also sees a newer version still in a WAL.)
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if usize::try_from(version).unwrap_or(0) > SCHEMA_VERSION {
            let path = conn.path().map(std::path::PathBuf::from).unwrap_or_default();
            return Err(newer_schema(&path, usize::try_from(version).unwrap_or(0)));
        }
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let store = Store { conn: Mutex::new(conn) };
        store.migrate()?;
        Ok(store)
    }

    fn migrate(&self) -> Result<()> {
        let mut conn = self.conn();
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let version = usize::try_from(version).unwrap_or(0);
        if version > SCHEMA_VERSION {
            let path = conn.path().map(std::path::PathBuf::from).unwrap_or_default();
            return Err(newer_schema(&path, version));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
            let tx = conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
            tx.commit()?;
        }
        Ok(())
    }

    /// The schema version in the file.
    pub fn schema_version(&self) -> Result<usize> {
        let version: i64 = self.conn().pragma_query_value(None, "user_version", |r| r.get(0))?;
        Ok(usize::try_from(version).unwrap_or(0))
    }

    /// Whether the database takes writes: takes the write lock, rewrites the schema version
    /// with its own value, and rolls back (nothing changes). For the health check.
    pub fn check_writable(&self) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        tx.pragma_update(None, "user_version", version)?;
        tx.rollback()?;
        Ok(())
    }

    /// Moves everything in the write-ahead log into the database file and empties the log
    /// (the daemon's last act on a graceful stop: the file alone is then complete).
    pub fn checkpoint(&self) -> Result<()> {
        self.conn().query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// Runs the queries of `f` on the connection: the seam through which other crates read
    /// their own tables (`llmux-auth`'s users and credentials), under this store's one lock.
    ///
    /// The lock is held for the whole closure, so `f` is short, synchronous (an async caller
    /// runs it on a blocking thread; nothing in it awaits) and never calls back into this
    /// store. It is for reads: a write goes through [`Store::transaction`].
    pub fn read<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T> {
        Ok(f(&self.conn())?)
    }

    /// Runs `f` in one transaction, committed if it returns `Ok` and rolled back (nothing
    /// written) if it returns an error: the seam through which other crates write their own
    /// tables (`llmux-auth`'s users and credentials), and an import writes users, tokens and
    /// sessions all or nothing.
    ///
    /// The lock is held for the whole closure, as with [`Store::read`]: `f` is short,
    /// synchronous, and never calls back into this store (it uses `tx`). Helpers that take a
    /// `&Connection` ([`insert_session`], [`record_imported`]) take `tx` as one.
    pub fn transaction<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent (transactions roll
        // back on drop), so a poisoned lock is still usable.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Maps a unique-constraint violation to [`Error::AlreadyExists`] with `message`, any other
/// SQLite error to [`Error::Store`] (for writes through [`Store::transaction`] too).
pub fn on_conflict(err: rusqlite::Error, message: impl FnOnce() -> String) -> Error {
    match err {
        rusqlite::Error::SqliteFailure(e, _)
            if e.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            Error::AlreadyExists(message())
        }
        other => Error::Store(other),
    }
}

/// Inserts a user the way `llmux-auth` does (the next id from `user_id_seq`), with plain SQL:
/// core's own tests need users for what refers to them.
#[cfg(test)]
pub(crate) fn insert_test_user(store: &Store, username: &str, admin: bool) {
    store
        .transaction(|tx| {
            tx.execute("UPDATE user_id_seq SET last = last + 1", [])?;
            tx.execute(
                "INSERT INTO users (username, name, passphrase_hash, admin, created_at, \
                 updated_at, id) VALUES (?1, ?1, 'h', ?2, 1, 1, (SELECT last FROM user_id_seq))",
                rusqlite::params![username, admin],
            )?;
            Ok(())
        })
        .unwrap();
}
