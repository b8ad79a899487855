//! Conversation counts per (agent kind, HOME, cwd), for the list's `conversationCount`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::agents::Kind;

/// (agent kind, its HOME, cwd): what a conversation count is read for.
pub(crate) type CountKey = (Kind, PathBuf, String);

/// How long a count is used before it is read again.
const FRESH: Duration = Duration::from_secs(30);

/// Owns the last count read for each key and when it was read (or claimed for reading).
/// Reading is the caller's (it lists history files, off the runtime).
///
/// Locks: `counts` (a `Mutex`) guards the map, held only inside one method.
#[derive(Debug, Default)]
pub(crate) struct Counts {
    counts: Mutex<HashMap<CountKey, (Option<Instant>, u32)>>,
}

impl Counts {
    /// The last count read for `key` (0 until read).
    pub fn get(&self, key: &CountKey) -> u32 {
        self.counts.lock().expect("counts lock").get(key).map_or(0, |(_, n)| *n)
    }

    /// Of `keys`, those never read or read 30 s ago or more, claimed now so concurrent
    /// callers do not read them again.
    pub fn claim_stale(&self, keys: impl IntoIterator<Item = CountKey>) -> Vec<CountKey> {
        let mut counts = self.counts.lock().expect("counts lock");
        let mut stale = Vec::new();
        for key in keys {
            let entry = counts.entry(key.clone()).or_insert((None, 0));
            if entry.0.is_none_or(|at| at.elapsed() >= FRESH) {
                entry.0 = Some(Instant::now());
                if !stale.contains(&key) {
                    stale.push(key);
                }
            }
        }
        stale
    }

    /// Stores a count just read; true if it differs from the last one.
    pub fn set(&self, key: CountKey, n: u32) -> bool {
        let mut counts = self.counts.lock().expect("counts lock");
        let entry = counts.entry(key).or_insert((None, 0));
        let changed = entry.1 != n;
        *entry = (Some(Instant::now()), n);
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_count_is_claimed_once_until_it_goes_stale() {
        let counts = Counts::default();
        let key: CountKey = (crate::agents::unknown(), "/h".into(), "/p".into());
        assert_eq!(counts.get(&key), 0);
        assert_eq!(counts.claim_stale([key.clone(), key.clone()]), std::slice::from_ref(&key));
        assert!(counts.claim_stale([key.clone()]).is_empty(), "claimed: not read twice");
        assert!(counts.set(key.clone(), 3));
        assert!(!counts.set(key.clone(), 3));
        assert_eq!(counts.get(&key), 3);
        assert!(counts.claim_stale([key]).is_empty(), "fresh for 30 s");
    }
}
