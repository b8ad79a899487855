//! Issue 19: nothing lost, nothing twice (`Idempotency-Key`), and a queue per session
//! (scheduled prompts that survive a restart; list, move, edit, cancel; owners only).

use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::Method;
use serde_json::{Value, json};

use crate::harness::http::{alice_and_bob_each_with_s, call_with};
use crate::harness::{TestDaemon, call, create_as, token};

/// POSTs JSON over the socket as the local operator with an `Idempotency-Key`; returns
/// (status, body, whether the answer was a replay).
async fn post_key(d: &TestDaemon, path: &str, key: &str, body: Value) -> (u16, Value, bool) {
    let body = Some((Bytes::from(body.to_string()), "application/json"));
    let res = d.client.raw(Method::POST, path, body, &[("Idempotency-Key", key)]).await.unwrap();
    let replayed = res.headers.get("idempotent-replayed").is_some_and(|v| v == "true");
    (res.status.as_u16(), serde_json::from_slice(&res.body).unwrap_or(Value::Null), replayed)
}

/// How many times the fake agent received `text` as a prompt.
fn prompts_of(screen: &str, text: &str) -> usize {
    let needle = format!("]: {text}");
    screen.lines().filter(|l| l.starts_with("PROMPT[") && l.trim_end().ends_with(&needle)).count()
}

/// Types a marker prompt and waits for it: everything sent before it has arrived.
async fn settle(d: &TestDaemon, name: &str, marker: &str) -> String {
    d.client.send(name, marker, true).await.unwrap();
    d.wait_for_screen(name, &format!("]: {marker}")).await
}

#[tokio::test]
async fn the_same_key_twice_types_once_and_answers_the_first_outcome() {
    let d = TestDaemon::start().await;
    d.spawn_fake("a").await;
    let body = json!({"prompt": "only-once"});
    let (s1, b1, r1) = post_key(&d, "/api/sessions/a/send", "k-1", body.clone()).await;
    assert_eq!(s1, 200, "{b1}");
    assert!(!r1);
    assert!(b1["deliveredAt"].as_str().is_some_and(|t| t.ends_with('Z')), "{b1}");
    let (s2, b2, r2) = post_key(&d, "/api/sessions/a/send", "k-1", body).await;
    assert_eq!((s2, &b2), (200, &b1), "a repeat answers the first outcome");
    assert!(r2, "marked as replayed");
    // the quoted form of the draft is the same key
    let (s3, _, r3) =
        post_key(&d, "/api/sessions/a/send", "\"k-1\"", json!({"prompt": "only-once"})).await;
    assert_eq!(s3, 200);
    assert!(r3);
    let screen = settle(&d, "a", "marker-1").await;
    assert_eq!(prompts_of(&screen, "only-once"), 1, "{screen}");

    // another request under a used key: 422, and nothing typed
    let (s, b, _) = post_key(&d, "/api/sessions/a/send", "k-1", json!({"prompt": "other"})).await;
    assert_eq!(s, 422, "{b}");
    assert_eq!(b["code"], "idempotency_key_reused");
    let (s, _, _) = post_key(&d, "/api/sessions/a/key", "k-1", json!({"key": "Enter"})).await;
    assert_eq!(s, 422, "another route under the same key");
    // keys on the other acting routes
    let (s, b, _) = post_key(&d, "/api/sessions/a/key", "k-2", json!({"key": "x"})).await;
    assert_eq!(s, 200, "{b}");
    assert!(b["deliveredAt"].is_string(), "{b}");
    let (s, _, r) = post_key(&d, "/api/sessions/a/key", "k-2", json!({"key": "x"})).await;
    assert_eq!(s, 200);
    assert!(r);
    let (s, b, _) =
        post_key(&d, "/api/sessions/broadcast", "k-4", json!({"prompt": "to-all", "names": ["a"]}))
            .await;
    assert_eq!(s, 200, "{b}");
    let (_, _, r) =
        post_key(&d, "/api/sessions/broadcast", "k-4", json!({"prompt": "to-all", "names": ["a"]}))
            .await;
    assert!(r);
    // one `x` (k-2 typed it once), then the broadcast's text and Enter
    let screen = settle(&d, "a", "marker-2").await;
    assert_eq!(prompts_of(&screen, "xto-all"), 1, "one x, one broadcast: {screen}");
    assert_eq!(prompts_of(&screen, "only-once"), 1, "{screen}");
    // the key survives a restart
    let mut d = d;
    d.restart().await;
    let (s, _, r) =
        post_key(&d, "/api/sessions/a/send", "k-1", json!({"prompt": "only-once"})).await;
    assert_eq!(s, 200);
    assert!(r, "remembered in the store");
    let screen = settle(&d, "a", "marker-3").await;
    assert_eq!(prompts_of(&screen, "only-once"), 1, "{screen}");
    // interrupt (Escape) too: acknowledged, replayed
    let (s, b, _) = post_key(&d, "/api/sessions/a/interrupt", "k-3", Value::Null).await;
    assert_eq!(s, 200, "{b}");
    assert!(b["deliveredAt"].is_string(), "{b}");
    let (s, _, r) = post_key(&d, "/api/sessions/a/interrupt", "k-3", Value::Null).await;
    assert_eq!(s, 200);
    assert!(r);
}

