//! Attacks: credentials (see the table in the parent module).
//!
//! The review paired a browser with an admin's `user` token and got a cookie with full admin
//! rights. Here every way of minting a credential from another (a pairing code redeemed for
//! a browser session, a token made with a token or a paired cookie, a device token at login)
//! is tried from each narrower credential, and the result's rights are checked by using it.

use std::time::{Duration, Instant};

use hyper::Method;
use serde_json::{Value, json};

use crate::harness::{TestDaemon, http::session_cookie, local, post_json, token};

/// A request over TCP with a bearer token or a cookie (with our own Origin); (status, body).
fn call(d: &TestDaemon, cred: &Cred, method: &str, path: &str, body: Value) -> (u16, Value) {
    let origin = format!("http://127.0.0.1:{}", d.port);
    let auth;
    let mut headers: Vec<(&str, &str)> = vec![("Content-Type", "application/json")];
    match cred {
        Cred::Token(t) => {
            auth = format!("Bearer {t}");
            headers.push(("Authorization", &auth));
        }
        Cred::Cookie(c) => {
            auth = format!("llmux_session={c}");
            headers.push(("Cookie", &auth));
            headers.push(("Origin", &origin));
        }
    }
    let text = if body.is_null() { String::new() } else { body.to_string() };
    let (status, res) = d.http(method, path, &headers, &text);
    let json = serde_json::from_str(res.split("\r\n\r\n").nth(1).unwrap_or("")).unwrap_or_default();
    (status, json)
}

enum Cred {
    Token(String),
    Cookie(String),
}

/// Pairs a browser with `maker`: the new browser's cookie.
fn pair(d: &TestDaemon, maker: &Cred) -> String {
    let (status, pairing) = call(d, maker, "POST", "/api/pairing", Value::Null);
    assert_eq!(status, 201, "{pairing}");
    let (status, res) = post_json(d, "/api/auth/pair", &[], json!({"code": pairing["code"]}));
    assert_eq!(status, 200, "{res}");
    session_cookie(&res).expect("a session cookie")
}

fn in_ms(ms: i64) -> String {
    llmux_core::time::rfc3339_ms(llmux_core::time::now_ms() + ms)
}

#[tokio::test]
async fn a_browser_paired_with_a_narrow_token_gets_only_that_tokens_rights() {
    let d = TestDaemon::builder().admin("root").start().await;
    let (narrow, _) = token(&d, "root", "user", None).await;
    let narrow = Cred::Token(narrow);
    assert_eq!(call(&d, &narrow, "GET", "/api/admin/users", Value::Null).0, 403);

    // the review's attack: pair with the admin's `user` token
    let paired = Cred::Cookie(pair(&d, &narrow));
    assert_eq!(call(&d, &paired, "GET", "/api/admin/users", Value::Null).0, 403);
    assert_eq!(call(&d, &paired, "GET", "/api/settings", Value::Null).0, 403);
    let (status, me) = call(&d, &paired, "GET", "/api/auth/whoami", Value::Null);
    assert_eq!((status, &me["admin"], &me["scope"]), (200, &json!(false), &json!("user")), "{me}");
    assert_eq!(call(&d, &paired, "GET", "/api/sessions", Value::Null).0, 200, "user rights work");
    // nor can the paired browser climb back up: an admin token, or another pairing
    let (status, body) = call(&d, &paired, "POST", "/api/tokens", json!({"scope": "admin"}));
    assert_eq!(status, 403, "{body}");
    let repaired = Cred::Cookie(pair(&d, &paired));
    assert_eq!(call(&d, &repaired, "GET", "/api/admin/users", Value::Null).0, 403);
    // a read-only token cannot pair at all
    let (read_only, _) = token(&d, "root", "read-only", None).await;
    let (status, body) = call(&d, &Cred::Token(read_only), "POST", "/api/pairing", Value::Null);
    assert_eq!(status, 403, "{body}");

    // the full path still works: an admin token pairs an admin browser
    let (admin, _) = token(&d, "root", "admin", None).await;
    let full = Cred::Cookie(pair(&d, &Cred::Token(admin)));
    assert_eq!(call(&d, &full, "GET", "/api/admin/users", Value::Null).0, 200);
}

