//! Notifier tests: the RFC 8291 example, delivery to a local push service and webhook, and
//! input checks. Pushes are decrypted here with code independent of web-push-native.

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use aes_gcm::aead::{Aead as _, KeyInit as _};
use axum::http::HeaderMap;
use llmux_auth::store::{AuthStore, UserRecord};
use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::elliptic_curve::sec1::ToEncodedPoint as _;
use tokio::sync::mpsc;

use super::*;

// RFC 8291 Appendix A ("When I grow up, I want to be a watermelon"), base64url.
const RFC_PLAINTEXT: &[u8] = b"When I grow up, I want to be a watermelon";
const RFC_UA_PRIVATE: &str = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94";
const RFC_UA_PUBLIC: &str =
    "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
const RFC_AS_PUBLIC: &str =
    "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8";
const RFC_AUTH: &str = "BTBZMqHH6r4Tts7J_aSIgg";
const RFC_SALT: &str = "DGv6ra1nlYgDCS1FRnbzlw";
const RFC_ECDH_SECRET: &str = "kyrL1jIIOHEzg3sM2ZWRHDRB62YACZhhSlknJ672kSs";
const RFC_IKM: &str = "S4lYMb_L0FxCeq0WhDx813KgSYqU26kOyzWUdsXYyrg";
const RFC_CEK: &str = "oIhVW04MRdy2XN9CiKLxTg";
const RFC_NONCE: &str = "4h_95klXJ5E_qnoN";
const RFC_BODY: &str = "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN";

fn b64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).unwrap()
}

/// What decrypting an `aes128gcm` push body (RFC 8188 + RFC 8291) found.
struct Decrypted {
    ecdh_secret: Vec<u8>,
    ikm: Vec<u8>,
    cek: Vec<u8>,
    nonce: Vec<u8>,
    record_size: u32,
    sender_public: Vec<u8>,
    plaintext: Vec<u8>,
}

/// RFC 8291 §3.4 and RFC 8188 §2, by hand: the user agent's side.
fn decrypt(body: &[u8], ua_private: &p256::SecretKey, auth: &[u8]) -> Decrypted {
    use hkdf::Hkdf;
    use sha2::Sha256;
    let salt = &body[..16];
    let record_size = u32::from_be_bytes(body[16..20].try_into().unwrap());
    let idlen = body[20] as usize;
    let sender_public = body[21..21 + idlen].to_vec();
    let ciphertext = &body[21 + idlen..];
    assert!(ciphertext.len() <= record_size as usize, "one record");

    let as_public = p256::PublicKey::from_sec1_bytes(&sender_public).unwrap();
    let shared = p256::ecdh::diffie_hellman(ua_private.to_nonzero_scalar(), as_public.as_affine());
    let ecdh_secret = shared.raw_secret_bytes().to_vec();
    let ua_public = ua_private.public_key().to_encoded_point(false);
    let mut key_info = b"WebPush: info\0".to_vec();
    key_info.extend_from_slice(ua_public.as_bytes());
    key_info.extend_from_slice(&sender_public);
    let mut ikm = [0u8; 32];
    Hkdf::<Sha256>::new(Some(auth), &ecdh_secret).expand(&key_info, &mut ikm).unwrap();
    let prk = Hkdf::<Sha256>::new(Some(salt), &ikm);
    let mut cek = [0u8; 16];
    prk.expand(b"Content-Encoding: aes128gcm\0", &mut cek).unwrap();
    let mut nonce = [0u8; 12];
    prk.expand(b"Content-Encoding: nonce\0", &mut nonce).unwrap();
    let cipher = aes_gcm::Aes128Gcm::new_from_slice(&cek).unwrap();
    let mut padded =
        cipher.decrypt(aes_gcm::Nonce::from_slice(&nonce), ciphertext).expect("authentic");
    // the last record ends with the delimiter 0x02, then zero padding
    while padded.last() == Some(&0) {
        padded.pop();
    }
    assert_eq!(padded.pop(), Some(2), "last-record delimiter");
    Decrypted {
        ecdh_secret,
        ikm: ikm.to_vec(),
        cek: cek.to_vec(),
        nonce: nonce.to_vec(),
        record_size,
        sender_public,
        plaintext: padded,
    }
}