#[tokio::test]
async fn bad_keys_are_refused_and_failures_are_not_remembered() {
    let d = TestDaemon::start().await;
    d.spawn_fake("a").await;
    for bad in ["", "\"\"", "\"open", &"k".repeat(256)] {
        let (s, b, _) = post_key(&d, "/api/sessions/a/send", bad, json!({"prompt": "no"})).await;
        assert_eq!(s, 400, "{bad:?}: {b}");
        assert_eq!(b["code"], "invalid_idempotency_key");
    }
    let (s, _, _) =
        post_key(&d, "/api/sessions/a/send", &"k".repeat(255), json!({"prompt": "max"})).await;
    assert_eq!(s, 200, "255 characters are allowed");
    // a failure (no such session) is not remembered: the same key may try again
    let (s, _, _) = post_key(&d, "/api/sessions/b/send", "k-late", json!({"prompt": "late"})).await;
    assert_eq!(s, 404);
    d.spawn_fake("b").await;
    let (s, b, r) = post_key(&d, "/api/sessions/b/send", "k-late", json!({"prompt": "late"})).await;
    assert_eq!(s, 200, "{b}");
    assert!(!r);
    let screen = settle(&d, "b", "marker").await;
    assert_eq!(prompts_of(&screen, "no"), 0, "{screen}");
    assert_eq!(prompts_of(&screen, "late"), 1, "{screen}");
}

#[tokio::test]
async fn one_users_keys_do_not_touch_anothers() {
    let d = TestDaemon::builder().user("alice").user("bob").start().await;
    let (alice, bob) = alice_and_bob_each_with_s(&d).await;
    let key = [("Idempotency-Key", "shared-key")];
    let (s, b) =
        call_with(&d, &alice, &key, "POST", "/api/sessions/s/send", json!({"prompt": "from-a"}));
    assert_eq!(s, 200, "{b}");
    // the same key and the same request by bob: applied for bob, not replayed from alice
    let (s, b) =
        call_with(&d, &bob, &key, "POST", "/api/sessions/s/send", json!({"prompt": "from-a"}));
    assert_eq!(s, 200, "{b}");
    // and another body under it is not 422 for bob: his keys are his own
    let key2 = [("Idempotency-Key", "alice-only")];
    call_with(&d, &alice, &key2, "POST", "/api/sessions/s/send", json!({"prompt": "a2"}));
    let (s, b) =
        call_with(&d, &bob, &key2, "POST", "/api/sessions/s/send", json!({"prompt": "b2"}));
    assert_eq!(s, 200, "{b}");
    let alice_screen = settle(&d, "s@alice", "end-a").await;
    let bob_screen = settle(&d, "s@bob", "end-b").await;
    assert_eq!(prompts_of(&alice_screen, "from-a"), 1, "{alice_screen}");
    assert_eq!(prompts_of(&bob_screen, "from-a"), 1, "{bob_screen}");
    assert_eq!(prompts_of(&bob_screen, "b2"), 1, "{bob_screen}");
    assert_eq!(prompts_of(&alice_screen, "b2"), 0, "{alice_screen}");
}

