//! Attacks: escapes (see the table in the parent module).
//!
//! Strings a non-admin (or anyone who can type a username at the sign-in form) stores end up
//! in an admin's terminal: `llmux audit`, `session show`, `session list`, `user list`,
//! `token list`. Each test stores hostile strings through the API the way the attacker would,
//! runs the CLI as the local operator, and checks that its stdout carries no control byte but
//! the newlines of its own layout, that the hostile text is still visible (escaped), and that
//! `--json` still gives the exact stored value.

use hyper::Method;
use serde_json::{Value, json};

use crate::harness::{TestDaemon, local, post_json, token};

/// Sets the window title (OSC 0), then draws a fake newline row of the `user list` table.
const OSC_TITLE_AND_ROW: &str = "Alice\u{1b}]0;pwned-title\u{7}\n2fake  root  yes  just now";
/// Clears the screen, moves to the top, and a C1 CSI (one byte in some terminals).
const CLEAR: &str = "x\u{1b}[2J\u{1b}[H\u{9b}31mred";
/// A device label that retitles the window and starts a fake row.
const DEVICE: &str = "phone\u{1b}]0;device-title\u{7}\nroot  alice  fake  admin";
/// A device label that reorders what follows it.
const DEVICE_SPOOF: &str = "phone\u{202e}enohp";
/// A right-to-left override: shown as "aliceadmin".
const SPOOFED_ADMIN: &str = "alice\u{202e}nimda\u{202c}";
/// A right-to-left isolate: the text inside is laid out backwards, the table around it too.
const ISOLATED: &str = "ci\u{2067}never  yes\u{2069}";

/// Asserts `out` (what the CLI printed) has no control character but `\n` and no
/// bidirectional override, and shows each of `visible` (the escaped form of the hostile
/// strings).
fn assert_escaped(what: &str, out: &[u8], visible: &[&str]) {
    let text = String::from_utf8_lossy(out);
    let bidi = |c: char| {
        matches!(c, '\u{200e}' | '\u{200f}' | '\u{61c}' | '\u{202a}'..='\u{202e}')
            || matches!(c, '\u{2066}'..='\u{2069}')
    };
    if let Some(bad) = text.chars().find(|&c| (c.is_control() && c != '\n') || bidi(c)) {
        panic!("{what} printed the control character {bad:?} raw:\n{text:?}");
    }
    for v in visible {
        assert!(text.contains(v), "{what} does not show {v:?}:\n{text}");
    }
}