fn rfc_ua_private() -> p256::SecretKey {
    p256::SecretKey::from_slice(&b64(RFC_UA_PRIVATE)).unwrap()
}

#[test]
fn rfc8291_example_decrypts_to_its_plaintext_with_the_published_intermediates() {
    let body = b64(RFC_BODY);
    let ua = rfc_ua_private();
    assert_eq!(ua.public_key().to_encoded_point(false).as_bytes(), b64(RFC_UA_PUBLIC));
    let d = decrypt(&body, &ua, &b64(RFC_AUTH));
    assert_eq!(&body[..16], b64(RFC_SALT));
    assert_eq!(d.record_size, 4096);
    assert_eq!(d.sender_public, b64(RFC_AS_PUBLIC));
    assert_eq!(d.ecdh_secret, b64(RFC_ECDH_SECRET));
    assert_eq!(d.ikm, b64(RFC_IKM));
    assert_eq!(d.cek, b64(RFC_CEK));
    assert_eq!(d.nonce, b64(RFC_NONCE));
    assert_eq!(d.plaintext, RFC_PLAINTEXT);
    // and the crate we encrypt with reads the RFC's bytes the same way
    let auth = web_push_native::Auth::clone_from_slice(&b64(RFC_AUTH));
    assert_eq!(web_push_native::decrypt(body, &ua, &auth).unwrap(), RFC_PLAINTEXT);
}

#[test]
fn what_we_encrypt_decrypts_with_independent_code() {
    let dir = tempfile::tempdir().unwrap();
    let (notifier, _) = notifier(dir.path(), None);
    let ua = rfc_ua_private();
    let sub = record("https://push.example/x", RFC_UA_PUBLIC, RFC_AUTH);
    let req = notifier.push_request(&sub, RFC_PLAINTEXT.to_vec(), "high", None).unwrap();
    let body = futures_body(req.into_body());
    let d = decrypt(&body, &ua, &b64(RFC_AUTH));
    assert_eq!(d.plaintext, RFC_PLAINTEXT);
    assert_ne!(d.sender_public, b64(RFC_AS_PUBLIC), "a fresh sender key per message");
}

fn futures_body(body: Full<Bytes>) -> Vec<u8> {
    use http_body_util::BodyExt;
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    rt.block_on(body.collect()).unwrap().to_bytes().to_vec()
}

fn record(endpoint: &str, p256dh: &str, auth: &str) -> PushSubscriptionRecord {
    PushSubscriptionRecord {
        id: "s1".into(),
        username: "alice".into(),
        endpoint: endpoint.into(),
        p256dh: p256dh.into(),
        auth: auth.into(),
        label: String::new(),
        created_at: 1,
        last_success_at: None,
    }
}

/// A notifier over a fresh store with users `alice` and `bob` (not admins) and `root` (admin),
/// and alice's sessions `qwen-1` and `s` (in full, as stored: `qwen-1@alice`, `s@alice`).
fn notifier(state_dir: &Path, webhook: Option<String>) -> (Notifier, Arc<Store>) {
    let store = Arc::new(Store::open_in_memory().unwrap());
    for (name, admin) in [("alice", false), ("root", true), ("bob", false)] {
        store
            .insert_user(&UserRecord {
                username: name.into(),
                name: name.into(),
                passphrase_hash: "h".into(),
                admin,
                created_at: 1,
                updated_at: 1,
                ..Default::default()
            })
            .unwrap();
    }
    // the sessions the tests follow (an opt-in needs its session)
    for name in ["qwen-1@alice", "s@alice"] {
        store
            .insert_session(&llmux_core::store::SessionRecord {
                name: name.into(),
                agent: "qwen".into(),
                cwd: "/tmp".into(),
                flags: None,
                env: Default::default(),
                init_prompts: vec![],
                resume_from: None,
                owner: "alice".into(),
                parent: None,
                created_at: 1,
                updated_at: 1,
                started_at: 1,
            })
            .unwrap();
    }
    let config = NotificationsConfig {
        webhook,
        vapid_subject: Some("mailto:ops@example.com".into()),
        allow_loopback_push: true,
    };
    (Notifier::new(store.clone(), state_dir, &config).unwrap(), store)
}

