//! Notifications when a session's agent needs its person.
//!
//! [`Notifier::on_state`] receives every state change of every session and acts on the ones
//! worth telling someone about: `working` → `waiting` (a question, a permission) and
//! `working` → `idle` (done). Each is delivered, off the caller's task, on two channels:
//!
//! - **Web Push** (RFC 8030 delivery, RFC 8291 `aes128gcm` encryption, RFC 8292 VAPID) to the
//!   devices of every user who opted in to that session: its owner, or an admin who may see
//!   it. Devices and opt-ins live in the store (`push_subscriptions`, `push_sessions`); a
//!   device the push service calls gone (404/410) is forgotten.
//! - **The webhook** of the config (`notifications.webhook`), for scripts: the
//!   [`StateEvent`] as JSON, for every session, one attempt with a 5 s timeout.
//!
//! The VAPID key is made once and kept in the state dir (`vapid.key`, mode 0600).
//!
//! A service beside the session service, not HTTP: the daemon builds it and feeds it state
//! events; the server's `/api/push` routes check the caller and call it. Its own crate so the
//! domain crate stays free of an HTTP client and crypto (docs/DESIGN-NOTES.md).

mod http;
mod typed;
mod vapid;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Uri};
use llmux_api::{AgentState, StateEvent};
use llmux_core::config::NotificationsConfig;
use llmux_core::store::{PushSessionRecord, PushSubscriptionRecord, Store};
use llmux_core::{Error, Result};
use serde::Serialize;
use sha2::Digest as _;

use self::http::LazyClient;
use self::vapid::VapidKey;

/// How long a push service keeps a notification for an offline device.
const PUSH_TTL: Duration = Duration::from_secs(60 * 60);
/// How long one push may take.
const PUSH_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the webhook may take.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(5);
/// The VAPID subject when the config names none.
const DEFAULT_SUBJECT: &str = "mailto:llmux@localhost";
/// Longest accepted push endpoint URL.
const MAX_ENDPOINT_LEN: usize = 2048;
/// Longest device label, in characters.
const MAX_LABEL_CHARS: usize = 100;
/// Most devices one user may register.
const MAX_DEVICES_PER_USER: usize = 50;
/// The file holding the VAPID private key, in the state dir.
const VAPID_KEY_FILE: &str = "vapid.key";

/// Delivers notifications about sessions; cheap to clone (one `Arc`).
#[derive(Debug, Clone)]
pub struct Notifier {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Arc<Store>,
    vapid: VapidKey,
    subject: String,
    webhook: Option<Uri>,
    allow_loopback: bool,
    /// For pushes: endpoints come from browsers, so only public addresses are reached
    /// (unless `allowLoopbackPush`).
    push_http: LazyClient,
    /// For the webhook: the admin's own choice, which may well be on the local network.
    webhook_http: LazyClient,
    /// Every push since start, as [`Notifier::push_totals`] reports (metrics).
    totals: std::sync::Mutex<PushReport>,
}

/// What became of a batch of pushes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PushReport {
    /// Accepted by the push service.
    pub sent: u32,
    /// Refused or unreachable (kept: may work next time).
    pub failed: u32,
    /// Gone (404/410): the subscription was deleted.
    pub removed: u32,
}

/// The JSON a device receives (what the service worker shows).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PushPayload {
    /// Notification title (`qwen-1 is waiting: permission: touch`).
    pub title: String,
    /// Notification text.
    pub body: String,
    /// The session's name (empty for a test notification).
    pub session: String,
    /// The new state (`waiting`, `idle`; `test` for a test notification).
    pub state: String,
    /// Where a click leads (`/c/<name>`, the chat view, where a question can be answered).
    pub url: String,
}

