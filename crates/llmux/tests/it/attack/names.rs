//! Finding 10: other users' session names leaked. `GET /api/sessions/admin-secret` said 404,
//! but creating or renaming a session to that name said 409 "already exists", the agent
//! catalog counted everyone's running sessions, and `/health` gave the session count to
//! anyone. Names are now unique per owner (`NAME@USER` in full, see
//! `llmux_core::sessions::names`): a non-admin's every answer is the same whether or not
//! someone else has a session of that name.

use std::io::{Read, Write};
use std::time::Duration;

use hyper::Method;
use serde_json::{Value, json};

use super::{call, names, screen, spawn_as};
use crate::harness::{TestDaemon, local, token};

/// The status of a WebSocket upgrade to `/ws/NAME` (the connection is dropped after it).
fn attach_status(d: &TestDaemon, token: &str, name: &str) -> u16 {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", d.port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let req = format!(
        "GET /ws/{name} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAuthorization: Bearer {token}\r\n\
         Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        d.port
    );
    stream.write_all(req.as_bytes()).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n") {
        assert_eq!(stream.read(&mut byte).unwrap(), 1, "no status line");
        head.push(byte[0]);
    }
    let line = String::from_utf8_lossy(&head).into_owned();
    line.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status line")
}

/// The first `event: sessions` of `/api/events`: the session list pushed to `token`.
fn first_event(d: &TestDaemon, token: &str) -> Value {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", d.port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let req = format!(
        "GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAuthorization: Bearer {token}\r\n\r\n",
        d.port
    );
    stream.write_all(req.as_bytes()).unwrap();
    let mut text = String::new();
    let mut buf = [0u8; 4096];
    while !text.contains("event: sessions")
        || !text.split("event: sessions").nth(1).unwrap().contains("\n\n")
    {
        let n = stream.read(&mut buf).expect("read the event stream");
        assert!(n > 0, "the stream ended: {text}");
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    let data = text.split("event: sessions").nth(1).unwrap();
    let line = data.lines().find_map(|l| l.strip_prefix("data:")).expect("a data line");
    serde_json::from_str(line.trim()).unwrap()
}

/// What alice can learn about a name, with the name itself blanked out of every answer.
fn probe(d: &TestDaemon, alice: &str, name: &str) -> Vec<String> {
    let mut seen = Vec::new();
    let mut note = |what: &str, (status, body): (u16, Value)| {
        let body = body.to_string().replace(name, "NAME");
        seen.push(format!("{what}: {status} {body}"));
    };
    for form in [name.to_owned(), format!("{name}@"), format!("{name}@root")] {
        let form = form.as_str();
        note("get", call(d, alice, "GET", &format!("/api/sessions/{form}"), json!(null)));
        note(
            "prompt",
            call(d, alice, "POST", &format!("/api/sessions/{form}/send"), json!({"prompt": "hi"})),
        );
        note(
            "capture",
            call(d, alice, "GET", &format!("/api/sessions/{form}/capture"), json!(null)),
        );
        note("attach", (attach_status(d, alice, form), Value::Null));
        note("follow", call(d, alice, "PUT", &format!("/api/push/sessions/{form}"), json!(null)));
    }
    // renaming her own session to the name, and back
    let named = |(status, body): (u16, Value)| (status, body["session"]["name"].clone());
    note("rename", named(call(d, alice, "PATCH", "/api/sessions/mine", json!({"name": name}))));
    let back = call(d, alice, "PATCH", &format!("/api/sessions/{name}"), json!({"name": "mine"}));
    note("rename back", named(back));
    // creating a session of that name (then removing it again)
    let (status, body) = call(
        d,
        alice,
        "POST",
        "/api/sessions",
        json!({"agent": "fake", "name": name, "cwd": d.work()}),
    );
    note(
        "create",
        (status, json!({"name": body["session"]["name"], "owner": body["session"]["owner"]})),
    );
    note(
        "remove",
        call(d, alice, "DELETE", &format!("/api/sessions/{name}?force=true"), json!(null)),
    );
    // whatever alice is shown at all never carries the name
    let list = call(d, alice, "GET", "/api/sessions", json!(null)).1;
    assert!(!list.to_string().contains(name), "{list}");
    let events = first_event(d, alice);
    assert!(!events.to_string().contains(name), "{events}");
    seen
}

