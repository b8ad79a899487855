//! Sessions, agents, health: the wire types of the session routes.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// Whether a session's process is alive in tmux.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum SessionStatus {
    /// The tmux session exists and its agent process is alive.
    Running,
    /// The record exists but the agent is not running (stopped, crashed or never started).
    Exited,
}

impl SessionStatus {
    /// The lower-case wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Running => "running",
            SessionStatus::Exited => "exited",
        }
    }
}

/// A session as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SessionView {
    /// Unique session name.
    pub name: String,
    /// Agent catalog key.
    pub agent: String,
    /// Absolute working directory.
    pub cwd: String,
    /// `cwd` with the home directory shortened to `~`.
    pub cwd_display: String,
    /// Explicit flags override; absent means the agent's default flags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flags: Option<String>,
    /// The agent's default flags (after config overrides).
    pub default_flags: String,
    /// The exact argv the session is launched with.
    pub argv: Vec<String>,
    /// Per-session environment; only shown to the session's owner and admins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<BTreeMap<String, String>>,
    /// The agent's default environment.
    pub default_env: BTreeMap<String, String>,
    /// Conversation id resumed at every (re)spawn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume_from: Option<String>,
    /// The conversation the agent is in, where llmux knows it (chosen with `--session-id` at
    /// spawn, or resumed): the old daemon's `boundConversationId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
    /// Prompts typed into the agent after each spawn.
    pub init_prompts: Vec<String>,
    /// Whether llmux can read this agent's conversation history.
    pub has_history: bool,
    /// Number of past conversations for this agent and cwd.
    pub conversation_count: u32,
    /// Owner's username; empty for sessions made by the local operator.
    pub owner: String,
    /// When the record was created (RFC 3339).
    pub created_at: String,
    /// When the record last changed (RFC 3339).
    pub updated_at: String,
    /// When the agent was last (re)started (RFC 3339).
    pub started_at: String,
    /// Session that spawned this one, if any.
    pub parent: Option<String>,
    /// `running` or `exited`.
    pub status: SessionStatus,
    /// What the agent is doing: `starting`, `idle`, `working`, `waiting` or `exited`.
    pub state: crate::AgentState,
    /// When it entered that state (RFC 3339).
    pub state_since: String,
    /// While `waiting`: what for (`permission: touch`, `choice`, `trust`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_for: Option<String>,
    /// While `waiting`: the question and the answers offered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<crate::PendingPrompt>,
    /// PID of the agent process while running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// Exit status of the agent once it has exited, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_status: Option<i32>,
    /// Last output activity in the pane (RFC 3339), while running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity_at: Option<String>,
    /// The name of the session inside llmux's tmux server.
    pub tmux_name: String,
    /// A shell command that attaches to this session with plain tmux.
    pub attach_command: String,
    /// Whether the agent runs in the sandbox (a user who is not an admin; see the README's
    /// "Users and isolation"). A non-admin's session that is running and not confined was
    /// started before isolation existed: it moves into the sandbox at its next restart.
    #[serde(default)]
    pub confined: bool,
    /// The git worktree llmux made for this session (its cwd), when it was started with one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worktree: Option<WorktreeView>,
    /// While `limited`: when the agent's rate limit resets (RFC 3339), if its screen said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resets_at: Option<String>,
    /// The session's after-limit setting: whenever its agent stops at a rate limit, this
    /// text is queued to be typed once the limit has reset. Absent: off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_limit: Option<String>,
    /// How many prompts wait in the session's queue (`GET /api/sessions/{name}/queue`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub queued: u32,
    /// The fleet host the session runs on, on a hub (its `name` is then `host:name`); absent
    /// for the hub's own sessions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// On a hub: the session's host cannot be reached now, so this is its last known state
    /// (not an exit).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unreachable: bool,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// A session's git worktree: where it is, its branch, and how it stands against its base.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct WorktreeView {
    /// The repository's top-level directory.
    pub repo: String,
    /// The worktree's directory (the session's cwd).
    pub path: String,
    /// The branch checked out in it.
    pub branch: String,
    /// What ahead/behind count against (a branch name, or a commit).
    pub base: String,
    /// Whether llmux made the branch (a new branch) rather than checking out an existing one.
    pub created_branch: bool,
    /// Commits on the branch not in the base; absent until first read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ahead: Option<u32>,
    /// Commits in the base not on the branch; absent until first read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub behind: Option<u32>,
    /// Uncommitted changes (untracked files count); absent until first read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dirty: Option<bool>,
    /// When ahead/behind/dirty were read (RFC 3339): they are refreshed in the background, at
    /// most a few seconds old once the session list is looked at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked_at: Option<String>,
    /// The output (stdout and stderr) of the repository's setup command; only in
    /// `GET /api/sessions/{name}`, not in the list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setup_output: Option<String>,
}

