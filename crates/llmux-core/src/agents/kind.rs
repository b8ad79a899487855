//! What one agent CLI is to llmux: the [`AgentKind`] trait, one implementation per known CLI
//! (`agents/<cli>.rs`), and [`Kind`], the handle every caller asks.
//!
//! A kind says everything llmux does differently for one CLI: its built-in catalog row, how
//! its screen is read (a [`Detector`]), whether it keeps a state file llmux reads (Claude
//! Code's), where its conversations are and how to resume one ([`History`]), the arguments
//! always added (`--no-daemon` for Codex) and the pause between a prompt and its Enter.
//! Everything that is not said falls back to llmux's default (no detector: screen activity;
//! no history: no chat transcript, no resume). A custom agent names the kind it wraps
//! (`detector: qwen` in the config) and gets all of it.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::time::Duration;

use llmux_api::{Conversation, Detection, Turn};
use serde_json::Value;

use crate::detect::Screen;
use crate::error::{Error, Result};
use crate::history::{self, Transcript};

/// Reads the bottom of a screen (and, where the detector needs it, the raw text).
pub type Detector = fn(&Screen, &str) -> Detection;

/// Reads an agent's state file, given its HOME and the pane's pid. Blocking (file reads).
pub type StateFileReader = fn(&Path, u32) -> Option<FileState>;

/// Adds the turns of one JSONL line of a transcript to the turns so far.
pub type LineFn = fn(Value, &str, &mut Vec<Turn>);

/// What an agent's own state file says it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileState {
    /// `busy`, `idle` or `waiting` (anything else says nothing).
    pub status: String,
    /// What it waits for, if it says.
    pub waiting_for: Option<String>,
}

/// The catalog row of a built-in agent.
#[derive(Debug, Clone)]
pub struct Builtin {
    /// Human name.
    pub display_name: &'static str,
    /// The program (no shell runs it).
    pub cmd: Cow<'static, str>,
    /// Default flags (shell-word syntax).
    pub flags: &'static str,
    /// Environment set for every session.
    pub env: &'static [(&'static str, &'static str)],
    /// How to install it.
    pub install_hint: &'static str,
    /// Where its documentation is.
    pub docs_url: &'static str,
}

/// The syntax of a conversation id.
#[derive(Debug, Clone, Copy)]
pub enum IdSyntax {
    /// `8-4-4-4-12` hex digits.
    Uuid,
    /// `prefix` followed by 1–64 ASCII letters or digits (OpenCode's `ses_…`).
    Prefixed(&'static str),
}

impl IdSyntax {
    /// Whether `id` has this syntax.
    pub fn accepts(self, id: &str) -> bool {
        match self {
            IdSyntax::Uuid => history::is_uuid(id),
            IdSyntax::Prefixed(prefix) => id.strip_prefix(prefix).is_some_and(|rest| {
                !rest.is_empty()
                    && rest.len() <= 64
                    && rest.bytes().all(|b| b.is_ascii_alphanumeric())
            }),
        }
    }

