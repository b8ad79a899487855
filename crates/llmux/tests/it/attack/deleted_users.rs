//! Finding 11: a deleted user's sessions survived, and passed to a new account of the same
//! name (ownership was a username). Users now have an immutable id that sessions refer to,
//! and deleting a user ends their sessions or hands them to another user (the admin's
//! choice), with their tokens, browser sessions, push subscriptions and opt-ins, in one
//! transaction; the tmux sessions follow once it committed.

use hyper::Method;
use serde_json::json;

use super::{call, names, screen, spawn_as};
use crate::harness::{TestDaemon, local, login_cookie, token, user};

fn tmux(d: &TestDaemon) -> Vec<String> {
    let mut names = d.tmux_sessions();
    names.sort();
    names
}

#[tokio::test]
async fn a_deleted_users_sessions_end_and_a_new_account_of_the_name_gets_nothing() {
    let d = TestDaemon::builder().admin("root").user("alice").start().await;
    let (alice, _) = token(&d, "alice", "user", None).await;
    let cookie = format!("llmux_session={}", login_cookie(&d, "alice"));
    spawn_as(&d, &alice, "work").await;
    call(&d, &alice, "POST", "/api/sessions/work/send", json!({"prompt": "old-alice-secret"}));
    screen(&d, &alice, "work", "old-alice-secret").await;
    assert_eq!(call(&d, &alice, "PUT", "/api/push/sessions/work", json!(null)).0, 200);
    assert_eq!(tmux(&d), ["work@alice"]);

    let (status, body) = local(&d, Method::DELETE, "/api/admin/users/alice", json!(null)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["endedSessions"], json!(["work@alice"]), "{body}");
    assert_eq!(body["revokedTokens"], 1);
    // the session is gone, tmux too
    let (_, all) = local(&d, Method::GET, "/api/sessions", json!(null)).await;
    assert!(names(&all).is_empty(), "{all}");
    assert!(tmux(&d).is_empty(), "{:?}", tmux(&d));
    // her credentials stop working
    assert_eq!(call(&d, &alice, "GET", "/api/auth/whoami", json!(null)).0, 401);
    assert_eq!(call(&d, &cookie, "GET", "/api/auth/whoami", json!(null)).0, 401);

    // a new account of the same name sees nothing and reaches nothing of the old one
    user(&d, "alice", false).await;
    let (again, _) = token(&d, "alice", "user", None).await;
    assert_eq!(call(&d, &alice, "GET", "/api/sessions", json!(null)).0, 401, "old token");
    let (_, list) = call(&d, &again, "GET", "/api/sessions", json!(null));
    assert!(names(&list).is_empty(), "{list}");
    assert_eq!(call(&d, &again, "GET", "/api/sessions/work", json!(null)).0, 404);
    let (_, followed) = call(&d, &again, "GET", "/api/push/sessions", json!(null));
    assert_eq!(followed["sessions"], json!([]), "{followed}");
    let (_, tokens) = call(&d, &again, "GET", "/api/tokens", json!(null));
    assert_eq!(tokens["tokens"].as_array().map(Vec::len), Some(1), "only the new token");
    // her own `work` is a fresh session, not the old one
    spawn_as(&d, &again, "work").await;
    let text = screen(&d, &again, "work", "SIZE ").await;
    assert!(!text.contains("old-alice-secret"), "{text}");
}

#[tokio::test]
async fn an_admin_can_hand_a_deleted_users_sessions_to_another_user() {
    let d = TestDaemon::builder().admin("root").user("alice").user("bob").start().await;
    let (admin, _) = token(&d, "root", "admin", None).await;
    let (alice, _) = token(&d, "alice", "user", None).await;
    let (bob, _) = token(&d, "bob", "user", None).await;
    spawn_as(&d, &alice, "fix").await;
    spawn_as(&d, &alice, "notes").await;
    spawn_as(&d, &bob, "fix").await;
    call(&d, &alice, "POST", "/api/sessions/notes/send", json!({"prompt": "alice-was-here"}));
    screen(&d, &alice, "notes", "alice-was-here").await;

    // bad requests change nothing
    let path = "/api/admin/users/alice";
    for (query, want) in [
        ("?sessions=transfer", 400),
        ("?sessions=sideways", 400),
        ("?to=bob", 400),
        ("?sessions=transfer&to=alice", 400),
        ("?sessions=transfer&to=nobody", 404),
    ] {
        let (status, body) = call(&d, &admin, "DELETE", &format!("{path}{query}"), json!(null));
        assert_eq!(status, want, "{query}: {body}");
        assert!(body["error"].is_string(), "{body}");
    }
    assert_eq!(call(&d, &alice, "GET", "/api/auth/whoami", json!(null)).0, 200, "alice is intact");

    let (status, body) =
        call(&d, &admin, "DELETE", &format!("{path}?sessions=transfer&to=bob"), json!(null));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["transferredSessions"], json!(["fix-2@bob", "notes@bob"]), "{body}");
    assert_eq!(body["endedSessions"], json!([]));
    assert_eq!(call(&d, &alice, "GET", "/api/sessions", json!(null)).0, 401);

    // bob has them under his own names, still running, and drives them
    let (_, list) = call(&d, &bob, "GET", "/api/sessions", json!(null));
    assert_eq!(names(&list), ["fix", "fix-2", "notes"]);
    assert!(
        list.as_array().unwrap().iter().all(|s| s["owner"] == "bob" && s["status"] == "running")
    );
    screen(&d, &bob, "notes", "alice-was-here").await;
    call(&d, &bob, "POST", "/api/sessions/notes/send", json!({"prompt": "bob-now"}));
    screen(&d, &bob, "notes", "bob-now").await;
    assert_eq!(tmux(&d), ["fix-2@bob", "fix@bob", "notes@bob"]);

    // a new alice gets none of it
    user(&d, "alice", false).await;
    let (again, _) = token(&d, "alice", "user", None).await;
    let (_, list) = call(&d, &again, "GET", "/api/sessions", json!(null));
    assert!(names(&list).is_empty(), "{list}");
}

#[tokio::test]
async fn the_cli_deletes_with_end_or_transfer() {
    let d = TestDaemon::builder().admin("root").user("alice").user("bob").start().await;
    let (alice, _) = token(&d, "alice", "user", None).await;
    let (bob, _) = token(&d, "bob", "user", None).await;
    spawn_as(&d, &alice, "a1").await;
    spawn_as(&d, &bob, "b1").await;
    assert_eq!(
        d.cli_ok(&["user", "delete", "alice", "--sessions", "transfer", "--to", "bob", "--yes"]),
        "deleted user \"alice\" (revoked 1 token; handed 1 session to bob)\n"
    );
    assert_eq!(
        d.cli_ok(&["user", "delete", "bob", "--yes"]),
        "deleted user \"bob\" (revoked 1 token; ended 2 sessions)\n"
    );
    assert!(tmux(&d).is_empty(), "{:?}", tmux(&d));
    let out = d.cli(&["user", "delete", "root", "--sessions", "transfer", "--yes"]);
    assert_eq!(out.status.code(), Some(2), "--to is required with transfer");
}
