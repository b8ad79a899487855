use llmux_core::api::{BroadcastRequest, EditSessionRequest, EnvInput, SessionStatus};

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
    let req = llmux_core::api::CreateSessionRequest { agent: "fake".into(), ..Default::default() };
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
    let d = TestDaemon::start_with_env(&[
        ("CI", "true"),
        ("CI_JOB_ID", "7"),
        ("GITHUB_ACTIONS", "true"),
        ("CONTINUOUS_INTEGRATION", "1"),
        ("LLMUX_TEST_KEPT", "yes"),
    ])
    .await;
    let req = llmux_core::api::CreateSessionRequest {
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
    let req = llmux_core::api::CreateSessionRequest {
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
