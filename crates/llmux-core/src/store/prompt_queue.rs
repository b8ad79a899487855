//! The `prompt_queue` table: prompts waiting for a session (scheduled, for when it is idle, or
//! for when its rate limit has reset), so they survive a daemon restart. The rules of when
//! each is typed live in the session service.

use rusqlite::{OptionalExtension, Row, params};

use super::Store;
use crate::error::Result;

/// One waiting prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueItemRecord {
    /// Its id (never reused).
    pub id: i64,
    /// The session's canonical name.
    pub session: String,
    /// The text to type.
    pub text: String,
    /// Press Enter after it.
    pub enter: bool,
    /// Not typed before this time (unix ms).
    pub not_before: Option<i64>,
    /// Typed only when the agent is idle.
    pub when_idle: bool,
    /// Typed once the agent's rate limit has reset.
    pub after_limit: bool,
    /// Order within the session's queue (smaller first).
    pub position: i64,
    /// Who queued it (`""` for the local operator, else the username).
    pub created_by: String,
    /// When it was queued, unix ms.
    pub created_at: i64,
}

/// A prompt to queue.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewQueueItem {
    /// The session's canonical name.
    pub session: String,
    /// The text.
    pub text: String,
    /// Press Enter after it.
    pub enter: bool,
    /// Not before (unix ms).
    pub not_before: Option<i64>,
    /// Only when idle.
    pub when_idle: bool,
    /// After the rate limit reset.
    pub after_limit: bool,
    /// Who queues it.
    pub created_by: String,
    /// Now, unix ms.
    pub created_at: i64,
}

const COLS: &str = "id, session, text, enter, not_before, when_idle, after_limit, position, created_by, created_at";

fn item_row(r: &Row<'_>) -> rusqlite::Result<QueueItemRecord> {
    Ok(QueueItemRecord {
        id: r.get(0)?,
        session: r.get(1)?,
        text: r.get(2)?,
        enter: r.get(3)?,
        not_before: r.get(4)?,
        when_idle: r.get(5)?,
        after_limit: r.get(6)?,
        position: r.get(7)?,
        created_by: r.get(8)?,
        created_at: r.get(9)?,
    })
}

impl Store {
    /// Appends a prompt to its session's queue.
    pub fn queue_insert(&self, item: &NewQueueItem) -> Result<QueueItemRecord> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let position: i64 = tx.query_row(
            "SELECT coalesce(max(position), 0) + 1 FROM prompt_queue WHERE session = ?1",
            [&item.session],
            |r| r.get(0),
        )?;
        tx.execute(
            "INSERT INTO prompt_queue (session, text, enter, not_before, when_idle, after_limit, \
             position, created_by, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                item.session,
                item.text,
                item.enter,
                item.not_before,
                item.when_idle,
                item.after_limit,
                position,
                item.created_by,
                item.created_at
            ],
        )?;
        let id = tx.last_insert_rowid();
        tx.commit()?;
        Ok(QueueItemRecord {
            id,
            session: item.session.clone(),
            text: item.text.clone(),
            enter: item.enter,
            not_before: item.not_before,
            when_idle: item.when_idle,
            after_limit: item.after_limit,
            position,
            created_by: item.created_by.clone(),
            created_at: item.created_at,
        })
    }

    /// Every waiting prompt, by session then order.
    pub fn queue_all(&self) -> Result<Vec<QueueItemRecord>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(&format!("SELECT {COLS} FROM prompt_queue ORDER BY session, position, id"))?;
        let rows = stmt.query_map([], item_row)?.collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// One waiting prompt.
    pub fn queue_get(&self, id: i64) -> Result<Option<QueueItemRecord>> {
        Ok(self
            .conn()
            .query_row(&format!("SELECT {COLS} FROM prompt_queue WHERE id = ?1"), [id], item_row)
            .optional()?)
    }

    /// Removes one waiting prompt; whether it was there.
    pub fn queue_delete(&self, id: i64) -> Result<bool> {
        Ok(self.conn().execute("DELETE FROM prompt_queue WHERE id = ?1", [id])? > 0)
    }

    /// Removes every waiting prompt of a session (it is gone).
    pub fn queue_delete_session(&self, session: &str) -> Result<()> {
        self.conn().execute("DELETE FROM prompt_queue WHERE session = ?1", [session])?;
        Ok(())
    }

    /// Moves a session's waiting prompts to its new name.
    pub fn queue_rename_session(&self, from: &str, to: &str) -> Result<()> {
        self.conn()
            .execute("UPDATE prompt_queue SET session = ?2 WHERE session = ?1", [from, to])?;
        Ok(())
    }

    /// Replaces the text of a waiting prompt; whether it was there.
    pub fn queue_edit_text(&self, id: i64, text: &str) -> Result<bool> {
        Ok(self
            .conn()
            .execute("UPDATE prompt_queue SET text = ?2 WHERE id = ?1", params![id, text])?
            > 0)
    }

    /// Moves a waiting prompt to place `to` (0 = first) of its session's queue; whether it
    /// was there. A place past the end means last.
    pub fn queue_move(&self, id: i64, to: usize) -> Result<bool> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let Some(session): Option<String> = tx
            .query_row("SELECT session FROM prompt_queue WHERE id = ?1", [id], |r| r.get(0))
            .optional()?
        else {
            return Ok(false);
        };
        let mut ids: Vec<i64> = {
            let mut stmt =
                tx.prepare("SELECT id FROM prompt_queue WHERE session = ?1 ORDER BY position, id")?;
            stmt.query_map([&session], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?
        };
        ids.retain(|&i| i != id);
        ids.insert(to.min(ids.len()), id);
        for (i, item) in ids.iter().enumerate() {
            tx.execute(
                "UPDATE prompt_queue SET position = ?2 WHERE id = ?1",
                params![item, i as i64 + 1],
            )?;
        }
        tx.commit()?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(session: &str, text: &str) -> NewQueueItem {
        NewQueueItem {
            session: session.into(),
            text: text.into(),
            enter: true,
            created_at: 1,
            ..Default::default()
        }
    }

    #[test]
    fn append_move_edit_delete() {
        let store = Store::open_in_memory().unwrap();
        let a = store.queue_insert(&new("s", "a")).unwrap();
        let b = store.queue_insert(&new("s", "b")).unwrap();
        let c = store.queue_insert(&new("s", "c")).unwrap();
        store.queue_insert(&new("t", "other")).unwrap();
        let order = |store: &Store| -> Vec<String> {
            store
                .queue_all()
                .unwrap()
                .into_iter()
                .filter(|i| i.session == "s")
                .map(|i| i.text)
                .collect()
        };
        assert_eq!(order(&store), ["a", "b", "c"]);
        assert!(store.queue_move(c.id, 0).unwrap());
        assert_eq!(order(&store), ["c", "a", "b"]);
        assert!(store.queue_move(c.id, 99).unwrap());
        assert_eq!(order(&store), ["a", "b", "c"]);
        assert!(store.queue_edit_text(b.id, "B").unwrap());
        assert!(store.queue_delete(a.id).unwrap());
        assert!(!store.queue_delete(a.id).unwrap());
        assert_eq!(order(&store), ["B", "c"]);
        assert!(!store.queue_move(a.id, 0).unwrap());
        store.queue_rename_session("s", "s2").unwrap();
        assert_eq!(store.queue_get(c.id).unwrap().unwrap().session, "s2");
        store.queue_delete_session("s2").unwrap();
        assert_eq!(store.queue_all().unwrap().len(), 1);
    }
}
