//! The last screen of each stopped session, for `capture` once its pane is gone.

use std::collections::HashMap;
use std::sync::Mutex;

/// Owns, per session name, the screen (with scrollback) captured just before a stop; in
/// memory only, dropped when the session starts again or is removed.
///
/// Locks: `screens` (a `Mutex`) guards the map, held only inside one method.
#[derive(Debug, Default)]
pub(crate) struct KeptScreens {
    screens: Mutex<HashMap<String, String>>,
}

impl KeptScreens {
    pub fn keep(&self, name: &str, screen: String) {
        self.screens.lock().expect("screens lock").insert(name.to_owned(), screen);
    }

    pub fn forget(&self, name: &str) {
        self.screens.lock().expect("screens lock").remove(name);
    }

    /// The last `lines` lines of the kept screen.
    pub fn last(&self, name: &str, lines: usize) -> Option<String> {
        let screens = self.screens.lock().expect("screens lock");
        screens.get(name).map(|s| last_n(s, lines))
    }
}

/// The last `n` lines of `text`.
fn last_n(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_screen_gives_its_last_lines_until_forgotten() {
        let kept = KeptScreens::default();
        assert_eq!(kept.last("a", 2), None);
        kept.keep("a", "one\ntwo\nthree\n".into());
        assert_eq!(kept.last("a", 2).as_deref(), Some("two\nthree"));
        assert_eq!(kept.last("a", 10).as_deref(), Some("one\ntwo\nthree"));
        kept.forget("a");
        assert_eq!(kept.last("a", 2), None);
    }
}
