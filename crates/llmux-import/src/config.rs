//! 0.41's `config.yaml` (and the settings page's `overrides.yaml`) in llmux's terms.
//!
//! Most keys have the same name and meaning (`server.port`, `agents.<key>.cmd`, `flags`,
//! `readyPrompt`, `initPrompts`); the rest had no effect in 0.41 or have no counterpart here,
//! and are dropped with the reason. An agent's `cmd` or `flags` that needed 0.41's shell is
//! dropped (llmux runs no shell). Keys llmux itself knows are kept, so a file already shared
//! by both comes through whole.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::shell::needs_shell;

/// One key kept or dropped, with why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyNote {
    /// Dotted path (`agents.claude.models`).
    pub key: String,
    /// What happened to it and why.
    pub note: String,
}

/// The translated config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Translation {
    /// The new file's text.
    pub yaml: String,
    /// Keys brought over.
    pub kept: Vec<KeyNote>,
    /// Keys left behind.
    pub dropped: Vec<KeyNote>,
    /// The agents it defines or overrides (for the session checks).
    pub agents: BTreeMap<String, llmux_core::config::AgentConfig>,
}

/// The first line of a translated file.
pub const HEADER: &str =
    "# llmux config, translated from llmux 0.41's by `llmux import llmux-0.41`.\n";

const OUR_SERVER_KEYS: [&str; 7] =
    ["host", "publicUrl", "allowedHosts", "allowedOrigins", "limits", "mode", "usersSocket"];
const OUR_AGENT_KEYS: [&str; 6] =
    ["env", "displayName", "installHint", "docsUrl", "detector", "settleMs"];

fn parse_yaml(text: &str) -> Result<Map<String, Value>, String> {
    let body: String = text.lines().filter(|l| !l.trim_start().starts_with('#')).collect();
    if body.trim().is_empty() {
        return Ok(Map::new());
    }
    match serde_saphyr::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(Value::Null) => Ok(Map::new()),
        Ok(_) => Err("the file is not a YAML mapping".into()),
        Err(e) => Err(format!("not valid YAML: {e}")),
    }
}

struct Notes {
    kept: Vec<KeyNote>,
    dropped: Vec<KeyNote>,
}

impl Notes {
    fn keep(&mut self, key: String, note: &str) {
        self.kept.push(KeyNote { key, note: note.into() });
    }
    fn drop(&mut self, key: String, note: impl Into<String>) {
        self.dropped.push(KeyNote { key, note: note.into() });
    }
}

/// Translates the text of a 0.41 `config.yaml`.
pub fn translate(text: &str) -> Result<Translation, String> {
    let old = parse_yaml(text)?;
    let mut notes = Notes { kept: Vec::new(), dropped: Vec::new() };
    let mut out = Map::new();
    for (key, value) in old {
        match key.as_str() {
            "server" => {
                let server = server(value, &mut notes);
                if !server.is_empty() {
                    out.insert(key, Value::Object(server));
                }
            }
            "agents" => {
                let agents = agents(value, &mut notes);
                if !agents.is_empty() {
                    out.insert(key, Value::Object(agents));
                }
            }
            "initPrompts" => {
                if let Some(prompts) = prompts(&key, value, &mut notes) {
                    out.insert(key, prompts);
                }
            }
            "sessions" => notes.drop(
                key,
                "0.41 read it and never started these sessions; sessions come over from \
                 sessions.json",
            ),
            "turnq" => {
                notes.drop(key, "llmux has no turn queue (turnq): sessions run independently")
            }
            "notifications" => {
                notes.keep(key.clone(), "an llmux setting, kept");
                out.insert(key, value);
            }
            _ => notes.drop(key, "not a setting of 0.41 or llmux"),
        }
    }
    let out = Value::Object(out);
    let yaml = if out.as_object().is_some_and(Map::is_empty) {
        HEADER.to_owned()
    } else {
        let body = serde_saphyr::to_string(&out).map_err(|e| e.to_string())?;
        format!("{HEADER}{body}")
    };
    let config = llmux_core::config::parse(&yaml)
        .map_err(|e| format!("the translation does not load in llmux: {e}"))?;
    Ok(Translation { yaml, kept: notes.kept, dropped: notes.dropped, agents: config.agents })
}

