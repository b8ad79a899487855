//! Review: the diff of what a session's agent changed in its git repository (issue 18).

use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use utoipa::{IntoParams, ToSchema};

/// Which changes a diff shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum DiffRange {
    /// What the agent changed: commits since the merge-base with the base, staged and
    /// unstaged changes, and untracked files.
    #[default]
    All,
    /// The index against HEAD.
    Staged,
    /// The working tree (staged, unstaged, untracked) against HEAD.
    Uncommitted,
    /// Commits since the merge-base with the base (HEAD against the merge-base).
    Commits,
}

impl DiffRange {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            DiffRange::All => "all",
            DiffRange::Staged => "staged",
            DiffRange::Uncommitted => "uncommitted",
            DiffRange::Commits => "commits",
        }
    }
}

/// `GET /api/sessions/{name}/diff` query.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(IntoParams))]
pub struct DiffQuery {
    /// Which changes (default `all`).
    #[serde(default)]
    pub range: Option<DiffRange>,
    /// The base to compare with (a branch, tag or commit); default: the repository's default
    /// branch (`origin/HEAD`, else `main` or `master`), else the branch's upstream.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", param(max_length = 200))]
    pub base: Option<String>,
    /// Counts only: files without their hunks.
    #[serde(default)]
    pub stat: bool,
    /// Only this file (by its new path), never collapsed.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", param(max_length = 4096))]
    pub path: Option<String>,
    /// Unchanged lines shown around each change (default 3; a large number shows whole
    /// files: how the review page expands collapsed context).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", param(maximum = 1000000))]
    pub context: Option<u32>,
}

/// What happened to a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum FileStatus {
    /// New file (untracked ones too).
    Added,
    /// Deleted.
    Deleted,
    /// Content or mode changed.
    Modified,
    /// Moved (perhaps also changed).
    Renamed,
    /// Copied from another file.
    Copied,
}

/// Why a file's hunks are left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Collapsed {
    /// More changed lines than a review shows at once.
    Large,
    /// A lock file, or marked `linguist-generated` in `.gitattributes`.
    Generated,
    /// The diff's size limit was reached before this file.
    Limit,
}

/// One line of a hunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum LineKind {
    /// Unchanged.
    Context,
    /// Added.
    Add,
    /// Deleted.
    Del,
}

/// One line of a hunk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct DiffLine {
    /// Context, added or deleted.
    pub kind: LineKind,
    /// Its number in the old file (context and deleted lines).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_line: Option<u32>,
    /// Its number in the new file (context and added lines).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_line: Option<u32>,
    /// The text, without the `+`/`-`/space prefix and the newline.
    pub text: String,
}

/// One hunk: `@@ -oldStart,oldLines +newStart,newLines @@ header`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct DiffHunk {
    /// The whole `@@ … @@` line, with the function name git put after it.
    pub header: String,
    /// First old line.
    pub old_start: u32,
    /// Old line count.
    pub old_lines: u32,
    /// First new line.
    pub new_start: u32,
    /// New line count.
    pub new_lines: u32,
    /// The lines.
    pub lines: Vec<DiffLine>,
}

/// One changed file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct DiffFile {
    /// Path in the new tree (the old one for a deleted file), relative to the repository.
    pub path: String,
    /// Path in the old tree, when renamed or copied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_path: Option<String>,
    /// What happened to it.
    pub status: FileStatus,
    /// A binary file (no hunks).
    #[serde(default)]
    pub binary: bool,
    /// Not known to git yet (untracked).
    #[serde(default)]
    pub untracked: bool,
    /// Added lines.
    pub additions: u32,
    /// Deleted lines.
    pub deletions: u32,
    /// Why `hunks` is empty although lines changed (ask for the file alone with `path`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collapsed: Option<Collapsed>,
    /// The hunks (empty with `stat`, for binary files and collapsed ones).
    pub hunks: Vec<DiffHunk>,
}

/// `GET /api/sessions/{name}/diff`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct DiffResponse {
    /// The session, as the caller names it.
    pub name: String,
    /// The repository's top directory.
    pub root: String,
    /// The checked-out branch (absent on a detached HEAD).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// The base compared with, as named (absent: none found; only HEAD is compared with).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
    /// The merge-base commit of HEAD and the base.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge_base: Option<String>,
    /// The range shown.
    pub range: DiffRange,
    /// The changed files, in git's order.
    pub files: Vec<DiffFile>,
    /// Added lines, all files.
    pub additions: u32,
    /// Deleted lines, all files.
    pub deletions: u32,
    /// Some of the diff was left out (size limits): files collapsed with `limit`, or files
    /// missing past the file limit.
    pub truncated: bool,
}

