//! OpenCode: SQLite `$XDG_DATA_HOME/opencode/opencode.db` (default
//! `~/.local/share/opencode/opencode.db`), opened read-only per call.
//!
//! Checked against OpenCode 1.18.33: tables `session` (`id` `ses_…`, `directory`, `title`,
//! `parent_id`, `time_created`, `time_updated`, `time_archived`, epoch ms), `message` (`id`,
//! `session_id`, `time_created`, `data` JSON `{role, …}`) and `part` (`id`, `message_id`,
//! `session_id`, `data` JSON `{type: text|tool|reasoning|step-start|step-finish|…}`). The row
//! appears with the first prompt; `opencode -s <id>` (`--session`) continues the same session.
//! The database is in WAL mode: new rows land in `opencode.db-wal` first, which is why
//! [`Transcript::watch`](crate::history::Transcript) lists it. OpenCode cannot start a session with a
//! chosen id.
//!
//! Titles follow the other agents (first line of the first user text); OpenCode's own
//! generated `title` is the fallback.

use std::path::{Path, PathBuf};

use llmux_api::{Conversation, Turn, TurnPart, TurnRole};
use rusqlite::{Connection, params};
use serde_json::Value;

use crate::error::Result;
use crate::history::{Transcript, db_watch, epoch_to_rfc3339, open_db_read_only, str_of, title_of};

/// `ses_` followed by 1–64 ASCII letters or digits.
fn is_session_id(id: &str) -> bool {
    super::IDS.accepts(id)
}

/// The database path for an agent whose HOME is `home`. `XDG_DATA_HOME` is taken from the
/// daemon's environment only when `home` is the daemon's own home.
fn db_path(home: &Path) -> PathBuf {
    let own_home = std::env::var_os("HOME").map(PathBuf::from);
    let xdg = std::env::var_os("XDG_DATA_HOME").map(PathBuf::from).filter(|x| x.is_absolute());
    if let (true, Some(x)) = (own_home.as_deref() == Some(home), xdg) {
        return x.join("opencode").join("opencode.db");
    }
    home.join(".local").join("share").join("opencode").join("opencode.db")
}

const SESSIONS_OF_CWD: &str = "FROM session s WHERE s.directory = ?1 AND s.time_archived IS NULL \
     AND s.parent_id IS NULL";

pub(super) fn count(home: &Path, cwd: &Path) -> Result<usize> {
    let Some(conn) = open_db_read_only(&db_path(home))? else { return Ok(0) };
    let n: i64 = conn.query_row(
        &format!("SELECT COUNT(*) {SESSIONS_OF_CWD}"),
        params![cwd.to_string_lossy()],
        |r| r.get(0),
    )?;
    Ok(usize::try_from(n).unwrap_or(0))
}

/// The first user text of a session, if any.
fn first_user_text(conn: &Connection, session: &str) -> Result<Option<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT m.data, p.data FROM message m JOIN part p ON p.message_id = m.id \
         WHERE m.session_id = ?1 ORDER BY m.time_created, m.id, p.id LIMIT 200",
    )?;
    let mut rows = stmt.query(params![session])?;
    while let Some(row) = rows.next()? {
        let (m, p): (String, String) = (row.get(0)?, row.get(1)?);
        let Ok(m) = serde_json::from_str::<Value>(&m) else { continue };
        if str_of(&m, "role") != Some("user") {
            continue;
        }
        let Ok(p) = serde_json::from_str::<Value>(&p) else { continue };
        if let Some(t) = user_part_text(&p) {
            return Ok(Some(t.to_string()));
        }
    }
    Ok(None)
}

/// Text of a user-typed text part (not synthetic, not ignored).
fn user_part_text(p: &Value) -> Option<&str> {
    let flag = |k| p.get(k).and_then(Value::as_bool).unwrap_or(false);
    if str_of(p, "type") != Some("text") || flag("synthetic") || flag("ignored") {
        return None;
    }
    str_of(p, "text").filter(|t| !t.trim().is_empty())
}

