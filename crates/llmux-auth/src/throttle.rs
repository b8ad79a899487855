//! Sign-in throttling per account and per device, in memory. Never per client address:
//! behind `tailscale serve` every client is 127.0.0.1, and a key shared by everyone lets one
//! client lock everyone out.
//!
//! A key is an account (`acct:<username>`, also for names that do not exist, so the answers
//! do not tell which do) or a device cookie (`dev:<id>`, a browser that signed in to that
//! account before). An attempt reserves its failure *before* the passphrase is hashed
//! ([`Throttle::begin`]) and only a success takes it back, so concurrent attempts cannot
//! slip past the limit; and a key has at most one attempt in flight. After [`FREE_FAILURES`]
//! failures within [`WINDOW`], further attempts are refused with a delay that doubles with
//! every further failure (capped).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed in the window before delays start.
pub const FREE_FAILURES: usize = 5;
/// The window failures are counted in.
pub const WINDOW: Duration = Duration::from_secs(5 * 60);
const MAX_DELAY: Duration = Duration::from_secs(15 * 60);
/// Failures remembered per key: enough to reach the longest delay.
const REMEMBERED: usize = FREE_FAILURES + 11;
/// Keys remembered; beyond, the quietest unblocked key is forgotten (see [`Throttle::begin`]).
const MAX_KEYS: usize = 10_000;

/// A refusal: wait this long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    /// Seconds until the next attempt is allowed.
    pub retry_after: u64,
}

#[derive(Debug, Default)]
struct Entry {
    failures: VecDeque<Instant>,
    blocked_until: Option<Instant>,
    in_flight: bool,
}

impl Entry {
    fn blocked_at(&self, now: Instant) -> Option<Instant> {
        self.blocked_until.filter(|until| *until > now)
    }
}

/// Failure counters for accounts and device cookies.
#[derive(Debug, Default)]
pub struct Throttle {
    entries: Mutex<HashMap<String, Entry>>,
}

/// An attempt in progress: it counts as a failure unless [`Attempt::succeed`] is called.
#[derive(Debug)]
pub struct Attempt<'a> {
    throttle: &'a Throttle,
    key: String,
    done: bool,
    reserved_at: Instant,
    blocked_before: Option<Instant>,
}

impl Attempt<'_> {
    /// The attempt never ran (the hashing queue was full): its reserved failure is taken
    /// back, so a busy daemon does not count against the account.
    pub fn cancel(mut self) {
        self.done = true;
        let mut entries = self.throttle.entries.lock().expect("throttle lock");
        if let Some(entry) = entries.get_mut(&self.key) {
            if let Some(i) = entry.failures.iter().rposition(|t| *t == self.reserved_at) {
                entry.failures.remove(i);
            }
            entry.blocked_until = self.blocked_before;
            entry.in_flight = false;
        }
    }

    /// The attempt succeeded: its key's failures are forgotten.
    pub fn succeed(mut self) {
        self.done = true;
        self.throttle.entries.lock().expect("throttle lock").remove(&self.key);
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if !self.done
            && let Some(entry) =
                self.throttle.entries.lock().expect("throttle lock").get_mut(&self.key)
        {
            entry.in_flight = false;
        }
    }
}

impl Throttle {
    /// Starts an attempt on `key`: refused while the key is blocked or already has an attempt
    /// in flight; otherwise its failure is recorded now (taken back by [`Attempt::succeed`]).
    pub fn begin(&self, key: &str, now: Instant) -> Result<Attempt<'_>, Throttled> {
        let mut entries = self.entries.lock().expect("throttle lock");
        if let Some(entry) = entries.get(key) {
            if let Some(until) = entry.blocked_at(now) {
                return Err(Throttled { retry_after: (until - now).as_secs().max(1) });
            }
            if entry.in_flight {
                return Err(Throttled { retry_after: 1 });
            }
        } else if entries.len() >= MAX_KEYS {
            make_room(&mut entries, now);
        }
        let entry = entries.entry(key.to_owned()).or_default();
        let blocked_before = entry.blocked_until;
        entry.failures.retain(|t| now.duration_since(*t) < WINDOW);
        if entry.failures.len() >= REMEMBERED {
            entry.failures.pop_front();
        }
        entry.failures.push_back(now);
        entry.in_flight = true;
        let over = entry.failures.len().saturating_sub(FREE_FAILURES);
        if over > 0 {
            let delay = Duration::from_secs(1u64 << (over - 1).min(10)).min(MAX_DELAY);
            entry.blocked_until = Some(now + delay);
        }
        Ok(Attempt {
            throttle: self,
            key: key.to_owned(),
            done: false,
            reserved_at: now,
            blocked_before,
        })
    }
}

