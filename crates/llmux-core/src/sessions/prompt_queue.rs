//! The prompts waiting for each session: scheduled (`at`, `in`), for when the agent is idle,
//! or for when its rate limit has reset. Kept in the store (they survive a restart) with a
//! copy in memory for the views and the scheduler.
//!
//! The scheduler ([`SessionService::spawn_scheduler`]) looks at every queue twice a second
//! and on every change: in each session, the first item (in queue order) whose conditions
//! hold is typed through the same input path as every other prompt ([`SessionService::send`]:
//! the fair per-session lock, held while the agent starts, the settle delay), one at a time
//! per session; it leaves the queue once typed. An item that cannot be typed (the session is
//! not running) stays and is tried again a few seconds later.
//!
//! An immediate prompt never touches the queue: its latency is today's.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use llmux_api::{AgentState, SessionStatus};

use super::SessionService;
use crate::error::{Error, Result};
use crate::store::{NewQueueItem, QueueItemRecord};
use crate::time::now_ms;
use crate::validate;

/// Most prompts waiting for one session.
pub const MAX_QUEUED: usize = 100;
/// Latest a prompt may be scheduled: 30 days ahead.
const MAX_AHEAD_MS: i64 = 30 * 24 * 3600 * 1000;
/// How long an item that could not be typed waits before the next try.
const RETRY_AFTER_MS: i64 = 5_000;

/// When a queued prompt is due.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Schedule {
    /// Not before this time (unix ms).
    pub not_before: Option<i64>,
    /// Only when the agent is idle.
    pub when_idle: bool,
    /// Once the agent's rate limit has reset.
    pub after_limit: bool,
}

impl Schedule {
    /// From the API's `at` (RFC 3339), `in` (a duration) and `when` (`idle`) at `now`.
    pub fn parse(
        at: Option<&str>,
        within: Option<&str>,
        when: Option<&str>,
        after_limit: bool,
        now: i64,
    ) -> Result<Schedule> {
        if at.is_some() && within.is_some() {
            return Err(Error::invalid("give `at` or `in`, not both"));
        }
        let not_before = match (at, within) {
            (Some(at), _) => Some(crate::time::parse_rfc3339_ms(at.trim()).ok_or_else(|| {
                Error::invalid(format!(
                    "at {at:?} is not an RFC 3339 time (like 2026-12-04T18:00:00Z)"
                ))
            })?),
            (_, Some(d)) => Some(now + parse_duration_ms(d)?),
            _ => None,
        };
        if not_before.is_some_and(|t| t > now + MAX_AHEAD_MS) {
            return Err(Error::invalid("a prompt can be scheduled at most 30 days ahead"));
        }
        let when_idle = match when {
            None => false,
            Some("idle") => true,
            Some(other) => {
                return Err(Error::invalid(format!("when {other:?}: the only value is \"idle\"")));
            }
        };
        Ok(Schedule { not_before, when_idle, after_limit })
    }
}

/// A duration as `90`, `90s`, `5m`, `2h`, `1d` or a sum like `1h30m`, in milliseconds.
pub fn parse_duration_ms(text: &str) -> Result<i64> {
    let bad = || Error::invalid(format!("{text:?} is not a duration (like 90s, 5m, 1h30m)"));
    let t = text.trim();
    if t.is_empty() {
        return Err(bad());
    }
    if let Ok(secs) = t.parse::<i64>() {
        return if secs >= 0 { Ok(secs.saturating_mul(1000)) } else { Err(bad()) };
    }
    let (mut total, mut num) = (0i64, String::new());
    for c in t.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let unit = match c {
            's' => 1_000,
            'm' => 60_000,
            'h' => 3_600_000,
            'd' => 86_400_000,
            _ => return Err(bad()),
        };
        let n: i64 = num.parse().map_err(|_| bad())?;
        total = total.saturating_add(n.saturating_mul(unit));
        num.clear();
    }
    if !num.is_empty() {
        return Err(bad());
    }
    Ok(total)
}