/// `worktree` in `POST /api/sessions`: start the session in a git worktree of the repository
/// its cwd is in. `{}` makes a new branch named after the session from the repository's base.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorktreeRequest {
    /// The branch: an existing one is checked out, a new one is made from `base`. Default:
    /// the session's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200))]
    pub branch: Option<String>,
    /// Where a new branch starts (and what ahead/behind count against): a branch, tag or
    /// commit. Default: the repository's `worktree.base` setting, else its current HEAD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200))]
    pub base: Option<String>,
}

/// Environment given either as a JSON object or as `KEY=VALUE` lines (old daemon style).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(untagged)]
pub enum EnvInput {
    /// `{"KEY": "value"}`.
    Map(BTreeMap<String, String>),
    /// `"KEY=value\nOTHER=x"`; blank and `#` lines are skipped.
    Text(String),
}

/// `POST /api/sessions`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateSessionRequest {
    /// Agent catalog key.
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub agent: String,
    /// Session name; defaults to the agent key (with `-2`, `-3`, … if taken).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", min_length = 1, max_length = 64)
    )]
    pub name: Option<String>,
    /// Working directory; `~` is expanded. Defaults to the daemon user's home.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub cwd: Option<String>,
    /// Flags split by POSIX shell-word rules; absent = agent default, `""` = no flags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flags: Option<String>,
    /// Extra environment for the agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<EnvInput>,
    /// Prompts to type into the agent once it is up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_prompts: Option<Vec<String>>,
    /// Conversation id to resume (`""` = none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = r"^([A-Za-z0-9_.][A-Za-z0-9._-]*)?$", max_length = 200)
    )]
    pub resume_from: Option<String>,
    /// Session that spawned this one (set by the CLI from `$LLMUX_SESSION`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// Do not type the init prompts (daemon-wide or the session's) after this spawn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_init: Option<bool>,
    /// Run the session in a new git worktree of the repository `cwd` is in (README,
    /// "Worktrees"); its files are copied and its setup command run before the agent starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worktree: Option<WorktreeRequest>,
    /// Turn the after-limit setting on with this text (like `"continue"`): whenever the
    /// agent stops at a rate limit, it is typed once the limit has reset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub after_limit: Option<String>,
    /// On a hub: start the session on this fleet host (admins); absent = on the hub itself.
    /// `auto`: on the reachable host where the agent is installed and the cwd exists with
    /// the most free memory; `label:NAME`: the same among the hosts with that label. The
    /// answer's `host` says which.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(
            pattern = r"^([A-Za-z0-9][A-Za-z0-9._-]{0,63}|label:[a-z0-9][a-z0-9._-]{0,31})$",
            min_length = 1,
            max_length = 70
        )
    )]
    pub host: Option<String>,
}

