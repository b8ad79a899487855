//! The state tracker's rules: detections, limits, state files, events.

use super::*;

#[test]
fn the_state_file_wins_but_keeps_the_screen_question() {
    let screen = Detection {
        state: AgentState::Waiting,
        waiting_for: Some("permission: Bash".into()),
        prompt: Some(PendingPrompt { question: "Proceed?".into(), ..Default::default() }),
    };
    let file = |s: &str| FileState { status: s.into(), waiting_for: Some("x".into()) };
    let merged = merge_state_file(screen.clone(), file("waiting"));
    assert_eq!(merged.waiting_for.as_deref(), Some("permission: Bash"));
    assert_eq!(
        merge_state_file(Detection::state(AgentState::Idle), file("busy")).state,
        AgentState::Working
    );
    assert_eq!(
        merge_state_file(Detection::state(AgentState::Working), file("idle")).state,
        AgentState::Idle
    );
    assert_eq!(merge_state_file(screen, file("idle")).state, AgentState::Waiting);
}

#[test]
fn a_pane_found_at_startup_is_ready_and_one_spawned_later_is_not() {
    let adopted = Track::adopted(1, true);
    assert_eq!(adopted.state, AgentState::Starting);
    assert!(adopted.ready, "was running before the daemon started");
    assert!(!Track::adopted(1, false).ready);
}

fn record(name: &str) -> SessionRecord {
    SessionRecord {
        name: name.into(),
        agent: "custom".into(),
        cwd: "/".into(),
        flags: None,
        env: BTreeMap::new(),
        init_prompts: vec![],
        resume_from: None,
        owner: "admin".into(),
        parent: None,
        created_at: 0,
        updated_at: 0,
        started_at: 0,
    }
}

fn panes(list: &[(&str, u32, bool)]) -> HashMap<String, PaneInfo> {
    list.iter()
        .map(|&(name, pid, dead)| {
            let info = PaneInfo {
                session: name.into(),
                pid,
                dead,
                dead_status: None,
                activity: 0,
                server: String::new(),
                confined: false,
            };
            (name.to_owned(), info)
        })
        .collect()
}

fn no_detector(_: &str) -> Kind {
    crate::agents::unknown()
}

#[test]
fn without_a_detector_a_changing_screen_is_work_and_a_gone_pane_is_exited() {
    let tracker = Tracker::default();
    let records = BTreeMap::from([("a".to_owned(), record("a"))]);
    let mut rx = tracker.subscribe();
    // First look, at startup: the running pane is adopted (ready) and due for a capture.
    let (due, changes) =
        tracker
            .observe(&records, &panes(&[("a", 7, false)]), &no_detector, &|_| PathBuf::from("/h"));
    assert!(changes.is_empty());
    let [d] = &due[..] else { panic!("one pane is due, got {}", due.len()) };
    assert_eq!((d.pid, d.home.as_path()), (7, Path::new("/h")));
    let change = tracker.detect(d, &records["a"], 100, "building…", None);
    assert_eq!(change.map(|c| c.state), Some(AgentState::Working));
    assert_eq!(tracker.detect(d, &records["a"], 100, "building…", None).map(|c| c.state), None);
    // The pane goes: exited, and the change is published.
    let (_, changes) =
        tracker.observe(&records, &HashMap::new(), &no_detector, &|_| PathBuf::from("/h"));
    assert_eq!(changes.iter().map(|c| c.state).collect::<Vec<_>>(), [AgentState::Exited]);
    tracker.publish(changes);
    assert_eq!(rx.try_recv().unwrap().previous, AgentState::Working);
    assert!(tracker.due(&records["a"], no_detector("x"), PathBuf::from("/h")).is_none());
}

