//! Idempotency keys and the prompt queue (issue 19) as attack surface: an anonymous client, a
//! non-admin probing another user's keys and queue items, a process flooding keys.

use serde_json::{Value, json};

use crate::harness::http::{alice_and_bob_each_with_s, call_with};
use crate::harness::{TestDaemon, call};

#[tokio::test]
async fn keys_and_queues_give_nothing_to_others() {
    let d = TestDaemon::builder().user("alice").user("bob").start().await;
    let (alice, bob) = alice_and_bob_each_with_s(&d).await;

    // anonymous: refused before the key is looked at, and the refusal is not remembered
    let key = [("Idempotency-Key", "probe")];
    let (s, _) = d.http(
        "POST",
        "/api/sessions/s/send",
        &[("Idempotency-Key", "probe"), ("Content-Type", "application/json")],
        &json!({"prompt": "anon"}).to_string(),
    );
    assert_eq!(s, 401);
    // alice uses the key later: hers, applied
    let (s, b) =
        call_with(&d, &alice, &key, "POST", "/api/sessions/s/send", json!({"prompt": "mine"}));
    assert_eq!(s, 200, "{b}");

    // bob cannot learn whether alice used a key: the same key and another body is applied
    // for him (not 422, which would tell him the key exists), and he never sees her outcome
    let (s, b) = call_with(&d, &bob, &key, "POST", "/api/sessions/s/send", json!({"prompt": "x"}));
    assert_eq!(s, 200, "{b}");
    let (s, b) = call_with(&d, &bob, &key, "POST", "/api/sessions/s/send", json!({"prompt": "x"}));
    assert_eq!(s, 200, "{b}");

    // bob cannot reach alice's queue items by id, through his own session or hers
    let (s, b) =
        call(&d, &alice, "POST", "/api/sessions/s/send", json!({"prompt": "later", "in": "1h"}));
    assert_eq!(s, 200, "{b}");
    let id = b["queued"]["id"].as_i64().unwrap();
    for path in [format!("/api/sessions/s/queue/{id}"), format!("/api/sessions/s@alice/queue/{id}")]
    {
        assert_eq!(call(&d, &bob, "PATCH", &path, json!({"text": "pwned"})).0, 404, "{path}");
        assert_eq!(call(&d, &bob, "DELETE", &path, Value::Null).0, 404, "{path}");
    }
    let (_, b) = call(&d, &alice, "GET", "/api/sessions/s/queue", Value::Null);
    assert_eq!(b["items"][0]["text"], "later", "{b}");

    // a flood of keys: each is one prompt like any other, and a key that is not a key is 400
    let long = "k".repeat(256);
    for bad in [long.as_str(), "tab\there", "\"unterminated"] {
        let h = [("Idempotency-Key", bad)];
        let (s, _) =
            call_with(&d, &bob, &h, "POST", "/api/sessions/s/send", json!({"prompt": "x"}));
        assert_eq!(s, 400, "{bad:?}");
    }
    // nothing of bob's reached alice's agent
    let screen = d.client.capture("s@alice", 100).await.unwrap().text;
    assert!(!screen.contains("PROMPT[2]") && screen.contains("PROMPT[1]: mine"), "{screen}");
}
