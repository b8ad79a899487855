//! Input validation (`llmux_core::validate`, `Kind::validate_id`): every name, env, flag
//! string, cwd and id a client sends. Accepting a value must mean it has the documented shape
//! and survives the round trip it is used for.
#![no_main]
use std::collections::BTreeMap;
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use llmux_api::EnvInput;
use llmux_core::validate;

fn name_shape(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= validate::MAX_NAME_LEN
        && b[0].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || b"._-".contains(c))
}

fn env_key_shape(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && (b[0].is_ascii_alphabetic() || b[0] == b'_')
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    let Ok(s) = std::str::from_utf8(rest) else { return };
    match pick % 6 {
        0 => assert_eq!(validate::session_name(s).is_ok(), name_shape(s), "{s:?}"),
        1 => assert_eq!(validate::env_key(s).is_ok(), env_key_shape(s), "{s:?}"),
        2 => {
            // Env text that validates prints back as KEY=VALUE lines that parse the same.
            if let Ok(map) = validate::env(&EnvInput::Text(s.to_owned())) {
                let text: String = map.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
                let again = validate::env(&EnvInput::Text(text.clone())).expect(&text);
                assert_eq!(again, map, "{s:?}");
                assert!(map.values().all(|v| !v.contains(['\0', '\n'])), "{map:?}");
            }
            let map: BTreeMap<String, String> = [("K".to_owned(), s.to_owned())].into();
            assert_eq!(validate::env(&EnvInput::Map(map)).is_ok(), !s.contains('\0'));
        }
        3 => {
            // Accepted flags are words that quote and split back to themselves.
            if let Ok(words) = validate::flags(s) {
                assert!(words.iter().all(|w| !w.contains('\0')));
                let joined = shell_words::join(&words);
                assert_eq!(validate::flags(&joined).unwrap(), words, "{s:?} -> {joined:?}");
            }
        }
        4 => {
            // An accepted cwd is an absolute directory, and accepting it again changes nothing.
            if let Ok(p) = validate::cwd(s, Path::new("/tmp")) {
                assert!(p.is_absolute() && p.is_dir(), "{s:?} -> {p:?}");
                let text = p.to_str().expect("from a str");
                assert_eq!(validate::cwd(text, Path::new("/tmp")).unwrap(), p, "{s:?}");
            }
        }
        _ => {
            if validate::conversation_id(s).is_ok() {
                assert!(!s.is_empty() && s.len() <= 200 && !s.starts_with('-'), "{s:?}");
                // It only ever becomes one argv word: never a path, never an option.
                assert!(!s.contains(['/', '\0', ' ']), "{s:?}");
            }
            for agent in llmux_core::agents::kinds().filter(|k| k.has_history()) {
                if agent.validate_id(s).is_ok() {
                    // An id becomes part of a file name and an argv word.
                    assert!(s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
                    assert!(!s.starts_with('-'), "{agent:?} {s:?}");
                }
            }
        }
    }
});
