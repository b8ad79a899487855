//! One reader per live transcript, shared by its viewers.
//!
//! `GET …/transcript/stream` used to re-read and re-parse the whole transcript every 500 ms
//! for every viewer. Now the first viewer of a session (per kind of viewer: the owner, or an
//! admin, who may be shown more, see [`SessionService::transcript`]) starts one reader task;
//! later viewers subscribe to it. The reader polls with a [`LiveTranscript`]: one `stat`
//! while nothing changed, only the appended lines when something did. It publishes the
//! serialized [`TranscriptResponse`] when that changed, and ends when its last viewer leaves
//! (or the session goes, which ends the viewers' streams).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, LazyLock, Mutex, Weak};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::super::SessionService;
use crate::api::TranscriptResponse;
use crate::error::Result;
use crate::history::{self, LiveTranscript};

/// How often the reader looks at the file.
const TICK: Duration = Duration::from_millis(500);

/// How often a session whose conversation is not known is looked at again (adoption, an
/// admin's newest-in-the-cwd): listing a cwd parses every transcript in it.
const RESOLVE_EVERY: Duration = Duration::from_secs(5);

/// The serialized `TranscriptResponse`, `None` until the first read.
pub type TranscriptFeed = watch::Receiver<Option<Arc<str>>>;

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
            return Ok(feed.tx.subscribe());
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
}

async fn run(service: Weak<SessionService>, key: Key, feed: Arc<Feed>) {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut reader = Some(Reader { live: None, resolved: None, supported: true, published: false });
    let mut last: Option<u64> = None;
    loop {
        tick.tick().await;
        if !keep(&key, &feed) {
            return;
        }
        let Some(svc) = service.upgrade() else { return close(&key, &feed) };
        let Ok(record) = svc.record(&key.1) else { return close(&key, &feed) };
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
        let hash = fingerprint(&json);
        if last != Some(hash) {
            last = Some(hash);
            feed.tx.send_replace(Some(json.into()));
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
    let kind = svc.detector_of(&record.agent);
    let supported = history::supported(&kind);
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
            .map(|id| LiveTranscript::new(&kind, &home, Path::new(&record.cwd), &id))
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
    let t = match &r.live {
        _ if !r.supported => {
            TranscriptResponse { supported: false, conversation_id: None, turns: vec![] }
        }
        Some(l) if l.found() => TranscriptResponse {
            supported: true,
            conversation_id: Some(l.id().to_owned()),
            turns: l.turns(),
        },
        _ => TranscriptResponse { supported: true, conversation_id: None, turns: vec![] },
    };
    Ok(Some(
        serde_json::to_string(&t)
            .map_err(|e| crate::error::Error::io("serialize", std::io::Error::other(e)))?,
    ))
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

fn fingerprint(text: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
}
