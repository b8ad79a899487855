//! The `push_subscriptions` and `push_sessions` tables: the browsers (devices) a user installed
//! the app on and allowed to notify, and the sessions the user wants to be notified about.
//! Who may change them is decided in the server; delivery lives there too.

use rusqlite::{OptionalExtension, Row, params};

use super::Store;
use crate::error::Result;

/// A browser's push subscription (RFC 8030 endpoint plus RFC 8291 keys).
#[derive(Clone, PartialEq, Eq)]
pub struct PushSubscriptionRecord {
    /// Public id.
    pub id: String,
    /// Owner.
    pub username: String,
    /// The push service URL; whoever knows it can push to the device, so it is never logged.
    pub endpoint: String,
    /// The browser's P-256 public key, base64url (65 bytes uncompressed).
    pub p256dh: String,
    /// The browser's authentication secret, base64url (16 bytes).
    pub auth: String,
    /// Device label (the user's, or the User-Agent at subscription).
    pub label: String,
    /// Creation, unix ms.
    pub created_at: i64,
    /// Last accepted delivery, unix ms.
    pub last_success_at: Option<i64>,
}

impl std::fmt::Debug for PushSubscriptionRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushSubscriptionRecord")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("endpoint", &"<redacted>")
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

/// A user's opt-in to notifications about one session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushSessionRecord {
    /// Who wants to be told.
    pub username: String,
    /// The session's name.
    pub session: String,
    /// The session's owner when the user opted in.
    pub owner: String,
    /// Opt-in time, unix ms.
    pub created_at: i64,
}

const SUB_COLS: &str = "id, username, endpoint, p256dh, auth, label, created_at, last_success_at";

fn sub_row(r: &Row<'_>) -> rusqlite::Result<PushSubscriptionRecord> {
    Ok(PushSubscriptionRecord {
        id: r.get(0)?,
        username: r.get(1)?,
        endpoint: r.get(2)?,
        p256dh: r.get(3)?,
        auth: r.get(4)?,
        label: r.get(5)?,
        created_at: r.get(6)?,
        last_success_at: r.get(7)?,
    })
}

impl Store {
    // ---- push subscriptions ----

