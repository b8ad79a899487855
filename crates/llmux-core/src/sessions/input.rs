//! Typing into sessions and reading their screens.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;

use super::SessionService;
use crate::api::{
    BroadcastFailure, BroadcastRequest, BroadcastResponse, MAX_CAPTURE_LINES, SessionStatus,
};
use crate::error::{Error, Result};
use crate::store::SessionRecord;
use crate::tmux::Tmux;
use crate::validate;

impl SessionService {
    /// Types a prompt into a running session, then presses Enter after the settle delay.
    ///
    /// Senders to one session are served in order: the session lock is held for the whole
    /// send, so two prompts never interleave.
    pub async fn send(&self, name: &str, prompt: &str, enter: bool) -> Result<()> {
        validate::prompt(prompt)?;
        let lock = self.session_lock(name);
        let _guard = lock.lock().await;
        self.record(name)?;
        if self.status(name) != SessionStatus::Running {
            return Err(Error::Conflict(format!(
                "session {name:?} is not running; start it with `llmux session restart {name}`"
            )));
        }
        type_prompt(&self.tmux, name, prompt, enter, self.opts.settle).await
    }

    /// Sends one prompt to many sessions at once.
    pub async fn broadcast(self: &Arc<Self>, req: BroadcastRequest) -> Result<BroadcastResponse> {
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
        let enter = req.enter.unwrap_or(true);
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

    /// The last `lines` lines of a session's pane (running or exited with its pane kept).
    pub async fn capture(&self, name: &str, lines: u32) -> Result<String> {
        if lines == 0 || lines > MAX_CAPTURE_LINES {
            return Err(Error::invalid(format!("lines must be between 1 and {MAX_CAPTURE_LINES}")));
        }
        self.record(name)?;
        match self.tmux.capture(name, lines).await {
            Err(Error::NotFound(_)) => Err(Error::Conflict(format!(
                "session {name:?} has no screen to capture (it is not running)"
            ))),
            other => other,
        }
    }

    /// Types the daemon's and the session's init prompts once the agent's screen settles.
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
        let tmux = self.tmux.clone();
        let name = record.name.clone();
        let settle = self.opts.settle;
        tokio::spawn(async move {
            wait_for_quiet_screen(&tmux, &name, Duration::from_secs(10)).await;
            for prompt in prompts {
                if let Err(e) = type_prompt(&tmux, &name, &prompt, true, settle).await {
                    tracing::warn!(session.name = %name, error = %e, "init prompt not sent");
                    return;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        });
    }
}

async fn type_prompt(
    tmux: &Tmux,
    name: &str,
    prompt: &str,
    enter: bool,
    settle: Duration,
) -> Result<()> {
    tmux.send_text(name, prompt).await?;
    if enter {
        tokio::time::sleep(settle).await;
        tmux.send_key(name, "Enter").await?;
    }
    Ok(())
}

/// Waits until the pane shows something and stops changing for a moment, or `limit` passes.
async fn wait_for_quiet_screen(tmux: &Tmux, name: &str, limit: Duration) {
    let deadline = tokio::time::Instant::now() + limit;
    let mut last = String::new();
    let mut stable = 0;
    while tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let Ok(screen) = tmux.capture(name, 50).await else { return };
        if !screen.trim().is_empty() && screen == last {
            stable += 1;
            if stable >= 2 {
                return;
            }
        } else {
            stable = 0;
        }
        last = screen;
    }
    tracing::warn!(session.name = %name, "screen did not settle; sending init prompts anyway");
}
