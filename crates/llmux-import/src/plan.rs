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

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use llmux_auth::legacy::{self, ORIGIN, ScryptHash};
use llmux_core::agents::Catalog;
use llmux_core::api::TokenScope;
use llmux_core::config::Overlay;
use llmux_core::paths::Paths;
use llmux_core::sessions::names;
use llmux_core::store::{ImportBatch, SessionRecord, Store, TokenRecord, UserRecord};
use llmux_core::time::{now_ms, parse_rfc3339_ms, rfc3339_ms};
use llmux_core::validate;
use serde::Serialize;
use serde_json::Value;

use crate::config::{self, KeyNote};
use crate::old::{self, Install, str_field};
use crate::shell::needs_shell;

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

fn users(
    install: &Install,
    ours: &mut Ours<'_>,
    plan: &mut Plan,
    report: &mut SourceReport,
) -> Result<(), String> {
    let Some(path) = &install.users else { return Ok(()) };
    let entries = match old::read_array(path) {
        Ok(entries) => entries,
        Err(e) => {
            report.problems.push(e);
            return Ok(());
        }
    };
    for entry in entries {
        let username = str_field(&entry, "username").unwrap_or_default().to_owned();
        let mut item = UserPlan {
            username: username.clone(),
            name: String::new(),
            admin: false,
            action: Action::Refused,
            notes: Vec::new(),
            source: install.label.clone(),
            record: None,
        };
        match user_record(&entry, &username, ours, &mut item.notes)? {
            Ok(record) => {
                item.name = record.name.clone();
                item.admin = record.admin;
                ours.new_users.insert(record.username.clone(), record.admin);
                item.action = Action::Import;
                item.record = Some(record);
            }
            Err((action, why)) => {
                if let Ok(Some(u)) = ours.user(&username) {
                    item.name = u.name;
                    item.admin = u.admin;
                }
                item.action = action;
                item.notes.insert(0, why);
            }
        }
        plan.users.push(item);
    }
    Ok(())
}

type Verdict<T> = Result<T, (Action, String)>;

fn refused<T>(why: impl Into<String>) -> Verdict<T> {
    Err((Action::Refused, why.into()))
}

fn user_record(
    entry: &Value,
    username: &str,
    ours: &Ours<'_>,
    notes: &mut Vec<String>,
) -> Result<Verdict<UserRecord>, String> {
    if !entry.is_object() {
        return Ok(refused("not a JSON object"));
    }
    if let Err(e) = llmux_auth::validate_username(username) {
        return Ok(refused(e.to_string()));
    }
    if ours.new_users.contains_key(username) {
        return Ok(refused("listed twice; the first one is brought over"));
    }
    if let Some(existing) = ours.user(username)? {
        let from = ours.store.user_imported_from(username).map_err(|e| e.to_string())?;
        let why = match from {
            Some(_) => "imported before; left as it is".to_owned(),
            None => format!(
                "an llmux user of this name exists already{}; left as it is, and 0.41's \
                 passphrase and tokens for this name are not brought over",
                if existing.admin { " (an admin)" } else { "" }
            ),
        };
        return Ok(Err((Action::AlreadyPresent, why)));
    }
    if ours.store.imported_before("user", username).map_err(|e| e.to_string())? {
        return Ok(refused("imported before and deleted here since; not brought back"));
    }
    let hash = str_field(entry, "passphraseHash").unwrap_or_default();
    if let Err(e) = ScryptHash::parse(hash) {
        return Ok(refused(format!(
            "its passphrase hash cannot be used ({e}); create the user with `llmux user create`"
        )));
    }
    let name = match str_field(entry, "name").map(llmux_auth::validate_name) {
        Some(Ok(name)) => name,
        _ => {
            notes
                .push("its display name is missing or not valid here; the username is used".into());
            username.to_owned()
        }
    };
    let admin = match entry.get("admin") {
        Some(Value::Bool(b)) => *b,
        None => false,
        Some(_) => {
            notes.push("\"admin\" is not true or false; brought over as a non-admin".into());
            false
        }
    };
    let now = now_ms();
    let created_at = str_field(entry, "createdAt").and_then(parse_rfc3339_ms).unwrap_or(now);
    Ok(Ok(UserRecord {
        username: username.to_owned(),
        name,
        passphrase_hash: hash.to_owned(),
        admin,
        created_at,
        updated_at: now,
        roots: Vec::new(),
        max_sessions: None,
        unix_account: None,
        max_session_memory_mb: None,
    }))
}

