//! Wire types of the REST API, shared by the server and the client.
//!
//! Field names are camelCase JSON, matching the old Node daemon where it had the route, so its
//! scripts keep working. Only serde here: no HTTP, no I/O.

mod attach;
mod auth;
mod sessions;
mod settings;
mod state;

pub use attach::*;
pub use auth::*;
pub use sessions::*;
pub use settings::*;
pub use state::*;