impl PushPayload {
    /// The notification for a state change.
    pub fn for_event(ev: &StateEvent) -> PushPayload {
        let (title, body) = match ev.state {
            AgentState::Waiting => {
                let title = match ev.waiting_for.as_deref().filter(|w| !w.is_empty()) {
                    Some(what) => format!("{} is waiting: {what}", ev.name),
                    None => format!("{} is waiting", ev.name),
                };
                let body = match &ev.prompt {
                    Some(p) if !p.question.is_empty() => p.question.clone(),
                    _ => format!("{} needs you", ev.agent),
                };
                (title, body)
            }
            AgentState::Limited => (
                format!("{} hit its rate limit", ev.name),
                match &ev.resets_at {
                    Some(at) => format!("{} can go on at {at}", ev.agent),
                    None => format!("{} stopped at its usage limit", ev.agent),
                },
            ),
            _ if ev.previous == AgentState::Limited => (
                format!("{}'s rate limit has reset", ev.name),
                format!("{} is {} again", ev.agent, ev.state),
            ),
            _ => (
                format!("{} is {}", ev.name, ev.state),
                format!("{} finished and waits for your next prompt", ev.agent),
            ),
        };
        PushPayload {
            title: clip(&title, 120),
            body: clip(&body, 240),
            session: ev.name.clone(),
            state: ev.state.as_str().to_owned(),
            url: format!("/c/{}", ev.name),
        }
    }

    fn test() -> PushPayload {
        PushPayload {
            title: "llmux notifications work".into(),
            body: "This device will be told when an agent needs you.".into(),
            session: String::new(),
            state: "test".into(),
            url: "/".into(),
        }
    }
}

/// Whether a change is worth a notification: an agent that was working finished, or an agent
/// now waits for its person (from whatever it did before: a permission can pop up between two
/// screen reads, so `idle → waiting` counts too), or hit its rate limit, or its limit reset.
pub fn is_notable(ev: &StateEvent) -> bool {
    match ev.state {
        AgentState::Idle => matches!(ev.previous, AgentState::Working | AgentState::Limited),
        AgentState::Waiting => ev.previous != AgentState::Waiting,
        // the limit is reached (and, above, when it has reset: idle again)
        AgentState::Limited => ev.previous != AgentState::Limited,
        _ => false,
    }
}

impl Notifier {
    /// A notifier over `store`, with the VAPID key of `state_dir` (made there on first use)
    /// and the `notifications:` config. Fails on an unusable webhook URL, VAPID subject or
    /// key file.
    pub fn new(
        store: Arc<Store>,
        state_dir: &Path,
        config: &NotificationsConfig,
    ) -> Result<Notifier> {
        let webhook = config
            .webhook
            .as_deref()
            .map(str::trim)
            .filter(|w| !w.is_empty())
            .map(|w| {
                w.parse::<Uri>()
                    .ok()
                    .filter(|u| matches!(u.scheme_str(), Some("http" | "https")))
                    .filter(|u| u.host().is_some())
                    .ok_or_else(|| {
                        Error::invalid("notifications.webhook must be an http or https URL")
                    })
            })
            .transpose()?;
        let subject = config.vapid_subject.clone().unwrap_or_else(|| DEFAULT_SUBJECT.to_owned());
        if !(subject.starts_with("mailto:") || subject.starts_with("https://")) {
            return Err(Error::invalid(
                "notifications.vapidSubject must be a mailto: or https: URL",
            ));
        }
        let vapid = VapidKey::load_or_create(&state_dir.join(VAPID_KEY_FILE))?;
        Ok(Notifier {
            inner: Arc::new(Inner {
                store,
                vapid,
                subject,
                webhook,
                allow_loopback: config.allow_loopback_push,
                push_http: LazyClient::new(!config.allow_loopback_push),
                webhook_http: LazyClient::new(false),
                totals: std::sync::Mutex::new(PushReport::default()),
            }),
        })
    }

