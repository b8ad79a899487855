//! Codex CLI: `~/.codex/sessions/YYYY/MM/DD/rollout-<YYYY-MM-DDTHH-MM-SS>-<thread-uuid>.jsonl`.
//!
//! Checked against Codex 0.171.0: the file is named at spawn time but written with the first
//! prompt; `codex resume <id>` appends to the same file. Each line is
//! `{timestamp, ordinal, type, payload}`; line 1 is `session_meta` (payload `id`, `cwd`, …; about
//! 20 KiB, it carries the base instructions). Turns come from `response_item` lines only
//! (`message` user/assistant, `function_call`, `function_call_output`, `custom_tool_call…`);
//! developer messages, reasoning and the injected `<environment_context>` user message are not
//! turns. Codex cannot start a session with a chosen id.

use std::path::{Path, PathBuf};

use llmux_api::{Conversation, Turn, TurnPart, TurnRole};
use serde_json::Value;

use crate::error::Result;
use crate::history::{
    Transcript, first_json_line, flatten_text, for_each_json_line, is_uuid, line_hash,
    newest_by_mtime, norm_ts, parse_args, str_of, summarize, text_turn,
};

/// The first line (`session_meta`) is read up to this size.
const META_LIMIT: u64 = 4 * 1024 * 1024;

/// Deepest directory level under `sessions/` (YYYY/MM/DD).
const MAX_DEPTH: usize = 4;

fn rollouts(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    for entry in rd.flatten() {
        let Ok(ft) = entry.file_type() else { continue };
        let path = entry.path();
        if ft.is_dir() && depth < MAX_DEPTH {
            rollouts(&path, depth + 1, out);
        } else if ft.is_file() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with("rollout-") && name.ends_with(".jsonl") {
                out.push(path);
            }
        }
    }
}

/// The uuid at the end of a rollout file name.
fn id_of_name(path: &Path) -> Option<&str> {
    let stem = path.file_stem()?.to_str()?;
    let id = stem.get(stem.len().checked_sub(36)?..)?;
    is_uuid(id).then_some(id)
}

/// `(id, cwd)` from the `session_meta` first line.
fn meta(path: &Path) -> Option<(String, String)> {
    let v = first_json_line(path, META_LIMIT)?;
    if str_of(&v, "type") != Some("session_meta") {
        return None;
    }
    let p = v.get("payload")?;
    let id = str_of(p, "id").or_else(|| id_of_name(path))?.to_string();
    Some((id, str_of(p, "cwd")?.to_string()))
}

/// Rollout files of `cwd`, with their ids.
fn session_files(home: &Path, cwd: &Path, only: Option<&str>) -> Vec<(String, PathBuf)> {
    let mut all = Vec::new();
    rollouts(&home.join(".codex").join("sessions"), 0, &mut all);
    let want = cwd.to_string_lossy();
    all.sort();
    all.into_iter()
        .filter(|p| only.is_none_or(|id| id_of_name(p) == Some(id)))
        .filter_map(|p| {
            let (id, c) = meta(&p)?;
            (c == want && is_uuid(&id)).then_some((id, p))
        })
        .collect()
}

pub(super) fn count(home: &Path, cwd: &Path) -> Result<usize> {
    Ok(session_files(home, cwd, None).len())
}

pub(super) fn list(home: &Path, cwd: &Path) -> Result<Vec<Conversation>> {
    let mut out = Vec::new();
    for (id, path) in session_files(home, cwd, None) {
        let found = summarize(&path, id, None, |v, ts, s| {
            if str_of(v, "type") != Some("response_item") {
                return;
            }
            let Some(p) = v.get("payload") else { return };
            let counted = match str_of(p, "type") {
                Some("message") => match str_of(p, "role") {
                    Some("user") => match message_text(p) {
                        Some(t) if !is_synthetic(&t) => {
                            s.opener(&t);
                            true
                        }
                        _ => false,
                    },
                    Some("assistant") => true,
                    _ => false,
                },
                Some(t) => is_tool_item(t),
                None => false,
            };
            if counted {
                s.count += 1;
                s.at(ts);
            }
        })?;
        out.extend(found);
    }
    Ok(out)
}

pub(super) fn transcript(home: &Path, cwd: &Path, id: Option<&str>) -> Result<Option<Transcript>> {
    let files = session_files(home, cwd, id);
    let Some(path) = newest_by_mtime(files.iter().map(|(_, p)| p.clone())) else {
        return Ok(None);
    };
    let conversation_id =
        files.iter().find(|(_, p)| *p == path).map(|(i, _)| i.clone()).unwrap_or_default();
    let mut turns = Vec::new();
    for_each_json_line(&path, |v, line| convert(&v, line, &mut turns))?;
    Ok(Some(Transcript { conversation_id, turns, watch: vec![path.clone()], path }))
}

fn is_tool_item(t: &str) -> bool {
    matches!(
        t,
        "function_call"
            | "function_call_output"
            | "custom_tool_call"
            | "custom_tool_call_output"
            | "local_shell_call"
    )
}

