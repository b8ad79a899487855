//! tmp dump
use llmux_core::history;
use std::path::{Path, PathBuf};
fn home(a: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/transcripts").join(a).join("home")
}
#[test]
fn dump() {
    for a in ["claude", "codex", "gemini", "qwen", "opencode", "copilot"] {
        let cwd = PathBuf::from(format!("/tmp/agents-lab-hist/work-{a}"));
        println!("===== {a} count={:?}", history::count(a, &home(a), &cwd));
        let l = history::list(a, &home(a), &cwd).unwrap();
        for c in &l {
            println!("{c:?}");
        }
        for c in &l {
            let t = history::transcript(a, &home(a), &cwd, Some(&c.id)).unwrap().unwrap();
            println!("--- {} {}", t.conversation_id, t.path.display());
            for turn in &t.turns {
                println!(
                    "  {:?} {} {:?} {}",
                    turn.role,
                    turn.id,
                    turn.ts,
                    serde_json::to_string(&turn.parts)
                        .unwrap()
                        .chars()
                        .take(200)
                        .collect::<String>()
                );
            }
        }
    }
}
