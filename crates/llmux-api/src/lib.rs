//! Wire types of the REST API: every request and response body, shared by the server and the
//! client. `llmux-core` uses the value types among them (states, turns, views) as its own, but
//! never a request body: its services take their own inputs (docs/DESIGN-NOTES.md, issue 14
//! item 3).
//!
//! Field names are camelCase JSON, matching the old Node daemon where it had the route, so its
//! scripts keep working. Only serde (and, with the `openapi` feature, utoipa schemas) here: no
//! HTTP, no I/O.

mod attach;
mod auth;
mod hosts;
mod push;
mod query;
mod queue;
mod review;
mod sessions;
mod settings;
mod state;
mod uploads;

pub use attach::*;
pub use auth::*;
pub use hosts::*;
pub use push::*;
pub use query::*;
pub use queue::*;
pub use review::*;
pub use sessions::*;
pub use settings::*;
pub use state::*;
pub use uploads::*;
