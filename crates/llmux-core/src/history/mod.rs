//! What the history adapters share: an agent's past conversations in a directory, read from
//! the agent's own files (JSONL transcripts, SQLite databases). Each agent's adapter is part
//! of its module (`agents/<cli>/history.rs`, described by its [`crate::agents::History`]);
//! callers go through the agent's [`crate::agents::Kind`] (`list`, `transcript`, …).
//!
//! Every adapter is read-only: it never writes to the agent's files and never runs a shell.
//! Transcripts are streamed line by line; bad or partial lines (the agent may be writing the
//! last one right now) are skipped. A transcript keeps its last [`MAX_TURNS`] turns.
//!
//! Formats were checked against real runs of each CLI (see the module of each agent), except
//! Copilot, which needs a GitHub login (its adapter follows the old daemon's reference).

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use llmux_api::{Conversation, Turn, TurnPart, TurnRole};
use serde_json::Value;

use crate::error::{Error, Result};

mod live;
pub mod markdown;
mod tail;

pub use live::LiveTranscript;
pub use tail::{Polled, Tail};

/// A transcript keeps at most this many turns (the newest).
pub const MAX_TURNS: usize = 300;

/// Longest title, in characters.
const TITLE_MAX: usize = 100;

/// Title of a conversation without a real user message.
pub const NO_OPENER: &str = "(no opener)";

/// The turns of one conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct Transcript {
    /// The agent's id of the conversation (what `--resume` takes).
    pub conversation_id: String,
    /// The turns, oldest first (at most [`MAX_TURNS`], the newest ones).
    pub turns: Vec<Turn>,
    /// The file the transcript was read from (for OpenCode and Copilot's database: the db).
    pub path: PathBuf,
    /// Files whose mtime/length change when the conversation grows (the transcript file;
    /// for a SQLite database in WAL mode also its `-wal` file, which changes first).
    pub watch: Vec<PathBuf>,
}

/// A new random UUID v4, lower-case.
pub fn new_session_id() -> String {
    let mut b = [0u8; 16];
    if getrandom::fill(&mut b).is_err() {
        // No OS randomness (never seen in practice): fall back to time and a counter mix.
        let seed = (crate::time::now_ms() as u128) << 32 ^ u128::from(std::process::id());
        b = (seed.wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835)).to_le_bytes();
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

// ---------------------------------------------------------------------------------------------
// Shared helpers for the adapters.

/// `8-4-4-4-12` hex digits.
pub(crate) fn is_uuid(id: &str) -> bool {
    let b = id.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Claude's and Qwen's project directory name: every character that is not an ASCII letter
/// or digit becomes `-` (`/tmp/a.b` → `-tmp-a-b`).
pub(crate) fn sanitize_cwd(cwd: &Path) -> String {
    cwd.to_string_lossy().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect()
}

/// The title of a conversation from its first real user message.
pub(crate) fn title_of(text: &str) -> String {
    let line = text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
    if line.is_empty() {
        return NO_OPENER.to_string();
    }
    line.chars().take(TITLE_MAX).collect()
}

/// Sorts by `last_message_at` (parsed), newest first; unknown times go last.
pub(crate) fn sort_newest_first(list: &mut [Conversation]) {
    let key = |c: &Conversation| {
        c.last_message_at
            .as_deref()
            .or(c.started_at.as_deref())
            .and_then(crate::time::parse_rfc3339_ms)
            .unwrap_or(i64::MIN)
    };
    list.sort_by(|a, b| key(b).cmp(&key(a)).then_with(|| b.id.cmp(&a.id)));
}

/// Keeps the newest [`MAX_TURNS`] turns.
pub(crate) fn cap_turns(turns: &mut Vec<Turn>) {
    if turns.len() > MAX_TURNS {
        turns.drain(..turns.len() - MAX_TURNS);
    }
}

/// Normalizes an agent timestamp (RFC 3339 string, or unix seconds / milliseconds number)
/// to RFC 3339 with milliseconds in UTC.
pub(crate) fn norm_ts(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => match crate::time::parse_rfc3339_ms(s) {
            Some(ms) => Some(crate::time::rfc3339_ms(ms)),
            None => s.parse::<i64>().ok().map(epoch_to_rfc3339),
        },
        Value::Number(n) => n.as_i64().map(epoch_to_rfc3339),
        _ => None,
    }
}

/// Unix seconds or milliseconds (guessed by size) to RFC 3339.
pub(crate) fn epoch_to_rfc3339(n: i64) -> String {
    let ms = if n.abs() < 100_000_000_000 { n * 1000 } else { n };
    crate::time::rfc3339_ms(ms)
}

/// The later of two optional RFC 3339 times.
pub(crate) fn later(a: Option<String>, b: Option<String>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) => {
            let (x, y) = (crate::time::parse_rfc3339_ms(&a), crate::time::parse_rfc3339_ms(&b));
            if y > x { Some(b) } else { Some(a) }
        }
        (a, b) => a.or(b),
    }
}

