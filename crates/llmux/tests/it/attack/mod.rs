//! The attack suite: the project's threat model, written as end-to-end attacks on a real daemon.
//!
//! Each module replays one way in that a security review proved against a live daemon (issue
//! 12), as the attacker would: a non-admin with their own `user` token, an anonymous client on
//! the network, or a process inside a session. Every test fails if its hole comes back.
//!
//! | attacker | what they tried | module |
//! |---|---|---|
//! | non-admin viewer | tmux prefix keys, choose-tree, command prompt, mouse menu from `/ws/NAME` | [`terminal`] |
//! | non-admin | a cwd, env or name that tmux would expand as a format (`#(cmd)`) | [`tmux_formats`] |
//! | holder of a narrow credential | minting a wider one: pairing, device tokens, tokens from tokens | [`credentials`] |
//! | anonymous client | locking others out of sign-in; hashing floods | [`signin`] |
//! | anonymous client; any user | half-open connections, connection floods; hoarding terminals and event streams | [`connections`] |
//! | non-admin | another user's conversations through a shared cwd | [`conversations`] |
//! | an agent (or what it read) | markup in a reply reaching the chat page through its rendered `html` | [`conversations`] |
//! | anyone who can type a username; a non-admin | control characters and bidi overrides in stored strings (audit rows, cwd, env, flags, names) reaching an admin's terminal | [`escapes`] |
//! | non-admin | learning other users' session names | [`names`] |
//! | a process inside a non-admin's session, with the daemon's own uid (the daemon run as an unprivileged account the test creates) | what [`confinement`] tries | [`confinement_unprivileged`] |
//! | a process inside a non-admin's session | the daemon's socket, store, key, overlay; other users' logins; any tmux server; the daemon's processes | [`confinement`] |
//! | a process inside a user's session under a system daemon | root's files and groups, the daemon's state, llmux's own tmux server | [`system_mode`] |
//! | a new account | inheriting a deleted user's sessions | [`deleted_users`] |
//! | a non-admin, a read-only token | learning of paths or agents through the placement check (issue 17) more than a start tells | [`placement`] |
//! | a non-admin, an anonymous client | acting for someone else with `X-Llmux-On-Behalf-Of` or `X-Llmux-Act-As`; reaching fleet hosts or remote sessions (issue 17) | [`fleet_identity`] |
//! | a non-admin of a hub, mapped to a host or not | seeing, prompting, stopping, removing, attaching another user's (or the host operator's) remote session (netns: `fleet::users`) | `fleet::users` |
//! | a proxy pointed at the Unix socket | relayed requests trusted as the operator | [`relay_headers`] |
//! | anonymous client; a non-admin | another user's idempotency keys and queued prompts | [`idempotency`] |
//! | anyone | pairing links, WebSocket origins, inputs the API document does not describe | [`web_edges`] |
//! | whoever can write (or hand over) an old llmux 0.41 install | taking over accounts made here, admin rights, tokens that pass for ours, writes outside the state dir, escape sequences, costly hashes through `llmux import llmux-0.41` | [`imports`] |
//!
//! Outside this binary, the rest of the standing suite: the pairing page asking before it
//! replaces a sign-in is a browser test (`web/tests/pairing.test.mjs`); Schemathesis runs
//! about 1,300 generated requests over the API document (`scripts/schemathesis`); and the
//! code that reads untrusted bytes is fuzzed for a minute (`fuzz/`, `scripts/fuzz`). All three
//! run in the README's test command.

mod confinement;
mod confinement_unprivileged;
mod connections;
mod conversations;
mod credentials;
mod deleted_users;
mod escapes;
mod fleet_identity;
mod idempotency;
mod imports;
mod names;
mod placement;
mod relay_headers;
mod signin;
mod system_mode;
mod terminal;
mod tmux_formats;
mod web_edges;

// Helpers the modules share: JSON calls over TCP as a user, and sessions as that user sees them.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::TestDaemon;

/// One JSON call over TCP with these credentials (`Bearer …` or `llmux_session=…`).
fn call(d: &TestDaemon, cred: &str, method: &str, path: &str, body: Value) -> (u16, Value) {
    let header = if cred.starts_with("llmux_session=") {
        ("Cookie", cred.to_owned())
    } else {
        ("Authorization", format!("Bearer {cred}"))
    };
    let text = if body.is_null() { String::new() } else { body.to_string() };
    let origin = format!("http://127.0.0.1:{}", d.port);
    let (status, res) = d.http(
        method,
        path,
        &[(header.0, &header.1), ("Origin", &origin), ("Content-Type", "application/json")],
        &text,
    );
    let body = res.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// A `fake` session `name` created over TCP by the holder of `token`, up and drawing.
async fn spawn_as(d: &TestDaemon, token: &str, name: &str) -> Value {
    let (status, body) = call(
        d,
        token,
        "POST",
        "/api/sessions",
        json!({"agent": "fake", "name": name, "cwd": d.work()}),
    );
    assert_eq!(status, 201, "{body}");
    screen(d, token, name, "SIZE ").await;
    body["session"].clone()
}

/// Polls the session's screen (as `token` sees it) until it shows `needle`.
async fn screen(d: &TestDaemon, token: &str, name: &str, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) =
            call(d, token, "GET", &format!("/api/sessions/{name}/capture"), json!(null));
        let text = body["text"].as_str().unwrap_or("").to_owned();
        if status == 200 && text.contains(needle) {
            return text;
        }
        assert!(Instant::now() < deadline, "{needle:?} never on {name} ({status}): {text}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The names in a session list.
fn names(list: &Value) -> Vec<String> {
    let mut names: Vec<String> = list
        .as_array()
        .expect("a list")
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}