    /// Called for every state change; decides whether it is worth a notification
    /// ([`is_notable`]) and delivers it on every channel on a spawned task, so the caller
    /// never waits. Must be called inside a Tokio runtime (outside one it logs and drops).
    pub fn on_state(&self, ev: &StateEvent) {
        if !is_notable(ev) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(session.name = %ev.name, "notification dropped: no async runtime");
            return;
        };
        let this = self.clone();
        let ev = ev.clone();
        runtime.spawn(async move {
            this.deliver(&ev).await;
        });
    }

    /// Feeds every event from `events` (e.g. `SessionService::state_events()`) to
    /// [`Notifier::on_state`] until the sender is dropped. A receiver that fell behind logs how
    /// many events it missed and goes on.
    pub fn listen(
        &self,
        mut events: tokio::sync::broadcast::Receiver<std::sync::Arc<StateEvent>>,
    ) -> tokio::task::JoinHandle<()> {
        use tokio::sync::broadcast::error::RecvError;
        let this = self.clone();
        tokio::spawn(async move {
            loop {
                match events.recv().await {
                    Ok(ev) => this.on_state(&ev),
                    Err(RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "notifications fell behind the state events")
                    }
                    Err(RecvError::Closed) => break,
                }
            }
        })
    }

    /// Delivers one notable change on every channel and waits for it; returns what the pushes
    /// did. [`Notifier::on_state`] runs this on its own task.
    pub async fn deliver(&self, ev: &StateEvent) -> PushReport {
        let (report, ()) = tokio::join!(self.push_event(ev), self.webhook(ev));
        report
    }

    /// How many pushes were sent, failed and found gone since the daemon started (metrics).
    pub fn push_totals(&self) -> PushReport {
        *self.inner.totals.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The VAPID public key (base64url, uncompressed P-256 point) for `pushManager.subscribe`.
    pub fn vapid_public_key(&self) -> &str {
        self.inner.vapid.public_key()
    }

    async fn push_event(&self, ev: &StateEvent) -> PushReport {
        let urgency = if ev.state == AgentState::Waiting { "high" } else { "normal" };
        let report = self
            .push_followers(&ev.name, &ev.owner, urgency, |shown| {
                let mut ev = ev.clone();
                ev.name = shown.to_owned();
                PushPayload::for_event(&ev)
            })
            .await;
        tracing::debug!(session.name = %ev.name, ?report, "pushed a state change");
        report
    }

    /// Pushes to the devices of everyone who follows session `session` of `owner`: the
    /// payload `make` builds from the session's name in each recipient's own terms.
    async fn push_followers(
        &self,
        session: &str,
        owner: &str,
        urgency: &'static str,
        make: impl Fn(&str) -> PushPayload,
    ) -> PushReport {
        let (key, who) = (session.to_owned(), owner.to_owned());
        let targets = match self.blocking(move |s| s.push_targets(&key, &who)).await {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(error = %e, session.name = %session, "cannot read push targets");
                return PushReport::default();
            }
        };
        if targets.is_empty() {
            return PushReport::default();
        }
        // One topic per session: a device that was offline gets only the latest change.
        let topic = llmux_core::hex::encode(&sha2::Sha256::digest(session.as_bytes())[..16]);
        // Each recipient reads the session's name in its own terms (its own without a
        // suffix), as the API would show it: targets come ordered by username.
        let mut report = PushReport::default();
        let mut targets = targets.into_iter().peekable();
        while let Some(first) = targets.next() {
            let user = first.username.clone();
            let mut group = vec![first];
            while let Some(next) = targets.next_if(|t| t.username == user) {
                group.push(next);
            }
            let shown = match session.split_once(':') {
                // A fleet host's session on a hub (`host:name@hostuser`): its hub owner reads
                // it as their list shows it, without the host user's suffix; admins in full.
                Some((host, rest)) if user == owner => {
                    format!("{host}:{}", llmux_core::sessions::names::split(rest).0)
                }
                Some(_) => session.to_owned(),
                None => llmux_core::sessions::names::display(session, &user),
            };
            let payload = make(&shown);
            let part = self.push_all(group, &payload, urgency, Some(&topic)).await;
            report.sent += part.sent;
            report.failed += part.failed;
            report.removed += part.removed;
        }
        report
    }

    async fn webhook(&self, ev: &StateEvent) {
        let Some(url) = self.inner.webhook.clone() else { return };
        let body = serde_json::to_vec(ev).expect("a StateEvent serializes");
        let req = Request::post(url)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(hyper::header::USER_AGENT, concat!("llmux/", env!("CARGO_PKG_VERSION")))
            .body(Full::new(Bytes::from(body)))
            .expect("a POST with a parsed URL is a valid request");
        match http::send(&self.inner.webhook_http, req, WEBHOOK_TIMEOUT).await {
            Ok(status) if (200..300).contains(&status) => {
                tracing::debug!(session.name = %ev.name, status, "webhook delivered");
            }
            Ok(status) => {
                tracing::warn!(session.name = %ev.name, status, "the notification webhook refused")
            }
            Err(error) => {
                tracing::warn!(session.name = %ev.name, %error, "the notification webhook failed")
            }
        }
    }

    /// Pushes `payload` to each subscription, concurrently.
    async fn push_all(
        &self,
        subs: Vec<PushSubscriptionRecord>,
        payload: &PushPayload,
        urgency: &'static str,
        topic: Option<&str>,
    ) -> PushReport {
        let body = serde_json::to_vec(payload).expect("a payload serializes");
        let mut tasks = tokio::task::JoinSet::new();
        for sub in subs {
            let (this, body, topic) = (self.clone(), body.clone(), topic.map(str::to_owned));
            tasks.spawn(async move { this.push_one(&sub, body, urgency, topic.as_deref()).await });
        }
        let mut report = PushReport::default();
        while let Some(outcome) = tasks.join_next().await {
            match outcome {
                Ok(Outcome::Sent) => report.sent += 1,
                Ok(Outcome::Gone) => report.removed += 1,
                Ok(Outcome::Failed) | Err(_) => report.failed += 1,
            }
        }
        let mut totals = self.inner.totals.lock().unwrap_or_else(|e| e.into_inner());
        totals.sent = totals.sent.saturating_add(report.sent);
        totals.failed = totals.failed.saturating_add(report.failed);
        totals.removed = totals.removed.saturating_add(report.removed);
        drop(totals);
        report
    }

    async fn push_one(
        &self,
        sub: &PushSubscriptionRecord,
        body: Vec<u8>,
        urgency: &str,
        topic: Option<&str>,
    ) -> Outcome {
        // Checked again at delivery: a stored endpoint may predate a stricter rule.
        if let Err(error) = check_endpoint(&sub.endpoint, self.allows_loopback()) {
            tracing::warn!(push.id = %sub.id, %error, "not pushing to this device");
            return Outcome::Failed;
        }
        let req = match self.push_request(sub, body, urgency, topic) {
            Ok(req) => req,
            Err(error) => {
                tracing::warn!(push.id = %sub.id, %error, "cannot build a push");
                return Outcome::Failed;
            }
        };
        let id = sub.id.clone();
        match http::send(&self.inner.push_http, req, PUSH_TIMEOUT).await {
            Ok(status) if (200..300).contains(&status) => {
                let now = llmux_core::time::now_ms();
                if let Err(e) = self.blocking(move |s| s.touch_push_subscription(&id, now)).await {
                    tracing::warn!(error = %e, "cannot record a push delivery");
                }
                Outcome::Sent
            }
            Ok(status @ (404 | 410)) => {
                tracing::info!(push.id = %sub.id, user.id = %sub.username, status,
                    "push subscription gone; removed");
                if let Err(e) = self.blocking(move |s| s.remove_push_subscription(&id)).await {
                    tracing::warn!(error = %e, "cannot remove a push subscription");
                }
                Outcome::Gone
            }
            Ok(status) => {
                tracing::warn!(push.id = %sub.id, status, "the push service refused a push");
                Outcome::Failed
            }
            Err(error) => {
                tracing::warn!(push.id = %sub.id, %error, "push failed");
                Outcome::Failed
            }
        }
    }

    /// The encrypted, VAPID-signed request for one device.
    fn push_request(
        &self,
        sub: &PushSubscriptionRecord,
        body: Vec<u8>,
        urgency: &str,
        topic: Option<&str>,
    ) -> std::result::Result<Request<Full<Bytes>>, String> {
        let endpoint: Uri = sub.endpoint.parse().map_err(|_| "bad endpoint".to_owned())?;
        let (public, auth) = decode_keys(&sub.p256dh, &sub.auth).map_err(|e| e.to_string())?;
        let now_secs = llmux_core::time::now_ms() / 1000;
        let authorization =
            self.inner.vapid.authorization(&endpoint, &self.inner.subject, now_secs);
        let req = web_push_native::WebPushBuilder::new(
            endpoint,
            public,
            web_push_native::Auth::clone_from_slice(&auth),
        )
        .with_valid_duration(PUSH_TTL)
        .build(body)
        .map_err(|e| e.to_string())?;
        let (mut parts, body) = req.into_parts();
        let headers = &mut parts.headers;
        headers.insert(
            hyper::header::AUTHORIZATION,
            authorization.parse().map_err(|_| "bad authorization header".to_owned())?,
        );
        headers.insert("urgency", hyper::header::HeaderValue::from_static(urgency_value(urgency)));
        if let Some(topic) = topic {
            headers.insert("topic", topic.parse().map_err(|_| "bad topic".to_owned())?);
        }
        Ok(Request::from_parts(parts, Full::new(Bytes::from(body))))
    }

    // ---- what the `/api/push` routes call (they check who may; these check what) ----

    /// Whether `http://` loopback endpoints are accepted (config `allowLoopbackPush`).
    pub fn allows_loopback(&self) -> bool {
        self.inner.allow_loopback
    }

    /// Registers (or refreshes) a device of `username` after checking what the browser sent.
    pub async fn subscribe(
        &self,
        username: &str,
        endpoint: &str,
        p256dh: &str,
        auth: &str,
        label: &str,
    ) -> Result<PushSubscriptionRecord> {
        check_endpoint(endpoint, self.allows_loopback())?;
        decode_keys(p256dh, auth)?;
        let record = PushSubscriptionRecord {
            id: random_id(),
            username: username.to_owned(),
            endpoint: endpoint.to_owned(),
            p256dh: p256dh.trim_end_matches('=').to_owned(),
            auth: auth.trim_end_matches('=').to_owned(),
            label: clean_label(label),
            created_at: llmux_core::time::now_ms(),
            last_success_at: None,
        };
        self.blocking(move |s| {
            let existing = s.list_push_subscriptions(&record.username)?;
            if existing.len() >= MAX_DEVICES_PER_USER
                && !existing.iter().any(|e| e.endpoint == record.endpoint)
            {
                return Err(Error::Conflict(format!(
                    "at most {MAX_DEVICES_PER_USER} devices per user; remove one first"
                )));
            }
            s.upsert_push_subscription(&record)
        })
        .await
    }

    /// The devices of `username`.
    pub async fn subscriptions(&self, username: &str) -> Result<Vec<PushSubscriptionRecord>> {
        let username = username.to_owned();
        self.blocking(move |s| s.list_push_subscriptions(&username)).await
    }

    /// Forgets a device of `username`; [`Error::NotFound`] if it is not theirs.
    pub async fn unsubscribe(&self, username: &str, id: &str) -> Result<()> {
        let (username, id) = (username.to_owned(), id.to_owned());
        self.blocking(move |s| match s.delete_push_subscription(&username, &id)? {
            true => Ok(()),
            false => Err(Error::NotFound(format!("no push subscription {id:?}"))),
        })
        .await
    }

    /// The sessions `username` opted in to.
    pub async fn followed(&self, username: &str) -> Result<Vec<PushSessionRecord>> {
        let username = username.to_owned();
        self.blocking(move |s| s.list_push_sessions(&username)).await
    }

    /// Opts `username` in to `session`, owned by `owner` (access is checked by the caller).
    pub async fn follow(&self, username: &str, session: &str, owner: &str) -> Result<()> {
        let (u, n, o) = (username.to_owned(), session.to_owned(), owner.to_owned());
        let now = llmux_core::time::now_ms();
        self.blocking(move |s| s.set_push_session(&u, &n, &o, now)).await
    }

    /// Opts `username` out of `session` (idempotent).
    pub async fn unfollow(&self, username: &str, session: &str) -> Result<()> {
        let (u, n) = (username.to_owned(), session.to_owned());
        self.blocking(move |s| s.unset_push_session(&u, &n).map(drop)).await
    }

    /// Sends a test notification to every device of `username` and waits for the answers.
    pub async fn send_test(&self, username: &str) -> Result<PushReport> {
        let subs = self.subscriptions(username).await?;
        Ok(self.push_all(subs, &PushPayload::test(), "normal", None).await)
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let store = self.inner.store.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .unwrap_or_else(|e| Err(Error::io("store task failed", std::io::Error::other(e))))
    }
}

