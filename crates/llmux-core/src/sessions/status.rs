//! What each agent is doing: `starting`, `idle`, `working`, `waiting` or `exited`.
//!
//! Every refresh tick lists the panes (one control-mode `list-panes -a`). A pane's screen is
//! captured only when tmux reports activity on it since the last capture (`window_activity`,
//! whole seconds, so a pane is captured while its activity second is not older than the last
//! capture), never by polling every pane. The screen goes to the detector of the agent's kind
//! ([`crate::agents::Kind::detect`]); a kind's state file (Claude Code's) is read as well, and
//! wins where it says something. Agents without a detector (custom ones, the shell) fall back to activity:
//! `working` while the screen changes, `idle` once it has been still for [`SETTLE`].
//!
//! A session already running when the daemon starts (a restart) is not `starting`: it was
//! ready before, so its first track counts as ready and its state comes from its screen, or
//! from activity where the screen says nothing (a busy loop reads `working`).

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use llmux_api::{AgentState, Detection, PendingPrompt, StateEvent};
use tokio::sync::broadcast;

use super::SessionService;
use crate::agents::{FileState, Kind};
use crate::store::SessionRecord;
use crate::time::{now_ms, rfc3339_ms};
use crate::tmux::PaneInfo;

/// How long a screen must stay still before an agent without a detector counts as idle.
pub const SETTLE: Duration = Duration::from_millis(1500);

/// The state of one session's agent, with what the tracker needs to move it on.
#[derive(Debug, Clone)]
pub(crate) struct Track {
    pid: u32,
    /// The current state and when it was entered (unix ms).
    pub state: AgentState,
    pub since_ms: i64,
    pub waiting_for: Option<String>,
    pub prompt: Option<PendingPrompt>,
    /// Has the agent ever been ready (idle, working or waiting) since it was spawned?
    ready: bool,
    screen_hash: u64,
    /// When the screen last changed.
    changed_at: Instant,
    /// Unix second of the last capture: activity at or after it means "capture again".
    captured_sec: i64,
    /// Counts state changes: lets a waiter see that something happened.
    pub transitions: u64,
    /// The last rate-limit message seen on screen and when it resets (unix ms): the same
    /// message keeps the reset time read when it first appeared.
    pub limit: Option<(String, Option<i64>)>,
    /// The agent says it retries by itself after that limit (it goes on alone).
    pub limit_retrying: bool,
}

impl Track {
    fn new(pid: u32, state: AgentState) -> Track {
        Track {
            pid,
            state,
            since_ms: now_ms(),
            waiting_for: None,
            prompt: None,
            ready: false,
            screen_hash: 0,
            changed_at: Instant::now(),
            captured_sec: 0,
            transitions: 0,
            limit: None,
            limit_retrying: false,
        }
    }

    /// The first track of a pane: `starting`, and already ready if the pane was running
    /// before this daemon started (`adopted`).
    fn adopted(pid: u32, adopted: bool) -> Track {
        let mut track = Track::new(pid, AgentState::Starting);
        track.ready = adopted;
        track
    }

    /// Moves to `detection`; true if the state (or what it waits for) changed.
    fn enter(&mut self, detection: Detection) -> bool {
        let changed = self.state != detection.state || self.waiting_for != detection.waiting_for;
        if self.state != detection.state {
            self.since_ms = now_ms();
        }
        if changed {
            self.transitions += 1;
        }
        if matches!(detection.state, AgentState::Idle | AgentState::Working | AgentState::Waiting) {
            self.ready = true;
        }
        self.state = detection.state;
        self.waiting_for = detection.waiting_for;
        self.prompt = detection.prompt;
        changed
    }
}

/// Owns the track (state, timers, screen hash, last capture) of every session's agent, and
/// the broadcast channel state changes go out on. It decides; the service does the I/O
/// (captures screens, reads state files off the runtime) and hands the results in.
///
/// Locks: `tracks` (a `Mutex`) guards every track; it is held only inside one method, never
/// across an await, and taken after the service's records lock where both are held.
#[derive(Debug)]
pub(crate) struct Tracker {
    tracks: Mutex<HashMap<String, Track>>,
    /// Has a refresh run yet? The panes seen by the first one were running before this
    /// daemon started.
    observed: std::sync::atomic::AtomicBool,
    events: broadcast::Sender<Arc<StateEvent>>,
}

