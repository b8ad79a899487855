//! Agent awareness against a fake Qwen Code (`fakeq`, read by the real qwen detector) and the
//! plain fake agent (no detector: pane activity): states, events, held and queued prompts,
//! `prompt --wait`, answering a permission prompt, init prompts, and process hygiene.

use std::time::{Duration, Instant};

use llmux_api::{AgentState, CreateSessionRequest};
use llmux_client::SessionEvent;

use crate::harness::TestDaemon;

#[tokio::test]
async fn states_follow_the_screen_and_arrive_as_events() {
    let d = TestDaemon::start().await;
    let mut events = d.client.events().await.unwrap();
    let s =
        d.spawn_fakeq("q1", &[("FAKE_STARTUP_MS", "1500"), ("FAKE_THINK_MS", "1500")], &[]).await;
    assert_eq!(s.state, AgentState::Starting, "{s:?}");
    d.wait_for_state("q1", AgentState::Idle).await;
    d.client.send("q1", "say hello", true).await.unwrap();
    d.wait_for_state("q1", AgentState::Working).await;
    let idle = d.wait_for_state("q1", AgentState::Idle).await;
    assert!(idle.waiting_for.is_none() && idle.prompt.is_none());
    // the same changes came over /api/events, in order
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while seen.len() < 3 && Instant::now() < deadline {
        let next = tokio::time::timeout(Duration::from_secs(5), events.next()).await;
        if let Ok(Some(Ok(SessionEvent::State(ev)))) = next {
            assert_eq!(ev.name, "q1");
            assert_eq!(ev.agent, "fakeq");
            seen.push((ev.previous, ev.state));
        }
    }
    assert_eq!(
        seen,
        [
            (AgentState::Starting, AgentState::Idle),
            (AgentState::Idle, AgentState::Working),
            (AgentState::Working, AgentState::Idle)
        ]
    );
}

#[tokio::test]
async fn a_prompt_sent_while_starting_is_held_until_the_agent_is_ready() {
    let d = TestDaemon::start().await;
    // the fake drops every key typed during its blank start
    d.spawn_fakeq("q2", &[("FAKE_STARTUP_MS", "2500")], &[]).await;
    let started = Instant::now();
    d.client.send("q2", "early bird", true).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(1500), "not held: {:?}", started.elapsed());
    d.wait_for_screen("q2", "Reply to: early bird").await;
}

#[tokio::test]
async fn prompt_wait_returns_the_reply_and_the_state() {
    let d = TestDaemon::start().await;
    d.spawn_fakeq("q3", &[("FAKE_THINK_MS", "1200")], &[]).await;
    let started = Instant::now();
    let res = d.client.send_wait("q3", "say hello", 30).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(1200), "returned before the reply");
    assert_eq!(res.state, Some(AgentState::Idle), "{res:?}");
    assert!(!res.timed_out);
    let reply = res.reply.unwrap();
    assert!(reply.contains("Reply to: say hello"), "{reply:?}");
    assert!(!reply.contains("Thinking"), "{reply:?}");

    // the CLI: exit 0 and the reply on stdout; --json has {state, reply, waitingFor}
    let out = d.cli(&["session", "prompt", "q3", "--wait", "say", "again"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("Reply to: say again"), "{out:?}");
    let json: serde_json::Value =
        serde_json::from_str(&d.cli_ok(&["--json", "session", "prompt", "q3", "--wait", "third"]))
            .unwrap();
    assert_eq!(json["state"], "idle");
    assert!(json["reply"].as_str().unwrap().contains("Reply to: third"), "{json}");

    // a timeout says so, with exit code 9
    let out = d.cli(&["session", "prompt", "q3", "--wait", "--timeout", "1", "slow one"]);
    assert_eq!(out.status.code(), Some(9), "{out:?}");
    d.wait_for_state("q3", AgentState::Idle).await;
}