#[tokio::test]
async fn a_user_cannot_tell_whether_someone_else_has_a_session_name() {
    let d = TestDaemon::builder().admin("root").user("alice").start().await;
    let (admin, _) = token(&d, "root", "admin", None).await;
    let (alice, _) = token(&d, "alice", "user", None).await;
    // the operator has `secret`, the admin `hidden`; nobody has `absent1` or `absent2`
    d.spawn_fake("secret").await;
    spawn_as(&d, &admin, "hidden").await;
    spawn_as(&d, &alice, "mine").await;

    assert_eq!(attach_status(&d, &alice, "mine"), 101, "the probe can tell a real session");
    let control = probe(&d, &alice, "absent1");
    assert_eq!(probe(&d, &alice, "secret"), control, "the operator's session shows");
    assert_eq!(probe(&d, &alice, "hidden"), control, "the admin's session shows");
    assert_eq!(probe(&d, &alice, "absent2"), control);
    assert!(control.iter().any(|l| l.starts_with("create: 201")), "{control:?}");
    assert!(control.iter().any(|l| l.starts_with("rename: 200")), "{control:?}");

    // the others' sessions are untouched, and alice's names never reached them
    let (_, all) = local(&d, Method::GET, "/api/sessions", json!(null)).await;
    assert_eq!(names(&all), ["hidden@root", "mine@alice", "secret"]);

    // the agent catalog counts only alice's own running sessions (the others run two more)
    let (_, agents) = call(&d, &alice, "GET", "/api/agents", json!(null));
    let fake = agents.as_array().unwrap().iter().find(|a| a["key"] == "fake").unwrap().clone();
    assert_eq!(fake["running"], 1, "{fake}");
    let (_, agents) = call(&d, &admin, "GET", "/api/agents", json!(null));
    let fake = agents.as_array().unwrap().iter().find(|a| a["key"] == "fake").unwrap().clone();
    assert_eq!(fake["running"], 3, "{fake}");
}

