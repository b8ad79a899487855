//! The live view: what tmux last said about every pane, and the session list built from it.
//!
//! Owns the panes (one `list-panes -a` per refresh), the generation counter that keys the
//! list cache, the change channel watchers wait on, and the cached list itself.
//!
//! Locks: `panes` (an `RwLock`) guards the pane map; `views` (a `Mutex`) guards the cached
//! list and the generation it was built at. Neither is held across an `.await`. Where the
//! service reads records and panes together it takes the records lock first, then `panes`.
//! The generation is an atomic; the change channel is a `watch` sender.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};

use llmux_api::SessionView;
use tokio::sync::watch;

use crate::tmux::PaneInfo;

/// Panes by session name, as of the last refresh (and the changes made since).
pub(super) type Panes = HashMap<String, PaneInfo>;

/// The live half of every session and the list cache keyed by its generation.
#[derive(Debug)]
pub(super) struct Live {
    panes: RwLock<Panes>,
    /// Bumped on every change and on activity: the key of `views`.
    generation: AtomicU64,
    changes: watch::Sender<u64>,
    /// The last list and the generation it was built at.
    views: Mutex<(u64, Arc<Vec<SessionView>>)>,
}

impl Default for Live {
    fn default() -> Self {
        Live {
            panes: RwLock::new(HashMap::new()),
            generation: AtomicU64::new(1),
            changes: watch::channel(0).0,
            views: Mutex::new((0, Arc::new(Vec::new()))),
        }
    }
}

impl Live {
    /// Replaces every pane with a fresh listing. Returns whether a session appeared, went,
    /// started or exited (watchers are told); activity alone only moves the generation.
    pub fn replace(&self, panes: Panes) -> bool {
        let changed = {
            let mut current = self.panes.write().expect("live lock");
            let changed = status_differs(&current, &panes);
            let activity = activity_differs(&current, &panes);
            *current = panes;
            if activity && !changed {
                self.generation.fetch_add(1, Ordering::Release);
            }
            changed
        };
        if changed {
            self.notify();
        }
        changed
    }

    /// Records a pane just spawned (watchers are told).
    pub fn insert(&self, name: &str, pane: PaneInfo) {
        self.panes.write().expect("live lock").insert(name.to_owned(), pane);
        self.notify();
    }

    /// Drops a killed session's pane (watchers are told when there was one).
    pub fn remove(&self, name: &str) {
        if self.panes.write().expect("live lock").remove(name).is_some() {
            self.notify();
        }
    }

    /// Whether tmux holds a session of that name, running or dead.
    pub fn contains(&self, name: &str) -> bool {
        self.panes.read().expect("live lock").contains_key(name)
    }

    /// The pid of the session's process while it runs.
    pub fn running_pid(&self, name: &str) -> Option<u32> {
        self.panes.read().expect("live lock").get(name).filter(|p| !p.dead).map(|p| p.pid)
    }

    /// Whether the session's process is alive.
    pub fn is_running(&self, name: &str) -> bool {
        self.running_pid(name).is_some()
    }

    /// Every pane, read-locked (take the records lock first where both are needed).
    pub fn panes(&self) -> RwLockReadGuard<'_, Panes> {
        self.panes.read().expect("live lock")
    }

    /// Bumps the generation and wakes watchers (records or live state changed).
    pub fn notify(&self) {
        self.generation.fetch_add(1, Ordering::Release);
        self.changes.send_modify(|n| *n += 1);
    }

    /// A number that changes whenever the list may answer differently.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// A receiver that wakes on every [`Live::notify`].
    pub fn watch(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// The list at the current generation: the cached one, or `build`'s (then cached).
    pub fn list_or(&self, build: impl FnOnce() -> Vec<SessionView>) -> Arc<Vec<SessionView>> {
        let generation = self.generation();
        if let Some(views) = self.cached(generation) {
            return views;
        }
        let views = Arc::new(build());
        self.keep(generation, views.clone());
        views
    }

    /// The cached list when it was built at `generation`.
    pub fn cached(&self, generation: u64) -> Option<Arc<Vec<SessionView>>> {
        let cached = self.views.lock().expect("views lock");
        (cached.0 == generation).then(|| cached.1.clone())
    }

    /// Keeps `views` as the list at `generation`.
    pub fn keep(&self, generation: u64, views: Arc<Vec<SessionView>>) {
        *self.views.lock().expect("views lock") = (generation, views);
    }
}

/// Whether any pane's last-activity second moved (shown as `activityAt`).
fn activity_differs(old: &Panes, new: &Panes) -> bool {
    new.iter().any(|(name, p)| old.get(name).is_none_or(|o| o.activity != p.activity))
}

/// Whether a session appeared, went, started, exited or got its exit status. tmux may show a
/// pane dead (its terminal closed) before it has reaped the process, with no status yet; the
/// status arriving one refresh later is a change too, or lists would go on without it.
fn status_differs(old: &Panes, new: &Panes) -> bool {
    old.len() != new.len()
        || new.iter().any(|(name, p)| {
            old.get(name).is_none_or(|o| {
                o.dead != p.dead || o.pid != p.pid || o.dead_status != p.dead_status
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(pid: u32, dead: bool, dead_status: Option<i32>, activity: i64) -> PaneInfo {
        PaneInfo {
            session: "a".into(),
            pid,
            dead,
            dead_status,
            activity,
            server: String::new(),
            confined: false,
        }
    }

    fn pane(dead: bool, dead_status: Option<i32>) -> Panes {
        HashMap::from([("a".to_owned(), info(7, dead, dead_status, 0))])
    }

    #[test]
    fn an_exit_status_arriving_after_the_pane_died_is_a_change() {
        assert!(status_differs(&pane(false, None), &pane(true, None)));
        assert!(status_differs(&pane(true, None), &pane(true, Some(3))));
        assert!(!status_differs(&pane(true, Some(3)), &pane(true, Some(3))));
    }

    #[test]
    fn activity_moves_the_generation_without_waking_watchers() {
        let live = Live::default();
        assert!(live.replace(pane(false, None)));
        let mut rx = live.watch();
        rx.mark_unchanged();
        let before = live.generation();
        let busier = HashMap::from([("a".to_owned(), info(7, false, None, 5))]);
        assert!(!live.replace(busier.clone()));
        assert!(live.generation() > before, "activityAt is in the list: rebuild it");
        assert!(!rx.has_changed().unwrap(), "activity is not a change watchers wait for");
        let same = live.generation();
        assert!(!live.replace(busier));
        assert_eq!(live.generation(), same, "nothing moved: the cached list stays");
    }

    #[test]
    fn the_cached_list_is_only_served_at_its_generation() {
        let live = Live::default();
        let generation = live.generation();
        assert!(live.cached(generation).is_none(), "nothing built yet");
        live.keep(generation, Arc::new(Vec::new()));
        assert!(live.cached(generation).is_some());
        live.notify();
        assert!(live.cached(live.generation()).is_none(), "a change invalidates it");
    }

    #[test]
    fn spawned_and_removed_panes_are_changes() {
        let live = Live::default();
        let mut rx = live.watch();
        live.insert("a", info(9, false, None, 0));
        assert!(rx.has_changed().unwrap());
        rx.mark_unchanged();
        assert_eq!(live.running_pid("a"), Some(9));
        assert!(live.is_running("a") && live.contains("a"));
        live.remove("a");
        assert!(rx.has_changed().unwrap());
        rx.mark_unchanged();
        live.remove("a");
        assert!(!rx.has_changed().unwrap(), "removing nothing changes nothing");
        assert!(!live.contains("a"));
    }
}
