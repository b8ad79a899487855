//! Gemini CLI: `~/.gemini/tmp/<project>/chats/session-<YYYY-MM-DDTHH-MM>-<uuid8>.jsonl`, where
//! `<project>` is `projects[cwd]` of `~/.gemini/projects.json` (or the directory whose
//! `.project_root` file holds cwd).
//!
//! Checked against Gemini CLI 0.61.0:
//! - The file is created **at spawn**, before any prompt, holding only the meta line and the
//!   injected `<session_context>` message; a session never prompted stays like that. Such
//!   empty files are not listed.
//! - Line 1 is `{sessionId, projectHash, startTime, lastUpdated, kind:"main"}`. Then records
//!   `{id, timestamp, type:"user"|"gemini"|"info"|"error"|…, content, toolCalls?}`; a record
//!   with an `id` seen before replaces it; `{"$set":{…}}` patches the session, and
//!   `$set.messages` replaces the whole message list (written at start and on resume).
//! - `--session-id <uuid>` names a new session. `--resume <id>` writes a new empty file with the
//!   same sessionId at spawn and appends the continued conversation to the **original** file,
//!   so one id can have several files: the non-empty one updated last wins.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use llmux_api::{Conversation, Turn, TurnPart, TurnRole};
use serde_json::Value;

use crate::error::Result;
use crate::history::{
    Transcript, files_in, flatten_text, for_each_json_line, is_uuid, later, mtime_rfc3339, norm_ts,
    str_of, text_turn, title_of,
};

/// Text an agent injects as a user message that the person did not type.
pub(crate) fn is_injected(text: &str) -> bool {
    let t = text.trim_start();
    ["<session_context>", "<system-reminder>", "<environment_context>", "<context>"]
        .iter()
        .any(|p| t.starts_with(p))
}

