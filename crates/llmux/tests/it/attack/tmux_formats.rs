//! Attacks: tmux_formats (see the table in the parent module).
//!
//! tmux expands formats (`#{…}`, `#(shell command)`) in some of its arguments: a session whose
//! cwd was an existing directory named `#(id>FILE)` ran `id` as the daemon's user. A non-admin
//! here creates, edits and restarts sessions whose cwd and env hold formats; no command runs and
//! the agent starts in the literal directory with the literal values. Names with `#` are refused.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{TestDaemon, token, user};

/// `cd` with no argument goes to `$HOME` (the daemon's, so the test's): a name without `/` can
/// still aim its file at a known place.
const RUN_CREATE: &str = "#(cd;touch PWNED-create)";
const RUN_EDIT: &str = "#(cd;touch PWNED-edit)";
const FORMAT: &str = "#{pane_pid}";
/// Every other `#` form tmux knows: doubled, an alias (`#S`), an escaped `,` and `}`, a trailing one.
const HASHES: &str = "a##b#S#,c#}#";

struct Alice<'a> {
    d: &'a TestDaemon,
    auth: String,
}

impl Alice<'_> {
    async fn new(d: &TestDaemon) -> Alice<'_> {
        user(d, "alice", false).await;
        let (value, _) = token(d, "alice", "user", None).await;
        Alice { d, auth: format!("Bearer {value}") }
    }

    fn call(&self, method: &str, path: &str, body: Value) -> (u16, Value) {
        let body = if body.is_null() { String::new() } else { body.to_string() };
        let headers = [("Authorization", self.auth.as_str()), ("Content-Type", "application/json")];
        let (status, res) = self.d.http(method, path, &headers, &body);
        let json = res.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        (status, serde_json::from_str(json).unwrap_or(Value::Null))
    }
}

/// A directory named `name` under the work dir.
fn dir(d: &TestDaemon, name: &str) -> PathBuf {
    let path = d.work().join(name);
    std::fs::create_dir(&path).unwrap();
    path
}

/// Files named `PWNED*` anywhere under the test's directory.
fn pwned(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if entry.file_name().to_string_lossy().starts_with("PWNED") {
                found.push(path);
            }
        }
    }
    found
}

/// Waits for the agent's banner (a spawn replaces the tmux session, so its screen shows only the
/// new agent's) and checks the directory it runs in.
async fn runs_in(d: &TestDaemon, name: &str, cwd: &Path) {
    let needle = format!("FAKE AGENT READY cwd={} session={name}", cwd.display());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let screen = d.client.capture(name, 500).await.map(|c| c.text).unwrap_or_default();
        if screen.contains(&needle) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the agent is not running in {cwd:?}; screen:\n{screen}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn a_cwd_is_never_a_tmux_format_on_create_edit_or_restart() {
    let d = TestDaemon::start().await;
    let alice = Alice::new(&d).await;
    let (first, second, third) = (dir(&d, RUN_CREATE), dir(&d, RUN_EDIT), dir(&d, HASHES));
    let pid_dir = dir(&d, FORMAT);

    let body = json!({"agent": "fake", "name": "fmt", "cwd": first});
    let (status, res) = alice.call("POST", "/api/sessions", body);
    assert_eq!(status, 201, "{res}");
    assert_eq!(res["session"]["cwd"], json!(first), "{res}");
    runs_in(&d, "fmt@alice", &first).await;

    // An edit of the cwd respawns the agent there.
    let (status, res) = alice.call("PATCH", "/api/sessions/fmt", json!({"cwd": second}));
    assert_eq!(status, 200, "{res}");
    runs_in(&d, "fmt@alice", &second).await;
    let (status, res) = alice.call("PATCH", "/api/sessions/fmt", json!({"cwd": pid_dir}));
    assert_eq!(status, 200, "{res}");
    runs_in(&d, "fmt@alice", &pid_dir).await;
    let (status, res) = alice.call("PATCH", "/api/sessions/fmt", json!({"cwd": third}));
    assert_eq!(status, 200, "{res}");
    runs_in(&d, "fmt@alice", &third).await;

    // A restart spawns from the record again.
    let (status, res) = alice.call("POST", "/api/sessions/fmt/respawn", Value::Null);
    assert_eq!(status, 200, "{res}");
    runs_in(&d, "fmt@alice", &third).await;

    // tmux runs `#(…)` in the background: give a job that was started time to land.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(pwned(d.dir()), Vec::<PathBuf>::new(), "a cwd ran a command");
}

#[tokio::test]
async fn env_values_are_never_tmux_formats() {
    let d = TestDaemon::start().await;
    let alice = Alice::new(&d).await;
    let value = format!("{RUN_CREATE} {FORMAT} {HASHES}");
    let body =
        json!({"agent": "fake", "name": "envfmt", "cwd": d.work(), "env": {"FAKE_VAR": value}});
    let (status, res) = alice.call("POST", "/api/sessions", body);
    assert_eq!(status, 201, "{res}");
    d.wait_for_screen("envfmt@alice", &format!("ENV FAKE_VAR={value}\n")).await;

    let value = format!("{RUN_EDIT}{FORMAT}");
    let body = json!({"env": {"FAKE_VAR": value}});
    let (status, res) = alice.call("PATCH", "/api/sessions/envfmt", body);
    assert_eq!(status, 200, "{res}");
    d.wait_for_screen("envfmt@alice", &format!("ENV FAKE_VAR={value}\n")).await;

    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(pwned(d.dir()), Vec::<PathBuf>::new(), "an env value ran a command");
}

#[tokio::test]
async fn names_with_a_hash_are_refused() {
    let d = TestDaemon::start().await;
    let alice = Alice::new(&d).await;
    for name in ["a#(cd;touch PWNED-name)", "a#{pane_pid}", "a#S", "a##"] {
        let body = json!({"agent": "fake", "name": name, "cwd": d.work()});
        let (status, res) = alice.call("POST", "/api/sessions", body);
        assert_eq!(status, 400, "{name}: {res}");
        assert!(
            res["error"].as_str().unwrap_or_default().contains("invalid session name"),
            "{res}"
        );
    }
    let body = json!({"agent": "fake", "name": "plain", "cwd": d.work()});
    assert_eq!(alice.call("POST", "/api/sessions", body).0, 201);
    d.wait_for_screen("plain@alice", "SIZE").await;
    let body = json!({"name": "b#(cd;touch PWNED-rename)"});
    let (status, res) = alice.call("PATCH", "/api/sessions/plain", body);
    assert_eq!(status, 400, "{res}");
    assert!(res["error"].as_str().unwrap_or_default().contains("invalid session name"), "{res}");
    assert_eq!(d.tmux_sessions(), ["plain@alice"]);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(pwned(d.dir()), Vec::<PathBuf>::new());
}