/// An after-limit prompt was typed (a `--after-limit` prompt, or the session's setting):
/// what the notifier tells the session's people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AfterLimitTyped {
    /// The session (canonical name).
    pub name: String,
    /// Its owner's username (`""`: the local operator).
    pub owner: String,
    /// Its agent's catalog key.
    pub agent: String,
    /// What was typed.
    pub text: String,
    /// When the typing ended (unix ms).
    pub at: i64,
}

/// The waiting prompts in memory, and which are being typed now.
#[derive(Debug)]
pub(super) struct PromptQueue {
    items: Mutex<Vec<QueueItemRecord>>,
    /// Sessions with an item being typed now (one at a time per session), by item id.
    typing: Mutex<HashSet<(String, i64)>>,
    /// Item ids not to try again before a time (unix ms): they failed.
    backoff: Mutex<Vec<(i64, i64)>>,
    wake: tokio::sync::Notify,
    /// Each after-limit prompt typed.
    typed: tokio::sync::broadcast::Sender<AfterLimitTyped>,
}

impl PromptQueue {
    pub fn new(items: Vec<QueueItemRecord>) -> PromptQueue {
        PromptQueue {
            items: Mutex::new(items),
            typing: Mutex::default(),
            backoff: Mutex::default(),
            wake: tokio::sync::Notify::new(),
            typed: tokio::sync::broadcast::channel(256).0,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<QueueItemRecord>> {
        self.items.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many items wait for `session`.
    pub fn count(&self, session: &str) -> u32 {
        self.lock().iter().filter(|i| i.session == session).count() as u32
    }

    fn of(&self, session: &str) -> Vec<QueueItemRecord> {
        let mut v: Vec<_> = self.lock().iter().filter(|i| i.session == session).cloned().collect();
        v.sort_by_key(|i| (i.position, i.id));
        v
    }

    fn replace(&self, items: Vec<QueueItemRecord>) {
        *self.lock() = items;
    }

    fn is_typing(&self, id: i64) -> bool {
        self.typing.lock().unwrap_or_else(|e| e.into_inner()).iter().any(|(_, i)| *i == id)
    }
}

impl SessionService {
    /// Queues a prompt for session `name` (canonical) to be typed when `schedule` says.
    pub async fn enqueue(
        &self,
        name: &str,
        text: &str,
        enter: bool,
        schedule: Schedule,
        by: &str,
    ) -> Result<QueueItemRecord> {
        validate::prompt(text)?;
        self.record(name)?;
        if self.prompt_queue.count(name) as usize >= MAX_QUEUED {
            return Err(Error::Conflict(format!(
                "session {name:?} already has {MAX_QUEUED} prompts waiting"
            )));
        }
        let item = NewQueueItem {
            session: name.to_owned(),
            text: text.to_owned(),
            enter,
            not_before: schedule.not_before,
            when_idle: schedule.when_idle,
            after_limit: schedule.after_limit,
            created_by: by.to_owned(),
            created_at: now_ms(),
        };
        let rec = self.db(move |s| s.queue_insert(&item)).await?;
        self.prompt_queue.lock().push(rec.clone());
        tracing::info!(session.name = %name, item = rec.id, "prompt queued");
        self.queue_changed();
        Ok(rec)
    }

    /// The prompts waiting for session `name`, first first.
    pub fn queue(&self, name: &str) -> Result<Vec<QueueItemRecord>> {
        self.record(name)?;
        Ok(self.prompt_queue.of(name))
    }

    /// Edits the text of item `id` of session `name` and/or moves it to place `to` (0 =
    /// first). 404 when the session has no such item; 409 while it is being typed.
    pub async fn queue_edit(
        &self,
        name: &str,
        id: i64,
        text: Option<String>,
        to: Option<usize>,
    ) -> Result<QueueItemRecord> {
        if let Some(t) = &text {
            validate::prompt(t)?;
        }
        self.queue_item(name, id)?;
        let all = self
            .db(move |s| {
                if let Some(t) = &text {
                    s.queue_edit_text(id, t)?;
                }
                if let Some(to) = to {
                    s.queue_move(id, to)?;
                }
                s.queue_all()
            })
            .await?;
        self.prompt_queue.replace(all);
        self.queue_changed();
        self.queue_item(name, id)
    }

    /// Cancels item `id` of session `name`. 404 when there is none; 409 while being typed.
    pub async fn queue_cancel(&self, name: &str, id: i64) -> Result<()> {
        self.queue_item(name, id)?;
        let all = self
            .db(move |s| {
                s.queue_delete(id)?;
                s.queue_all()
            })
            .await?;
        self.prompt_queue.replace(all);
        tracing::info!(session.name = %name, item = id, "queued prompt cancelled");
        self.queue_changed();
        Ok(())
    }

    fn queue_item(&self, name: &str, id: i64) -> Result<QueueItemRecord> {
        self.record(name)?;
        let item =
            self.prompt_queue.of(name).into_iter().find(|i| i.id == id).ok_or_else(|| {
                Error::NotFound(format!("session {name:?} has no queued prompt {id}"))
            })?;
        if self.prompt_queue.is_typing(id) {
            return Err(Error::Conflict(format!("queued prompt {id} is being typed now")));
        }
        Ok(item)
    }

    /// The session's queue goes with it.
    pub(super) async fn queue_session_removed(&self, name: &str) {
        let key = name.to_owned();
        match self
            .db(move |s| {
                s.queue_delete_session(&key)?;
                s.queue_all()
            })
            .await
        {
            Ok(all) => self.prompt_queue.replace(all),
            Err(e) => tracing::error!(session.name = %name, error = %e, "cannot drop its queue"),
        }
    }

    /// The session's queue follows its new name.
    pub(super) async fn queue_session_renamed(&self, old: &str, new: &str) {
        let (from, to) = (old.to_owned(), new.to_owned());
        match self
            .db(move |s| {
                s.queue_rename_session(&from, &to)?;
                s.queue_all()
            })
            .await
        {
            Ok(all) => self.prompt_queue.replace(all),
            Err(e) => tracing::error!(session.name = %new, error = %e, "cannot move its queue"),
        }
    }

    /// When the agent's rate limit resets (unix ms), while it is limited.
    fn limit_resets_at(&self, name: &str) -> Option<i64> {
        self.track(name).and_then(|t| t.resets_at())
    }

    fn queue_changed(&self) {
        self.notify();
        self.prompt_queue.wake.notify_one();
    }

    /// Whether item `item` may be typed now.
    fn is_due(&self, item: &QueueItemRecord, now: i64) -> bool {
        if item.not_before.is_some_and(|t| t > now) {
            return false;
        }
        if self.status(&item.session) != SessionStatus::Running {
            return false;
        }
        let state = self.track(&item.session).map(|t| t.state);
        if (item.when_idle || item.after_limit) && state != Some(AgentState::Idle) {
            return false;
        }
        if item.after_limit && self.limit_resets_at(&item.session).is_some_and(|t| t > now) {
            return false;
        }
        true
    }

    /// Types the due items (one per session at a time) in their own tasks; answers when to
    /// look again at the latest.
    fn run_due(self: &Arc<Self>) -> Duration {
        let now = now_ms();
        let mut next = Duration::from_millis(500);
        let items = self.prompt_queue.lock().clone();
        let busy: HashSet<String> = {
            let typing = self.prompt_queue.typing.lock().unwrap_or_else(|e| e.into_inner());
            typing.iter().map(|(s, _)| s.clone()).collect()
        };
        {
            let mut backoff = self.prompt_queue.backoff.lock().unwrap_or_else(|e| e.into_inner());
            backoff.retain(|(_, until)| *until > now);
        }
        let mut sessions: Vec<&str> = items.iter().map(|i| i.session.as_str()).collect();
        sessions.sort_unstable();
        sessions.dedup();
        for session in sessions {
            if busy.contains(session) {
                continue;
            }
            let mut mine: Vec<&QueueItemRecord> =
                items.iter().filter(|i| i.session == session).collect();
            mine.sort_by_key(|i| (i.position, i.id));
            let held = |id: i64| {
                self.prompt_queue
                    .backoff
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .iter()
                    .any(|(i, _)| *i == id)
            };
            for item in &mine {
                if let Some(t) = item.not_before.filter(|t| *t > now) {
                    next = next.min(Duration::from_millis((t - now) as u64));
                }
            }
            let Some(item) = mine.into_iter().find(|i| !held(i.id) && self.is_due(i, now)) else {
                continue;
            };
            self.type_queued(item.clone());
        }
        next
    }

    fn type_queued(self: &Arc<Self>, item: QueueItemRecord) {
        self.prompt_queue
            .typing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((item.session.clone(), item.id));
        let service = self.clone();
        tokio::spawn(async move {
            let result = service.send(&item.session, &item.text, item.enter).await;
            match result {
                Ok(()) => {
                    let id = item.id;
                    match service.db(move |s| s.queue_delete(id)).await {
                        Ok(_) => service.prompt_queue.lock().retain(|i| i.id != id),
                        Err(e) => tracing::error!(item = id, error = %e, "cannot dequeue"),
                    }
                    tracing::info!(session.name = %item.session, item = id, "queued prompt typed");
                    if item.after_limit {
                        service.after_limit_typed(&item);
                    }
                }
                Err(e) => {
                    tracing::warn!(session.name = %item.session, item = item.id, error = %e,
                        "queued prompt not typed yet; trying again later");
                    service
                        .prompt_queue
                        .backoff
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((item.id, now_ms() + RETRY_AFTER_MS));
                }
            }
            service
                .prompt_queue
                .typing
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&(item.session.clone(), item.id));
            service.queue_changed();
        });
    }

    /// Every after-limit prompt typed, as it happens (for the notifier).
    pub fn after_limit_events(&self) -> tokio::sync::broadcast::Receiver<AfterLimitTyped> {
        self.prompt_queue.typed.subscribe()
    }

    fn after_limit_typed(&self, item: &QueueItemRecord) {
        let Ok(record) = self.record(&item.session) else { return };
        let _ = self.prompt_queue.typed.send(AfterLimitTyped {
            name: item.session.clone(),
            owner: record.owner,
            agent: record.agent,
            text: item.text.clone(),
            at: now_ms(),
        });
    }

    /// Types queued prompts when due, and queues each session's after-limit text when its
    /// agent stops at a limit ([`SessionService::after_limit`]), until the service is dropped.
    pub fn spawn_scheduler(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        self.spawn_after_limit_watch();
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let Some(service) = weak.upgrade() else { break };
                let next = service.run_due();
                let woken = async { service.prompt_queue.wake.notified().await };
                let _ = tokio::time::timeout(next, woken).await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("2s").unwrap(), 2_000);
        assert_eq!(parse_duration_ms("90").unwrap(), 90_000);
        assert_eq!(parse_duration_ms("1h30m").unwrap(), 5_400_000);
        assert_eq!(parse_duration_ms("1d").unwrap(), 86_400_000);
        for bad in ["", "s", "5x", "1h30", "-3", "1.5h"] {
            assert!(parse_duration_ms(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn schedules() {
        let now = 1_000_000;
        let s = Schedule::parse(None, Some("2s"), None, false, now).unwrap();
        assert_eq!(s.not_before, Some(now + 2_000));
        assert!(Schedule::parse(Some("x"), None, None, false, now).is_err());
        assert!(
            Schedule::parse(Some("2026-01-01T00:00:00Z"), Some("1s"), None, false, now).is_err()
        );
        assert!(Schedule::parse(None, None, Some("busy"), false, now).is_err());
        assert!(Schedule::parse(None, None, Some("idle"), false, now).unwrap().when_idle);
        assert!(Schedule::parse(None, Some("31d"), None, false, now).is_err());
    }
}
