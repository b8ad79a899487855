//! Placement (issue 17): two hosts in namespaces, added by URL, that differ in what can be
//! controlled here: which agents are installed (each daemon's own `PATH`), which directories
//! exist (`~/proj` in one daemon's HOME only) and their labels. Free memory is the same
//! machine's for both, so its ordering is the unit test of `llmux_fleet::placement`.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use hyper::Method;
use llmux_api::HostStatus;
use serde_json::json;

use crate::fleet::{Net, cli_over_tcp, host_until, unavailable};
use crate::harness::{NETNS_PORT, TestDaemon, fake_agent, local, token};

const SYSTEM_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// Host `i` of `net` with `PATH` set to `path`; its URL and a `hub` token of its admin.
async fn host(net: &Net, i: usize, path: &str) -> (TestDaemon, String, String) {
    let d = TestDaemon::builder()
        .netns(&net.host(i))
        .server(&format!("host: 10.77.{i}.2"))
        .env("PATH", path)
        .admin("hubber")
        .start()
        .await;
    let (tok, _) = token(&d, "hubber", "hub", None).await;
    (d, format!("http://10.77.{i}.2:{NETNS_PORT}"), tok)
}

#[tokio::test]
async fn auto_and_label_placement_pick_a_host_that_has_the_agent_the_cwd_and_the_label() {
    if let Some(why) = unavailable() {
        eprintln!("skipping the fleet placement test: {why}");
        return;
    }
    let net = Net::new(2);
    // `codex` is installed on h2 only: a script that runs the fake agent
    let bin = tempfile::Builder::new().prefix("lxbin").tempdir_in("/tmp").unwrap();
    let codex = bin.path().join("codex");
    std::fs::write(&codex, format!("#!/bin/sh\nexec {:?} \"$@\"\n", fake_agent())).unwrap();
    std::fs::set_permissions(&codex, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (h1, url1, tok1) = host(&net, 1, SYSTEM_PATH).await;
    let h2_path = format!("{}:{SYSTEM_PATH}", bin.path().display());
    let (h2, url2, tok2) = host(&net, 2, &h2_path).await;
    // `~/proj` exists in h1's HOME only
    std::fs::create_dir(h1.home().join("proj")).unwrap();
    let hub = TestDaemon::builder().netns(&net.hub()).user("bob").start().await;

    // labels: given at add, checked at the edge, shown in the list and the API
    let out =
        hub.cli(&["host", "add", "h1", "--url", &url1, "--host-token", &tok1, "--label", "GPU!"]);
    assert_ne!(out.status.code(), Some(0), "a bad label is refused: {out:?}");
    hub.cli_ok(&["host", "add", "h1", "--url", &url1, "--host-token", &tok1, "--label", "gpu"]);
    hub.cli_ok(&["host", "add", "h2", "--url", &url2, "--host-token", &tok2]);
    for h in ["h1", "h2"] {
        host_until(&hub, h, HostStatus::Up, Duration::from_secs(20)).await;
    }
    let list = hub.cli_ok(&["host", "list"]);
    assert!(list.contains("LABELS") && list.contains("gpu"), "{list}");
    let (_, hosts) = local(&hub, Method::GET, "/api/hosts", json!(null)).await;
    assert_eq!(hosts[0]["labels"], json!(["gpu"]), "{hosts}");
    assert_eq!(hosts[1]["labels"], json!([]), "{hosts}");

    // auto: the agent decides (only h2 has codex), and the CLI says where
    let out = hub.cli_ok(&["session", "start", "codex", "--host", "auto", "--name", "c1"]);
    assert!(out.contains("placed on host h2") && out.contains("h2:c1"), "{out}");
    // made with the hub's token: on the host it is the token user's (`c1@hubber`)
    assert_eq!(h2.client.session("c1@hubber").await.unwrap().agent, "codex");
    // auto: the cwd decides (only h1 has ~/proj); the API answer carries the host
    let (status, body) = local(
        &hub,
        Method::POST,
        "/api/sessions",
        json!({"agent": "fake", "cwd": "~/proj", "name": "p1", "host": "auto"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        (body["session"]["host"].as_str(), body["session"]["name"].as_str()),
        (Some("h1"), Some("h1:p1"))
    );
    assert!(h1.client.session("p1@hubber").await.is_ok(), "made on h1");
    // nothing fits: why, host by host
    let (status, body) = local(
        &hub,
        Method::POST,
        "/api/sessions",
        json!({"agent": "codex", "cwd": "~/proj", "host": "auto"}),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(error.contains("h1: agent \"codex\" is not installed"), "{error}");
    assert!(error.contains("h2: cwd does not exist: ~/proj"), "{error}");

    // label:gpu chooses among h1 only, though h2 could run fake too
    let out = hub.cli_ok(&["session", "start", "fake", "--host", "label:gpu", "--name", "g1"]);
    assert!(out.contains("placed on host h1"), "{out}");
    // codex on a gpu host: none until h2 is labelled gpu too
    let out = hub.cli(&["session", "start", "codex", "--host", "label:gpu"]);
    assert_ne!(out.status.code(), Some(0), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("labelled \"gpu\"") && err.contains("h1: agent \"codex\""), "{err}");
    let out = hub.cli_ok(&["host", "edit", "h2", "--label", "gpu", "--label", "fast-disk"]);
    assert!(out.contains("fast-disk, gpu"), "{out}");
    let out = hub.cli_ok(&["session", "start", "codex", "--host", "label:gpu", "--name", "c2"]);
    assert!(out.contains("placed on host h2"), "{out}");
    hub.cli_ok(&["host", "edit", "h2", "--unlabel", "gpu"]);
    let out = hub.cli(&["session", "start", "fake", "--host", "label:fast-disk", "--name", "f1"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("placed on host h2"), "{out:?}");
    let out = hub.cli(&["session", "start", "fake", "--host", "label:nope"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no reachable host labelled \"nope\""), "{out:?}");
    // labels live in the hub's store: a restart keeps them
    let mut hub = hub;
    hub.restart().await;
    let (_, hosts) = local(&hub, Method::GET, "/api/hosts", json!(null)).await;
    assert_eq!(hosts[1]["labels"], json!(["fast-disk"]), "{hosts}");

    // a non-admin of the hub may not place sessions on hosts, nor label them
    let (bob, _) = token(&hub, "bob", "user", None).await;
    for args in [
        &["session", "start", "fake", "--host", "auto"][..],
        &["session", "start", "fake", "--host", "label:gpu"],
        &["host", "edit", "h1", "--label", "mine"],
    ] {
        let out = cli_over_tcp(&hub, &net, &bob, args);
        assert_ne!(out.status.code(), Some(0), "{args:?}: {out:?}");
    }
    let names: Vec<String> =
        h1.client.list_sessions().await.unwrap().into_iter().map(|s| s.name).collect();
    assert_eq!(names.len(), 2, "bob placed nothing: {names:?}");
    drop((hub, h1, h2, bin));
}
