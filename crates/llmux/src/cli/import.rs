//! `llmux import llmux-0.41`: bring users, tokens, sessions and the config over from the old
//! Node llmux. The plan and its rules are `llmux_import`'s; this prints it and, unless
//! `--dry-run`, applies it to the store of a stopped daemon (docs/import.md).

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use llmux_core::paths::Paths;
use llmux_core::store::Store;
use llmux_import::plan::{Action, ConfigAction};
use llmux_import::{Install, Locations, Options, Plan};

use super::Ctx;
use crate::output::{self, say};

#[derive(Debug, Subcommand)]
pub(crate) enum ImportCmd {
    /// Bring users (with their passphrases), v2 tokens, sessions and the config over from the
    /// old Node llmux 0.41.
    ///
    /// Reads the old daemon's own files: $XDG_DATA_HOME/llmux/v2/users.json and tokens.json,
    /// $XDG_STATE_HOME/llmuxd/sessions.json, ~/.config/llmux/config.yaml (or those under each
    /// --from DIR). Writes this llmux's store directly: stop the daemon first. Running it again
    /// adds nothing twice. See docs/import.md.
    #[command(name = "llmux-0.41")]
    Llmux041(Llmux041Args),
}

#[derive(Debug, Args)]
pub(crate) struct Llmux041Args {
    /// Read an old install under DIR (a copy of the old home, data or state dir, or a dir
    /// holding the files) instead of the default locations. Repeatable: imported in order.
    #[arg(long = "from", value_name = "DIR")]
    from: Vec<PathBuf>,
    /// Print the whole plan and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Give the imported sessions to this user (0.41 sessions had no owner) [default: the
    /// local operator].
    #[arg(long, value_name = "USER")]
    owner: Option<String>,
    /// The socket of 0.41's tmux server [default: ${TMUX_TMPDIR:-/tmp}/tmux-<uid>/default].
    #[arg(long, value_name = "PATH")]
    tmux_socket: Option<PathBuf>,
    /// The llmux config file the translated config goes to [default:
    /// ~/.config/llmux/config.yaml].
    #[arg(long, value_name = "FILE")]
    config_to: Option<PathBuf>,
}

impl ImportCmd {
    pub async fn run(self, ctx: &Ctx) -> Result<u8> {
        let ImportCmd::Llmux041(args) = self;
        if ctx.inputs.flag_server.is_some() {
            bail!("import writes this machine's llmux state dir; it does not take --server");
        }
        let paths = ctx.paths.clone();
        let json = ctx.json;
        tokio::task::spawn_blocking(move || args.run(&paths, json)).await?
    }
}

impl Llmux041Args {
    fn run(self, paths: &Paths, json: bool) -> Result<u8> {
        let loc = Locations::from_env();
        let mut installs: Vec<Install> = if self.from.is_empty() {
            vec![Install::default_locations(&loc)]
        } else {
            self.from.iter().map(|dir| Install::in_dir(dir, &loc)).collect()
        };
        for dir in &self.from {
            if !dir.is_dir() {
                bail!("--from {}: not a directory", dir.display());
            }
        }
        if let Some(socket) = &self.tmux_socket {
            for install in &mut installs {
                install.tmux_socket = socket.clone();
            }
        }
        if installs.iter().all(|i| {
            i.users.is_none() && i.tokens.is_none() && i.sessions.is_none() && i.config.is_none()
        }) {
            bail!(
                "no llmux 0.41 install found in {} (looked for users.json, tokens.json, \
                 sessions.json and config.yaml); name its directory with --from DIR",
                installs.iter().map(|i| i.label.as_str()).collect::<Vec<_>>().join(", ")
            );
        }
        let home = llmux_core::paths::home_dir();
        let default_state = Paths::resolve(None).map(|p| p.state_dir).ok();
        let llmux = if default_state.as_ref() == Some(&paths.state_dir) {
            "llmux".to_owned()
        } else {
            format!("llmux --state-dir {}", shell_quote(&paths.state_dir))
        };
        let opts = Options {
            paths: paths.clone(),
            config_target: self
                .config_to
                .clone()
                .unwrap_or_else(|| home.join(".config/llmux/config.yaml")),
            home,
            owner: self.owner.clone().unwrap_or_default(),
            llmux,
            dry_run: self.dry_run,
        };
        let (store, _guard) = if self.dry_run { dry_store(paths)? } else { live_store(paths)? };
        let plan = llmux_import::plan(&installs, &store, &opts).map_err(anyhow::Error::msg)?;
        if !self.dry_run {
            llmux_import::apply(&plan, &store, &opts).map_err(anyhow::Error::msg)?;
        }
        if json {
            output::json(&plan)?;
        } else {
            print_plan(&plan);
        }
        Ok(0)
    }
}

