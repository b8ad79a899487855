//! Attacks: signin (see the table in the parent module).
//!
//! The review locked every user out of sign-in with bad logins from one client (the throttle
//! keyed everyone as `"local"`), blew the daemon up to 4 GB with 200 concurrent wrong logins
//! (every one was hashed), and wrote a 400,000-byte username with terminal escapes into the
//! audit log. Here: sprays that must not stop another account, a locked account's owner
//! getting in with the device cookie of an earlier sign-in, a burst that gets fast refusals
//! while another user signs in, and usernames capped and escaped before they are stored.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use hyper::Method;
use serde_json::{Value, json};

use crate::harness::{TestDaemon, http_to, local};

/// A sign-in over TCP with optional extra cookies; (status, whole response).
fn login(port: u16, username: &str, passphrase: &str, cookie: Option<&str>) -> (u16, String) {
    let body = json!({"username": username, "passphrase": passphrase}).to_string();
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(c) = cookie {
        headers.push(("Cookie", c));
    }
    http_to(port, "POST", "/api/auth/login", &headers, &body)
}

/// The `name=value` of the `Set-Cookie` whose name starts with `prefix`, and its whole line.
fn set_cookie(res: &str, prefix: &str) -> Option<(String, String)> {
    let line = res.lines().find(|l| {
        l.to_ascii_lowercase().starts_with("set-cookie:")
            && l.split_once(':').unwrap().1.trim().starts_with(prefix)
    })?;
    let pair = line.split_once(':').unwrap().1.trim().split(';').next().unwrap().to_owned();
    Some((pair, line.to_owned()))
}

/// Alice signs in once from "her browser"; returns its device cookie (`name=value`).
fn device_cookie_of(port: u16, username: &str) -> String {
    let (status, res) = login(port, username, &format!("{username}-passphrase"), None);
    assert_eq!(status, 200, "{res}");
    let (cookie, line) =
        set_cookie(&res, &format!("llmux_device_{username}=")).expect("a device cookie");
    for flag in ["HttpOnly", "Path=/api/auth", "SameSite=Strict", "Max-Age="] {
        assert!(line.contains(flag), "{flag} missing: {line}");
    }
    cookie
}

fn made_up(i: usize) -> String {
    format!("ghost{}-{i}", std::process::id())
}

#[tokio::test]
async fn failures_against_made_up_names_and_alice_never_stop_bob() {
    let d = TestDaemon::builder().user("alice").user("bob").start().await;
    // more failures than the old per-client limit (20), all from one address
    for i in 0..25 {
        assert_eq!(login(d.port, &made_up(i), "guess", None).0, 401, "made-up name {i}");
    }
    for _ in 0..8 {
        let status = login(d.port, "alice", "guess", None).0;
        assert!(matches!(status, 401 | 429), "{status}");
    }
    let (status, res) = login(d.port, "bob", "bob-passphrase", None);
    assert_eq!(status, 200, "bob signs in at once: {res}");
}

#[tokio::test]
async fn a_locked_out_account_lets_its_owner_in_from_a_browser_that_signed_in_before() {
    let d = TestDaemon::builder().user("alice").start().await;
    let device = device_cookie_of(d.port, "alice");
    // eight counted failures: the lockout is then 4 s and growing (refused attempts while
    // locked do not count, so wait them out)
    let mut counted = 0;
    while counted < 8 {
        match login(d.port, "alice", "guess", None).0 {
            401 => counted += 1,
            429 => std::thread::sleep(std::time::Duration::from_millis(200)),
            other => panic!("{other}"),
        }
    }
    // a browser without her device cookie is held by the lockout, even with the passphrase
    let (status, res) = login(d.port, "alice", "alice-passphrase", None);
    assert_eq!(status, 429, "{res}");
    assert!(res.to_ascii_lowercase().contains("retry-after: "), "{res}");
    // someone else's device cookie, or a forged one, does not help
    let forged = format!("llmux_device_alice={}.{}", "0".repeat(18), "0".repeat(64));
    assert_eq!(login(d.port, "alice", "alice-passphrase", Some(&forged)).0, 429);
    // her own browser gets in, and is not given a second device cookie
    let (status, res) = login(d.port, "alice", "alice-passphrase", Some(&device));
    assert_eq!(status, 200, "{res}");
    assert!(set_cookie(&res, "llmux_device_").is_none(), "{res}");
    // the device cookie has its own limit: guessing with it is throttled too
    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(login(d.port, "alice", "guess", Some(&device)).0);
    }
    assert!(statuses.contains(&429), "{statuses:?}");
}

