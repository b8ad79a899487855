//! The `review_comments` table (migration 0014): review comments on a session's changes.

use rusqlite::{OptionalExtension, Row, params};

use super::Store;
use crate::error::{Error, Result};

/// A comment to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewComment {
    /// The session (canonical name).
    pub session: String,
    /// File path in the repository.
    pub path: String,
    /// `new` or `old`: which side's line numbers.
    pub side: String,
    /// First line.
    pub start_line: u32,
    /// Last line (= `start_line` for one line).
    pub end_line: u32,
    /// The lines quoted.
    pub code: String,
    /// The reviewer's words.
    pub body: String,
    /// Who wrote it.
    pub author: String,
}

/// One stored comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentRecord {
    /// Row id.
    pub id: i64,
    /// What was written.
    pub comment: NewComment,
    /// `open` or `resolved`.
    pub status: String,
    /// When it was sent to the agent (Unix ms).
    pub sent_at: Option<i64>,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms.
    pub updated_at: i64,
}

const COLUMNS: &str = "id, session, path, side, start_line, end_line, code, body, author, status, \
                       sent_at, created_at, updated_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<CommentRecord> {
    Ok(CommentRecord {
        id: r.get(0)?,
        comment: NewComment {
            session: r.get(1)?,
            path: r.get(2)?,
            side: r.get(3)?,
            start_line: r.get(4)?,
            end_line: r.get(5)?,
            code: r.get(6)?,
            body: r.get(7)?,
            author: r.get(8)?,
        },
        status: r.get(9)?,
        sent_at: r.get(10)?,
        created_at: r.get(11)?,
        updated_at: r.get(12)?,
    })
}

fn no_comment(id: i64) -> Error {
    Error::NotFound(format!("no review comment {id} on this session"))
}

impl Store {
    /// Adds a comment (not sent, open).
    pub fn add_comment(&self, c: &NewComment, now: i64) -> Result<CommentRecord> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO review_comments (session, path, side, start_line, end_line, code, body, \
             author, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
            params![
                c.session,
                c.path,
                c.side,
                c.start_line,
                c.end_line,
                c.code,
                c.body,
                c.author,
                now
            ],
        )?;
        let id = conn.last_insert_rowid();
        Ok(conn.query_row(
            &format!("SELECT {COLUMNS} FROM review_comments WHERE id = ?1"),
            [id],
            from_row,
        )?)
    }

    /// The session's comments, oldest first.
    pub fn comments(&self, session: &str) -> Result<Vec<CommentRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {COLUMNS} FROM review_comments WHERE session = ?1 ORDER BY id"
        ))?;
        let rows = stmt.query_map([session], from_row)?.collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// Changes a comment's status and/or words.
    pub fn edit_comment(
        &self,
        session: &str,
        id: i64,
        status: Option<&str>,
        body: Option<&str>,
        now: i64,
    ) -> Result<CommentRecord> {
        let conn = self.conn();
        let n = conn.execute(
            "UPDATE review_comments SET status = COALESCE(?3, status), body = COALESCE(?4, body), \
             updated_at = ?5 WHERE session = ?1 AND id = ?2",
            params![session, id, status, body, now],
        )?;
        if n == 0 {
            return Err(no_comment(id));
        }
        conn.query_row(
            &format!("SELECT {COLUMNS} FROM review_comments WHERE id = ?1"),
            [id],
            from_row,
        )
        .optional()?
        .ok_or_else(|| no_comment(id))
    }

    /// Deletes a comment.
    pub fn delete_comment(&self, session: &str, id: i64) -> Result<()> {
        let n = self.conn().execute(
            "DELETE FROM review_comments WHERE session = ?1 AND id = ?2",
            params![session, id],
        )?;
        if n == 0 { Err(no_comment(id)) } else { Ok(()) }
    }

    /// Marks comments as sent.
    pub fn mark_comments_sent(&self, session: &str, ids: &[i64], now: i64) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        for id in ids {
            tx.execute(
                "UPDATE review_comments SET sent_at = ?3, updated_at = ?3 \
                 WHERE session = ?1 AND id = ?2",
                params![session, id, now],
            )?;
        }
        tx.commit()?;
        Ok(())
    }
}