#[tokio::test]
async fn two_users_each_have_their_own_fix_and_the_admin_drives_both() {
    let d = TestDaemon::builder().admin("root").user("alice").user("bob").start().await;
    let (admin, _) = token(&d, "root", "admin", None).await;
    let (alice, _) = token(&d, "alice", "user", None).await;
    let (bob, _) = token(&d, "bob", "user", None).await;
    let made = spawn_as(&d, &alice, "fix").await;
    assert_eq!((made["name"].as_str(), made["owner"].as_str()), (Some("fix"), Some("alice")));
    let made = spawn_as(&d, &bob, "fix").await;
    assert_eq!((made["name"].as_str(), made["owner"].as_str()), (Some("fix"), Some("bob")));

    // each reaches only their own
    for (me, other, owner) in [(&alice, "bob", "alice"), (&bob, "alice", "bob")] {
        let (_, list) = call(&d, me, "GET", "/api/sessions", json!(null));
        assert_eq!(names(&list), ["fix"]);
        assert_eq!(list[0]["owner"], owner);
        let (status, shown) = call(&d, me, "GET", "/api/sessions/fix", json!(null));
        assert_eq!((status, shown["owner"].as_str()), (200, Some(owner)));
        let path = format!("/api/sessions/fix@{other}");
        assert_eq!(call(&d, me, "GET", &path, json!(null)).0, 404);
        assert_eq!(call(&d, me, "POST", &format!("{path}/send"), json!({"prompt": "x"})).0, 404);
        assert_eq!(attach_status(&d, me, &format!("fix@{other}")), 404);
        let events = first_event(&d, me);
        assert_eq!(names(&events), ["fix"]);
    }
    let (status, _) =
        call(&d, &alice, "POST", "/api/sessions/fix/send", json!({"prompt": "from-alice"}));
    assert_eq!(status, 200);
    screen(&d, &alice, "fix", "from-alice").await;
    assert!(!screen(&d, &bob, "fix", "SIZE ").await.contains("from-alice"), "bob's fix got it");

    // the admin sees both in full, and drives each
    let (_, list) = call(&d, &admin, "GET", "/api/sessions", json!(null));
    assert_eq!(names(&list), ["fix@alice", "fix@bob"]);
    assert_eq!(call(&d, &admin, "GET", "/api/sessions/fix", json!(null)).0, 404, "not root's");
    let (status, _) =
        call(&d, &admin, "POST", "/api/sessions/fix@bob/send", json!({"prompt": "from-root"}));
    assert_eq!(status, 200);
    screen(&d, &bob, "fix", "from-root").await;
    assert!(!screen(&d, &alice, "fix", "SIZE ").await.contains("from-root"));
    // a rename keeps the owner: the admin's `fix2` is alice's `fix2`
    let (status, body) =
        call(&d, &admin, "PATCH", "/api/sessions/fix@alice", json!({"name": "fix2"}));
    assert_eq!((status, body["session"]["name"].as_str()), (200, Some("fix2@alice")), "{body}");
    let (status, body) =
        call(&d, &admin, "PATCH", "/api/sessions/fix2@alice", json!({"name": "fix@bob"}));
    assert_eq!(status, 400, "a rename cannot move a session to bob: {body}");
    let (_, list) = call(&d, &alice, "GET", "/api/sessions", json!(null));
    assert_eq!(names(&list), ["fix2"]);
    screen(&d, &alice, "fix2", "from-alice").await;
    // tmux holds each under its full name; the operator sees them so too
    let mut tmux = d.tmux_sessions();
    tmux.sort();
    assert_eq!(tmux, ["fix2@alice", "fix@bob"]);
    let (_, all) = local(&d, Method::GET, "/api/sessions", json!(null)).await;
    assert_eq!(names(&all), ["fix2@alice", "fix@bob"]);
}

#[tokio::test]
async fn health_without_credentials_says_only_that_the_daemon_is_up() {
    let d = TestDaemon::start().await;
    d.spawn_fake("one").await;
    d.spawn_fake("two").await;
    let (status, res) = d.http("GET", "/health", &[], "");
    assert_eq!(status, 200);
    let body: Value = serde_json::from_str(res.split_once("\r\n\r\n").unwrap().1).unwrap();
    let mut keys: Vec<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["authEnabled", "ok", "version"], "{body}");
    assert_eq!(body["ok"], true);
}