    fn expected(self) -> String {
        match self {
            IdSyntax::Uuid => "a UUID like 123e4567-e89b-12d3-a456-426614174000".into(),
            IdSyntax::Prefixed(prefix) => format!("{prefix} followed by letters and digits"),
        }
    }
}

/// How the live transcript of a conversation is kept up to date (see
/// [`history::LiveTranscript`]).
#[derive(Debug, Clone, Copy)]
pub enum Live {
    /// One append-only JSONL file, tailed: `locate` finds it (`None` while it cannot be
    /// found), `convert` turns each line into turns.
    Lines {
        /// The file of conversation `id` of `cwd`, given the agent's HOME.
        locate: fn(&Path, &Path, &str) -> Result<Option<PathBuf>>,
        /// The turns of one line.
        convert: LineFn,
    },
    /// Read whole again when one of the transcript's watched files changed.
    Whole,
}

/// An agent's conversation history: where its past conversations are, how to read one,
/// and how to start or resume one. Read-only: never writes to the agent's files.
#[derive(Debug, Clone, Copy)]
pub struct History {
    /// Past conversations in `cwd`, in any order (`home`, `cwd`). A missing store is empty.
    pub list: fn(&Path, &Path) -> Result<Vec<Conversation>>,
    /// How many conversations `list` would find, without parsing transcripts.
    pub count: fn(&Path, &Path) -> Result<usize>,
    /// The turns of conversation `id` (or the newest) of `cwd`; `None` when there is none.
    pub transcript: fn(&Path, &Path, Option<&str>) -> Result<Option<Transcript>>,
    /// How the live transcript is followed.
    pub live: Live,
    /// The syntax of its conversation ids.
    pub ids: IdSyntax,
    /// The argument before an id that resumes that conversation (appended after the
    /// flags: Codex's `resume` is a subcommand, which must come after the global flags).
    pub resume: &'static str,
    /// The argument before an id that starts a fresh conversation with that id, where the
    /// agent lets llmux choose it (`--session-id`).
    pub fresh: Option<&'static str>,
}

/// One agent CLI llmux knows. Implement it in `agents/<cli>.rs` and list it in
/// `agents::KINDS`; every method but [`AgentKind::key`] and [`AgentKind::builtin`] has a
/// default that means "nothing special".
pub trait AgentKind: Send + Sync + 'static {
    /// The kind's key: the catalog key of its built-in agent, what `detector:` names.
    fn key(&self) -> &'static str;
    /// Its built-in catalog row.
    fn builtin(&self) -> Builtin;
    /// Its screen detector; `None`: llmux follows screen activity.
    fn detector(&self) -> Option<Detector> {
        None
    }
    /// Its state file reader, when the CLI writes one (it wins where it says something).
    fn state_file(&self) -> Option<StateFileReader> {
        None
    }
    /// Its conversation history, when llmux can read it.
    fn history(&self) -> Option<&'static History> {
        None
    }
    /// Arguments always added after the flags (when the flags do not already have them),
    /// for process hygiene.
    fn fixed_args(&self) -> &'static [&'static str] {
        &[]
    }
    /// The pause between a prompt's text and its Enter (`None`: the daemon's default).
    fn settle(&self) -> Option<Duration> {
        None
    }
    /// How a prompt names a file in the session's folder (`path` is relative to it) so the
    /// agent reads it, images included: the path as it is, which Claude Code and Codex read
    /// (default), or `@path` for the CLIs that include files that way.
    fn mention(&self, path: &str) -> String {
        path.to_owned()
    }
    /// Whether the CLI reads a file git ignores when a prompt names it. Gemini CLI and Qwen
    /// Code do not (their `@` and `read_file` skip such files; seen in the real-agent tests),
    /// so their uploads stay where git sees them.
    fn reads_ignored_files(&self) -> bool {
        true
    }
}

/// A handle on a known agent kind: what every caller asks about an agent.
#[derive(Clone, Copy)]
pub struct Kind(&'static dyn AgentKind);

impl std::fmt::Debug for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Kind({})", self.key())
    }
}

impl PartialEq for Kind {
    fn eq(&self, other: &Kind) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Kind {}

impl std::hash::Hash for Kind {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.key().hash(state);
    }
}

impl Kind {
    pub(super) const fn new(kind: &'static dyn AgentKind) -> Kind {
        Kind(kind)
    }