/// One request a local server received.
#[derive(Debug)]
struct Received {
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

/// A local HTTP server answering every request with the status in the returned cell, and
/// reporting each request on the channel.
async fn local_server() -> (u16, Arc<AtomicU16>, mpsc::UnboundedReceiver<Received>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let status = Arc::new(AtomicU16::new(201));
    let answer = status.clone();
    let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let (tx, answer) = (tx.clone(), answer.clone());
        async move {
            let (parts, body) = req.into_parts();
            let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
            let _ = tx.send(Received {
                path: parts.uri.path().to_owned(),
                headers: parts.headers,
                body,
            });
            axum::http::StatusCode::from_u16(answer.load(Ordering::SeqCst)).unwrap()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (port, status, rx)
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Received>) -> Received {
    tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.expect("a request").unwrap()
}

fn event(name: &str, owner: &str, previous: AgentState, state: AgentState) -> StateEvent {
    StateEvent {
        name: name.into(),
        owner: owner.into(),
        agent: "qwen".into(),
        state,
        previous,
        since: "2026-11-27T06:00:00.000Z".into(),
        waiting_for: (state == AgentState::Waiting).then(|| "permission: touch".into()),
        prompt: (state == AgentState::Waiting).then(|| llmux_api::PendingPrompt {
            question: "Allow execution of: 'touch'?".into(),
            detail: String::new(),
            options: vec![],
        }),
        resets_at: None,
    }
}

/// A browser's key pair and auth secret, as `pushManager.subscribe` would make them.
fn browser() -> (p256::SecretKey, String, [u8; 16]) {
    let secret = loop {
        let mut b = [0u8; 32];
        getrandom::fill(&mut b).unwrap();
        if let Ok(key) = p256::SecretKey::from_slice(&b) {
            break key;
        }
    };
    let public = URL_SAFE_NO_PAD.encode(secret.public_key().to_encoded_point(false).as_bytes());
    let mut auth = [0u8; 16];
    getrandom::fill(&mut auth).unwrap();
    (secret, public, auth)
}

/// Checks `Authorization: vapid t=<JWT>, k=<key>`: the key is ours, the JWT is ES256 over
/// the endpoint's origin and verifies with that key.
fn check_vapid(value: &str, notifier: &Notifier, origin: &str) {
    let (t, k) = value.strip_prefix("vapid t=").unwrap().split_once(", k=").unwrap();
    assert_eq!(k, notifier.vapid_public_key());
    let (input, sig) = t.rsplit_once('.').unwrap();
    let key = VerifyingKey::from_sec1_bytes(&b64(k)).unwrap();
    key.verify(input.as_bytes(), &Signature::from_slice(&b64(sig)).unwrap()).expect("ES256");
    let claims: serde_json::Value =
        serde_json::from_slice(&b64(input.split_once('.').unwrap().1)).unwrap();
    assert_eq!(claims["aud"], origin);
    assert_eq!(claims["sub"], "mailto:ops@example.com");
    let exp = claims["exp"].as_i64().unwrap();
    let now = llmux_core::time::now_ms() / 1000;
    assert!(exp > now && exp <= now + 24 * 3600, "exp within 24 h: {exp}");
}

#[tokio::test]
async fn a_waiting_session_is_pushed_encrypted_and_signed_and_a_gone_device_is_forgotten() {
    let dir = tempfile::tempdir().unwrap();
    let (notifier, store) = notifier(dir.path(), None);
    let (port, status, mut rx) = local_server().await;
    let (ua, p256dh, auth) = browser();
    let endpoint = format!("http://127.0.0.1:{port}/push/alice-phone");
    let sub = notifier
        .subscribe("alice", &endpoint, &p256dh, &URL_SAFE_NO_PAD.encode(auth), "phone")
        .await
        .unwrap();
    notifier.follow("alice", "qwen-1@alice", "alice").await.unwrap();

    // not notable: nothing is sent
    let quiet = event("qwen-1@alice", "alice", AgentState::Idle, AgentState::Working);
    assert!(!is_notable(&quiet));
    // someone else's session of the same name: nobody opted in to that one
    let other = event("qwen-1@bob", "bob", AgentState::Working, AgentState::Waiting);
    assert_eq!(notifier.deliver(&other).await, PushReport::default());

    // alice is told about her own session by its short name
    let ev = event("qwen-1@alice", "alice", AgentState::Working, AgentState::Waiting);
    assert_eq!(notifier.deliver(&ev).await, PushReport { sent: 1, failed: 0, removed: 0 });
    let got = next(&mut rx).await;
    assert_eq!(got.path, "/push/alice-phone");
    let h = |name: &str| got.headers.get(name).unwrap().to_str().unwrap().to_owned();
    assert_eq!(h("content-encoding"), "aes128gcm");
    assert_eq!(h("ttl"), "3600");
    assert_eq!(h("urgency"), "high");
    assert_eq!(h("topic").len(), 32);
    check_vapid(&h("authorization"), &notifier, &format!("http://127.0.0.1:{port}"));
    let d = decrypt(&got.body, &ua, &auth);
    let payload: serde_json::Value = serde_json::from_slice(&d.plaintext).unwrap();
    assert_eq!(
        payload,
        serde_json::json!({
            "title": "qwen-1 is waiting: permission: touch",
            "body": "Allow execution of: 'touch'?",
            "session": "qwen-1",
            "state": "waiting",
            "url": "/c/qwen-1",
        })
    );
    let stored = store.get_push_subscription(&sub.id).unwrap().unwrap();
    assert!(stored.last_success_at.is_some());

    // idle: normal urgency
    let done = event("qwen-1@alice", "alice", AgentState::Working, AgentState::Idle);
    assert_eq!(notifier.deliver(&done).await.sent, 1);
    let got = next(&mut rx).await;
    assert_eq!(got.headers["urgency"], "normal");
    let payload: serde_json::Value =
        serde_json::from_slice(&decrypt(&got.body, &ua, &auth).plaintext).unwrap();
    assert_eq!(payload["title"], "qwen-1 is idle");

    // a refusal keeps the device; 410 Gone removes it
    status.store(500, Ordering::SeqCst);
    assert_eq!(notifier.deliver(&ev).await, PushReport { sent: 0, failed: 1, removed: 0 });
    next(&mut rx).await;
    assert!(store.get_push_subscription(&sub.id).unwrap().is_some());
    status.store(410, Ordering::SeqCst);
    assert_eq!(notifier.deliver(&ev).await, PushReport { sent: 0, failed: 0, removed: 1 });
    next(&mut rx).await;
    assert!(store.get_push_subscription(&sub.id).unwrap().is_none());
}

#[tokio::test]
async fn on_state_posts_notable_changes_to_the_webhook_without_waiting() {
    let dir = tempfile::tempdir().unwrap();
    let (port, _, mut rx) = local_server().await;
    let (notifier, _) = notifier(dir.path(), Some(format!("http://127.0.0.1:{port}/hook?k=s")));
    // not notable: nothing reaches the webhook
    notifier.on_state(&event("a", "", AgentState::Starting, AgentState::Idle));
    notifier.on_state(&event("a", "", AgentState::Waiting, AgentState::Working));
    // every user's session goes to the webhook, opted in or not
    let ev = event("bobs", "bob", AgentState::Working, AgentState::Waiting);
    notifier.on_state(&ev);
    let got = next(&mut rx).await;
    assert_eq!(got.path, "/hook");
    assert_eq!(got.headers["content-type"], "application/json");
    let sent: StateEvent = serde_json::from_slice(&got.body).unwrap();
    assert_eq!(sent, ev);
    assert!(rx.try_recv().is_err(), "only the notable change was sent");
}

#[tokio::test]
async fn listen_feeds_a_broadcast_of_state_events_to_on_state() {
    let dir = tempfile::tempdir().unwrap();
    let (port, _, mut rx) = local_server().await;
    let (notifier, _) = notifier(dir.path(), Some(format!("http://127.0.0.1:{port}/hook")));
    let (tx, events) = tokio::sync::broadcast::channel(16);
    let task = notifier.listen(events);
    let ev = event("s", "", AgentState::Working, AgentState::Idle);
    tx.send(std::sync::Arc::new(ev.clone())).unwrap();
    let sent: StateEvent = serde_json::from_slice(&next(&mut rx).await.body).unwrap();
    assert_eq!(sent, ev);
    drop(tx);
    tokio::time::timeout(Duration::from_secs(5), task).await.unwrap().unwrap();
}

#[tokio::test]
async fn an_unreachable_webhook_is_logged_not_retried() {
    let dir = tempfile::tempdir().unwrap();
    // a port nothing listens on
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (notifier, _) = notifier(dir.path(), Some(format!("http://127.0.0.1:{port}/")));
    let ev = event("a", "alice", AgentState::Working, AgentState::Idle);
    let report = tokio::time::timeout(Duration::from_secs(6), notifier.deliver(&ev)).await;
    assert_eq!(report.unwrap(), PushReport::default());
}

#[tokio::test]
async fn admins_who_opted_in_hear_about_others_sessions_and_tests_reach_only_mine() {
    let dir = tempfile::tempdir().unwrap();
    let (notifier, _) = notifier(dir.path(), None);
    let (port, _, mut rx) = local_server().await;
    for (user, path) in [("alice", "a"), ("root", "r"), ("bob", "b")] {
        let (_, p256dh, auth) = browser();
        let endpoint = format!("http://127.0.0.1:{port}/{path}");
        notifier
            .subscribe(user, &endpoint, &p256dh, &URL_SAFE_NO_PAD.encode(auth), "")
            .await
            .unwrap();
    }
    notifier.follow("root", "s@alice", "alice").await.unwrap();
    notifier.follow("bob", "s@alice", "alice").await.unwrap(); // the route would refuse this
    let ev = event("s@alice", "alice", AgentState::Working, AgentState::Waiting);
    assert_eq!(notifier.deliver(&ev).await.sent, 1);
    assert_eq!(next(&mut rx).await.path, "/r");

    assert_eq!(notifier.send_test("bob").await.unwrap().sent, 1);
    assert_eq!(next(&mut rx).await.path, "/b");
    assert!(rx.try_recv().is_err());
}

#[tokio::test]
async fn subscriptions_are_checked_and_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let (notifier, _) = notifier(dir.path(), None);
    let (_, p256dh, auth) = browser();
    let auth = URL_SAFE_NO_PAD.encode(auth);
    let bad = |e: Error| assert!(matches!(e, Error::Invalid(_)), "{e}");
    for endpoint in [
        "http://push.example/x",
        "ftp://push.example/x",
        "https://user@push.example/x",
        "/relative",
        "",
    ] {
        bad(notifier.subscribe("alice", endpoint, &p256dh, &auth, "").await.unwrap_err());
    }
    let long = format!("https://push.example/{}", "x".repeat(MAX_ENDPOINT_LEN));
    bad(notifier.subscribe("alice", &long, &p256dh, &auth, "").await.unwrap_err());
    let ok = "https://push.example/x";
    bad(notifier.subscribe("alice", ok, "AAAA", &auth, "").await.unwrap_err());
    bad(notifier.subscribe("alice", ok, &p256dh, "AAAA", "").await.unwrap_err());
    let label = format!("a\u{7}b{}", "c".repeat(300));
    let sub = notifier.subscribe("alice", ok, &p256dh, &auth, &label).await.unwrap();
    assert!(sub.label.starts_with("abc") && sub.label.chars().count() == MAX_LABEL_CHARS);
    // loopback http only with the flag
    assert!(check_endpoint("http://127.0.0.1:9/x", true).is_ok());
    assert!(check_endpoint("http://[::1]:9/x", true).is_ok());
    assert!(check_endpoint("http://localhost/x", true).is_ok());
    assert!(check_endpoint("http://127.0.0.1:9/x", false).is_err());
    // never the daemon's own network: private, loopback, link-local, tailnet, local names
    for inward in [
        "https://127.0.0.1/x",
        "https://10.0.0.7/x",
        "https://192.168.1.1:8443/x",
        "https://169.254.169.254/latest",
        "https://100.101.102.103/x",
        "https://[::1]/x",
        "https://[fd7a:115c:a1e0::1]/x",
        "https://[::ffff:10.0.0.1]/x",
        "https://localhost/x",
        "https://metadata/x",
        "https://a.localhost/x",
    ] {
        assert!(check_endpoint(inward, false).is_err(), "{inward}");
    }
    for public in
        ["https://fcm.googleapis.com/fcm/send/x", "https://8.8.8.8/x", "https://[2606:4700::1]/x"]
    {
        assert!(check_endpoint(public, false).is_ok(), "{public}");
    }
    // the same device again is the same subscription; the device count is capped
    assert_eq!(notifier.subscribe("alice", ok, &p256dh, &auth, "").await.unwrap().id, sub.id);
    for i in 1..MAX_DEVICES_PER_USER {
        let endpoint = format!("https://push.example/{i}");
        notifier.subscribe("alice", &endpoint, &p256dh, &auth, "").await.unwrap();
    }
    let err = notifier.subscribe("alice", "https://push.example/more", &p256dh, &auth, "").await;
    assert!(matches!(err, Err(Error::Conflict(_))));
    assert!(notifier.subscribe("alice", ok, &p256dh, &auth, "").await.is_ok(), "refresh");
    // only one's own devices can be removed
    assert!(matches!(notifier.unsubscribe("bob", &sub.id).await, Err(Error::NotFound(_))));
    notifier.unsubscribe("alice", &sub.id).await.unwrap();
}

#[test]
fn the_config_section_parses_and_bad_values_are_refused() {
    let config = llmux_core::config::parse(
        "notifications:\n  webhook: https://hooks.example/x?token=secret\n  vapidSubject: \
         mailto:me@example.com\n  allowLoopbackPush: true\n",
    )
    .unwrap();
    let n = &config.notifications;
    assert_eq!(n.webhook.as_deref(), Some("https://hooks.example/x?token=secret"));
    assert_eq!(n.vapid_subject.as_deref(), Some("mailto:me@example.com"));
    assert!(n.allow_loopback_push);
    let shown = format!("{n:?}");
    assert!(!shown.contains("secret") && shown.contains("https://hooks.example"), "{shown}");
    assert!(!llmux_core::config::parse("{}").unwrap().notifications.allow_loopback_push);

    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open_in_memory().unwrap());
    let with = |webhook: Option<&str>, subject: Option<&str>| NotificationsConfig {
        webhook: webhook.map(Into::into),
        vapid_subject: subject.map(Into::into),
        allow_loopback_push: false,
    };
    for config in
        [with(Some("not a url"), None), with(Some("ftp://x/"), None), with(None, Some("me"))]
    {
        assert!(Notifier::new(store.clone(), dir.path(), &config).is_err());
    }
    let n = Notifier::new(store, dir.path(), &with(Some(" "), None)).unwrap();
    assert!(n.inner.webhook.is_none());
    assert_eq!(n.inner.subject, DEFAULT_SUBJECT);
}

