//! The plan: every user, token, session and config file of the old installs, each with what
//! happens to it (`import`, `already-present`, `refused`) and why; and [`apply`], which
//! writes the `import` ones.
//!
//! Rules that keep a crafted old file from granting anything:
//! - an account that exists here is never touched (`already-present`), whatever the file says;
//! - `admin` is granted only by the JSON value `true`;
//! - a token comes over only for an account brought over from 0.41 (now or by an earlier
//!   import), never for an account made here; its scope is its owner's rights as imported;
//! - tokens keep 0.41's id under the prefix `sas_`, which no token minted here has;
//! - names, env and flags pass our own validation; nothing in the files names a path we write.

mod sessions;
mod settings;
#[cfg(test)]
mod tests;
mod tokens;
mod users;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use llmux_api::TokenScope;
use llmux_auth::legacy::{self, ORIGIN, ScryptHash};
use llmux_auth::store::{AuthStore, ImportBatch, TokenRecord, UserRecord};
use llmux_core::agents::Catalog;
use llmux_core::config::Overlay;
use llmux_core::paths::Paths;
use llmux_core::sessions::names;
use llmux_core::store::{SessionRecord, Store};
use llmux_core::time::{now_ms, parse_rfc3339_ms, rfc3339_ms};
use llmux_core::validate;
use serde::Serialize;
use serde_json::Value;

use crate::config::{self, KeyNote};
use crate::old::{self, Install, str_field};
use crate::shell::needs_shell;

use self::sessions::sessions;
use self::settings::{config_plan, overlay};
use self::tokens::tokens;
use self::users::users;

/// What happens to one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Brought over.
    Import,
    /// Here already (an earlier import, or made here): left as it is.
    AlreadyPresent,
    /// Not brought over; `reason` says why.
    Refused,
}

impl Action {
    /// As printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Import => "import",
            Action::AlreadyPresent => "already present",
            Action::Refused => "refused",
        }
    }
}

/// A user of an old install.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserPlan {
    /// Login name (as in the file).
    pub username: String,
    /// Display name.
    pub name: String,
    /// Admin here.
    pub admin: bool,
    /// What happens.
    pub action: Action,
    /// Why (refused or already present), or what changed on the way.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Which install.
    pub source: String,
    #[serde(skip)]
    record: Option<UserRecord>,
}

/// A v2 token of an old install.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenPlan {
    /// Its id here (`sas_<old id>`).
    pub id: String,
    /// Owner.
    pub username: String,
    /// Label.
    pub name: String,
    /// Scope here (the owner's rights: 0.41 tokens carried all of them).
    pub scope: TokenScope,
    /// Expiry (RFC 3339), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// What happens.
    pub action: Action,
    /// Why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Which install.
    pub source: String,
    #[serde(skip)]
    record: Option<TokenRecord>,
}

/// A session of an old install.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionPlan {
    /// Its name here (`NAME`, or `NAME@OWNER` with `--owner`).
    pub name: String,
    /// Its name in 0.41.
    pub old_name: String,
    /// Agent.
    pub agent: String,
    /// Working directory.
    pub cwd: String,
    /// Flags override (`None`: the agent's defaults).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flags: Option<String>,
    /// Names of its environment variables (values are not printed: they may be secrets).
    pub env: Vec<String>,
    /// How many init prompts.
    pub init_prompts: usize,
    /// The conversation it resumes at its next start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resume_from: Option<String>,
    /// Owner here (`""`: the local operator).
    pub owner: String,
    /// What happens.
    pub action: Action,
    /// Why, and what changed on the way.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Still running in 0.41's tmux server: how to move it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub running: Option<Running>,
    /// Which install.
    pub source: String,
    #[serde(skip)]
    record: Option<SessionRecord>,
}

/// A 0.41 session whose agent still runs in the old tmux server.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Running {
    /// The old tmux server's socket.
    pub socket: String,
    /// The tmux session.
    pub tmux_session: String,
    /// The exact command that ends it there and starts it under llmux.
    pub command: String,
}

/// What happens to the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConfigAction {
    /// The translation is written to `target`.
    Write,
    /// `target` already holds it.
    AlreadyPresent,
    /// `target` is another llmux config, left as it is (the translation is in the plan).
    KeptExisting,
    /// The old file cannot be read or translated (see notes).
    Refused,
}