fn tokens(
    install: &Install,
    ours: &mut Ours<'_>,
    plan: &mut Plan,
    report: &mut SourceReport,
) -> Result<(), String> {
    let Some(path) = &install.tokens else { return Ok(()) };
    let entries = match old::read_array(path) {
        Ok(entries) => entries,
        Err(e) => {
            report.problems.push(e);
            return Ok(());
        }
    };
    for entry in entries {
        let old_id = str_field(&entry, "tokenId").unwrap_or_default();
        let username = str_field(&entry, "username").unwrap_or_default().to_owned();
        let mut item = TokenPlan {
            id: legacy::token_id(old_id),
            username: username.clone(),
            name: str_field(&entry, "name").unwrap_or_default().to_owned(),
            scope: TokenScope::User,
            expires_at: None,
            action: Action::Refused,
            notes: Vec::new(),
            source: install.label.clone(),
            record: None,
        };
        match token_record(&entry, old_id, &username, ours, &mut item.notes)? {
            Ok(record) => {
                item.name = record.name.clone();
                item.scope = TokenScope::parse(&record.scope).unwrap_or(TokenScope::User);
                item.expires_at = record.expires_at.map(rfc3339_ms);
                ours.new_tokens.insert(record.id.clone());
                item.action = Action::Import;
                item.record = Some(record);
            }
            Err((action, why)) => {
                item.action = action;
                item.notes.insert(0, why);
            }
        }
        plan.tokens.push(item);
    }
    Ok(())
}

fn token_record(
    entry: &Value,
    old_id: &str,
    username: &str,
    ours: &Ours<'_>,
    notes: &mut Vec<String>,
) -> Result<Verdict<TokenRecord>, String> {
    if !legacy::valid_token_id(old_id) {
        return Ok(refused("its tokenId is not one 0.41 could have made"));
    }
    let id = legacy::token_id(old_id);
    let hash = match legacy::token_hash_hex(str_field(entry, "secretHash").unwrap_or_default()) {
        Ok(hash) => hash,
        Err(e) => return Ok(refused(e)),
    };
    if ours.new_tokens.contains(&id) {
        return Ok(refused("listed twice; the first one is brought over"));
    }
    if let Some(existing) = ours.store.get_token(&id).map_err(|e| e.to_string())? {
        return Ok(if existing.secret_hash == hash && existing.username == username {
            Err((Action::AlreadyPresent, "imported before".into()))
        } else {
            refused("a different token with this id exists here")
        });
    }
    if ours.store.imported_before("token", &id).map_err(|e| e.to_string())? {
        return Ok(refused("imported before and revoked here since; not brought back"));
    }
    // The owner must be an account brought over from 0.41 (now or before): an old file must
    // never hand out a credential for an account made here.
    let admin = match ours.new_users.get(username) {
        Some(admin) => *admin,
        None => match ours.user(username)? {
            Some(u)
                if ours
                    .store
                    .user_imported_from(username)
                    .map_err(|e| e.to_string())?
                    .is_some() =>
            {
                u.admin
            }
            Some(_) => {
                return Ok(refused(format!(
                    "its owner {username:?} is an llmux user not brought over from 0.41"
                )));
            }
            None => {
                return Ok(refused(format!("its owner {username:?} is not brought over")));
            }
        },
    };
    let now = now_ms();
    let expires_at = match entry.get("expiresAt") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_str().and_then(parse_rfc3339_ms) {
            Some(at) if at <= now => return Ok(refused("it has expired")),
            Some(at) => Some(at),
            None => {
                return Ok(refused(
                    "its expiry cannot be read (0.41 then let it live forever); make a new \
                     token with `llmux token create`",
                ));
            }
        },
    };
    let name = match str_field(entry, "name").map(llmux_auth::validate_name) {
        Some(Ok(name)) => name,
        _ => {
            notes.push("its name is missing or not valid here; named after its id".into());
            format!("imported {old_id}")
        }
    };
    // 0.41 tokens carried every right of their owner.
    let scope = if admin { TokenScope::Admin } else { TokenScope::User };
    Ok(Ok(TokenRecord {
        id,
        username: username.to_owned(),
        name,
        scope: scope.as_str().to_owned(),
        secret_hash: hash,
        created_at: str_field(entry, "createdAt").and_then(parse_rfc3339_ms).unwrap_or(now),
        expires_at,
        last_used_at: str_field(entry, "lastUsedAt").and_then(parse_rfc3339_ms),
        imported_from: Some(ORIGIN.to_owned()),
    }))
}