/// A file's mtime as RFC 3339.
pub(crate) fn mtime_rfc3339(path: &Path) -> Option<String> {
    let m = std::fs::metadata(path).ok()?.modified().ok()?;
    let ms = m.duration_since(std::time::UNIX_EPOCH).ok()?.as_millis();
    Some(crate::time::rfc3339_ms(i64::try_from(ms).ok()?))
}

/// What a listing gathers about one conversation while reading its file: the scaffold the
/// JSONL adapters share (see [`summarize`]).
#[derive(Debug, Default)]
pub(crate) struct Summary {
    /// The conversation id (a line may correct the one from the file name).
    pub id: String,
    /// From the first real user message.
    pub title: Option<String>,
    /// The first line's time.
    pub first: Option<String>,
    /// The latest message time.
    pub last: Option<String>,
    /// Messages counted.
    pub count: u32,
}

impl Summary {
    /// A real user message: the first one is the title.
    pub fn opener(&mut self, text: &str) {
        if self.title.is_none() {
            self.title = Some(title_of(text));
        }
    }

    /// A message time: the latest is the last message's.
    pub fn at(&mut self, ts: Option<String>) {
        self.last = later(self.last.take(), ts);
    }

    /// The listed conversation; the times fall back to the file's mtime.
    fn conversation(self, path: &Path) -> Conversation {
        Conversation {
            id: self.id,
            title: self.title.unwrap_or_else(|| NO_OPENER.to_string()),
            started_at: self.first.or_else(|| mtime_rfc3339(path)),
            last_message_at: self.last.or_else(|| mtime_rfc3339(path)),
            message_count: self.count,
        }
    }
}

/// Lists one JSONL conversation file: every line's `timestamp` (normalized) is passed to
/// `line` with the line, and the first one is when it began; `line` counts messages and
/// finds the title. `None` when `cwd` is given and a line's `cwd` field names another
/// directory (a project directory name is lossy).
pub(crate) fn summarize(
    path: &Path,
    id: String,
    cwd: Option<&str>,
    mut line: impl FnMut(&Value, Option<String>, &mut Summary),
) -> Result<Option<Conversation>> {
    let mut s = Summary { id, ..Summary::default() };
    let mut other_cwd = false;
    for_each_json_line(path, |v, _| {
        if cwd.is_some_and(|want| str_of(&v, "cwd").is_some_and(|c| c != want)) {
            other_cwd = true;
        }
        let ts = norm_ts(v.get("timestamp"));
        if s.first.is_none() {
            s.first = ts.clone();
        }
        line(&v, ts, &mut s);
    })?;
    Ok((!other_cwd).then(|| s.conversation(path)))
}

/// Adds a reply: its text parts as an assistant turn `id`, its tool calls as a tool turn
/// `id:tool`, each only when there is something.
pub(crate) fn push_reply(
    turns: &mut Vec<Turn>,
    id: &str,
    ts: Option<String>,
    text: Vec<TurnPart>,
    calls: Vec<TurnPart>,
) {
    if !text.is_empty() {
        turns.push(Turn {
            id: id.to_owned(),
            role: TurnRole::Assistant,
            ts: ts.clone(),
            parts: text,
        });
    }
    if !calls.is_empty() {
        turns.push(Turn { id: format!("{id}:tool"), role: TurnRole::Tool, ts, parts: calls });
    }
}

/// Longest JSONL line read; longer lines are skipped (a pasted blob, a huge tool output).
const MAX_LINE: u64 = 16 * 1024 * 1024;

/// Streams the JSON objects of a JSONL file, skipping blank, partial and bad lines.
/// A missing file yields nothing.
pub(crate) fn for_each_json_line(path: &Path, mut f: impl FnMut(Value, &str)) -> Result<()> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(format!("open {}", path.display()), e)),
    };
    let mut r = BufReader::new(file);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let n = (&mut r)
            .take(MAX_LINE)
            .read_until(b'\n', &mut buf)
            .map_err(|e| Error::io(format!("read {}", path.display()), e))?;
        if n == 0 {
            break;
        }
        if buf.last() != Some(&b'\n') && n as u64 == MAX_LINE {
            // Overlong line: skip to its end.
            skip_line(&mut r).map_err(|e| Error::io(format!("read {}", path.display()), e))?;
            continue;
        }
        let Ok(line) = std::str::from_utf8(&buf) else { continue };
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if let Ok(v @ Value::Object(_)) = serde_json::from_str::<Value>(line) {
            f(v, line);
        }
    }
    Ok(())
}

fn skip_line(r: &mut impl BufRead) -> std::io::Result<()> {
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Ok(());
        }
        if let Some(i) = buf.iter().position(|c| *c == b'\n') {
            r.consume(i + 1);
            return Ok(());
        }
        let n = buf.len();
        r.consume(n);
    }
}

/// The first JSON object line of a file (read up to `limit` bytes), if it parses.
pub(crate) fn first_json_line(path: &Path, limit: u64) -> Option<Value> {
    let file = File::open(path).ok()?;
    let mut buf = Vec::new();
    BufReader::new(file).take(limit).read_until(b'\n', &mut buf).ok()?;
    serde_json::from_slice(&buf).ok()
}

