//! The per-session locks: one serializing changes to a session, one queueing its input; and
//! the prompts waiting their turn at that input (shown with the session's queue).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Mutex as AsyncMutex;

/// Owns, per session name, the async lock that serializes changes (create, edit, restart,
/// stop, remove) and the fair async lock that queues input (one whole prompt at a time, so
/// keystrokes of two senders never interleave).
///
/// Locks: `changes` and `inputs` (plain `Mutex`es) guard only the maps and are held just to
/// fetch or drop an entry; the per-session `AsyncMutex`es they hand out are what callers hold
/// across awaits.
#[derive(Debug, Default)]
pub(crate) struct Queues {
    changes: Mutex<HashMap<String, Arc<AsyncMutex<()>>>>,
    inputs: Mutex<HashMap<String, Arc<AsyncMutex<()>>>>,
    /// Prompts sent to be typed now that wait their turn, per session.
    waiting: Arc<Mutex<HashMap<String, Vec<Waiting>>>>,
    next: std::sync::atomic::AtomicU64,
}

/// Why a prompt sent to be typed now is not typed yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitReason {
    /// Another sender's prompt is being typed into the session.
    Behind,
    /// The agent is still starting; the prompt is held until it is ready.
    Starting,
}

/// A prompt waiting its turn: in memory only (its sender is still waiting for the answer),
/// listed with the session's queue, gone once it is typed or its sender gives up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    /// Unique in this daemon's life.
    pub id: u64,
    /// The text (to show; not editable: its sender holds it).
    pub text: String,
    /// When it was sent (unix ms).
    pub since: i64,
    /// Why it waits.
    pub reason: WaitReason,
}

/// A prompt's place among the waiting ones; leaving it (dropped) takes the prompt off.
pub(crate) struct WaitTicket {
    waiting: Arc<Mutex<HashMap<String, Vec<Waiting>>>>,
    name: String,
    id: u64,
}

impl WaitTicket {
    /// Says why the prompt waits now.
    pub fn set(&self, reason: WaitReason) {
        let mut map = self.waiting.lock().expect("waiting lock");
        if let Some(w) =
            map.get_mut(&self.name).and_then(|v| v.iter_mut().find(|w| w.id == self.id))
        {
            w.reason = reason;
        }
    }
}

impl Drop for WaitTicket {
    fn drop(&mut self) {
        let mut map = self.waiting.lock().expect("waiting lock");
        if let Some(list) = map.get_mut(&self.name) {
            list.retain(|w| w.id != self.id);
            if list.is_empty() {
                map.remove(&self.name);
            }
        }
    }
}

impl Queues {
    /// The lock serializing changes to one session.
    pub fn change(&self, name: &str) -> Arc<AsyncMutex<()>> {
        self.changes.lock().expect("locks lock").entry(name.to_owned()).or_default().clone()
    }

    /// The queue of one session's input: held for one whole prompt.
    pub fn input(&self, name: &str) -> Arc<AsyncMutex<()>> {
        self.inputs.lock().expect("inputs lock").entry(name.to_owned()).or_default().clone()
    }

    /// Puts a prompt for session `name` among the waiting ones until the ticket is dropped.
    pub fn wait(&self, name: &str, text: &str, reason: WaitReason) -> WaitTicket {
        let id = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        let w = Waiting { id, text: text.to_owned(), since: crate::time::now_ms(), reason };
        self.waiting.lock().expect("waiting lock").entry(name.to_owned()).or_default().push(w);
        WaitTicket { waiting: self.waiting.clone(), name: name.to_owned(), id }
    }

    /// The prompts waiting their turn at session `name`'s input, first first.
    pub fn waiting(&self, name: &str) -> Vec<Waiting> {
        self.waiting.lock().expect("waiting lock").get(name).cloned().unwrap_or_default()
    }

    /// How many prompts wait their turn at session `name`'s input.
    pub fn waiting_count(&self, name: &str) -> usize {
        self.waiting.lock().expect("waiting lock").get(name).map_or(0, Vec::len)
    }

    /// Drops both locks of a session gone or renamed (holders keep theirs until done).
    pub fn forget(&self, name: &str) {
        self.changes.lock().expect("locks lock").remove(name);
        self.inputs.lock().expect("inputs lock").remove(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_name_one_lock_until_forgotten() {
        let q = Queues::default();
        assert!(Arc::ptr_eq(&q.change("a"), &q.change("a")));
        assert!(Arc::ptr_eq(&q.input("a"), &q.input("a")));
        assert!(!Arc::ptr_eq(&q.change("a"), &q.change("b")));
        assert!(!Arc::ptr_eq(&q.change("a"), &q.input("a")), "input does not wait for changes");
        let (change, input) = (q.change("a"), q.input("a"));
        q.forget("a");
        assert!(!Arc::ptr_eq(&change, &q.change("a")));
        assert!(!Arc::ptr_eq(&input, &q.input("a")));
    }

    #[test]
    fn a_waiting_prompt_is_listed_until_its_ticket_goes() {
        let q = Queues::default();
        let first = q.wait("a", "one", WaitReason::Starting);
        let second = q.wait("a", "two", WaitReason::Behind);
        let texts = |q: &Queues| q.waiting("a").into_iter().map(|w| w.text).collect::<Vec<_>>();
        assert_eq!(texts(&q), ["one", "two"]);
        first.set(WaitReason::Behind);
        assert_eq!(q.waiting("a")[0].reason, WaitReason::Behind);
        drop(first);
        assert_eq!(texts(&q), ["two"]);
        drop(second);
        assert!(q.waiting("a").is_empty() && q.waiting.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_second_sender_waits_for_the_first() {
        let q = Queues::default();
        let queue = q.input("a");
        let turn = queue.lock().await;
        assert!(q.input("a").try_lock().is_err());
        drop(turn);
        assert!(q.input("a").try_lock().is_ok());
    }
}
