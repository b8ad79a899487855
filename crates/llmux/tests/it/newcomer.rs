//! What a newcomer hits in the first hour (issue 13): flags after the prompt text, option
//! numbers as the screen shows them, the pairing link's address, the token messages, the
//! audit log's actor, and the smaller CLI messages.

use std::time::{Duration, Instant};

use llmux_api::AgentState;
use serde_json::Value;

use crate::harness::{TestDaemon, post_json};

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn flags_after_the_prompt_text_are_flags() {
    let d = TestDaemon::start().await;
    d.spawn_fakeq("nw", &[("FAKE_THINK_MS", "1200")], &[]).await;
    d.wait_for_state("nw", AgentState::Idle).await;
    // --wait after the text waits for the reply, and is not typed
    let started = Instant::now();
    let out = d.cli(&["session", "prompt", "nw", "say hi", "--wait"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(started.elapsed() >= Duration::from_millis(1200), "did not wait: {out:?}");
    assert!(stdout(&out).contains("Reply to: say hi"), "{out:?}");
    assert!(!stdout(&out).contains("--wait"), "--wait was typed: {out:?}");

    // --to after the text limits the broadcast
    d.spawn_fake("nb1").await;
    d.spawn_fake("nb2").await;
    let out = d.cli_ok(&["session", "broadcast", "echo B", "--to", "nb1"]);
    assert!(out.contains("broadcast to 1 of 1 sessions"), "{out}");
    let screen = d.wait_for_screen("nb1", "PROMPT[1]: echo B").await;
    assert!(!screen.contains("--to"), "--to was typed:\n{screen}");
    // what follows `--` is text, even when it starts with dashes
    d.cli_ok(&["session", "prompt", "nb1", "--", "--literal"]);
    d.wait_for_screen("nb1", "PROMPT[2]: --literal").await;
    // nb2 never got the broadcast (nb1's later prompt arrived, so it would have by now)
    let other = d.client.capture("nb2", 200).await.unwrap().text;
    assert!(!other.contains("PROMPT["), "the broadcast reached nb2:\n{other}");
    // a dash word outside `--` is refused with the hint, and nothing is typed
    let out = d.cli(&["session", "prompt", "nb2", "--literal"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(stderr(&out).contains("-- --literal"), "{out:?}");
}

#[tokio::test]
async fn answers_use_the_numbers_the_screen_shows() {
    let d = TestDaemon::start().await;
    d.spawn_fakeq("na", &[], &[]).await;
    d.wait_for_state("na", AgentState::Idle).await;
    let out = d.cli(&["session", "prompt", "na", "--wait", "please run `touch approved.txt`"]);
    assert_eq!(out.status.code(), Some(8), "{out:?}");
    // the CLI numbers the options as the screen does: 1 is "Yes, allow once"
    assert!(stderr(&out).contains("1. Yes, allow once"), "{out:?}");
    d.wait_for_state("na", AgentState::Waiting).await;
    let screen = d.wait_for_screen("na", "1. Yes, allow once").await;
    assert!(screen.contains("2. No"), "{screen}");
    let show = d.cli_ok(&["session", "show", "na"]);
    assert!(show.contains("  1. Yes, allow once"), "{show}");
    assert!(show.contains("  2. No, suggest changes"), "{show}");
    // 0 and numbers past the last option are refused
    let out = d.cli(&["session", "answer", "na", "0"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let out = d.cli(&["session", "answer", "na", "3"]);
    assert_ne!(out.status.code(), Some(0), "{out:?}");
    let out = d.cli_ok(&["session", "answer", "na", "1"]);
    assert!(out.contains("option 1"), "{out}");
    d.wait_for_state("na", AgentState::Idle).await;
    assert!(d.work().join("approved.txt").exists(), "option 1 did not allow");
}

#[tokio::test]
async fn pair_links_to_where_the_daemon_really_is() {
    let mut d = TestDaemon::builder().admin("root").start().await;
    // the daemon listens on a random port, not 3001: the link says that port
    let out = d.cli_ok(&["pair"]);
    let link = out.lines().map(str::trim).find(|l| l.contains("/pair#code=")).expect("a link");
    assert!(link.starts_with(&format!("http://127.0.0.1:{}/pair#code=", d.port)), "{out}");
    // loopback only: the CLI says a phone cannot open it, and how to fix that
    for needle in ["a phone cannot open it", "server.publicUrl", "tailscale serve", "--url"] {
        assert!(out.contains(needle), "{needle:?} missing:\n{out}");
    }
    let json: Value = serde_json::from_str(&d.cli_ok(&["--json", "pair"])).unwrap();
    assert!(json["note"].as_str().unwrap().contains("server.publicUrl"), "{json}");

    // with server.publicUrl configured, the link is on it and there is nothing to fix
    d.add_server_config("publicUrl: https://llmux.example.net");
    d.restart().await;
    let out = d.cli_ok(&["pair"]);
    assert!(out.contains("  https://llmux.example.net/pair#code="), "{out}");
    assert!(!out.contains("cannot open"), "{out}");
}

#[tokio::test]
async fn token_messages_name_the_flag_and_the_right_advice() {
    let d = TestDaemon::builder().user("alice").start().await;
    // the local operator has no account: the list and the refusal both name --user
    let list = d.cli_ok(&["token", "list"]);
    assert!(list.contains("`llmux token create --user NAME`"), "{list}");
    let out = d.cli(&["token", "create"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(stderr(&out).contains("--user NAME"), "{out:?}");
    // a token is used as a bearer credential, not pasted into the web page
    let out = d.cli_ok(&["token", "create", "--user", "alice"]);
    assert!(out.contains("Authorization: Bearer <token>"), "{out}");
    assert!(out.contains("--token"), "{out}");
    assert!(!out.contains("web login page"), "{out}");
}

#[tokio::test]
async fn the_audit_log_names_who_did_it_and_to_whom() {
    let d = TestDaemon::builder().admin("alice").start().await;
    d.cli_ok(&["token", "create", "--user", "alice", "--name", "ci"]);
    d.cli_ok(&["pair"]);
    let audit: Value = serde_json::from_str(&d.cli_ok(&["--json", "audit"])).unwrap();
    let events = audit.as_array().expect("a list of events");
    let find = |action: &str| {
        events
            .iter()
            .find(|e| e["action"] == action)
            .unwrap_or_else(|| panic!("no {action} in {audit}"))
    };
    let minted = find("token_created");
    assert_eq!(
        (&minted["actor"], &minted["target"]),
        (&"local".into(), &"alice".into()),
        "{minted}"
    );
    assert!(minted["detail"].as_str().unwrap().contains("\"ci\""), "{minted}");
    let paired = find("pairing_created");
    assert_eq!(
        (&paired["actor"], &paired["target"]),
        (&"local".into(), &"alice".into()),
        "{paired}"
    );
}

#[tokio::test]
async fn small_messages_read_well() {
    let d = TestDaemon::start().await;
    d.spawn_fake("sm").await;

    // `rm` of a running session names --force
    let out = d.cli(&["session", "rm", "sm"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(stderr(&out).contains("--force"), "{out:?}");

    // `watch` of a name that matches nothing says so, not "no sessions yet"
    let mut watch = d
        .command()
        .args(["session", "watch", "nope"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(watch.stdout.take().unwrap()),
        &mut first,
    )
    .unwrap();
    watch.kill().unwrap();
    watch.wait().unwrap();
    assert!(first.contains("no session matches nope"), "{first:?}");
    assert!(!first.contains("no sessions yet"), "{first:?}");

    // an exited session's state reads as a sentence
    d.cli_ok(&["session", "prompt", "sm", "--", "/exit 3"]);
    // the status is recorded a moment after the session is seen to exit, when it can be read
    // at all (see lifecycle's `quitter`): give it a moment
    d.wait_for_status("sm", llmux_api::SessionStatus::Exited).await;
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut exit = None;
    while exit.is_none() && Instant::now() < deadline {
        exit = d.client.session("sm").await.unwrap().exit_status;
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let show = d.cli_ok(&["session", "show", "sm"]);
    let state = show.lines().find(|l| l.starts_with("state")).expect("a state line");
    let expected = match exit {
        Some(code) => format!("state       exited with status {code}, "),
        None => "state       exited, ".to_owned(),
    };
    assert!(state.starts_with(&expected), "{show}");
    assert!(!state.contains("(since") && !state.contains("(3)"), "{show}");

    // the daemon's log, written to a file, has no colour codes
    assert!(!d.log().contains('\u{1b}'), "colour codes in the log file:\n{}", d.log());
}

#[tokio::test]
async fn a_username_that_signs_in_can_be_created() {
    let d = TestDaemon::start().await;
    let log = d.log();
    let url = log.lines().find(|l| l.contains("/setup#token=")).expect("setup URL in the banner");
    let token = url.trim().rsplit("token=").next().unwrap();
    let body = serde_json::json!({"setupToken": token, "username": "Alice", "passphrase": "correct horse battery"});
    let (status, res) = post_json(&d, "/api/setup", &[], body);
    assert_eq!(status, 200, "{res}");
    assert!(res.contains("\"username\":\"alice\""), "stored lower-case: {res}");
    // and sign-in takes it as typed, as before
    let body = serde_json::json!({"username": "Alice", "passphrase": "correct horse battery"});
    let (status, res) = post_json(&d, "/api/auth/login", &[], body);
    assert_eq!(status, 200, "{res}");
    // an admin creating "Bob" gets bob, the same rule
    let (status, res) = crate::harness::local(
        &d,
        hyper::Method::POST,
        "/api/admin/users",
        serde_json::json!({"username": "Bob", "passphrase": "bob-passphrase-long"}),
    )
    .await;
    assert_eq!(status, 201, "{res}");
    assert_eq!(res["user"]["username"], "bob", "{res}");
}

/// The daemon says what is wrong in its own terms (the web UI shows the same message); the CLI
/// adds the command that fixes it.
#[tokio::test]
async fn a_prompt_to_a_stopped_session_names_the_command_that_starts_it() {
    let d = TestDaemon::start().await;
    d.spawn_fake("halted").await;
    d.client.stop_session("halted").await.unwrap();
    let err = d.client.send("halted", "hello", true).await.unwrap_err();
    assert_eq!(err.to_string(), "session \"halted\" is not running", "no CLI advice in the API");
    let out = d.cli(&["session", "prompt", "halted", "hello"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(
        stderr(&out),
        "llmux: session \"halted\" is not running; start it again with \
         `llmux session restart halted`\n"
    );
}
