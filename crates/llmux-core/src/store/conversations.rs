//! The `conversation_owners` table: which owner's sessions started or resumed which
//! conversation (see migration 0007).

use rusqlite::{OptionalExtension, params};

use super::Store;
use crate::error::Result;

/// How a session came to be in a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConversationHow {
    /// llmux chose its id at spawn (`--session-id`).
    Started,
    /// The session was spawned to resume it.
    Resumed,
    /// The agent chose the id; llmux attributed the new conversation to the session.
    Adopted,
}

impl ConversationHow {
    fn as_str(self) -> &'static str {
        match self {
            ConversationHow::Started => "started",
            ConversationHow::Resumed => "resumed",
            ConversationHow::Adopted => "adopted",
        }
    }
}

/// One row: `owner`'s session `session` was in conversation `id` of adapter `agent` in `cwd`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationOwnerRecord {
    /// History adapter key (the agent's detector).
    pub agent: String,
    /// The session's working directory.
    pub cwd: String,
    /// The agent's conversation id.
    pub conversation_id: String,
    /// The session's owner ('' = the local operator).
    pub owner: String,
    /// Started, resumed or adopted.
    pub how: ConversationHow,
    /// The session's name at the time.
    pub session: String,
    /// Unix ms.
    pub recorded_at: i64,
}

impl Store {
    /// Records a conversation as its session owner's (a repeat is ignored).
    pub fn record_conversation_owner(&self, rec: &ConversationOwnerRecord) -> Result<()> {
        self.conn().execute(
            "INSERT OR IGNORE INTO conversation_owners \
             (agent, cwd, conversation_id, owner, how, session, recorded_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                rec.agent,
                rec.cwd,
                rec.conversation_id,
                rec.owner,
                rec.how.as_str(),
                rec.session,
                rec.recorded_at
            ],
        )?;
        Ok(())
    }

    /// The conversation ids of adapter `agent` in `cwd` recorded as `owner`'s.
    pub fn owned_conversations(&self, agent: &str, cwd: &str, owner: &str) -> Result<Vec<String>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT conversation_id FROM conversation_owners \
             WHERE agent = ?1 AND cwd = ?2 AND owner = ?3",
        )?;
        let rows = stmt.query_map(params![agent, cwd, owner], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Whether conversation `id` of adapter `agent` is recorded as `owner`'s (in any cwd).
    pub fn owns_conversation(&self, agent: &str, id: &str, owner: &str) -> Result<bool> {
        Ok(self
            .conn()
            .query_row(
                "SELECT 1 FROM conversation_owners \
                 WHERE agent = ?1 AND conversation_id = ?2 AND owner = ?3 LIMIT 1",
                params![agent, id, owner],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Whether conversation `id` of adapter `agent` is recorded as anyone's.
    pub fn conversation_claimed(&self, agent: &str, id: &str) -> Result<bool> {
        Ok(self
            .conn()
            .query_row(
                "SELECT 1 FROM conversation_owners WHERE agent = ?1 AND conversation_id = ?2 \
                 LIMIT 1",
                params![agent, id],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str, owner: &str) -> ConversationOwnerRecord {
        ConversationOwnerRecord {
            agent: "claude".into(),
            cwd: "/w".into(),
            conversation_id: id.into(),
            owner: owner.into(),
            how: ConversationHow::Started,
            session: "s".into(),
            recorded_at: 1,
        }
    }

    #[test]
    fn owners_are_kept_apart() {
        let store = Store::open_in_memory().unwrap();
        store.record_conversation_owner(&rec("a", "alice")).unwrap();
        store.record_conversation_owner(&rec("a", "alice")).unwrap();
        store.record_conversation_owner(&rec("r", "root")).unwrap();
        assert_eq!(store.owned_conversations("claude", "/w", "alice").unwrap(), ["a"]);
        assert!(store.owned_conversations("claude", "/x", "alice").unwrap().is_empty());
        assert!(store.owns_conversation("claude", "a", "alice").unwrap());
        assert!(!store.owns_conversation("claude", "r", "alice").unwrap());
        assert!(!store.owns_conversation("codex", "a", "alice").unwrap());
        assert!(store.conversation_claimed("claude", "r").unwrap());
        assert!(!store.conversation_claimed("claude", "zz").unwrap());
    }
}