#[tokio::test]
async fn a_burst_of_bad_logins_gets_fast_refusals_while_another_user_signs_in() {
    let d = TestDaemon::builder().user("alice").user("bob").start().await;
    let bob_device = device_cookie_of(d.port, "bob");

    // 20 at once against one account: one in flight at a time, the rest refused unhashed
    let port = d.port;
    let at_alice: Vec<_> = (0..20)
        .map(|_| std::thread::spawn(move || login(port, "alice", "guess", None).0))
        .collect();
    let statuses: Vec<u16> = at_alice.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(statuses.iter().all(|s| matches!(s, 401 | 429)), "{statuses:?}");
    assert!(statuses.contains(&429), "{statuses:?}");
    let audit = local(&d, Method::GET, "/api/audit?limit=1000", Value::Null).await.1;
    let hashed = audit.as_array().unwrap().iter().filter(|e| e["action"] == "login_failed").count();
    assert!(hashed < 20, "{hashed} of 20 concurrent attempts on one account were tried");

    // 200 clients keep sending bad logins for made-up names while bob signs in
    let stop = Arc::new(AtomicBool::new(false));
    let refused = Arc::new(AtomicUsize::new(0));
    let other = Arc::new(AtomicUsize::new(0));
    let burst: Vec<_> = (0..200)
        .map(|t| {
            let (stop, refused, other) = (stop.clone(), refused.clone(), other.clone());
            std::thread::spawn(move || {
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let (status, res) = login(port, &made_up(t * 1000 + i), "guess", None);
                    match status {
                        429 | 503 if res.to_ascii_lowercase().contains("retry-after: ") => {
                            refused.fetch_add(1, Ordering::Relaxed)
                        }
                        401 => 0,
                        _ => other.fetch_add(1, Ordering::Relaxed),
                    };
                    i += 1;
                }
            })
        })
        .collect();
    // wait until the burst is being refused (the queue is full), then sign bob in
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while refused.load(Ordering::Relaxed) < 50 {
        assert!(std::time::Instant::now() < deadline, "the burst was never refused");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let (bob, bob_res) = login(port, "bob", "bob-passphrase", Some(&bob_device));
    let health = http_to(port, "GET", "/health", &[], "").0;
    let local_health = local(&d, Method::GET, "/health", Value::Null).await.0;
    stop.store(true, Ordering::Relaxed);
    for t in burst {
        t.join().unwrap();
    }
    assert_eq!(bob, 200, "bob's sign-in during the burst: {bob_res}");
    assert_eq!((health, local_health), (200, 200), "the daemon answers during the burst");
    assert_eq!(other.load(Ordering::Relaxed), 0, "only 401, or 429/503 with Retry-After");
}

#[tokio::test]
async fn login_usernames_are_capped_and_escaped_before_the_audit_log() {
    let d = TestDaemon::builder().user("bob").start().await;
    let forged = "x\u{1b}]0;owned\u{7}\n2026-01-01 root login".to_owned();
    let huge = format!("{}\u{1b}[2J", "a".repeat(400_000));
    for name in [forged.as_str(), huge.as_str(), &"b".repeat(33)] {
        let (status, res) = login(d.port, name, "guess", None);
        assert_eq!(status, 401, "{}", &res[..res.len().min(300)]);
    }
    // trimmed and lower-cased like any username
    assert_eq!(login(d.port, "  BOB ", "bob-passphrase", None).0, 200);
    let audit = local(&d, Method::GET, "/api/audit?limit=1000", Value::Null).await.1;
    let failed: Vec<&Value> =
        audit.as_array().unwrap().iter().filter(|e| e["action"] == "login_failed").collect();
    assert_eq!(failed.len(), 3, "{audit}");
    for event in &failed {
        for field in ["actor", "target", "detail"] {
            let text = event[field].as_str().unwrap();
            assert!(text.chars().count() <= 41, "{field} too long: {} chars", text.len());
            assert!(
                !text.chars().any(char::is_control),
                "{field} has control characters: {text:?}"
            );
        }
    }
    assert!(failed[0]["target"].as_str().unwrap().contains("\\u{1b}"), "{}", failed[0]);
}
