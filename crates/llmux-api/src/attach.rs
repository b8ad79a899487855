//! The terminal WebSocket (`/ws/{name}`): framing and close codes.
//!
//! Server → client: binary frames of terminal output. Client → server: binary (or text)
//! frames are keystrokes, except a text frame holding a JSON [`ClientMsg`].

use serde::{Deserialize, Serialize};

/// Optional query of the upgrade request (`/ws/{name}?cols=&rows=&history=&readOnly=`; no
/// credentials here, ever).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachQuery {
    /// Initial columns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cols: Option<u16>,
    /// Initial rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u16>,
    /// Lines of scrollback replayed before the live screen (default 1000, 0 for none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<u32>,
    /// View only, even if the caller could type (`tmux attach -r`).
    #[serde(default, rename = "readOnly")]
    pub read_only: bool,
}

/// A control message from a viewer, as a JSON text frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ClientMsg {
    /// The viewer's terminal size changed.
    Resize {
        /// Columns.
        cols: u16,
        /// Rows.
        rows: u16,
    },
    /// Anything newer than this server: ignored.
    #[serde(other)]
    Unknown,
}

/// Close codes of the terminal socket.
pub mod close {
    /// The session's agent exited or the session was stopped or removed.
    pub const SESSION_ENDED: u16 = 4040;
    /// The viewer's credential was revoked or its user deleted.
    pub const REVOKED: u16 = 4001;
    /// No pong within the keepalive window: the connection is presumed dead.
    pub const TIMEOUT: u16 = 4008;
    /// The daemon is shutting down.
    pub const SHUTDOWN: u16 = 1001;
}

/// Smallest and largest terminal size accepted in a resize.
pub const MIN_COLS: u16 = 2;
/// See [`MIN_COLS`].
pub const MAX_COLS: u16 = 1000;
/// See [`MIN_COLS`].
pub const MIN_ROWS: u16 = 2;
/// See [`MIN_COLS`].
pub const MAX_ROWS: u16 = 500;

impl ClientMsg {
    /// Parses a text frame: a control message, or `None` if it is keystrokes.
    pub fn parse(text: &str) -> Option<ClientMsg> {
        if !text.starts_with('{') {
            return None;
        }
        serde_json::from_str(text).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_messages_and_keystrokes() {
        assert_eq!(
            ClientMsg::parse(r#"{"type":"resize","cols":100,"rows":30}"#),
            Some(ClientMsg::Resize { cols: 100, rows: 30 })
        );
        assert_eq!(ClientMsg::parse(r#"{"type":"future","x":1}"#), Some(ClientMsg::Unknown));
        assert_eq!(ClientMsg::parse("ls -la\r"), None);
        assert_eq!(ClientMsg::parse("{not json"), None);
    }
}
