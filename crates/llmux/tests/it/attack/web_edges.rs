//! Attacks: web_edges (see the table in the parent module).
//!
//! Finding 14: the Origin check ignored the scheme (`https://HOST` passed as our own origin on
//! plain http), and the API document repeated operationIds and described less than the server
//! enforces. The daemon speaks plain http, so its own origin is `http://HOST`; an https origin
//! passes only as an allowed one (public URL, Tailscale names, allowed origins and hosts).

use std::collections::{BTreeMap, BTreeSet};

use hyper::Method;
use serde_json::Value;

use super::connections::{half_open, read_head, status_of};
use crate::harness::{TestDaemon, create_as, http_to, local, token};

/// The harness config allows this host (as a TLS proxy such as `tailscale serve` would send it).
const PROXIED: &str = "box.tailnet.ts.net";

#[tokio::test]
async fn an_origin_must_match_the_scheme_over_http() {
    let d = TestDaemon::start().await;
    let own = format!("127.0.0.1:{}", d.port);
    let local_host = format!("localhost:{}", d.port);
    // An unsafe request that passes the Origin check answers 400 (bad body), else 403.
    let cases: &[(&str, String, u16)] = &[
        (&own, format!("http://{own}"), 400),
        (&own, format!("https://{own}"), 403),
        (&local_host, format!("https://{local_host}"), 403),
        (&own, format!("ws://{own}"), 403),
        (&own, format!("ftp://{own}"), 403),
        (&own, "https://evil.example".to_owned(), 403),
        (&own, "null".to_owned(), 403),
        (PROXIED, format!("http://{PROXIED}"), 400),
        (PROXIED, format!("https://{PROXIED}"), 400),
        (PROXIED, format!("https://{PROXIED}:8443"), 403),
    ];
    for (host, origin, want) in cases {
        let (status, res) = http_to(
            d.port,
            "POST",
            "/api/auth/login",
            &[("Host", host), ("Origin", origin), ("Content-Type", "application/json")],
            r#"{"username": 5}"#,
        );
        assert_eq!(status, *want, "Host {host}, Origin {origin}: {res}");
        if *want == 403 {
            assert!(res.contains("cross_origin"), "{res}");
        }
    }
}

/// A WebSocket handshake for `/ws/NAME` with a token and `Host`/`Origin`; its status.
fn ws_status(port: u16, name: &str, bearer: &str, host: &str, origin: &str) -> u16 {
    let mut s = half_open(
        port,
        &format!(
            "GET /ws/{name} HTTP/1.1\r\nHost: {host}\r\nOrigin: {origin}\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\nAuthorization: Bearer {bearer}\r\n\r\n"
        ),
    );
    status_of(&read_head(&mut s))
}

#[tokio::test]
async fn an_origin_must_match_the_scheme_on_websocket_upgrades() {
    let d = TestDaemon::builder().user("alice").start().await;
    let (alice, _) = token(&d, "alice", "user", None).await;
    let (status, res) = create_as(&d, &alice, "mine");
    assert_eq!(status, 201, "{res}");
    d.wait_for_screen("mine@alice", "SIZE").await;
    let own = format!("127.0.0.1:{}", d.port);
    assert_eq!(ws_status(d.port, "mine", &alice, &own, &format!("http://{own}")), 101);
    assert_eq!(ws_status(d.port, "mine", &alice, &own, &format!("https://{own}")), 403);
    assert_eq!(ws_status(d.port, "mine", &alice, &own, "https://evil.example"), 403);
    assert_eq!(ws_status(d.port, "mine", &alice, PROXIED, &format!("https://{PROXIED}")), 101);
    assert_eq!(ws_status(d.port, "mine", &alice, PROXIED, &format!("http://{PROXIED}")), 101);
}

/// Every operation of the document: (operationId, method, path, operation).
fn operations(doc: &Value) -> Vec<(String, String, String, Value)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let id = op["operationId"].as_str().unwrap_or_default().to_owned();
            ops.push((id, method.clone(), path.clone(), op.clone()));
        }
    }
    ops
}

