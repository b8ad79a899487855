use llmux_api::{BroadcastRequest, EditSessionRequest, EnvInput, SessionStatus};

use crate::harness::TestDaemon;

#[tokio::test]
async fn session_lifecycle_end_to_end() {
    let d = TestDaemon::start().await;
    let s = d.spawn_fake("life").await;
    assert_eq!(s.status, SessionStatus::Running);
    assert_eq!(s.argv.last().map(String::as_str), Some("--default-flag"));

    // list shows it running
    let list = d.client.list_sessions().await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].name, "life");
    assert_eq!(list[0].status, SessionStatus::Running);
    assert!(list[0].pid.is_some());

    // the agent got its env and our marker variables
    let screen = d.wait_for_screen("life", "session=life").await;
    assert!(screen.contains("ARGS --default-flag"), "{screen}");

    // a prompt reaches the agent
    d.client.send("life", "hello agent", true).await.unwrap();
    d.wait_for_screen("life", "PROMPT[1]: hello agent").await;

    // a multi-line prompt arrives intact, as one prompt
    d.client.send("life", "line one\nline two\n  indented", true).await.unwrap();
    d.wait_for_screen("life", "PROMPT[2]: line one⏎line two⏎  indented").await;

    // text without Enter stays in the composer
    d.client.send("life", "draft", false).await.unwrap();
    d.wait_for_screen("life", "> draft").await;
    let screen = d.client.capture("life", 50).await.unwrap().text;
    assert!(!screen.contains("PROMPT[3]"), "{screen}");

    // restart keeps the config
    let edited = d
        .client
        .edit_session(
            "life",
            &EditSessionRequest {
                flags: Some(Some("--one 'two three'".into())),
                env: Some(Some(EnvInput::Map([("FAKE_VAR".into(), "v1".into())].into()))),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(edited.flags.as_deref(), Some("--one 'two three'"));
    d.wait_for_screen("life", "ENV FAKE_VAR=v1").await;
    let before = d.client.session("life").await.unwrap();
    d.client.restart_session("life").await.unwrap();
    let after = d.wait_for_status("life", SessionStatus::Running).await;
    assert_ne!(before.pid, after.pid, "restart must start a new process");
    let screen = d.wait_for_screen("life", "ENV FAKE_VAR=v1").await;
    assert!(screen.contains("ARGS --one two three"), "{screen}");
    assert_eq!(after.flags, before.flags);
    assert_eq!(after.env, before.env);

    // editing cwd respawns the agent in the new cwd
    let new_cwd = d.dir().join("elsewhere");
    std::fs::create_dir(&new_cwd).unwrap();
    let edited = d
        .client
        .edit_session(
            "life",
            &EditSessionRequest { cwd: Some(new_cwd.display().to_string()), ..Default::default() },
        )
        .await
        .unwrap();
    assert_eq!(edited.cwd, new_cwd.display().to_string());
    d.wait_for_screen("life", &format!("cwd={}", new_cwd.display())).await;

    // stop → exited, record kept
    let stopped = d.client.stop_session("life").await.unwrap();
    assert_eq!(stopped.status, SessionStatus::Exited);
    assert_eq!(d.client.list_sessions().await.unwrap()[0].status, SessionStatus::Exited);
    let err = d.client.send("life", "x", true).await.unwrap_err();
    assert_eq!(err.status().unwrap().as_u16(), 409);

    // remove → gone
    d.client.remove_session("life", false).await.unwrap();
    assert!(d.client.list_sessions().await.unwrap().is_empty());
    assert_eq!(d.client.session("life").await.unwrap_err().status().unwrap().as_u16(), 404);
    assert!(!String::from_utf8_lossy(&d.tmux(&["ls"]).stdout).contains("life"));
}

#[tokio::test]
async fn running_sessions_are_not_removed_without_force() {
    let d = TestDaemon::start().await;
    d.spawn_fake("busy").await;
    let err = d.client.remove_session("busy", false).await.unwrap_err();
    assert_eq!(err.status().unwrap().as_u16(), 409);
    assert_eq!(d.client.session("busy").await.unwrap().status, SessionStatus::Running);
    d.client.remove_session("busy", true).await.unwrap();
    assert!(d.client.list_sessions().await.unwrap().is_empty());
    assert!(!String::from_utf8_lossy(&d.tmux(&["ls"]).stdout).contains("busy"));
}

#[tokio::test]
async fn live_rename_keeps_the_process() {
    let d = TestDaemon::start().await;
    let before = d.spawn_fake("old.name").await;
    assert_eq!(before.tmux_name, "old+name");
    let after = d
        .client
        .edit_session(
            "old.name",
            &EditSessionRequest { name: Some("new.name".into()), ..Default::default() },
        )
        .await
        .unwrap();
    assert_eq!(after.name, "new.name");
    assert_eq!(after.pid, before.pid, "a rename must not restart the agent");
    assert_eq!(d.client.session("old.name").await.unwrap_err().status().unwrap().as_u16(), 404);
    d.client.send("new.name", "still here", true).await.unwrap();
    d.wait_for_screen("new.name", "PROMPT[1]: still here").await;

    // renaming onto a taken name is refused and changes nothing
    d.spawn_fake("other").await;
    let err = d
        .client
        .edit_session(
            "new.name",
            &EditSessionRequest { name: Some("other".into()), ..Default::default() },
        )
        .await
        .unwrap_err();
    assert_eq!(err.status().unwrap().as_u16(), 409);
    assert_eq!(d.client.session("new.name").await.unwrap().pid, before.pid);
}

#[tokio::test]
async fn an_exiting_agent_shows_exited_with_its_status() {
    let d = TestDaemon::start().await;
    d.spawn_fake("quitter").await;
    d.client.send("quitter", "/exit 3", true).await.unwrap();
    let s = d.wait_for_status("quitter", SessionStatus::Exited).await;
    // tmux 3.3 occasionally marks a pane dead without recording the status (the pty's EOF
    // wins the race with SIGCHLD), so the status is reported when known and never made up.
    assert!(matches!(s.exit_status, Some(3) | None), "{:?}", s.exit_status);
    assert!(s.pid.is_none());
    // its last screen is still readable
    let screen = d.client.capture("quitter", 100).await.unwrap().text;
    assert!(screen.contains("PROMPT[1]: /exit 3"), "{screen}");
    // and it can be started again
    d.client.restart_session("quitter").await.unwrap();
    d.wait_for_status("quitter", SessionStatus::Running).await;
}

#[tokio::test]
async fn broadcast_reaches_every_running_session() {
    let d = TestDaemon::start().await;
    for name in ["b1", "b2", "b3"] {
        d.spawn_fake(name).await;
    }
    d.client.stop_session("b3").await.unwrap();
    let res = d
        .client
        .broadcast(&BroadcastRequest {
            prompt: "to all".into(),
            enter: None,
            names: None,
            agent: None,
        })
        .await
        .unwrap();
    assert!(res.ok);
    assert_eq!(res.sent, ["b1", "b2"]);
    for name in ["b1", "b2"] {
        d.wait_for_screen(name, "PROMPT[1]: to all").await;
    }
    // naming an exited session reports it as failed, the others still get it
    let res = d
        .client
        .broadcast(&BroadcastRequest {
            prompt: "again".into(),
            enter: None,
            names: Some(vec!["b1".into(), "b3".into()]),
            agent: Some("fake".into()),
        })
        .await
        .unwrap();
    assert!(!res.ok);
    assert_eq!(res.sent, ["b1"]);
    assert_eq!(res.failed[0].name, "b3");
    d.wait_for_screen("b1", "PROMPT[2]: again").await;
}

#[tokio::test]
async fn default_names_count_up_from_the_agent_key() {
    let d = TestDaemon::start().await;
    let req = llmux_api::CreateSessionRequest { agent: "fake".into(), ..Default::default() };
    let a = d.client.create_session(&req).await.unwrap();
    let b = d.client.create_session(&req).await.unwrap();
    assert_eq!((a.name.as_str(), b.name.as_str()), ("fake", "fake-2"));
    // no cwd given: the daemon user's home
    assert_eq!(a.cwd, d.home().display().to_string());
    assert_eq!(a.cwd_display, "~");
}

/// A daemon started from a CI job must not pass `CI=true` on: Gemini CLI exits in headless
/// mode under it and Ink renders no frames. A session's own `env` still sets what it asks for.
#[tokio::test]
async fn ci_markers_of_the_daemon_do_not_reach_agents() {
    let d = TestDaemon::builder()
        .env("CI", "true")
        .env("CI_JOB_ID", "7")
        .env("GITHUB_ACTIONS", "true")
        .env("CONTINUOUS_INTEGRATION", "1")
        .env("LLMUX_TEST_KEPT", "yes")
        .start()
        .await;
    let req = llmux_api::CreateSessionRequest {
        agent: "fake".into(),
        name: Some("ci".into()),
        cwd: Some(d.work().display().to_string()),
        env: Some(EnvInput::Text("CI_WANTED=here".into())),
        ..Default::default()
    };
    let pid = d.client.create_session(&req).await.unwrap().pid.expect("running");
    d.wait_for_screen("ci", "SIZE ").await;
    let environ = std::fs::read(format!("/proc/{pid}/environ")).expect("read the agent's environ");
    let vars: Vec<String> = environ
        .split(|b| *b == 0)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .filter(|v| !v.is_empty())
        .collect();
    for gone in ["CI=", "CI_JOB_ID=", "GITHUB_ACTIONS=", "CONTINUOUS_INTEGRATION="] {
        assert!(!vars.iter().any(|v| v.starts_with(gone)), "{gone} reached the agent: {vars:?}");
    }
    assert!(vars.iter().any(|v| v == "LLMUX_TEST_KEPT=yes"), "{vars:?}");
    assert!(vars.iter().any(|v| v == "CI_WANTED=here"), "{vars:?}");
}

#[tokio::test]
async fn a_stopped_session_keeps_its_last_screen_for_capture() {
    let d = TestDaemon::start().await;
    d.spawn_fake("halted").await;
    d.client.send("halted", "before the stop", true).await.unwrap();
    d.wait_for_screen("halted", "PROMPT[1]: before the stop").await;
    d.client.stop_session("halted").await.unwrap();
    assert_eq!(d.client.session("halted").await.unwrap().status, SessionStatus::Exited);
    // The pane is gone, the screen it had is not: the web UI shows it read-only.
    let screen = d.client.capture("halted", 100).await.unwrap().text;
    assert!(screen.contains("PROMPT[1]: before the stop"), "{screen}");
    assert_eq!(d.client.capture("halted", 1).await.unwrap().text.lines().count(), 1);
    // Started again, the capture is the new screen's, not the kept one.
    d.client.restart_session("halted").await.unwrap();
    let screen = d.wait_for_screen("halted", "FAKE AGENT READY").await;
    assert!(!screen.contains("before the stop"), "{screen}");
    // Removed, nothing is kept.
    d.client.stop_session("halted").await.unwrap();
    d.client.remove_session("halted", false).await.unwrap();
    let err = d.client.capture("halted", 10).await.unwrap_err();
    assert_eq!(err.status().unwrap().as_u16(), 404);
}

/// An interactive shell ignores SIGTERM; stopping it must not wait for the SIGKILL deadline
/// (it gets a hang-up too, on which it exits), and it leaves nothing running.
#[tokio::test]
async fn stopping_a_shell_ends_it_with_a_hang_up_not_a_kill() {
    let d = TestDaemon::start().await;
    let req = llmux_api::CreateSessionRequest {
        agent: "shell".into(),
        name: Some("sh1".into()),
        cwd: Some(d.work().to_string_lossy().into_owned()),
        ..Default::default()
    };
    d.client.create_session(&req).await.unwrap();
    d.client.send("sh1", "echo shell-is-up-$((6*7))", true).await.unwrap();
    d.wait_for_screen("sh1", "shell-is-up-42").await;
    let pid = d.client.session("sh1").await.unwrap().pid.expect("a running shell has a pid");
    let stopped = d.client.stop_session("sh1").await.unwrap();
    assert_eq!(stopped.status, SessionStatus::Exited);
    let log = d.log();
    assert!(log.contains("session stopped"), "{log}");
    assert!(
        !log.contains("ignored SIGTERM"),
        "the shell was killed at the deadline instead of exiting on its hang-up:\n{log}"
    );
    let alive = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|s| s.rsplit_once(')').is_some_and(|(_, r)| !r.trim_start().starts_with('Z')));
    assert!(!alive, "the shell {pid} outlived its session");
}

