//! History adapters against real transcripts.
//!
//! The fixtures under `tests/transcripts/<agent>/home` were produced by the real CLIs (Claude
//! Code 2.1.197, Codex 0.171.0, Gemini CLI 0.61.0, Qwen Code 0.15.10, OpenCode 1.18.33) in tmux
//! against the agents-lab mock model, with cwd `/tmp/agents-lab-hist/work-<agent>`, and copied
//! with long strings trimmed (OpenCode: only the `session`/`message`/`part` tables). Each agent
//! had a `say hello` conversation (later resumed with `say hello again`), a
//! ``please run `echo hi` `` one, and for claude/gemini/opencode a `please ask` one. Copilot's
//! fixture is synthetic (it needs a GitHub login).

use std::io::Write;
use std::path::{Path, PathBuf};

use llmux_api::{Turn, TurnPart, TurnRole};
use llmux_core::Error;
use llmux_core::history::Transcript;

/// The history of an agent kind, reached by its key as the catalog resolves a session's agent.
mod history {
    use std::path::Path;

    use llmux_api::Conversation;
    use llmux_core::agents::{Kind, kind};
    use llmux_core::history::Transcript;
    use llmux_core::{Error, Result};

    pub use llmux_core::history::{MAX_TURNS, new_session_id};

    fn of(agent: &str) -> Result<Kind> {
        kind(agent).ok_or_else(|| Error::invalid(format!("no agent kind {agent:?}")))
    }

    pub fn supported(agent: &str) -> bool {
        kind(agent).is_some_and(|k| k.has_history())
    }

    pub fn list(agent: &str, home: &Path, cwd: &Path) -> Result<Vec<Conversation>> {
        of(agent)?.list(home, cwd)
    }

    pub fn count(agent: &str, home: &Path, cwd: &Path) -> Result<u32> {
        of(agent)?.count(home, cwd)
    }

    pub fn transcript(
        agent: &str,
        home: &Path,
        cwd: &Path,
        id: Option<&str>,
    ) -> Result<Option<Transcript>> {
        of(agent)?.transcript(home, cwd, id)
    }

    pub fn validate_id(agent: &str, id: &str) -> Result<()> {
        of(agent)?.validate_id(id)
    }

    pub fn resume_args(agent: &str, id: &str) -> Option<Vec<String>> {
        kind(agent)?.resume_args(id)
    }

    pub fn fresh_session_args(agent: &str, id: &str) -> Option<Vec<String>> {
        kind(agent)?.fresh_args(id)
    }
}

const MOCK_HELLO: &str = "Hello! I am a mock model";

fn home(agent: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/transcripts").join(agent).join("home")
}

fn cwd(agent: &str) -> PathBuf {
    PathBuf::from(format!("/tmp/agents-lab-hist/work-{agent}"))
}

fn texts(turns: &[Turn], role: TurnRole) -> Vec<String> {
    turns
        .iter()
        .filter(|t| t.role == role)
        .flat_map(|t| &t.parts)
        .filter_map(|p| match p {
            TurnPart::Text { text, .. } => Some(text.clone()),
            _ => None,
        })
        .collect()
}

fn read(agent: &str, id: Option<&str>) -> Transcript {
    history::transcript(agent, &home(agent), &cwd(agent), id)
        .unwrap_or_else(|e| panic!("{agent} transcript: {e}"))
        .unwrap_or_else(|| panic!("{agent}: no transcript for {id:?}"))
}