#[tokio::test]
async fn a_browser_paired_with_an_expiring_token_ends_with_it() {
    let d = TestDaemon::builder().admin("root").start().await;
    let (short, _) = token(&d, "root", "admin", Some(in_ms(4_000))).await;
    let short = Cred::Token(short);
    let paired = Cred::Cookie(pair(&d, &short));
    assert_eq!(
        call(&d, &paired, "GET", "/api/admin/users", Value::Null).0,
        200,
        "admin from admin"
    );
    // what the paired browser mints must end with the token too
    let (status, body) = call(&d, &paired, "POST", "/api/tokens", json!({"scope": "user"}));
    assert_eq!(status, 403, "no expiry is later than the token's: {body}");
    let (status, body) =
        call(&d, &paired, "POST", "/api/tokens", json!({"expiresAt": in_ms(3_600_000)}));
    assert_eq!(status, 403, "{body}");
    // the token ends, and the paired browser with it (poll for the clock, not the daemon)
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, _) = call(&d, &paired, "GET", "/api/auth/whoami", Value::Null);
        if status == 401 {
            break;
        }
        assert_eq!(status, 200);
        assert!(Instant::now() < deadline, "the paired browser outlived its token");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(call(&d, &short, "GET", "/api/auth/whoami", Value::Null).0, 401);
}

#[tokio::test]
async fn tokens_made_with_a_token_are_no_wider_and_end_no_later() {
    let d = TestDaemon::builder().admin("root").user("alice").start().await;
    let ends = llmux_core::time::now_ms() + 3_600_000;
    let (maker, _) = token(&d, "root", "user", Some(llmux_core::time::rfc3339_ms(ends))).await;
    let maker = Cred::Token(maker);
    let refused = [
        json!({"scope": "admin", "expiresAt": in_ms(60_000)}),
        json!({"scope": "user"}),
        json!({"scope": "user", "expiresAt": llmux_core::time::rfc3339_ms(ends + 60_000)}),
        json!({"scope": "read-only"}),
    ];
    for body in refused {
        let (status, res) = call(&d, &maker, "POST", "/api/tokens", body.clone());
        assert_eq!(status, 403, "{body} → {res}");
        let message = res["error"].as_str().unwrap();
        assert!(message.contains("credential") || message.contains("admin"), "{res}");
    }
    let within = json!({"scope": "user", "expiresAt": llmux_core::time::rfc3339_ms(ends - 60_000)});
    let (status, res) = call(&d, &maker, "POST", "/api/tokens", within);
    assert_eq!(status, 201, "{res}");
    let minted = Cred::Token(res["value"].as_str().unwrap().to_owned());
    assert_eq!(call(&d, &minted, "GET", "/api/admin/users", Value::Null).0, 403);
    assert_eq!(call(&d, &minted, "GET", "/api/sessions", Value::Null).0, 200);
    let (status, res) = call(
        &d,
        &maker,
        "POST",
        "/api/tokens",
        json!({"scope": "read-only", "expiresAt": in_ms(60_000)}),
    );
    assert_eq!(status, 201, "narrower is fine: {res}");
    let read_only = Cred::Token(res["value"].as_str().unwrap().to_owned());
    // read-only mints nothing: no token of any scope, no pairing
    for scope in ["read-only", "user"] {
        let body = json!({"scope": scope, "expiresAt": in_ms(30_000)});
        assert_eq!(call(&d, &read_only, "POST", "/api/tokens", body).0, 403);
    }
    assert_eq!(call(&d, &read_only, "POST", "/api/pairing", Value::Null).0, 403);

    // a device token at login carries the account's own rights: the passphrase made it
    let login = |username: &str| {
        let body = json!({"username": username, "passphrase": format!("{username}-passphrase"), "deviceName": "cli"});
        let (status, res) = post_json(&d, "/api/auth/login", &[], body);
        assert_eq!(status, 200, "{res}");
        let json: Value = serde_json::from_str(res.split("\r\n\r\n").nth(1).unwrap()).unwrap();
        (
            json["tokenInfo"]["scope"].clone(),
            Cred::Token(json["token"].as_str().unwrap().to_owned()),
        )
    };
    let (scope, alice) = login("alice");
    assert_eq!(scope, "user");
    assert_eq!(call(&d, &alice, "GET", "/api/admin/users", Value::Null).0, 403);
    let (scope, root) = login("root");
    assert_eq!(scope, "admin");
    assert_eq!(call(&d, &root, "GET", "/api/admin/users", Value::Null).0, 200);
    // and no one can mint an admin token for a non-admin
    let (status, _) =
        local(&d, Method::POST, "/api/tokens", json!({"username": "alice", "scope": "admin"}))
            .await;
    assert_eq!(status, 403);
}
