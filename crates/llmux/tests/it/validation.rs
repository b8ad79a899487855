//! Each rule: the exact status, a JSON `{error}` that says what is wrong, and nothing changed.

use bytes::Bytes;
use hyper::Method;
use serde_json::{Value, json};

use crate::harness::TestDaemon;

/// Sends JSON over the Unix socket; returns status and parsed body.
async fn call(d: &TestDaemon, method: Method, path: &str, body: Value) -> (u16, Value) {
    let body = Some((Bytes::from(body.to_string()), "application/json"));
    let res = d.client.raw(method, path, body, &[]).await.unwrap();
    let json = serde_json::from_slice(&res.body).unwrap_or(Value::Null);
    (res.status.as_u16(), json)
}

async fn create(d: &TestDaemon, body: Value) -> (u16, Value) {
    call(d, Method::POST, "/api/sessions", body).await
}

fn error_text(body: &Value) -> &str {
    body["error"].as_str().unwrap_or_else(|| panic!("no error text in {body}"))
}

#[tokio::test]
async fn create_rejects_bad_input_with_exact_statuses() {
    let d = TestDaemon::start().await;
    let work = d.work().display().to_string();
    let file = d.dir().join("a-file");
    std::fs::write(&file, "x").unwrap();

    let cases: Vec<(Value, u16, &str)> = vec![
        (json!({"agent": "fake", "name": "-bad"}), 400, "invalid session name"),
        (json!({"agent": "fake", "name": "has space"}), 400, "invalid session name"),
        (json!({"agent": "fake", "name": "a/b"}), 400, "invalid session name"),
        (json!({"agent": "fake", "name": "x".repeat(65)}), 400, "invalid session name"),
        (json!({"agent": "fake", "name": ""}), 400, "invalid session name"),
        (json!({"agent": "fake", "name": "ok", "cwd": "/no/such/dir"}), 400, "cwd does not exist"),
        (json!({"agent": "fake", "name": "ok", "cwd": file}), 400, "not a directory"),
        (json!({"agent": "fake", "name": "ok", "cwd": "relative/dir"}), 400, "absolute"),
        (json!({"agent": "fake", "name": "ok", "env": {"1BAD": "x"}}), 400, "invalid env name"),
        (json!({"agent": "fake", "name": "ok", "env": {"A-B": "x"}}), 400, "invalid env name"),
        (json!({"agent": "fake", "name": "ok", "env": {"OK": "a\u{0}b"}}), 400, "NUL"),
        (json!({"agent": "fake", "name": "ok", "env": "NOEQUALS"}), 400, "KEY=VALUE"),
        (
            json!({"agent": "fake", "name": "ok", "flags": "--x \"unbalanced"}),
            400,
            "unbalanced quote",
        ),
        (json!({"agent": "fake", "name": "ok", "flags": "--x 'open"}), 400, "unbalanced quote"),
        (json!({"agent": "nope", "name": "ok"}), 400, "known agents: claude, codex"),
        (
            json!({"agent": "fake", "name": "ok", "resumeFrom": "x; rm -rf /"}),
            400,
            "conversation id",
        ),
        (json!({"agent": "fake", "name": "ok", "bogus": 1}), 400, "unknown field"),
        (json!({"name": "ok"}), 400, "agent"),
        (json!({"agent": 5}), 400, "invalid type"),
        (json!({"agent": "aider", "name": "ok", "cwd": work}), 400, "not installed"),
    ];
    for (body, status, needle) in cases {
        let (got, res) = create(&d, body.clone()).await;
        assert_eq!(got, status, "{body} → {res}");
        assert!(error_text(&res).contains(needle), "{body} → {res} (wanted {needle:?})");
        assert!(res["code"].is_string(), "{res}");
    }
    // nothing was created, in the store or in tmux
    assert!(d.client.list_sessions().await.unwrap().is_empty());
    let ls = d.tmux_sessions();
    assert!(ls.is_empty(), "tmux has sessions: {ls:?}");
}

#[tokio::test]
async fn duplicate_names_conflict() {
    let d = TestDaemon::start().await;
    d.spawn_fake("dup").await;
    let (status, body) = create(&d, json!({"agent": "fake", "name": "dup"})).await;
    assert_eq!(status, 409, "{body}");
    assert!(error_text(&body).contains("already exists"));
    assert_eq!(d.client.list_sessions().await.unwrap().len(), 1);
}

#[tokio::test]
async fn concurrent_creates_of_one_name_yield_one_201_and_one_409() {
    let d = TestDaemon::start().await;
    for round in 0..5 {
        let name = format!("race{round}");
        let body = json!({"agent": "fake", "name": name});
        let (a, b) = tokio::join!(create(&d, body.clone()), create(&d, body.clone()));
        let mut statuses = [a.0, b.0];
        statuses.sort();
        assert_eq!(statuses, [201, 409], "round {round}: {a:?} {b:?}");
    }
    let sessions = d.client.list_sessions().await.unwrap();
    assert_eq!(sessions.len(), 5);
    let tmux = d.tmux_sessions();
    assert_eq!(tmux.len(), 5, "{tmux:?}");
}

#[tokio::test]
async fn tilde_cwd_expands_to_home() {
    let d = TestDaemon::start().await;
    std::fs::create_dir(d.home().join("proj")).unwrap();
    let (status, body) = create(&d, json!({"agent": "fake", "name": "t", "cwd": "~/proj"})).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["session"]["cwd"], d.home().join("proj").display().to_string());
    assert_eq!(body["session"]["cwdDisplay"], "~/proj");
}

