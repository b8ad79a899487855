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

use llmux_api::{Conversation, Turn, TurnPart, TurnRole};
use serde_json::Value;

use crate::error::Result;
use crate::history::{
    Transcript, flatten_text, is_uuid, norm_ts, push_reply, sanitize_cwd, str_of, summarize,
    text_turn, uuid_files,
};

fn chats_dir(home: &Path, cwd: &Path) -> PathBuf {
    home.join(".qwen").join("projects").join(sanitize_cwd(cwd)).join("chats")
}

fn session_files(home: &Path, cwd: &Path) -> Result<Vec<(String, PathBuf)>> {
    uuid_files(&chats_dir(home, cwd))
}

pub(super) fn count(home: &Path, cwd: &Path) -> Result<usize> {
    Ok(session_files(home, cwd)?.len())
}

pub(super) fn list(home: &Path, cwd: &Path) -> Result<Vec<Conversation>> {
    let want = cwd.to_string_lossy();
    let mut out = Vec::new();
    for (id, path) in session_files(home, cwd)? {
        let found = summarize(&path, id, Some(&want), |v, ts, s| {
            if let Some(sid) = str_of(v, "sessionId").filter(|s| is_uuid(s)) {
                s.id = sid.to_string();
            }
            s.at(ts);
            match str_of(v, "type") {
                Some("user") => {
                    if let Some(text) = user_text(v) {
                        s.count += 1;
                        s.opener(&text);
                    }
                }
                Some("assistant") | Some("tool_result") => s.count += 1,
                _ => {}
            }
        })?;
        out.extend(found);
    }
    Ok(out)
}

pub(super) fn transcript(home: &Path, cwd: &Path, id: Option<&str>) -> Result<Option<Transcript>> {
    crate::history::jsonl_transcript(&chats_dir(home, cwd), id, |v, line, turns| {
        convert(&v, line, turns)
    })
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
            push_reply(turns, &id, ts, text, calls);
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