#[test]
fn titles_and_bodies_are_short() {
    let mut ev = event("s", "", AgentState::Working, AgentState::Waiting);
    ev.waiting_for = None;
    ev.prompt = None;
    let p = PushPayload::for_event(&ev);
    assert_eq!((p.title.as_str(), p.body.as_str()), ("s is waiting", "qwen needs you"));
    ev.prompt =
        Some(llmux_api::PendingPrompt { question: "é".repeat(1000), ..Default::default() });
    assert_eq!(PushPayload::for_event(&ev).body.chars().count(), 240);
}

/// A name that resolves only to the daemon's own network is not reached by the push client,
/// while the webhook client (an admin's choice) reaches it.
#[tokio::test]
async fn push_deliveries_reach_public_addresses_only() {
    let (port, _, mut rx) = local_server().await;
    let get = || {
        hyper::Request::get(format!("http://localhost:{port}/p"))
            .body(http_body_util::Full::new(Bytes::new()))
            .unwrap()
    };
    let refused = http::send(&http::LazyClient::new(true), get(), Duration::from_secs(5)).await;
    assert!(refused.as_ref().is_err_and(|e| e.contains("no public address")), "{refused:?}");
    assert!(rx.try_recv().is_err());
    assert_eq!(
        http::send(&http::LazyClient::new(false), get(), Duration::from_secs(5)).await,
        Ok(201)
    );
    assert_eq!(next(&mut rx).await.path, "/p");
}

