//! Uploads into a session's workspace (`POST /api/sessions/{name}/uploads`).

use serde::{Deserialize, Serialize};
#[cfg(feature = "openapi")]
use utoipa::{IntoParams, ToSchema};

/// `?filename=NAME` of an upload: the file's name as the person's device knows it (only its
/// last component is kept, sanitized; its extension decides the type).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(IntoParams))]
pub struct UploadQuery {
    /// The file's name, with its extension (`screenshot.png`).
    pub filename: String,
}

/// A file written into the session's `.llmux/uploads/` folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct UploadResponse {
    /// Always true.
    pub ok: bool,
    /// The name it was given in the folder (a `-2`… suffix when the name was taken).
    pub name: String,
    /// Its path relative to the session's cwd: `.llmux/uploads/NAME`.
    pub relative_path: String,
    /// Its absolute path on the daemon's machine.
    pub path: String,
    /// Bytes written.
    pub size: u64,
    /// How to name it in a prompt to this session's agent (`@.llmux/uploads/NAME` for Gemini,
    /// Qwen and OpenCode; the path as it is for the others).
    pub mention: String,
}