fn sessions(
    install: &Install,
    ours: &mut Ours<'_>,
    opts: &Options,
    translation: Option<&config::Translation>,
    plan: &mut Plan,
    report: &mut SourceReport,
) -> Result<(), String> {
    let Some(path) = &install.sessions else { return Ok(()) };
    let entries = match old::read_sessions(path) {
        Ok(entries) => entries,
        Err(e) => {
            report.problems.push(e);
            return Ok(());
        }
    };
    let catalog = translation
        .and_then(|t| Catalog::with_config(&t.agents).ok())
        .unwrap_or_else(Catalog::builtin);
    let old_names: BTreeSet<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
    for (key, entry) in &entries {
        let agent = str_field(entry, "agent").unwrap_or_default().to_owned();
        let mut item = SessionPlan {
            name: names::canonical(key, &opts.owner),
            old_name: key.clone(),
            agent: agent.clone(),
            cwd: str_field(entry, "cwd").unwrap_or_default().to_owned(),
            flags: None,
            env: Vec::new(),
            init_prompts: 0,
            resume_from: None,
            owner: opts.owner.clone(),
            action: Action::Refused,
            notes: Vec::new(),
            running: running(install, key, &item_name(key, opts), &opts.llmux),
            source: install.label.clone(),
            record: None,
        };
        match session_record(key, entry, &catalog, &old_names, ours, opts, &mut item.notes)? {
            Ok(record) => {
                item.cwd = record.cwd.clone();
                item.flags = record.flags.clone();
                item.env = record.env.keys().cloned().collect();
                item.init_prompts = record.init_prompts.len();
                item.resume_from = record.resume_from.clone();
                ours.new_sessions.insert(record.name.clone());
                item.action = Action::Import;
                item.record = Some(record);
            }
            Err((action, why)) => {
                item.action = action;
                item.notes.insert(0, why);
            }
        }
        if item.action == Action::Refused
            && let Some(r) = &item.running
        {
            // nothing to restart under llmux: only say where it runs
            item.running = Some(Running { command: String::new(), ..r.clone() });
        }
        plan.sessions.push(item);
    }
    Ok(())
}

fn item_name(key: &str, opts: &Options) -> String {
    names::canonical(key, &opts.owner)
}