/// User-role text Codex writes itself (context, instructions), not typed by the person.
fn is_synthetic(text: &str) -> bool {
    let t = text.trim_start();
    [
        "<environment_context>",
        "<permissions",
        "<user_instructions>",
        "<turn_aborted>",
        "<skills_instructions>",
        "<collaboration_mode>",
        "<apps_instructions>",
        "<user_shell_command>",
        "# AGENTS.md instructions",
    ]
    .iter()
    .any(|p| t.starts_with(p))
}

/// The joined `input_text` / `output_text` blocks of a message.
fn message_text(p: &Value) -> Option<String> {
    let text = match p.get("content")? {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter(|b| {
                matches!(str_of(b, "type"), Some("input_text") | Some("output_text") | Some("text"))
            })
            .filter_map(|b| str_of(b, "text"))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => return None,
    };
    (!text.trim().is_empty()).then_some(text)
}

/// Codex's exec output: `Chunk ID…\nProcess exited with code N\n…\nOutput:\n<text>`. Returns
/// the text after `Output:` (or all of it) and whether the exit code was non-zero.
fn exec_output(raw: &str) -> (String, bool) {
    let code = raw
        .split("Process exited with code ")
        .nth(1)
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit() && c != '-').next())
        .and_then(|n| n.parse::<i64>().ok());
    let is_error = code.is_some_and(|c| c != 0);
    let text = match (code, raw.find("\nOutput:\n")) {
        (Some(_), Some(i)) => raw[i + "\nOutput:\n".len()..].to_string(),
        _ => raw.to_string(),
    };
    (text, is_error)
}

/// The rollout file of conversation `id` in `cwd`, if there is one.
pub(super) fn locate(home: &Path, cwd: &Path, id: &str) -> Option<PathBuf> {
    newest_by_mtime(session_files(home, cwd, Some(id)).into_iter().map(|(_, p)| p))
}

/// Adds the turns of one line.
pub(super) fn convert(v: &Value, line: &str, turns: &mut Vec<Turn>) {
    if str_of(v, "type") != Some("response_item") {
        return;
    }
    let Some(p) = v.get("payload") else { return };
    let ts = norm_ts(v.get("timestamp"));
    match str_of(p, "type") {
        Some("message") => {
            let role = match str_of(p, "role") {
                Some("user") => TurnRole::User,
                Some("assistant") => TurnRole::Assistant,
                _ => return,
            };
            let Some(text) = message_text(p) else { return };
            if role == TurnRole::User && is_synthetic(&text) {
                return;
            }
            let base = str_of(p, "id").map(str::to_string).unwrap_or_else(|| line_hash(line));
            let suffix = if role == TurnRole::User { "user" } else { "assistant" };
            turns.push(text_turn(format!("{base}:{suffix}"), role, ts, text));
        }
        Some("function_call") | Some("custom_tool_call") | Some("local_shell_call") => {
            let call_id = str_of(p, "call_id").map(str::to_string);
            let input = match p.get("arguments") {
                Some(a) => parse_args(Some(a)),
                None => p.get("input").or_else(|| p.get("action")).cloned().unwrap_or(Value::Null),
            };
            let id = call_id.clone().unwrap_or_else(|| line_hash(line));
            turns.push(Turn {
                id: format!("call:{id}"),
                role: TurnRole::Tool,
                ts,
                parts: vec![TurnPart::ToolUse {
                    id: call_id,
                    name: str_of(p, "name").unwrap_or("shell").to_string(),
                    input,
                }],
            });
        }
        Some("function_call_output") | Some("custom_tool_call_output") => {
            let call_id = str_of(p, "call_id").map(str::to_string);
            let raw = match p.get("output") {
                Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
                    Ok(arr @ Value::Array(_)) => flatten_text(&arr),
                    Ok(obj @ Value::Object(_)) if obj.get("output").is_some() => {
                        flatten_text(obj.get("output").unwrap_or(&Value::Null))
                    }
                    _ => s.clone(),
                },
                Some(other) => flatten_text(other.get("content").unwrap_or(other)),
                None => String::new(),
            };
            let (text, is_error) = exec_output(&raw);
            let id = call_id.clone().unwrap_or_else(|| line_hash(line));
            turns.push(Turn {
                id: format!("output:{id}"),
                role: TurnRole::Tool,
                ts,
                parts: vec![TurnPart::ToolResult { for_id: call_id, text, is_error }],
            });
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_output_parsing() {
        let raw = "Chunk ID: 1\nWall time: 0.0 seconds\nProcess exited with code 0\nOriginal token count: 1\nOutput:\nhi\n";
        assert_eq!(exec_output(raw), ("hi\n".to_string(), false));
        let (_, err) = exec_output("Process exited with code 2\nOutput:\nno\n");
        assert!(err);
        assert_eq!(exec_output("plain"), ("plain".to_string(), false));
    }
}