fn server(value: Value, notes: &mut Notes) -> Map<String, Value> {
    let mut out = Map::new();
    let Value::Object(map) = value else {
        notes.drop("server".into(), "not a mapping");
        return out;
    };
    for (key, value) in map {
        let path = format!("server.{key}");
        match key.as_str() {
            "port" => match value.as_u64().filter(|p| (1..=65535).contains(p)) {
                Some(_) => {
                    notes.keep(path, "same in llmux");
                    out.insert(key, value);
                }
                None => notes.drop(path, "not a TCP port number"),
            },
            "token" | "tokenExpiry" => notes.drop(
                path,
                "0.41 read it and never used it; make tokens with `llmux token create`",
            ),
            "noQr" => notes
                .drop(path, "llmux prints no QR code at start; `llmux pair` prints one when asked"),
            k if OUR_SERVER_KEYS.contains(&k) => {
                notes.keep(path, "an llmux setting, kept");
                out.insert(key, value);
            }
            _ => notes.drop(path, "not a setting of 0.41 or llmux"),
        }
    }
    out
}

fn agents(value: Value, notes: &mut Notes) -> Map<String, Value> {
    let mut out = Map::new();
    let Value::Object(map) = value else {
        notes.drop("agents".into(), "not a mapping");
        return out;
    };
    for (name, agent) in map {
        let Value::Object(fields) = agent else {
            notes.drop(format!("agents.{name}"), "not a mapping");
            continue;
        };
        let mut kept = Map::new();
        let mut kept_notes = Vec::new();
        for (key, value) in fields {
            let path = format!("agents.{name}.{key}");
            match key.as_str() {
                "cmd" | "flags" => {
                    let Some(text) = value.as_str() else {
                        notes.drop(path, "not a string");
                        continue;
                    };
                    if let Some(why) = needs_shell(text) {
                        notes.drop(path, format!("needs a shell, which llmux does not run: {why}"));
                        continue;
                    }
                    kept_notes.push(KeyNote { key: path, note: "same in llmux".into() });
                    kept.insert(key, value);
                }
                "readyPrompt" => {
                    kept_notes.push(KeyNote { key: path, note: "same in llmux".into() });
                    kept.insert(key, value);
                }
                "models" => notes.drop(path, "llmux has no chat model picker"),
                k if OUR_AGENT_KEYS.contains(&k) => {
                    kept_notes.push(KeyNote { key: path, note: "an llmux setting, kept".into() });
                    kept.insert(key, value);
                }
                _ => notes.drop(path, "not a setting of 0.41 or llmux"),
            }
        }
        if kept.is_empty() {
            continue;
        }
        // The agent must load in llmux's catalog as translated; otherwise it stays behind.
        let one = Value::Object(Map::from_iter([(
            "agents".to_owned(),
            Value::Object(Map::from_iter([(name.clone(), Value::Object(kept.clone()))])),
        )]));
        let check = serde_saphyr::to_string(&one)
            .map_err(|e| e.to_string())
            .and_then(|yaml| llmux_core::config::parse(&yaml))
            .and_then(|c| {
                llmux_core::agents::Catalog::with_config(&c.agents).map_err(|e| e.to_string())
            });
        match check {
            Ok(_) => {
                notes.kept.extend(kept_notes);
                out.insert(name, Value::Object(kept));
            }
            Err(e) => notes.drop(format!("agents.{name}"), format!("does not load in llmux: {e}")),
        }
    }
    out
}

fn prompts(key: &str, value: Value, notes: &mut Notes) -> Option<Value> {
    let Value::Array(items) = value else {
        notes.drop(key.into(), "not a list");
        return None;
    };
    let total = items.len();
    let strings: Vec<Value> = items.into_iter().filter(Value::is_string).collect();
    if strings.len() < total {
        notes.drop(
            format!("{key}[…]"),
            format!("{} entries are not text (0.41 ignored them too)", total - strings.len()),
        );
    }
    notes.keep(key.into(), "same in llmux");
    Some(Value::Array(strings))
}

