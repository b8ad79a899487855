//! The live transcript of one known conversation, kept up to date cheaply.
//!
//! Agents whose transcript is one append-only JSONL file (Claude Code, Qwen Code, Codex,
//! Copilot) are read with a [`Tail`]: a poll costs one `stat` while nothing changed, and reads
//! only the appended lines when something did. The others (Gemini CLI rewrites records in
//! place; OpenCode keeps a SQLite database) are read whole again, but only when the length,
//! mtime or inode of one of their [`Transcript::watch`](super::Transcript) files moved.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use llmux_api::Turn;
use serde_json::Value;

use super::MAX_TURNS;
use super::tail::{Polled, Tail};
use crate::agents::{Kind, LineFn, Live};
use crate::error::{Error, Result};

/// How often a transcript that is not there yet is looked for again.
const LOOK_AGAIN: Duration = Duration::from_secs(2);

/// One conversation's transcript, read incrementally.
#[derive(Debug)]
pub struct LiveTranscript {
    kind: Kind,
    home: PathBuf,
    cwd: PathBuf,
    id: String,
    turns: Vec<Turn>,
    found: bool,
    mode: Mode,
}

#[derive(Debug)]
enum Mode {
    /// An append-only JSONL file; `tail` is `None` until the file is found.
    Lines {
        tail: Option<Tail>,
        locate: fn(&Path, &Path, &str) -> Result<Option<PathBuf>>,
        convert: LineFn,
        looked: Option<Instant>,
    },
    /// Read whole when one of `watch` changed.
    Whole { watch: Vec<(PathBuf, Option<Stamp>)>, looked: Option<Instant> },
}

/// (length, mtime, inode) of a file.
type Stamp = (u64, Option<SystemTime>, u64);

fn stamp(path: &Path) -> Option<Stamp> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).ok()?;
    Some((m.len(), m.modified().ok(), m.ino()))
}

impl LiveTranscript {
    /// A reader of conversation `id` of an agent of `kind` in `cwd`; reads nothing until
    /// [`Self::poll`]. An error for a kind without history or a bad id.
    pub fn new(kind: Kind, home: &Path, cwd: &Path, id: &str) -> Result<LiveTranscript> {
        kind.validate_id(id)?;
        let live = kind.history().map_or(Live::Whole, |h| h.live);
        let mode = match live {
            Live::Lines { locate, convert } => {
                Mode::Lines { tail: None, locate, convert, looked: None }
            }
            Live::Whole => Mode::Whole { watch: Vec::new(), looked: None },
        };
        Ok(LiveTranscript {
            kind,
            home: home.to_owned(),
            cwd: cwd.to_owned(),
            id: id.to_owned(),
            turns: Vec::new(),
            found: false,
            mode,
        })
    }

    /// The conversation id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Whether the transcript was found (the agent may not have written it yet).
    pub fn found(&self) -> bool {
        self.found
    }

    /// Brings the turns up to date; whether they may have changed.
    pub fn poll(&mut self) -> Result<bool> {
        match &mut self.mode {
            Mode::Lines { tail, locate, convert, looked } => {
                if tail.is_none() {
                    if looked.is_some_and(|at| at.elapsed() < LOOK_AGAIN) {
                        return Ok(false);
                    }
                    *looked = Some(Instant::now());
                    *tail = locate(&self.home, &self.cwd, &self.id)?.map(Tail::new);
                }
                let Some(t) = tail.as_mut() else { return Ok(false) };
                let path = t.path().to_owned();
                let err = |e| Error::io(format!("read {}", path.display()), e);
                let polled = t.check().map_err(err)?;
                if polled == Polled::Unchanged {
                    return Ok(false);
                }
                if polled == Polled::Restarted {
                    self.turns.clear();
                }
                let (convert, turns) = (*convert, &mut self.turns);
                t.read(|line| {
                    if let Some((v, line)) = json_line(line) {
                        convert(v, line, turns);
                    }
                })
                .map_err(err)?;
                if self.turns.len() > 2 * MAX_TURNS {
                    // Keep a margin over the cap: a later line may still add to an older turn.
                    self.turns.drain(..self.turns.len() - MAX_TURNS);
                }
                self.found = t.exists();
                Ok(true)
            }
            Mode::Whole { watch, looked } => {
                let moved = watch.is_empty() || watch.iter().any(|(p, s)| stamp(p) != *s);
                if !moved {
                    return Ok(false);
                }
                if watch.is_empty() && looked.is_some_and(|at| at.elapsed() < LOOK_AGAIN) {
                    return Ok(false);
                }
                *looked = Some(Instant::now());
                // Stamps first: a change during the read shows at the next poll.
                let stamps: Vec<_> = watch.iter().map(|(p, _)| (p.clone(), stamp(p))).collect();
                let t = self.kind.transcript(&self.home, &self.cwd, Some(&self.id))?;
                *watch = match &t {
                    Some(t) if stamps.iter().map(|(p, _)| p).eq(t.watch.iter()) => stamps,
                    Some(t) => t.watch.iter().map(|p| (p.clone(), stamp(p))).collect(),
                    None => Vec::new(),
                };
                self.found = t.is_some();
                self.turns = t.map(|t| t.turns).unwrap_or_default();
                Ok(true)
            }
        }
    }

