//! The history adapters (`llmux_core::history`): transcripts are files an agent, and so a
//! session's user or anything running in it, can write. The first byte picks the agent (and
//! for Gemini, a `.jsonl` or a `.json` session file); the rest becomes that file, in a home
//! laid out like the fixtures in `crates/llmux-core/tests/transcripts`.
#![no_main]
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use llmux_core::agents;
use llmux_core::history::MAX_TURNS;

/// (agent, file under the home that the input becomes)
const FILES: &[(&str, &str)] = &[
    ("claude", ".claude/projects/-tmp-fz-work/0d529061-dd65-48c1-addd-e2a6d4b561d2.jsonl"),
    (
        "codex",
        ".codex/sessions/2026/11/27/rollout-2026-11-27T06-10-27-01a21ba0-69c4-7420-93ef-881ce78c68fb.jsonl",
    ),
    ("gemini", ".gemini/tmp/work/chats/session-2026-11-27T06-10-6b89b90e.jsonl"),
    ("gemini", ".gemini/tmp/work/chats/session-2026-11-27T06-10-6b89b90e.json"),
    ("qwen", ".qwen/projects/-tmp-fz-work/chats/76294351-3d60-4bd8-abeb-262f201d1a0e.jsonl"),
    ("copilot", ".copilot/session-state/7d3c1a52-8f0e-4b8a-9c11-2b6f0e5d9a01/events.jsonl"),
];

/// The cwd every input's conversation is looked up in.
const CWD: &str = "/tmp/fz/work";

static HOME: LazyLock<tempfile::TempDir> = LazyLock::new(|| {
    let home = tempfile::tempdir().unwrap();
    let gemini = home.path().join(".gemini");
    std::fs::create_dir_all(gemini.join("tmp/work/chats")).unwrap();
    std::fs::write(gemini.join("projects.json"), format!(r#"{{"projects":{{"{CWD}":"work"}}}}"#))
        .unwrap();
    std::fs::write(gemini.join("tmp/work/.project_root"), CWD).unwrap();
    for (_, file) in FILES {
        std::fs::create_dir_all(home.path().join(file).parent().unwrap()).unwrap();
    }
    home
});

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    let (agent, file) = FILES[usize::from(pick) % FILES.len()];
    let kind = agents::kind(agent).expect("a known agent");
    let home: &Path = HOME.path();
    let path: PathBuf = home.join(file);
    std::fs::write(&path, rest).unwrap();
    let cwd = Path::new(CWD);

    let list = kind.list(home, cwd).unwrap();
    kind.count(home, cwd).unwrap();
    for c in &list {
        assert!(!c.title.is_empty() && c.title.chars().count() <= 100, "{c:?}");
        if kind.validate_id(&c.id).is_ok() {
            // A listed conversation opens as itself.
            if let Some(t) = kind.transcript(home, cwd, Some(&c.id)).unwrap() {
                assert_eq!(t.conversation_id, c.id);
                assert!(t.turns.len() <= MAX_TURNS);
            }
        }
    }
    if let Some(t) = kind.transcript(home, cwd, None).unwrap() {
        assert!(t.turns.len() <= MAX_TURNS);
        // What the API sends for it is valid JSON.
        serde_json::to_string(&t.turns).unwrap();
    }
    std::fs::remove_file(&path).unwrap();
});