/// Files in `dir` (not recursive) whose name ends with `suffix`; a missing dir is empty.
pub(crate) fn files_in(dir: &Path, suffix: &str) -> Result<Vec<PathBuf>> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(format!("list {}", dir.display()), e)),
    };
    let mut out = Vec::new();
    for entry in rd.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.ends_with(suffix) && entry.file_type().map(|t| t.is_file()).unwrap_or(false) {
            out.push(entry.path());
        }
    }
    out.sort();
    Ok(out)
}

/// The conversation files of a one-file-per-conversation agent (Claude Code, Qwen Code):
/// `<dir>/<uuid>.jsonl`, with their ids; a missing dir is empty.
pub(crate) fn uuid_files(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    Ok(files_in(dir, ".jsonl")?
        .into_iter()
        .filter_map(|p| {
            let id = p.file_stem().and_then(|s| s.to_str()).filter(|s| is_uuid(s))?.to_owned();
            Some((id, p))
        })
        .collect())
}

/// The transcript of a one-file-per-conversation agent (Claude Code, Qwen Code): `<dir>/<id>.jsonl`
/// for `id`, else the newest of its [`uuid_files`]; its turns made by `convert` line by line.
pub(crate) fn jsonl_transcript(
    dir: &Path,
    id: Option<&str>,
    mut convert: impl FnMut(Value, &str, &mut Vec<Turn>),
) -> Result<Option<Transcript>> {
    let path = match id {
        Some(id) => dir.join(format!("{id}.jsonl")),
        None => match newest_by_mtime(uuid_files(dir)?.into_iter().map(|(_, p)| p)) {
            Some(p) => p,
            None => return Ok(None),
        },
    };
    if !path.is_file() {
        return Ok(None);
    }
    let conversation_id = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
    let mut turns = Vec::new();
    for_each_json_line(&path, |v, line| convert(v, line, &mut turns))?;
    Ok(Some(Transcript { conversation_id, turns, watch: vec![path.clone()], path }))
}

/// The newest (by mtime) of some paths.
pub(crate) fn newest_by_mtime(paths: impl IntoIterator<Item = PathBuf>) -> Option<PathBuf> {
    paths
        .into_iter()
        .filter_map(|p| {
            let m = std::fs::metadata(&p).ok()?.modified().ok()?;
            Some((m, p))
        })
        .max_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)))
        .map(|(_, p)| p)
}

/// A stable 16-hex-digit id for a line without one (FNV-1a 64).
pub(crate) fn line_hash(line: &str) -> String {
    format!("{:016x}", crate::paths::fnv1a(std::ffi::OsStr::new(line)))
}

/// A string field.
pub(crate) fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// Text of a tool output that may be a string, an array of `{text}` blocks, or other JSON.
pub(crate) fn flatten_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .filter_map(|i| match i {
                Value::String(s) => Some(s.clone()),
                _ => i.get("text").and_then(Value::as_str).map(str::to_string),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A turn with one text part.
pub(crate) fn text_turn(id: String, role: TurnRole, ts: Option<String>, text: String) -> Turn {
    Turn { id, role, ts, parts: vec![TurnPart::Text { text, html: None }] }
}

/// Tool arguments given as a JSON string are parsed when they are JSON.
pub(crate) fn parse_args(v: Option<&Value>) -> Value {
    match v {
        Some(Value::String(s)) => {
            serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.clone()))
        }
        Some(v) => v.clone(),
        None => Value::Null,
    }
}

/// Opens a SQLite database read-only; `Ok(None)` when the file does not exist.
pub(crate) fn open_db_read_only(path: &Path) -> Result<Option<rusqlite::Connection>> {
    if !path.is_file() {
        return Ok(None);
    }
    let conn = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_millis(2000))?;
    Ok(Some(conn))
}

/// The paths to watch for a SQLite file: the db and, when present, its WAL.
pub(crate) fn db_watch(path: &Path) -> Vec<PathBuf> {
    let mut out = vec![path.to_path_buf()];
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    out.push(PathBuf::from(wal));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_shape() {
        assert!(is_uuid("4bb0e19f-e6c9-4bc5-a825-706d21c4f4e7"));
        assert!(!is_uuid("4bb0e19f-e6c9-4bc5-a825-706d21c4f4e"));
        assert!(!is_uuid("../x"));
        let id = new_session_id();
        assert!(is_uuid(&id), "{id}");
        assert_eq!(&id[14..15], "4");
        assert_ne!(id, new_session_id());
    }

    #[test]
    fn titles() {
        assert_eq!(title_of("\n  hello there \nmore"), "hello there");
        assert_eq!(title_of("  "), NO_OPENER);
        assert_eq!(title_of(&"x".repeat(300)).chars().count(), 100);
    }

    #[test]
    fn sanitize() {
        assert_eq!(sanitize_cwd(Path::new("/tmp/agents-lab.x/w_1")), "-tmp-agents-lab-x-w-1");
    }
}
