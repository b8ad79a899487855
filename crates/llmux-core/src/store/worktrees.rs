//! Session worktrees (`session_worktrees`): the git worktree llmux made for a session.

use rusqlite::{Row, params};

use super::Store;
use crate::error::Result;

/// One session's worktree, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorktreeRecord {
    /// The session (canonical name).
    pub name: String,
    /// The repository's top-level directory.
    pub repo: String,
    /// The worktree's directory.
    pub path: String,
    /// The branch checked out in it.
    pub branch: String,
    /// What ahead/behind count against.
    pub base: String,
    /// Whether llmux made the branch.
    pub created_branch: bool,
    /// The setup command's output, if one ran.
    pub setup_output: Option<String>,
}

impl WorktreeRecord {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<WorktreeRecord> {
        Ok(WorktreeRecord {
            name: row.get(0)?,
            repo: row.get(1)?,
            path: row.get(2)?,
            branch: row.get(3)?,
            base: row.get(4)?,
            created_branch: row.get::<_, i64>(5)? != 0,
            setup_output: row.get(6)?,
        })
    }
}

impl Store {
    /// Records (or replaces) a session's worktree; the session's record must exist.
    pub fn set_worktree(&self, w: &WorktreeRecord) -> Result<()> {
        self.conn().execute(
            "INSERT OR REPLACE INTO session_worktrees \
             (name, repo, path, branch, base, created_branch, setup_output) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                w.name,
                w.repo,
                w.path,
                w.branch,
                w.base,
                w.created_branch as i64,
                w.setup_output
            ],
        )?;
        Ok(())
    }

    /// Every session's worktree.
    pub fn worktrees(&self) -> Result<Vec<WorktreeRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT name, repo, path, branch, base, created_branch, setup_output \
             FROM session_worktrees",
        )?;
        let rows = stmt.query_map([], WorktreeRecord::from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Forgets a session's worktree record (the worktree itself is git's business).
    pub fn forget_worktree(&self, name: &str) -> Result<()> {
        self.conn().execute("DELETE FROM session_worktrees WHERE name = ?1", [name])?;
        Ok(())
    }
}
