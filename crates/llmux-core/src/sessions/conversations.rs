//! Past conversations: listing, resuming, the live transcript, and answering questions.
//!
//! Whose conversations are whose: every conversation a session's agent starts (llmux chose
//! its id) or resumes is recorded durably as the session owner's (table
//! `conversation_owners`), and kept after the session is removed. For agents that choose
//! their own ids (Codex, OpenCode) a new conversation is *adopted* by the session it must have
//! come from (see [`SessionService::adopt`]). Callers pass `mine`: `Some(owner)` limits
//! everything to that owner's conversations (a non-admin), `None` shows all (an admin).

mod feed;

use std::path::Path;

use llmux_api::{AgentState, Conversation, SessionView, TranscriptResponse};

use super::SessionService;
use crate::agents::Kind;
use crate::error::{Error, Result};
use crate::history;
use crate::store::{ConversationHow, ConversationOwnerRecord, SessionRecord};

/// The pause between the keys of one answer.
const KEY_PACE: std::time::Duration = std::time::Duration::from_millis(200);

/// Keys a client may press with `POST /key` (besides one digit or letter).
const NAMED_KEYS: &[&str] = &[
    "Up", "Down", "Left", "Right", "Enter", "Escape", "Tab", "BTab", "BSpace", "Space", "C-c",
    "C-d", "Home", "End", "PageUp", "PageDown",
];

/// Clock slack when matching a conversation's start with a session's spawn, in ms.
const SPAWN_SLACK_MS: i64 = 2000;

impl SessionService {
    /// The session's past conversations in its cwd, newest first (`[]` without an adapter);
    /// with `mine`, only those recorded as that owner's.
    pub async fn conversations(&self, name: &str, mine: Option<&str>) -> Result<Vec<Conversation>> {
        let record = self.record(name)?;
        let me = self.arc();
        let mine = mine.map(str::to_owned);
        blocking(move || me.conversations_blocking(&record, mine.as_deref())).await
    }

    fn conversations_blocking(
        &self,
        record: &SessionRecord,
        mine: Option<&str>,
    ) -> Result<Vec<Conversation>> {
        let kind = self.kind_of(&record.agent);
        if !kind.has_history() {
            return Ok(Vec::new());
        }
        let home = self.agent_home(record);
        let all = kind.list(&home, Path::new(&record.cwd))?;
        let Some(owner) = mine else { return Ok(all) };
        if self.live_id(record).is_none()
            && let Some(newest) = all.first()
        {
            self.adopt(record, kind, &newest.id, began(newest))?;
        }
        let owned = self.store.owned_conversations(kind.key(), &record.cwd, owner)?;
        let live = self.live_id(record);
        Ok(all
            .into_iter()
            .filter(|c| owned.contains(&c.id) || live.as_deref() == Some(c.id.as_str()))
            .collect())
    }

    /// Conversations of `agent` in `cwd` (`~` expanded), newest first (admins only).
    pub async fn conversations_of(&self, agent: &str, cwd: &str) -> Result<Vec<Conversation>> {
        self.catalog.require(agent)?;
        let cwd = self.valid_cwd(cwd).await?;
        let kind = self.kind_of(agent);
        if !kind.has_history() {
            return Ok(Vec::new());
        }
        let home = self.opts.home.clone();
        blocking(move || kind.list(&home, &cwd)).await
    }

    /// Refuses (404, the same as for an id that does not exist) to resume conversation `id`
    /// with `agent` unless `mine` is `None` or the conversation is recorded as that owner's,
    /// or it is the one session `name` is already in.
    pub async fn check_resume(
        &self,
        agent: &str,
        id: Option<&str>,
        mine: Option<&str>,
        name: Option<&str>,
    ) -> Result<()> {
        let (Some(id), Some(owner)) = (id.filter(|i| !i.is_empty()), mine) else { return Ok(()) };
        // Bad input is a 400 whoever asks (the same checks create and edit make).
        crate::validate::conversation_id(id)?;
        let kind = self.kind_of(agent);
        if !kind.has_history() {
            // llmux passes no resume arguments to such an agent: nothing to protect.
            return Ok(());
        }
        kind.validate_id(id)?;
        if name
            .and_then(|n| self.record(n).ok())
            .is_some_and(|r| self.live_id(&r).as_deref() == Some(id))
        {
            return Ok(());
        }
        let (id_owned, owner_owned) = (id.to_owned(), owner.to_owned());
        let store = self.store.clone();
        let owned =
            blocking(move || store.owns_conversation(kind.key(), &id_owned, &owner_owned)).await?;
        if owned { Ok(()) } else { Err(no_conversation(id)) }
    }

