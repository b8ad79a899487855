//! What a user owns, by their immutable id: looking the id up, what the session side needs to
//! know of a session's owner ([`OwnerFacts`]), and deleting a user with everything of theirs
//! (their sessions ending or passing to another user) in one transaction.
//!
//! The `users` table is core's schema, since every other table refers to it; its records and
//! their queries are `llmux-auth`'s (`llmux_auth::store`).

use std::path::PathBuf;

use rusqlite::{OptionalExtension, Row, params};

use super::Store;
use crate::error::{Error, Result};
use crate::paths::Paths;

/// What confining a session needs to know of a user: their rights, their Unix account, their
/// workspace roots and their memory ceiling (from the `users` table, whose records are
/// `llmux-auth`'s).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnerFacts {
    /// Login name.
    pub username: String,
    /// Admin flag (an admin's sessions are not confined).
    pub admin: bool,
    /// Workspace roots granted read-write to the user's confined sessions; empty: the
    /// default workspace (see [`OwnerFacts::granted_roots`]).
    pub roots: Vec<String>,
    /// The Unix account the user's sessions run as under a system daemon; `None`: none mapped.
    pub unix_account: Option<String>,
    /// The memory ceiling of each of the user's sessions, in MiB; `None`: no ceiling.
    pub max_session_memory_mb: Option<u32>,
}

impl OwnerFacts {
    /// The workspace roots the user's confined sessions get read-write ([`granted_roots`]).
    pub fn granted_roots(&self, paths: &Paths) -> Vec<PathBuf> {
        granted_roots(paths, &self.username, &self.roots)
    }
}

/// The workspace roots `username`'s confined sessions get read-write: the granted `roots`, or
/// when none was granted, the default workspace `<state>/workspaces/<username>`
/// ([`Paths::default_workspace`], which the caller creates when first needed).
pub fn granted_roots(paths: &Paths, username: &str, roots: &[String]) -> Vec<PathBuf> {
    if roots.is_empty() {
        vec![paths.default_workspace(username)]
    } else {
        roots.iter().map(PathBuf::from).collect()
    }
}

/// What becomes of a deleted user's sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserSessions {
    /// They end with the account.
    End,
    /// They pass to this (other, existing) user, renamed to their canonical form.
    Transfer(String),
}

/// What a user's deletion did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeletedUser {
    /// Tokens revoked.
    pub tokens: u64,
    /// Ids of the browser sessions ended.
    pub browser_sessions: Vec<String>,
    /// Canonical names of the sessions whose records were deleted (their tmux sessions are
    /// still to be killed).
    pub ended: Vec<String>,
    /// (old, new) canonical names of the sessions handed over (tmux still to be renamed).
    pub moved: Vec<(String, String)>,
}

/// The `roots` column of `users` as stored: a JSON list of paths (`[]` for none, the default
/// since migration 9). For whoever writes users (`llmux-auth`).
pub fn roots_json(roots: &[String]) -> String {
    serde_json::to_string(roots).expect("a string list always serializes")
}

/// The `roots` column (see [`roots_json`]) at `idx` of the row `r`.
pub fn roots_column(r: &Row<'_>, idx: usize) -> rusqlite::Result<Vec<String>> {
    let roots: String = r.get(idx)?;
    serde_json::from_str(&roots).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, Box::new(e))
    })
}

impl Store {
    /// The immutable id of the user named `username`.
    pub fn user_id(&self, username: &str) -> Result<Option<i64>> {
        Ok(self
            .conn()
            .query_row("SELECT id FROM users WHERE username = ?1", [username], |r| r.get(0))
            .optional()?)
    }

