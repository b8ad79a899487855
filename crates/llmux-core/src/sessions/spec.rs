//! What callers ask of the session service: a session to start ([`NewSession`]), a change to
//! one ([`SessionEdit`]), a prompt for many ([`Broadcast`]), a review comment to add
//! ([`NewReviewComment`]) or change ([`ReviewCommentEdit`]).
//!
//! These are the service's own inputs, not the API's request bodies: the server turns the
//! requests into them (dropping what is not the service's business, such as a hub's `host`,
//! and filling in the documented defaults), and core's own callers build them directly (a
//! resume is an edit of the resume id). They hold what the caller asked for, unchecked:
//! [`SessionService::create`], [`SessionService::edit`] and the others validate every field,
//! in their own order, once the caller's permissions were checked (a caller who may not start
//! sessions is answered 403, whatever its input).
//!
//! Two values inside stay the API's shared types, as the service reads them as they are:
//! [`EnvInput`] (an object or `KEY=VALUE` lines, parsed and checked by
//! [`crate::validate::env`]) and [`WorktreeRequest`] (a branch and a base, both optional).
//!
//! [`SessionService::create`]: super::SessionService::create
//! [`SessionService::edit`]: super::SessionService::edit

use llmux_api::{CommentSide, CommentStatus, EnvInput, WorktreeRequest};

/// A session to start, as [`SessionService::create`](super::SessionService::create) takes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewSession {
    /// Agent catalog key (surrounding whitespace ignored).
    pub agent: String,
    /// Name in the owner's namespace; `None`: the agent key, or `key-2`, `key-3`, … if taken.
    pub name: Option<String>,
    /// Working directory (`~` expanded); `None` or blank: the owner's default (the daemon's
    /// HOME, or a confined user's first root).
    pub cwd: Option<String>,
    /// Flags, split by POSIX shell-word rules; `None`: the agent's default, `""`: none.
    pub flags: Option<String>,
    /// Extra environment for the agent.
    pub env: Option<EnvInput>,
    /// Prompts typed into the agent once it is up, after the daemon-wide ones.
    pub init_prompts: Vec<String>,
    /// Conversation id to resume (`""`: none).
    pub resume_from: Option<String>,
    /// Canonical name of the session that started this one (`""`: none).
    pub parent: Option<String>,
    /// Do not type the init prompts (daemon-wide or the session's) after this start.
    pub skip_init: bool,
    /// Start in a new git worktree of the repository the cwd is in.
    pub worktree: Option<WorktreeRequest>,
    /// Turn the after-limit setting on with this text.
    pub after_limit: Option<String>,
}

/// A change to a session, as [`SessionService::edit`](super::SessionService::edit) takes it.
///
/// `None` keeps a field. For the fields a session can do without, `Some(None)` goes back to
/// the default (the agent's flags, no extra env, no resume id, after-limit off).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionEdit {
    /// New name, in the session owner's namespace (a live rename).
    pub name: Option<String>,
    /// New working directory (`~` expanded).
    pub cwd: Option<String>,
    /// New flags; `Some(None)`: the agent's default, `Some(Some(""))`: none.
    pub flags: Option<Option<String>>,
    /// New environment, replacing the old one; `Some(None)` clears it.
    pub env: Option<Option<EnvInput>>,
    /// New init prompts, replacing the list (`[]` clears it).
    pub init_prompts: Option<Vec<String>>,
    /// New resume id; `Some(None)` or `""` clears it.
    pub resume_from: Option<Option<String>>,
    /// The after-limit setting: a text turns it on (or changes it), `Some(None)` turns it off.
    pub after_limit: Option<Option<String>>,
    /// Move the session into a new git worktree (only alone, and only if it has none).
    pub worktree: Option<WorktreeRequest>,
}

impl SessionEdit {
    /// Only the resume id: the next start resumes conversation `id`.
    pub fn resume_from(id: &str) -> Self {
        SessionEdit { resume_from: Some(Some(id.to_owned())), ..SessionEdit::default() }
    }
}

/// One prompt for many sessions, as
/// [`SessionService::broadcast`](super::SessionService::broadcast) takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broadcast {
    /// Text typed into every target.
    pub prompt: String,
    /// Press Enter after the text.
    pub enter: bool,
    /// The targets, by canonical name; `None`: every running session (of `agent`).
    pub names: Option<Vec<String>>,
    /// Only sessions of this agent.
    pub agent: Option<String>,
}

/// A review comment to add, as
/// [`SessionService::add_comment`](super::SessionService::add_comment) takes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewReviewComment {
    /// File path in the repository.
    pub path: String,
    /// Which side's line numbers.
    pub side: CommentSide,
    /// First line (1 or more).
    pub start_line: u32,
    /// Last line; `None`: `start_line`.
    pub end_line: Option<u32>,
    /// The lines quoted.
    pub code: String,
    /// The reviewer's words.
    pub body: String,
}

/// A change to a review comment, as
/// [`SessionService::edit_comment`](super::SessionService::edit_comment) takes it: `None`
/// keeps a field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReviewCommentEdit {
    /// Open or resolved.
    pub status: Option<CommentStatus>,
    /// New words.
    pub body: Option<String>,
}