/// The translation of one old `config.yaml` / `overrides.yaml`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigPlan {
    /// The old file.
    pub source: String,
    /// Our config file it goes to.
    pub target: String,
    /// What happens.
    pub action: ConfigAction,
    /// Where the old file is kept when `target` is the old file itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
    /// Keys brought over.
    pub kept: Vec<KeyNote>,
    /// Keys left behind, with why.
    pub dropped: Vec<KeyNote>,
    /// Problems.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The translated file.
    pub yaml: String,
    /// Which install.
    pub source_install: String,
}

/// The settings page's init prompts (0.41's `overrides.yaml`) for llmux's overlay.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OverlayPlan {
    /// The old file.
    pub source: String,
    /// Our overlay file.
    pub target: String,
    /// What happens.
    pub action: Action,
    /// Prompts.
    pub init_prompts: Vec<String>,
    /// Keys left behind and problems.
    pub dropped: Vec<KeyNote>,
    /// Why, when not imported.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// One install looked at: which files were found.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceReport {
    /// `default locations` or the `--from` dir.
    pub label: String,
    /// Files found, by kind (`users`, `tokens`, `sessions`, `config`, `overrides`).
    pub found: BTreeMap<String, String>,
    /// Files not found or unreadable.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}

/// Everything an import would do.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// Nothing is written.
    pub dry_run: bool,
    /// Our state dir.
    pub state_dir: String,
    /// The installs read.
    pub sources: Vec<SourceReport>,
    /// Users.
    pub users: Vec<UserPlan>,
    /// Tokens.
    pub tokens: Vec<TokenPlan>,
    /// Sessions.
    pub sessions: Vec<SessionPlan>,
    /// Config files.
    pub config: Vec<ConfigPlan>,
    /// The settings page's overrides.
    pub overlay: Vec<OverlayPlan>,
    /// Things not brought over at all (v1 tokens), and general remarks.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Plan {
    /// Counts of (import, already present, refused) over users, tokens and sessions.
    pub fn counts(&self) -> (usize, usize, usize) {
        let actions = self
            .users
            .iter()
            .map(|u| u.action)
            .chain(self.tokens.iter().map(|t| t.action))
            .chain(self.sessions.iter().map(|s| s.action));
        actions.fold((0, 0, 0), |(i, a, r), x| match x {
            Action::Import => (i + 1, a, r),
            Action::AlreadyPresent => (i, a + 1, r),
            Action::Refused => (i, a, r + 1),
        })
    }
}

/// What the caller decides.
#[derive(Debug, Clone)]
pub struct Options {
    /// Our layout (store, overlay).
    pub paths: Paths,
    /// Our config file the translation goes to (`~/.config/llmux/config.yaml`).
    pub config_target: PathBuf,
    /// The home dir `~` in a session's cwd means.
    pub home: PathBuf,
    /// Owner of the imported sessions (`""`: the local operator).
    pub owner: String,
    /// How to run this llmux in the printed commands (`llmux`, with `--state-dir` if given).
    pub llmux: String,
    /// Nothing is written.
    pub dry_run: bool,
}

/// What the planner knows about our side as it goes (the store plus what the plan adds).
struct Ours<'a> {
    store: &'a Store,
    /// Users planned for import: name → admin.
    new_users: BTreeMap<String, bool>,
    new_tokens: BTreeSet<String>,
    new_sessions: BTreeSet<String>,
    config_written: Option<String>,
    overlay_set: Option<Vec<String>>,
}

impl Ours<'_> {
    fn user(&self, name: &str) -> Result<Option<UserRecord>, String> {
        self.store.get_user(name).map_err(|e| e.to_string())
    }
}