    /// Respawns the session's agent on conversation `id` (and remembers it as the session's
    /// resume id). Init prompts are not typed on a resume. With `mine`, only a conversation
    /// recorded as that owner's.
    pub async fn resume(&self, name: &str, id: &str, mine: Option<&str>) -> Result<SessionView> {
        let record = self.record(name)?;
        let kind = self.kind_of(&record.agent);
        if !kind.has_history() {
            return Err(Error::invalid(format!(
                "agent {:?} has no history adapter: llmux cannot resume its conversations",
                record.agent
            )));
        }
        kind.validate_id(id)?;
        self.check_resume(&record.agent, Some(id), mine, Some(name)).await?;
        let view = self.edit(name, super::SessionEdit::resume_from(id)).await?;
        if self.status(name) != llmux_api::SessionStatus::Running {
            return self.restart(name).await;
        }
        Ok(view)
    }

    /// The live conversation as turns (the last 300). With `mine`, never a conversation not
    /// recorded as that owner's.
    pub async fn transcript(&self, name: &str, mine: Option<&str>) -> Result<TranscriptResponse> {
        let record = self.record(name)?;
        let me = self.arc();
        let mine = mine.map(str::to_owned);
        blocking(move || {
            // By the agent's kind, as listing and resuming: a custom agent borrowing a kind
            // reads that kind's transcripts.
            let kind = me.kind_of(&record.agent);
            if !kind.has_history() {
                return Ok(TranscriptResponse {
                    supported: false,
                    conversation_id: None,
                    turns: vec![],
                });
            }
            let found = match me.shown_conversation(&record, mine.as_deref())? {
                Some(id) => {
                    kind.transcript(&me.agent_home(&record), Path::new(&record.cwd), Some(&id))?
                }
                None => None,
            };
            Ok(match found {
                Some(t) => TranscriptResponse {
                    supported: true,
                    conversation_id: Some(t.conversation_id),
                    turns: t.turns.iter().map(history::markdown::rendered).collect(),
                },
                None => {
                    TranscriptResponse { supported: true, conversation_id: None, turns: vec![] }
                }
            })
        })
        .await
    }

    /// The transcript of the conversation the session is in (for a reply), never one that
    /// is not its owner's. Blocking; called every 100 ms while a reply is awaited, so an
    /// unknown conversation is looked for with one read of the newest, not a listing.
    pub(super) fn own_transcript(&self, record: &SessionRecord) -> Option<history::Transcript> {
        let kind = self.kind_of(&record.agent);
        let (home, cwd) = (self.agent_home(record), Path::new(&record.cwd));
        if let Some(id) = self.live_id(record) {
            return kind.transcript(&home, cwd, Some(&id)).ok()?;
        }
        if !kind.has_history() {
            return None;
        }
        let t = kind.transcript(&home, cwd, None).ok()??;
        let began = t.turns.first().and_then(|t| t.ts.as_deref()).and_then(parse_ms);
        let adopted = self.adopt(record, kind, &t.conversation_id, began).ok()?.is_some();
        let owned = || self.store.owns_conversation(kind.key(), &t.conversation_id, &record.owner);
        (adopted || owned().ok()?).then_some(t)
    }

    /// The conversation a viewer is shown as the session's live one: the one llmux chose or
    /// resumed, else one adopted now; an admin (`mine` = `None`) falls back to the newest in
    /// the cwd, as before. Blocking (may list the cwd's conversations).
    fn shown_conversation(
        &self,
        record: &SessionRecord,
        mine: Option<&str>,
    ) -> Result<Option<String>> {
        if let Some(id) = self.live_id(record) {
            return Ok(Some(id));
        }
        let kind = self.kind_of(&record.agent);
        if !kind.has_history() {
            return Ok(None);
        }
        let all = kind.list(&self.agent_home(record), Path::new(&record.cwd))?;
        let Some(newest) = all.first() else { return Ok(None) };
        if let Some(id) = self.adopt(record, kind, &newest.id, began(newest))? {
            return Ok(Some(id));
        }
        // The newest is shown only to an admin, or to an owner it is recorded for.
        Ok(match mine {
            None => Some(newest.id.clone()),
            Some(owner) if self.store.owns_conversation(kind.key(), &newest.id, owner)? => {
                Some(newest.id.clone())
            }
            Some(_) => None,
        })
    }

    /// The conversation llmux knows the session is in (chose, resumed or adopted).
    fn live_id(&self, record: &SessionRecord) -> Option<String> {
        self.conversations_get(&record.name).or_else(|| record.resume_from.clone())
    }

    /// For a session whose agent chose its own conversation id: takes conversation `id`, the
    /// newest in the cwd, which `began` then, as the session's, when that is certain enough:
    /// no owner has it yet, it began after the session's agent was spawned, and no other
    /// session of the same agent and cwd with an unknown conversation was spawned before it
    /// began (then it is ambiguous, and nobody gets it). Blocking.
    fn adopt(
        &self,
        record: &SessionRecord,
        kind: Kind,
        id: &str,
        began: Option<i64>,
    ) -> Result<Option<String>> {
        let Some(began) = began else { return Ok(None) };
        if began + SPAWN_SLACK_MS < record.started_at {
            return Ok(None);
        }
        let rivals = self.records.read().expect("records lock").values().any(|r| {
            r.name != record.name
                && r.cwd == record.cwd
                && self.kind_of(&r.agent) == kind
                && r.started_at <= began + SPAWN_SLACK_MS
                && self.live_id(r).is_none()
        });
        if rivals || self.store.conversation_claimed(kind.key(), id)? {
            return Ok(None);
        }
        self.store.record_conversation_owner(&claim(record, kind, id, ConversationHow::Adopted))?;
        self.store.set_conversation(&record.name, Some(id))?;
        self.conversations.set(&record.name, id);
        self.notify();
        tracing::info!(session.name = %record.name, conversation = %id, "conversation adopted");
        Ok(Some(id.to_owned()))
    }

