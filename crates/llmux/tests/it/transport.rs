//! Trust comes from the kernel (Unix peer uid) or a credential, never from an address or a
//! header. Until accounts exist, TCP serves only `/health` and `/api/version`.

use std::os::unix::fs::PermissionsExt;

use bytes::Bytes;
use hyper::Method;
use serde_json::Value;

use crate::harness::TestDaemon;

/// Every (method, path) of the API, read from the daemon's own OpenAPI document, so a new
/// route without an authorization expectation fails here.
async fn all_routes(d: &TestDaemon) -> Vec<(String, String)> {
    let res = d.client.raw(Method::GET, "/api/openapi.json", None, &[]).await.unwrap();
    assert_eq!(res.status.as_u16(), 200);
    let doc: Value = serde_json::from_slice(&res.body).unwrap();
    let mut routes = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            routes.push((method.to_uppercase(), path.replace("{name}", "s1")));
        }
    }
    routes.push(("GET".into(), "/api/openapi.json".into()));
    assert!(routes.len() >= 15, "{routes:?}");
    routes
}

#[tokio::test]
async fn unix_socket_serves_every_route_to_the_owner() {
    let d = TestDaemon::start().await;
    d.spawn_fake("s1").await;
    for (method, path) in all_routes(&d).await {
        if method != "GET"
            || path.contains('{')
            || path.ends_with("/stream")
            || path == "/api/events"
            || (path.starts_with("/api/push/") && path != "/api/push/vapid")
        {
            // state-changing routes are covered elsewhere; streams never end; the operator has
            // no push devices (400 `no_account`, see notify.rs)
            continue;
        }
        let path = match path.as_str() {
            "/api/conversations" => "/api/conversations?agent=fake&cwd=/tmp".into(),
            "/api/placement" => "/api/placement?agent=fake".into(),
            _ => path,
        };
        let res = d.client.raw(method.parse().unwrap(), &path, None, &[]).await.unwrap();
        // s1's folder is no git repository: its diff is refused as for any caller
        let want = if path.ends_with("/diff") { 409 } else { 200 };
        assert_eq!(res.status.as_u16(), want, "{method} {path}: {:?}", res.body);
    }
    let res = d.client.raw(Method::GET, "/api/nope", None, &[]).await.unwrap();
    assert_eq!(res.status.as_u16(), 404);
    // the operator may use every admin route
    let who: Value = serde_json::from_slice(
        &d.client.raw(Method::GET, "/api/auth/whoami", None, &[]).await.unwrap().body,
    )
    .unwrap();
    assert_eq!(who["via"], "local");
    assert_eq!(who["admin"], true);
}

#[tokio::test]
async fn unknown_paths_are_404_only_to_signed_in_callers() {
    let d = TestDaemon::builder().user("alice").start().await;
    let (token, _) = crate::harness::token(&d, "alice", "user", None).await;
    let auth = format!("Bearer {token}");
    for path in ["/api/nope", "/nope", "/api/admin/settings"] {
        assert_eq!(d.http("GET", path, &[], "").0, 401, "{path} anonymous");
        assert_eq!(d.http("GET", path, &[("Authorization", &auth)], "").0, 404, "{path} signed in");
    }
}

#[tokio::test]
async fn only_admins_may_start_a_bare_shell() {
    let d = TestDaemon::builder().user("alice").admin("root").start().await;
    let (alice, _) = crate::harness::token(&d, "alice", "user", None).await;
    let (root, _) = crate::harness::token(&d, "root", "admin", None).await;
    let body = |name: &str| format!(r#"{{"agent":"shell","name":"{name}"}}"#);
    let post = |token: &str, name: &str| {
        let auth = format!("Bearer {token}");
        d.http(
            "POST",
            "/api/sessions",
            &[("Authorization", &auth), ("Content-Type", "application/json")],
            &body(name),
        )
    };
    let (status, res) = post(&alice, "sh1");
    assert_eq!(status, 403, "{res}");
    assert!(res.contains("shell agent is for admins"), "{res}");
    assert_eq!(post(&root, "sh2").0, 201);
    assert_eq!(d.client.list_sessions().await.unwrap().len(), 1);
}

#[tokio::test]
async fn unix_socket_refuses_proxied_requests() {
    let d = TestDaemon::start().await;
    for header in ["X-Forwarded-For", "Forwarded", "Via", "X-Real-IP", "Tailscale-User-Login"] {
        let res = d
            .client
            .raw(Method::GET, "/api/sessions", None, &[(header, "127.0.0.1")])
            .await
            .unwrap();
        assert_eq!(res.status.as_u16(), 403, "{header}");
    }
    let res = d
        .client
        .raw(
            Method::POST,
            "/api/sessions",
            Some((Bytes::from(r#"{"agent":"fake","name":"p"}"#), "application/json")),
            &[("X-Forwarded-For", "10.0.0.1")],
        )
        .await
        .unwrap();
    assert_eq!(res.status.as_u16(), 403);
    assert!(d.client.list_sessions().await.unwrap().is_empty());
}

#[tokio::test]
async fn files_and_sockets_are_private() {
    let d = TestDaemon::start().await;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&d.paths.state_dir), 0o700);
    assert_eq!(mode(&d.paths.run_dir), 0o700);
    assert_eq!(mode(&d.paths.socket), 0o600);
    assert_eq!(mode(&d.paths.db), 0o600);
}

#[tokio::test]
async fn responses_carry_security_headers() {
    let d = TestDaemon::start().await;
    let (_, res) = d.http("GET", "/health", &[], "");
    let lower = res.to_lowercase();
    for header in [
        "x-content-type-options: nosniff",
        "referrer-policy: no-referrer",
        "cache-control: no-store",
        "content-security-policy: default-src 'none'; frame-ancestors 'none'",
    ] {
        assert!(lower.contains(header), "missing {header} in {res}");
    }
}

#[tokio::test]
async fn a_second_daemon_on_the_same_state_dir_refuses_to_start() {
    let d = TestDaemon::start().await;
    let out = d
        .command()
        .args(["server", "start", "--port", "0"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("another llmux daemon is already running"), "{stderr}");
    assert!(stderr.contains(&d.pid().to_string()), "names the pid: {stderr}");
    // the first one is unharmed
    d.client.health().await.unwrap();
}
