//! GitHub Copilot CLI: SQLite `~/.copilot/session-store.db` (table `sessions(id, cwd, summary,
//! created_at, updated_at)`) lists the sessions; `~/.copilot/session-state/<id>/events.jsonl`
//! holds each one's events.
//!
//! NOT checked against a real run: Copilot needs a GitHub login, which the lab cannot do. This
//! follows the old llmux daemon's adapter (reference §5.1/§5.2) and is tested with a small
//! synthetic fixture (`tests/transcripts/copilot`). Event lines are `{type, id, timestamp,
//! data}`: `user.message` (`data.content`), `assistant.message` (`data.content`,
//! `data.toolRequests[] {toolCallId, name, arguments}`), `tool.execution_complete`
//! (`data.toolCallId`, `data.success`, `data.result.content`); other types are dropped.
//! Without the database, sessions are found by the `data.context.cwd` of a `session.start`
//! event (an assumption about the format).

use std::path::{Path, PathBuf};

use llmux_api::{Conversation, Turn, TurnPart, TurnRole};
use rusqlite::types::ValueRef;
use serde_json::Value;

use crate::error::Result;
use crate::history::{
    Transcript, for_each_json_line, is_uuid, later, mtime_rfc3339, norm_ts, open_db_read_only,
    parse_args, push_reply, str_of, text_turn, title_of,
};

fn root(home: &Path) -> PathBuf {
    home.join(".copilot")
}

fn events_path(home: &Path, id: &str) -> PathBuf {
    root(home).join("session-state").join(id).join("events.jsonl")
}

/// A session row: id, summary, created, updated.
struct Row {
    id: String,
    summary: Option<String>,
    created: Option<String>,
    updated: Option<String>,
}

/// A timestamp column that may hold RFC 3339 text or unix seconds / milliseconds.
fn ts_col(v: ValueRef<'_>) -> Option<String> {
    match v {
        ValueRef::Integer(n) => Some(crate::history::epoch_to_rfc3339(n)),
        ValueRef::Real(f) => Some(crate::history::epoch_to_rfc3339(f as i64)),
        ValueRef::Text(t) => {
            let s = String::from_utf8_lossy(t);
            norm_ts(Some(&Value::String(s.replace(' ', "T"))))
                .or_else(|| norm_ts(Some(&Value::String(format!("{}Z", s.replace(' ', "T"))))))
        }
        _ => None,
    }
}

