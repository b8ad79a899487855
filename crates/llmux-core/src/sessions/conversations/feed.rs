//! One reader per live transcript, shared by its viewers.
//!
//! `GET …/transcript/stream` used to re-read and re-parse the whole transcript every 500 ms
//! for every viewer. Now the first viewer of a session (per kind of viewer: the owner, or an
//! admin, who may be shown more, see [`SessionService::transcript`]) starts one reader task;
//! later viewers subscribe to it. The reader polls with a [`LiveTranscript`]: one `stat`
//! while nothing changed, only the appended lines when something did. It publishes the
//! serialized [`TranscriptResponse`] when that changed (at most about once a second while it
//! keeps changing: every event carries the whole transcript), and ends when its last viewer
//! leaves (or the session goes, which ends the viewers' streams).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, LazyLock, Mutex, Weak};
use std::time::{Duration, Instant};

use llmux_api::{TranscriptResponse, Turn};
use tokio::sync::watch;

use super::super::SessionService;
use crate::error::Result;
use crate::history::LiveTranscript;
use crate::history::markdown::rendered;

/// How often the reader looks at the file.
const TICK: Duration = Duration::from_millis(500);

/// The least time between two events (less a tick's jitter): a change after a quiet spell
/// goes out at the next tick, a steady stream of changes once a second.
const MIN_GAP: Duration = Duration::from_millis(900);

/// How often a session whose conversation is not known is looked at again (adoption, an
/// admin's newest-in-the-cwd): listing a cwd parses every transcript in it.
const RESOLVE_EVERY: Duration = Duration::from_secs(5);

/// The serialized `TranscriptResponse`, `None` until the first read.
pub type TranscriptFeed = watch::Receiver<Option<Arc<str>>>;

/// A turn and its JSON, by turn id.
type TurnCache = HashMap<String, (Turn, String)>;

/// (service, session name, whose view: `Some(owner)` or `None` for admins).
type Key = (usize, String, Option<String>);

struct Feed {
    tx: watch::Sender<Option<Arc<str>>>,
}

static FEEDS: LazyLock<Mutex<HashMap<Key, Arc<Feed>>>> = LazyLock::new(Default::default);

impl SessionService {
    /// Subscribes to the session's live transcript as a viewer with `mine` (see
    /// [`SessionService::transcript`]) sees it. The value is `None` until the first read;
    /// the channel closes when the session goes.
    pub fn transcript_feed(&self, name: &str, mine: Option<&str>) -> Result<TranscriptFeed> {
        self.record(name)?;
        let me = self.arc();
        let key: Key = (Arc::as_ptr(&me) as usize, name.to_owned(), mine.map(str::to_owned));
        let mut feeds = FEEDS.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(feed) = feeds.get(&key) {
            // A newcomer is owed the value already published, not only the next one.
            let mut rx = feed.tx.subscribe();
            rx.mark_changed();
            return Ok(rx);
        }
        let (tx, rx) = watch::channel(None);
        let feed = Arc::new(Feed { tx });
        feeds.insert(key.clone(), feed.clone());
        tokio::spawn(run(Arc::downgrade(&me), key, feed));
        Ok(rx)
    }
}

/// What the reader reads now.
struct Reader {
    /// The conversation shown (`None`: none), and its reader.
    live: Option<LiveTranscript>,
    /// When the conversation was last resolved by listing (unknown conversations only).
    resolved: Option<Instant>,
    /// Whether the agent has a history adapter.
    supported: bool,
    /// Whether a first value was published.
    published: bool,
    /// The JSON of each turn last published, by turn id.
    cache: TurnCache,
}

async fn run(service: Weak<SessionService>, key: Key, feed: Arc<Feed>) {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut reader = Some(Reader {
        live: None,
        resolved: None,
        supported: true,
        published: false,
        cache: TurnCache::new(),
    });
    let mut last: Option<Arc<str>> = None;
    let mut sent_at: Option<Instant> = None;
    loop {
        tick.tick().await;
        if !keep(&key, &feed) {
            return;
        }
        let Some(svc) = service.upgrade() else { return close(&key, &feed) };
        let Ok(record) = svc.record(&key.1) else { return close(&key, &feed) };
        if sent_at.is_some_and(|at| at.elapsed() < MIN_GAP) {
            // Each event carries the whole transcript: while it keeps changing, at most
            // one a second (what changed meanwhile comes with the next).
            continue;
        }
        let mine = key.2.clone();
        let taken = reader.take().expect("the reader is put back after each tick");
        let task = tokio::task::spawn_blocking(move || {
            let mut r = taken;
            let out = step(&svc, &record, mine.as_deref(), &mut r);
            (r, out)
        });
        let Ok((r, out)) = task.await else { return close(&key, &feed) };
        reader = Some(r);
        let json = match out {
            Ok(Some(json)) => json,
            Ok(None) => continue,
            Err(e) => {
                tracing::debug!(session.name = %key.1, error = %e, "transcript read failed");
                continue;
            }
        };
        if last.as_deref() != Some(json.as_str()) {
            let json: Arc<str> = json.into();
            last = Some(json.clone());
            sent_at = Some(Instant::now());
            feed.tx.send_replace(Some(json));
        }
    }
}

