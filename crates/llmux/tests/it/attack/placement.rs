//! Attacks: placement (see the table in the parent module).
//!
//! Issue 17: `GET /api/placement` answers "would this start pass here?" for a hub placing a
//! session. It must tell a caller nothing a start attempt would not: for every probe its
//! verdict and message are those of `POST /api/sessions` with the same agent and cwd, under the
//! caller's own rights; a read-only token or an anonymous client gets no verdict at all.

use hyper::Method;
use serde_json::json;

use crate::harness::{TestDaemon, call, local, token};

#[tokio::test]
async fn the_placement_check_tells_no_more_than_a_start_and_only_to_who_may_start() {
    let d = TestDaemon::builder().user("alice").start().await;
    let (alice, _) = token(&d, "alice", "user", None).await;
    let (viewer, _) = token(&d, "alice", "read-only", None).await;
    let work = d.work().display().to_string();
    let probes = [
        ("fake", work.as_str()),
        ("fake", "/etc"),
        ("fake", "/no/such/dir"),
        ("fake", "/etc/passwd"),
        ("shell", work.as_str()),
        ("nope", work.as_str()),
    ];
    for (i, (agent, cwd)) in probes.into_iter().enumerate() {
        let path =
            format!("/api/placement?agent={agent}&cwd={}", llmux_client::encode_segment(cwd));
        let (status, check) = call(&d, &alice, "GET", &path, json!(null));
        assert_eq!(status, 200, "{path}: {check}");
        let body = json!({"agent": agent, "cwd": cwd, "name": format!("probe{i}")});
        let (status, started) = call(&d, &alice, "POST", "/api/sessions", body);
        assert_eq!(
            check["ok"] == true,
            status == 201,
            "{agent} in {cwd}: {check} vs {status} {started}"
        );
        if status != 201 {
            assert_eq!(check["error"], started["error"], "{agent} in {cwd}: the same message");
        }
        // nothing was made by the check: only the start's session exists
        let (_, list) = local(&d, Method::GET, "/api/sessions", json!(null)).await;
        let made =
            list.as_array().unwrap().iter().filter(|s| {
                s["name"].as_str().is_some_and(|n| n.starts_with(&format!("probe{i}")))
            });
        assert_eq!(made.count(), usize::from(status == 201), "{agent} in {cwd}");
    }
    let path = format!("/api/placement?agent=fake&cwd={}", llmux_client::encode_segment(&work));
    let (status, body) = call(&d, &viewer, "GET", &path, json!(null));
    assert_eq!(status, 403, "a read-only token: {body}");
    let (status, _) = d.http("GET", &path, &[], "");
    assert_eq!(status, 401, "anonymous");
}