/// State events kept for slow receivers (the notifier, event streams) before they lag. Each
/// slot holds an `Arc` (~40 bytes with the channel's own fields), not the ~230-byte event:
/// tokio fills every slot when the channel is made, and 4,096 events inline were 1 MB of the
/// idle daemon's heap (issue 14, daemon memory).
const STATE_EVENTS_BUFFER: usize = 4096;

impl Default for Tracker {
    fn default() -> Self {
        Tracker {
            tracks: Mutex::new(HashMap::new()),
            observed: std::sync::atomic::AtomicBool::new(false),
            // Room for every session changing at once (1,000 sessions starting burst past 256
            // within one tick, and the notifier missed their changes): an event is ~200 bytes.
            events: broadcast::channel(STATE_EVENTS_BUFFER).0,
        }
    }
}

impl Tracker {
    pub fn get(&self, name: &str) -> Option<Track> {
        self.tracks.lock().expect("tracks lock").get(name).cloned()
    }

    /// Forgets a session (removed) or starts it over (respawned).
    pub fn reset(&self, name: &str) {
        self.tracks.lock().expect("tracks lock").remove(name);
    }

    pub fn rename(&self, old: &str, new: &str) {
        let mut tracks = self.tracks.lock().expect("tracks lock");
        if let Some(track) = tracks.remove(old) {
            tracks.insert(new.to_owned(), track);
        }
    }

    /// Every state change, as it happens.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<StateEvent>> {
        self.events.subscribe()
    }

    /// Sends changes out.
    pub fn publish(&self, changes: Vec<StateEvent>) {
        for change in changes {
            tracing::debug!(session.name = %change.name, state = %change.state, "state");
            let _ = self.events.send(Arc::new(change));
        }
    }

    /// Moves every session's track on after a refresh: a pane gone is `exited`, a new pid
    /// starts over, a still screen of an agent without a detector is `idle`. Returns the
    /// panes to capture now (activity since their last capture) and the changes made.
    /// `kind` resolves an agent key; `home` is the daemon's HOME (a session's `HOME` wins).
    pub fn observe(
        &self,
        records: &BTreeMap<String, SessionRecord>,
        live: &HashMap<String, PaneInfo>,
        kind: &dyn Fn(&str) -> Kind,
        home: &dyn Fn(&SessionRecord) -> PathBuf,
    ) -> (Vec<Due>, Vec<StateEvent>) {
        let mut due = Vec::new();
        let mut changes = Vec::new();
        let adopting = !self.observed.swap(true, std::sync::atomic::Ordering::AcqRel);
        let mut tracks = self.tracks.lock().expect("tracks lock");
        tracks.retain(|name, _| records.contains_key(name));
        for (name, record) in records.iter() {
            let pane = live.get(name).filter(|p| !p.dead);
            let Some(pane) = pane else {
                // Only a session seen running can exit; one being spawned has no track
                // yet (and the list shows a stopped one as exited anyway).
                if let Some(track) = tracks.get_mut(name) {
                    let previous = track.state;
                    if track.enter(Detection::state(AgentState::Exited)) {
                        changes.push(event(name, record, track, previous));
                    }
                    track.pid = 0;
                }
                continue;
            };
            let track =
                tracks.entry(name.clone()).or_insert_with(|| Track::adopted(pane.pid, adopting));
            if track.pid != pane.pid {
                let previous = track.state;
                *track = Track::new(pane.pid, AgentState::Starting);
                if previous != AgentState::Starting {
                    track.transitions = 1;
                    changes.push(event(name, record, track, previous));
                }
            }
            let quiet = track.changed_at.elapsed() >= SETTLE;
            let kind = kind(&record.agent);
            // A limit that has reset: read the screen again (it has not changed).
            let limit_over = track.state == AgentState::Limited
                && track.resets_at().is_some_and(|t| t <= now_ms());
            if track.captured_sec == 0 || pane.activity >= track.captured_sec || limit_over {
                due.push(Due { name: name.clone(), kind, home: home(record), pid: pane.pid });
            } else if quiet
                && (!kind.has_detector() || (track.ready && track.state == AgentState::Starting))
            {
                // No detector: a still screen means the agent is done (or ready).
                let previous = track.state;
                if matches!(previous, AgentState::Starting | AgentState::Working)
                    && track.screen_hash != 0
                    && track.enter(Detection::state(AgentState::Idle))
                {
                    changes.push(event(name, record, track, previous));
                }
            }
        }
        (due, changes)
    }

    /// The capture one session needs now, unless it has no track or has exited.
    pub fn due(&self, record: &SessionRecord, kind: Kind, home: PathBuf) -> Option<Due> {
        let tracks = self.tracks.lock().expect("tracks lock");
        let track = tracks.get(&record.name).filter(|t| t.state != AgentState::Exited)?;
        Some(Due { name: record.name.clone(), kind, home, pid: track.pid })
    }

    /// Moves one session's track on from a capture taken at `now_sec`: its `screen`, through
    /// the kind's detector, and its state file's word where it has one. Nothing happens if the
    /// pane was respawned meanwhile (another pid). Returns the change, if any.
    pub fn detect(
        &self,
        d: &Due,
        record: &SessionRecord,
        now_sec: i64,
        screen: &str,
        file_state: Option<FileState>,
    ) -> Option<StateEvent> {
        let mut tracks = self.tracks.lock().expect("tracks lock");
        let track = tracks.get_mut(&d.name)?;
        if track.pid != d.pid {
            return None;
        }
        track.captured_sec = now_sec;
        let hash = hash_of(screen);
        let screen_changed = hash != track.screen_hash;
        if screen_changed {
            track.screen_hash = hash;
            track.changed_at = Instant::now();
        }
        let previous = track.state;
        let next = match d.kind.detect(screen) {
            Some(mut seen) => {
                if let Some(file) = file_state {
                    seen = merge_state_file(seen, file);
                }
                if seen.state != AgentState::Starting || !track.ready {
                    Some(seen)
                } else if track.state == AgentState::Starting && screen_changed {
                    // Adopted at startup on a screen the detector does not know: activity.
                    Some(Detection::state(AgentState::Working))
                } else {
                    // An unrecognised screen after ready: keep what we knew.
                    None
                }
            }
            // No detector: a changing screen after the first one means work.
            None if screen_changed && track.ready => Some(Detection::state(AgentState::Working)),
            None => None,
        };
        let next = next?;
        // A limit's reset time can be read after the state changed (a capture taken while
        // the message was half drawn): that is news too, or clients keep "limited" without it.
        let resets_before = track.resets_at();
        let next = with_limit(track, next, screen);
        let changed = track.enter(next);
        (changed || track.resets_at() != resets_before)
            .then(|| event(&d.name, record, track, previous))
    }
}

