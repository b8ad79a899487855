//! Review actions on behalf of a principal (issue 18): the same policy, 404 masking and audit
//! as every session action ([`super::sessions`]). Reading a diff or the comments needs
//! [`Action::ReadSessions`] on a session the caller may see; writing comments and sending them
//! [`Action::DriveSessions`]. Comments reach the agent through [`Sessions::send`], the queued
//! input every prompt takes (audited there as `session_prompted`); adding, editing and deleting
//! a comment are audited as `review_commented`, `review_comment_edited`,
//! `review_comment_deleted`; the actions as `review_committed`, `review_merged`,
//! `review_pushed`, `review_pull_request` and `review_discarded`.

use llmux_api::{
    ActionResponse, CommitRequest, DiffQuery, DiffResponse, MergeRequest, ReviewComment,
};
use llmux_core::git::actions;
use llmux_core::sessions::{NewReviewComment, ReviewCommentEdit};

use super::{Prompt, Sessions};
use crate::policy::Action;
use crate::{Error, Principal, Result};

impl Sessions {
    /// The diff of what the session's agent changed in its repository.
    pub async fn diff(
        &self,
        principal: &Principal,
        name: &str,
        query: &DiffQuery,
    ) -> Result<DiffResponse> {
        let target = self.target(principal, name, Action::ReadSessions)?;
        let mut diff = self.service().diff(&target.name, query).await.map_err(Error::Core)?;
        diff.name = self.shown(principal, &target.name);
        Ok(diff)
    }

    /// The session's review comments.
    pub async fn comments(&self, principal: &Principal, name: &str) -> Result<Vec<ReviewComment>> {
        let target = self.target(principal, name, Action::ReadSessions)?;
        self.service().comments(&target.name).await.map_err(Error::Core)
    }

    /// Adds a review comment (not sent yet).
    pub async fn add_comment(
        &self,
        principal: &Principal,
        name: &str,
        req: NewReviewComment,
    ) -> Result<ReviewComment> {
        let target = self.target(principal, name, Action::DriveSessions)?;
        let actor = principal.actor();
        let c = self.service().add_comment(&target.name, &actor, req).await.map_err(Error::Core)?;
        let detail = format!("{}:{}-{}", c.path, c.start_line, c.end_line);
        self.audit_review(principal, "review_commented", &target.name, &detail).await;
        Ok(c)
    }

    /// Resolves, reopens or rewords a comment.
    pub async fn edit_comment(
        &self,
        principal: &Principal,
        name: &str,
        id: i64,
        req: ReviewCommentEdit,
    ) -> Result<ReviewComment> {
        let target = self.target(principal, name, Action::DriveSessions)?;
        let c = self.service().edit_comment(&target.name, id, req).await.map_err(Error::Core)?;
        let detail = format!("{id} {}", c.status.as_str());
        self.audit_review(principal, "review_comment_edited", &target.name, &detail).await;
        Ok(c)
    }

    /// Deletes a comment.
    pub async fn delete_comment(&self, principal: &Principal, name: &str, id: i64) -> Result<()> {
        let target = self.target(principal, name, Action::DriveSessions)?;
        self.service().delete_comment(&target.name, id).await.map_err(Error::Core)?;
        self.audit_review(principal, "review_comment_deleted", &target.name, &id.to_string()).await;
        Ok(())
    }

    /// Sends the open comments not sent yet to the agent as one prompt, through the queued
    /// input of [`Sessions::send`]; answers (how many, the prompt).
    pub async fn send_comments(&self, principal: &Principal, name: &str) -> Result<(u32, String)> {
        let target = self.target(principal, name, Action::DriveSessions)?;
        let (ids, prompt) =
            self.service().review_prompt(&target.name).await.map_err(Error::Core)?;
        let text = prompt.clone();
        let shown = self.shown(principal, &target.name);
        self.send(principal, &shown, Prompt { text, ..Default::default() }).await?;
        let n = u32::try_from(ids.len()).unwrap_or(u32::MAX);
        self.service().comments_sent(&target.name, ids).await.map_err(Error::Core)?;
        Ok((n, prompt))
    }

