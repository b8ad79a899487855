//! Review over the API (issue 18): the diff of what a session's agent changed.

use llmux_api::{
    ActionResponse, CommentResponse, DiffQuery, DiffResponse, NewCommentRequest, ReviewComment,
    SendCommentsResponse,
};

use crate::{Client, Result, encode_segment, session_path};

impl Client {
    /// `GET /api/sessions/{name}/diff?range=…&base=…&stat=…&path=…`.
    pub async fn diff(&self, name: &str, q: &DiffQuery) -> Result<DiffResponse> {
        let mut params = Vec::new();
        if let Some(range) = q.range {
            params.push(format!("range={}", range.as_str()));
        }
        if let Some(base) = &q.base {
            params.push(format!("base={}", encode_segment(base)));
        }
        if q.stat {
            params.push("stat=true".to_owned());
        }
        if let Some(path) = &q.path {
            params.push(format!("path={}", encode_segment(path)));
        }
        if let Some(n) = q.context {
            params.push(format!("context={n}"));
        }
        let mut path = session_path(name, "/diff");
        if !params.is_empty() {
            path = format!("{path}?{}", params.join("&"));
        }
        self.get(&path).await
    }
}

impl Client {
    /// `GET /api/sessions/{name}/review/comments`.
    pub async fn review_comments(&self, name: &str) -> Result<Vec<ReviewComment>> {
        self.get(&session_path(name, "/review/comments")).await
    }

    /// `POST /api/sessions/{name}/review/comments`.
    pub async fn add_review_comment(
        &self,
        name: &str,
        req: &NewCommentRequest,
    ) -> Result<ReviewComment> {
        let res: CommentResponse = self.post(&session_path(name, "/review/comments"), req).await?;
        Ok(res.comment)
    }

    /// `POST /api/sessions/{name}/review/send`.
    pub async fn send_review(&self, name: &str) -> Result<SendCommentsResponse> {
        self.post(&session_path(name, "/review/send"), &serde_json::json!({})).await
    }

    /// `POST /api/sessions/{name}/review/{action}` (commit, merge, push, pr, discard).
    pub async fn review_action(
        &self,
        name: &str,
        action: &str,
        body: &impl serde::Serialize,
    ) -> Result<ActionResponse> {
        self.post(&session_path(name, &format!("/review/{action}")), body).await
    }
}