#[tokio::test]
async fn an_after_limit_typing_is_pushed_to_followers_and_posted_to_the_webhook() {
    let dir = tempfile::tempdir().unwrap();
    let (push_port, _, mut pushes) = local_server().await;
    let (hook_port, _, mut hooks) = local_server().await;
    let (notifier, _) = notifier(dir.path(), Some(format!("http://127.0.0.1:{hook_port}/hook")));
    let (ua, p256dh, auth) = browser();
    let endpoint = format!("http://127.0.0.1:{push_port}/push/alice-phone");
    notifier
        .subscribe("alice", &endpoint, &p256dh, &URL_SAFE_NO_PAD.encode(auth), "phone")
        .await
        .unwrap();
    notifier.follow("alice", "s@alice", "alice").await.unwrap();
    let (tx, events) = tokio::sync::broadcast::channel(16);
    let task = notifier.listen_after_limit(events);
    let typed = llmux_core::sessions::AfterLimitTyped {
        name: "s@alice".into(),
        owner: "alice".into(),
        agent: "qwen".into(),
        text: "continue".into(),
        at: 1_796_385_600_000,
    };
    tx.send(typed).unwrap();
    let got = next(&mut pushes).await;
    assert_eq!(got.headers["urgency"], "normal");
    let payload: serde_json::Value =
        serde_json::from_slice(&decrypt(&got.body, &ua, &auth).plaintext).unwrap();
    assert_eq!(
        payload,
        serde_json::json!({
            "title": "s: its rate limit reset, and it goes on",
            "body": "Typed \"continue\" into qwen at 2026-12-04T12:00:00Z",
            "session": "s",
            "state": "afterLimitTyped",
            "url": "/c/s",
        })
    );
    let hook: serde_json::Value = serde_json::from_slice(&next(&mut hooks).await.body).unwrap();
    assert_eq!(hook["event"], "afterLimitTyped");
    assert_eq!((hook["name"].as_str(), hook["text"].as_str()), (Some("s@alice"), Some("continue")));
    drop(tx);
    tokio::time::timeout(Duration::from_secs(5), task).await.unwrap().unwrap();
}
