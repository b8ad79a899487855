//! End-to-end tests: the real `llmux` binary as a daemon, real tmux, real SQLite, real HTTP.
//!
//! Each test gets its own state dir, tmux socket and TCP port (see [`harness`]), so they run
//! in parallel and never touch a user's daemon or tmux.

/// The attack suite: every finding of the security review, replayed against a real daemon.
mod attack;
mod harness;
/// The CLI against a remote daemon: sign-in, profiles, tokens, users.
mod remote;

/// The terminal WebSocket bridge.
mod attach;

/// First run, sign-in, throttling, cookies, pairing, revocation, secrets.
mod accounts;

/// The authorization matrix, direct and through a forging proxy.
mod authz;

/// Agent states, held and queued prompts, `prompt --wait`, answers, process hygiene.
mod awareness;

/// `llmux backup` and `llmux restore`: a new state dir gets everything back; refusals.
mod backup;

/// Issue 19: idempotency keys, the prompt queue, scheduling, rate limits.
mod delivery;

/// Issue 19: a session's after-limit setting (start, edit, view, restart, the push).
mod after_limit;

/// SIGKILL at random points of a few hundred changes: nothing answered is lost.
mod crash;

/// The command line: output, exit codes, hints.
mod cli;
/// Fleet hosts (issue 17): hubs and hosts in network namespaces, over HTTP and OpenSSH.
mod fleet;
/// Fleet bootstrap (issue 17): `host add --ssh --install` and `host upgrade` on a host account
/// without llmux, over a real sshd in a namespace.
mod fleet_install;
/// Fleet placement (issue 17): host labels, `--host auto` and `--host label:NAME`.
mod fleet_placement;
/// `llmux import llmux-0.41` against an install made by the real llmux 0.41.1.
mod import;
/// Spawn, prompt, restart, edit, stop, remove: a session's whole life.
mod lifecycle;
/// A memory ceiling per session through cgroups (issue 15).
mod memory_limits;
/// `GET /metrics` and `GET /api/health`: who may read them, what they show, the dashboard.
mod metrics;
/// A newcomer's first hour: CLI flags, answers, pairing, token messages, audit actors.
mod newcomer;
/// Notifications: Web Push devices and opt-ins, a test push to a local push service.
mod notify;
/// The web UI's error pages: "Page not found" for browsers, JSON for API clients.
mod pages;
/// Real agent CLIs (Qwen Code, Gemini CLI; more opt-in) against our mock model.
mod real_agents;
/// A daemon killed with SIGKILL comes back with every session intact.
mod recovery;
/// Review (issue 18): diffs of real repositories, a repository's config never runs.
mod review;
/// The daemon as a systemd service: units, readiness, watchdog, socket activation, signals
/// (issue 16 §1).
mod service;
/// The Unix socket and TCP listeners: who is trusted and how.
mod transport;
/// Files into a session's workspace: naming, limits, owners, planted symlinks.
mod uploads;
/// Per-user isolation settings: granted workspace roots, session limits, no non-admin
/// without a sandbox (issue 15).
mod users_isolation_settings;
/// Every validation rule answers its documented status and changes nothing.
mod validation;
/// Session worktrees: new and existing branches, copy and setup, remove, rename (issue 18).
mod worktrees;
