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

    // An overlay that parses (as `Overlay::load` parses the file) saves and loads back to the
    // same value. Parsed in memory first: files only for the few inputs that are overlays.
    let parsed = if text.trim().is_empty() {
        Ok(Overlay::default())
    } else {
        serde_saphyr::from_str::<Overlay>(text)
    };
    if let Ok(overlay) = parsed {
        let path = DIR.path().join("overlay.yaml");
        overlay.save(&path).expect("a parsed overlay saves");
        let back = Overlay::load(&path).expect("a saved overlay loads");
        assert_eq!(back, overlay, "{text:?}");
    }
});