fn session_record(
    key: &str,
    entry: &Value,
    catalog: &Catalog,
    old_names: &BTreeSet<&str>,
    ours: &Ours<'_>,
    opts: &Options,
    notes: &mut Vec<String>,
) -> Result<Verdict<SessionRecord>, String> {
    if !entry.is_object() {
        return Ok(refused("not a JSON object"));
    }
    if let Err(e) = validate::session_name(key) {
        return Ok(refused(format!(
            "{e} (rename it in 0.41 with `llmux session edit {} --name NEW` and import again)",
            shell_words::quote(key)
        )));
    }
    let name = names::canonical(key, &opts.owner);
    if ours.new_sessions.contains(&name) {
        return Ok(refused("listed twice; the first one is brought over"));
    }
    let agent = str_field(entry, "agent").unwrap_or_default();
    let raw_cwd = str_field(entry, "cwd").unwrap_or_default();
    if let Some(existing) = ours.store.get_session(&name).map_err(|e| e.to_string())? {
        return Ok(if existing.agent == agent && existing.cwd == raw_cwd {
            Err((Action::AlreadyPresent, "a session of this name, agent and cwd exists".into()))
        } else {
            refused(format!("another session named {name:?} exists here"))
        });
    }
    if ours.store.imported_before("session", &name).map_err(|e| e.to_string())? {
        return Ok(refused("imported before and removed here since; not brought back"));
    }
    let Some(def) = catalog.get(agent) else {
        return Ok(refused(format!(
            "agent {agent:?} is not in llmux's catalog; define it under `agents:` in the config"
        )));
    };
    let cwd = match validate::cwd(raw_cwd, &opts.home) {
        Ok(cwd) => cwd.display().to_string(),
        Err(e) => return Ok(refused(e.to_string())),
    };
    let flags = match entry.get("flags") {
        None | Some(Value::Null) => None,
        Some(Value::String(flags)) => {
            if let Some(why) = needs_shell(flags) {
                return Ok(refused(format!(
                    "its flags {flags:?} need a shell, which llmux does not run: {why}"
                )));
            }
            if let Err(e) = validate::flags(flags) {
                return Ok(refused(e.to_string()));
            }
            Some(flags.trim().to_owned())
        }
        Some(_) => return Ok(refused("its flags are not text")),
    };
    let mut env = BTreeMap::new();
    match entry.get("env") {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (k, v) in map {
                let Some(v) = v.as_str() else {
                    return Ok(refused(format!("env {k} is not text")));
                };
                env.insert(k.clone(), v.to_owned());
            }
            if let Err(e) = validate::env(&llmux_core::api::EnvInput::Map(env.clone())) {
                return Ok(refused(e.to_string()));
            }
        }
        Some(_) => return Ok(refused("its env is not an object")),
    }
    if let Some(alias) = str_field(entry, "orchAlias")
        && !alias.contains('\0')
    {
        env.entry("LLMUX_ORCH_ALIAS".to_owned()).or_insert_with(|| alias.to_owned());
        notes.push("its orchestration alias is kept as LLMUX_ORCH_ALIAS in its env".into());
    }
    let marker = str_field(entry, "turnqMarker");
    let mut init_prompts = Vec::new();
    if let Some(Value::Array(items)) = entry.get("initPrompts") {
        for p in items {
            let Some(p) = p.as_str() else { continue };
            if marker.is_some_and(|m| p.contains(m)) {
                notes.push("its turnq marker prompt is dropped (llmux has no turn queue)".into());
                continue;
            }
            if let Err(e) = validate::prompt(p) {
                return Ok(refused(format!("an init prompt is not accepted here: {e}")));
            }
            init_prompts.push(p.to_owned());
        }
    }
    let resume_from = ["externalSessionId", "resumeFrom"]
        .iter()
        .filter_map(|k| str_field(entry, k))
        .find(|id| validate::conversation_id(id).is_ok() && def.kind.validate_id(id).is_ok())
        .map(str::to_owned);
    if resume_from.is_none()
        && ["externalSessionId", "resumeFrom"].iter().any(|k| str_field(entry, k).is_some())
    {
        notes.push("its conversation id is not one llmux can resume; it starts fresh".into());
    }
    let parent = entry
        .get("parent")
        .and_then(Value::as_str)
        .filter(|p| old_names.contains(p) && validate::session_name(p).is_ok())
        .map(|p| names::canonical(p, &opts.owner));
    let now = now_ms();
    let created_at = str_field(entry, "createdAt").and_then(parse_rfc3339_ms).unwrap_or(now);
    Ok(Ok(SessionRecord {
        name,
        agent: agent.to_owned(),
        cwd,
        flags,
        env,
        init_prompts,
        resume_from,
        owner: opts.owner.clone(),
        parent,
        created_at,
        updated_at: now,
        started_at: created_at,
    }))
}

