//! Notifications through the real daemon: the `/api/push` routes, a test push delivered to a
//! push endpoint on loopback, the device forgotten when the endpoint says 410, and the VAPID
//! key kept across restarts. (Encryption and `on_state` are tested in `llmux-notify`.)

use std::io::Write;
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use hyper::Method;
use serde_json::{Value, json};

use crate::harness::{Builder, TestDaemon, http::call_with, local, token, user};

/// The RFC 8291 example browser key and auth secret: a valid subscription.
const P256DH: &str =
    "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
const AUTH: &str = "BTBZMqHH6r4Tts7J_aSIgg";

/// A request the push service received: its head (request line and headers) and body.
type Pushed = (String, Vec<u8>);

/// A push service on loopback: answers every request with the status in the cell and
/// reports each request on the channel.
fn push_service() -> (u16, Arc<AtomicU16>, mpsc::Receiver<Pushed>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let status = Arc::new(AtomicU16::new(201));
    let answer = status.clone();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let (head, body) = crate::harness::http::read_request(&mut conn);
            let code = answer.load(Ordering::SeqCst);
            let _ =
                write!(conn, "HTTP/1.1 {code} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            let _ = tx.send((head, body));
        }
    });
    (port, status, rx)
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// A request over TCP with a bearer token from a phone's browser; returns (status, JSON body).
fn call(d: &TestDaemon, token: &str, method: &str, path: &str, body: Value) -> (u16, Value) {
    call_with(d, token, &[("User-Agent", "Phone Browser/1.0")], method, path, body)
}

/// A daemon that may push to loopback and posts state events to the webhook on `hook_port`.
fn with_hook(hook_port: u16) -> Builder {
    TestDaemon::builder().config(&format!(
        "notifications:\n  allowLoopbackPush: true\n  webhook: http://127.0.0.1:{hook_port}/hook\n"
    ))
}

