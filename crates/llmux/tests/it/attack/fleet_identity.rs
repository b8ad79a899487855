//! Attacks: fleet_identity (see the table in the parent module).
//!
//! Issue 17: no daemon takes a caller's word for who acts. `X-Llmux-On-Behalf-Of` is read
//! only from a `hub`-scope token (an admin's, minted on the host), and then only into the
//! audit log; from a normal token or an anonymous client it changes nothing: not the
//! identity, not the rights over fleet hosts and remote sessions, not the audit log's actor.
//! A hub token itself drives sessions and nothing else.

use hyper::Method;
use serde_json::json;

use crate::harness::{TestDaemon, local, token};

const ON_BEHALF: &str = "X-Llmux-On-Behalf-Of";

/// One JSON call over TCP with `auth` (an `Authorization` value; empty: none) and `extra`.
fn call_with_headers(
    d: &TestDaemon,
    auth: &str,
    extra: &[(&str, &str)],
    method: &str,
    path: &str,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let mut headers = vec![("Content-Type", "application/json")];
    if !auth.is_empty() {
        headers.push(("Authorization", auth));
    }
    headers.extend_from_slice(extra);
    let text = if body.is_null() { String::new() } else { body.to_string() };
    let (status, res) = d.http(method, path, &headers, &text);
    let body = res.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, serde_json::from_str(body).unwrap_or(serde_json::Value::Null))
}

#[tokio::test]
async fn on_behalf_of_headers_are_ignored_for_normal_tokens_and_anonymous_callers() {
    let d = TestDaemon::builder().admin("root").user("bob").start().await;
    let (bob, _) = token(&d, "bob", "user", None).await;
    let (root, _) = token(&d, "root", "admin", None).await;
    let bob = format!("Bearer {bob}");
    let root = format!("Bearer {root}");
    let claim_root = [(ON_BEHALF, "root")];

    // bob claiming to act for root is still bob, with bob's rights
    let (status, me) =
        call_with_headers(&d, &bob, &claim_root, "GET", "/api/auth/whoami", json!(null));
    assert_eq!((status, me["username"].as_str()), (200, Some("bob")), "{me}");
    for (method, path, body) in [
        ("GET", "/api/hosts", json!(null)),
        ("POST", "/api/hosts", json!({"name": "evil", "ssh": "127.0.0.1:1"})),
        ("DELETE", "/api/hosts/evil", json!(null)),
    ] {
        let (status, body) = call_with_headers(&d, &bob, &claim_root, method, path, body);
        assert_eq!(status, 403, "{method} {path}: {body}");
    }
    let (status, body) =
        call_with_headers(&d, &bob, &claim_root, "GET", "/api/sessions?host=evil", json!(null));
    assert_eq!(status, 404, "{body}");
    let (status, body) =
        call_with_headers(&d, &bob, &claim_root, "GET", "/api/sessions/evil:x", json!(null));
    assert_eq!(status, 404, "{body}");

    // anonymous with the header: nothing
    let (status, _) = call_with_headers(&d, "", &claim_root, "GET", "/api/hosts", json!(null));
    assert_eq!(status, 401);

    // an admin claiming to act for bob stays the admin: the audit log names root
    let (status, body) = call_with_headers(
        &d,
        &root,
        &[(ON_BEHALF, "bob")],
        "POST",
        "/api/hosts",
        // loopback only: the hub tries to reach what it is given
        json!({"name": "box", "ssh": "127.0.0.1:1", "socket": "/run/llmux.sock"}),
    );
    assert_eq!(status, 201, "{body}");
    let (_, audit) = local(&d, Method::GET, "/api/audit?limit=20", json!(null)).await;
    let add = audit
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "host.add")
        .unwrap_or_else(|| panic!("no host.add in {audit}"));
    assert_eq!(add["actor"], "root", "{add}");
    let by_bob = audit.as_array().unwrap().iter().any(|e| e["actor"] == "bob");
    assert!(!by_bob, "bob named as an actor: {audit}");
}

#[tokio::test]
async fn a_hub_token_drives_sessions_and_nothing_else_and_only_admins_mint_one() {
    let d = TestDaemon::builder().admin("root").user("bob").start().await;
    let (hub, _) = token(&d, "root", "hub", None).await;
    let hub = format!("Bearer {hub}");
    let (bob, _) = token(&d, "bob", "user", None).await;
    let bob = format!("Bearer {bob}");

    // bob cannot mint one, for himself or for root
    for body in [json!({"scope": "hub"}), json!({"scope": "hub", "username": "root"})] {
        let (status, res) = call_with_headers(&d, &bob, &[], "POST", "/api/tokens", body);
        assert_eq!(status, 403, "{res}");
    }
    // the hub token: sessions yes, administration and credentials no
    let (status, _) = call_with_headers(&d, &hub, &[], "GET", "/api/sessions", json!(null));
    assert_eq!(status, 200);
    for (method, path, body) in [
        ("GET", "/api/admin/users", json!(null)),
        ("GET", "/api/hosts", json!(null)),
        ("GET", "/api/settings", json!(null)),
        ("POST", "/api/tokens", json!({"scope": "admin"})),
        ("POST", "/api/tokens", json!({"scope": "hub"})),
        ("POST", "/api/account/profile", json!({"name": "x"})),
    ] {
        let (status, res) = call_with_headers(&d, &hub, &[], method, path, body);
        assert_eq!(status, 403, "{method} {path}: {res}");
    }
    // what it does is audited as the token's user for the hub user it names; a value that
    // is not a plain name is dropped
    let work = d.work().display().to_string();
    for (name, claim) in [("h1", "alice"), ("h2", "alice (admin) x/y")] {
        let body = json!({"agent": "fake", "name": name, "cwd": work});
        let (status, res) =
            call_with_headers(&d, &hub, &[(ON_BEHALF, claim)], "POST", "/api/sessions", body);
        assert_eq!(status, 201, "{res}");
    }
    let (_, audit) = local(&d, Method::GET, "/api/audit?limit=20", json!(null)).await;
    let actor = |target: &str| {
        audit
            .as_array()
            .unwrap()
            .iter()
            .find(|e| {
                e["action"] == "session_created"
                    && e["target"].as_str().is_some_and(|t| t.starts_with(target))
            })
            .map(|e| e["actor"].clone())
    };
    assert_eq!(actor("h1"), Some(json!("root for hub user alice")), "{audit}");
    assert_eq!(actor("h2"), Some(json!("root")), "{audit}");
}

