//! Input on behalf of a principal: prompts (one, waited, or to many sessions), answers, keys,
//! interrupts and files.

use std::time::Duration;

use llmux_api::{BroadcastResponse, SessionStatus};
use llmux_core::sessions::{Broadcast, WaitOutcome};

use super::{MAX_WAIT, PendingAudit, Prompt, Sessions, Verbatim, no_session};
use crate::policy::{Action, require};
use crate::{Error, Principal, Result};

impl Sessions {
    /// Types a prompt (Enter follows unless `enter` is false). With `wait`, answers once the
    /// agent leaves `working`, with its reply; otherwise `None` once typed (or queued).
    pub async fn send(
        &self,
        principal: &Principal,
        name: &str,
        prompt: Prompt,
    ) -> Result<Option<WaitOutcome>> {
        let name = self.find(principal, name, Action::DriveSessions)?;
        let chars = prompt.text.chars().count();
        if !prompt.wait.unwrap_or(false) {
            let enter = prompt.enter.unwrap_or(true);
            self.service.send(&name, &prompt.text, enter).await.verbatim()?;
            let detail = format!("{chars} chars{}", if enter { "" } else { ", no enter" });
            self.audit(principal, "session_prompted", &name, &detail).await;
            return Ok(None);
        }
        if prompt.enter == Some(false) {
            return Err(Error::Invalid(
                "wait needs enter: a prompt that is not submitted gets no reply".into(),
            ));
        }
        let timeout = prompt.timeout.unwrap_or(600);
        if timeout == 0 || timeout > MAX_WAIT.as_secs() {
            return Err(Error::Invalid(format!(
                "timeout must be between 1 and {} seconds",
                MAX_WAIT.as_secs()
            )));
        }
        // The wait can outlast the request (a client that gives up): the entry is written when
        // the call ends, however it ends, unless the prompt was refused.
        let mut entry = PendingAudit::new(
            self.auth.clone(),
            principal,
            "session_prompted",
            &name,
            format!("{chars} chars, waited"),
        );
        let wait = Duration::from_secs(timeout);
        let out = self.service.send_and_wait(&name, &prompt.text, wait).await;
        match out {
            Ok(out) => {
                entry.write().await;
                Ok(Some(out))
            }
            Err(e) => {
                entry.cancel();
                Err(Error::Core(e))
            }
        }
    }

    /// Chooses option `option` (from 1) of the question a `waiting` agent shows.
    pub async fn answer(&self, principal: &Principal, name: &str, option: usize) -> Result<()> {
        let name = self.find(principal, name, Action::DriveSessions)?;
        self.service.answer(&name, option).await.verbatim()?;
        self.audit(principal, "session_answered", &name, &format!("option {option}")).await;
        Ok(())
    }

    /// Presses one key.
    pub async fn press_key(&self, principal: &Principal, name: &str, key: &str) -> Result<()> {
        let name = self.find(principal, name, Action::DriveSessions)?;
        self.service.press_key(&name, key).await.verbatim()?;
        self.audit(principal, "session_key", &name, key).await;
        Ok(())
    }

    /// Writes a file into the session's `.llmux/uploads/` folder, as the session's owner.
    pub async fn upload(
        &self,
        principal: &Principal,
        name: &str,
        file_name: &str,
        body: &[u8],
    ) -> Result<llmux_core::sessions::uploads::Uploaded> {
        let name = self.find(principal, name, Action::DriveSessions)?;
        let done = self.service.upload(&name, file_name, body).await.verbatim()?;
        let detail = format!("{} ({} bytes)", done.relative, done.size);
        self.audit(principal, "session_upload", &name, &detail).await;
        Ok(done)
    }

    /// Stops what the agent is doing (presses Escape).
    pub async fn interrupt(&self, principal: &Principal, name: &str) -> Result<()> {
        let name = self.find(principal, name, Action::DriveSessions)?;
        self.service.press_key(&name, "Escape").await.verbatim()?;
        self.audit(principal, "session_interrupted", &name, "").await;
        Ok(())
    }

    /// Sends one prompt to `req.names` (in the caller's terms; any it may not see is 404), or
    /// to every running session it may see (of `req.agent`). Names come back in its terms.
    pub async fn broadcast(
        &self,
        principal: &Principal,
        mut req: Broadcast,
    ) -> Result<BroadcastResponse> {
        require(principal, Action::DriveSessions)?;
        let visible: Vec<String> = self
            .service
            .list()
            .iter()
            .filter(|s| principal.can_access(&s.owner))
            .map(|s| s.name.clone())
            .collect();
        match &mut req.names {
            Some(names) => {
                for name in names.iter_mut() {
                    let canonical = self.resolve(principal, name);
                    if !visible.contains(&canonical) {
                        return Err(no_session(name));
                    }
                    *name = canonical;
                }
            }
            None => req.names = Some(self.running(visible, req.agent.as_deref())),
        }
        let chars = req.prompt.chars().count();
        let enter = req.enter;
        let mut out = self.service.broadcast(req).await.verbatim()?;
        let detail = format!("{chars} chars{}, broadcast", if enter { "" } else { ", no enter" });
        for name in &out.sent {
            self.audit(principal, "session_prompted", name, &detail).await;
        }
        out.sent = out.sent.iter().map(|n| self.shown(principal, n)).collect();
        for failure in &mut out.failed {
            failure.name = self.shown(principal, &failure.name);
        }
        Ok(out)
    }

    fn running(&self, visible: Vec<String>, agent: Option<&str>) -> Vec<String> {
        if let Some(agent) = agent
            && self.service.catalog().get(agent).is_none()
        {
            // Leave the names empty; the service reports the unknown agent.
            return Vec::new();
        }
        visible
            .into_iter()
            .filter(|n| self.service.status(n) == SessionStatus::Running)
            .filter(|n| agent.is_none_or(|a| self.service.record(n).is_ok_and(|r| r.agent == a)))
            .collect()
    }
}
