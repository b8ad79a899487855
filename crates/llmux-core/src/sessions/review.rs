//! Git for a session's review (issue 18): the diff of what its agent changed, and review
//! comments sent back to it as one prompt.

use std::path::PathBuf;

use llmux_api::{CommentSide, CommentStatus, DiffQuery, DiffResponse, ReviewComment};

use super::{NewReviewComment, ReviewCommentEdit, SessionService};
use crate::error::{Error, Result};
use crate::git::runner::{Git, NEVER_ASK};
use crate::store::{CommentRecord, NewComment};
use crate::time::{now_ms, rfc3339_ms};

/// Most comments kept per session.
pub const MAX_COMMENTS: usize = 1000;
/// Longest comment, in characters.
pub const MAX_BODY_CHARS: usize = 8000;
/// Most bytes of quoted code per comment.
pub const MAX_CODE_BYTES: usize = 20_000;

impl SessionService {
    /// Git in session `name`'s cwd, run as the session's own identity (see
    /// [`SessionService::as_owner`]).
    pub async fn git(&self, name: &str) -> Result<Git> {
        let record = self.record(name)?;
        let cwd = PathBuf::from(&record.cwd);
        if !cwd.is_dir() {
            return Err(Error::Conflict(format!(
                "the session's directory {} does not exist",
                cwd.display()
            )));
        }
        let argv = self.as_owner(&record.owner, &cwd, vec!["git".to_owned()], NEVER_ASK).await?;
        Ok(Git::new(argv, cwd))
    }

    /// The argv that runs `program` (found on `PATH`) as session `name`'s identity, in its
    /// cwd (gh, glab).
    pub async fn program_as(&self, name: &str, program: &str) -> Result<Vec<String>> {
        let record = self.record(name)?;
        let found = crate::git::runner::find_program(program)
            .ok_or_else(|| Error::Conflict(format!("{program} is not installed")))?;
        let cwd = PathBuf::from(&record.cwd);
        self.as_owner(&record.owner, &cwd, vec![found.display().to_string()], NEVER_ASK).await
    }

    /// The diff of session `name`'s repository ([`crate::git::diff::diff`]).
    pub async fn diff(&self, name: &str, query: &DiffQuery) -> Result<DiffResponse> {
        let mut git = self.git(name).await?;
        let mut diff = crate::git::diff::diff(&mut git, query).await?;
        diff.name = name.to_owned();
        Ok(diff)
    }

    /// Session `name`'s review comments, oldest first.
    pub async fn comments(&self, name: &str) -> Result<Vec<ReviewComment>> {
        self.record(name)?;
        let name = name.to_owned();
        let rows = self.db(move |s| s.comments(&name)).await?;
        Ok(rows.into_iter().map(view).collect())
    }

    /// Adds a review comment by `author` to session `name`.
    pub async fn add_comment(
        &self,
        name: &str,
        author: &str,
        req: NewReviewComment,
    ) -> Result<ReviewComment> {
        self.record(name)?;
        let end_line = req.end_line.unwrap_or(req.start_line);
        if req.path.is_empty() || req.path.len() > 4096 || req.path.chars().any(char::is_control) {
            return Err(Error::invalid("path must be a file path of the repository"));
        }
        if req.start_line == 0 || end_line < req.start_line {
            return Err(Error::invalid("lines must be 1 or more, endLine not before startLine"));
        }
        check_body(&req.body)?;
        if req.code.len() > MAX_CODE_BYTES {
            return Err(Error::TooLarge(format!("code may quote at most {MAX_CODE_BYTES} bytes")));
        }
        let c = NewComment {
            session: name.to_owned(),
            path: req.path,
            side: req.side.as_str().to_owned(),
            start_line: req.start_line,
            end_line,
            code: req.code,
            body: req.body,
            author: author.to_owned(),
        };
        let row = self
            .db(move |s| {
                if s.comments(&c.session)?.len() >= MAX_COMMENTS {
                    return Err(Error::Conflict(format!(
                        "this session has {MAX_COMMENTS} review comments; delete some first"
                    )));
                }
                s.add_comment(&c, now_ms())
            })
            .await?;
        Ok(view(row))
    }