const ACT_AS: &str = "X-Llmux-Act-As";

/// A host's side of hub users (issue 17): `X-Llmux-Act-As` narrows a hub's credential to one
/// non-admin user of the host (their sessions, their policy, nothing of their account); from
/// anyone else, or naming an admin or nobody, it is refused outright.
#[tokio::test]
async fn acting_as_a_user_narrows_a_hub_token_and_nobody_else_may_ask() {
    let d = TestDaemon::builder().admin("root").user("alice").user("bob").start().await;
    let (alice, bob) = crate::harness::http::alice_and_bob_each_with_s(&d).await;
    d.spawn_fake("op").await;
    let (hub, _) = token(&d, "root", "hub", None).await;
    let (root, _) = token(&d, "root", "admin", None).await;
    let hub = format!("Bearer {hub}");
    let as_alice = [(ACT_AS, "alice"), (ON_BEHALF, "ann")];

    // as alice: alice's sessions only, in her terms; bob's and the operator's are absent
    let (status, list) =
        call_with_headers(&d, &hub, &as_alice, "GET", "/api/sessions", json!(null));
    assert_eq!(status, 200, "{list}");
    let names: Vec<&str> =
        list.as_array().unwrap().iter().filter_map(|s| s["name"].as_str()).collect();
    assert_eq!(names, ["s"], "{list}");
    for path in ["/api/sessions/s@bob", "/api/sessions/op@", "/api/sessions/op"] {
        let (status, body) = call_with_headers(&d, &hub, &as_alice, "GET", path, json!(null));
        assert_eq!(status, 404, "{path}: {body}");
        let (status, body) = call_with_headers(
            &d,
            &hub,
            &as_alice,
            "POST",
            &format!("{path}/send"),
            json!({"prompt": "x"}),
        );
        assert_eq!(status, 404, "{path}/send: {body}");
    }
    // what she starts is hers; a shell, tokens, devices, admin routes are not hers to have
    let work = d.work().display().to_string();
    let (status, body) = call_with_headers(
        &d,
        &hub,
        &as_alice,
        "POST",
        "/api/sessions",
        json!({"agent": "fake", "name": "via-hub", "cwd": work}),
    );
    assert_eq!(status, 201, "{body}");
    assert_eq!(d.client.session("via-hub@alice").await.unwrap().owner, "alice");
    for (method, path, body) in [
        ("POST", "/api/sessions", json!({"agent": "shell", "name": "sh", "cwd": work})),
        ("POST", "/api/tokens", json!({"scope": "user"})),
        ("GET", "/api/tokens", json!(null)),
        ("POST", "/api/account/profile", json!({"name": "x"})),
        ("GET", "/api/admin/users", json!(null)),
        ("GET", "/api/hosts", json!(null)),
    ] {
        let (status, res) = call_with_headers(&d, &hub, &as_alice, method, path, body);
        assert_eq!(status, 403, "{method} {path}: {res}");
    }
    let (_, audit) = local(&d, Method::GET, "/api/audit?limit=50", json!(null)).await;
    let made = audit.as_array().unwrap().iter().find(|e| {
        e["action"] == "session_created"
            && e["target"].as_str().is_some_and(|t| t.starts_with("via-hub"))
    });
    assert_eq!(made.map(|e| e["actor"].clone()), Some(json!("root for hub user ann as alice")));

    // only a hub token may ask, and only for an existing non-admin
    for (cred, target) in [
        (format!("Bearer {bob}"), "alice"),
        (format!("Bearer {alice}"), "alice"),
        (format!("Bearer {root}"), "alice"),
        (hub.clone(), "root"),
        (hub.clone(), "nobody"),
        (hub.clone(), "alice x"),
    ] {
        let (status, res) =
            call_with_headers(&d, &cred, &[(ACT_AS, target)], "GET", "/api/sessions", json!(null));
        assert_eq!(status, 403, "{target}: {res}");
    }
    let (status, _) =
        call_with_headers(&d, "", &[(ACT_AS, "alice")], "GET", "/api/sessions", json!(null));
    assert_eq!(status, 401);

    // the operator's socket (a hub over SSH) narrows the same way
    let res = d.client.raw(Method::GET, "/api/sessions", None, &[(ACT_AS, "bob")]).await.unwrap();
    let list: serde_json::Value = serde_json::from_slice(&res.body).unwrap();
    let names: Vec<&str> =
        list.as_array().unwrap().iter().filter_map(|s| s["name"].as_str()).collect();
    assert_eq!(names, ["s"], "{list}");
    let res = d.client.raw(Method::GET, "/api/sessions", None, &[(ACT_AS, "root")]).await.unwrap();
    assert_eq!(res.status.as_u16(), 403);
}
