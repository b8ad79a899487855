//! The router in-process: a daemon started inside the test (no child process, no banner to
//! parse), its router called with tower's `oneshot`, and `serve` run on a listener of the
//! test's own. Real store, real tmux on a private socket.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use llmux_core::config::effective::{Layer, Layers};
use llmux_core::paths::Paths;
use llmux_core::sessions::SessionOptions;
use llmux_server::daemon::{Daemon, DaemonOptions};
use llmux_server::logbuf::LogBuffer;
use llmux_server::{Transport, app, serve};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceExt;

/// A daemon in a fresh state dir, `--port 0 --host 127.0.0.1` as flags; stopped (and its tmux
/// server killed) by [`stop`].
async fn daemon(dir: &tempfile::TempDir, config_yaml: &str) -> Daemon {
    let file = dir.path().join("config.yaml");
    std::fs::write(&file, config_yaml).unwrap();
    let flags = Layer { port: Some(0), host: Some("127.0.0.1".into()), names_state_dir: true };
    Daemon::start(DaemonOptions {
        paths: Paths::in_state_dir(dir.path().join("state")),
        config: Layers {
            flags,
            file: llmux_core::config::LoadedConfig::discover(Some(&file)).unwrap(),
            ..Layers::default()
        },
        sessions: SessionOptions::default(),
        logs: LogBuffer::new(),
        init_user: None,
    })
    .await
    .expect("the daemon starts")
}

async fn stop(daemon: Daemon) {
    let sessions = daemon.state().sessions.clone();
    drop(daemon);
    sessions.servers().close().await;
    for server in sessions.servers().all() {
        server.kill_server().await.unwrap();
    }
}

/// One request through the router of `transport`; the status and the body as JSON.
async fn call(
    daemon: &Daemon,
    transport: Transport,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "127.0.0.1")
        .header("content-type", "application/json")
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .unwrap();
    let res = app(daemon.state().clone(), transport).oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_router_answers_in_process_public_routes_open_protected_ones_401_on_tcp() {
    let dir = tempfile::tempdir().unwrap();
    let d = daemon(&dir, "").await;
    let (status, health) = call(&d, Transport::Tcp, Method::GET, "/health", None).await;
    assert_eq!(status, StatusCode::OK, "{health}");
    let (status, version) = call(&d, Transport::Tcp, Method::GET, "/api/version", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(version["version"], llmux_core::VERSION, "{version}");
    for path in ["/api/sessions", "/api/settings"] {
        let (status, body) = call(&d, Transport::Tcp, Method::GET, path, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}: {body}");
    }
    // The socket's router trusts its listener (the peer uid is checked at accept).
    let (status, sessions) = call(&d, Transport::Unix, Method::GET, "/api/sessions", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(sessions, json!([]));
    stop(d).await;
}

#[tokio::test]
async fn settings_report_the_effective_config_with_sources_and_follow_the_overlay() {
    let dir = tempfile::tempdir().unwrap();
    let d =
        daemon(&dir, "server:\n  allowedHosts: [box.example]\ninitPrompts: [from config]\n").await;
    let (status, s) = call(&d, Transport::Unix, Method::GET, "/api/settings", None).await;
    assert_eq!(status, StatusCode::OK, "{s}");
    let listed: Vec<(&str, &Value, &str)> = s["settings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["key"].as_str().unwrap(), &v["value"], v["source"].as_str().unwrap()))
        .collect();
    let state_dir = json!(dir.path().join("state"));
    assert_eq!(
        listed,
        [
            ("server.port", &json!(0), "flag"),
            ("server.host", &json!("127.0.0.1"), "flag"),
            ("server.publicUrl", &Value::Null, "default"),
            ("server.allowedHosts", &json!(["box.example"]), "config"),
            ("server.allowedOrigins", &json!([]), "default"),
            ("stateDir", &state_dir, "flag"),
        ]
    );
    assert_eq!(s["initPrompts"], json!({"source": "config", "value": ["from config"]}));
    assert_eq!(s["overlayActive"], false);
    assert_eq!(s["configSource"], json!(dir.path().join("config.yaml")));
    assert_eq!(s["stateDir"], state_dir);
    assert!(s["agents"].as_array().unwrap().contains(&json!("claude")), "{s}");
    // The exact field names the web UI and the CLI read, and no others.
    let mut keys: Vec<&str> = s.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "agents",
            "configSource",
            "initPrompts",
            "overlayActive",
            "overlayPath",
            "settings",
            "socket",
            "stateDir",
            "version"
        ]
    );

    let body = json!({"initPrompts": ["from overlay", " "]});
    let (status, put) =
        call(&d, Transport::Unix, Method::PUT, "/api/settings/init-prompts", Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{put}");
    assert_eq!(put, json!({"ok": true, "initPrompts": ["from overlay"], "overlayActive": true}));
    let overlay = std::fs::read_to_string(dir.path().join("state/overlay.yaml")).unwrap();
    assert!(overlay.contains("from overlay"), "{overlay}");
    let (_, s) = call(&d, Transport::Unix, Method::GET, "/api/settings", None).await;
    assert_eq!(s["initPrompts"], json!({"source": "overlay", "value": ["from overlay"]}));
    assert_eq!(s["overlayActive"], true);
    assert_eq!(d.state().sessions.init_prompts(), ["from overlay"]);
    stop(d).await;
}

#[tokio::test]
async fn serve_runs_the_router_on_a_listener_until_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let d = daemon(&dir, "").await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(serve(listener, d.state().clone(), Transport::Tcp, async {
        let _ = stop_rx.await;
    }));
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    conn.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(10), conn.read_to_string(&mut answer))
        .await
        .expect("an answer within 10 s")
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    stop_tx.send(()).unwrap();
    let done = tokio::time::timeout(Duration::from_secs(10), served).await;
    done.expect("serve returns once shutdown completes").unwrap().unwrap();
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "the listener is closed");
    stop(d).await;
}

/// The routes every listener shares know the caller only from the transport the listener puts
/// on each request: one reaching them without it is refused, public or protected, never served
/// as the socket's operator.
#[tokio::test]
async fn the_shared_routes_refuse_a_request_without_its_transport() {
    let dir = tempfile::tempdir().unwrap();
    let d = daemon(&dir, "").await;
    for path in ["/health", "/api/sessions", "/api/no-such-route"] {
        let req = Request::builder().uri(path).header("host", "127.0.0.1").body(Body::empty());
        let res = llmux_server::routed(d.state().clone()).oneshot(req.unwrap()).await.unwrap();
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR, "{path}");
    }
    // The same request through a listener's router is served.
    let (status, _) = call(&d, Transport::Unix, Method::GET, "/api/sessions", None).await;
    assert_eq!(status, StatusCode::OK);
    stop(d).await;
}
