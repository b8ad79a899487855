//! Attacks: fleet_identity (see the table in the parent module).
//!
//! Issue 17: a hub tells nothing to a host by header, and no daemon takes a caller's word for
//! who acts. An `X-Llmux-On-Behalf-Of` (the header a later hub-scope token may carry) from a
//! normal token or an anonymous client changes nothing: not the identity, not the rights over
//! fleet hosts and remote sessions, not the audit log's actor.

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