/// `PATCH /api/sessions/{name}`: absent fields are kept; `null` resets to the default.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EditSessionRequest {
    /// New name (live rename).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", min_length = 1, max_length = 64)
    )]
    pub name: Option<String>,
    /// New working directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub cwd: Option<String>,
    /// New flags; `null` = back to the agent default, `""` = no flags.
    #[serde(default, deserialize_with = "patch", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub flags: Option<Option<String>>,
    /// New environment (replaces the old one); `null` clears it.
    #[serde(default, deserialize_with = "patch", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<EnvInput>))]
    pub env: Option<Option<EnvInput>>,
    /// New init prompts (replaces the list; `[]` clears).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_prompts: Option<Vec<String>>,
    /// New resume id; `null` or `""` clears it.
    #[serde(default, deserialize_with = "patch", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub resume_from: Option<Option<String>>,
    /// The after-limit setting: a text turns it on (or changes the text), `null` turns it off.
    #[serde(default, deserialize_with = "patch", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, min_length = 1))]
    pub after_limit: Option<Option<String>>,
    /// Move the session into a new git worktree of the repository its cwd is in, as at start
    /// (the agent restarts there when it runs); only alone, and only for a session that has
    /// none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worktree: Option<WorktreeRequest>,
}

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`).
pub(crate) fn patch<'de, D, T>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(de).map(Some)
}

/// `POST /api/sessions/{name}/send`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SendRequest {
    /// Text to type. Multi-line text arrives as one bracketed paste.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 262144))]
    pub prompt: String,
    /// Press Enter after the text (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enter: Option<bool>,
    /// Wait until the agent is done (leaves `working`) and return its reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait: Option<bool>,
    /// With `wait`: give up after this many seconds (default 600, at most 3600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 3600))]
    pub timeout: Option<u64>,
    /// Queue it, to be typed at this time (RFC 3339, e.g. `2026-12-04T18:00:00Z`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    /// Queue it, to be typed after this long (`90s`, `5m`, `1h30m`, or seconds).
    #[serde(default, rename = "in", skip_serializing_if = "Option::is_none")]
    pub in_: Option<String>,
    /// Queue it, to be typed when the agent is `idle` (the only value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    /// Queue it, to be typed once the agent's rate limit has reset (when it is not limited
    /// and idle).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_limit: Option<bool>,
}

impl SendRequest {
    /// Whether the prompt is queued (scheduled) rather than typed now.
    pub fn is_queued(&self) -> bool {
        self.at.is_some()
            || self.in_.is_some()
            || self.when.is_some()
            || self.after_limit == Some(true)
    }
}

/// Response of `POST /api/sessions/{name}/send`: `{ok: true}`, plus the outcome with `wait`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SendResponse {
    /// Always true.
    pub ok: bool,
    /// With `wait`: the state the agent was left in (`idle`, `waiting`, `exited`, or
    /// `working` when the timeout passed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<crate::AgentState>,
    /// With `wait`: the reply (from the transcript where llmux reads one, else new pane text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,
    /// With `wait`, when `waiting`: what for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_for: Option<String>,
    /// With `wait`, when `waiting`: the question and its options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<crate::PendingPrompt>,
    /// With `wait`: true when the timeout passed first.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub timed_out: bool,
    /// When the prompt was typed into the agent (RFC 3339), unless it was queued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<String>,
    /// A scheduled prompt: the queue item it became.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queued: Option<crate::QueueItem>,
}

/// Response of `answer`, `key` and `interrupt`: done, and when.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct DeliveredResponse {
    /// Always true.
    pub ok: bool,
    /// When the keys reached the agent (RFC 3339).
    pub delivered_at: String,
}

/// `POST /api/sessions/{name}/answer`: choose one option of the question on screen.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AnswerRequest {
    /// The option's number as the screen and `llmux session show` number them: 1 is the
    /// first of `prompt.options` (not an index from 0).
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub option: usize,
}

/// `POST /api/sessions/{name}/key`: press one key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct KeyRequest {
    /// One of `Up Down Left Right Enter Escape Tab BSpace Space C-c C-d`, a digit, or `y`/`n`.
    #[cfg_attr(
        feature = "openapi",
        schema(
            pattern = r"^([A-Za-z0-9]|Up|Down|Left|Right|Enter|Escape|Tab|BTab|BSpace|Space|C-c|C-d|Home|End|PageUp|PageDown)$"
        )
    )]
    pub key: String,
}

/// `POST /api/sessions/{name}/resume`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResumeRequest {
    /// The conversation to resume (from `conversations`).
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = r"^[A-Za-z0-9_.][A-Za-z0-9._-]*$", min_length = 1, max_length = 200)
    )]
    pub conversation_id: String,
}

/// Response of `GET /api/sessions/{name}/transcript`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct TranscriptResponse {
    /// Whether llmux reads this agent's transcripts.
    pub supported: bool,
    /// The conversation shown, if there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
    /// Its turns (the last 300).
    pub turns: Vec<crate::Turn>,
}

/// `POST /api/sessions/broadcast`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct BroadcastRequest {
    /// Text to type into every target.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 262144))]
    pub prompt: String,
    /// Press Enter after the text (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enter: Option<bool>,
    /// Target these sessions; absent = every running session (optionally of `agent`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub names: Option<Vec<String>>,
    /// Only sessions of this agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
}

/// One target a broadcast could not reach.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct BroadcastFailure {
    /// Session name.
    pub name: String,
    /// Why it failed.
    pub error: String,
}

/// Response of `POST /api/sessions/broadcast`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct BroadcastResponse {
    /// True when every target received the prompt.
    pub ok: bool,
    /// Sessions that received the prompt.
    pub sent: Vec<String>,
    /// Sessions that did not.
    pub failed: Vec<BroadcastFailure>,
}

/// Response of `GET /api/sessions/{name}/capture`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CaptureResponse {
    /// Session name.
    pub name: String,
    /// Number of lines asked for.
    pub lines: u32,
    /// The captured text, trailing blank lines removed.
    pub text: String,
}

/// `{ok: true, session}` returned by create, edit and respawn.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SessionResponse {
    /// Always true.
    pub ok: bool,
    /// The session after the change.
    pub session: SessionView,
}

/// `{ok: true}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct OkResponse {
    /// Always true.
    pub ok: bool,
}