    /// The turns now: the last [`MAX_TURNS`], with a last line whose newline has not come
    /// yet if it already parses (as a whole read would show it).
    pub fn turns(&self) -> Vec<Turn> {
        self.visible().into_owned()
    }

    /// [`Self::turns`] without a copy when there is no such last line.
    pub fn visible(&self) -> std::borrow::Cow<'_, [Turn]> {
        let last = |turns: &[Turn]| turns.len().saturating_sub(MAX_TURNS);
        if let Mode::Lines { tail: Some(t), convert, .. } = &self.mode
            && let Some((v, line)) = json_line(t.partial())
        {
            let mut turns = self.turns.clone();
            convert(v, line, &mut turns);
            let skip = last(&turns);
            turns.drain(..skip);
            return std::borrow::Cow::Owned(turns);
        }
        std::borrow::Cow::Borrowed(&self.turns[last(&self.turns)..])
    }
}

/// A JSONL line as [`super::for_each_json_line`] reads it: trimmed, a JSON object.
fn json_line(bytes: &[u8]) -> Option<(Value, &str)> {
    let line = std::str::from_utf8(bytes).ok()?.trim();
    if line.is_empty() {
        return None;
    }
    match serde_json::from_str::<Value>(line) {
        Ok(v @ Value::Object(_)) => Some((v, line)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn fixtures(agent: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/transcripts").join(agent).join("home")
    }

    /// Copies a real transcript into a fresh home a piece at a time (cutting lines in two);
    /// after each piece the live reader shows what a whole read of the file shows.
    fn grows_like_a_whole_read(agent: &str, src: &Path, dest: impl Fn(&Path) -> PathBuf, id: &str) {
        let cwd = PathBuf::from(format!("/tmp/agents-lab-hist/work-{agent}"));
        let home = tempfile::tempdir().unwrap();
        let path = dest(home.path());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let bytes = std::fs::read(src).unwrap();
        let kind = crate::agents::kind(agent).unwrap();
        let mut live = LiveTranscript::new(kind, home.path(), &cwd, id).unwrap();
        assert!(!live.poll().unwrap() && !live.found(), "nothing there yet");
        let mut file = std::fs::File::create(&path).unwrap();
        let step = bytes.len() / 7 + 1;
        for piece in bytes.chunks(step) {
            file.write_all(piece).unwrap();
            file.flush().unwrap();
            // A new file is looked for again only after a pause; the path stays the same.
            if let Mode::Lines { looked, .. } = &mut live.mode {
                *looked = None;
            }
            live.poll().unwrap();
            let whole = kind.transcript(home.path(), &cwd, Some(id)).unwrap();
            assert_eq!(live.turns(), whole.map(|t| t.turns).unwrap_or_default());
        }
        assert!(live.found());
        assert!(!live.poll().unwrap(), "no change, no read");
        // Truncated and rewritten: read from the start.
        drop(file);
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        assert!(live.poll().unwrap());
        let whole = kind.transcript(home.path(), &cwd, Some(id)).unwrap();
        assert_eq!(live.turns(), whole.unwrap().turns);
    }

    #[test]
    fn claude_grows_like_a_whole_read() {
        let id = "4bb0e19f-e6c9-4bc5-a825-706d21c4f4e7";
        let rel = format!(".claude/projects/-tmp-agents-lab-hist-work-claude/{id}.jsonl");
        let src = fixtures("claude").join(&rel);
        grows_like_a_whole_read("claude", &src, |h| h.join(&rel), id);
    }

    #[test]
    fn codex_grows_like_a_whole_read() {
        let id = "01a21ba1-75fa-7613-a6d7-668de66c1c80";
        let rel = format!(".codex/sessions/2026/11/27/rollout-2026-11-27T06-11-36-{id}.jsonl");
        let src = fixtures("codex").join(&rel);
        grows_like_a_whole_read("codex", &src, |h| h.join(&rel), id);
    }
}
