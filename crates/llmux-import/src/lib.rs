//! Moving over from the old Node llmux 0.41 (`llmux import llmux-0.41`).
//!
//! One job: turn an old install's files into a [`Plan`] against our store, and apply it.
//!
//! - [`old`]: where 0.41 kept its files and what is in them (read leniently: one bad entry is
//!   reported, never fatal for the others).
//! - [`shell`]: whether a flags string needed the shell 0.41 ran it through.
//! - [`config`]: the translation of `config.yaml` (and `overrides.yaml`) to ours.
//! - [`plan`]: what would be brought over, what is already present, what is refused and why;
//!   [`plan::apply`] writes it (the daemon stopped: see docs/DESIGN-NOTES.md, issue 16 §3).
//!
//! Nothing read from the old files chooses a path we write to: the store, the overlay and
//! the config file are ours, fixed by the caller.

pub mod config;
pub mod old;
pub mod plan;
pub mod shell;

pub use old::{Install, Locations};
pub use plan::{Action, Options, Plan, apply, plan};