/// Plans the import of `installs`, in order, into `store`.
pub fn plan(installs: &[Install], store: &Store, opts: &Options) -> Result<Plan, String> {
    let mut ours = Ours {
        store,
        new_users: BTreeMap::new(),
        new_tokens: BTreeSet::new(),
        new_sessions: BTreeSet::new(),
        config_written: None,
        overlay_set: None,
    };
    let mut plan = Plan {
        dry_run: opts.dry_run,
        state_dir: opts.paths.state_dir.display().to_string(),
        sources: Vec::new(),
        users: Vec::new(),
        tokens: Vec::new(),
        sessions: Vec::new(),
        config: Vec::new(),
        overlay: Vec::new(),
        notes: Vec::new(),
    };
    if !opts.owner.is_empty() {
        let exists = ours.user(&opts.owner)?.is_some();
        let planned = installs.iter().any(|i| {
            i.users.as_deref().and_then(|p| old::read_array(p).ok()).is_some_and(|users| {
                users.iter().any(|u| str_field(u, "username") == Some(opts.owner.as_str()))
            })
        });
        if !exists && !planned {
            return Err(format!(
                "--owner {}: no such user here or in the old users.json",
                opts.owner
            ));
        }
    }
    for install in installs {
        let mut report = SourceReport {
            label: install.label.clone(),
            found: BTreeMap::new(),
            problems: Vec::new(),
        };
        for (kind, path) in [
            ("users", &install.users),
            ("tokens", &install.tokens),
            ("sessions", &install.sessions),
            ("config", &install.config),
            ("overrides", &install.overrides),
        ] {
            match path {
                Some(p) => drop(report.found.insert(kind.into(), p.display().to_string())),
                None if kind != "overrides" => {
                    report.problems.push(format!("no {kind} file found"))
                }
                None => {}
            }
        }
        if let Some(v1) = &install.v1_auth {
            plan.notes.push(format!(
                "{}: 0.41's v1 tokens are not brought over (they have no owner); make new ones \
                 with `llmux token create`",
                v1.display()
            ));
        }
        let translation = config_plan(install, &mut ours, opts, &mut plan, &mut report);
        users(install, &mut ours, &mut plan, &mut report)?;
        tokens(install, &mut ours, &mut plan, &mut report)?;
        sessions(install, &mut ours, opts, translation.as_ref(), &mut plan, &mut report)?;
        overlay(install, &mut ours, opts, &mut plan, &mut report);
        plan.sources.push(report);
    }
    Ok(plan)
}

/// The entries of an old file; none when it cannot be read, which is then a problem of its
/// source in the report (one unreadable file does not stop the rest of the import).
fn entries_or_problem(read: Result<Vec<Value>, String>, report: &mut SourceReport) -> Vec<Value> {
    read.unwrap_or_else(|e| {
        report.problems.push(e);
        Vec::new()
    })
}

type Verdict<T> = Result<T, (Action, String)>;

fn refused<T>(why: impl Into<String>) -> Verdict<T> {
    Err((Action::Refused, why.into()))
}

/// Writes what the plan brings over: users, tokens and sessions in one transaction (all or
/// nothing, and recorded so that what is later deleted here is not brought back), then the
/// config file and the overlay. The caller holds the state dir's lock (no daemon runs).
pub fn apply(plan: &Plan, store: &Store, opts: &Options) -> Result<(), String> {
    let batch = ImportBatch {
        users: plan
            .users
            .iter()
            .filter(|u| u.action == Action::Import)
            .filter_map(|u| u.record.clone())
            .collect(),
        tokens: plan
            .tokens
            .iter()
            .filter(|t| t.action == Action::Import)
            .filter_map(|t| t.record.clone())
            .collect(),
        sessions: plan
            .sessions
            .iter()
            .filter(|s| s.action == Action::Import)
            .filter_map(|s| s.record.clone())
            .collect(),
    };
    store.insert_imported(&batch, ORIGIN).map_err(|e| format!("nothing was imported: {e}"))?;
    for c in plan.config.iter().filter(|c| c.action == ConfigAction::Write) {
        let target = Path::new(&c.target);
        if let Some(backup) = &c.backup
            && !Path::new(backup).exists()
        {
            std::fs::copy(target, backup)
                .map_err(|e| format!("cannot keep the old config as {backup}: {e}"))?;
        }
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        llmux_core::paths::write_private(target, c.yaml.as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", target.display()))?;
    }
    for o in plan.overlay.iter().filter(|o| o.action == Action::Import) {
        let mut overlay = Overlay::load(&opts.paths.overlay).map_err(|e| e.to_string())?;
        overlay.init_prompts = Some(o.init_prompts.clone());
        overlay.save(&opts.paths.overlay).map_err(|e| e.to_string())?;
    }
    Ok(())
}
