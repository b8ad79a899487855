//! The per-session locks: one serializing changes to a session, one queueing its input.

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