    /// Stores a subscription. The same browser subscribing again for the same user (same
    /// endpoint) replaces its keys and label and keeps its id; returns the stored record.
    pub fn upsert_push_subscription(
        &self,
        s: &PushSubscriptionRecord,
    ) -> Result<PushSubscriptionRecord> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            &format!(
                "INSERT INTO push_subscriptions ({SUB_COLS}) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
                 ON CONFLICT (username, endpoint) DO UPDATE SET \
                 p256dh = excluded.p256dh, auth = excluded.auth, label = excluded.label"
            ),
            params![
                s.id,
                s.username,
                s.endpoint,
                s.p256dh,
                s.auth,
                s.label,
                s.created_at,
                s.last_success_at
            ],
        )?;
        let stored = tx.query_row(
            &format!(
                "SELECT {SUB_COLS} FROM push_subscriptions WHERE username = ?1 AND endpoint = ?2"
            ),
            params![s.username, s.endpoint],
            sub_row,
        )?;
        tx.commit()?;
        Ok(stored)
    }

    /// A user's subscriptions, oldest first.
    pub fn list_push_subscriptions(&self, username: &str) -> Result<Vec<PushSubscriptionRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {SUB_COLS} FROM push_subscriptions WHERE username = ?1 \
             ORDER BY created_at, id"
        ))?;
        Ok(stmt.query_map([username], sub_row)?.collect::<rusqlite::Result<_>>()?)
    }

    /// One subscription by id.
    pub fn get_push_subscription(&self, id: &str) -> Result<Option<PushSubscriptionRecord>> {
        Ok(self
            .conn()
            .query_row(
                &format!("SELECT {SUB_COLS} FROM push_subscriptions WHERE id = ?1"),
                [id],
                sub_row,
            )
            .optional()?)
    }

    /// Deletes a subscription of `username`; returns whether one was deleted.
    pub fn delete_push_subscription(&self, username: &str, id: &str) -> Result<bool> {
        Ok(self.conn().execute(
            "DELETE FROM push_subscriptions WHERE username = ?1 AND id = ?2",
            params![username, id],
        )? > 0)
    }

    /// Deletes a subscription the push service says is gone (404/410).
    pub fn remove_push_subscription(&self, id: &str) -> Result<bool> {
        Ok(self.conn().execute("DELETE FROM push_subscriptions WHERE id = ?1", [id])? > 0)
    }

    /// Records an accepted delivery.
    pub fn touch_push_subscription(&self, id: &str, at: i64) -> Result<()> {
        self.conn().execute(
            "UPDATE push_subscriptions SET last_success_at = ?2 WHERE id = ?1",
            params![id, at],
        )?;
        Ok(())
    }

    // ---- per-session opt-in ----

    /// Opts `username` in to notifications about `session` (owned by `owner`); idempotent.
    pub fn set_push_session(
        &self,
        username: &str,
        session: &str,
        owner: &str,
        at: i64,
    ) -> Result<()> {
        self.conn().execute(
            &format!(
                "INSERT INTO {} (username, session, owner, created_at) \
                 VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (username, session) DO UPDATE SET owner = excluded.owner",
                opt_ins(session)
            ),
            params![username, session, owner, at],
        )?;
        Ok(())
    }

    /// Opts `username` out of `session`; returns whether they were opted in.
    pub fn unset_push_session(&self, username: &str, session: &str) -> Result<bool> {
        Ok(self.conn().execute(
            &format!("DELETE FROM {} WHERE username = ?1 AND session = ?2", opt_ins(session)),
            params![username, session],
        )? > 0)
    }

    /// The sessions `username` opted in to, by name.
    pub fn list_push_sessions(&self, username: &str) -> Result<Vec<PushSessionRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT username, session, owner, created_at FROM push_sessions WHERE username = ?1 \
             UNION ALL SELECT username, session, owner, created_at FROM push_remote_sessions \
             WHERE username = ?1 ORDER BY session",
        )?;
        Ok(stmt
            .query_map([username], |r| {
                Ok(PushSessionRecord {
                    username: r.get(0)?,
                    session: r.get(1)?,
                    owner: r.get(2)?,
                    created_at: r.get(3)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// The devices to notify about `session` owned by `owner`: those of every user who opted
    /// in to it while `owner` owned it and may still see it (the owner, or a current admin).
    pub fn push_targets(&self, session: &str, owner: &str) -> Result<Vec<PushSubscriptionRecord>> {
        let conn = self.conn();
        let cols = SUB_COLS.split(", ").map(|c| format!("s.{c}")).collect::<Vec<_>>().join(", ");
        let mut stmt = conn.prepare(&format!(
            "SELECT {cols} FROM push_subscriptions s \
             JOIN {} p ON p.username = s.username \
             JOIN users u ON u.username = s.username \
             WHERE p.session = ?1 AND p.owner = ?2 AND (s.username = ?2 OR u.admin = 1) \
             ORDER BY s.username, s.created_at, s.id",
            opt_ins(session)
        ))?;
        Ok(stmt.query_map(params![session, owner], sub_row)?.collect::<rusqlite::Result<_>>()?)
    }
}

/// The table of opt-ins to `session`: a fleet host's (`host:name`; plain names have no `:`)
/// or one of this daemon's own.
fn opt_ins(session: &str) -> &'static str {
    if session.contains(':') { "push_remote_sessions" } else { "push_sessions" }
}

/// Forgets every opt-in to the sessions of fleet host `host` (the host was removed).
pub(crate) fn forget_remote_opt_ins(conn: &rusqlite::Connection, host: &str) -> Result<()> {
    conn.execute(
        "DELETE FROM push_remote_sessions WHERE substr(session, 1, length(?1) + 1) = ?1 || ':'",
        [host],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{SessionRecord, insert_test_user as user};

    fn sub(id: &str, username: &str, endpoint: &str) -> PushSubscriptionRecord {
        PushSubscriptionRecord {
            id: id.into(),
            username: username.into(),
            endpoint: endpoint.into(),
            p256dh: "k".into(),
            auth: "a".into(),
            label: "phone".into(),
            created_at: 1,
            last_success_at: None,
        }
    }

    fn session(name: &str, owner: &str) -> SessionRecord {
        SessionRecord {
            name: name.into(),
            agent: "shell".into(),
            cwd: "/tmp".into(),
            flags: None,
            env: Default::default(),
            init_prompts: vec![],
            resume_from: None,
            owner: owner.into(),
            parent: None,
            created_at: 1,
            updated_at: 1,
            started_at: 1,
        }
    }

    /// Opt-ins follow their session through a rename and go with it.
    #[test]
    fn opt_ins_follow_their_session() {
        let store = Store::open_in_memory().unwrap();
        user(&store, "alice", false);
        store.upsert_push_subscription(&sub("a1", "alice", "https://push/1")).unwrap();
        store.insert_session(&session("s", "alice")).unwrap();
        store.set_push_session("alice", "s", "alice", 1).unwrap();
        let mut renamed = session("t", "alice");
        renamed.updated_at = 2;
        store.update_session("s", &renamed).unwrap();
        let names: Vec<_> =
            store.list_push_sessions("alice").unwrap().into_iter().map(|p| p.session).collect();
        assert_eq!(names, ["t"]);
        assert_eq!(ids(&store.push_targets("t", "alice").unwrap()), ["a1"]);
        // removed, then a new session of the same name: not followed
        assert!(store.delete_session("t").unwrap());
        assert!(store.list_push_sessions("alice").unwrap().is_empty());
        store.insert_session(&session("t", "alice")).unwrap();
        assert!(store.push_targets("t", "alice").unwrap().is_empty());
        // an opt-in needs its session
        assert!(store.set_push_session("alice", "nope", "alice", 1).is_err());
    }

    fn ids(subs: &[PushSubscriptionRecord]) -> Vec<&str> {
        subs.iter().map(|s| s.id.as_str()).collect()
    }

    /// Devices and opt-ins through their life: re-subscription, targets, owner changes,
    /// admin rights, removal and the user's deletion.
    #[test]
    fn push_story() {
        let store = Store::open_in_memory().unwrap();
        user(&store, "alice", false);
        user(&store, "bob", false);
        user(&store, "root", true);
        user(&store, "spare", true);

        store.upsert_push_subscription(&sub("a1", "alice", "https://push/1")).unwrap();
        // the same browser again: new keys, same id
        let mut again = sub("a9", "alice", "https://push/1");
        again.p256dh = "k2".into();
        let stored = store.upsert_push_subscription(&again).unwrap();
        assert_eq!((stored.id.as_str(), stored.p256dh.as_str()), ("a1", "k2"));
        store.upsert_push_subscription(&sub("a2", "alice", "https://push/2")).unwrap();
        // the same endpoint for another user is another row
        store.upsert_push_subscription(&sub("b1", "bob", "https://push/1")).unwrap();
        store.upsert_push_subscription(&sub("r1", "root", "https://push/3")).unwrap();
        assert_eq!(ids(&store.list_push_subscriptions("alice").unwrap()), ["a1", "a2"]);

        // nobody opted in yet
        store.insert_session(&session("s", "alice")).unwrap();
        assert!(store.push_targets("s", "alice").unwrap().is_empty());
        store.set_push_session("alice", "s", "alice", 1).unwrap();
        store.set_push_session("alice", "s", "alice", 2).unwrap();
        store.set_push_session("root", "s", "alice", 1).unwrap();
        store.set_push_session("bob", "s", "alice", 1).unwrap(); // the server would refuse this
        assert_eq!(store.list_push_sessions("alice").unwrap().len(), 1);
        // bob is neither the owner nor an admin: not notified
        assert_eq!(ids(&store.push_targets("s", "alice").unwrap()), ["a1", "a2", "r1"]);
        // a session of the same name owned by someone else is nobody's opt-in
        assert!(store.push_targets("s", "carol").unwrap().is_empty());

        // a demoted admin stops hearing about other people's sessions
        store
            .transaction(|tx| {
                Ok(tx.execute("UPDATE users SET admin = 0 WHERE username = 'root'", [])?)
            })
            .unwrap();
        assert_eq!(ids(&store.push_targets("s", "alice").unwrap()), ["a1", "a2"]);

        assert!(store.unset_push_session("alice", "s").unwrap());
        assert!(!store.unset_push_session("alice", "s").unwrap());
        assert!(store.push_targets("s", "alice").unwrap().is_empty());

        // own devices only
        assert!(!store.delete_push_subscription("bob", "a2").unwrap());
        assert!(store.delete_push_subscription("alice", "a2").unwrap());
        store.touch_push_subscription("a1", 42).unwrap();
        assert_eq!(store.get_push_subscription("a1").unwrap().unwrap().last_success_at, Some(42));
        assert!(store.remove_push_subscription("a1").unwrap());
        assert!(store.get_push_subscription("a1").unwrap().is_none());

        // deleting a user takes their devices and opt-ins
        store.delete_user("bob", &crate::store::UserSessions::End).unwrap();
        assert!(store.get_push_subscription("b1").unwrap().is_none());
        assert!(store.list_push_sessions("bob").unwrap().is_empty());
    }
}
