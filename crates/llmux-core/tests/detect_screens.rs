//! Screen detectors against real captures in `tests/screens/<agent>/<state>-<what>.txt`.

use std::path::Path;

use llmux_api::{AgentState, Detection};
use llmux_core::agents::kind;
use llmux_core::detect::limit;

/// Whether the agent kind with this key has a screen detector (what the catalog resolves a
/// session's agent to).
fn has_detector(agent: &str) -> bool {
    kind(agent).is_some_and(|k| k.has_detector())
}

/// What the detector of the agent kind with this key reads from `screen`.
fn detect(agent: &str, screen: &str) -> Option<Detection> {
    kind(agent)?.detect(screen)
}

fn expected(name: &str) -> AgentState {
    match name.split('-').next().unwrap() {
        "starting" => AgentState::Starting,
        "idle" => AgentState::Idle,
        "working" => AgentState::Working,
        "waiting" => AgentState::Waiting,
        "exited" => AgentState::Exited,
        "limited" => AgentState::Limited,
        other => panic!("{name}: unknown state prefix {other:?}"),
    }
}

#[test]
fn every_capture_detects_its_state() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/screens");
    let mut agents: Vec<_> = std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().path()).collect();
    agents.sort();
    let mut failures = Vec::new();
    let mut limited = Vec::new();
    let mut checked = 0;
    for dir in agents {
        let agent = dir.file_name().unwrap().to_str().unwrap().to_owned();
        assert!(has_detector(&agent), "{agent} has no detector");
        let mut files: Vec<_> =
            std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        for file in files.iter().filter(|f| f.extension().is_some_and(|e| e == "txt")) {
            let name = file.file_stem().unwrap().to_str().unwrap();
            let text = std::fs::read_to_string(file).unwrap();
            let want = expected(name);
            let got = detect(&agent, &text).unwrap();
            checked += 1;
            // the rate-limit reading on top of the detector's (as the tracker applies it)
            let limit = limit::read(&text, NOON).filter(|l| l.applies_to(got.state));
            if want == AgentState::Limited {
                match limit {
                    Some(l) => limited.push((format!("{agent}/{name}"), l)),
                    None => failures.push(format!("{agent}/{name}: no limit read ({got:?})")),
                }
                continue;
            }
            if let Some(l) = limit {
                failures.push(format!("{agent}/{name}: a limit where there is none: {l:?}"));
            }
            if got.state != want {
                failures.push(format!("{agent}/{name}: want {want}, got {got:?}"));
                continue;
            }
            if want == AgentState::Waiting {
                let ok = got.waiting_for.as_deref().is_some_and(|w| !w.is_empty())
                    && got.prompt.as_ref().is_some_and(|p| {
                        p.options.len() >= 2
                            && p.options.iter().all(|o| !o.keys.is_empty() && !o.label.is_empty())
                            && p.options.iter().filter(|o| o.selected).count() <= 1
                    });
                if !ok {
                    failures.push(format!("{agent}/{name}: bad prompt {got:?}"));
                }
            } else if got.prompt.is_some() || got.waiting_for.is_some() {
                failures.push(format!("{agent}/{name}: prompt outside waiting {got:?}"));
            }
        }
    }
    assert!(checked > 50, "only {checked} captures");
    check_resets(&limited, &mut failures);
    assert!(
        failures.is_empty(),
        "{} of {checked} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// 2026-12-04T12:00:00Z: "now" for reading reset times off the captures.
const NOON: i64 = 1_796_385_600_000;
const MIN: i64 = 60_000;

/// The reset each `limited-*` capture says (clock times read as UTC; the lab ran on UTC).
fn check_resets(limited: &[(String, limit::Limit)], failures: &mut Vec<String>) {
    let clock = |h: i64, m: i64| Some(NOON - 12 * 60 * MIN + (h * 60 + m) * MIN);
    let want = |name: &str| match name {
        "claude/limited-plan-idle" | "claude/limited-plan-options" => clock(22, 17),
        "codex/limited-plan-idle" | "codex/limited-plan-switch-prompt" => clock(22, 14),
        "gemini/limited-plan-dialog" | "gemini/limited-plan-dialog-pro" => clock(22, 14),
        "gemini/limited-plan-stopped" => Some(NOON + 7200 * 1000),
        "opencode/limited-api-retrying-wide" => Some(NOON + (60 + 59) * MIN),
        // no time on screen: Claude's API-key 429; OpenCode's line cut at 120 columns
        "claude/limited-api-error" | "opencode/limited-api-retrying" => None,
        other => panic!("{other}: say what reset it shows"),
    };
    for (name, l) in limited {
        if l.resets_at != want(name) {
            failures.push(format!("{name}: resets at {:?}, want {:?}", l.resets_at, want(name)));
        }
    }
    let mut retrying: Vec<&str> =
        limited.iter().filter(|(_, l)| l.retrying).map(|(n, _)| n.as_str()).collect();
    retrying.sort_unstable();
    if retrying != ["opencode/limited-api-retrying", "opencode/limited-api-retrying-wide"] {
        failures.push(format!("retrying by themselves: {retrying:?}"));
    }
}

fn read(agent: &str, name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/screens/{agent}/{name}.txt"));
    std::fs::read_to_string(p).unwrap()
}

fn keys(agent: &str, name: &str) -> Vec<(String, bool, Vec<String>)> {
    let d = detect(agent, &read(agent, name)).unwrap();
    d.prompt.unwrap().options.into_iter().map(|o| (o.label, o.selected, o.keys)).collect()
}

fn k(keys: &[&str]) -> Vec<String> {
    keys.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn unknown_agents_have_no_detector() {
    assert!(!has_detector("shell"));
    assert!(!has_detector("my-agent"));
    assert_eq!(detect("shell", "$ ls\n"), None);
    assert_eq!(detect("", ""), None);
    for a in ["claude", "codex", "copilot", "gemini", "opencode", "qwen"] {
        assert!(has_detector(a));
        assert_eq!(detect(a, "").unwrap().state, AgentState::Starting, "{a}");
    }
}

#[test]
fn keys_are_relative_to_the_cursor() {
    // Verified live: Claude `Down` `Down` `Enter` (one key per send-keys) chose "3. No".
    let o = keys("claude", "waiting-permission");
    assert_eq!(o[0], ("Yes".into(), true, k(&["Enter"])));
    assert_eq!(o[2].2, k(&["Down", "Down", "Enter"]));
    let o = keys("claude", "waiting-permission-third-selected");
    assert!(o[2].1);
    assert_eq!(o[0].2, k(&["Up", "Up", "Enter"]));
    // Verified live: Gemini `Down`, `Enter` chose "Allow for this session".
    let o = keys("gemini", "waiting-permission-second-selected");
    assert_eq!(o[1], ("Allow for this session".into(), true, k(&["Enter"])));
    assert_eq!(o[0].2, k(&["Up", "Enter"]));
    // Verified live: Claude choice `Down`, `Enter` answered Blue.
    let o = keys("claude", "waiting-choice");
    assert_eq!(o[1].0, "Blue");
    assert_eq!(o[1].2, k(&["Down", "Enter"]));
    assert_eq!(o.len(), 4, "{o:?}");
    // OpenCode: digits (verified `1`), and the permission row assumes "Allow once".
    let o = keys("opencode", "waiting-choice-second-selected");
    assert_eq!(o[1].0, "Blue");
    assert_eq!(o[1].2, k(&["2"]));
    let o = keys("opencode", "waiting-permission");
    assert_eq!(
        o.iter().map(|o| o.0.as_str()).collect::<Vec<_>>(),
        ["Allow once", "Allow always", "Reject"]
    );
    assert_eq!(o[2].2, k(&["Right", "Right", "Enter"]));
}

#[test]
fn waiting_for_and_questions() {
    let cases = [
        (
            "claude",
            "waiting-permission",
            "permission: touch approved.txt",
            "Do you want to proceed?",
        ),
        ("claude", "waiting-choice", "choice", "Which color do you prefer?"),
        (
            "claude",
            "waiting-trust",
            "trust",
            "Quick safety check: Is this a project you created or one you trust?",
        ),
        (
            "codex",
            "waiting-permission",
            "permission: touch approved.txt",
            "Would you like to run the following command?",
        ),
        ("codex", "waiting-trust", "trust", "Trust this folder?"),
        (
            "gemini",
            "waiting-permission",
            "permission: Shell touch approved.txt",
            "Allow execution of [Shell]?",
        ),
        ("gemini", "waiting-choice", "choice", "Which color do you prefer?"),
        ("gemini", "waiting-trust", "trust", "Do you trust the files in this folder?"),
        (
            "qwen",
            "waiting-permission",
            "permission: Shell touch approved.txt",
            "Allow execution of: 'touch'?",
        ),
        ("opencode", "waiting-permission", "permission: touch approved.txt", "Permission required"),
        ("opencode", "waiting-choice", "choice", "Which color do you prefer?"),
        ("copilot", "waiting-trust", "trust", "Do you trust the files in this folder?"),
        ("copilot", "waiting-login", "login", "What account do you want to log into?"),
    ];
    for (agent, name, what, question) in cases {
        let d = detect(agent, &read(agent, name)).unwrap();
        assert_eq!(d.waiting_for.as_deref(), Some(what), "{agent}/{name}");
        if !question.is_empty() {
            assert_eq!(d.prompt.unwrap().question, question, "{agent}/{name}");
        }
    }
}

#[test]
fn narrow_and_odd_inputs_do_not_panic() {
    let odd = ["\n\n\n", "❯", "1. \n2. x", "│", "▀▀▀", "›\u{a0}", "Pane is dead (status 0)"];
    for a in ["claude", "codex", "copilot", "gemini", "opencode", "qwen"] {
        for s in odd {
            let _ = detect(a, s);
        }
    }
    assert_eq!(
        detect("claude", "x\nPane is dead (status 0, now)\n").unwrap().state,
        AgentState::Exited
    );
}
