//! Typing into sessions and reading their screens.

use std::sync::Arc;
use std::time::Duration;

use llmux_api::{
    AgentState, BroadcastFailure, BroadcastResponse, MAX_CAPTURE_LINES, SessionStatus,
};
use tokio::task::JoinSet;

use super::queues::{WaitReason, Waiting};
use super::{Broadcast, SessionService};
use crate::error::{Error, Result};
use crate::store::SessionRecord;
use crate::validate;

/// How long after Enter to look whether the prompt left the composer.
const RESUBMIT_AFTER: Duration = Duration::from_millis(700);

impl SessionService {
    /// Types a prompt into a running session, then presses Enter after the agent's settle
    /// delay.
    ///
    /// Senders to one session queue up (a fair lock held for the whole prompt), so their
    /// keystrokes never interleave. A prompt sent while the agent is still `starting` is held
    /// until it is ready, up to [`SessionOptions::ready_timeout`](super::SessionOptions).
    ///
    /// A prompt that has to wait (behind another sender, or for the agent to be ready) is
    /// listed with the session's queue meanwhile ([`SessionService::waiting`]); one typed at
    /// once is never registered.
    pub async fn send(&self, name: &str, prompt: &str, enter: bool) -> Result<()> {
        validate::prompt(prompt)?;
        let record = self.record(name)?;
        let queue = self.input_lock(name);
        let starting = || self.track(name).is_none_or(|t| t.state == AgentState::Starting);
        let (_turn, ticket) = match queue.clone().try_lock_owned() {
            Ok(turn) if !starting() => (turn, None),
            Ok(turn) => {
                let ticket = self.queues.wait(name, prompt, WaitReason::Starting);
                self.notify();
                (turn, Some(ticket))
            }
            Err(_) => {
                let ticket = self.queues.wait(name, prompt, WaitReason::Behind);
                self.notify();
                let turn = queue.lock_owned().await;
                if starting() {
                    ticket.set(WaitReason::Starting);
                    self.notify();
                }
                (turn, Some(ticket))
            }
        };
        let ready = async {
            self.ensure_running(name)?;
            self.wait_until_ready(name, self.opts.ready_timeout).await
        }
        .await;
        if ticket.is_some() {
            drop(ticket);
            self.notify();
        }
        ready?;
        self.type_prompt(name, &record.agent, prompt, enter).await
    }

    /// The prompts sent to be typed now that wait their turn at session `name`'s input
    /// (behind another sender, or for the agent to start), first first. Never stored: each
    /// one's sender is still waiting for its answer.
    pub fn waiting(&self, name: &str) -> Vec<Waiting> {
        self.queues.waiting(name)
    }