/// Whether a review comment still needs the agent's attention.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum CommentStatus {
    /// Not dealt with yet.
    #[default]
    Open,
    /// Dealt with.
    Resolved,
}

impl CommentStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            CommentStatus::Open => "open",
            CommentStatus::Resolved => "resolved",
        }
    }
}

/// Which side of the diff a comment's line numbers count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum CommentSide {
    /// The new file (added and unchanged lines).
    #[default]
    New,
    /// The old file (deleted lines).
    Old,
}

impl CommentSide {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            CommentSide::New => "new",
            CommentSide::Old => "old",
        }
    }
}

/// A review comment on a line or a range of lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ReviewComment {
    /// Its id.
    pub id: i64,
    /// File path in the repository.
    pub path: String,
    /// Which side's line numbers.
    pub side: CommentSide,
    /// First line.
    pub start_line: u32,
    /// Last line.
    pub end_line: u32,
    /// The lines quoted, as the reviewer saw them.
    pub code: String,
    /// The reviewer's words.
    pub body: String,
    /// Who wrote it.
    pub author: String,
    /// Open or resolved.
    pub status: CommentStatus,
    /// When it was sent to the agent (RFC 3339); absent: not sent yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<String>,
    /// When it was written (RFC 3339).
    pub created_at: String,
    /// When it last changed (RFC 3339).
    pub updated_at: String,
}

/// `POST /api/sessions/{name}/review/comments`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct NewCommentRequest {
    /// File path in the repository.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 4096))]
    pub path: String,
    /// Which side's line numbers (default `new`).
    #[serde(default)]
    pub side: Option<CommentSide>,
    /// First line.
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub start_line: u32,
    /// Last line (default: `startLine`).
    #[serde(default)]
    pub end_line: Option<u32>,
    /// The lines quoted (at most 20,000 bytes).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 20000))]
    pub code: String,
    /// The reviewer's words (at most 8,000 characters).
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 8000))]
    pub body: String,
}

/// `PATCH /api/sessions/{name}/review/comments/{id}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct EditCommentRequest {
    /// Open or resolved.
    #[serde(default)]
    pub status: Option<CommentStatus>,
    /// New words.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 8000))]
    pub body: Option<String>,
}

/// `{ok, comment}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CommentResponse {
    /// Always true.
    pub ok: bool,
    /// The comment as stored.
    pub comment: ReviewComment,
}

/// `POST /api/sessions/{name}/review/send`: the open comments not sent yet went to the agent
/// as one prompt.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SendCommentsResponse {
    /// Always true.
    pub ok: bool,
    /// How many comments it carried.
    pub sent: u32,
    /// The prompt typed into the agent.
    pub prompt: String,
}

/// `POST /api/sessions/{name}/review/commit`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CommitRequest {
    /// The commit message; absent with `ask`.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 10000))]
    pub message: Option<String>,
    /// Ask the agent to commit (it writes the message): a prompt, queued like every prompt.
    #[serde(default)]
    pub ask: bool,
}

/// How a merge into the base may go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum MergeMode {
    /// Fast-forward when possible, else a merge commit.
    #[default]
    Auto,
    /// Only a fast-forward.
    FfOnly,
    /// Always a merge commit.
    MergeCommit,
}

/// `POST /api/sessions/{name}/review/merge`: merges the session's branch into the base.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct MergeRequest {
    /// The local branch to merge into (default: the diff's base).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 200))]
    pub base: Option<String>,
    /// Fast-forward, merge commit, or whichever fits (default).
    #[serde(default)]
    pub mode: Option<MergeMode>,
}

/// `POST /api/sessions/{name}/review/discard`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct DiscardRequest {
    /// Must be true: every uncommitted change and untracked file is lost.
    #[serde(default)]
    pub confirm: bool,
}

/// What a review action did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ActionResponse {
    /// Always true.
    pub ok: bool,
    /// What git (or gh/glab) printed.
    pub output: String,
    /// The commit made or reached (commit, merge).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// The prompt typed into the agent (commit with `ask`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
}

/// `POST /api/sessions/{name}/review/pr`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PullRequestRequest {
    /// The branch to merge into (default: the diff's base).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 200))]
    pub base: Option<String>,
}