    /// The kind's key (`claude`, `qwen`, …).
    pub fn key(self) -> &'static str {
        self.0.key()
    }

    /// Its built-in catalog row.
    pub fn builtin(self) -> Builtin {
        self.0.builtin()
    }

    /// How a prompt names a file in the session's folder ([`AgentKind::mention`]).
    pub fn mention(self, path: &str) -> String {
        self.0.mention(path)
    }

    /// Whether the CLI reads a file git ignores ([`AgentKind::reads_ignored_files`]).
    pub fn reads_ignored_files(self) -> bool {
        self.0.reads_ignored_files()
    }

    /// Arguments always added after the flags.
    pub fn fixed_args(self) -> &'static [&'static str] {
        self.0.fixed_args()
    }

    /// Its own pause between a prompt's text and its Enter, if it has one.
    pub fn settle(self) -> Option<Duration> {
        self.0.settle()
    }

    /// Whether llmux reads this agent's screen with a detector.
    pub fn has_detector(self) -> bool {
        self.0.detector().is_some()
    }

    /// The state the detector reads from `screen`, the plain text of the visible pane
    /// (`tmux capture-pane -p`, no escapes). `None` without a detector.
    pub fn detect(self, screen: &str) -> Option<Detection> {
        self.0.detector().map(|d| crate::detect::run(d, screen))
    }

    /// Its state file reader, if it writes one.
    pub fn state_file(self) -> Option<StateFileReader> {
        self.0.state_file()
    }

    /// Its history adapter, if llmux can read its conversations.
    pub fn history(self) -> Option<&'static History> {
        self.0.history()
    }

    /// Whether llmux can read this agent's conversations (and so resume them).
    pub fn has_history(self) -> bool {
        self.0.history().is_some()
    }

    fn adapter(self) -> Result<&'static History> {
        self.history()
            .ok_or_else(|| Error::invalid(format!("no history adapter for agent {:?}", self.key())))
    }

    /// Past conversations in `cwd`, newest first. `home` is the agent's HOME (the daemon's
    /// home unless the session's env sets HOME). A missing store is an empty list; an agent
    /// without history is an error.
    pub fn list(self, home: &Path, cwd: &Path) -> Result<Vec<Conversation>> {
        let mut out = (self.adapter()?.list)(home, cwd)?;
        history::sort_newest_first(&mut out);
        Ok(out)
    }

    /// Number of past conversations in `cwd`, for the session list. Cheaper than
    /// [`Kind::list`] (no transcript is parsed), and may count a conversation it would drop.
    pub fn count(self, home: &Path, cwd: &Path) -> Result<u32> {
        let n = (self.adapter()?.count)(home, cwd)?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    /// The turns of conversation `id` in `cwd`, or of the newest when `id` is `None`
    /// (the last [`history::MAX_TURNS`]). `Ok(None)` when there is none (an id of another
    /// directory counts as none). The id is validated first.
    pub fn transcript(
        self,
        home: &Path,
        cwd: &Path,
        id: Option<&str>,
    ) -> Result<Option<Transcript>> {
        let adapter = self.adapter()?;
        if let Some(id) = id {
            self.validate_id(id)?;
        }
        let mut t = (adapter.transcript)(home, cwd, id)?;
        if let Some(t) = t.as_mut() {
            history::cap_turns(&mut t.turns);
        }
        Ok(t)
    }

    /// Checks `id` against the agent's id syntax.
    pub fn validate_id(self, id: &str) -> Result<()> {
        let ids = self.adapter()?.ids;
        if ids.accepts(id) {
            Ok(())
        } else {
            Err(Error::invalid(format!(
                "invalid {} conversation id {id:?}: expected {}",
                self.key(),
                ids.expected()
            )))
        }
    }

    /// argv items that resume conversation `id` (appended after the flags); `None` for an
    /// agent without history.
    pub fn resume_args(self, id: &str) -> Option<Vec<String>> {
        self.history().map(|h| vec![h.resume.to_owned(), id.to_owned()])
    }

    /// argv items that start a fresh conversation with the id llmux chose; `None` where
    /// the agent cannot (Codex, OpenCode) or has no history.
    pub fn fresh_args(self, id: &str) -> Option<Vec<String>> {
        self.history()?.fresh.map(|flag| vec![flag.to_owned(), id.to_owned()])
    }
}