/// The project directories of `cwd` under `~/.gemini/tmp`.
fn project_dirs(home: &Path, cwd: &Path) -> Vec<PathBuf> {
    let tmp = home.join(".gemini").join("tmp");
    let want = cwd.to_string_lossy();
    let mut dirs = Vec::new();
    let projects = std::fs::read(home.join(".gemini").join("projects.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
    let name = projects.as_ref().and_then(|p| p.get("projects")?.get(&*want)?.as_str());
    if let Some(name) =
        name.filter(|n| !n.is_empty() && !n.contains('/') && *n != ".." && *n != ".")
    {
        dirs.push(tmp.join(name));
    }
    // Fallback (and extra dirs): a project dir whose `.project_root` names cwd.
    if let Ok(rd) = std::fs::read_dir(&tmp) {
        for entry in rd.flatten() {
            let dir = entry.path();
            if dirs.contains(&dir) {
                continue;
            }
            let root = std::fs::read_to_string(dir.join(".project_root")).unwrap_or_default();
            if root.trim_end_matches(['\n', '\r']) == want {
                dirs.push(dir);
            }
        }
    }
    dirs
}

fn session_files(home: &Path, cwd: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for dir in project_dirs(home, cwd) {
        let chats = dir.join("chats");
        for p in files_in(&chats, ".jsonl")?.into_iter().chain(files_in(&chats, ".json")?) {
            if p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("session-")) {
                out.push(p);
            }
        }
    }
    Ok(out)
}

/// One session file, replayed.
#[derive(Default)]
struct Session {
    id: String,
    kind: Option<String>,
    start: Option<String>,
    updated: Option<String>,
    /// Records in order; `index` maps a record id to its slot.
    records: Vec<Value>,
    index: HashMap<String, usize>,
}

impl Session {
    fn upsert(&mut self, rec: Value) {
        match str_of(&rec, "id").map(str::to_string) {
            Some(id) => match self.index.get(&id) {
                Some(&i) => self.records[i] = rec,
                None => {
                    self.index.insert(id, self.records.len());
                    self.records.push(rec);
                }
            },
            None => self.records.push(rec),
        }
    }

    fn set_messages(&mut self, msgs: &[Value]) {
        self.records.clear();
        self.index.clear();
        for m in msgs {
            self.upsert(m.clone());
        }
    }

    fn apply_meta(&mut self, v: &Value) {
        if let Some(s) = str_of(v, "sessionId") {
            self.id = s.to_string();
        }
        if let Some(k) = str_of(v, "kind") {
            self.kind = Some(k.to_string());
        }
        if let Some(t) = norm_ts(v.get("startTime")) {
            self.start = Some(t);
        }
        if let Some(t) = norm_ts(v.get("lastUpdated")) {
            self.updated = later(self.updated.take(), Some(t));
        }
    }

    fn read(path: &Path) -> Result<Session> {
        let mut s = Session::default();
        if path.extension().and_then(|e| e.to_str()) == Some("json") {
            // Older releases wrote one JSON document: {sessionId, startTime, lastUpdated, messages}.
            if let Some(v) =
                std::fs::read(path).ok().and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            {
                s.apply_meta(&v);
                if let Some(m) = v.get("messages").and_then(Value::as_array) {
                    s.set_messages(m);
                }
            }
            return Ok(s);
        }
        for_each_json_line(path, |v, _| {
            if let Some(set) = v.get("$set") {
                s.apply_meta(set);
                if let Some(m) = set.get("messages").and_then(Value::as_array) {
                    s.set_messages(m);
                }
            } else if v.get("type").is_some() && v.get("id").is_some() {
                s.upsert(v);
            } else if v.get("sessionId").is_some() {
                s.apply_meta(&v);
            }
        })?;
        Ok(s)
    }

    /// (title, message count, time of the last record); count 0 means nothing was said.
    fn summary(&self) -> (Option<String>, u32, Option<String>) {
        let mut title = None;
        let mut count = 0u32;
        let mut last = None;
        for r in &self.records {
            match str_of(r, "type") {
                Some("user") => {
                    if let Some(text) = user_text(r) {
                        count += 1;
                        if title.is_none() {
                            title = Some(title_of(&text));
                        }
                    } else {
                        continue;
                    }
                }
                Some("gemini") => {
                    count += 1;
                    count +=
                        r.get("toolCalls").and_then(Value::as_array).map_or(0, |a| a.len() as u32);
                }
                _ => continue,
            }
            last = later(last, norm_ts(r.get("timestamp")));
        }
        (title, count, last)
    }

    fn is_main(&self) -> bool {
        self.kind.as_deref().is_none_or(|k| k == "main")
    }
}

/// The person's text of a `user` record; `None` for tool responses and injected context.
fn user_text(r: &Value) -> Option<String> {
    let text = match r.get("content")? {
        Value::String(s) => s.clone(),
        Value::Array(parts) => {
            if parts.iter().any(|p| p.get("functionResponse").is_some()) {
                return None;
            }
            parts
                .iter()
                .filter_map(|p| str_of(p, "text"))
                .filter(|t| !is_injected(t))
                .collect::<Vec<_>>()
                .join("\n")
        }
        _ => return None,
    };
    (!text.trim().is_empty() && !is_injected(&text)).then_some(text)
}

/// When a session was last written: its last record, `lastUpdated`, or the file's mtime.
fn recency(path: &Path, s: &Session) -> (i64, PathBuf) {
    let (_, _, last) = s.summary();
    let t = later(last, s.updated.clone())
        .or_else(|| mtime_rfc3339(path))
        .and_then(|t| crate::time::parse_rfc3339_ms(&t))
        .unwrap_or(i64::MIN);
    (t, path.to_path_buf())
}

/// Non-empty main sessions of cwd, one per session id (the one updated last).
fn sessions(
    home: &Path,
    cwd: &Path,
    only: Option<&str>,
) -> Result<BTreeMap<String, (PathBuf, Session)>> {
    let mut best: BTreeMap<String, (PathBuf, Session)> = BTreeMap::new();
    for path in session_files(home, cwd)? {
        if let Some(id) = only {
            // The file name ends with the first 8 characters of the id.
            let name = path.file_stem().and_then(|n| n.to_str()).unwrap_or_default();
            if !name.ends_with(&id[..8]) {
                continue;
            }
        }
        let s = Session::read(&path)?;
        if !is_uuid(&s.id) || !s.is_main() || only.is_some_and(|id| id != s.id) {
            continue;
        }
        if s.summary().1 == 0 {
            continue;
        }
        let newer = match best.get(&s.id) {
            Some((op, os)) => recency(&path, &s) > recency(op, os),
            None => true,
        };
        if newer {
            best.insert(s.id.clone(), (path, s));
        }
    }
    Ok(best)
}

pub(super) fn count(home: &Path, cwd: &Path) -> Result<usize> {
    // Cheap: distinct session ids of files holding at least one record line (`{"id":…`).
    let mut ids = std::collections::HashSet::new();
    for path in session_files(home, cwd)? {
        if path.extension().and_then(|e| e.to_str()) == Some("json") {
            let s = Session::read(&path)?;
            if is_uuid(&s.id) && s.is_main() && s.summary().1 > 0 {
                ids.insert(s.id);
            }
            continue;
        }
        let mut id = None;
        let mut said = false;
        for_each_line_prefix(&path, |line| {
            if id.is_none() {
                id = serde_json::from_str::<Value>(line)
                    .ok()
                    .and_then(|v| str_of(&v, "sessionId").map(str::to_string));
            } else if line.starts_with("{\"id\"") {
                said = true;
            }
        });
        if let (Some(id), true) = (id, said) {
            ids.insert(id);
        }
    }
    Ok(ids.len())
}

/// Calls `f` with each line's text (no JSON parse), stopping at read errors.
fn for_each_line_prefix(path: &Path, mut f: impl FnMut(&str)) {
    use std::io::BufRead;
    let Ok(file) = std::fs::File::open(path) else { return };
    for line in std::io::BufReader::new(file).split(b'\n') {
        let Ok(line) = line else { return };
        f(std::str::from_utf8(&line).unwrap_or_default().trim());
    }
}

pub(super) fn list(home: &Path, cwd: &Path) -> Result<Vec<Conversation>> {
    Ok(sessions(home, cwd, None)?
        .into_values()
        .map(|(path, s)| {
            let (title, count, last) = s.summary();
            Conversation {
                id: s.id.clone(),
                title: title.unwrap_or_else(|| crate::history::NO_OPENER.to_string()),
                started_at: s.start.clone().or_else(|| mtime_rfc3339(&path)),
                last_message_at: last
                    .or_else(|| s.updated.clone())
                    .or_else(|| mtime_rfc3339(&path)),
                message_count: count,
            }
        })
        .collect())
}

pub(super) fn transcript(home: &Path, cwd: &Path, id: Option<&str>) -> Result<Option<Transcript>> {
    let found = sessions(home, cwd, id)?;
    let newest = found.into_values().max_by_key(|(p, s)| recency(p, s));
    let Some((path, s)) = newest else { return Ok(None) };
    let mut turns = Vec::new();
    for r in &s.records {
        convert(r, &mut turns);
    }
    Ok(Some(Transcript { conversation_id: s.id, turns, watch: vec![path.clone()], path }))
}

fn content_text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter(|p| !p.get("thought").and_then(Value::as_bool).unwrap_or(false))
            .filter_map(|p| str_of(p, "text"))
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

fn convert(r: &Value, turns: &mut Vec<Turn>) {
    let Some(id) = str_of(r, "id").map(str::to_string) else { return };
    let ts = norm_ts(r.get("timestamp"));
    match str_of(r, "type") {
        Some("user") => {
            if let Some(text) = user_text(r) {
                turns.push(text_turn(id, TurnRole::User, ts, text));
            }
        }
        Some("gemini") => {
            let text = content_text(r.get("content"));
            if !text.trim().is_empty() {
                turns.push(text_turn(id.clone(), TurnRole::Assistant, ts.clone(), text));
            }
            for (i, call) in
                r.get("toolCalls").and_then(Value::as_array).into_iter().flatten().enumerate()
            {
                let call_id = str_of(call, "id").map(str::to_string);
                let mut parts = vec![TurnPart::ToolUse {
                    id: call_id.clone(),
                    name: str_of(call, "name").unwrap_or("tool").to_string(),
                    input: call.get("args").cloned().unwrap_or(Value::Null),
                }];
                let failed = matches!(str_of(call, "status"), Some("error") | Some("cancelled"));
                if let Some(results) = call.get("result").and_then(Value::as_array) {
                    for res in results {
                        let Some(fr) = res.get("functionResponse") else { continue };
                        let resp = fr.get("response").unwrap_or(&Value::Null);
                        let (text, err) = match (resp.get("output"), resp.get("error")) {
                            (_, Some(e)) if !e.is_null() => (flatten_text(e), true),
                            (Some(o), _) => (flatten_text(o), false),
                            _ => (flatten_text(resp), false),
                        };
                        parts.push(TurnPart::ToolResult {
                            for_id: call_id.clone(),
                            text,
                            is_error: err || failed,
                        });
                    }
                }
                let tid = match &call_id {
                    Some(c) => format!("{id}:{c}"),
                    None => format!("{id}:tool{i}"),
                };
                turns.push(Turn {
                    id: tid,
                    role: TurnRole::Tool,
                    ts: norm_ts(call.get("timestamp")).or_else(|| ts.clone()),
                    parts,
                });
            }
        }
        Some("error") => {
            let text = content_text(r.get("content"));
            turns.push(Turn {
                id,
                role: TurnRole::Tool,
                ts,
                parts: vec![TurnPart::ToolResult { for_id: None, text, is_error: true }],
            });
        }
        Some("info") | Some("warning") => {
            let text = content_text(r.get("content"));
            if !text.trim().is_empty() {
                turns.push(text_turn(id, TurnRole::System, ts, text));
            }
        }
        _ => {}
    }
}