enum Outcome {
    Sent,
    Gone,
    Failed,
}

fn urgency_value(urgency: &str) -> &'static str {
    match urgency {
        "high" => "high",
        "low" => "low",
        "very-low" => "very-low",
        _ => "normal",
    }
}

/// Accepts `https://host/…` (no user info) on a public host, and `http://` loopback only when
/// allowed. An endpoint is a URL a browser hands us: the daemon must not be made to post to
/// its own network (names resolving there are refused at connect time, see [`http::Resolver`]).
fn check_endpoint(endpoint: &str, allow_loopback: bool) -> Result<()> {
    if endpoint.len() > MAX_ENDPOINT_LEN {
        return Err(Error::invalid(format!(
            "endpoint is longer than {MAX_ENDPOINT_LEN} characters"
        )));
    }
    let invalid = || Error::invalid("endpoint must be an https URL of a push service");
    let uri: Uri = endpoint.parse().map_err(|_| invalid())?;
    let authority = uri.authority().ok_or_else(invalid)?;
    if authority.as_str().contains('@') || authority.host().is_empty() {
        return Err(invalid());
    }
    let host = authority.host();
    let literal = host.trim_start_matches('[').trim_end_matches(']').parse::<std::net::IpAddr>();
    let local_name = host.eq_ignore_ascii_case("localhost")
        || host.to_ascii_lowercase().ends_with(".localhost")
        || !host.contains('.') && literal.is_err();
    let inward = local_name || literal.is_ok_and(|ip| !http::is_public(ip));
    match uri.scheme_str() {
        Some("https") if !inward || allow_loopback => Ok(()),
        Some("https") => Err(Error::invalid(
            "endpoint must be an https URL of a push service, not a local or private address",
        )),
        Some("http")
            if allow_loopback
                && matches!(authority.host(), "127.0.0.1" | "localhost" | "[::1]") =>
        {
            Ok(())
        }
        _ => Err(invalid()),
    }
}