#[tokio::test]
async fn the_api_document_names_each_operation_once_and_states_the_rules() {
    let d = TestDaemon::start().await;
    let (status, doc) = local(&d, Method::GET, "/api/openapi.json", Value::Null).await;
    assert_eq!(status, 200);
    let ops = operations(&doc);
    assert!(ops.len() > 40, "{} operations", ops.len());
    // Unique and meaningful: no bare verbs that say nothing of what they act on.
    let mut seen: BTreeMap<&str, (&str, &str)> = BTreeMap::new();
    for (id, method, path, _) in &ops {
        assert!(!id.is_empty(), "{method} {path} has no operationId");
        if let Some((m, p)) = seen.insert(id, (method, path)) {
            panic!("operationId {id:?} names both {m} {p} and {method} {path}");
        }
        assert!(
            !["list", "create", "delete", "update", "show", "all", "remove"].contains(&id.as_str()),
            "{method} {path}: operationId {id:?} does not say what it acts on"
        );
    }
    // Every operation that takes a body or parameters documents its 400 with the error body.
    for (id, method, path, op) in &ops {
        let takes_input = op.get("requestBody").is_some() || op.get("parameters").is_some();
        if takes_input {
            let bad = &op["responses"]["400"];
            assert!(bad.is_object(), "{method} {path} ({id}) does not document its 400");
            let schema = bad["content"]["application/json"]["schema"]["$ref"].as_str();
            assert_eq!(schema, Some("#/components/schemas/ErrorBody"), "{id}: {bad}");
        }
    }
    // The constraints the server enforces are in the schemas.
    let schemas = &doc["components"]["schemas"];
    let prop = |schema: &str, field: &str| -> Value {
        let p = &schemas[schema]["properties"][field];
        // Optional fields are `oneOf: [null, {…}]` or carry the keywords directly.
        p["oneOf"]
            .as_array()
            .and_then(|v| v.iter().find(|s| s["type"] != "null").cloned())
            .unwrap_or_else(|| p.clone())
    };
    assert_eq!(prop("CreateSessionRequest", "name")["maxLength"], 64);
    assert!(prop("CreateSessionRequest", "name")["pattern"].is_string());
    assert_eq!(prop("CreateSessionRequest", "agent")["minLength"], 1);
    assert_eq!(prop("SendRequest", "prompt")["minLength"], 1);
    assert_eq!(prop("SendRequest", "timeout")["maximum"], 3600);
    assert_eq!(prop("BroadcastRequest", "prompt")["minLength"], 1);
    assert!(prop("KeyRequest", "key")["pattern"].as_str().unwrap().contains("BSpace"));
    assert_eq!(prop("ResumeRequest", "conversationId")["maxLength"], 200);
    assert_eq!(prop("CreateUserRequest", "username")["maxLength"], 32);
    assert_eq!(prop("CreateUserRequest", "passphrase")["minLength"], 8);
    assert!(prop("ProfileRequest", "name")["pattern"].as_str().unwrap().contains("u0000"));
    // The 400s the review found undocumented are documented now, and really answered.
    let by_id: BTreeSet<&str> = ops.iter().map(|o| o.0.as_str()).collect();
    assert!(by_id.contains("captureScreen") && by_id.contains("listLogs"));
    for (path, body) in [
        ("/api/logs?limit=-1", None),
        ("/api/audit?limit=99999999999", None),
        ("/api/sessions/none/capture?lines=-5", None),
        ("/api/sessions", Some("{\"agent\":\"fake\",\"name\":\"a\u{0}b\"}")),
    ] {
        let method = if body.is_some() { Method::POST } else { Method::GET };
        let body = body.map(|b| (bytes::Bytes::from(b), "application/json"));
        let res = d.client.raw(method.clone(), path, body, &[]).await.unwrap();
        assert_eq!(res.status.as_u16(), 400, "{method} {path}");
        let err: Value = serde_json::from_slice(&res.body).unwrap();
        assert!(err["error"].is_string(), "{path}: {err}");
    }
}