/// Bounds memory under a spray of made-up names: forget keys with nothing in the window, then
/// the idle unblocked key whose last failure is oldest. Blocked keys go last, so a spray of
/// one failure per name cannot flush a real account's lockout.
fn make_room(entries: &mut HashMap<String, Entry>, now: Instant) {
    entries.retain(|_, e| {
        e.in_flight || e.failures.back().is_some_and(|t| now.duration_since(*t) < WINDOW)
    });
    if entries.len() < MAX_KEYS {
        return;
    }
    let victim = entries
        .iter()
        .filter(|(_, e)| !e.in_flight)
        .min_by_key(|(_, e)| {
            (e.blocked_at(now).is_some(), e.blocked_until, e.failures.back().copied())
        })
        .map(|(k, _)| k.clone());
    if let Some(key) = victim {
        entries.remove(&key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fail(t: &Throttle, key: &str, now: Instant) {
        drop(t.begin(key, now).expect("not throttled"));
    }

    #[test]
    fn five_free_failures_then_growing_delays() {
        let t = Throttle::default();
        let now = Instant::now();
        for _ in 0..FREE_FAILURES {
            fail(&t, "acct:bob", now);
        }
        // the sixth attempt still runs (and counts)
        fail(&t, "acct:bob", now);
        assert_eq!(t.begin("acct:bob", now).unwrap_err(), Throttled { retry_after: 1 });
        let later = now + Duration::from_secs(2);
        fail(&t, "acct:bob", later);
        assert_eq!(t.begin("acct:bob", later).unwrap_err(), Throttled { retry_after: 2 });
        assert!(t.begin("acct:alice", later).is_ok(), "other accounts are not blocked");
        assert!(t.begin("dev:123", later).is_ok(), "nor are device cookies");
        let much_later = later + WINDOW + Duration::from_secs(1);
        fail(&t, "acct:bob", much_later);
        assert!(t.begin("acct:bob", much_later).is_ok(), "old failures leave the window");
    }

    #[test]
    fn the_failure_is_reserved_before_the_work_and_one_attempt_runs_at_a_time() {
        let t = Throttle::default();
        let now = Instant::now();
        let first = t.begin("acct:bob", now).unwrap();
        assert_eq!(
            t.begin("acct:bob", now).unwrap_err(),
            Throttled { retry_after: 1 },
            "in flight"
        );
        drop(first);
        let held: Vec<_> = (0..4).map(|_| t.begin("acct:bob", now)).collect();
        assert_eq!(held.iter().filter(|a| a.is_ok()).count(), 1, "one at a time");
        drop(held);
        // two reserved so far; four more make six
        for _ in 0..4 {
            fail(&t, "acct:bob", now);
        }
        assert!(t.begin("acct:bob", now).is_err(), "six reserved failures block");
        // a success forgets them
        let t = Throttle::default();
        for _ in 0..4 {
            fail(&t, "acct:carol", now);
        }
        t.begin("acct:carol", now).unwrap().succeed();
        for _ in 0..FREE_FAILURES {
            fail(&t, "acct:carol", now);
        }
        // and an attempt that never ran is taken back
        t.begin("acct:carol", now).unwrap().cancel();
        t.begin("acct:carol", now).unwrap().cancel();
        assert!(t.begin("acct:carol", now).is_ok(), "cancelled attempts do not count");
    }

    #[test]
    fn a_spray_of_names_cannot_flush_a_lockout_or_grow_without_bound() {
        let t = Throttle::default();
        let now = Instant::now();
        for _ in 0..=FREE_FAILURES {
            fail(&t, "acct:alice", now);
        }
        for i in 0..MAX_KEYS + 50 {
            fail(&t, &format!("acct:made-up-{i}"), now);
        }
        assert!(t.entries.lock().unwrap().len() <= MAX_KEYS);
        assert!(t.begin("acct:alice", now).is_err(), "alice's lockout holds");
    }
}
