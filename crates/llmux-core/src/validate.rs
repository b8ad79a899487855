//! Input rules checked at the edge: names, env, flags, paths, sizes.
//!
//! Every function returns [`Error::Invalid`] (or [`Error::TooLarge`]) with a message meant for
//! the person who typed the value. Nothing here touches tmux or the store.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use llmux_api::{EnvInput, MAX_PROMPT_BYTES};

use crate::error::{Error, Result};

/// Longest session name.
pub const MAX_NAME_LEN: usize = 64;

/// Checks a session name against `^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`.
pub fn session_name(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let ok = match chars.next() {
        Some(first) => {
            first.is_ascii_alphanumeric()
                && name.len() <= MAX_NAME_LEN
                && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        }
        None => false,
    };
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "invalid session name {name:?}: use 1-{MAX_NAME_LEN} letters, digits, '.', '_' or '-', \
             starting with a letter or digit"
        )))
    }
}

/// Checks an environment variable name against `^[A-Za-z_][A-Za-z0-9_]*$`.
pub fn env_key(key: &str) -> Result<()> {
    let mut chars = key.chars();
    let ok = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "invalid env name {key:?}: use letters, digits and '_', not starting with a digit"
        )))
    }
}

/// Validates and normalises an environment given as a map or as `KEY=VALUE` lines.
pub fn env(input: &EnvInput) -> Result<BTreeMap<String, String>> {
    let map = match input {
        EnvInput::Map(map) => map.clone(),
        EnvInput::Text(text) => parse_env_text(text)?,
    };
    for (key, value) in &map {
        env_key(key)?;
        if value.contains('\0') {
            return Err(Error::invalid(format!("env value of {key} contains a NUL byte")));
        }
    }
    Ok(map)
}

/// Parses `KEY=VALUE` lines: blank and `#` lines are skipped, the value is everything after the
/// first `=`, verbatim.
pub fn parse_env_text(text: &str) -> Result<BTreeMap<String, String>> {
    let mut map = BTreeMap::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let Some((key, value)) = trimmed.split_once('=') else {
            return Err(Error::invalid(format!("env line {trimmed:?} is not KEY=VALUE")));
        };
        map.insert(key.trim().to_owned(), value.to_owned());
    }
    Ok(map)
}

/// Splits flags by POSIX shell-word rules; unbalanced quotes are an error. Nothing is expanded.
pub fn flags(flags: &str) -> Result<Vec<String>> {
    let words = shell_words::split(flags)
        .map_err(|_| Error::invalid(format!("flags {flags:?} have an unbalanced quote")))?;
    if let Some(word) = words.iter().find(|w| w.contains('\0')) {
        return Err(Error::invalid(format!("flag {word:?} contains a NUL byte")));
    }
    Ok(words)
}

/// Expands `~` and `~/…` against `home`, makes the path absolute and checks it is a directory.
///
/// Any other byte is allowed, `#` included: tmux expands formats in a start directory, and the
/// tmux driver escapes it (`crate::tmux::escape_format`), so `#(cmd)` is only a directory name.
pub fn cwd(raw: &str, home: &Path) -> Result<PathBuf> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(Error::invalid("cwd must not be empty"));
    }
    if raw.contains('\0') {
        return Err(Error::invalid("cwd contains a NUL byte"));
    }
    let path = if raw == "~" {
        home.to_path_buf()
    } else if let Some(rest) = raw.strip_prefix("~/") {
        home.join(rest)
    } else {
        PathBuf::from(raw)
    };
    if !path.is_absolute() {
        return Err(Error::invalid(format!(
            "cwd {raw:?} must be an absolute path (or start with ~)"
        )));
    }
    match std::fs::metadata(&path) {
        Ok(meta) if meta.is_dir() => Ok(normalize(&path)),
        Ok(_) => Err(Error::invalid(format!("cwd {raw:?} is not a directory"))),
        Err(_) => Err(Error::invalid(format!("cwd does not exist: {raw}"))),
    }
}

/// Removes `.` components and trailing slashes without resolving symlinks.
fn normalize(path: &Path) -> PathBuf {
    path.components().filter(|c| !matches!(c, std::path::Component::CurDir)).collect()
}

/// Checks a prompt's size.
pub fn prompt(prompt: &str) -> Result<()> {
    if prompt.len() > MAX_PROMPT_BYTES {
        return Err(Error::TooLarge(format!(
            "prompt is {} bytes; the limit is {} bytes",
            prompt.len(),
            MAX_PROMPT_BYTES
        )));
    }
    if prompt.is_empty() {
        return Err(Error::invalid("prompt must not be empty"));
    }
    Ok(())
}

/// Checks a conversation id: letters, digits, `-`, `_`, `.`, at most 200 characters.
pub fn conversation_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 200
        && !id.starts_with('-')
        && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok { Ok(()) } else { Err(Error::invalid(format!("invalid conversation id {id:?}"))) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_names() {
        for ok in ["a", "A1", "my.agent_2-x", &"x".repeat(64)] {
            assert!(session_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-a", ".a", "_a", "a b", "a/b", "a:b", "é", &"x".repeat(65)] {
            assert!(session_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn env_keys_and_values() {
        assert!(env_key("_A1").is_ok());
        assert!(env_key("1A").is_err());
        assert!(env_key("A-B").is_err());
        assert!(env_key("").is_err());
        let text = EnvInput::Text("# c\n\nA=1=2\n B = x \n".into());
        let map = env(&text).unwrap();
        assert_eq!(map["A"], "1=2");
        assert_eq!(map["B"], " x");
        let nul = EnvInput::Map([("A".into(), "a\0".into())].into());
        assert!(env(&nul).is_err());
        assert!(env(&EnvInput::Text("novalue".into())).is_err());
    }

    #[test]
    fn flag_splitting() {
        assert_eq!(flags(r#"--model "a b" -x 'c d'"#).unwrap(), ["--model", "a b", "-x", "c d"]);
        assert_eq!(flags("$(rm -rf /) ; echo").unwrap(), ["$(rm", "-rf", "/)", ";", "echo"]);
        assert!(flags("--x \"open").is_err());
        assert!(flags("").unwrap().is_empty());
    }

    #[test]
    fn cwd_expansion() {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir(home.path().join("p")).unwrap();
        std::fs::write(home.path().join("f"), "").unwrap();
        assert_eq!(cwd("~", home.path()).unwrap(), home.path());
        assert_eq!(cwd("~/p/", home.path()).unwrap(), home.path().join("p"));
        assert!(cwd("~/f", home.path()).is_err());
        assert!(cwd("~/missing", home.path()).is_err());
        assert!(cwd("relative", home.path()).is_err());
        // A directory named like a tmux format stays usable (the tmux driver escapes it).
        std::fs::create_dir(home.path().join("#(id)")).unwrap();
        assert_eq!(cwd("~/#(id)", home.path()).unwrap(), home.path().join("#(id)"));
    }

    #[test]
    fn prompt_size() {
        assert!(prompt(&"x".repeat(MAX_PROMPT_BYTES)).is_ok());
        assert!(matches!(prompt(&"x".repeat(MAX_PROMPT_BYTES + 1)), Err(Error::TooLarge(_))));
        assert!(prompt("").is_err());
    }

    #[test]
    fn conversation_ids() {
        assert!(conversation_id("6f1c2d3e-aaaa-4bbb-8ccc-123456789abc").is_ok());
        assert!(conversation_id("x; rm -rf /").is_err());
        assert!(conversation_id("--flag").is_err());
    }
}
