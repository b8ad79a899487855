//! Issue 19 with a real CLI: Gemini CLI at a rate limit (the mock answers HTTP 429 as the
//! Gemini API does), through the daemon: `limited` with the reset its dialog shows, the
//! dialogs answered "Stop" through the API, `limited` on the idle screen it leaves, and the
//! session's after-limit text queued for the reset. The reset itself is not waited for: Gemini
//! CLI retries silently below 300 s (`MAX_RETRYABLE_DELAY_SECONDS`) and shows its dialog only
//! for a longer limit; typing at the reset is tested with the fake agent (`after_limit.rs`).
//! (Qwen Code retries silently and shows nothing limit-like: no scenario for it.)

use super::*;

/// Seconds to the reset: over Gemini CLI's 300 s of silent retries, so it shows its dialog.
const RESET_SECS: u64 = 3600;

#[tokio::test]
async fn gemini_limit_is_limited_and_queues_the_after_limit_text() {
    let spec = &GEMINI;
    let Some(bin) = agents_bin(spec) else { return };
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let d = TestDaemon::builder().env("PATH", &path).start().await;
    let mock = Mock::start(d.dir());
    let cwd = d.work().join("project");
    git_init(&cwd);
    let home = d.work().join("home-gemini");
    let _sweep = Sweep(home.clone());
    let env: serde_json::Map<String, Value> = (spec.setup)(&home, &cwd, mock.port)
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    let body = json!({"agent": "gemini", "name": "lim", "cwd": cwd, "env": env,
        "afterLimit": "continue"});
    let (status, v) = api(&d.client, Method::POST, "/api/sessions", Some(body)).await;
    assert_eq!(status, 201, "{v}");
    let idle = poll_state(&d, "lim", &["idle"], spec.ready, |_| true).await;
    assert!(matches!(idle, Poll::Reached(_)), "never ready: {}", screen(&d, "lim", 60).await);

    let prompt = json!({"prompt": format!("please limit {RESET_SECS}")});
    let (status, v) = api(&d.client, Method::POST, "/api/sessions/lim/send", Some(prompt)).await;
    assert_eq!(status, 200, "{v}");
    // its dialog: limited, with the reset it shows, and the choices answerable
    let Poll::Reached(v) =
        poll_state(&d, "lim", &["limited"], TURN, |v| v.get("prompt").is_some()).await
    else {
        panic!("no limit dialog: {}", screen(&d, "lim", 60).await);
    };
    let resets = v["resetsAt"].as_str().and_then(llmux_core::time::parse_rfc3339_ms);
    let now = llmux_core::time::now_ms();
    assert!(
        resets.is_some_and(|t| t > now && t <= now + (RESET_SECS as i64 + 60) * 1000),
        "resetsAt {:?}",
        v["resetsAt"]
    );
    // answer "Stop" to each dialog (the router's model, then the main one)
    for _ in 0..3 {
        let v = view(&d, "lim").await;
        let Some(options) = v["prompt"]["options"].as_array() else { break };
        let Some(stop) = options.iter().position(|o| o["label"] == "Stop") else { break };
        let answer = json!({"option": stop + 1});
        let (status, r) =
            api(&d.client, Method::POST, "/api/sessions/lim/answer", Some(answer)).await;
        assert_eq!(status, 200, "{r}");
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
    // the error it leaves on the idle screen: still limited, the text waits in the queue
    let Poll::Reached(v) =
        poll_state(&d, "lim", &["limited"], TURN, |v| v.get("prompt").is_none()).await
    else {
        panic!("not limited after Stop: {}", screen(&d, "lim", 60).await);
    };
    assert!(v["resetsAt"].is_string(), "{v}");
    let queue = d.client.queue("lim").await.unwrap();
    assert!(queue.items.iter().any(|i| i.after_limit && i.text == "continue"), "{queue:?}");
    // not before the reset: still queued, nothing typed
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(d.client.queue("lim").await.unwrap().items.len(), 1);
    assert!(!mock.actions().iter().any(|a| a.contains(REPLY)), "{:?}", mock.actions());
}