/// Sessions of cwd from the database; `None` when there is no database.
fn rows(home: &Path, cwd: &Path) -> Result<Option<Vec<Row>>> {
    let Some(conn) = open_db_read_only(&root(home).join("session-store.db"))? else {
        return Ok(None);
    };
    let mut stmt =
        conn.prepare("SELECT id, summary, created_at, updated_at FROM sessions WHERE cwd = ?1")?;
    let rows = stmt
        .query_map([cwd.to_string_lossy()], |r| {
            Ok(Row {
                id: r.get(0)?,
                summary: r.get::<_, Option<String>>(1).ok().flatten(),
                created: ts_col(r.get_ref(2)?),
                updated: ts_col(r.get_ref(3)?),
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Some(rows.into_iter().filter(|r| is_uuid(&r.id)).collect()))
}

/// Sessions of cwd from `session.start` events, when there is no database.
fn rows_from_events(home: &Path, cwd: &Path) -> Vec<Row> {
    let want = cwd.to_string_lossy();
    let Ok(rd) = std::fs::read_dir(root(home).join("session-state")) else { return Vec::new() };
    let mut out = Vec::new();
    for entry in rd.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !is_uuid(&name) {
            continue;
        }
        let path = entry.path().join("events.jsonl");
        let Some(first) = crate::history::first_json_line(&path, 1024 * 1024) else { continue };
        let c = first.pointer("/data/context/cwd").or_else(|| first.pointer("/data/cwd"));
        if str_of(&first, "type") == Some("session.start")
            && c.and_then(Value::as_str) == Some(&*want)
        {
            out.push(Row {
                id: name,
                summary: None,
                created: norm_ts(first.get("timestamp")),
                updated: mtime_rfc3339(&path),
            });
        }
    }
    out
}

fn all_rows(home: &Path, cwd: &Path) -> Result<Vec<Row>> {
    Ok(match rows(home, cwd)? {
        Some(r) => r,
        None => rows_from_events(home, cwd),
    })
}

pub(super) fn count(home: &Path, cwd: &Path) -> Result<usize> {
    Ok(all_rows(home, cwd)?.len())
}

pub(super) fn list(home: &Path, cwd: &Path) -> Result<Vec<Conversation>> {
    let mut out = Vec::new();
    for row in all_rows(home, cwd)? {
        let path = events_path(home, &row.id);
        let mut first_user = None;
        let mut count = 0u32;
        let mut last = None;
        for_each_json_line(&path, |v, _| match str_of(&v, "type") {
            Some("user.message") | Some("assistant.message") | Some("tool.execution_complete") => {
                count += 1;
                last = later(last.take(), norm_ts(v.get("timestamp")));
                if first_user.is_none() && str_of(&v, "type") == Some("user.message") {
                    first_user =
                        v.pointer("/data/content").and_then(Value::as_str).map(str::to_string);
                }
            }
            _ => {}
        })?;
        let title = row
            .summary
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .or(first_user.as_deref())
            .map(title_of)
            .unwrap_or_else(|| crate::history::NO_OPENER.to_string());
        out.push(Conversation {
            id: row.id,
            title,
            started_at: row.created,
            last_message_at: later(row.updated, last),
            message_count: count,
        });
    }
    Ok(out)
}

pub(super) fn transcript(home: &Path, cwd: &Path, id: Option<&str>) -> Result<Option<Transcript>> {
    let rows = all_rows(home, cwd)?;
    let id = match id {
        Some(id) => match rows.iter().find(|r| r.id == id) {
            Some(r) => r.id.clone(),
            None => return Ok(None),
        },
        None => {
            let newest = rows.iter().max_by_key(|r| {
                let t = later(r.updated.clone(), mtime_rfc3339(&events_path(home, &r.id)));
                (
                    t.and_then(|t| crate::time::parse_rfc3339_ms(&t)).unwrap_or(i64::MIN),
                    r.id.clone(),
                )
            });
            match newest {
                Some(r) => r.id.clone(),
                None => return Ok(None),
            }
        }
    };
    let path = events_path(home, &id);
    if !path.is_file() {
        return Ok(None);
    }
    let mut turns = Vec::new();
    for_each_json_line(&path, |v, line| convert(&v, line, &mut turns))?;
    Ok(Some(Transcript { conversation_id: id, turns, watch: vec![path.clone()], path }))
}

/// The events file of conversation `id` in `cwd`, if the conversation is one of `cwd`'s.
pub(super) fn locate(home: &Path, cwd: &Path, id: &str) -> Result<Option<PathBuf>> {
    Ok(all_rows(home, cwd)?.iter().any(|r| r.id == id).then(|| events_path(home, id)))
}

/// Adds the turns of one line.
pub(super) fn convert(v: &Value, line: &str, turns: &mut Vec<Turn>) {
    let kind = str_of(v, "type").unwrap_or_default();
    let ts = norm_ts(v.get("timestamp"));
    let id = str_of(v, "id").map(str::to_string).unwrap_or_else(|| {
        format!("{kind}-{}", str_of(v, "timestamp").unwrap_or(&crate::history::line_hash(line)))
    });
    let data = v.get("data").unwrap_or(&Value::Null);
    match kind {
        "user.message" => {
            if let Some(t) = str_of(data, "content").filter(|t| !t.trim().is_empty()) {
                turns.push(text_turn(id, TurnRole::User, ts, t.to_string()));
            }
        }
        "assistant.message" => {
            let text = str_of(data, "content")
                .filter(|t| !t.trim().is_empty())
                .map(|t| TurnPart::Text { text: t.to_string(), html: None })
                .into_iter()
                .collect();
            let calls: Vec<TurnPart> = data
                .get("toolRequests")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|r| TurnPart::ToolUse {
                    id: str_of(r, "toolCallId").map(str::to_string),
                    name: str_of(r, "name").unwrap_or("tool").to_string(),
                    input: parse_args(r.get("arguments")),
                })
                .collect();
            push_reply(turns, &id, ts, text, calls);
        }
        "tool.execution_complete" => {
            let result = data.get("result").unwrap_or(&Value::Null);
            let text = match result.get("content") {
                Some(c) => crate::history::flatten_text(c),
                None => str_of(data, "error")
                    .map(str::to_string)
                    .or_else(|| {
                        data.pointer("/error/message").and_then(Value::as_str).map(str::to_string)
                    })
                    .unwrap_or_default(),
            };
            turns.push(Turn {
                id,
                role: TurnRole::Tool,
                ts,
                parts: vec![TurnPart::ToolResult {
                    for_id: str_of(data, "toolCallId").map(str::to_string),
                    text,
                    is_error: data.get("success").and_then(Value::as_bool) == Some(false),
                }],
            });
        }
        _ => {}
    }
}
