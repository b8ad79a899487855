//! Issue 19: a session's after-limit setting. Whenever its agent stops at a rate limit, its
//! text is queued and typed once the limit has reset; set at start and by edit (CLI and API),
//! shown in the view, kept across a daemon restart, only the owner's to change; and the
//! session's followers are told when it was typed (push and webhook).

use std::time::{Duration, Instant};

use llmux_api::AgentState;
use serde_json::{Value, json};

use crate::harness::{TestDaemon, call, token};

/// How many after-limit texts the daemon has queued and typed so far (its log; the fake
/// agent redraws its whole history, so the screen's scrollback repeats every line).
fn counts(d: &TestDaemon) -> (usize, usize) {
    let log = d.log();
    (
        log.matches("the after-limit text is queued").count(),
        log.matches("queued prompt typed").count(),
    )
}

/// Polls until the daemon has typed `n` queued prompts.
async fn wait_typed(d: &TestDaemon, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while counts(d).1 < n {
        assert!(Instant::now() < deadline, "never {n} typed: {:?}\n{}", counts(d), d.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Hits a limit of `secs` seconds and waits until the agent is limited and then idle again.
async fn limit_and_reset(d: &TestDaemon, name: &str, secs: u32) {
    d.client.send(name, &format!("please limit {secs}"), true).await.unwrap();
    let view = d.wait_for_state(name, AgentState::Limited).await;
    assert!(view.resets_at.is_some(), "{view:?}");
    let deadline = Instant::now() + Duration::from_secs(u64::from(secs) + 15);
    while d.client.session(name).await.unwrap().state != AgentState::Idle {
        assert!(Instant::now() < deadline, "{name} never idle after its limit");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_setting_types_its_text_after_each_limit_and_survives_a_restart() {
    let mut d = TestDaemon::start().await;
    let work = d.work().display().to_string();
    d.cli_ok(&[
        "session",
        "start",
        "fakeq",
        "--name",
        "q",
        "--cwd",
        &work,
        "--after-limit",
        "go on",
    ]);
    assert_eq!(d.client.session("q").await.unwrap().after_limit.as_deref(), Some("go on"));
    let shown = d.cli_ok(&["session", "show", "q"]);
    assert!(shown.contains("after limit types \"go on\""), "{shown}");
    d.wait_for_state("q", AgentState::Idle).await;

    // a limit: the text waits in the queue (after the limit), then is typed once
    d.client.send("q", "please limit 3", true).await.unwrap();
    d.wait_for_state("q", AgentState::Limited).await;
    let queue = d.client.queue("q").await.unwrap();
    assert_eq!(queue.items.len(), 1, "{queue:?}");
    assert!(queue.items[0].after_limit && queue.items[0].text == "go on", "{queue:?}");
    assert_eq!(counts(&d), (1, 0), "not typed before the reset");
    wait_typed(&d, 1).await;
    d.wait_for_screen("q", "Reply to: go on").await;

    // the next limit: once more (a restart in between keeps the setting, and the old
    // message still on screen is not a new limit)
    d.wait_for_state("q", AgentState::Idle).await;
    d.restart().await;
    assert_eq!(d.client.session("q").await.unwrap().after_limit.as_deref(), Some("go on"));
    d.wait_for_state("q", AgentState::Idle).await;
    assert_eq!(counts(&d), (1, 1));
    d.client.send("q", "please limit 2", true).await.unwrap();
    wait_typed(&d, 2).await;
    assert_eq!(counts(&d), (2, 2));
    assert!(d.client.queue("q").await.unwrap().items.is_empty());

    // edited: a new text, then off
    d.cli_ok(&["session", "edit", "q", "--after-limit"]);
    assert_eq!(d.client.session("q").await.unwrap().after_limit.as_deref(), Some("continue"));
    d.cli_ok(&["session", "edit", "q", "--no-after-limit"]);
    assert_eq!(d.client.session("q").await.unwrap().after_limit, None);
    d.wait_for_state("q", AgentState::Idle).await;
    limit_and_reset(&d, "q", 1).await;
    // idle after the reset with nothing queued: nothing more will be typed
    assert!(d.client.queue("q").await.unwrap().items.is_empty());
    assert_eq!(counts(&d), (2, 2));
}

#[tokio::test]
async fn the_api_sets_it_for_owners_only_and_refuses_an_empty_text() {
    let d = TestDaemon::builder().user("alice").user("bob").start().await;
    let (alice, _) = token(&d, "alice", "user", None).await;
    let (bob, _) = token(&d, "bob", "user", None).await;
    let body = json!({"agent": "fakeq", "name": "s", "cwd": d.work(), "afterLimit": ""});
    let (code, res) = call(&d, &alice, "POST", "/api/sessions", body);
    assert_eq!(code, 400, "{res}");
    assert!(res["error"].as_str().unwrap().contains("afterLimit"), "{res}");
    let body = json!({"agent": "fakeq", "name": "s", "cwd": d.work(), "afterLimit": "continue"});
    let (code, res) = call(&d, &alice, "POST", "/api/sessions", body);
    assert_eq!((code, res["session"]["afterLimit"].as_str()), (201, Some("continue")), "{res}");
    // bob can neither see nor change it
    let (code, _) = call(&d, &bob, "PATCH", "/api/sessions/s@alice", json!({"afterLimit": null}));
    assert_eq!(code, 404);
    let (_, res) = call(&d, &alice, "GET", "/api/sessions/s", Value::Null);
    assert_eq!(res["afterLimit"], "continue");
    // the owner changes and clears it; absent leaves it alone
    let (code, res) = call(&d, &alice, "PATCH", "/api/sessions/s", json!({"afterLimit": "next"}));
    assert_eq!((code, res["session"]["afterLimit"].as_str()), (200, Some("next")), "{res}");
    let (_, res) = call(&d, &alice, "PATCH", "/api/sessions/s", json!({"initPrompts": []}));
    assert_eq!(res["session"]["afterLimit"], "next", "{res}");
    let (code, res) = call(&d, &alice, "PATCH", "/api/sessions/s", json!({"afterLimit": null}));
    assert_eq!(code, 200);
    assert!(res["session"].get("afterLimit").is_none(), "{res}");
    let (code, _) = call(&d, &alice, "PATCH", "/api/sessions/s", json!({"afterLimit": " "}));
    assert_eq!(code, 400);
}

/// An agent that says it retries after a limit by itself (as OpenCode does) is `limited` with
/// the reset it names while it waits, goes on alone, and is not told to continue.
#[tokio::test]
async fn an_agent_retrying_by_itself_is_limited_and_not_told_to_continue() {
    let d = TestDaemon::start().await;
    d.spawn_fakeq("r", &[], &[]).await;
    let on = llmux_api::EditSessionRequest {
        after_limit: Some(Some("continue".into())),
        ..Default::default()
    };
    d.client.edit_session("r", &on).await.unwrap();
    d.wait_for_state("r", AgentState::Idle).await;
    d.client.send("r", "please retry 3", true).await.unwrap();
    let view = d.wait_for_state("r", AgentState::Limited).await;
    let resets = view.resets_at.as_deref().and_then(llmux_core::time::parse_rfc3339_ms);
    let now = llmux_core::time::now_ms();
    assert!(resets.is_some_and(|t| t > now && t <= now + 4_000), "{view:?}");
    d.wait_for_screen("r", "Reply to: please retry 3").await;
    d.wait_for_state("r", AgentState::Idle).await;
    assert!(d.client.queue("r").await.unwrap().items.is_empty());
    assert_eq!(counts(&d), (0, 0), "nothing queued or typed");
}