#[tokio::test]
async fn a_permission_prompt_is_waiting_and_can_be_answered() {
    let d = TestDaemon::start().await;
    d.spawn_fakeq("q4", &[], &[]).await;
    d.wait_for_state("q4", AgentState::Idle).await;
    // prompt --wait stops at the question: exit code 8, the question on stderr
    let out = d.cli(&["session", "prompt", "q4", "--wait", "please run `touch approved.txt`"]);
    assert_eq!(out.status.code(), Some(8), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("Yes, allow once"), "{out:?}");
    let s = d.wait_for_state("q4", AgentState::Waiting).await;
    assert!(s.waiting_for.as_deref().unwrap_or("").starts_with("permission"), "{s:?}");
    let prompt = s.prompt.expect("the question");
    assert!(prompt.question.contains("Allow execution"), "{prompt:?}");
    assert_eq!(prompt.options[0].label, "Yes, allow once");
    assert!(prompt.options.len() >= 2);
    // Over the wire, options are numbered as the screen shows them: from 1. 0 and a number
    // past the last are refused with a clear error and change nothing.
    let (status, body) = answer_raw(&d, "q4", 0).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap_or("").contains("numbered from 1"), "{body}");
    let past = prompt.options.len() + 1;
    let (status, body) = answer_raw(&d, "q4", past).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap_or("").contains(&format!("no option {past}")), "{body}");
    assert_eq!(d.client.session("q4").await.unwrap().state, AgentState::Waiting);
    // 1 is the first option, "Yes, allow once"
    let (status, body) = answer_raw(&d, "q4", 1).await;
    assert_eq!(status, 200, "{body}");
    d.wait_for_state("q4", AgentState::Idle).await;
    assert!(d.work().join("approved.txt").exists(), "option 1 did not allow once");
    // not waiting any more: answering is a conflict
    let err = d.client.answer("q4", 1).await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(409), "{err}");
}

/// `POST /api/sessions/{name}/answer` with `{"option": n}` as JSON on the wire: (status, body).
async fn answer_raw(d: &TestDaemon, name: &str, n: usize) -> (u16, serde_json::Value) {
    let body = serde_json::json!({ "option": n }).to_string();
    let res = d
        .client
        .raw(
            hyper::Method::POST,
            &format!("/api/sessions/{name}/answer"),
            Some((bytes::Bytes::from(body), "application/json")),
            &[],
        )
        .await
        .expect("the daemon answers");
    (res.status.as_u16(), serde_json::from_slice(&res.body).unwrap_or_default())
}

#[tokio::test]
async fn concurrent_prompts_are_typed_one_after_another() {
    let d = TestDaemon::start().await;
    d.spawn_fake("f1").await;
    let texts: Vec<String> = (0..6).map(|i| format!("sender {i} {}", "x".repeat(300))).collect();
    let sends = texts.iter().map(|t| d.client.send("f1", t, true));
    for res in futures_util::future::join_all(sends).await {
        res.unwrap();
    }
    let screen = d.wait_for_screen("f1", "PROMPT[6]").await;
    for t in &texts {
        assert!(screen.contains(t.as_str()), "{t:?} arrived mangled:\n{screen}");
    }
}

#[tokio::test]
async fn init_prompts_are_typed_once_ready_unless_skipped() {
    let d = TestDaemon::start().await;
    d.spawn_fakeq("q5", &[("FAKE_STARTUP_MS", "1500")], &["first init", "second init"]).await;
    d.wait_for_screen("q5", "Reply to: first init").await;
    d.wait_for_screen("q5", "Reply to: second init").await;

    let req = CreateSessionRequest {
        agent: "fakeq".into(),
        name: Some("q6".into()),
        cwd: Some(d.work().display().to_string()),
        init_prompts: Some(vec!["never typed".into()]),
        skip_init: Some(true),
        ..Default::default()
    };
    d.client.create_session(&req).await.unwrap();
    d.wait_for_state("q6", AgentState::Idle).await;
    // give a wrongly fired prompt the time it would need, then look
    let res = d.client.send_wait("q6", "marker", 30).await.unwrap();
    assert!(res.reply.unwrap().contains("Reply to: marker"));
    let screen = d.client.capture("q6", 200).await.unwrap().text;
    assert!(!screen.contains("never typed"), "{screen}");
}

