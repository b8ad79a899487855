//! The after-limit notification: a session's after-limit text (`prompt --after-limit`, or the
//! session's setting) was typed once its rate limit reset. Pushed to the session's followers
//! like a state change, and posted to the webhook as
//! `{"event": "afterLimitTyped", "name", "owner", "agent", "text", "at"}` (a state change's
//! JSON has no `event` field).

use bytes::Bytes;
use http_body_util::Full;
use hyper::Request;
use llmux_core::sessions::AfterLimitTyped;
use llmux_core::time::rfc3339_ms;
use serde_json::json;

use super::{Notifier, PushPayload, PushReport, WEBHOOK_TIMEOUT, clip, http};

impl PushPayload {
    /// The notification for an after-limit text typed into session `shown` (the name in the
    /// recipient's terms).
    pub fn for_after_limit(typed: &AfterLimitTyped, shown: &str) -> PushPayload {
        PushPayload {
            title: clip(&format!("{shown}: its rate limit reset, and it goes on"), 120),
            body: clip(
                &format!("Typed {:?} into {} at {}", typed.text, typed.agent, rfc3339_ms(typed.at)),
                240,
            ),
            session: shown.to_owned(),
            state: "afterLimitTyped".to_owned(),
            url: format!("/c/{shown}"),
        }
    }
}

impl Notifier {
    /// Tells the session's followers (push) and the webhook that its after-limit text was
    /// typed; waits for the pushes and answers what they did.
    pub async fn deliver_after_limit(&self, typed: &AfterLimitTyped) -> PushReport {
        let push = self.push_followers(&typed.name, &typed.owner, "normal", |shown| {
            PushPayload::for_after_limit(typed, shown)
        });
        let (report, ()) = tokio::join!(push, self.after_limit_webhook(typed));
        tracing::debug!(session.name = %typed.name, ?report, "pushed an after-limit typing");
        report
    }

    /// Feeds every event from `events` (`SessionService::after_limit_events()`) to
    /// [`Notifier::deliver_after_limit`], each on its own task, until the sender is dropped.
    pub fn listen_after_limit(
        &self,
        mut events: tokio::sync::broadcast::Receiver<AfterLimitTyped>,
    ) -> tokio::task::JoinHandle<()> {
        use tokio::sync::broadcast::error::RecvError;
        let this = self.clone();
        tokio::spawn(async move {
            loop {
                match events.recv().await {
                    Ok(typed) => {
                        let this = this.clone();
                        tokio::spawn(async move { this.deliver_after_limit(&typed).await });
                    }
                    Err(RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "notifications fell behind the after-limit events")
                    }
                    Err(RecvError::Closed) => break,
                }
            }
        })
    }

    async fn after_limit_webhook(&self, typed: &AfterLimitTyped) {
        let Some(url) = self.inner.webhook.clone() else { return };
        let body = json!({
            "event": "afterLimitTyped",
            "name": typed.name,
            "owner": typed.owner,
            "agent": typed.agent,
            "text": typed.text,
            "at": rfc3339_ms(typed.at),
        });
        let req = Request::post(url)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(hyper::header::USER_AGENT, concat!("llmux/", env!("CARGO_PKG_VERSION")))
            .body(Full::new(Bytes::from(body.to_string())))
            .expect("a POST with a parsed URL is a valid request");
        match http::send(&self.inner.webhook_http, req, WEBHOOK_TIMEOUT).await {
            Ok(status) if (200..300).contains(&status) => {}
            Ok(status) => {
                tracing::warn!(session.name = %typed.name, status, "the notification webhook refused")
            }
            Err(error) => {
                tracing::warn!(session.name = %typed.name, %error, "the notification webhook failed")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_after_limit_push_says_what_was_typed() {
        let typed = AfterLimitTyped {
            name: "fix@alice".into(),
            owner: "alice".into(),
            agent: "claude".into(),
            text: "continue".into(),
            at: 1_796_385_600_000,
        };
        let p = PushPayload::for_after_limit(&typed, "fix");
        assert_eq!(p.title, "fix: its rate limit reset, and it goes on");
        assert_eq!(p.body, "Typed \"continue\" into claude at 2026-12-04T12:00:00Z");
        assert_eq!((p.session.as_str(), p.url.as_str()), ("fix", "/c/fix"));
        assert_eq!(p.state, "afterLimitTyped");
    }
}