#[tokio::test]
async fn env_as_text_lines_is_accepted() {
    let d = TestDaemon::start().await;
    let (status, body) =
        create(&d, json!({"agent": "fake", "name": "e", "env": "# comment\nFAKE_VAR=a=b\n\n"}))
            .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["session"]["env"]["FAKE_VAR"], "a=b");
    d.wait_for_screen("e", "ENV FAKE_VAR=a=b").await;
}

#[tokio::test]
async fn unknown_sessions_are_404_on_every_route() {
    let d = TestDaemon::start().await;
    let cases = [
        (Method::GET, "/api/sessions/ghost", json!(null)),
        (Method::PATCH, "/api/sessions/ghost", json!({"cwd": "/tmp"})),
        (Method::DELETE, "/api/sessions/ghost", json!(null)),
        (Method::POST, "/api/sessions/ghost/send", json!({"prompt": "hi"})),
        (Method::POST, "/api/sessions/ghost/kill", json!(null)),
        (Method::POST, "/api/sessions/ghost/stop", json!(null)),
        (Method::POST, "/api/sessions/ghost/respawn", json!(null)),
        (Method::GET, "/api/sessions/ghost/capture", json!(null)),
    ];
    for (method, path, body) in cases {
        let (status, res) = call(&d, method.clone(), path, body).await;
        assert_eq!(status, 404, "{method} {path} → {res}");
        assert!(error_text(&res).contains("ghost"), "{res}");
    }
    let (status, res) = call(
        &d,
        Method::POST,
        "/api/sessions/broadcast",
        json!({"prompt": "hi", "names": ["ghost"]}),
    )
    .await;
    assert_eq!(status, 404, "{res}");
}

#[tokio::test]
async fn prompts_and_bodies_have_size_limits() {
    let d = TestDaemon::start().await;
    d.spawn_fake("big").await;
    let limit = llmux_api::MAX_PROMPT_BYTES;

    let (status, res) =
        call(&d, Method::POST, "/api/sessions/big/send", json!({"prompt": "x".repeat(limit + 1)}))
            .await;
    assert_eq!(status, 413, "{res}");
    let (status, res) =
        call(&d, Method::POST, "/api/sessions/big/send", json!({"prompt": ""})).await;
    assert_eq!(status, 400, "{res}");

    // a body over the JSON limit
    let huge = json!({"prompt": "x".repeat(llmux_api::MAX_BODY_BYTES + 10)});
    let (status, _) = call(&d, Method::POST, "/api/sessions/big/send", huge).await;
    assert_eq!(status, 413);

    // a prompt right at the limit arrives whole (through a tmux buffer)
    let (status, res) = call(
        &d,
        Method::POST,
        "/api/sessions/big/send",
        json!({"prompt": "y".repeat(limit), "enter": false}),
    )
    .await;
    assert_eq!(status, 200, "{res}");

    // broadcast has the same limit
    let (status, _) =
        call(&d, Method::POST, "/api/sessions/broadcast", json!({"prompt": "x".repeat(limit + 1)}))
            .await;
    assert_eq!(status, 413);
}

#[tokio::test]
async fn malformed_json_and_wrong_content_types_are_refused() {
    let d = TestDaemon::start().await;
    let raw = |body: &'static str, ct: &'static str| {
        let client = d.client.clone();
        async move {
            let res = client
                .raw(Method::POST, "/api/sessions", Some((Bytes::from(body), ct)), &[])
                .await
                .unwrap();
            let json: Value = serde_json::from_slice(&res.body).unwrap();
            (res.status.as_u16(), json)
        }
    };
    let (status, body) = raw("{not json", "application/json").await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].is_string());
    let (status, body) = raw(r#"{"agent":"fake"}"#, "text/plain").await;
    assert_eq!(status, 415, "{body}");
    let (status, _) = raw("[1,2]", "application/json").await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn capture_lines_are_bounded() {
    let d = TestDaemon::start().await;
    d.spawn_fake("cap").await;
    for (q, want) in [("0", 400), ("10001", 400), ("abc", 400), ("5", 200)] {
        let res = d
            .client
            .raw(Method::GET, &format!("/api/sessions/cap/capture?lines={q}"), None, &[])
            .await
            .unwrap();
        assert_eq!(res.status.as_u16(), want, "lines={q}: {}", String::from_utf8_lossy(&res.body));
    }
}

#[tokio::test]
async fn edits_are_validated_and_change_nothing_when_refused() {
    let d = TestDaemon::start().await;
    let before = d.spawn_fake("ed").await;
    let cases = [
        (json!({"name": "bad name"}), 400),
        (json!({"cwd": "/no/such"}), 400),
        (json!({"flags": "'open"}), 400),
        (json!({"env": {"9X": "1"}}), 400),
        (json!({"resumeFrom": "$(reboot)"}), 400),
        (json!({"unknown": true}), 400),
    ];
    for (body, want) in cases {
        let (status, res) = call(&d, Method::PATCH, "/api/sessions/ed", body.clone()).await;
        assert_eq!(status, want, "{body} → {res}");
    }
    let after = d.client.session("ed").await.unwrap();
    assert_eq!(after.pid, before.pid);
    assert_eq!(after.updated_at, before.updated_at);
    assert_eq!(after.flags, before.flags);
}