/// Runs the CLI as the local operator (an admin); asserts success and returns stdout.
fn cli(d: &TestDaemon, args: &[&str]) -> Vec<u8> {
    let out = d.cli(args);
    assert!(
        out.status.success(),
        "llmux {args:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A JSON request over TCP with alice's bearer token; returns (status, body).
fn as_alice(d: &TestDaemon, bearer: &str, method: &str, path: &str, body: Value) -> (u16, Value) {
    let auth = format!("Bearer {bearer}");
    let (status, res) = d.http(
        method,
        path,
        &[("Authorization", &auth), ("Content-Type", "application/json")],
        &body.to_string(),
    );
    let json = res.split_once("\r\n\r\n").and_then(|(_, b)| serde_json::from_str(b).ok());
    (status, json.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_failed_login_cannot_forge_audit_rows_or_retitle_the_terminal() {
    let d = TestDaemon::start().await;
    // Raw over TCP, as the intruder sent it: JSON escapes in the body, control characters in
    // the stored username. Short, so a length cap on usernames does not change the row.
    let body = r#"{"username":"x\u001b]0;owned\u0007\r\n9 root login","passphrase":"wrong-one"}"#;
    let (status, res) =
        d.http("POST", "/api/auth/login", &[("Content-Type", "application/json")], body);
    // 401 as any failed login, or 400 where such a username is refused before anything runs.
    assert!(status == 401 || status == 400, "{res}");

    let rows: Value = serde_json::from_slice(&cli(&d, &["audit", "--json"])).unwrap();
    let stored = rows.as_array().unwrap().iter().find(|r| r["action"] == "login_failed");
    let out = cli(&d, &["audit"]);
    if stored.is_some_and(|r| r["target"].as_str().unwrap().contains('\u{1b}')) {
        // Stored as sent: the table shows it escaped, on one line.
        assert_escaped("llmux audit", &out, &["\\x1b]0;owned\\x07\\r\\n9 root login"]);
    } else {
        // Refused or cleaned at the door: nothing to escape, but still nothing raw.
        assert_escaped("llmux audit", &out, &[]);
    }
    let lines = String::from_utf8_lossy(&out).lines().count();
    assert_eq!(lines, rows.as_array().unwrap().len() + 1, "one line per row, and the header");
}

#[tokio::test]
async fn a_non_admins_session_strings_reach_the_admin_escaped() {
    let d = TestDaemon::builder().user("alice").start().await;
    let (alice, _) = token(&d, "alice", "user", None).await;
    // A directory whose name carries an OSC title and a carriage return.
    let cwd = d.work().join("w\u{1b}]0;cwd-title\u{7}\rX");
    std::fs::create_dir(&cwd).unwrap();
    let (status, res) = as_alice(
        &d,
        &alice,
        "POST",
        "/api/sessions",
        json!({
            "agent": "fake",
            "name": "alices",
            "cwd": cwd.to_str().unwrap(),
            "env": {"CLEAR": CLEAR, "ROW": "v\nalices2  fake  idle  just now  /root"},
            "flags": "--title=\u{1b}]2;flag-title\u{7}",
        }),
    );
    assert_eq!(status, 201, "{res}");

    let shown: Value =
        serde_json::from_slice(&cli(&d, &["session", "show", "alices@alice", "--json"]))
            .expect("session show --json is JSON");
    assert_eq!(shown["env"]["CLEAR"], CLEAR, "--json keeps the exact value");
    let show = cli(&d, &["session", "show", "alices@alice"]);
    assert_escaped(
        "llmux session show",
        &show,
        &[
            "CLEAR=x\\x1b[2J\\x1b[H\\u{9b}31mred",
            "ROW=v\\nalices2",
            "w\\x1b]0;cwd-title\\x07\\rX",
            "\\x1b]2;flag-title\\x07",
        ],
    );
    let list = cli(&d, &["session", "list"]);
    assert_escaped("llmux session list", &list, &["w\\x1b]0;cwd-title\\x07\\rX"]);
    assert_eq!(String::from_utf8_lossy(&list).lines().count(), 2, "header and one row");
}

#[tokio::test]
async fn display_and_token_names_cannot_forge_rows() {
    let d = TestDaemon::builder().user("alice").start().await;
    let (alice, id) = token(&d, "alice", "user", None).await;
    // Control characters in a name are refused at the door...
    let (status, res) =
        as_alice(&d, &alice, "POST", "/api/account/profile", json!({"name": OSC_TITLE_AND_ROW}));
    assert_eq!(status, 400, "{res}");
    let (status, res) =
        as_alice(&d, &alice, "PATCH", &format!("/api/tokens/{id}"), json!({"name": CLEAR}));
    assert_eq!(status, 400, "{res}");
    // ...but not the invisible bidirectional overrides, with which "alice{RLO}nimda" reads as
    // "aliceadmin" and a token name can reorder the columns after it.
    let (status, res) =
        as_alice(&d, &alice, "POST", "/api/account/profile", json!({"name": SPOOFED_ADMIN}));
    assert_eq!(status, 200, "{res}");
    let (status, res) =
        as_alice(&d, &alice, "PATCH", &format!("/api/tokens/{id}"), json!({"name": ISOLATED}));
    assert_eq!(status, 200, "{res}");

    // A device label is a token name too: control characters are refused at sign-in...
    let login = |device: &str| {
        let body =
            json!({"username": "alice", "passphrase": "alice-passphrase", "deviceName": device});
        post_json(&d, "/api/auth/login", &[], body)
    };
    let (status, res) = login(DEVICE);
    assert_eq!(status, 400, "{res}");
    // ...and a bidirectional override in one is shown escaped.
    let (status, res) = login(DEVICE_SPOOF);
    assert_eq!(status, 200, "{res}");

    let users = cli(&d, &["user", "list"]);
    assert_escaped("llmux user list", &users, &["alice\\u{202e}nimda\\u{202c}"]);
    let users_json: Value = serde_json::from_slice(&cli(&d, &["user", "list", "--json"])).unwrap();
    assert!(users_json.as_array().unwrap().iter().any(|u| u["name"] == SPOOFED_ADMIN));
    let tokens = cli(&d, &["token", "list"]);
    let device_shown = "phone\\u{202e}enohp";
    assert_escaped("llmux token list", &tokens, &["ci\\u{2067}never  yes\\u{2069}", device_shown]);
    let n_tokens = serde_json::from_slice::<Value>(&cli(&d, &["token", "list", "--json"]))
        .unwrap()
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(String::from_utf8_lossy(&tokens).lines().count(), n_tokens + 1, "one line each");
    // The audit row of the device token's creation names it too.
    assert_escaped("llmux audit", &cli(&d, &["audit"]), &[device_shown]);
}

#[tokio::test]
async fn an_error_that_quotes_input_is_escaped() {
    let d = TestDaemon::start().await;
    // The daemon's message for a missing cwd quotes the path as given.
    let (status, res) = local(
        &d,
        Method::POST,
        "/api/sessions",
        json!({"agent": "fake", "cwd": "/nonexistent/\u{1b}[2Jgone"}),
    )
    .await;
    assert_eq!(status, 400, "{res}");
    let out = d.cli(&["session", "start", "fake", "--cwd", "/nonexistent/\u{1b}[2Jgone"]);
    assert!(!out.status.success());
    assert_escaped("llmux session start (error)", &out.stderr, &["[2Jgone"]);
}
