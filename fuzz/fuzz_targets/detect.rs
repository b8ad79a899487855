//! The screen detectors (`Kind::detect`): a pane's text is whatever the agent, or anything it
//! runs, printed. The first byte picks the agent kind with a detector; the rest is the screen.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

use llmux_api::{AgentState, Detection};
use llmux_core::agents::{self, Kind};

/// Every kind with a detector.
static KINDS: LazyLock<Vec<Kind>> =
    LazyLock::new(|| agents::kinds().filter(|k| k.has_detector()).collect());

/// Key names a detector may tell a client to send: arrows and Enter for cursor lists, a
/// number for numbered choices. Anything else would be a screen's text reaching `send-keys`.
fn is_known_key(k: &str) -> bool {
    matches!(k, "Up" | "Down" | "Left" | "Right" | "Enter" | "Escape" | "Tab")
        || (!k.is_empty() && k.len() <= 2 && k.bytes().all(|b| b.is_ascii_digit()))
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    let kind = KINDS[usize::from(pick) % KINDS.len()];
    let screen = String::from_utf8_lossy(rest);
    let d = kind.detect(&screen).expect("every kind here has a detector");
    if let Some(p) = &d.prompt {
        assert_eq!(d.state, AgentState::Waiting, "a prompt only while waiting: {d:?}");
        assert!(p.options.iter().filter(|o| o.selected).count() <= 1, "{d:?}");
        for o in &p.options {
            assert!(!o.label.is_empty(), "{d:?}");
            assert!(!o.keys.is_empty(), "an option without keys: {d:?}");
            assert!(o.keys.iter().all(|k| is_known_key(k)), "unexpected key: {d:?}");
        }
    }
    if d.state == AgentState::Waiting {
        assert!(d.waiting_for.is_some(), "waiting for nothing: {d:?}");
    }
    // What the API sends is what a client reads back.
    let json = serde_json::to_string(&d).unwrap();
    assert_eq!(serde_json::from_str::<Detection>(&json).unwrap(), d);
});