    /// Resolves, reopens or rewords a comment.
    pub async fn edit_comment(
        &self,
        name: &str,
        id: i64,
        req: ReviewCommentEdit,
    ) -> Result<ReviewComment> {
        self.record(name)?;
        if let Some(body) = &req.body {
            check_body(body)?;
        }
        let name = name.to_owned();
        let status = req.status.map(|s| s.as_str());
        let row = self
            .db(move |s| s.edit_comment(&name, id, status, req.body.as_deref(), now_ms()))
            .await?;
        Ok(view(row))
    }

    /// Deletes a comment.
    pub async fn delete_comment(&self, name: &str, id: i64) -> Result<()> {
        self.record(name)?;
        let name = name.to_owned();
        self.db(move |s| s.delete_comment(&name, id)).await
    }

    /// The open comments not sent yet, as one prompt: (their ids, the prompt). Conflict when
    /// there are none.
    pub async fn review_prompt(&self, name: &str) -> Result<(Vec<i64>, String)> {
        self.record(name)?;
        let owned = name.to_owned();
        let rows = self.db(move |s| s.comments(&owned)).await?;
        let todo: Vec<CommentRecord> =
            rows.into_iter().filter(|r| r.status == "open" && r.sent_at.is_none()).collect();
        if todo.is_empty() {
            return Err(Error::Conflict("no open review comment waits to be sent".into()));
        }
        let ids = todo.iter().map(|r| r.id).collect();
        Ok((ids, compose(&todo)))
    }

    /// Marks comments as sent to the agent.
    pub async fn comments_sent(&self, name: &str, ids: Vec<i64>) -> Result<()> {
        let name = name.to_owned();
        self.db(move |s| s.mark_comments_sent(&name, &ids, now_ms())).await
    }
}

fn check_body(body: &str) -> Result<()> {
    if body.trim().is_empty() {
        return Err(Error::invalid("a comment needs words"));
    }
    if body.chars().count() > MAX_BODY_CHARS {
        return Err(Error::TooLarge(format!("a comment has at most {MAX_BODY_CHARS} characters")));
    }
    Ok(())
}

/// One prompt for the agent: each comment with its file, lines, the code quoted and the words.
pub fn compose(comments: &[CommentRecord]) -> String {
    let mut out =
        format!("Review comments on your changes ({}). Please address each one:\n", comments.len());
    for (i, r) in comments.iter().enumerate() {
        let c = &r.comment;
        let lines = if c.start_line == c.end_line {
            format!("line {}", c.start_line)
        } else {
            format!("lines {}-{}", c.start_line, c.end_line)
        };
        let side = if c.side == "old" { " (deleted lines)" } else { "" };
        out.push_str(&format!("\n{}. {}, {lines}{side}:\n", i + 1, c.path));
        if !c.code.is_empty() {
            let fence = if c.code.contains("```") { "~~~~" } else { "```" };
            out.push_str(&format!("{fence}\n{}\n{fence}\n", c.code.trim_end_matches('\n')));
        }
        out.push_str(c.body.trim());
        out.push('\n');
    }
    out.trim_end().to_owned()
}

fn view(r: CommentRecord) -> ReviewComment {
    let c = r.comment;
    ReviewComment {
        id: r.id,
        path: c.path,
        side: if c.side == "old" { CommentSide::Old } else { CommentSide::New },
        start_line: c.start_line,
        end_line: c.end_line,
        code: c.code,
        body: c.body,
        author: c.author,
        status: if r.status == "resolved" { CommentStatus::Resolved } else { CommentStatus::Open },
        sent_at: r.sent_at.map(rfc3339_ms),
        created_at: rfc3339_ms(r.created_at),
        updated_at: rfc3339_ms(r.updated_at),
    }
}
