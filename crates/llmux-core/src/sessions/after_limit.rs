//! A session's after-limit setting: whenever its agent stops at a rate limit, a text (default
//! "continue") is queued to be typed once the limit has reset.
//!
//! The setting is a row of `session_after_limit` (it follows renames, goes with the session)
//! with a copy in memory for the views. A watcher on the state events queues the text as an
//! `after_limit` item of the session's prompt queue ([`SessionService::enqueue`]) when the
//! agent becomes `limited`, unless an after-limit item already waits there (one typing per
//! limit, whoever queued it). From there it is an ordinary queued prompt: kept in the store
//! (a daemon restart loses nothing), shown in the queue, editable and cancellable, typed by the scheduler once the agent is idle
//! and its limit has reset. An agent that retries by itself (OpenCode says `[retrying in …]`)
//! is not told anything: it goes on alone. A limit first seen on the first screen after a
//! (re)start is not queued for: after a daemon restart the message on screen may be an old one
//! (its "try again in 3 seconds" read afresh), and a limit met before the restart has its item
//! in the store already; a limit met while the daemon was down is the one missed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use llmux_api::{AgentState, StateEvent};
use tokio::sync::broadcast::error::RecvError;

use super::{Schedule, SessionService};
use crate::error::{Error, Result};
use crate::validate;

/// The text typed when the setting is on without one.
pub const DEFAULT_AFTER_LIMIT: &str = "continue";

/// Every session's after-limit text, by canonical name.
#[derive(Debug, Default)]
pub(super) struct AfterLimits(Mutex<HashMap<String, String>>);

impl AfterLimits {
    pub fn new(rows: Vec<(String, String)>) -> AfterLimits {
        AfterLimits(Mutex::new(rows.into_iter().collect()))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn get(&self, name: &str) -> Option<String> {
        self.lock().get(name).cloned()
    }

    pub fn set(&self, name: &str, text: Option<String>) {
        match text {
            Some(t) => self.lock().insert(name.to_owned(), t),
            None => self.lock().remove(name),
        };
    }

    pub fn rename(&self, old: &str, new: &str) {
        let mut map = self.lock();
        if let Some(t) = map.remove(old) {
            map.insert(new.to_owned(), t);
        }
    }

    pub fn forget(&self, name: &str) {
        self.lock().remove(name);
    }
}

/// The after-limit text a request asks for: `None` off, `Some(text)` on; an empty text is
/// refused (off is `null` / `--no-after-limit`).
pub fn valid_after_limit(text: Option<&str>) -> Result<Option<String>> {
    match text {
        None => Ok(None),
        Some(t) if t.trim().is_empty() => Err(Error::invalid(
            "afterLimit must be the text to type (like \"continue\"); null turns it off",
        )),
        Some(t) => {
            validate::prompt(t)?;
            Ok(Some(t.to_owned()))
        }
    }
}

impl SessionService {
    /// Session `name`'s after-limit text, if the setting is on.
    pub fn after_limit(&self, name: &str) -> Option<String> {
        self.after_limits.get(name)
    }

    /// Turns session `name`'s after-limit setting on with `text`, or off (`None`).
    pub async fn set_after_limit(&self, name: &str, text: Option<&str>) -> Result<()> {
        let text = valid_after_limit(text)?;
        self.record(name)?;
        if self.after_limits.get(name) == text {
            return Ok(());
        }
        let (key, value) = (name.to_owned(), text.clone());
        self.db(move |s| s.set_after_limit(&key, value.as_deref())).await?;
        self.after_limits.set(name, text);
        tracing::info!(session.name = %name, on = self.after_limits.get(name).is_some(),
            "after-limit setting changed");
        self.notify();
        Ok(())
    }

    /// Queues the session's after-limit text when its agent has just stopped at a limit.
    async fn on_limit(&self, ev: &StateEvent) {
        // From `starting`: the first reading of a screen after a (re)start, where a limit
        // message may be an old one, its relative reset read afresh; a limit met before a
        // daemon restart has its item in the store already.
        if ev.state != AgentState::Limited
            || matches!(ev.previous, AgentState::Limited | AgentState::Starting)
        {
            return;
        }
        let Some(text) = self.after_limits.get(&ev.name) else { return };
        let retrying = self.track(&ev.name).is_some_and(|t| t.limit_retrying);
        if retrying {
            return;
        }
        if self.queue(&ev.name).is_ok_and(|items| items.iter().any(|i| i.after_limit)) {
            return;
        }
        let owner = self.record(&ev.name).map(|r| r.owner).unwrap_or_default();
        let schedule = Schedule { after_limit: true, ..Schedule::default() };
        match self.enqueue(&ev.name, &text, true, schedule, &owner).await {
            Ok(item) => tracing::info!(session.name = %ev.name, item = item.id,
                "rate limit: the after-limit text is queued"),
            Err(e) => tracing::warn!(session.name = %ev.name, error = %e,
                "rate limit: cannot queue the after-limit text"),
        }
    }

    /// Watches the state events for sessions with the setting on, until the service is
    /// dropped.
    pub(super) fn spawn_after_limit_watch(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let weak = Arc::downgrade(self);
        let mut events = self.state_events();
        tokio::spawn(async move {
            loop {
                match events.recv().await {
                    Ok(ev) => {
                        let Some(service) = weak.upgrade() else { break };
                        service.on_limit(&ev).await;
                    }
                    Err(RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "the after-limit watch fell behind")
                    }
                    Err(RecvError::Closed) => break,
                }
            }
        })
    }
}
