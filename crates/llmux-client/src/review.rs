//! Review over the API (issue 18): the diff of what a session's agent changed.

use llmux_api::{DiffQuery, DiffResponse};

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