#[tokio::test]
async fn devices_opt_ins_and_a_test_push_through_the_daemon() {
    let mut d = TestDaemon::start().await;
    let (_, vapid) = local(&d, Method::GET, "/api/push/vapid", json!(null)).await;
    let public_key = vapid["publicKey"].as_str().unwrap().to_owned();
    assert_eq!(public_key.len(), 87, "65 bytes, base64url");
    let key_file = d.paths.state_dir.join("vapid.key");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777, 0o600);

    // loopback push endpoints are accepted only when the config says so: restart with it
    let (port, status, pushes) = push_service();
    let endpoint = format!("http://127.0.0.1:{port}/push/alice-phone");
    d.add_config(
        "notifications:\n  allowLoopbackPush: true\n  vapidSubject: mailto:t@example.com\n",
    );
    d.restart().await;
    let (_, again) = local(&d, Method::GET, "/api/push/vapid", json!(null)).await;
    assert_eq!(again["publicKey"], public_key.as_str(), "the key survives a restart");

    user(&d, "alice", false).await;
    user(&d, "bob", false).await;
    let (alice, _) = token(&d, "alice", "user", None).await;
    let (alice_ro, _) = token(&d, "alice", "read-only", None).await;
    let (bob, _) = token(&d, "bob", "user", None).await;
    let body = json!({"agent": "fake", "name": "alice-s", "cwd": d.work()});
    assert_eq!(call(&d, &alice, "POST", "/api/sessions", body).0, 201);

    // the local operator has no devices
    let (code, res) = local(&d, Method::GET, "/api/push/subscriptions", json!(null)).await;
    assert_eq!((code, res["code"].as_str()), (400, Some("no_account")), "{res}");

    // add a device; the label defaults to the User-Agent
    let sub = json!({"endpoint": endpoint, "keys": {"p256dh": P256DH, "auth": AUTH}});
    assert_eq!(call(&d, &alice_ro, "POST", "/api/push/subscriptions", sub.clone()).0, 403);
    let (code, res) = call(&d, &alice, "POST", "/api/push/subscriptions", sub.clone());
    assert_eq!(code, 201, "{res}");
    let id = res["subscription"]["id"].as_str().unwrap().to_owned();
    assert_eq!(res["subscription"]["label"], "Phone Browser/1.0");
    let bad =
        json!({"endpoint": "http://push.example/x", "keys": {"p256dh": P256DH, "auth": AUTH}});
    let (code, res) = call(&d, &alice, "POST", "/api/push/subscriptions", bad);
    assert_eq!(code, 400, "{res}");
    assert!(res["error"].as_str().unwrap().contains("https"), "{res}");
    let (_, list) = call(&d, &alice_ro, "GET", "/api/push/subscriptions", json!(null));
    assert_eq!(list["subscriptions"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list["subscriptions"][0]["endpoint"], endpoint.as_str());
    let (_, list) = call(&d, &bob, "GET", "/api/push/subscriptions", json!(null));
    assert_eq!(list["subscriptions"], json!([]));
    assert_eq!(
        call(&d, &bob, "DELETE", &format!("/api/push/subscriptions/{id}"), json!(null)).0,
        404
    );

    // opt in to a session: only one's own (bob cannot tell alice's from a missing one)
    assert_eq!(call(&d, &bob, "PUT", "/api/push/sessions/alice-s", json!(null)).0, 404);
    assert_eq!(call(&d, &bob, "PUT", "/api/push/sessions/ghost", json!(null)).0, 404);
    assert_eq!(call(&d, &alice_ro, "PUT", "/api/push/sessions/alice-s", json!(null)).0, 403);
    assert_eq!(call(&d, &alice, "PUT", "/api/push/sessions/alice-s", json!(null)).0, 200);
    let (_, followed) = call(&d, &alice, "GET", "/api/push/sessions", json!(null));
    assert_eq!(followed["sessions"][0]["name"], "alice-s", "{followed}");
    assert_eq!(call(&d, &alice, "DELETE", "/api/push/sessions/alice-s", json!(null)).0, 200);
    let (_, followed) = call(&d, &alice, "GET", "/api/push/sessions", json!(null));
    assert_eq!(followed["sessions"], json!([]));

    // a test notification reaches the device, encrypted and VAPID-signed
    let (code, res) = call(&d, &alice, "POST", "/api/push/test", json!(null));
    assert_eq!((code, res["sent"].as_u64()), (200, Some(1)), "{res}");
    let (head, body) = pushes.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(head.starts_with("POST /push/alice-phone HTTP/1.1"), "{head}");
    assert_eq!(header(&head, "content-encoding"), Some("aes128gcm"));
    assert_eq!(header(&head, "ttl"), Some("3600"));
    let vapid = header(&head, "authorization").unwrap();
    assert!(vapid.starts_with("vapid t=ey") && vapid.ends_with(&format!(", k={public_key}")));
    assert!(body.len() > 86 + 16, "salt, record size, key id, key, ciphertext, tag");
    let (_, list) = call(&d, &alice, "GET", "/api/push/subscriptions", json!(null));
    assert!(list["subscriptions"][0]["lastSuccessAt"].is_string(), "{list}");

    // the push service says the device is gone: it is forgotten
    status.store(410, Ordering::SeqCst);
    let (_, res) = call(&d, &alice, "POST", "/api/push/test", json!(null));
    assert_eq!((res["sent"].as_u64(), res["removed"].as_u64()), (Some(0), Some(1)), "{res}");
    let (_, list) = call(&d, &alice, "GET", "/api/push/subscriptions", json!(null));
    assert_eq!(list["subscriptions"], json!([]));

    // and a removed device is removed
    assert_eq!(call(&d, &alice, "POST", "/api/push/subscriptions", sub).0, 201);
    let (_, list) = call(&d, &alice, "GET", "/api/push/subscriptions", json!(null));
    let id = list["subscriptions"][0]["id"].as_str().unwrap();
    let path = format!("/api/push/subscriptions/{id}");
    assert_eq!(call(&d, &alice, "DELETE", &path, json!(null)).0, 200);
    assert_eq!(call(&d, &alice, "DELETE", &path, json!(null)).0, 404);
}