    /// Commits what is uncommitted with the caller's message, or asks the agent to (a prompt).
    pub async fn commit(
        &self,
        principal: &Principal,
        name: &str,
        req: CommitRequest,
    ) -> Result<ActionResponse> {
        let target = self.target(principal, name, Action::DriveSessions)?;
        if req.ask {
            let text = "Please commit all of your uncommitted changes now, with a commit message \
                        that says what they do and why."
                .to_owned();
            let shown = self.shown(principal, &target.name);
            self.send(principal, &shown, Prompt { text: text.clone(), ..Default::default() })
                .await?;
            return Ok(ActionResponse { ok: true, prompt: Some(text), ..Default::default() });
        }
        let message = req.message.unwrap_or_default();
        if message.trim().is_empty() || message.len() > 10_000 {
            return Err(Error::Invalid(
                "a commit needs a message (up to 10,000 bytes), or ask the agent for one".into(),
            ));
        }
        let mut git = self.service().git(&target.name).await.map_err(Error::Core)?;
        let out = actions::commit(&mut git, &message).await.map_err(Error::Core)?;
        let detail = out.commit.clone().unwrap_or_default();
        self.audit_review(principal, "review_committed", &target.name, &detail).await;
        Ok(out)
    }

    /// Merges the session's branch into the base (never forced; conflicts leave all as it was).
    pub async fn merge(
        &self,
        principal: &Principal,
        name: &str,
        req: MergeRequest,
    ) -> Result<ActionResponse> {
        let target = self.target(principal, name, Action::DriveSessions)?;
        let mut git = self.service().git(&target.name).await.map_err(Error::Core)?;
        let mode = req.mode.unwrap_or_default();
        let out = actions::merge(&mut git, req.base.as_deref(), mode).await.map_err(Error::Core)?;
        self.audit_review(principal, "review_merged", &target.name, &out.output).await;
        Ok(out)
    }

    /// Pushes the session's branch.
    pub async fn push(&self, principal: &Principal, name: &str) -> Result<ActionResponse> {
        let target = self.target(principal, name, Action::DriveSessions)?;
        let mut git = self.service().git(&target.name).await.map_err(Error::Core)?;
        let out = actions::push(&mut git).await.map_err(Error::Core)?;
        self.audit_review(principal, "review_pushed", &target.name, "").await;
        Ok(out)
    }

    /// Opens a pull request with `gh` (or a merge request with `glab`).
    pub async fn pull_request(
        &self,
        principal: &Principal,
        name: &str,
        base: Option<&str>,
    ) -> Result<ActionResponse> {
        let target = self.target(principal, name, Action::DriveSessions)?;
        let tool = match self.service().program_as(&target.name, "gh").await {
            Ok(argv) => argv,
            Err(_) => self.service().program_as(&target.name, "glab").await.map_err(|_| {
                Error::Core(llmux_core::Error::Conflict(
                    "neither gh nor glab is installed on the daemon's machine".into(),
                ))
            })?,
        };
        let mut git = self.service().git(&target.name).await.map_err(Error::Core)?;
        let out = actions::pull_request(&mut git, tool, base).await.map_err(Error::Core)?;
        self.audit_review(principal, "review_pull_request", &target.name, "").await;
        Ok(out)
    }

    /// Throws away what is uncommitted (`confirm` must be true).
    pub async fn discard(
        &self,
        principal: &Principal,
        name: &str,
        confirm: bool,
    ) -> Result<ActionResponse> {
        let target = self.target(principal, name, Action::DriveSessions)?;
        if !confirm {
            return Err(Error::Invalid(
                "discarding loses every uncommitted change: send confirm: true".into(),
            ));
        }
        let mut git = self.service().git(&target.name).await.map_err(Error::Core)?;
        let out = actions::discard(&mut git).await.map_err(Error::Core)?;
        self.audit_review(principal, "review_discarded", &target.name, "").await;
        Ok(out)
    }
}