/// Whether 0.41's tmux server still runs the session `old` (a tmux session of that exact
/// name carrying `LLMUX_SESSION=<old>`, 0.41's own ownership mark).
fn running(install: &Install, old: &str, name: &str, llmux: &str) -> Option<Running> {
    let socket = &install.tmux_socket;
    if !socket.exists() {
        return None;
    }
    let target = format!("={old}");
    let out = std::process::Command::new("tmux")
        .arg("-S")
        .arg(socket)
        .args(["show-environment", "-t", &target, "LLMUX_SESSION"])
        .env_remove("TMUX")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let mark = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() || mark.trim() != format!("LLMUX_SESSION={old}") {
        return None;
    }
    let socket_text = socket.display().to_string();
    let command = format!(
        "tmux -S {} kill-session -t {} && {llmux} session restart {}",
        shell_words::quote(&socket_text),
        shell_words::quote(&target),
        shell_words::quote(name),
    );
    Some(Running { socket: socket_text, tmux_session: old.to_owned(), command })
}

fn config_plan(
    install: &Install,
    ours: &mut Ours<'_>,
    opts: &Options,
    plan: &mut Plan,
    report: &mut SourceReport,
) -> Option<config::Translation> {
    let path = install.config.as_ref()?;
    let target = &opts.config_target;
    let mut item = ConfigPlan {
        source: path.display().to_string(),
        target: target.display().to_string(),
        action: ConfigAction::Refused,
        backup: None,
        kept: Vec::new(),
        dropped: Vec::new(),
        notes: Vec::new(),
        yaml: String::new(),
        source_install: install.label.clone(),
    };
    let translation = old::read(path).and_then(|text| config::translate(&text));
    let translation = match translation {
        Ok(t) => t,
        Err(e) => {
            report.problems.push(format!("{}: {e}", path.display()));
            item.notes.push(e);
            plan.config.push(item);
            return None;
        }
    };
    item.kept = translation.kept.clone();
    item.dropped = translation.dropped.clone();
    item.yaml = translation.yaml.clone();
    let same_file = same_file(path, target);
    let current = std::fs::read_to_string(target).ok();
    item.action = if let Some(written) = &ours.config_written {
        item.notes.push(format!("an earlier install's config goes to {}", target.display()));
        if *written == translation.yaml {
            ConfigAction::AlreadyPresent
        } else {
            ConfigAction::KeptExisting
        }
    } else if current.as_deref() == Some(translation.yaml.as_str()) {
        ConfigAction::AlreadyPresent
    } else if current.is_none() || same_file {
        if same_file {
            item.backup = Some(backup_path(target).display().to_string());
        }
        ours.config_written = Some(translation.yaml.clone());
        ConfigAction::Write
    } else {
        item.notes.push(format!(
            "{} is an llmux config already; it is left as it is (merge the translation by hand)",
            target.display()
        ));
        ConfigAction::KeptExisting
    };
    plan.config.push(item);
    Some(translation)
}

fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Where the old config is kept when the translation replaces it in place.
pub fn backup_path(target: &Path) -> PathBuf {
    let mut name = target.file_name().unwrap_or_default().to_os_string();
    name.push(".llmux-0.41");
    target.with_file_name(name)
}

