//! The YAML config (`config::parse`) and the settings overlay (`Overlay::load`/`save`): files
//! an operator or the settings API wrote, read at every start.
#![no_main]
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use llmux_core::config::{self, Overlay};

static DIR: LazyLock<tempfile::TempDir> = LazyLock::new(|| tempfile::tempdir().unwrap());

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // Parsing is a pure function of the text.
    let first = config::parse(text).map(|c| format!("{c:?}"));
    let second = config::parse(text).map(|c| format!("{c:?}"));
    assert_eq!(first, second);

    // An overlay that loads saves and loads back to the same value.
    let input = DIR.path().join("in.yaml");
    std::fs::write(&input, data).unwrap();
    if let Ok(overlay) = Overlay::load(&input) {
        let out = DIR.path().join("out.yaml");
        overlay.save(&out).expect("a loaded overlay saves");
        let back = Overlay::load(&out).expect("a saved overlay loads");
        assert_eq!(back, overlay, "{text:?}");
    }
});