/// The HOME an agent runs with: the session's `HOME`, else `default` (the daemon's).
pub(crate) fn agent_home(record: &SessionRecord, default: &Path) -> PathBuf {
    record.env.get("HOME").map(PathBuf::from).unwrap_or_else(|| default.to_owned())
}

/// One pane to capture this tick.
pub(crate) struct Due {
    name: String,
    /// The agent's kind: its detector and state file (borrowed ones for a custom agent).
    kind: Kind,
    home: PathBuf,
    pid: u32,
}

impl SessionService {
    /// Every state change, as it happens.
    pub fn state_events(&self) -> broadcast::Receiver<Arc<StateEvent>> {
        self.tracker.subscribe()
    }

    pub(crate) fn track(&self, name: &str) -> Option<Track> {
        self.tracker.get(name)
    }

    /// Moves every session's state on after a refresh: captures the panes with activity,
    /// runs their detectors, applies timers, and sends the changes out.
    pub(super) async fn observe(&self, live: &HashMap<String, PaneInfo>) {
        let now_sec = now_ms().div_euclid(1000);
        let (due, mut changes) = {
            let records = self.records.read().expect("records lock");
            self.tracker.observe(&records, live, &|a| self.kind_of(a), &|r| self.agent_home(r))
        };
        for d in due {
            if let Some(change) = self.capture_and_detect(&d, now_sec).await {
                changes.push(change);
            }
        }
        if !changes.is_empty() {
            self.notify();
            self.tracker.publish(changes);
        }
    }

    /// Captures one session's screen now and moves its state on (a prompt waiter does this
    /// every 50 ms for the one session it waits on, so the answer is not a tick late).
    pub(crate) async fn poke(&self, name: &str) {
        let due = {
            let records = self.records.read().expect("records lock");
            let Some(record) = records.get(name) else { return };
            let home = self.agent_home(record);
            let Some(due) = self.tracker.due(record, self.kind_of(&record.agent), home) else {
                return;
            };
            due
        };
        if let Some(change) = self.capture_and_detect(&due, now_ms().div_euclid(1000)).await {
            self.notify();
            self.tracker.publish(vec![change]);
        }
    }