/// Every change to a session lands in the audit log under who made it and the session's
/// canonical name: create, edit, rename, prompt (plain, waited, broadcast), answer, key,
/// interrupt, restart, resume, stop, remove, kill. Read back with `llmux audit`.
#[tokio::test]
async fn every_session_change_lands_in_the_audit_log() {
    use serde_json::{Value, json};

    let d = TestDaemon::builder().user("alice").start().await;
    let (alice, _) = crate::harness::token(&d, "alice", "user", None).await;
    // A request as alice over TCP; answers (status, JSON body).
    let call = |method: &str, path: &str, body: Value| {
        let auth = format!("Bearer {alice}");
        let text = if body.is_null() { String::new() } else { body.to_string() };
        let headers = [("Authorization", auth.as_str()), ("Content-Type", "application/json")];
        let (status, res) = d.http(method, path, &headers, &text);
        let json = res.split_once("\r\n\r\n").and_then(|(_, b)| serde_json::from_str(b).ok());
        (status, json.unwrap_or(Value::Null))
    };
    let ok = |method: &str, path: &str, body: Value| {
        let (status, res) = call(method, path, body);
        assert!((200..300).contains(&status), "{method} {path}: {status} {res}");
        res
    };
    let state_of = |name: &str, want: &str| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        loop {
            let s = ok("GET", &format!("/api/sessions/{name}"), Value::Null);
            if s["state"] == want {
                return;
            }
            assert!(std::time::Instant::now() < deadline, "{name} never became {want}: {s}");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    };

    let cwd = d.work().display().to_string();
    ok("POST", "/api/sessions", json!({"agent": "fakeq", "name": "au", "cwd": cwd}));
    state_of("au", "idle");
    ok("PATCH", "/api/sessions/au", json!({"env": {"AUDITED": "1"}}));
    ok("PATCH", "/api/sessions/au", json!({"name": "au2"}));
    state_of("au2", "idle");
    ok("POST", "/api/sessions/au2/send", json!({"prompt": "hello"}));
    state_of("au2", "idle");
    let asked = json!({"prompt": "please run `touch audited.txt`", "wait": true, "timeout": 30});
    let waiting = ok("POST", "/api/sessions/au2/send", asked);
    assert_eq!(waiting["state"], "waiting", "{waiting}");
    ok("POST", "/api/sessions/au2/answer", json!({"option": 1}));
    state_of("au2", "idle");
    ok("POST", "/api/sessions/au2/key", json!({"key": "Tab"}));
    ok("POST", "/api/sessions/au2/interrupt", Value::Null);
    ok("POST", "/api/sessions/broadcast", json!({"prompt": "all of you", "names": ["au2"]}));
    ok("POST", "/api/sessions/au2/respawn", Value::Null);
    // The local operator resumes alice's session: its canonical name, actor `local`.
    let resume = json!({"conversationId": "123e4567-e89b-12d3-a456-426614174000"});
    let (status, res) =
        crate::harness::local(&d, hyper::Method::POST, "/api/sessions/au2@alice/resume", resume)
            .await;
    assert_eq!(status, 200, "{res}");
    ok("POST", "/api/sessions/au2/stop", Value::Null);
    ok("DELETE", "/api/sessions/au2", Value::Null);
    ok("POST", "/api/sessions", json!({"agent": "fake", "name": "k", "cwd": cwd}));
    ok("POST", "/api/sessions/k/kill", Value::Null);
    // Refused and masked requests change nothing, and are not session changes.
    assert_eq!(call("POST", "/api/sessions", json!({"agent": "shell", "name": "sh"})).0, 403);
    assert_eq!(call("POST", "/api/sessions/nope/stop", Value::Null).0, 404);

    let audit: Value = serde_json::from_str(&d.cli_ok(&["--json", "audit", "-n", "500"])).unwrap();
    let changes: Vec<(String, String, String)> = audit
        .as_array()
        .expect("a list of events")
        .iter()
        .filter(|e| e["action"].as_str().is_some_and(|a| a.starts_with("session_")))
        .map(|e| {
            let field = |k: &str| e[k].as_str().unwrap_or_default().to_owned();
            (field("actor"), field("action"), field("target"))
        })
        .collect();
    let entry = |actor: &str, action: &str, target: &str| {
        (actor.to_owned(), action.to_owned(), target.to_owned())
    };
    let alices = |action: &str, target: &str| entry("alice", action, target);
    assert_eq!(
        changes,
        [
            alices("session_created", "au@alice"),
            alices("session_edited", "au@alice"),
            alices("session_renamed", "au2@alice"),
            alices("session_prompted", "au2@alice"),
            alices("session_prompted", "au2@alice"),
            alices("session_answered", "au2@alice"),
            alices("session_key", "au2@alice"),
            alices("session_interrupted", "au2@alice"),
            alices("session_prompted", "au2@alice"),
            alices("session_restarted", "au2@alice"),
            entry("local", "session_resumed", "au2@alice"),
            alices("session_stopped", "au2@alice"),
            alices("session_removed", "au2@alice"),
            alices("session_created", "k@alice"),
            alices("session_killed", "k@alice"),
        ],
        "{audit}"
    );
    // The details say what changed, never what was typed.
    let details: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"].as_str().is_some_and(|a| a.starts_with("session_")))
        .map(|e| e["detail"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(details[1], "env");
    assert_eq!(details[2], "au@alice", "a rename names the old name");
    assert_eq!(details[3], "5 chars");
    assert_eq!(details[4], "30 chars, waited");
    assert_eq!(details[5], "option 1");
    assert_eq!(details[8], "10 chars, broadcast");
    assert!(!audit.to_string().contains("hello") && !audit.to_string().contains("touch"));
}