/// Response of `POST /api/sessions/{name}/kill`: the status before the kill.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct KillResponse {
    /// Always true.
    pub ok: bool,
    /// Status the session had before it was killed and removed.
    pub status: SessionStatus,
}

/// An agent of the catalog.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AgentView {
    /// Catalog key (`claude`, `codex`, …).
    pub key: String,
    /// Human name.
    pub display_name: String,
    /// The binary that is run.
    pub cmd: String,
    /// Default flags.
    pub flags: String,
    /// Environment set for every session of this agent.
    pub env_defaults: BTreeMap<String, String>,
    /// Whether llmux reads this agent's conversation history.
    pub has_history: bool,
    /// Whether `cmd` was found on the daemon's PATH.
    pub installed: bool,
    /// How to install it.
    pub install_hint: String,
    /// Where its documentation is.
    pub docs_url: String,
    /// False for agents defined only in the config file.
    pub builtin: bool,
    /// Number of running sessions of this agent.
    pub running: u32,
}

/// Response of `/health`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct HealthResponse {
    /// Always true when the daemon answers.
    pub ok: bool,
    /// Daemon version.
    pub version: String,
    /// Whether TCP requests need credentials (always true).
    pub auth_enabled: bool,
}

/// Response of `GET /api/version`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct VersionResponse {
    /// Daemon version.
    pub version: String,
    /// True while no account exists yet and the first admin can be created at `/setup` (with
    /// the setup token the daemon printed); the sign-in page says so. Nothing else is told.
    #[serde(rename = "setupPending", default)]
    pub setup_pending: bool,
}

/// Body of every error response.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ErrorBody {
    /// Human-readable message.
    pub error: String,
    /// Stable snake_case code (`not_found`, `already_exists`, …).
    #[serde(default)]
    pub code: String,
}

/// Largest prompt accepted by `send` and `broadcast`, in bytes.
pub const MAX_PROMPT_BYTES: usize = 256 * 1024;
/// Largest JSON request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 512 * 1024;
/// Most lines `capture` returns.
pub const MAX_CAPTURE_LINES: u32 = 10_000;