/// The settings page's `overrides.yaml`: its `initPrompts` (for llmux's overlay), and what
/// was dropped.
pub fn translate_overrides(text: &str) -> Result<(Option<Vec<String>>, Vec<KeyNote>), String> {
    let old = parse_yaml(text)?;
    let mut dropped = Vec::new();
    let mut prompts = None;
    for (key, value) in old {
        match (key.as_str(), value) {
            ("initPrompts", Value::Array(items)) => {
                prompts =
                    Some(items.into_iter().filter_map(|v| v.as_str().map(str::to_owned)).collect());
            }
            ("turnq", _) => dropped.push(KeyNote {
                key: format!("overrides.{key}"),
                note: "llmux has no turn queue (turnq): sessions run independently".into(),
            }),
            _ => dropped.push(KeyNote {
                key: format!("overrides.{key}"),
                note: "not a setting 0.41's overrides held".into(),
            }),
        }
    }
    Ok((prompts, dropped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_kept_translated_or_dropped_with_a_reason() {
        let t = translate(
            "server:\n  port: 4100\n  token: abc\n  noQr: true\n  wat: 1\n\
             agents:\n  claude:\n    flags: \"--model opus\"\n    models: [a, b]\n    readyPrompt: \"^>\"\n  \
             evil:\n    cmd: \"sh -c 'id'; rm -rf ~\"\n  odd:\n    flags: \"--x $(id)\"\n    cmd: odd-agent\n\
             initPrompts:\n  - hello\n  - 3\n\
             sessions:\n  - name: a\n    agent: claude\n\
             turnq:\n  enabled: true\nsurprise: 1\n",
        )
        .unwrap();
        let dropped: Vec<&str> = t.dropped.iter().map(|k| k.key.as_str()).collect();
        for key in [
            "server.token",
            "server.noQr",
            "server.wat",
            "agents.claude.models",
            "agents.evil.cmd",
            "agents.odd.flags",
            "initPrompts[…]",
            "sessions",
            "turnq",
            "surprise",
        ] {
            assert!(dropped.contains(&key), "{key} dropped: {dropped:?}");
        }
        assert!(
            t.dropped.iter().find(|k| k.key == "agents.odd.flags").unwrap().note.contains("shell")
        );
        let config = llmux_core::config::parse(&t.yaml).unwrap();
        assert_eq!(config.server.port, Some(4100));
        assert_eq!(config.agents["claude"].flags.as_deref(), Some("--model opus"));
        assert_eq!(config.agents["claude"].ready_prompt.as_deref(), Some("^>"));
        assert_eq!(config.agents["odd"].cmd.as_deref(), Some("odd-agent"));
        assert!(config.agents["odd"].flags.is_none());
        assert!(!config.agents.contains_key("evil"), "an agent with nothing left is not written");
        assert_eq!(config.init_prompts, ["hello"]);
        assert!(t.yaml.starts_with(HEADER));
        // translating the translation changes nothing: a second import rewrites nothing
        assert_eq!(translate(&t.yaml).unwrap().yaml, t.yaml);
    }

    #[test]
    fn bad_files_are_errors_and_empty_ones_are_empty() {
        assert!(translate("server: [").is_err());
        assert!(translate("- a\n- b\n").is_err());
        assert_eq!(translate("").unwrap().yaml, HEADER);
        assert_eq!(translate("# only a comment\n").unwrap().yaml, HEADER);
        let t = translate("server:\n  port: 99999\n").unwrap();
        assert_eq!(t.dropped[0].key, "server.port");
        let (prompts, dropped) =
            translate_overrides("initPrompts: [a, 1, b]\nturnq:\n  enabled: true\n").unwrap();
        assert_eq!(prompts.unwrap(), ["a", "b"]);
        assert_eq!(dropped[0].key, "overrides.turnq");
    }
}