fn overlay(
    install: &Install,
    ours: &mut Ours<'_>,
    opts: &Options,
    plan: &mut Plan,
    report: &mut SourceReport,
) {
    let Some(path) = &install.overrides else { return };
    let mut item = OverlayPlan {
        source: path.display().to_string(),
        target: opts.paths.overlay.display().to_string(),
        action: Action::Refused,
        init_prompts: Vec::new(),
        dropped: Vec::new(),
        notes: Vec::new(),
    };
    match old::read(path).and_then(|t| config::translate_overrides(&t)) {
        Err(e) => {
            report.problems.push(format!("{}: {e}", path.display()));
            item.notes.push(e);
        }
        Ok((prompts, dropped)) => {
            item.dropped = dropped;
            match prompts {
                None => item.action = Action::AlreadyPresent,
                Some(prompts) => {
                    item.init_prompts = prompts.clone();
                    let current = match &ours.overlay_set {
                        Some(set) => Some(set.clone()),
                        None => {
                            Overlay::load(&opts.paths.overlay).ok().and_then(|o| o.init_prompts)
                        }
                    };
                    item.action = match current {
                        Some(cur) if cur == prompts => Action::AlreadyPresent,
                        Some(_) => {
                            item.notes.push(
                                "llmux's settings already have init prompts; left as they are"
                                    .into(),
                            );
                            Action::Refused
                        }
                        None => {
                            ours.overlay_set = Some(prompts);
                            Action::Import
                        }
                    };
                }
            }
        }
    }
    plan.overlay.push(item);
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::old::Locations;

    use super::*;

    /// A well-formed 0.41 hash (all-zero salt and digest) with cost `n`: planning only parses.
    fn hash(n: u64) -> String {
        format!("scrypt${n}$AAAAAAAAAAAAAAAAAAAAAA==${}==", "A".repeat(86))
    }

    struct Setup {
        dir: tempfile::TempDir,
        store: Store,
        opts: Options,
    }

    fn setup() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::in_state_dir(dir.path().join("state"));
        let opts = Options {
            paths,
            config_target: dir.path().join("config.yaml"),
            home: dir.path().to_owned(),
            owner: String::new(),
            llmux: "llmux".into(),
            dry_run: false,
        };
        Setup { store: Store::open_in_memory().unwrap(), dir, opts }
    }

    fn install(s: &Setup, users: Value, tokens: Value, sessions: Value) -> Install {
        let from = s.dir.path().join("old");
        std::fs::create_dir_all(&from).unwrap();
        std::fs::write(from.join("users.json"), users.to_string()).unwrap();
        std::fs::write(from.join("tokens.json"), tokens.to_string()).unwrap();
        let sessions = json!({"version": 1, "sessions": sessions});
        std::fs::write(from.join("sessions.json"), sessions.to_string()).unwrap();
        let loc = Locations {
            home: s.dir.path().to_owned(),
            xdg_data_home: None,
            xdg_state_home: None,
            tmux_tmpdir: Some(s.dir.path().join("no-tmux")),
            uid: 0,
        };
        Install::in_dir(&from, &loc)
    }

    fn user<'a>(plan: &'a Plan, username: &str) -> &'a UserPlan {
        plan.users.iter().find(|u| u.username == username).unwrap()
    }

    fn token<'a>(plan: &'a Plan, old_id: &str) -> &'a TokenPlan {
        plan.tokens.iter().find(|t| t.id == legacy::token_id(old_id)).unwrap()
    }

    fn secret_hash() -> &'static str {
        // base64 of a 32-byte digest
        "l7+XnRRZJVCqVdDgDuKKcy9SBySEC+JEq9yHa1BiFpE="
    }

    #[test]
    fn bad_hashes_huge_costs_and_bad_entries_are_refused_with_their_reason() {
        let s = setup();
        let users = json!([
            {"username": "ok", "name": "Ok", "passphraseHash": hash(1024), "admin": false},
            {"username": "bad", "name": "Bad", "passphraseHash": "md5$1$abc$def", "admin": false},
            {"username": "huge", "name": "Huge", "passphraseHash": hash(1 << 30), "admin": true},
            {"username": "Upper Case", "name": "X", "passphraseHash": hash(1024)},
            {"username": "sneaky", "name": "S", "passphraseHash": hash(1024), "admin": "yes"},
            {"username": "ok", "name": "Twice", "passphraseHash": hash(1024), "admin": true},
            "not an object",
            {"username": "ctl", "name": "\u{1b}]0;pwned\u{7}", "passphraseHash": hash(1024)}
        ]);
        let tokens = json!([
            {"tokenId": "aaaaaaaaaaaaaaaa", "secretHash": secret_hash(), "username": "ok", "name": "t"},
            {"tokenId": "bbbbbbbbbbbbbbbb", "secretHash": secret_hash(), "username": "bad", "name": "t"},
            {"tokenId": "cccccccccccccccc", "secretHash": "short", "username": "ok", "name": "t"},
            {"tokenId": "../../etc", "secretHash": secret_hash(), "username": "ok", "name": "t"},
            {"tokenId": "dddddddddddddddd", "secretHash": secret_hash(), "username": "ok", "name": "t",
             "expiresAt": "2001-01-01T00:00:00.000Z"},
            {"tokenId": "eeeeeeeeeeeeeeee", "secretHash": secret_hash(), "username": "ok", "name": "t",
             "expiresAt": "some day"}
        ]);
        let i = install(&s, users, tokens, json!({}));
        let plan = plan(&[i], &s.store, &s.opts).unwrap();
        assert_eq!(user(&plan, "ok").action, Action::Import);
        assert_eq!(user(&plan, "ok").name, "Ok", "the first of two entries wins");
        let bad = user(&plan, "bad");
        assert_eq!(bad.action, Action::Refused);
        assert!(bad.notes[0].contains("algorithm"), "{:?}", bad.notes);
        let huge = user(&plan, "huge");
        assert_eq!(huge.action, Action::Refused);
        assert!(huge.notes[0].contains("maximum"), "{:?}", huge.notes);
        assert_eq!(user(&plan, "Upper Case").action, Action::Refused);
        let sneaky = user(&plan, "sneaky");
        assert_eq!(
            (sneaky.action, sneaky.admin),
            (Action::Import, false),
            "only `true` grants admin"
        );
        assert!(sneaky.notes[0].contains("non-admin"));
        assert_eq!(plan.users.iter().filter(|u| u.username == "ok").count(), 2);
        assert_eq!(
            plan.users.iter().find(|u| u.name.is_empty() && u.username.is_empty()).unwrap().action,
            Action::Refused
        );
        let ctl = user(&plan, "ctl");
        assert_eq!(
            (ctl.action, ctl.name.as_str()),
            (Action::Import, "ctl"),
            "control characters are not a name"
        );

        assert_eq!(token(&plan, "aaaaaaaaaaaaaaaa").action, Action::Import);
        assert_eq!(token(&plan, "aaaaaaaaaaaaaaaa").scope, TokenScope::User);
        let orphan = token(&plan, "bbbbbbbbbbbbbbbb");
        assert!(orphan.notes[0].contains("not brought over"), "{:?}", orphan.notes);
        assert!(token(&plan, "cccccccccccccccc").notes[0].contains("secretHash"));
        assert!(token(&plan, "../../etc").notes[0].contains("tokenId"));
        assert!(token(&plan, "dddddddddddddddd").notes[0].contains("expired"));
        assert!(token(&plan, "eeeeeeeeeeeeeeee").notes[0].contains("expiry"));

        apply(&plan, &s.store, &s.opts).unwrap();
        let names: Vec<String> =
            s.store.list_users().unwrap().into_iter().map(|u| u.username).collect();
        assert_eq!(names, ["ctl", "ok", "sneaky"]);
        assert!(!s.store.get_user("sneaky").unwrap().unwrap().admin);
        let tokens = s.store.list_tokens(None).unwrap();
        assert_eq!(tokens.len(), 1);
        assert_eq!(tokens[0].imported_from.as_deref(), Some(ORIGIN));
    }

    #[test]
    fn accounts_made_here_are_never_touched_and_get_no_old_tokens() {
        let s = setup();
        let mine = UserRecord {
            username: "root".into(),
            name: "Root".into(),
            passphrase_hash: "$argon2id$mine".into(),
            admin: false,
            created_at: 1,
            updated_at: 1,
            roots: Vec::new(),
            max_sessions: None,
            unix_account: None,
            max_session_memory_mb: None,
        };
        s.store.insert_user(&mine).unwrap();
        let users = json!([{"username": "root", "name": "Evil", "passphraseHash": hash(1024), "admin": true}]);
        let tokens = json!([{"tokenId": "aaaaaaaaaaaaaaaa", "secretHash": secret_hash(), "username": "root", "name": "t"}]);
        let i = install(&s, users, tokens, json!({}));
        let plan = plan(std::slice::from_ref(&i), &s.store, &s.opts).unwrap();
        assert_eq!(user(&plan, "root").action, Action::AlreadyPresent);
        let t = token(&plan, "aaaaaaaaaaaaaaaa");
        assert_eq!(t.action, Action::Refused);
        assert!(t.notes[0].contains("not brought over from 0.41"), "{:?}", t.notes);
        apply(&plan, &s.store, &s.opts).unwrap();
        assert_eq!(s.store.get_user("root").unwrap().unwrap(), mine, "untouched");
        assert!(s.store.list_tokens(None).unwrap().is_empty());
    }

    #[test]
    fn owner_gives_the_sessions_to_a_user_and_must_exist() {
        let mut s = setup();
        let cwd = s.dir.path().display().to_string();
        let users = json!([{"username": "bob", "name": "Bob", "passphraseHash": hash(1024)}]);
        let sessions =
            json!({"fix": {"name": "fix", "agent": "claude", "cwd": cwd, "parent": "fix"}});
        let i = install(&s, users, json!([]), sessions);
        s.opts.owner = "nobody".into();
        let err = plan(std::slice::from_ref(&i), &s.store, &s.opts).unwrap_err();
        assert!(err.contains("--owner nobody"), "{err}");
        s.opts.owner = "bob".into();
        let p = plan(std::slice::from_ref(&i), &s.store, &s.opts).unwrap();
        assert_eq!((p.sessions[0].name.as_str(), p.sessions[0].owner.as_str()), ("fix@bob", "bob"));
        apply(&p, &s.store, &s.opts).unwrap();
        let rec = s.store.get_session("fix@bob").unwrap().unwrap();
        assert_eq!((rec.owner.as_str(), rec.parent.as_deref()), ("bob", Some("fix@bob")));
    }

    #[test]
    fn sessions_are_checked_like_new_ones_and_deleted_imports_stay_deleted() {
        let s = setup();
        let cwd = s.dir.path().display().to_string();
        let sessions = json!({
            "ok": {"name": "ok", "agent": "claude", "cwd": cwd, "flags": "--model opus",
                   "env": {"A": "b c"}, "initPrompts": ["hi"], "turnqMarker": "LLMUX_DONE_1",
                   "parent": "ghost"},
            "Claude Code": {"name": "Claude Code", "agent": "claude", "cwd": cwd},
            "shell": {"name": "shell", "agent": "claude", "cwd": cwd, "flags": "--x `id`"},
            "badenv": {"name": "badenv", "agent": "claude", "cwd": cwd, "env": {"A-B": "1"}},
            "noagent": {"name": "noagent", "agent": "nosuch", "cwd": cwd},
            "nocwd": {"name": "nocwd", "agent": "claude", "cwd": "/nonexistent/dir"},
            "marker": {"name": "marker", "agent": "claude", "cwd": cwd,
                       "initPrompts": ["x", "end with LLMUX_DONE_abcd"], "turnqMarker": "LLMUX_DONE_abcd"}
        });
        let i = install(&s, json!([]), json!([]), sessions);
        let plan1 = plan(std::slice::from_ref(&i), &s.store, &s.opts).unwrap();
        let by = |p: &Plan, n: &str| p.sessions.iter().find(|x| x.old_name == n).unwrap().clone();
        assert_eq!(by(&plan1, "ok").action, Action::Import);
        for (name, why) in [
            ("Claude Code", "invalid session name"),
            ("shell", "need a shell"),
            ("badenv", "invalid env name"),
            ("noagent", "catalog"),
            ("nocwd", "does not exist"),
        ] {
            let x = by(&plan1, name);
            assert_eq!(x.action, Action::Refused, "{name}");
            assert!(x.notes[0].contains(why), "{name}: {:?}", x.notes);
        }
        assert_eq!(by(&plan1, "marker").init_prompts, 1, "the turnq marker prompt is dropped");
        apply(&plan1, &s.store, &s.opts).unwrap();
        let rec = s.store.get_session("ok").unwrap().unwrap();
        assert_eq!(
            (rec.flags.as_deref(), rec.env["A"].as_str(), rec.parent),
            (Some("--model opus"), "b c", None)
        );
        assert_eq!(rec.init_prompts, ["hi"]);

        // a second run adds nothing; a session removed here since is not brought back
        s.store.delete_session("marker").unwrap();
        let plan2 = plan(std::slice::from_ref(&i), &s.store, &s.opts).unwrap();
        assert_eq!(by(&plan2, "ok").action, Action::AlreadyPresent);
        assert_eq!(by(&plan2, "marker").action, Action::Refused);
        assert!(by(&plan2, "marker").notes[0].contains("removed here since"));
        assert_eq!(plan2.counts().0, 0);
    }
}
