//! The real-agent tier confined (issue 15): Qwen Code and Gemini CLI as a non-admin's agents,
//! in the sandbox on their user's own tmux server, with their settings in the user's sandbox
//! HOME: ready, a prompt answered by the mock model on 127.0.0.1, their state read from that
//! HOME, and nothing left running after a stop.

use super::*;
use crate::harness::http::{call, token};

#[tokio::test]
async fn qwen_confined() {
    confined_scenario(&QWEN).await;
}

#[tokio::test]
async fn gemini_confined() {
    confined_scenario(&GEMINI).await;
}

async fn confined_scenario(spec: &AgentSpec) {
    let Some(bin) = agents_bin(spec) else { return };
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let d = TestDaemon::builder().env("PATH", &path).user("alice").start().await;
    let mock = Mock::start(d.dir());
    let cwd = d.work().join("project");
    git_init(&cwd);
    // The agent's settings where the sandbox gives it its HOME.
    let home = d.paths.state_dir.join("homes/alice");
    std::fs::create_dir_all(&home).unwrap();
    let _sweep = Sweep(home.clone());
    let env: serde_json::Map<String, Value> = (spec.setup)(&home, &cwd, mock.port)
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    let (alice, _) = token(&d, "alice", "user", None).await;
    let body = json!({"agent": spec.key, "name": "conf", "cwd": cwd, "env": env});
    let (status, v) = call(&d, &alice, "POST", "/api/sessions", body);
    assert_eq!(status, 201, "{v}\n{}", d.log());
    assert_eq!(v["session"]["confined"], true, "{v}");
    let name = "conf@alice";
    let ready = poll_state(&d, name, &["idle"], spec.ready, |_| true).await;
    assert!(
        matches!(ready, Poll::Reached(_)),
        "{} never became ready confined; screen:\n{}",
        spec.key,
        screen(&d, name, 60).await
    );
    let body = json!({ "prompt": "say hello", "wait": true, "timeout": TURN.as_secs() });
    let (status, v) =
        api(&d.client, Method::POST, &format!("/api/sessions/{name}/send"), Some(body)).await;
    assert_eq!(status, 200, "{}", brief(&v));
    let reply = v.get("reply").and_then(Value::as_str).unwrap_or_default();
    assert!(reply.contains(REPLY), "reply {reply:?}; screen:\n{}", screen(&d, name, 60).await);
    let (status, _) = call(&d, &alice, "POST", "/api/sessions/conf/stop", Value::Null);
    assert_eq!(status, 200);
    let deadline = Instant::now() + GONE;
    while !agent_procs(&home).is_empty() {
        assert!(Instant::now() < deadline, "left running: {:?}", agent_procs(&home));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