/// A state dir of the old schema (names global, ownership a username): the upgrade renames
/// users' sessions to their full names, live tmux sessions too (the agents keep running),
/// and ends the session of a user deleted before (which used to wait for a new account).
#[tokio::test]
async fn an_upgrade_renames_users_sessions_and_ends_orphans_with_tmux() {
    let mut d = TestDaemon::builder().user("alice").start().await;
    let (alice, _) = token(&d, "alice", "user", None).await;
    let ops = d.spawn_fake("ops").await;
    let fix = spawn_as(&d, &alice, "fix").await;
    spawn_as(&d, &alice, "gone").await;
    d.kill("KILL");

    // back to how the old daemon left things: plain names in tmux and in a schema-5 database
    // where `gone` belongs to `bob`, deleted long ago
    for (full, plain) in [("fix@alice", "fix"), ("gone@alice", "gone")] {
        let renamed = d.tmux_of("alice", &["rename-session", "-t", &format!("={full}"), plain]);
        assert!(renamed.status.success());
    }
    let db = d.paths.db.clone();
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let migrations =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../llmux-core/migrations");
    let mut sql = String::new();
    for n in 1..=5 {
        let file = std::fs::read_dir(&migrations)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(&format!("000{n}_")))
            .unwrap();
        sql.push_str(&std::fs::read_to_string(file).unwrap());
    }
    let work = d.work().display().to_string();
    sql.push_str(&format!(
        "PRAGMA user_version = 5;
         INSERT INTO users VALUES ('alice', 'Alice', 'x', 0, 1, 1);
         INSERT INTO sessions (name, agent, cwd, owner, created_at, updated_at, started_at) VALUES
           ('ops', 'fake', '{work}', '', 1, 1, 1),
           ('fix', 'fake', '{work}', 'alice', 2, 2, 2),
           ('gone', 'fake', '{work}', 'bob', 3, 3, 3);"
    ));
    let mut sqlite = std::process::Command::new("sqlite3")
        .arg(&db)
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    sqlite.stdin.take().unwrap().write_all(sql.as_bytes()).unwrap();
    let out = sqlite.wait_with_output().unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o600)).unwrap();

    d.spawn_daemon().await;
    let (_, all) = local(&d, Method::GET, "/api/sessions", json!(null)).await;
    assert_eq!(names(&all), ["fix@alice", "ops"]);
    let (_, shown) = local(&d, Method::GET, "/api/sessions/fix@alice", json!(null)).await;
    assert_eq!((&shown["status"], &shown["pid"]), (&json!("running"), &fix["pid"]), "{shown}");
    let (_, shown) = local(&d, Method::GET, "/api/sessions/ops", json!(null)).await;
    assert_eq!(shown["pid"], json!(ops.pid));
    let mut tmux = d.tmux_sessions();
    tmux.sort();
    assert_eq!(tmux, ["fix@alice", "ops"], "gone ended, fix renamed");
}

/// An admin user sees the operator's sessions by their bare names (the web UI of a one-person
/// install keeps the CLI's names) until the admin has one of the same name: then theirs is
/// `ops` and the operator's `ops@`, both reachable. A non-admin never falls back.
#[tokio::test]
async fn an_admin_sees_the_operators_sessions_bare_until_a_name_clashes() {
    let d = TestDaemon::builder().admin("root").user("alice").start().await;
    let (admin, _) = token(&d, "root", "admin", None).await;
    let (root_user, _) = token(&d, "root", "user", None).await;
    let (alice, _) = token(&d, "alice", "user", None).await;
    let ops = d.spawn_fake("ops").await;
    let (_, list) = call(&d, &admin, "GET", "/api/sessions", json!(null));
    assert_eq!(names(&list), ["ops"]);
    let (status, shown) = call(&d, &admin, "GET", "/api/sessions/ops", json!(null));
    assert_eq!((status, &shown["pid"]), (200, &json!(ops.pid)));
    assert_eq!(attach_status(&d, &admin, "ops"), 101);
    // no fallback without admin rights now (an admin's user token), nor for alice
    assert_eq!(call(&d, &root_user, "GET", "/api/sessions/ops", json!(null)).0, 404);
    assert_eq!(call(&d, &alice, "GET", "/api/sessions/ops", json!(null)).0, 404);

    // the admin's own `ops`: now the operator's is `ops@`
    let made = spawn_as(&d, &admin, "ops").await;
    assert_eq!((made["name"].as_str(), made["owner"].as_str()), (Some("ops"), Some("root")));
    let (_, list) = call(&d, &admin, "GET", "/api/sessions", json!(null));
    assert_eq!(names(&list), ["ops", "ops@"]);
    let (_, mine) = call(&d, &admin, "GET", "/api/sessions/ops", json!(null));
    assert_eq!(mine["owner"], "root");
    let (_, theirs) = call(&d, &admin, "GET", "/api/sessions/ops@", json!(null));
    assert_eq!((&theirs["owner"], &theirs["pid"]), (&json!(""), &json!(ops.pid)));
    let (_, all) = local(&d, Method::GET, "/api/sessions", json!(null)).await;
    assert_eq!(names(&all), ["ops", "ops@root"]);
}
