//! A session's queue of waiting prompts, on behalf of a principal: reading it needs
//! [`Action::ReadSessions`], queueing, editing and cancelling [`Action::DriveSessions`], and
//! every one the session to be the caller's to see (404 otherwise, as for every action).
//!
//! Audited: `session_queued` (length and when; never the text), `queue_edited` (item id and
//! what changed), `queue_cancelled` (item id).

use llmux_api::{QueueItem, WaitingPrompt};
use llmux_core::sessions::{Schedule, WaitReason};
use llmux_core::store::QueueItemRecord;
use llmux_core::time::rfc3339_ms;

use super::{Sessions, Verbatim};
use crate::policy::Action;
use crate::{Principal, Result};

/// A prompt to queue: the text and when.
#[derive(Debug, Clone, Default)]
pub struct Queued {
    /// The text.
    pub text: String,
    /// Press Enter after it (default true).
    pub enter: Option<bool>,
    /// When it is due.
    pub schedule: Schedule,
}

impl Sessions {
    fn item(&self, principal: &Principal, rec: QueueItemRecord, place: usize) -> QueueItem {
        QueueItem {
            id: rec.id,
            session: self.shown(principal, &rec.session),
            text: rec.text,
            enter: rec.enter,
            not_before: rec.not_before.map(rfc3339_ms),
            when_idle: rec.when_idle,
            after_limit: rec.after_limit,
            place,
            created_by: rec.created_by,
            created_at: rfc3339_ms(rec.created_at),
        }
    }

    fn items(&self, principal: &Principal, canonical: &str) -> Result<Vec<QueueItem>> {
        let recs = self.service.queue(canonical).verbatim()?;
        Ok(recs.into_iter().enumerate().map(|(i, r)| self.item(principal, r, i + 1)).collect())
    }

    /// Queues a prompt for session `name`; answers the queue item.
    pub async fn enqueue(
        &self,
        principal: &Principal,
        name: &str,
        prompt: Queued,
    ) -> Result<QueueItem> {
        let name = self.find(principal, name, Action::DriveSessions)?;
        let enter = prompt.enter.unwrap_or(true);
        let rec = self
            .service
            .enqueue(&name, &prompt.text, enter, prompt.schedule, principal.owner())
            .await
            .verbatim()?;
        let s = prompt.schedule;
        let mut detail = format!("{} chars", prompt.text.chars().count());
        if let Some(t) = s.not_before {
            detail.push_str(&format!(", at {}", rfc3339_ms(t)));
        }
        if s.when_idle {
            detail.push_str(", when idle");
        }
        if s.after_limit {
            detail.push_str(", after the limit");
        }
        self.audit(principal, "session_queued", &name, &detail).await;
        let id = rec.id;
        let items = self.items(principal, &name)?;
        let place = items.iter().position(|i| i.id == id).map_or(items.len(), |p| p + 1);
        Ok(self.item(principal, rec, place))
    }

    /// The prompts waiting for session `name`: its name in the caller's terms, the queued
    /// items, and the prompts sent to be typed now that wait their turn.
    pub fn queue(
        &self,
        principal: &Principal,
        name: &str,
    ) -> Result<(String, Vec<QueueItem>, Vec<WaitingPrompt>)> {
        let name = self.find(principal, name, Action::ReadSessions)?;
        let waiting = self.service.waiting(&name).into_iter().map(|w| WaitingPrompt {
            text: w.text,
            since: rfc3339_ms(w.since),
            reason: match w.reason {
                WaitReason::Behind => "behind",
                WaitReason::Starting => "starting",
            }
            .into(),
        });
        Ok((self.shown(principal, &name), self.items(principal, &name)?, waiting.collect()))
    }

    /// Edits the text of a waiting prompt and/or moves it to place `to` (1 = first).
    pub async fn queue_edit(
        &self,
        principal: &Principal,
        name: &str,
        id: i64,
        text: Option<String>,
        to: Option<usize>,
    ) -> Result<QueueItem> {
        let name = self.find(principal, name, Action::DriveSessions)?;
        if to == Some(0) {
            return Err(crate::Error::Invalid("to counts from 1 (the first place)".into()));
        }
        if text.is_none() && to.is_none() {
            return Err(crate::Error::Invalid("give the new text, a place (to), or both".into()));
        }
        let mut detail = format!("item {id}");
        if let Some(t) = &text {
            detail.push_str(&format!(", text ({} chars)", t.chars().count()));
        }
        if let Some(to) = to {
            detail.push_str(&format!(", to place {to}"));
        }
        self.service.queue_edit(&name, id, text, to.map(|t| t - 1)).await.verbatim()?;
        self.audit(principal, "queue_edited", &name, &detail).await;
        self.items(principal, &name)?
            .into_iter()
            .find(|i| i.id == id)
            .ok_or_else(|| crate::Error::Core(llmux_core::Error::NotFound("no such item".into())))
    }

    /// Cancels a waiting prompt.
    pub async fn queue_cancel(&self, principal: &Principal, name: &str, id: i64) -> Result<()> {
        let name = self.find(principal, name, Action::DriveSessions)?;
        self.service.queue_cancel(&name, id).await.verbatim()?;
        self.audit(principal, "queue_cancelled", &name, &format!("item {id}")).await;
        Ok(())
    }
}