    /// Types `prompt`, then (with `enter`) presses Enter after the agent's settle delay. For
    /// an agent llmux can read, it then checks the prompt went: an Enter taken as part of the
    /// paste (Gemini, Qwen and OpenCode on a loaded machine) leaves the text in the composer
    /// and the agent idle, so Enter is pressed again, at most twice.
    pub(super) async fn type_prompt(
        &self,
        name: &str,
        agent: &str,
        prompt: &str,
        enter: bool,
    ) -> Result<()> {
        self.tmux_of(name).send_text(name, prompt).await?;
        if !enter {
            return Ok(());
        }
        tokio::time::sleep(self.settle_for(agent)).await;
        let start = self.track(name).map_or(0, |t| t.transitions);
        self.tmux_of(name).send_key(name, "Enter").await?;
        if !self.kind_of(agent).has_detector() {
            return Ok(());
        }
        let tail: String = {
            let last = prompt.lines().last().unwrap_or_default().trim();
            let chars: Vec<char> = last.chars().collect();
            chars[chars.len().saturating_sub(24)..].iter().collect()
        };
        if tail.is_empty() {
            return Ok(());
        }
        for _ in 0..2 {
            let deadline = tokio::time::Instant::now() + RESUBMIT_AFTER;
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                self.poke(name).await;
                let Some(track) = self.track(name) else { return Ok(()) };
                if track.transitions != start || track.state != AgentState::Idle {
                    return Ok(());
                }
                if tokio::time::Instant::now() >= deadline {
                    break;
                }
            }
            let screen = self.tmux_of(name).screen(name).await.unwrap_or_default();
            let bottom: Vec<&str> =
                screen.lines().rev().filter(|l| !l.trim().is_empty()).take(8).collect();
            if !bottom.iter().any(|l| l.contains(&tail)) {
                return Ok(());
            }
            tracing::info!(session.name = %name, "the prompt is still in the composer; pressing Enter again");
            self.tmux_of(name).send_key(name, "Enter").await?;
        }
        Ok(())
    }

    /// The pause between text and Enter for an agent.
    pub(super) fn settle_for(&self, agent: &str) -> Duration {
        self.catalog.get(agent).and_then(|a| a.settle()).unwrap_or(self.opts.settle)
    }

    pub(super) fn ensure_running(&self, name: &str) -> Result<()> {
        if self.status(name) != SessionStatus::Running {
            return Err(Error::NotRunning(format!("session {name:?} is not running")));
        }
        Ok(())
    }

    /// Waits while the agent is `starting`. Errors if it exits or stays starting too long.
    pub(super) async fn wait_until_ready(&self, name: &str, limit: Duration) -> Result<()> {
        self.wait_for_state(name, limit, |s| s != AgentState::Starting, "is still starting after")
            .await
    }

    /// Waits until `done(state)` holds (no track yet counts as `starting`); errors when the
    /// agent exits or `limit` passes (the message says the agent `what` {limit}s).
    async fn wait_for_state(
        &self,
        name: &str,
        limit: Duration,
        done: impl Fn(AgentState) -> bool,
        what: &str,
    ) -> Result<()> {
        let deadline = tokio::time::Instant::now() + limit;
        let mut changes = self.watch();
        loop {
            let state = self.track(name).map_or(AgentState::Starting, |t| t.state);
            if state == AgentState::Exited {
                return Err(Error::Conflict(format!("session {name:?} exited")));
            }
            if done(state) {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::NotReady(format!(
                    "the agent in session {name:?} {what} {}s",
                    limit.as_secs()
                )));
            }
            let _ = tokio::time::timeout(Duration::from_millis(100), changes.changed()).await;
        }
    }

    /// Sends one prompt to many sessions at once.
    pub async fn broadcast(self: &Arc<Self>, req: Broadcast) -> Result<BroadcastResponse> {
        validate::prompt(&req.prompt)?;
        if let Some(agent) = &req.agent {
            self.catalog.require(agent)?;
        }
        let targets: Vec<String> = match &req.names {
            Some(names) => names.clone(),
            None => self
                .list()
                .iter()
                .filter(|s| s.status == SessionStatus::Running)
                .filter(|s| req.agent.as_ref().is_none_or(|a| &s.agent == a))
                .map(|s| s.name.clone())
                .collect(),
        };
        let enter = req.enter;
        let mut tasks = JoinSet::new();
        for name in targets {
            let service = self.clone();
            let prompt = req.prompt.clone();
            tasks.spawn(async move {
                let result = service.send(&name, &prompt, enter).await;
                (name, result)
            });
        }
        let (mut sent, mut failed) = (Vec::new(), Vec::new());
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok((name, Ok(()))) => sent.push(name),
                Ok((name, Err(e))) => failed.push(BroadcastFailure { name, error: e.to_string() }),
                Err(e) => tracing::error!(error = %e, "broadcast task failed"),
            }
        }
        sent.sort();
        failed.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(BroadcastResponse { ok: failed.is_empty(), sent, failed })
    }

    /// The last `lines` lines of a session's pane (running, exited with its pane kept, or
    /// stopped by this daemon: the screen it had when stopped).
    pub async fn capture(&self, name: &str, lines: u32) -> Result<String> {
        if lines == 0 || lines > MAX_CAPTURE_LINES {
            return Err(Error::invalid(format!("lines must be between 1 and {MAX_CAPTURE_LINES}")));
        }
        self.record(name)?;
        match self.tmux_of(name).capture(name, lines).await {
            Err(Error::NotFound(_)) => {
                self.last_screens.last(name, lines as usize).ok_or_else(|| {
                    Error::Conflict(format!(
                        "session {name:?} has no screen to capture (it is not running)"
                    ))
                })
            }
            other => other,
        }
    }

    /// Types the daemon's and the session's init prompts once the agent is ready, each one
    /// after the agent is idle again, through the same queue as every other prompt.
    pub(super) fn fire_init_prompts(&self, record: &SessionRecord) {
        let prompts: Vec<String> = self
            .init_prompts()
            .iter()
            .chain(&record.init_prompts)
            .filter(|p| !p.trim().is_empty())
            .cloned()
            .collect();
        if prompts.is_empty() {
            return;
        }
        let Some(service) = self.me.get().and_then(std::sync::Weak::upgrade) else { return };
        let name = record.name.clone();
        tokio::spawn(async move {
            for prompt in prompts {
                if let Err(e) = service
                    .wait_for_state(
                        &name,
                        service.opts.ready_timeout,
                        |s| s == AgentState::Idle,
                        "was not idle within",
                    )
                    .await
                {
                    tracing::warn!(session.name = %name, error = %e, "init prompts not sent");
                    return;
                }
                let before = service.track(&name).map_or(0, |t| t.transitions);
                if let Err(e) = service.send(&name, &prompt, true).await {
                    tracing::warn!(session.name = %name, error = %e, "init prompt not sent");
                    return;
                }
                // Let the agent take it (leave idle) before the next one waits for idle.
                let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
                while service.track(&name).is_some_and(|t| t.transitions == before)
                    && tokio::time::Instant::now() < deadline
                {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        });
    }
}
