//! The live conversation id of each session, where llmux chose, resumed or adopted it.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::agents::Kind;
use crate::history;

/// Owns the map from session name to the conversation its agent is in now (loaded from the
/// store at start; the service writes the store, this is its in-memory copy).
///
/// Locks: `ids` (a `Mutex`) guards the map, held only inside one method.
#[derive(Debug, Default)]
pub(crate) struct ConversationIds {
    ids: Mutex<HashMap<String, String>>,
}

impl ConversationIds {
    pub fn new(ids: impl IntoIterator<Item = (String, String)>) -> ConversationIds {
        ConversationIds { ids: Mutex::new(ids.into_iter().collect()) }
    }

    pub fn get(&self, name: &str) -> Option<String> {
        self.lock().get(name).cloned()
    }

    pub fn set(&self, name: &str, id: &str) {
        self.lock().insert(name.to_owned(), id.to_owned());
    }

    pub fn remove(&self, name: &str) {
        self.lock().remove(name);
    }

    pub fn rename(&self, old: &str, new: &str) {
        let mut ids = self.lock();
        if let Some(id) = ids.remove(old) {
            ids.insert(new.to_owned(), id);
        }
    }

    /// The argv additions for a spawn of an agent of `kind`: resume `resume_from`, or start a
    /// fresh conversation with an id llmux chooses; the id is remembered as the session's
    /// (forgotten when the agent takes no id).
    pub fn spawn_args(&self, name: &str, kind: Kind, resume_from: Option<&str>) -> Vec<String> {
        let mut ids = self.lock();
        if let Some(id) = resume_from {
            if let Some(args) = kind.resume_args(id) {
                ids.insert(name.to_owned(), id.to_owned());
                return args;
            }
            return Vec::new();
        }
        let id = history::new_session_id();
        match kind.fresh_args(&id) {
            Some(args) if !id.is_empty() => {
                ids.insert(name.to_owned(), id);
                args
            }
            _ => {
                ids.remove(name);
                Vec::new()
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.ids.lock().expect("conversations lock")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_spawn_chooses_an_id_and_a_resume_keeps_its_own() {
        let claude = crate::agents::kind("claude").expect("claude is a kind");
        let ids = ConversationIds::default();
        let args = ids.spawn_args("a", claude, None);
        let chosen = ids.get("a").expect("llmux chose an id");
        assert!(args.iter().any(|a| a == &chosen), "{args:?} passes {chosen}");
        let resumed = "0b1d3c5e-1111-4222-8333-444455556666";
        let args = ids.spawn_args("a", claude, Some(resumed));
        assert!(args.iter().any(|a| a == resumed), "{args:?}");
        assert_eq!(ids.get("a").as_deref(), Some(resumed));
        ids.rename("a", "b");
        assert_eq!((ids.get("a"), ids.get("b").as_deref()), (None, Some(resumed)));
        ids.remove("b");
        assert_eq!(ids.get("b"), None);
    }

    #[test]
    fn an_agent_without_ids_forgets_the_old_one() {
        let ids = ConversationIds::new([("a".to_owned(), "old".to_owned())]);
        assert!(ids.spawn_args("a", crate::agents::unknown(), None).is_empty());
        assert_eq!(ids.get("a"), None);
    }
}