/// Processes whose environment says they belong to session `name` of this daemon.
fn session_processes(d: &TestDaemon, name: &str) -> Vec<u32> {
    let marker = format!("LLMUX_SESSION={name}");
    let tmux = format!("TMUX={},", d.paths.tmux_socket.display());
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let alive = std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
                s.rsplit_once(')').is_some_and(|(_, r)| !r.trim_start().starts_with('Z'))
            });
            alive
                && std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|env| {
                    let vars: Vec<&[u8]> = env.split(|b| *b == 0).collect();
                    vars.contains(&marker.as_bytes())
                        && vars.iter().any(|v| v.starts_with(tmux.as_bytes()))
                })
        })
        .collect()
}

#[tokio::test]
async fn stopping_a_session_ends_every_process_it_started() {
    let d = TestDaemon::start().await;
    // the fake ignores SIGHUP and starts a child that ignores it too, like Gemini CLI
    d.spawn_fakeq("q7", &[("FAKE_CHILD", "1")], &[]).await;
    d.wait_for_state("q7", AgentState::Idle).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while session_processes(&d, "q7").len() < 2 {
        assert!(Instant::now() < deadline, "the fake's child never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    d.client.stop_session("q7").await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(6);
    loop {
        let left = session_processes(&d, "q7");
        if left.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "processes outlived the session: {left:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(d.wait_for_state("q7", AgentState::Exited).await.state, AgentState::Exited);
}

#[tokio::test]
async fn an_agent_without_a_detector_goes_idle_when_its_screen_settles() {
    let d = TestDaemon::start().await;
    d.spawn_fake("f2").await;
    d.wait_for_state("f2", AgentState::Idle).await;
    let res = d.client.send_wait("f2", "hello fallback", 30).await.unwrap();
    assert_eq!(res.state, Some(AgentState::Idle));
    assert!(res.reply.unwrap().contains("PROMPT[1]: hello fallback"));
}

#[test]
fn agent_detect_reads_a_saved_screen() {
    let screens = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../llmux-core/tests/screens/qwen/waiting-permission.txt");
    let out = std::process::Command::new(crate::harness::bin())
        .args(["agent", "detect", "--agent", "qwen"])
        .arg(&screens)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("state        waiting\n"), "{text}");
    assert!(text.contains("Yes, allow once"), "{text}");
    let out = std::process::Command::new(crate::harness::bin())
        .args(["agent", "detect", "--agent", "nope", "/dev/null"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no detector"), "{out:?}");
}

#[tokio::test]
async fn llmux_chooses_the_conversation_id_and_keeps_it_across_restarts() {
    let mut d = TestDaemon::start().await;
    // fakeq borrows qwen's detector and history adapter: a fresh spawn gets `--session-id`
    let s = d.spawn_fakeq("q8", &[], &[]).await;
    let id = s.conversation_id.clone().expect("llmux chose a conversation id");
    assert_eq!(id.len(), 36, "a uuid: {id}");
    assert_eq!(id.matches('-').count(), 4, "a uuid: {id}");
    // the daemon dies hard and comes back: it still knows
    d.kill("KILL");
    d.spawn_daemon().await;
    assert_eq!(d.client.session("q8").await.unwrap().conversation_id.as_deref(), Some(id.as_str()));
    // a rename keeps it
    let req = llmux_api::EditSessionRequest { name: Some("q9".into()), ..Default::default() };
    d.client.edit_session("q8", &req).await.unwrap();
    d.restart().await;
    assert_eq!(d.client.session("q9").await.unwrap().conversation_id.as_deref(), Some(id.as_str()));
    // a restart starts a new conversation with a new id
    let again = d.client.restart_session("q9").await.unwrap();
    let next = again.conversation_id.expect("a new id");
    assert_ne!(next, id);
    // resuming binds the resumed one; a bad id is refused in words
    let err = d.client.resume("q9", "../etc").await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(400), "{err}");
    let resumed = d.client.resume("q9", &id).await.unwrap();
    assert_eq!(resumed.conversation_id.as_deref(), Some(id.as_str()));
    assert_eq!(resumed.resume_from.as_deref(), Some(id.as_str()));
}