/// The checks every agent shares. `titles` is the expected list order (newest first).
fn check_agent(agent: &str, titles: &[&str]) {
    let (home, cwd) = (home(agent), cwd(agent));
    assert!(history::supported(agent));
    let list = history::list(agent, &home, &cwd).unwrap();
    let got: Vec<&str> = list.iter().map(|c| c.title.as_str()).collect();
    assert_eq!(got, titles, "{agent} titles: {list:#?}");
    assert_eq!(history::count(agent, &home, &cwd).unwrap() as usize, titles.len(), "{agent} count");
    for pair in list.windows(2) {
        let t = |c: &llmux_api::Conversation| {
            llmux_core::time::parse_rfc3339_ms(c.last_message_at.as_deref().unwrap()).unwrap()
        };
        assert!(t(&pair[0]) >= t(&pair[1]), "{agent}: not newest first: {list:#?}");
    }
    for c in &list {
        history::validate_id(agent, &c.id).unwrap();
        assert!(c.message_count >= 2, "{agent} {}: count {}", c.id, c.message_count);
        assert!(c.started_at.is_some() && c.last_message_at.is_some(), "{c:?}");
        let t = read(agent, Some(&c.id));
        assert_eq!(t.conversation_id, c.id);
        assert!(t.watch.contains(&t.path));
        // Stable ids between reads, and unique within a transcript.
        let again = read(agent, Some(&c.id));
        assert_eq!(t.turns, again.turns, "{agent}: two reads differ");
        let mut ids: Vec<&str> = t.turns.iter().map(|t| t.id.as_str()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), t.turns.len(), "{agent}: duplicate turn ids");
        // The first user turn is the title.
        assert_eq!(
            texts(&t.turns, TurnRole::User).first().map(String::as_str),
            Some(c.title.as_str())
        );
        for turn in &t.turns {
            assert!(turn.ts.is_some(), "{agent}: turn without ts {turn:?}");
            assert!(!turn.parts.is_empty());
        }
    }

    // `say hello`, resumed with `say hello again`: two user and two mock assistant turns.
    let hello = list.iter().find(|c| c.title == "say hello").expect("say hello conversation");
    let t = read(agent, Some(&hello.id));
    assert_eq!(texts(&t.turns, TurnRole::User), ["say hello", "say hello again"], "{agent}");
    let replies = texts(&t.turns, TurnRole::Assistant);
    assert_eq!(replies.len(), 2, "{agent}: {replies:?}");
    assert!(replies.iter().all(|r| r.starts_with(MOCK_HELLO)), "{agent}: {replies:?}");
    assert!(t.turns.iter().all(|t| t.role != TurnRole::Tool), "{agent}: unexpected tool turn");

    // `please run echo hi`: a tool turn calling `echo hi`, one with output `hi`.
    let run = list.iter().find(|c| c.title == "please run `echo hi`").expect("echo conversation");
    let t = read(agent, Some(&run.id));
    let tool_parts: Vec<&TurnPart> =
        t.turns.iter().filter(|t| t.role == TurnRole::Tool).flat_map(|t| &t.parts).collect();
    let call_id = tool_parts
        .iter()
        .find_map(|p| match p {
            TurnPart::ToolUse { id, input, .. } if input.to_string().contains("echo hi") => {
                Some(id.clone())
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("{agent}: no echo hi call in {tool_parts:#?}"));
    let result = tool_parts
        .iter()
        .find_map(|p| match p {
            TurnPart::ToolResult { for_id, text, is_error } if *for_id == call_id => {
                Some((text.clone(), *is_error))
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("{agent}: no result for {call_id:?} in {tool_parts:#?}"));
    assert!(
        result.0.lines().any(|l| l.trim() == "hi" || l.trim() == "Output: hi"),
        "{agent}: output {:?}",
        result.0
    );
    assert!(!result.1, "{agent}: echo hi marked as error");
    let last = t.turns.last().unwrap();
    assert_eq!(last.role, TurnRole::Assistant, "{agent}");
    assert!(texts(&t.turns, TurnRole::Assistant).iter().any(|x| x.starts_with("Done.")));

    // No id: the newest conversation of cwd (by the agent's own recency rule).
    let newest = read(agent, None);
    assert!(list.iter().any(|c| c.id == newest.conversation_id));

    // Another directory has none; an id of this agent that does not exist is none.
    assert!(history::list(agent, &home, Path::new("/nowhere")).unwrap().is_empty());
    assert_eq!(history::count(agent, &home, Path::new("/nowhere")).unwrap(), 0);
    assert!(history::transcript(agent, &home, Path::new("/nowhere"), None).unwrap().is_none());
    assert!(
        history::transcript(agent, &home, Path::new("/nowhere"), Some(&hello.id))
            .unwrap()
            .is_none()
    );
    // A home without the agent's store is empty, not an error.
    let empty = tempfile::tempdir().unwrap();
    assert!(history::list(agent, empty.path(), &cwd).unwrap().is_empty());
    assert_eq!(history::count(agent, empty.path(), &cwd).unwrap(), 0);
    assert!(history::transcript(agent, empty.path(), &cwd, None).unwrap().is_none());
}

/// The `please ask` conversation holds the ask-the-user tool call and the answer `Red`.
fn check_ask(agent: &str, tool: &str) {
    let list = history::list(agent, &home(agent), &cwd(agent)).unwrap();
    let ask = list.iter().find(|c| c.title == "please ask").expect("please ask conversation");
    let t = read(agent, Some(&ask.id));
    let parts: Vec<&TurnPart> =
        t.turns.iter().filter(|t| t.role == TurnRole::Tool).flat_map(|t| &t.parts).collect();
    assert!(
        parts.iter().any(|p| matches!(p, TurnPart::ToolUse { name, input, .. }
            if name == tool && input.to_string().contains("Which color do you prefer?"))),
        "{agent}: {parts:#?}"
    );
    assert!(
        parts
            .iter()
            .any(|p| matches!(p, TurnPart::ToolResult { text, .. } if text.contains("Red"))),
        "{agent}: {parts:#?}"
    );
}

#[test]
fn claude() {
    check_agent("claude", &["say hello", "please ask", "please run `echo hi`"]);
    check_ask("claude", "AskUserQuestion");
}

#[test]
fn codex() {
    check_agent("codex", &["say hello", "please run `echo hi`"]);
    // The injected <environment_context> user message is not a turn.
    let t = read("codex", Some("01a21ba1-75fa-7613-a6d7-668de66c1c80"));
    assert!(texts(&t.turns, TurnRole::User).iter().all(|t| !t.contains("environment_context")));
}

#[test]
fn gemini() {
    check_agent("gemini", &["say hello", "please ask", "please run `echo hi`"]);
    check_ask("gemini", "ask_user");
    // The resumed conversation has two files with the same sessionId (an empty one written at
    // the resume's spawn): the one with the conversation wins, and the id is listed once.
    let t = read("gemini", Some("6b89b90e-eeae-4423-bf34-e095b6ccb481"));
    assert!(t.path.ends_with("session-2026-11-27T06-10-6b89b90e.jsonl"), "{}", t.path.display());
    assert!(texts(&t.turns, TurnRole::User).iter().all(|t| !t.contains("session_context")));
}

#[test]
fn qwen() {
    check_agent("qwen", &["say hello", "please run `echo hi`"]);
}

#[test]
fn opencode() {
    check_agent("opencode", &["say hello", "please ask", "please run `echo hi`"]);
    check_ask("opencode", "question");
    let t = read("opencode", None);
    assert!(t.path.ends_with("opencode.db"));
    assert!(t.watch.iter().any(|p| p.to_string_lossy().ends_with("opencode.db-wal")));
}

#[test]
fn copilot_synthetic() {
    // Copilot's title is the session's `summary` when it has one.
    let list = history::list("copilot", &home("copilot"), &cwd("copilot")).unwrap();
    let titles: Vec<&str> = list.iter().map(|c| c.title.as_str()).collect();
    assert_eq!(titles, ["Run echo hi", "say hello"]);
    assert_eq!(history::count("copilot", &home("copilot"), &cwd("copilot")).unwrap(), 2);
    let t = read("copilot", Some(&list[0].id));
    assert_eq!(texts(&t.turns, TurnRole::User), ["please run `echo hi`"]);
    assert!(t.turns.iter().any(|t| t.parts.iter().any(|p| matches!(p,
        TurnPart::ToolResult { for_id: Some(f), text, is_error: false } if f == "call_1" && text.trim() == "hi"))));
    assert_eq!(texts(&t.turns, TurnRole::Assistant), ["Done. The command printed: hi"]);
    let hello = read("copilot", Some(&list[1].id));
    assert!(texts(&hello.turns, TurnRole::Assistant)[0].starts_with(MOCK_HELLO));
    // Newest by updated_at.
    assert_eq!(read("copilot", None).conversation_id, list[0].id);
    // A session of another cwd is not visible from here.
    assert!(
        history::transcript(
            "copilot",
            &home("copilot"),
            &cwd("copilot"),
            Some("0b1c2d3e-4f50-4617-8a9b-0c1d2e3f4a5b")
        )
        .unwrap()
        .is_none()
    );
}

#[test]
fn ids_are_validated() {
    let good = [
        ("claude", "4bb0e19f-e6c9-4bc5-a825-706d21c4f4e7"),
        ("codex", "01a21ba0-69c4-7420-93ef-881ce78c68fb"),
        ("gemini", "6b89b90e-eeae-4423-bf34-e095b6ccb481"),
        ("qwen", "76294351-3d60-4bd8-abeb-262f201d1a0e"),
        ("copilot", "a1f0c2d3-4e5f-4a6b-8c7d-9e0f1a2b3c4d"),
        ("opencode", "ses_de45ef3b7ffe5xkfZhbN9AzpvY"),
    ];
    for (agent, id) in good {
        history::validate_id(agent, id).unwrap();
        for bad in
            ["../x", "--flag", "a b", "", "ses_", "ses_a/b", &format!("{id}\n"), &format!("-{id}")]
        {
            let err = history::validate_id(agent, bad).unwrap_err();
            assert!(matches!(err, Error::Invalid(_)), "{agent} {bad:?}: {err:?}");
        }
        // A bad id is refused before anything is read.
        assert!(matches!(
            history::transcript(agent, &home(agent), &cwd(agent), Some("../x")),
            Err(Error::Invalid(_))
        ));
    }
    assert!(history::validate_id("opencode", "4bb0e19f-e6c9-4bc5-a825-706d21c4f4e7").is_err());
    assert!(history::validate_id("claude", "ses_de45ef3b7ffe5xkfZhbN9AzpvY").is_err());
    assert!(matches!(history::validate_id("aider", "x"), Err(Error::Invalid(_))));
    assert!(!history::supported("aider"));
    assert!(history::list("aider", Path::new("/"), Path::new("/")).is_err());
}

#[test]
fn argv_shapes() {
    let id = "4bb0e19f-e6c9-4bc5-a825-706d21c4f4e7";
    for agent in ["claude", "gemini", "qwen", "copilot"] {
        assert_eq!(history::resume_args(agent, id).unwrap(), ["--resume", id]);
        assert_eq!(history::fresh_session_args(agent, id).unwrap(), ["--session-id", id]);
    }
    assert_eq!(history::resume_args("codex", id).unwrap(), ["resume", id]);
    assert_eq!(history::fresh_session_args("codex", id), None);
    let ses = "ses_de45ef3b7ffe5xkfZhbN9AzpvY";
    assert_eq!(history::resume_args("opencode", ses).unwrap(), ["-s", ses]);
    assert_eq!(history::fresh_session_args("opencode", ses), None);
    assert_eq!(history::resume_args("aider", id), None);
    assert_eq!(history::fresh_session_args("aider", id), None);

    let a = history::new_session_id();
    let b = history::new_session_id();
    assert_ne!(a, b);
    for agent in ["claude", "gemini", "qwen", "codex", "copilot"] {
        history::validate_id(agent, &a).unwrap();
    }
    assert_eq!(a.as_bytes()[14], b'4', "version 4: {a}");
    assert!(matches!(a.as_bytes()[19], b'8' | b'9' | b'a' | b'b'), "variant: {a}");
}

/// Partial and bad lines are skipped, and a long transcript keeps its newest 300 turns.
#[test]
fn tolerant_streaming_and_cap() {
    let home = tempfile::tempdir().unwrap();
    let cwd = Path::new("/work/some.project");
    let dir = home.path().join(".claude/projects/-work-some-project");
    std::fs::create_dir_all(&dir).unwrap();
    let id = history::new_session_id();
    let mut f = std::fs::File::create(dir.join(format!("{id}.jsonl"))).unwrap();
    writeln!(f, "not json").unwrap();
    writeln!(f).unwrap();
    writeln!(f, "[1,2,3]").unwrap();
    writeln!(
        f,
        r#"{{"type":"user","uuid":"u-meta","isMeta":true,"timestamp":"2026-01-01T00:00:00Z","message":{{"role":"user","content":"<system-reminder>x</system-reminder>"}}}}"#
    )
    .unwrap();
    writeln!(
        f,
        r#"{{"type":"user","uuid":"u-cmd","timestamp":"2026-01-01T00:00:00Z","message":{{"role":"user","content":"<command-name>/model</command-name><command-args>opus</command-args>"}}}}"#
    )
    .unwrap();
    for i in 0..200 {
        writeln!(
            f,
            r#"{{"type":"user","uuid":"u{i}","cwd":"/work/some.project","timestamp":"2026-01-01T00:{:02}:{:02}Z","message":{{"role":"user","content":"question {i}\nsecond line"}}}}"#,
            i / 60,
            i % 60
        )
        .unwrap();
        writeln!(
            f,
            r#"{{"type":"assistant","uuid":"a{i}","timestamp":"2026-01-01T00:{:02}:{:02}Z","message":{{"role":"assistant","content":[{{"type":"thinking","thinking":"hm"}},{{"type":"text","text":"answer {i}"}}]}}}}"#,
            i / 60,
            i % 60
        )
        .unwrap();
    }
    write!(f, r#"{{"type":"assistant","uuid":"partial","message":{{"#).unwrap();
    drop(f);

    let list = history::list("claude", home.path(), cwd).unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].title, "question 0");
    assert_eq!(list[0].message_count, 400);
    let t = history::transcript("claude", home.path(), cwd, None).unwrap().unwrap();
    assert_eq!(t.conversation_id, id);
    assert_eq!(t.turns.len(), history::MAX_TURNS);
    assert_eq!(t.turns.last().unwrap().id, "a199");
    assert_eq!(t.turns[0].id, "u50");
    assert!(t.turns.iter().all(|t| t.id != "partial"));

    // Agent-injected text is no user turn; a slash command is a small system turn.
    let short = dir.join(format!("{}.jsonl", history::new_session_id()));
    std::fs::write(
        &short,
        concat!(
            r#"{"type":"user","uuid":"m","isMeta":true,"timestamp":"2026-01-02T00:00:00Z","message":{"role":"user","content":"<system-reminder>x</system-reminder>"}}"#,
            "\n",
            r#"{"type":"user","uuid":"c","timestamp":"2026-01-02T00:00:01Z","message":{"role":"user","content":"<command-name>/model</command-name><command-args>opus</command-args>"}}"#,
            "\n",
            r#"{"type":"user","uuid":"r","timestamp":"2026-01-02T00:00:02Z","message":{"role":"user","content":[{"type":"text","text":"<system-reminder>y</system-reminder>"}]}}"#,
            "\n"
        ),
    )
    .unwrap();
    let list = history::list("claude", home.path(), cwd).unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0].title, "(no opener)");
    let id2 = short.file_stem().unwrap().to_str().unwrap();
    let t = history::transcript("claude", home.path(), cwd, Some(id2)).unwrap().unwrap();
    assert_eq!(t.turns.len(), 1, "{:?}", t.turns);
    assert_eq!(t.turns[0].role, TurnRole::System);
    assert!(matches!(&t.turns[0].parts[0], TurnPart::ToolUse { name, .. } if name == "/model"));
}

/// A project dir holding a file of another cwd (names are lossy: `/a.b` and `/a-b` share one)
/// does not list it.
#[test]
fn claude_lossy_dir_names_are_checked() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join(".claude/projects/-work-a-b");
    std::fs::create_dir_all(&dir).unwrap();
    let line = |cwd: &str| {
        format!(
            r#"{{"type":"user","uuid":"u1","cwd":"{cwd}","timestamp":"2026-01-01T00:00:00Z","message":{{"role":"user","content":"hi from {cwd}"}}}}"#
        )
    };
    std::fs::write(dir.join(format!("{}.jsonl", history::new_session_id())), line("/work/a.b"))
        .unwrap();
    std::fs::write(dir.join(format!("{}.jsonl", history::new_session_id())), line("/work/a-b"))
        .unwrap();
    let list = history::list("claude", home.path(), Path::new("/work/a.b")).unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].title, "hi from /work/a.b");
}
