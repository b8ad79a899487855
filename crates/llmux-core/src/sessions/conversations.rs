//! Past conversations: listing, resuming, the live transcript, and answering questions.

use std::path::Path;

use super::SessionService;
use crate::api::{AgentState, Conversation, SessionView, TranscriptResponse};
use crate::error::{Error, Result};
use crate::history;

/// The pause between the keys of one answer.
const KEY_PACE: std::time::Duration = std::time::Duration::from_millis(200);

/// Keys a client may press with `POST /key` (besides one digit or letter).
const NAMED_KEYS: &[&str] = &[
    "Up", "Down", "Left", "Right", "Enter", "Escape", "Tab", "BTab", "BSpace", "Space", "C-c",
    "C-d", "Home", "End", "PageUp", "PageDown",
];

impl SessionService {
    /// The session's past conversations in its cwd, newest first (`[]` without an adapter).
    pub async fn conversations(&self, name: &str) -> Result<Vec<Conversation>> {
        let record = self.record(name)?;
        let home = self.agent_home(&record);
        list_blocking(self.detector_of(&record.agent), home, record.cwd.into()).await
    }

    /// Conversations of `agent` in `cwd` (`~` expanded), newest first.
    pub async fn conversations_of(&self, agent: &str, cwd: &str) -> Result<Vec<Conversation>> {
        self.catalog.require(agent)?;
        let cwd = crate::validate::cwd(cwd, &self.opts.home)?;
        list_blocking(self.detector_of(agent), self.opts.home.clone(), cwd).await
    }

    /// Respawns the session's agent on conversation `id` (and remembers it as the session's
    /// resume id). Init prompts are not typed on a resume.
    pub async fn resume(&self, name: &str, id: &str) -> Result<SessionView> {
        let record = self.record(name)?;
        let kind = self.detector_of(&record.agent);
        if !history::supported(&kind) {
            return Err(Error::invalid(format!(
                "agent {:?} has no history adapter: llmux cannot resume its conversations",
                record.agent
            )));
        }
        history::validate_id(&kind, id)?;
        let req = crate::api::EditSessionRequest {
            resume_from: Some(Some(id.to_owned())),
            ..Default::default()
        };
        let view = self.edit(name, req).await?;
        if self.status(name) != crate::api::SessionStatus::Running {
            return self.restart(name).await;
        }
        Ok(view)
    }

    /// The live conversation as turns (the last 300).
    pub async fn transcript(&self, name: &str) -> Result<TranscriptResponse> {
        let record = self.record(name)?;
        if !history::supported(&record.agent) {
            return Ok(TranscriptResponse {
                supported: false,
                conversation_id: None,
                turns: vec![],
            });
        }
        let home = self.agent_home(&record);
        let id = self.conversation_id(name);
        let agent = record.agent.clone();
        let found = tokio::task::spawn_blocking(move || {
            history::transcript(&agent, &home, Path::new(&record.cwd), id.as_deref())
        })
        .await
        .map_err(|e| Error::io("transcript task failed", std::io::Error::other(e)))??;
        Ok(match found {
            Some(t) => TranscriptResponse {
                supported: true,
                conversation_id: Some(t.conversation_id),
                turns: t.turns,
            },
            None => TranscriptResponse { supported: true, conversation_id: None, turns: vec![] },
        })
    }

    /// Chooses option `index` of the question the agent shows now.
    pub async fn answer(&self, name: &str, index: usize) -> Result<()> {
        self.record(name)?;
        self.ensure_running(name)?;
        let queue = self.input_lock(name);
        let _turn = queue.lock().await;
        self.poke(name).await;
        let track = self.track(name).ok_or_else(|| Error::Conflict("no state yet".into()))?;
        if track.state != AgentState::Waiting {
            return Err(Error::Conflict(format!(
                "session {name:?} is not waiting for an answer (it is {})",
                track.state
            )));
        }
        let option =
            track.prompt.as_ref().and_then(|p| p.options.get(index)).ok_or_else(|| {
                Error::invalid(format!("no option {index} on the question shown"))
            })?;
        // One key per call, paced: a burst of `Down Down Enter` lands as one (Claude Code
        // then took the Enter on the first option, seen with the real CLI).
        for (i, key) in option.keys.iter().enumerate() {
            if i > 0 {
                tokio::time::sleep(KEY_PACE).await;
            }
            self.tmux.send_key(name, key).await?;
        }
        Ok(())
    }

    /// Presses one key (from a short list: arrows, Enter, Escape, Tab, …, a digit or letter).
    pub async fn press_key(&self, name: &str, key: &str) -> Result<()> {
        let single = key.len() == 1 && key.chars().all(|c| c.is_ascii_alphanumeric());
        if !single && !NAMED_KEYS.contains(&key) {
            return Err(Error::invalid(format!(
                "key must be one letter or digit, or one of: {}",
                NAMED_KEYS.join(", ")
            )));
        }
        self.record(name)?;
        self.ensure_running(name)?;
        let queue = self.input_lock(name);
        let _turn = queue.lock().await;
        self.tmux.send_key(name, key).await
    }

    /// The argv additions for a spawn: resume `resume_from`, or start a fresh conversation
    /// with an id llmux chooses (remembered, so llmux knows which transcript is live).
    pub(super) fn conversation_args(
        &self,
        name: &str,
        agent: &str,
        resume_from: Option<&str>,
    ) -> Vec<String> {
        let mut conversations = self.conversations.lock().expect("conversations lock");
        if let Some(id) = resume_from {
            if let Some(args) = history::resume_args(agent, id) {
                conversations.insert(name.to_owned(), id.to_owned());
                return args;
            }
            return Vec::new();
        }
        let id = history::new_session_id();
        match history::fresh_session_args(agent, &id) {
            Some(args) if !id.is_empty() => {
                conversations.insert(name.to_owned(), id);
                args
            }
            _ => {
                conversations.remove(name);
                Vec::new()
            }
        }
    }

    /// The conversation id llmux chose or resumed for the session's current agent, if any.
    pub(super) fn conversations_get(&self, name: &str) -> Option<String> {
        self.conversations.lock().expect("conversations lock").get(name).cloned()
    }
}

async fn list_blocking(
    agent: String,
    home: std::path::PathBuf,
    cwd: std::path::PathBuf,
) -> Result<Vec<Conversation>> {
    if !history::supported(&agent) {
        return Ok(Vec::new());
    }
    tokio::task::spawn_blocking(move || history::list(&agent, &home, &cwd))
        .await
        .map_err(|e| Error::io("history task failed", std::io::Error::other(e)))?
}
