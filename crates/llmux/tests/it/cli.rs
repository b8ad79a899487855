//! The command line, run as a user would.

use serde_json::Value;

use crate::harness::TestDaemon;

#[tokio::test]
async fn cli_drives_a_session_end_to_end() {
    let d = TestDaemon::start().await;
    let out = d.cli_ok(&[
        "session",
        "start",
        "fake",
        "--name",
        "c1",
        "--env",
        "FAKE_VAR=cli",
        "--flags",
        "--a 'b c'",
    ]);
    assert!(out.contains("spawned c1 (agent: fake"), "{out}");
    d.wait_for_screen("c1", "ARGS --a b c").await;
    d.wait_for_screen("c1", "ENV FAKE_VAR=cli").await;

    let list = d.cli_ok(&["session", "list"]);
    let row = list.lines().find(|l| l.starts_with("c1")).expect("c1 listed");
    assert!(row.contains("fake"), "{list}");
    assert!(["starting", "idle", "working"].iter().any(|s| row.contains(s)), "{list}");

    let json: Value = serde_json::from_str(&d.cli_ok(&["session", "list", "--json"])).unwrap();
    assert_eq!(json[0]["name"], "c1");
    assert_eq!(json[0]["status"], "running");

    let out = d.cli_ok(&["session", "prompt", "c1", "hello", "from", "cli"]);
    assert!(out.contains("sent 14 bytes → c1"), "{out}");
    d.wait_for_screen("c1", "PROMPT[1]: hello from cli").await;

    let mut child = d
        .command()
        .args(["session", "prompt", "c1", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"from\nstdin\n").unwrap();
    assert!(child.wait().unwrap().success());
    d.wait_for_screen("c1", "PROMPT[2]: from⏎stdin").await;

    let capture = d.cli_ok(&["session", "capture", "c1", "--lines", "5"]);
    assert!(capture.contains("PROMPT[2]"), "{capture}");

    let show = d.cli_ok(&["session", "show", "c1"]);
    let attach = show.lines().find(|l| l.starts_with("attach")).expect("attach line");
    assert!(
        attach.contains(&format!("tmux -S {} attach -t", d.paths.tmux_socket.display())),
        "{show}"
    );
    // the printed command really attaches to that session (has-session with the same target)
    let target = attach.rsplit(' ').next().unwrap().trim_matches('\'');
    assert!(d.tmux(&["has-session", "-t", target]).status.success(), "{target}");

    d.cli_ok(&["session", "edit", "c1", "--rename", "c2"]);
    d.cli_ok(&["session", "stop", "c2"]);
    let list = d.cli_ok(&["session", "list"]);
    assert!(list.lines().any(|l| l.starts_with("c2") && l.contains("exited")), "{list}");
    d.cli_ok(&["session", "restart", "c2"]);
    d.wait_for_screen("c2", "session=c2").await;
    let out = d.cli(&["session", "remove", "c2"]);
    assert_eq!(out.status.code(), Some(1), "running sessions need --force");
    d.cli_ok(&["session", "remove", "--force", "c2"]);
    assert!(d.cli_ok(&["session", "list"]).contains("no sessions"));
}

#[tokio::test]
async fn cli_errors_are_clear_and_exit_codes_documented() {
    let d = TestDaemon::start().await;
    let out = d.cli(&["session", "show", "ghost"]);
    assert_eq!(out.status.code(), Some(4));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("llmux: ") && stderr.contains("ghost"), "{stderr}");

    let out = d.cli(&["session", "start", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("known agents"));

    let out = d.cli(&["session", "start", "fake", "--env", "NOEQUALS"]);
    assert_eq!(out.status.code(), Some(1));

    let out = d.cli(&["session", "bogus-verb"]);
    assert_eq!(out.status.code(), Some(2), "usage errors exit 2");

    let out = d.cli(&["session", "edit", "x"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to change"));
}

#[tokio::test]
async fn cli_without_a_daemon_says_how_to_start_one() {
    let mut d = TestDaemon::start().await;
    d.kill("TERM");
    let out = d.cli(&["session", "list"]);
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no llmux daemon is running") && stderr.contains("llmux server start"),
        "{stderr}"
    );
}

#[tokio::test]
async fn agent_list_shows_the_catalog() {
    let d = TestDaemon::start().await;
    let json: Value =
        serde_json::from_str(&d.cli_ok(&["agent", "list", "--all", "--json"])).unwrap();
    let keys: Vec<&str> =
        json.as_array().unwrap().iter().map(|a| a["key"].as_str().unwrap()).collect();
    for key in [
        "claude", "codex", "gemini", "qwen", "opencode", "copilot", "aider", "goose", "shell",
        "fake", "fakeq",
    ] {
        assert!(keys.contains(&key), "{key} missing from {keys:?}");
    }
    assert_eq!(keys.len(), 18, "15 built-in agents, shell and the configured fake and fakeq");
    let claude = json.as_array().unwrap().iter().find(|a| a["key"] == "claude").unwrap();
    assert_eq!(claude["flags"], "--dangerously-skip-permissions");
    assert!(claude["installHint"].as_str().unwrap().contains("claude.ai/install.sh"));

    let installed = d.cli_ok(&["agent", "list"]);
    assert!(installed.lines().any(|l| l.starts_with("fake ")), "{installed}");
    assert!(installed.lines().any(|l| l.starts_with("shell ")), "{installed}");
}

#[test]
fn version_and_completions() {
    let out = std::process::Command::new(crate::harness::bin()).arg("--version").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("llmux {}", env!("CARGO_PKG_VERSION"))
    );
    for shell in ["bash", "zsh", "fish"] {
        let out = std::process::Command::new(crate::harness::bin())
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success());
        assert!(String::from_utf8_lossy(&out.stdout).contains("session"), "{shell}");
    }
}