/// A session of one's own goes working → idle and working → waiting: the opted-in device gets
/// a push and the configured webhook gets the state event, end to end through the daemon.
#[tokio::test]
async fn a_finished_or_waiting_agent_is_pushed_and_posted_to_the_webhook() {
    let (push_port, _, pushes) = push_service();
    let (hook_port, _, hooks) = push_service();
    let d = with_hook(hook_port).user("alice").start().await;
    let (alice, _) = token(&d, "alice", "user", None).await;
    let endpoint = format!("http://127.0.0.1:{push_port}/push/phone");
    let sub = json!({"endpoint": endpoint, "keys": {"p256dh": P256DH, "auth": AUTH}});
    assert_eq!(call(&d, &alice, "POST", "/api/push/subscriptions", sub).0, 201);
    let body =
        json!({"agent": "fakeq", "name": "aq", "cwd": d.work(), "env": {"FAKE_THINK_MS": "800"}});
    assert_eq!(call(&d, &alice, "POST", "/api/sessions", body).0, 201);
    assert_eq!(call(&d, &alice, "PUT", "/api/push/sessions/aq", json!(null)).0, 200);

    let (code, res) = call(
        &d,
        &alice,
        "POST",
        "/api/sessions/aq/send",
        json!({"prompt": "say hello", "wait": true}),
    );
    assert_eq!((code, res["state"].as_str()), (200, Some("idle")), "{res}");
    let (head, body) = pushes.recv_timeout(Duration::from_secs(10)).expect("a push for idle");
    assert!(head.starts_with("POST /push/phone "), "{head}");
    assert_eq!(header(&head, "urgency"), Some("normal"));
    assert!(!body.is_empty());
    let (head, body) = hooks.recv_timeout(Duration::from_secs(10)).expect("a webhook call");
    assert!(head.starts_with("POST /hook "), "{head}");
    let ev: Value = serde_json::from_slice(&body).unwrap();
    // the webhook is the operator's: it names alice's session in full
    assert_eq!((ev["name"].as_str(), ev["previous"].as_str()), (Some("aq@alice"), Some("working")));
    assert_eq!(ev["state"], "idle");

    // a permission question: urgent push, webhook says what for
    let prompt = json!({"prompt": "please run `touch n.txt`"});
    assert_eq!(call(&d, &alice, "POST", "/api/sessions/aq/send", prompt).0, 200);
    let (head, _) = pushes.recv_timeout(Duration::from_secs(15)).expect("a push for waiting");
    assert_eq!(header(&head, "urgency"), Some("high"));
    let (_, body) = hooks.recv_timeout(Duration::from_secs(10)).expect("a webhook call");
    let ev: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(ev["state"], "waiting", "{ev}");
    assert!(ev["waitingFor"].as_str().unwrap().starts_with("permission"), "{ev}");
}

/// A session of the local operator (started over the Unix socket, owner "") is an admin's to be
/// told about as if the admin owned it: an admin with a device who opted in to it gets the push
/// when it goes `waiting`; a non-admin with a device cannot opt in to it and gets nothing.
#[tokio::test]
async fn an_operator_session_waiting_is_pushed_to_an_admin_and_not_to_others() {
    let (push_port, _, pushes) = push_service();
    let (hook_port, _, hooks) = push_service();
    let d = with_hook(hook_port).admin("root").user("zed").start().await;
    let (root, _) = token(&d, "root", "admin", None).await;
    let (zed, _) = token(&d, "zed", "user", None).await;
    for (tok, who) in [(&root, "root"), (&zed, "zed")] {
        let endpoint = format!("http://127.0.0.1:{push_port}/push/{who}");
        let sub = json!({"endpoint": endpoint, "keys": {"p256dh": P256DH, "auth": AUTH}});
        assert_eq!(call(&d, tok, "POST", "/api/push/subscriptions", sub).0, 201);
    }
    // the local operator starts it on the box
    let body = json!({"agent": "fakeq", "name": "opq", "cwd": d.work()});
    let (code, res) = local(&d, Method::POST, "/api/sessions", body).await;
    assert_eq!(code, 201, "{res}");
    // the admin sees it by its bare name and opts in; the non-admin cannot even see it
    assert_eq!(call(&d, &root, "PUT", "/api/push/sessions/opq", json!(null)).0, 200);
    assert_eq!(call(&d, &zed, "PUT", "/api/push/sessions/opq", json!(null)).0, 404);
    let (_, followed) = call(&d, &root, "GET", "/api/push/sessions", json!(null));
    assert_eq!(followed["sessions"][0]["name"], "opq", "{followed}");

    // the operator's prompt asks a permission question: the session goes waiting
    let prompt = json!({"prompt": "please run `touch n.txt`"});
    let (code, res) = local(&d, Method::POST, "/api/sessions/opq/send", prompt).await;
    assert_eq!(code, 200, "{res}");
    let (_, body) = hooks.recv_timeout(Duration::from_secs(15)).expect("a webhook call");
    let ev: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!((ev["name"].as_str(), ev["owner"].as_str()), (Some("opq"), Some("")), "{ev}");
    assert_eq!(ev["state"], "waiting", "{ev}");
    let (head, body) = pushes.recv_timeout(Duration::from_secs(15)).expect("a push for the admin");
    assert!(head.starts_with("POST /push/root "), "{head}");
    assert_eq!(header(&head, "urgency"), Some("high"));
    assert!(!body.is_empty());
    // recipients are pushed to in username order and "root" < "zed": a push to zed's device
    // would have followed root's at once
    if let Ok((head, _)) = pushes.recv_timeout(Duration::from_secs(2)) {
        panic!("a push to someone other than the admin: {head}");
    }
}

