//! Agent awareness on the wire: what an agent is doing, what it asks, what it said before.

use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// What the agent in a session is doing, as read from its screen (and state file, if any).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum AgentState {
    /// Spawned, not ready for input yet (splash, blank screen, loading).
    Starting,
    /// Ready for input: the composer is shown and nothing runs.
    Idle,
    /// Thinking, streaming or running a tool.
    Working,
    /// Needs the person: a permission, a choice or a first-run dialog.
    Waiting,
    /// The agent process is gone.
    Exited,
    /// The agent's rate limit is reached (its screen says so); `resetsAt` says until when,
    /// if the screen did.
    Limited,
}

impl AgentState {
    /// The lower-case wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            AgentState::Starting => "starting",
            AgentState::Idle => "idle",
            AgentState::Working => "working",
            AgentState::Waiting => "waiting",
            AgentState::Exited => "exited",
            AgentState::Limited => "limited",
        }
    }
}

impl std::fmt::Display for AgentState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A question the agent shows while `waiting`, with the answers it offers.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PendingPrompt {
    /// The question as shown (e.g. `Allow execution of: 'touch'?`).
    pub question: String,
    /// Extra lines shown with it (the command to run, a file name), may be empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
    /// The offered answers, in screen order.
    pub options: Vec<PromptOption>,
}

/// One answer of a [`PendingPrompt`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PromptOption {
    /// The label as shown (`Yes, allow once`).
    pub label: String,
    /// Whether the cursor is on it now.
    #[serde(default)]
    pub selected: bool,
    /// tmux key names that choose it from the current screen (e.g. `["Down", "Enter"]`
    /// or `["2"]`). Sent with `send-keys`, never through a shell.
    pub keys: Vec<String>,
}

/// What a detector read from a screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Detection {
    /// The state the screen shows.
    pub state: AgentState,
    /// While `waiting`: what for, in a few words (`permission`, `choice`, `trust`,
    /// `login`, `dialog`), optionally followed by `: <detail>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_for: Option<String>,
    /// While `waiting`: the question and its options, when they could be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<PendingPrompt>,
}

impl Detection {
    /// A detection with only a state.
    pub fn state(state: AgentState) -> Detection {
        Detection { state, waiting_for: None, prompt: None }
    }
}

/// A past conversation of an agent in a directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Conversation {
    /// The agent's own id (what `--resume` takes).
    pub id: String,
    /// First line of the first real user message (≤ 100 chars), or `(no opener)`.
    pub title: String,
    /// When it started (RFC 3339), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// When its last message was written (RFC 3339), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_message_at: Option<String>,
    /// Number of messages (user + assistant + tool records).
    pub message_count: u32,
}

/// Who wrote a transcript turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum TurnRole {
    /// The person.
    User,
    /// The model's text.
    Assistant,
    /// A tool call and its output.
    Tool,
    /// Agent bookkeeping shown small (slash commands, info lines).
    System,
}

/// One part of a turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TurnPart {
    /// Plain text (markdown for assistant turns).
    Text {
        /// The text.
        text: String,
        /// Assistant turns: the markdown rendered to sanitized HTML (a strict allow-list:
        /// no raw HTML of the agent's, no images, only http(s)/mailto links, which open a
        /// new tab with `rel="noopener noreferrer nofollow"`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        html: Option<String>,
    },
    /// A tool call.
    ToolUse {
        /// Call id, when the agent gives one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        /// Tool name.
        name: String,
        /// Arguments as JSON.
        #[cfg_attr(feature = "openapi", schema(value_type = Object))]
        input: serde_json::Value,
    },
    /// A tool's output.
    ToolResult {
        /// The call it answers, when known.
        #[serde(default, skip_serializing_if = "Option::is_none", rename = "forId")]
        for_id: Option<String>,
        /// Output text.
        text: String,
        /// Whether the tool failed.
        #[serde(default, skip_serializing_if = "std::ops::Not::not", rename = "isError")]
        is_error: bool,
    },
}

/// One turn of a transcript. Ids are stable between reads, so a client can de-duplicate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Turn {
    /// Stable id.
    pub id: String,
    /// Who wrote it.
    pub role: TurnRole,
    /// When (RFC 3339), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ts: Option<String>,
    /// Its parts, in order.
    pub parts: Vec<TurnPart>,
}

/// A session's agent changed state: the payload of `event: state` on `/api/events`, and what
/// notifications are made from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct StateEvent {
    /// Session name.
    pub name: String,
    /// The session owner's username (empty for the local operator's sessions).
    pub owner: String,
    /// The agent in this session (`claude`, `qwen`, …).
    pub agent: String,
    /// The new state.
    pub state: AgentState,
    /// The state before.
    pub previous: AgentState,
    /// When the new state was entered (RFC 3339).
    pub since: String,
    /// While `waiting`: what for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_for: Option<String>,
    /// While `waiting`: the question and its options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<PendingPrompt>,
    /// While `limited`: when the limit resets (RFC 3339), if the screen said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resets_at: Option<String>,
}