#[test]
fn a_pane_spawned_later_starts_and_a_new_pid_starts_over() {
    let tracker = Tracker::default();
    let records = BTreeMap::from([("a".to_owned(), record("a"))]);
    tracker.observe(&records, &HashMap::new(), &no_detector, &|_| PathBuf::from("/h"));
    let (due, _) = tracker
        .observe(&records, &panes(&[("a", 7, false)]), &no_detector, &|_| PathBuf::from("/h"));
    // Not adopted: its first screen says nothing yet.
    assert!(tracker.detect(&due[0], &records["a"], 100, "one", None).is_none());
    assert!(tracker.detect(&due[0], &records["a"], 101, "two", None).is_none());
    assert_eq!(tracker.get("a").unwrap().state, AgentState::Starting);
    // A capture of an older pid is dropped.
    let (due, _) = tracker
        .observe(&records, &panes(&[("a", 8, false)]), &no_detector, &|_| PathBuf::from("/h"));
    let stale = Due { pid: 7, ..due.into_iter().next().unwrap() };
    assert!(tracker.detect(&stale, &records["a"], 102, "three", None).is_none());
    // A session removed is forgotten at the next look.
    tracker.observe(&BTreeMap::new(), &HashMap::new(), &no_detector, &|_| PathBuf::from("/h"));
    assert!(tracker.get("a").is_none());
}

#[test]
fn a_session_home_wins_over_the_daemon_home() {
    let mut r = record("a");
    assert_eq!(agent_home(&r, Path::new("/d")), Path::new("/d"));
    r.env.insert("HOME".into(), "/s".into());
    assert_eq!(agent_home(&r, Path::new("/d")), Path::new("/s"));
}

#[test]
fn a_reset_time_read_after_the_limit_is_news() {
    let tracker = Tracker::default();
    let records = BTreeMap::from([("a".to_owned(), record("a"))]);
    let qwen = |_: &str| crate::agents::kind("qwen").unwrap();
    let (due, _) =
        tracker.observe(&records, &panes(&[("a", 7, false)]), &qwen, &|_| PathBuf::from("/h"));
    let idle = include_str!("../../../tests/screens/qwen/idle-after-reply.txt");
    let with =
        |line: &str| idle.replace("  ? for shortcuts", &format!("  {line}\n  ? for shortcuts"));
    // Captured while the message was half drawn: limited, no reset time yet.
    let half =
        tracker.detect(&due[0], &records["a"], 100, &with("✕ You've hit your usage limit."), None);
    let half = half.expect("limited is a change");
    assert_eq!((half.state, half.resets_at.as_deref()), (AgentState::Limited, None));
    // The whole line: still limited, but now the reset time is known, and that is sent.
    let full = with("✕ You've hit your usage limit. Try again in 600 seconds.");
    let whole = tracker.detect(&due[0], &records["a"], 101, &full, None);
    let whole = whole.expect("a reset time read later is a change");
    assert_eq!((whole.state, whole.previous), (AgentState::Limited, AgentState::Limited));
    assert!(whole.resets_at.is_some());
    // The same screen again says nothing new (the relative time is not re-read).
    assert!(tracker.detect(&due[0], &records["a"], 102, &full, None).is_none());

    // The same message with its time on the next line, drawn a capture later: the message
    // first remembered without a time takes it.
    let b = BTreeMap::from([("b".to_owned(), record("b"))]);
    let (due, _) = tracker.observe(&b, &panes(&[("b", 8, false)]), &qwen, &|_| PathBuf::from("/h"));
    let first =
        tracker.detect(&due[0], &b["b"], 100, &with("✕ You've hit your usage limit."), None);
    assert_eq!(first.expect("limited").resets_at, None);
    let two = with("✕ You've hit your usage limit.\n  Try again in 600 seconds.");
    let later = tracker.detect(&due[0], &b["b"], 101, &two, None).expect("the time is news");
    assert!(later.resets_at.is_some(), "{later:?}");
}

#[test]
fn entering_counts_transitions() {
    let mut t = Track::new(1, AgentState::Starting);
    assert!(t.enter(Detection::state(AgentState::Idle)));
    assert!(!t.enter(Detection::state(AgentState::Idle)));
    assert!(t.ready);
    assert_eq!(t.transitions, 1);
}