/// Issue 19: when a session's after-limit text is typed after its rate limit reset, its
/// follower's device gets a push and the webhook says what was typed, after the limit's own
/// notifications (limited, then reset).
#[tokio::test]
async fn the_after_limit_typing_is_pushed_and_posted_to_the_webhook() {
    let (push_port, _, pushes) = push_service();
    let (hook_port, _, hooks) = push_service();
    let d = with_hook(hook_port).user("alice").start().await;
    let (alice, _) = token(&d, "alice", "user", None).await;
    let endpoint = format!("http://127.0.0.1:{push_port}/push/phone");
    let sub = json!({"endpoint": endpoint, "keys": {"p256dh": P256DH, "auth": AUTH}});
    assert_eq!(call(&d, &alice, "POST", "/api/push/subscriptions", sub).0, 201);
    let body = json!({"agent": "fakeq", "name": "aq", "cwd": d.work(), "afterLimit": "continue"});
    assert_eq!(call(&d, &alice, "POST", "/api/sessions", body).0, 201);
    assert_eq!(call(&d, &alice, "PUT", "/api/push/sessions/aq", json!(null)).0, 200);
    let hi = json!({"prompt": "hi", "wait": true});
    let (code, res) = call(&d, &alice, "POST", "/api/sessions/aq/send", hi);
    assert_eq!((code, res["state"].as_str()), (200, Some("idle")), "{res}");
    let (code, res) =
        call(&d, &alice, "POST", "/api/sessions/aq/send", json!({"prompt": "please limit 2"}));
    assert_eq!(code, 200, "{res}");
    // the webhook hears: limited, the reset, then what was typed
    let mut seen = Vec::new();
    let typed = loop {
        let Ok((_, body)) = hooks.recv_timeout(Duration::from_secs(20)) else {
            panic!("no afterLimitTyped webhook call after {seen:?}\n{}", d.log());
        };
        let ev: Value = serde_json::from_slice(&body).unwrap();
        if ev["event"] == "afterLimitTyped" {
            break ev;
        }
        seen.push(format!(
            "{}→{}",
            ev["previous"].as_str().unwrap(),
            ev["state"].as_str().unwrap()
        ));
    };
    assert_eq!(
        (typed["name"].as_str(), typed["text"].as_str()),
        (Some("aq@alice"), Some("continue"))
    );
    assert!(typed["at"].as_str().is_some_and(|t| t.ends_with('Z')), "{typed}");
    let limited = seen.iter().position(|s| s.ends_with("→limited"));
    let reset = seen.iter().position(|s| s.starts_with("limited→"));
    assert!(limited.is_some() && reset > limited, "{seen:?}");
    // a push for each of those (and the first reply's idle)
    let mut count = 0;
    while pushes.recv_timeout(Duration::from_secs(5)).is_ok() {
        count += 1;
        if count == seen.len() + 1 {
            break;
        }
    }
    assert_eq!(count, seen.len() + 1, "a push per notable change and one for the typing: {seen:?}");
}