pub(super) fn list(home: &Path, cwd: &Path) -> Result<Vec<Conversation>> {
    let Some(conn) = open_db_read_only(&db_path(home))? else { return Ok(Vec::new()) };
    let mut stmt = conn.prepare(&format!(
        "SELECT s.id, s.title, s.time_created, s.time_updated, \
         (SELECT COUNT(*) FROM message m WHERE m.session_id = s.id) {SESSIONS_OF_CWD} \
         ORDER BY s.time_updated DESC"
    ))?;
    let rows = stmt
        .query_map(params![cwd.to_string_lossy()], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, Option<i64>>(2)?,
                r.get::<_, Option<i64>>(3)?,
                r.get::<_, i64>(4)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut out = Vec::new();
    for (id, own_title, created, updated, count) in rows {
        if !is_session_id(&id) {
            continue;
        }
        let title = match first_user_text(&conn, &id)? {
            Some(t) => title_of(&t),
            None => own_title
                .filter(|t| !t.trim().is_empty())
                .map(|t| title_of(&t))
                .unwrap_or_else(|| crate::history::NO_OPENER.to_string()),
        };
        out.push(Conversation {
            id,
            title,
            started_at: created.map(epoch_to_rfc3339),
            last_message_at: updated.map(epoch_to_rfc3339),
            message_count: u32::try_from(count).unwrap_or(0),
        });
    }
    Ok(out)
}

pub(super) fn transcript(home: &Path, cwd: &Path, id: Option<&str>) -> Result<Option<Transcript>> {
    let path = db_path(home);
    let Some(conn) = open_db_read_only(&path)? else { return Ok(None) };
    let cwd = cwd.to_string_lossy();
    let session: Option<String> = match id {
        Some(id) => conn
            .query_row(
                &format!("SELECT s.id {SESSIONS_OF_CWD} AND s.id = ?2"),
                params![cwd, id],
                |r| r.get(0),
            )
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(e),
            })?,
        None => conn
            .query_row(
                &format!("SELECT s.id {SESSIONS_OF_CWD} ORDER BY s.time_updated DESC LIMIT 1"),
                params![cwd],
                |r| r.get(0),
            )
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(e),
            })?,
    };
    let Some(session) = session else { return Ok(None) };
    let mut stmt = conn.prepare(
        "SELECT m.id, m.data, m.time_created, p.id, p.data, p.time_created \
         FROM message m JOIN part p ON p.message_id = m.id \
         WHERE m.session_id = ?1 ORDER BY m.time_created, m.id, p.id",
    )?;
    let mut rows = stmt.query(params![session])?;
    let mut turns = Vec::new();
    while let Some(row) = rows.next()? {
        let (mid, mdata, mtime): (String, String, Option<i64>) =
            (row.get(0)?, row.get(1)?, row.get(2)?);
        let (pid, pdata, ptime): (String, String, Option<i64>) =
            (row.get(3)?, row.get(4)?, row.get(5)?);
        let (Ok(m), Ok(p)) =
            (serde_json::from_str::<Value>(&mdata), serde_json::from_str::<Value>(&pdata))
        else {
            continue;
        };
        let ts = ptime.or(mtime).map(epoch_to_rfc3339);
        if let Some(t) = convert(&m, &p, format!("{mid}:{pid}"), ts) {
            turns.push(t);
        }
    }
    Ok(Some(Transcript { conversation_id: session, turns, watch: db_watch(&path), path }))
}

fn convert(m: &Value, p: &Value, id: String, ts: Option<String>) -> Option<Turn> {
    let role = str_of(m, "role")?;
    match str_of(p, "type")? {
        "text" => {
            let text = if role == "user" {
                user_part_text(p)?
            } else {
                str_of(p, "text").filter(|t| !t.trim().is_empty())?
            };
            let role = if role == "user" { TurnRole::User } else { TurnRole::Assistant };
            Some(crate::history::text_turn(id, role, ts, text.to_string()))
        }
        "tool" => {
            let state = p.get("state").unwrap_or(&Value::Null);
            let call_id = str_of(p, "callID").map(str::to_string);
            let mut parts = vec![TurnPart::ToolUse {
                id: call_id.clone(),
                name: str_of(p, "tool").unwrap_or("tool").to_string(),
                input: state.get("input").cloned().unwrap_or(Value::Null),
            }];
            match str_of(state, "status") {
                Some("completed") => parts.push(TurnPart::ToolResult {
                    for_id: call_id,
                    text: crate::history::flatten_text(state.get("output").unwrap_or(&Value::Null)),
                    is_error: false,
                }),
                Some("error") => parts.push(TurnPart::ToolResult {
                    for_id: call_id,
                    text: crate::history::flatten_text(state.get("error").unwrap_or(&Value::Null)),
                    is_error: true,
                }),
                _ => {} // pending / running
            }
            Some(Turn { id, role: TurnRole::Tool, ts, parts })
        }
        _ => None, // reasoning, step-start, step-finish, patch, file, snapshot, …
    }
}