/// Polls the session's queue (as the local operator) until `done` holds.
async fn wait_queue(d: &TestDaemon, name: &str, what: &str, done: impl Fn(&[Value]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let res = d.client.queue(name).await.unwrap();
        let items: Vec<Value> =
            res.items.iter().map(|i| serde_json::to_value(i).unwrap()).collect();
        if done(&items) {
            return;
        }
        assert!(Instant::now() < deadline, "queue of {name} never {what}: {items:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn scheduled_prompts_are_typed_once_after_a_restart() {
    let mut d = TestDaemon::start().await;
    d.spawn_fake("a").await;
    let out = d.cli_ok(&["session", "prompt", "a", "--in", "2s", "later-in"]);
    assert!(out.contains("queued #"), "{out}");
    let at = llmux_core::time::rfc3339_ms(llmux_core::time::now_ms() + 2_500);
    let out = d.cli_ok(&["session", "prompt", "a", "--at", &at, "later-at"]);
    assert!(out.contains("queued #"), "{out}");
    let listed = d.cli_ok(&["session", "queue", "a"]);
    assert!(listed.contains("later-in") && listed.contains("later-at"), "{listed}");
    let view = d.client.session("a").await.unwrap();
    assert_eq!(view.queued, 2, "the session shows its queue's length");
    // the daemon goes down before either is due, and comes back
    d.restart().await;
    d.wait_for_screen("a", "]: later-in").await;
    d.wait_for_screen("a", "]: later-at").await;
    wait_queue(&d, "a", "emptied", |items| items.is_empty()).await;
    let screen = settle(&d, "a", "marker").await;
    assert_eq!(prompts_of(&screen, "later-in"), 1, "{screen}");
    assert_eq!(prompts_of(&screen, "later-at"), 1, "{screen}");
    assert_eq!(d.client.session("a").await.unwrap().queued, 0);
    // bad schedules
    for args in [&["--in", "soon"][..], &["--at", "tomorrow"][..], &["--in", "31d"][..]] {
        let mut all = vec!["session", "prompt", "a"];
        all.extend_from_slice(args);
        all.push("x");
        let out = d.cli(&all);
        assert!(!out.status.success(), "{args:?}");
    }
    let (s, b) = crate::harness::local(
        &d,
        Method::POST,
        "/api/sessions/a/send",
        json!({"prompt": "x", "in": "1m", "wait": true}),
    )
    .await;
    assert_eq!(s, 400, "{b}");
}

#[tokio::test]
async fn the_owner_reorders_edits_and_cancels_others_cannot() {
    let d = TestDaemon::builder().user("alice").user("bob").start().await;
    let (alice, _) = token(&d, "alice", "user", None).await;
    let (bob, _) = token(&d, "bob", "user", None).await;
    let (ro, _) = token(&d, "alice", "read-only", None).await;
    assert_eq!(create_as(&d, &alice, "s").0, 201);
    d.wait_for_screen("s@alice", "SIZE").await;
    let mut ids = Vec::new();
    for text in ["one", "two", "three"] {
        let (s, b) =
            call(&d, &alice, "POST", "/api/sessions/s/send", json!({"prompt": text, "in": "1h"}));
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["queued"]["text"], text, "{b}");
        assert!(b.get("deliveredAt").is_none(), "not typed yet: {b}");
        ids.push(b["queued"]["id"].as_i64().unwrap());
    }
    let texts = |b: &Value| -> Vec<String> {
        b["items"].as_array().unwrap().iter().map(|i| i["text"].as_str().unwrap().into()).collect()
    };
    let (s, b) = call(&d, &alice, "GET", "/api/sessions/s/queue", Value::Null);
    assert_eq!(s, 200, "{b}");
    assert_eq!(texts(&b), ["one", "two", "three"]);
    assert_eq!(b["session"], "s");
    // move three to the front, edit two, cancel one
    let path = |id: i64| format!("/api/sessions/s/queue/{id}");
    let (s, b) = call(&d, &alice, "PATCH", &path(ids[2]), json!({"to": 1}));
    assert_eq!((s, b["place"].as_u64()), (200, Some(1)), "{b}");
    let (s, b) = call(&d, &alice, "PATCH", &path(ids[1]), json!({"text": "TWO"}));
    assert_eq!(s, 200, "{b}");
    let (s, b) = call(&d, &alice, "DELETE", &path(ids[0]), Value::Null);
    assert_eq!(s, 200, "{b}");
    let (_, b) = call(&d, &alice, "GET", "/api/sessions/s/queue", Value::Null);
    assert_eq!(texts(&b), ["three", "TWO"]);
    // bad edits
    assert_eq!(call(&d, &alice, "PATCH", &path(ids[1]), json!({"to": 0})).0, 400);
    assert_eq!(call(&d, &alice, "PATCH", &path(ids[1]), json!({})).0, 400);
    assert_eq!(call(&d, &alice, "PATCH", &path(ids[1]), json!({"text": ""})).0, 400);
    assert_eq!(call(&d, &alice, "DELETE", &path(ids[0]), Value::Null).0, 404, "gone");
    assert_eq!(call(&d, &alice, "DELETE", "/api/sessions/s/queue/x", Value::Null).0, 400);
    // bob sees no such session; alice's read-only token may look, not change
    assert_eq!(call(&d, &bob, "GET", "/api/sessions/s@alice/queue", Value::Null).0, 404);
    assert_eq!(
        call(&d, &bob, "PATCH", &path(ids[1]).replace("/s/", "/s@alice/"), json!({"to": 1})).0,
        404
    );
    assert_eq!(
        call(&d, &bob, "DELETE", &path(ids[1]).replace("/s/", "/s@alice/"), Value::Null).0,
        404
    );
    assert_eq!(
        call(&d, &bob, "POST", "/api/sessions/s@alice/send", json!({"prompt": "x", "in": "1h"})).0,
        404
    );
    // bob's own session does not reach alice's items by id
    assert_eq!(create_as(&d, &bob, "s").0, 201);
    assert_eq!(call(&d, &bob, "DELETE", &path(ids[1]), Value::Null).0, 404);
    assert_eq!(call(&d, &ro, "GET", "/api/sessions/s/queue", Value::Null).0, 200);
    assert_eq!(call(&d, &ro, "DELETE", &path(ids[1]), Value::Null).0, 403);
    let (_, b) = call(&d, &alice, "GET", "/api/sessions/s/queue", Value::Null);
    assert_eq!(texts(&b), ["three", "TWO"], "nothing changed by the refusals");
    // the CLI: list, move, edit, cancel (as the operator, in full names)
    let out = d.cli_ok(&["session", "queue", "s@alice"]);
    assert!(out.contains("three") && out.contains("TWO"), "{out}");
    let id = ids[1].to_string();
    d.cli_ok(&["session", "queue", "s@alice", "--move", &id, "--to", "1"]);
    d.cli_ok(&["session", "queue", "s@alice", "--edit", &id, "two", "again"]);
    let (_, b) = call(&d, &alice, "GET", "/api/sessions/s/queue", Value::Null);
    assert_eq!(texts(&b), ["two again", "three"]);
    d.cli_ok(&["session", "queue", "s@alice", "--cancel", &id]);
    let (_, b) = call(&d, &alice, "GET", "/api/sessions/s/queue", Value::Null);
    assert_eq!(texts(&b), ["three"]);
    // removing the session drops its queue
    d.cli_ok(&["session", "rm", "--force", "s@alice"]);
    assert_eq!(create_as(&d, &alice, "s").0, 201);
    let (_, b) = call(&d, &alice, "GET", "/api/sessions/s/queue", Value::Null);
    assert_eq!(texts(&b), Vec::<String>::new());
}

#[tokio::test]
async fn a_rate_limit_is_shown_and_after_limit_continues_once_it_resets() {
    let d = TestDaemon::start().await;
    d.spawn_fakeq("q", &[], &[]).await;
    d.wait_for_state("q", llmux_api::AgentState::Idle).await;
    let mut events = d.client.events().await.unwrap();
    d.client.send("q", "please limit 4", true).await.unwrap();
    let view = d.wait_for_state("q", llmux_api::AgentState::Limited).await;
    let resets = view.resets_at.clone().expect("the reset time is read");
    let resets_ms = llmux_core::time::parse_rfc3339_ms(&resets).unwrap();
    let out = d.cli_ok(&["session", "prompt", "q", "--after-limit"]);
    assert!(out.contains("after the rate limit"), "{out}");
    assert_eq!(d.client.session("q").await.unwrap().queued, 1);
    // still limited a moment later: nothing typed yet
    tokio::time::sleep(Duration::from_millis(500)).await;
    let screen = d.client.capture("q", 50).await.unwrap().text;
    assert!(!screen.contains("Reply to: continue"), "{screen}");
    // once reset: idle, "continue" typed once
    d.wait_for_screen("q", "Reply to: continue").await;
    assert!(llmux_core::time::now_ms() >= resets_ms, "typed only after the reset ({resets})");
    wait_queue(&d, "q", "emptied", |items| items.is_empty()).await;
    let screen = d.client.capture("q", 100).await.unwrap().text;
    assert_eq!(screen.matches("Reply to: continue").count(), 1, "{screen}");
    // the state events said limited (with the reset time), then not
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut saw_limited = false;
    while Instant::now() < deadline && !saw_limited {
        let ev = tokio::time::timeout(Duration::from_secs(5), events.next()).await;
        let Ok(Some(Ok(ev))) = ev else { break };
        if let llmux_client::SessionEvent::State(s) = ev
            && s.state == llmux_api::AgentState::Limited
        {
            assert_eq!(s.resets_at.as_deref(), Some(resets.as_str()));
            saw_limited = true;
        }
    }
    assert!(saw_limited, "a limited state event was sent");
}

#[tokio::test]
async fn a_repeat_while_the_first_is_in_flight_is_409_then_replayed() {
    let d = TestDaemon::start().await;
    // the fake Qwen is blank for 3 s: a prompt sent meanwhile is held until it is ready
    d.spawn_fakeq("slow", &[("FAKE_STARTUP_MS", "3000")], &[]).await;
    let first = {
        let client = d.client.clone();
        tokio::spawn(async move {
            let body =
                Some((Bytes::from(json!({"prompt": "held"}).to_string()), "application/json"));
            client
                .raw(
                    Method::POST,
                    "/api/sessions/slow/send",
                    body,
                    &[("Idempotency-Key", "k-held")],
                )
                .await
                .unwrap()
        })
    };
    // the first is held (the agent is starting): the same key again meanwhile is 409
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (second, b, _) =
        post_key(&d, "/api/sessions/slow/send", "k-held", json!({"prompt": "held"})).await;
    let res = first.await.unwrap();
    let mut statuses = [res.status.as_u16(), second];
    statuses.sort();
    assert_eq!(statuses, [200, 409], "one applied, one refused while in flight: {b}");
    if second == 409 {
        assert_eq!(b["code"], "idempotency_in_flight", "{b}");
    }
    let (s, _, replayed) =
        post_key(&d, "/api/sessions/slow/send", "k-held", json!({"prompt": "held"})).await;
    assert_eq!(s, 200);
    assert!(replayed);
    d.wait_for_screen("slow", "Reply to: held").await;
    let screen = d.client.capture("slow", 100).await.unwrap().text;
    assert_eq!(screen.matches("Reply to: held").count(), 1, "{screen}");
}

/// Polls session `name`'s queue until `done(waiting)`; returns that list.
async fn wait_waiting(
    d: &TestDaemon,
    name: &str,
    what: &str,
    done: impl Fn(&[llmux_api::WaitingPrompt]) -> bool,
) -> Vec<llmux_api::WaitingPrompt> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let q = d.client.queue(name).await.unwrap();
        if done(&q.waiting) {
            return q.waiting;
        }
        assert!(Instant::now() < deadline, "{what}: never seen; waiting {:?}", q.waiting);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn prompts_waiting_their_turn_are_listed_with_the_queue_until_typed() {
    let d = TestDaemon::start().await;

    // Sent while the agent starts: held, and listed as such.
    let req = llmux_api::CreateSessionRequest {
        agent: "fake".into(),
        name: Some("w".into()),
        cwd: Some(d.work().display().to_string()),
        ..Default::default()
    };
    d.client.create_session(&req).await.unwrap();
    let client = d.client.clone();
    let early = tokio::spawn(async move { client.send("w", "early-bird", true).await });
    let seen = wait_waiting(&d, "w", "a prompt held while starting", |w| !w.is_empty()).await;
    assert_eq!(seen[0].text, "early-bird");
    assert_eq!(seen[0].reason, "starting", "{seen:?}");
    let view = d.client.session("w").await.unwrap();
    assert!(view.queued >= 1, "the session counts it: {view:?}");
    early.await.unwrap().unwrap();
    d.wait_for_screen("w", "]: early-bird").await;

    // Three senders at once: those behind the first are listed in order, then typed.
    let sends: Vec<_> = ["one", "two", "three"]
        .into_iter()
        .map(|t| {
            let client = d.client.clone();
            tokio::spawn(async move { client.send("w", t, true).await })
        })
        .collect();
    let behind =
        wait_waiting(&d, "w", "prompts behind another", |w| w.iter().any(|x| x.reason == "behind"))
            .await;
    assert!(
        behind.iter().all(|x| ["one", "two", "three"].contains(&x.text.as_str())),
        "{behind:?}"
    );
    for s in sends {
        s.await.unwrap().unwrap();
    }
    wait_waiting(&d, "w", "nothing left waiting", <[_]>::is_empty).await;
    let screen = d.wait_for_screen("w", "]: three").await;
    for t in ["one", "two", "three"] {
        assert_eq!(prompts_of(&screen, t), 1, "{t} typed once:\n{screen}");
    }
    assert_eq!(d.client.session("w").await.unwrap().queued, 0);
}