    /// Captures the pane and reads the kind's state file (off the runtime: file reads block),
    /// then lets the tracker decide.
    async fn capture_and_detect(&self, d: &Due, now_sec: i64) -> Option<StateEvent> {
        let screen = match self.tmux_of(&d.name).screen(&d.name).await {
            Ok(screen) => screen,
            Err(e) => {
                tracing::debug!(session.name = %d.name, error = %e, "cannot capture pane");
                return None;
            }
        };
        let file_state = match d.kind.state_file() {
            Some(read) => {
                let (home, pid) = (d.home.clone(), d.pid);
                tokio::task::spawn_blocking(move || read(&home, pid)).await.ok().flatten()
            }
            None => None,
        };
        let records = self.records.read().expect("records lock");
        let record = records.get(&d.name)?;
        self.tracker.detect(d, record, now_sec, &screen, file_state)
    }

    /// The kind of an agent, resolved by the catalog (none for an agent no longer in it).
    pub(super) fn kind_of(&self, agent: &str) -> Kind {
        self.catalog.get(agent).map_or_else(crate::agents::unknown, |a| a.kind)
    }

    /// The HOME an agent runs with: its owner's sandbox HOME when it runs (or last ran)
    /// confined, else the session's `HOME`, else the daemon's.
    pub(crate) fn agent_home(&self, record: &SessionRecord) -> PathBuf {
        match self.sandbox_home(record) {
            Some(home) => home,
            None => agent_home(record, &self.opts.home),
        }
    }
}

/// `limited` instead of `idle` or `waiting` while the screen shows a rate-limit message that
/// has not reset (and instead of `working` while the agent says it retries after one);
/// remembers the message and its reset time in the track.
fn with_limit(track: &mut Track, seen: Detection, screen: &str) -> Detection {
    let working = seen.state == AgentState::Working;
    if !working
        && !matches!(seen.state, AgentState::Idle | AgentState::Waiting | AgentState::Limited)
    {
        return seen;
    }
    let now = now_ms();
    let limit = crate::detect::limit::read(screen, now);
    // A working screen: an agent that retries by itself (OpenCode) is limited; any other
    // limit message is an old one above new work, remembered as it was.
    if working && !limit.as_ref().is_some_and(|l| l.retrying) {
        return seen;
    }
    let Some(limit) = limit else {
        track.limit = None;
        track.limit_retrying = false;
        return seen;
    };
    track.limit_retrying = limit.retrying;
    // The same message keeps the reset time first read (read again later it would move to
    // "tomorrow"); a message first caught half drawn, with no time yet, takes it when read.
    let resets_at = match &track.limit {
        Some((text, Some(at))) if *text == limit.text => Some(*at),
        _ => limit.resets_at,
    };
    track.limit = Some((limit.text, resets_at));
    if resets_at.is_some_and(|t| t <= now) {
        return seen;
    }
    Detection { state: AgentState::Limited, ..seen }
}

impl Track {
    /// While `limited`: when the limit resets (unix ms), if known.
    pub fn resets_at(&self) -> Option<i64> {
        if self.state != AgentState::Limited {
            return None;
        }
        self.limit.as_ref().and_then(|(_, at)| *at)
    }
}

fn event(name: &str, record: &SessionRecord, track: &Track, previous: AgentState) -> StateEvent {
    StateEvent {
        name: name.to_owned(),
        owner: record.owner.clone(),
        agent: record.agent.clone(),
        state: track.state,
        previous,
        since: rfc3339_ms(track.since_ms),
        waiting_for: track.waiting_for.clone(),
        prompt: track.prompt.clone(),
        resets_at: track.resets_at().map(rfc3339_ms),
    }
}

fn hash_of(text: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    h.finish() | 1 // never 0: 0 means "not captured yet"
}

/// The state file decides busy/idle/waiting; the screen adds the question and its options.
fn merge_state_file(screen: Detection, file: FileState) -> Detection {
    match file.status.as_str() {
        "busy" if screen.state != AgentState::Waiting => Detection::state(AgentState::Working),
        "idle" if screen.state != AgentState::Waiting => Detection::state(AgentState::Idle),
        "waiting" => Detection {
            state: AgentState::Waiting,
            waiting_for: screen.waiting_for.or(file.waiting_for),
            prompt: screen.prompt,
        },
        _ => screen,
    }
}

#[cfg(test)]
mod tests;