/// Keeps alive what the store needs: the state dir's lock, or the dry run's scratch copy.
enum Guard {
    Lock(#[allow(dead_code)] File),
    Scratch(#[allow(dead_code)] tempfile_dir::Dir),
    None,
}

/// A scratch copy of the store (or an empty one): a dry run reads, migrates and plans against
/// it, and the real file is never opened for writing.
fn dry_store(paths: &Paths) -> Result<(Store, Guard)> {
    if !paths.db.exists() {
        return Ok((Store::open_in_memory()?, Guard::None));
    }
    let dir = tempfile_dir::Dir::new()?;
    let copy = dir.path().join("llmux.db");
    for suffix in ["", "-wal"] {
        let from = PathBuf::from(format!("{}{suffix}", paths.db.display()));
        if from.exists() {
            std::fs::copy(&from, format!("{}{suffix}", copy.display()))
                .with_context(|| format!("cannot read {}", from.display()))?;
        }
    }
    Ok((Store::open(&copy)?, Guard::Scratch(dir)))
}

/// The real store, with the daemon's lock held: no daemon may run (it caches what the import
/// changes), and none may start until the import is done.
fn live_store(paths: &Paths) -> Result<(Store, Guard)> {
    paths.create_dirs()?;
    let file = llmux_core::state_lock::try_lock(paths)?.map_err(|held| {
        anyhow::anyhow!(
            "the llmux daemon for {} is running (pid {}); stop it first: the import writes its \
             store directly (`llmux import llmux-0.41 --dry-run` works while it runs)",
            paths.state_dir.display(),
            held.pid
        )
    })?;
    Ok((Store::open(&paths.db)?, Guard::Lock(file)))
}

fn shell_quote(path: &Path) -> String {
    let text = path.display().to_string();
    if text.bytes().all(|b| b.is_ascii_alphanumeric() || b"/._-+".contains(&b)) {
        text
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

fn print_plan(plan: &Plan) {
    if plan.dry_run {
        say!(
            "Dry run: the plan for importing llmux 0.41 into {}; nothing is changed.",
            plan.state_dir
        );
    } else {
        say!("Imported llmux 0.41 into {}.", plan.state_dir);
    }
    for s in &plan.sources {
        say!("");
        say!("From {}:", s.label);
        for (kind, path) in &s.found {
            say!("  {kind:<10} {path}");
        }
        for p in &s.problems {
            say!("  ! {p}");
        }
    }
    let verdict = |a: Action| format!("{:<16}", a.as_str());
    let why = |notes: &[String]| {
        if notes.is_empty() { String::new() } else { format!(": {}", notes.join("; ")) }
    };
    if !plan.users.is_empty() {
        say!("");
        say!("Users");
        for u in &plan.users {
            let admin = if u.admin { " (admin)" } else { "" };
            say!("  {}{}{admin}{}", verdict(u.action), u.username, why(&u.notes));
        }
    }
    if !plan.tokens.is_empty() {
        say!("");
        say!("Tokens (they keep working as they are)");
        for t in &plan.tokens {
            say!(
                "  {}{} of {} {:?}, scope {}{}{}",
                verdict(t.action),
                t.id,
                t.username,
                t.name,
                t.scope.as_str(),
                t.expires_at.as_deref().map(|e| format!(", expires {e}")).unwrap_or_default(),
                why(&t.notes)
            );
        }
    }
    if !plan.sessions.is_empty() {
        say!("");
        say!("Sessions");
        for s in &plan.sessions {
            let mut parts = vec![format!("{}{}", verdict(s.action), s.name)];
            if s.action != Action::Refused {
                parts.push(format!("agent {}, cwd {}", s.agent, s.cwd));
                if let Some(f) = &s.flags {
                    parts.push(format!("flags {f:?}"));
                }
                if !s.env.is_empty() {
                    parts.push(format!("env {}", s.env.join(",")));
                }
                if s.init_prompts > 0 {
                    parts.push(format!("{} init prompt(s)", s.init_prompts));
                }
                if let Some(r) = &s.resume_from {
                    parts.push(format!("resumes {r}"));
                }
            }
            say!("  {}{}", parts.join(", "), why(&s.notes));
            if let Some(r) = &s.running {
                if r.command.is_empty() {
                    say!("      still running in 0.41's tmux server ({})", r.socket);
                } else {
                    say!("      still running in 0.41's tmux server; to move it under llmux:");
                    say!("      {}", r.command);
                }
            }
        }
    }
    for c in &plan.config {
        say!("");
        let action = match c.action {
            ConfigAction::Write => "written",
            ConfigAction::AlreadyPresent => "already present",
            ConfigAction::KeptExisting => "not written (kept the existing file)",
            ConfigAction::Refused => "refused",
        };
        say!("Config {} -> {}: {action}{}", c.source, c.target, why(&c.notes));
        if let Some(b) = &c.backup {
            say!("  the old file is kept as {b}");
        }
        for k in &c.kept {
            say!("  kept     {}: {}", k.key, k.note);
        }
        for k in &c.dropped {
            say!("  dropped  {}: {}", k.key, k.note);
        }
    }
    for o in &plan.overlay {
        say!("");
        say!(
            "Settings {} -> {}: {} ({} init prompt(s)){}",
            o.source,
            o.target,
            o.action.as_str(),
            o.init_prompts.len(),
            why(&o.notes)
        );
        for k in &o.dropped {
            say!("  dropped  {}: {}", k.key, k.note);
        }
    }
    if !plan.notes.is_empty() {
        say!("");
        for n in &plan.notes {
            say!("Note: {n}");
        }
    }
    let (import, present, refused) = plan.counts();
    say!("");
    let verb = if plan.dry_run { "to import" } else { "imported" };
    say!("{import} {verb}, {present} already present, {refused} refused.");
    if plan.dry_run {
        say!("Run it again without --dry-run to import (with the daemon stopped).");
    }
}

/// A private scratch directory, removed on drop.
mod tempfile_dir {
    use std::path::{Path, PathBuf};

    pub(crate) struct Dir(PathBuf);

    impl Dir {
        pub(crate) fn new() -> std::io::Result<Dir> {
            use std::os::unix::fs::DirBuilderExt;
            let name = format!("llmux-import-{}", llmux_auth::secrets::random_hex(8));
            let path = std::env::temp_dir().join(name);
            std::fs::DirBuilder::new().mode(0o700).create(&path)?;
            Ok(Dir(path))
        }

        pub(crate) fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
