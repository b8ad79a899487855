//! Login throttling, per username and per client, in memory.
//!
//! After [`FREE_FAILURES`] failures within [`WINDOW`], further attempts are refused with a delay
//! that doubles with every further failure (capped). Behind `tailscale serve` every client has
//! the same address, so the per-username limit must hold on its own; the per-client limit is
//! looser and only slows down spraying many usernames.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed in the window before delays start.
pub const FREE_FAILURES: usize = 5;
/// The window failures are counted in.
pub const WINDOW: Duration = Duration::from_secs(5 * 60);
const CLIENT_FREE_FAILURES: usize = 20;
const MAX_DELAY: Duration = Duration::from_secs(15 * 60);

/// A refusal: wait this long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    /// Seconds until the next attempt is allowed.
    pub retry_after: u64,
}

#[derive(Debug, Default)]
struct Entry {
    failures: Vec<Instant>,
    blocked_until: Option<Instant>,
}

/// Failure counters for usernames and clients.
#[derive(Debug, Default)]
pub struct Throttle {
    users: Mutex<HashMap<String, Entry>>,
    clients: Mutex<HashMap<String, Entry>>,
}

impl Throttle {
    /// Refuses an attempt while the username or the client is blocked.
    pub fn check(&self, username: &str, client: &str, now: Instant) -> Result<(), Throttled> {
        for (map, key) in [(&self.users, username), (&self.clients, client)] {
            let map = map.lock().expect("throttle lock");
            if let Some(until) = map.get(key).and_then(|e| e.blocked_until)
                && until > now
            {
                return Err(Throttled { retry_after: (until - now).as_secs().max(1) });
            }
        }
        Ok(())
    }

    /// Records a failure; blocks the key once it has too many in the window.
    pub fn fail(&self, username: &str, client: &str, now: Instant) {
        record(&self.users, username, FREE_FAILURES, now);
        record(&self.clients, client, CLIENT_FREE_FAILURES, now);
    }

    /// A success clears the username's failures.
    pub fn succeed(&self, username: &str) {
        self.users.lock().expect("throttle lock").remove(username);
    }
}

fn record(map: &Mutex<HashMap<String, Entry>>, key: &str, free: usize, now: Instant) {
    let mut map = map.lock().expect("throttle lock");
    if map.len() > 10_000 {
        // Bound memory under a spray of usernames: forget quiet entries.
        map.retain(|_, e| e.failures.last().is_some_and(|t| now.duration_since(*t) < WINDOW));
    }
    let entry = map.entry(key.to_owned()).or_default();
    entry.failures.retain(|t| now.duration_since(*t) < WINDOW);
    entry.failures.push(now);
    let over = entry.failures.len().saturating_sub(free);
    if over > 0 {
        let delay = Duration::from_secs(1u64 << (over - 1).min(10)).min(MAX_DELAY);
        entry.blocked_until = Some(now + delay);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_free_failures_then_growing_delays() {
        let t = Throttle::default();
        let now = Instant::now();
        for _ in 0..FREE_FAILURES {
            assert!(t.check("bob", "c", now).is_ok());
            t.fail("bob", "c", now);
        }
        assert!(t.check("bob", "c", now).is_ok(), "five failures are free");
        t.fail("bob", "c", now);
        assert_eq!(t.check("bob", "c", now), Err(Throttled { retry_after: 1 }));
        t.fail("bob", "c", now);
        t.fail("bob", "c", now);
        assert_eq!(
            t.check("bob", "other-client", now),
            Err(Throttled { retry_after: 4 }),
            "per username"
        );
        assert!(t.check("alice", "c", now).is_ok(), "other users are not blocked");
        assert!(t.check("bob", "c", now + Duration::from_secs(5)).is_ok(), "the delay passes");
        let later = now + WINDOW + Duration::from_secs(1);
        t.fail("bob", "c", later);
        assert!(t.check("bob", "c", later).is_ok(), "old failures leave the window");
    }

    #[test]
    fn the_client_limit_catches_username_spraying() {
        let t = Throttle::default();
        let now = Instant::now();
        for i in 0..=CLIENT_FREE_FAILURES {
            t.fail(&format!("user{i}"), "1.2.3.4", now);
        }
        assert!(t.check("fresh", "1.2.3.4", now).is_err());
        assert!(t.check("fresh", "5.6.7.8", now).is_ok());
    }
}
