//! The attack suite: the project's threat model, written as end-to-end attacks on a real daemon.
//!
//! Each module replays one way in that a security review proved against a live daemon (issue
//! 12), as the attacker would: a non-admin with their own `user` token, an anonymous client on
//! the network, or a process inside a session. Every test fails if its hole comes back.
//!
//! | attacker | what they tried | module |
//! |---|---|---|
//! | non-admin viewer | tmux prefix keys, choose-tree, command prompt, mouse menu from `/ws/NAME` | [`terminal`] |
//! | non-admin | a cwd, env or name that tmux would expand as a format (`#(cmd)`) | [`tmux_formats`] |
//! | holder of a narrow credential | minting a wider one: pairing, device tokens, tokens from tokens | [`credentials`] |
//! | anonymous client | locking others out of sign-in; hashing floods | [`signin`] |
//! | anonymous client; any user | half-open connections, connection floods; hoarding terminals and event streams | [`connections`] |
//! | non-admin | another user's conversations through a shared cwd | [`conversations`] |
//! | anyone who can type a username; a non-admin | control characters and bidi overrides in stored strings (audit rows, cwd, env, flags, names) reaching an admin's terminal | [`escapes`] |
//! | non-admin | learning other users' session names | [`names`] |
//! | a new account | inheriting a deleted user's sessions | [`deleted_users`] |
//! | a proxy pointed at the Unix socket | relayed requests trusted as the operator | [`relay_headers`] |
//! | anyone | pairing links, WebSocket origins, inputs the API document does not describe | [`web_edges`] |
//!
//! Outside this binary, the rest of the standing suite: the pairing page asking before it
//! replaces a sign-in is a browser test (`web/tests/pairing.test.mjs`); Schemathesis runs
//! about 1,300 generated requests over the API document (`scripts/schemathesis`); and the
//! code that reads untrusted bytes is fuzzed for a minute (`fuzz/`, `scripts/fuzz`). All three
//! run in the README's test command.

mod connections;
mod conversations;
mod credentials;
mod deleted_users;
mod escapes;
mod names;
mod relay_headers;
mod signin;
mod terminal;
mod tmux_formats;
mod web_edges;