/// One tick: re-resolves the conversation if needed, polls it, and returns the new JSON
/// when something may have changed.
fn step(
    svc: &SessionService,
    record: &crate::store::SessionRecord,
    mine: Option<&str>,
    r: &mut Reader,
) -> Result<Option<String>> {
    // By the agent's kind, as `SessionService::transcript` does.
    let kind = svc.kind_of(&record.agent);
    let supported = kind.has_history();
    let mut changed = !r.published || supported != r.supported;
    r.supported = supported;
    if !supported {
        r.live = None;
        return json(r, changed);
    }
    // The session's own conversation is a map lookup; an unknown one needs a listing.
    let want = match svc.live_id(record) {
        Some(id) => Some(id),
        None if r.resolved.is_none_or(|at| at.elapsed() >= RESOLVE_EVERY) => {
            r.resolved = Some(Instant::now());
            svc.shown_conversation(record, mine)?
        }
        None => r.live.as_ref().map(|l| l.id().to_owned()),
    };
    let home = svc.agent_home(record);
    let same = |l: &LiveTranscript| Some(l.id()) == want.as_deref();
    if !r.live.as_ref().is_some_and(same) {
        r.live = want
            .map(|id| LiveTranscript::new(kind, &home, Path::new(&record.cwd), &id))
            .transpose()?;
        changed = true;
    }
    if let Some(live) = r.live.as_mut() {
        changed |= live.poll()?;
    }
    json(r, changed)
}

fn json(r: &mut Reader, changed: bool) -> Result<Option<String>> {
    if !changed {
        return Ok(None);
    }
    r.published = true;
    let (conversation_id, turns) = match &r.live {
        Some(l) if r.supported && l.found() => (Some(l.id().to_owned()), l.visible()),
        _ => (None, std::borrow::Cow::Borrowed(&[][..])),
    };
    let head = TranscriptResponse { supported: r.supported, conversation_id, turns: vec![] };
    Ok(Some(splice(&head, &turns, &mut r.cache)?))
}

/// Serializes `head` with `turns` (rendered: see [`rendered`]) as its turns, exactly as serde would, reusing the JSON of
/// every turn that is the same as at the last call (most of them: a transcript grows at its
/// end), so a change costs the new turns, not the whole transcript.
fn splice(head: &TranscriptResponse, turns: &[Turn], cache: &mut TurnCache) -> Result<String> {
    let err = |e| crate::error::Error::io("serialize a transcript", std::io::Error::other(e));
    let envelope = serde_json::to_string(head).map_err(err)?;
    let Some(open) = envelope.strip_suffix("[]}") else {
        // Not the shape expected (cannot happen while `turns` is the last field): no cache.
        let whole =
            TranscriptResponse { turns: turns.iter().map(rendered).collect(), ..head.clone() };
        return serde_json::to_string(&whole).map_err(err);
    };
    let mut out = String::with_capacity(cache.values().map(|(_, j)| j.len() + 1).sum::<usize>());
    out.push_str(open);
    out.push('[');
    let mut next = TurnCache::with_capacity(turns.len());
    for (i, turn) in turns.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        // An unchanged turn moves over (no copy); only new or changed ones are cloned, and
        // only they have their markdown rendered.
        let entry = match cache.remove(&turn.id) {
            Some((old, json)) if old == *turn => (old, json),
            _ => (turn.clone(), serde_json::to_string(&rendered(turn)).map_err(err)?),
        };
        out.push_str(&entry.1);
        next.insert(turn.id.clone(), entry);
    }
    out.push_str("]}");
    *cache = next;
    Ok(out)
}

/// Whether the reader still has viewers; when not, it leaves the registry (under its lock,
/// so a viewer arriving now starts a new reader instead of joining this one).
fn keep(key: &Key, feed: &Arc<Feed>) -> bool {
    let mut feeds = FEEDS.lock().unwrap_or_else(|e| e.into_inner());
    if feed.tx.receiver_count() > 0 {
        return true;
    }
    if feeds.get(key).is_some_and(|f| Arc::ptr_eq(f, feed)) {
        feeds.remove(key);
    }
    false
}

/// Leaves the registry; dropping the last sender ends the viewers' streams.
fn close(key: &Key, feed: &Arc<Feed>) {
    let mut feeds = FEEDS.lock().unwrap_or_else(|e| e.into_inner());
    if feeds.get(key).is_some_and(|f| Arc::ptr_eq(f, feed)) {
        feeds.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spliced_json_is_what_serde_writes() {
        let home =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/transcripts/claude/home");
        let cwd = std::path::Path::new("/tmp/agents-lab-hist/work-claude");
        let id = "4bb0e19f-e6c9-4bc5-a825-706d21c4f4e7";
        let claude = crate::agents::kind("claude").unwrap();
        let t = claude.transcript(&home, cwd, Some(id)).unwrap().unwrap();
        assert!(t.turns.len() > 3);
        let mut cache = TurnCache::new();
        let head =
            TranscriptResponse { supported: true, conversation_id: Some(id.into()), turns: vec![] };
        for n in [2, t.turns.len(), t.turns.len()] {
            let mut turns = t.turns[..n].to_vec();
            if n == t.turns.len() {
                // A turn changed in place: its JSON is not reused.
                turns[0].id.push('x');
            }
            let whole =
                TranscriptResponse { turns: turns.iter().map(rendered).collect(), ..head.clone() };
            let want = serde_json::to_string(&whole).unwrap();
            assert_eq!(splice(&head, &turns, &mut cache).unwrap(), want);
        }
        let none = TranscriptResponse { supported: false, conversation_id: None, turns: vec![] };
        assert_eq!(splice(&none, &[], &mut cache).unwrap(), serde_json::to_string(&none).unwrap());
    }
}
