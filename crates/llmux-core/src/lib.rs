//! The llmux domain: sessions of agent CLIs in tmux, kept durably in SQLite.
//!
//! - [`sessions::SessionService`] owns the rules of a session's life (create, edit, restart,
//!   stop, remove, send, capture) over the [`store::Store`] and the [`tmux::Tmux`] driver.
//! - [`agents::Catalog`] knows which agent CLIs exist and how to launch them.
//! - [`config`] reads the optional YAML file; [`paths`] says where files live.
//! - The value types it shares with the API (agent states, detections, turns, session
//!   views, diffs) are `llmux-api`'s; its services take their own inputs
//!   ([`sessions::NewSession`], [`sessions::SessionEdit`]), never request bodies.
//! - [`sandbox`] confines a non-admin's session with bubblewrap (issue 15).
//!
//! This crate knows nothing about HTTP, users or the web.

pub mod agents;
pub mod backup;
pub mod config;
pub mod detect;
pub mod error;
pub mod git;
pub mod hex;
pub mod history;
pub mod paths;
pub mod sandbox;
pub mod sessions;
pub mod state_lock;
pub mod store;
pub mod time;
pub mod tmux;
pub mod validate;

pub use error::{Error, Result};

/// The llmux version, shared by daemon and CLI.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