    /// Every user's [`OwnerFacts`], by name: a session's owner's own, and the others' roots to
    /// hide from it.
    pub fn owner_facts(&self) -> Result<Vec<OwnerFacts>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT username, admin, roots, unix_account, max_session_memory_mb FROM users \
             ORDER BY username",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(OwnerFacts {
                username: r.get(0)?,
                admin: r.get(1)?,
                roots: roots_column(r, 2)?,
                unix_account: r.get(3)?,
                max_session_memory_mb: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Deletes a user in one transaction: their tokens, browser sessions, push subscriptions
    /// and opt-ins go, and their sessions' records are deleted or handed over (see
    /// [`UserSessions`]). Refuses the last admin ([`Error::Conflict`]) and an unknown
    /// recipient ([`Error::NotFound`]). The caller ends or renames the tmux sessions after;
    /// until it has, they wait in `pending_tmux`, so a daemon that stops first does it at its
    /// next start.
    pub fn delete_user(&self, username: &str, sessions: &UserSessions) -> Result<DeletedUser> {
        use crate::sessions::names;
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let id: i64 = tx
            .query_row("SELECT id FROM users WHERE username = ?1", [username], |r| r.get(0))
            .optional()?
            .ok_or_else(|| Error::NotFound(format!("no user named {username:?}")))?;
        let select = |sql: &str| -> rusqlite::Result<Vec<String>> {
            let mut stmt = tx.prepare(sql)?;
            stmt.query_map([id], |r| r.get(0))?.collect()
        };
        let mut out = DeletedUser {
            browser_sessions: select(
                "SELECT b.id FROM browser_sessions b JOIN users u ON u.username = b.username \
                 WHERE u.id = ?1",
            )?,
            ..DeletedUser::default()
        };
        let owned = select("SELECT name FROM sessions WHERE owner_id = ?1 ORDER BY name")?;
        match sessions {
            UserSessions::End => {
                tx.execute("DELETE FROM sessions WHERE owner_id = ?1", [id])?;
                // Their conversations are nobody's now: a new account of the same name must
                // not see them.
                tx.execute("DELETE FROM conversation_owners WHERE owner = ?1", [username])?;
                out.ended = owned;
            }
            UserSessions::Transfer(to) => {
                let to_id: i64 = tx
                    .query_row("SELECT id FROM users WHERE username = ?1", [to], |r| r.get(0))
                    .optional()?
                    .filter(|&t| t != id)
                    .ok_or_else(|| {
                        Error::NotFound(format!("no other user named {to:?} to hand over to"))
                    })?;
                for old in owned {
                    let base = names::split(&old).0;
                    // The recipient's own names win: a clash gets `-2`, `-3`, … like a new
                    // session's default name.
                    let taken = |n: &str| -> rusqlite::Result<bool> {
                        tx.query_row("SELECT COUNT(*) FROM sessions WHERE name = ?1", [n], |r| {
                            r.get::<_, i64>(0)
                        })
                        .map(|c| c > 0)
                    };
                    let mut new = names::canonical(base, to);
                    let mut i = 2;
                    while taken(&new)? {
                        new = names::canonical(&format!("{base}-{i}"), to);
                        i += 1;
                    }
                    tx.execute(
                        "UPDATE sessions SET name = ?1, owner = ?2, owner_id = ?3 WHERE name = ?4",
                        params![new, to, to_id, old],
                    )?;
                    // Opt-ins of others (admins) follow the session to its new owner.
                    tx.execute(
                        "UPDATE push_sessions SET owner = ?1 WHERE session = ?2",
                        params![to, new],
                    )?;
                    out.moved.push((old, new));
                }
                // Their conversations go with their sessions.
                tx.execute(
                    "UPDATE OR IGNORE conversation_owners SET owner = ?1 WHERE owner = ?2",
                    params![to, username],
                )?;
                tx.execute("DELETE FROM conversation_owners WHERE owner = ?1", [username])?;
            }
        }
        out.tokens = tx.execute(
            "DELETE FROM tokens WHERE username = (SELECT username FROM users WHERE id = ?1)",
            [id],
        )? as u64;
        for table in ["browser_sessions", "push_subscriptions", "push_sessions"] {
            tx.execute(
                &format!(
                    "DELETE FROM {table} WHERE username = (SELECT username FROM users WHERE id = ?1)"
                ),
                [id],
            )?;
        }
        // The tmux side, for a daemon that stops before it has done it (applied at start).
        for name in &out.ended {
            tx.execute(
                "INSERT OR REPLACE INTO pending_tmux (name, new_name) VALUES (?1, NULL)",
                [name],
            )?;
        }
        for (old, new) in &out.moved {
            tx.execute(
                "INSERT OR REPLACE INTO pending_tmux (name, new_name) VALUES (?1, ?2)",
                [old, new],
            )?;
        }
        tx.execute("DELETE FROM users WHERE id = ?1", [id])?;
        let admins: i64 =
            tx.query_row("SELECT COUNT(*) FROM users WHERE admin = 1", [], |r| r.get(0))?;
        if admins == 0 {
            return Err(Error::Conflict("the last admin cannot be deleted".into()));
        }
        tx.commit()?;
        Ok(out)
    }

    /// Forgets pending tmux changes once done (see [`Store::delete_user`]).
    pub fn forget_pending_tmux(&self, names: &[String]) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        for name in names {
            tx.execute("DELETE FROM pending_tmux WHERE name = ?1", [name])?;
        }
        tx.commit()?;
        Ok(())
    }
}
