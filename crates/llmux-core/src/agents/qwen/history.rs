//! Qwen Code: `~/.qwen/projects/<cwd, non-alphanumerics → "-">/chats/<sessionId>.jsonl`
//! (the sanitizer is Qwen's `sanitizeCwd`, the same as Claude's).
//!
//! Checked against Qwen Code 0.15.10: the file appears with the first prompt;
//! `--session-id <uuid>` names it; `--resume <id>` appends to the same file. Lines are
//! `{uuid, parentUuid, sessionId, timestamp, type, cwd, version, message:{role, parts}}` with
//! Gemini-style parts; types `user` (`{text}` parts), `assistant` (role `model`: `{text}`,
//! `{text, thought:true}`, `{functionCall:{id,name,args}}`), `tool_result` (role `user`:
//! `{functionResponse:{id,name,response:{output|error}}}`) and `system` (subtypes
//! `attribution_snapshot`, `ui_telemetry`: dropped).

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::api::{Conversation, Turn, TurnPart, TurnRole};
use crate::error::Result;
use crate::history::{
    Transcript, files_in, flatten_text, for_each_json_line, is_uuid, later, mtime_rfc3339, norm_ts,
    sanitize_cwd, str_of, text_turn, title_of,
};

fn chats_dir(home: &Path, cwd: &Path) -> PathBuf {
    home.join(".qwen").join("projects").join(sanitize_cwd(cwd)).join("chats")
}

fn session_files(home: &Path, cwd: &Path) -> Result<Vec<PathBuf>> {
    Ok(files_in(&chats_dir(home, cwd), ".jsonl")?
        .into_iter()
        .filter(|p| p.file_stem().and_then(|s| s.to_str()).is_some_and(is_uuid))
        .collect())
}

pub(super) fn count(home: &Path, cwd: &Path) -> Result<usize> {
    Ok(session_files(home, cwd)?.len())
}

pub(super) fn list(home: &Path, cwd: &Path) -> Result<Vec<Conversation>> {
    let want = cwd.to_string_lossy();
    let mut out = Vec::new();
    for path in session_files(home, cwd)? {
        let mut id = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
        let mut title = None;
        let (mut first, mut last) = (None, None);
        let mut count = 0u32;
        let mut other_cwd = false;
        for_each_json_line(&path, |v, _| {
            if str_of(&v, "cwd").is_some_and(|c| c != want) {
                other_cwd = true;
            }
            if let Some(s) = str_of(&v, "sessionId").filter(|s| is_uuid(s)) {
                id = s.to_string();
            }
            let ts = norm_ts(v.get("timestamp"));
            if first.is_none() {
                first = ts.clone();
            }
            if ts.is_some() {
                last = later(last.take(), ts);
            }
            match str_of(&v, "type") {
                Some("user") => {
                    if let Some(text) = user_text(&v) {
                        count += 1;
                        if title.is_none() {
                            title = Some(title_of(&text));
                        }
                    }
                }
                Some("assistant") | Some("tool_result") => count += 1,
                _ => {}
            }
        })?;
        if other_cwd {
            continue;
        }
        out.push(Conversation {
            id,
            title: title.unwrap_or_else(|| crate::history::NO_OPENER.to_string()),
            started_at: first.or_else(|| mtime_rfc3339(&path)),
            last_message_at: last.or_else(|| mtime_rfc3339(&path)),
            message_count: count,
        });
    }
    Ok(out)
}

pub(super) fn transcript(home: &Path, cwd: &Path, id: Option<&str>) -> Result<Option<Transcript>> {
    crate::history::jsonl_transcript(
        &chats_dir(home, cwd),
        id,
        || session_files(home, cwd),
        |v, line, turns| convert(&v, line, turns),
    )
}

fn parts(v: &Value) -> &[Value] {
    v.pointer("/message/parts").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[])
}

/// The text the person typed (text parts that are not thoughts), if any.
fn user_text(v: &Value) -> Option<String> {
    let text: Vec<&str> = parts(v)
        .iter()
        .filter(|p| !p.get("thought").and_then(Value::as_bool).unwrap_or(false))
        .filter_map(|p| str_of(p, "text"))
        .filter(|t| !crate::agents::gemini::history::is_injected(t))
        .collect();
    let text = text.join("\n");
    (!text.trim().is_empty()).then_some(text)
}

/// The transcript file of conversation `id` (whether or not it exists yet).
pub(super) fn path_of(home: &Path, cwd: &Path, id: &str) -> PathBuf {
    chats_dir(home, cwd).join(format!("{id}.jsonl"))
}

/// Adds the turns of one line.
pub(super) fn convert(v: &Value, line: &str, turns: &mut Vec<Turn>) {
    let ts = norm_ts(v.get("timestamp"));
    let id =
        str_of(v, "uuid").map(str::to_string).unwrap_or_else(|| crate::history::line_hash(line));
    match str_of(v, "type") {
        Some("user") => {
            if let Some(text) = user_text(v) {
                turns.push(text_turn(id, TurnRole::User, ts, text));
            }
        }
        Some("assistant") => {
            let mut text = Vec::new();
            let mut calls = Vec::new();
            for p in parts(v) {
                if let Some(call) = p.get("functionCall") {
                    calls.push(TurnPart::ToolUse {
                        id: str_of(call, "id").map(str::to_string),
                        name: str_of(call, "name").unwrap_or("tool").to_string(),
                        input: call.get("args").cloned().unwrap_or(Value::Null),
                    });
                } else if p.get("thought").and_then(Value::as_bool).unwrap_or(false) {
                    continue;
                } else if let Some(t) = str_of(p, "text").filter(|t| !t.trim().is_empty()) {
                    text.push(TurnPart::Text { text: t.to_string(), html: None });
                }
            }
            if !text.is_empty() {
                turns.push(Turn {
                    id: id.clone(),
                    role: TurnRole::Assistant,
                    ts: ts.clone(),
                    parts: text,
                });
            }
            if !calls.is_empty() {
                turns.push(Turn {
                    id: format!("{id}:tool"),
                    role: TurnRole::Tool,
                    ts,
                    parts: calls,
                });
            }
        }
        Some("tool_result") => {
            let results: Vec<TurnPart> = parts(v)
                .iter()
                .filter_map(|p| p.get("functionResponse"))
                .map(|r| {
                    let resp = r.get("response").unwrap_or(&Value::Null);
                    let (text, is_error) = match (resp.get("output"), resp.get("error")) {
                        (_, Some(e)) if !e.is_null() => (flatten_text(e), true),
                        (Some(o), _) => (flatten_text(o), false),
                        _ => (flatten_text(resp), false),
                    };
                    TurnPart::ToolResult {
                        for_id: str_of(r, "id").map(str::to_string),
                        text,
                        is_error,
                    }
                })
                .collect();
            if !results.is_empty() {
                turns.push(Turn { id, role: TurnRole::Tool, ts, parts: results });
            }
        }
        _ => {}
    }
}
