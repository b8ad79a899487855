//! The daemon holds no state that tmux and SQLite do not: kill it hard, start it again, and
//! every session is still there, running, with its config.

use std::time::{Duration, Instant};

use llmux_api::{AgentState, CreateSessionRequest, EditSessionRequest, SessionStatus};

use crate::harness::TestDaemon;

#[tokio::test]
async fn sigkill_and_restart_keeps_every_session() {
    let mut d = TestDaemon::start().await;
    for name in ["r1", "r2", "r3"] {
        d.spawn_fake(name).await;
    }
    d.client
        .edit_session(
            "r2",
            &EditSessionRequest {
                init_prompts: Some(vec!["remember me".into()]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    d.client.stop_session("r3").await.unwrap();
    let before = d.client.list_sessions().await.unwrap();

    d.kill("KILL");
    assert!(d.client.health().await.is_err(), "daemon is down");
    d.spawn_daemon().await;

    let after = d.client.list_sessions().await.unwrap();
    assert_eq!(after.len(), 3);
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(a.name, b.name);
        assert_eq!(a.status, b.status, "{}", a.name);
        assert_eq!(a.pid, b.pid, "{} kept its process", a.name);
        assert_eq!(a.init_prompts, b.init_prompts);
        assert_eq!(a.created_at, b.created_at);
    }
    assert_eq!(d.client.session("r3").await.unwrap().status, SessionStatus::Exited);
    // and they are still driveable
    d.client.send("r1", "after restart", true).await.unwrap();
    d.wait_for_screen("r1", "PROMPT[1]: after restart").await;
}

#[tokio::test]
async fn graceful_stop_leaves_agents_running() {
    let mut d = TestDaemon::start().await;
    let s = d.spawn_fake("keep").await;
    d.kill("TERM");
    assert!(!d.paths.socket.exists(), "socket removed on a clean stop");
    assert_eq!(d.tmux_sessions(), ["keep"]);
    d.spawn_daemon().await;
    assert_eq!(d.client.session("keep").await.unwrap().pid, s.pid);
}

/// tmux control-mode clients attached to the daemon's hidden session.
fn control_clients(d: &TestDaemon) -> Vec<String> {
    let out =
        d.tmux(&["list-clients", "-F", "#{client_pid} #{client_control_mode} #{session_name}"]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.ends_with(&format!(" 1 {}", llmux_core::tmux::CONTROL_SESSION)))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn a_killed_daemon_leaves_no_control_client_behind_once_a_new_one_starts() {
    let mut d = TestDaemon::start().await;
    d.spawn_fake("cc").await;
    assert_eq!(control_clients(&d).len(), 1, "{:?}", control_clients(&d));
    for _ in 0..2 {
        d.kill("KILL");
        d.spawn_daemon().await;
        d.client.session("cc").await.unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while control_clients(&d).len() != 1 {
            assert!(
                std::time::Instant::now() < deadline,
                "stale control clients: {:?}",
                control_clients(&d)
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
    // a clean stop closes its own, and its hidden session
    d.kill("TERM");
    assert!(control_clients(&d).is_empty(), "{:?}", control_clients(&d));
    let ls = String::from_utf8_lossy(&d.tmux(&["ls", "-F", "#{session_name}"]).stdout).into_owned();
    assert_eq!(ls.trim(), "cc", "{ls}");
}

#[tokio::test]
async fn a_port_in_use_stops_the_start_before_anything_exists() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a port");
    let port = taken.local_addr().expect("address").port().to_string();
    let dir = tempfile::Builder::new().prefix("lx").tempdir_in("/tmp").expect("temp dir");
    let paths = llmux_core::paths::Paths::in_state_dir(dir.path().join("state"));
    let mut cmd = std::process::Command::new(crate::harness::bin());
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("LLMUX_") || key == "XDG_STATE_HOME" {
            cmd.env_remove(key);
        }
    }
    let out = cmd
        .args(["server", "start", "--host", "127.0.0.1", "--port", &port])
        .env("LLMUX_STATE_DIR", &paths.state_dir)
        .env("HOME", dir.path())
        .current_dir(dir.path())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run llmux");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "started on a taken port; stderr:\n{stderr}");
    let message: Vec<&str> = stderr.lines().filter(|l| l.starts_with("llmux: ")).collect();
    assert_eq!(message.len(), 1, "one error line; stderr:\n{stderr}");
    let message = message[0];
    assert_eq!(message.matches(&port).count(), 1, "the port once: {message}");
    assert_eq!(message.matches("already in use").count(), 1, "said once: {message}");
    assert!(message.contains("--port"), "names the flag: {message}");
    // nothing was started or written
    assert!(
        std::os::unix::net::UnixStream::connect(&paths.tmux_socket).is_err(),
        "a tmux server was left running on {}",
        paths.tmux_socket.display()
    );
    assert!(!paths.state_dir.join("vapid.key").exists(), "a VAPID key was left behind");
    assert!(!paths.socket.exists(), "the Unix socket was left behind");
    drop(taken);
}

/// A shell session whose command is a loop printing every `every` seconds: busy from the start.
async fn spawn_loop(d: &TestDaemon, name: &str, every: &str) {
    let req = CreateSessionRequest {
        agent: "shell".into(),
        name: Some(name.into()),
        cwd: Some(d.work().display().to_string()),
        flags: Some(format!("-c 'while :; do echo tick $(date +%s%N); sleep {every}; done'")),
        ..Default::default()
    };
    d.client.create_session(&req).await.expect("create the loop session");
    d.wait_for_screen(name, "tick ").await;
}

#[tokio::test]
async fn a_busy_session_found_at_restart_leaves_starting_and_takes_a_prompt() {
    let mut d = TestDaemon::start().await;
    spawn_loop(&d, "busy", "1").await;
    d.kill("KILL");
    d.spawn_daemon().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let s = d.client.session("busy").await.unwrap();
        if s.state != AgentState::Starting {
            assert!(matches!(s.state, AgentState::Working | AgentState::Idle), "{s:?}");
            break;
        }
        assert!(Instant::now() < deadline, "still starting after a restart: {s:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::timeout(
        Duration::from_secs(20),
        d.client.send("busy", "typed-after-restart", true),
    )
    .await
    .expect("the prompt was held")
    .expect("the prompt was typed");
    d.wait_for_screen("busy", "typed-after-restart").await;
}

#[tokio::test]
async fn a_prompt_held_while_starting_gives_up_after_the_ready_timeout() {
    let d = TestDaemon::builder().env("LLMUX_READY_TIMEOUT_MS", "2000").start().await;
    // Spawned by this daemon and never still: it stays `starting`.
    spawn_loop(&d, "slow", "0.2").await;
    assert_eq!(d.client.session("slow").await.unwrap().state, AgentState::Starting);
    let sent = Instant::now();
    let err =
        tokio::time::timeout(Duration::from_secs(30), d.client.send("slow", "never-typed", true))
            .await
            .expect("the hold never gave up")
            .expect_err("a prompt to a starting agent was typed");
    assert!(sent.elapsed() >= Duration::from_secs(2), "gave up early: {:?}", sent.elapsed());
    let message = err.to_string();
    assert!(message.contains("is still starting after 2s"), "{message}");
    // The daemon says what happened; the CLI adds where to look.
    let out = d.cli(&["session", "prompt", "slow", "never-typed"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("is still starting after 2s"), "{stderr}");
    assert!(stderr.contains("look at it with `llmux session attach slow`"), "{stderr}");
    let screen = d.client.capture("slow", 200).await.unwrap().text;
    assert!(!screen.contains("never-typed"), "{screen}");
}