/// Decodes a browser's `p256dh` (a P-256 point) and `auth` (16 bytes), base64url.
fn decode_keys(p256dh: &str, auth: &str) -> Result<(p256::PublicKey, [u8; 16])> {
    let decode = |text: &str| URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok();
    let public = decode(p256dh)
        .filter(|b| b.len() == 65)
        .and_then(|b| p256::PublicKey::from_sec1_bytes(&b).ok())
        .ok_or_else(|| {
            Error::invalid("keys.p256dh must be a base64url uncompressed P-256 public key")
        })?;
    let auth = decode(auth)
        .and_then(|b| <[u8; 16]>::try_from(b.as_slice()).ok())
        .ok_or_else(|| Error::invalid("keys.auth must be 16 bytes, base64url"))?;
    Ok((public, auth))
}

/// A label without control characters, at most [`MAX_LABEL_CHARS`].
fn clean_label(label: &str) -> String {
    let cleaned: String = label.chars().filter(|c| !c.is_control()).collect();
    clip(cleaned.trim(), MAX_LABEL_CHARS)
}

/// `text` cut to `max` characters (an ellipsis marks a cut).
fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max - 1).collect();
    out.push('…');
    out
}

fn random_id() -> String {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("the OS random number generator is available");
    llmux_core::hex::encode(&bytes)
}

#[cfg(test)]
mod tests;