    /// Chooses option `number` (from 1, as the screen numbers them) of the question the agent
    /// shows now.
    pub async fn answer(&self, name: &str, number: usize) -> Result<()> {
        if number == 0 {
            return Err(Error::invalid(
                "options are numbered from 1, as the screen shows them (option 1 is the first)",
            ));
        }
        self.record(name)?;
        self.ensure_running(name)?;
        let queue = self.input_lock(name);
        let _turn = queue.lock().await;
        self.poke(name).await;
        let track = self.track(name).ok_or_else(|| Error::Conflict("no state yet".into()))?;
        // A question shown at a rate limit (Claude Code's options, Gemini CLI's dialog) is
        // `limited` with its question: answerable as any.
        let asking = track.state == AgentState::Waiting
            || track.state == AgentState::Limited && track.prompt.is_some();
        if !asking {
            return Err(Error::Conflict(format!(
                "session {name:?} is not waiting for an answer (it is {})",
                track.state
            )));
        }
        let options = track.prompt.as_ref().map_or(&[][..], |p| &p.options[..]);
        let option = options.get(number - 1).ok_or_else(|| {
            Error::invalid(format!(
                "no option {number} on the question shown (it has {}, numbered from 1)",
                options.len()
            ))
        })?;
        // One key per call, paced: a burst of `Down Down Enter` lands as one (Claude Code
        // then took the Enter on the first option, seen with the real CLI).
        for (i, key) in option.keys.iter().enumerate() {
            if i > 0 {
                tokio::time::sleep(KEY_PACE).await;
            }
            self.tmux_of(name).send_key(name, key).await?;
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
        self.tmux_of(name).send_key(name, key).await
    }

    /// The argv additions for a spawn: resume `resume_from`, or start a fresh conversation
    /// with an id llmux chooses (remembered, so llmux knows which transcript is live).
    pub(super) fn conversation_args(
        &self,
        name: &str,
        kind: Kind,
        resume_from: Option<&str>,
    ) -> Vec<String> {
        self.conversations.spawn_args(name, kind, resume_from)
    }

    /// Stores, at a spawn, the conversation the session's agent is in (kept across daemon
    /// restarts: which transcript is live) and records it as the session owner's.
    pub(super) async fn remember_conversation(&self, record: &SessionRecord) -> Result<()> {
        let id = self.conversations_get(&record.name);
        let kind = self.kind_of(&record.agent);
        let owner = id.as_deref().filter(|_| kind.has_history()).map(|id| {
            let how = if record.resume_from.as_deref() == Some(id) {
                ConversationHow::Resumed
            } else {
                ConversationHow::Started
            };
            claim(record, kind, id, how)
        });
        let name = record.name.clone();
        self.db(move |s| {
            s.set_conversation(&name, id.as_deref())?;
            match owner {
                Some(rec) => s.record_conversation_owner(&rec),
                None => Ok(()),
            }
        })
        .await
    }

    /// The conversation id llmux chose or resumed for the session's current agent, if any.
    pub(super) fn conversations_get(&self, name: &str) -> Option<String> {
        self.conversations.get(name)
    }

    /// The service as an `Arc` (it always is one: see [`SessionService::start`]).
    fn arc(&self) -> std::sync::Arc<SessionService> {
        self.me.get().and_then(std::sync::Weak::upgrade).expect("the service is alive")
    }
}

fn claim(
    record: &SessionRecord,
    kind: Kind,
    id: &str,
    how: ConversationHow,
) -> ConversationOwnerRecord {
    ConversationOwnerRecord {
        agent: kind.key().to_owned(),
        cwd: record.cwd.clone(),
        conversation_id: id.to_owned(),
        owner: record.owner.clone(),
        how,
        session: record.name.clone(),
        recorded_at: crate::time::now_ms(),
    }
}

/// When a listed conversation began (its first message, else its last).
fn began(c: &Conversation) -> Option<i64> {
    c.started_at.as_deref().or(c.last_message_at.as_deref()).and_then(parse_ms)
}

fn parse_ms(rfc3339: &str) -> Option<i64> {
    crate::time::parse_rfc3339_ms(rfc3339)
}

fn no_conversation(id: &str) -> Error {
    Error::NotFound(format!("no conversation {id:?} of yours to resume"))
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::io("history task failed", std::io::Error::other(e)))?
}
