//! `llmux service install|status|uninstall`: the daemon as a systemd service.
//!
//! The units are the files under `packaging/systemd/` (the Debian package ships the same ones):
//! `@BIN@` becomes this binary's path. `--user` (the default for everyone but root) writes a
//! user unit and says whether lingering is on (without it the user's manager, and every agent
//! with it, stops at logout); `--system` (the default for root) a system unit for the shared
//! box's `server.mode: system`. Where systemd is not running, `install` says so, prints how to
//! run the daemon under another supervisor and fails; `--print` and `--unit-dir` write the
//! units anyway (for tests, and for people who install units by hand). docs/service.md is the
//! user's guide.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use serde::Serialize;

use super::Ctx;
use crate::output::{self, say, say_err};

const USER_SERVICE: &str = include_str!("../../../../packaging/systemd/user/llmux.service.in");
const USER_SOCKET: &str = include_str!("../../../../packaging/systemd/user/llmux.socket.in");
const SYSTEM_SERVICE: &str = include_str!("../../../../packaging/systemd/system/llmux.service.in");
const SYSTEM_SOCKET: &str = include_str!("../../../../packaging/systemd/system/llmux.socket.in");

/// The system daemon's config file (named in the system unit's `ExecStart=`).
const SYSTEM_CONFIG: &str = "/etc/llmux/config.yaml";

#[derive(Debug, Subcommand)]
pub(crate) enum ServiceCmd {
    /// Write the systemd unit, enable it and start the daemon at boot (or at login).
    Install(InstallArgs),
    /// Show the unit's state (and, for a user unit, whether lingering is on).
    Status(ScopeArgs),
    /// Stop and disable the unit and remove its files (agents keep running in tmux).
    Uninstall(UninstallArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ScopeArgs {
    /// A user unit (~/.config/systemd/user) [default for everyone but root].
    #[arg(long, conflicts_with = "system")]
    user: bool,
    /// A system unit running as root, for `server.mode: system` [default for root].
    #[arg(long)]
    system: bool,
}

#[derive(Debug, Args)]
pub(crate) struct InstallArgs {
    #[command(flatten)]
    scope: ScopeArgs,
    /// Also a socket unit: systemd holds the socket (user: the operator's socket; system: the
    /// users' socket), so clients wait while the daemon restarts.
    #[arg(long)]
    socket: bool,
    /// Print the unit files instead of installing them (works without systemd).
    #[arg(long, conflicts_with = "unit_dir")]
    print: bool,
    /// Write the unit files into DIR and stop there: no systemctl (works without systemd).
    #[arg(long, value_name = "DIR")]
    unit_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct UninstallArgs {
    #[command(flatten)]
    scope: ScopeArgs,
    /// Remove the unit files from DIR (as written by `install --unit-dir`); no systemctl.
    #[arg(long, value_name = "DIR")]
    unit_dir: Option<PathBuf>,
}

/// User or system manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Scope {
    User,
    System,
}

impl ScopeArgs {
    fn scope(&self) -> Scope {
        match (self.user, self.system) {
            (true, _) => Scope::User,
            (_, true) => Scope::System,
            _ if rustix::process::geteuid().is_root() => Scope::System,
            _ => Scope::User,
        }
    }
}

impl Scope {
    /// The templates: the service, then the socket.
    fn templates(self) -> (&'static str, &'static str) {
        match self {
            Scope::User => (USER_SERVICE, USER_SOCKET),
            Scope::System => (SYSTEM_SERVICE, SYSTEM_SOCKET),
        }
    }

    /// Where the manager reads units written by hand.
    fn unit_dir(self) -> PathBuf {
        match self {
            Scope::System => PathBuf::from("/etc/systemd/system"),
            Scope::User => std::env::var_os("XDG_CONFIG_HOME")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(|| llmux_core::paths::home_dir().join(".config"))
                .join("systemd/user"),
        }
    }

    fn flag(self) -> &'static str {
        match self {
            Scope::User => "--user",
            Scope::System => "--system",
        }
    }

    fn systemctl(self) -> Command {
        let mut cmd = Command::new("systemctl");
        if self == Scope::User {
            cmd.arg("--user");
        }
        cmd
    }
}

impl ServiceCmd {
    pub fn run(self, ctx: &Ctx) -> Result<u8> {
        match self {
            ServiceCmd::Install(args) => install(args, ctx),
            ServiceCmd::Status(args) => status(args.scope(), ctx),
            ServiceCmd::Uninstall(args) => uninstall(args),
        }
    }
}

/// The unit files for `scope`: (file name, text), the service first.
fn render(scope: Scope, socket: bool) -> Result<Vec<(&'static str, String)>> {
    let exe = std::env::current_exe().context("cannot find this binary's path")?;
    let bin = exec_path(&exe)?;
    let (service, socket_unit) = scope.templates();
    let mut units = vec![("llmux.service", service.replace("@BIN@", &bin))];
    if socket {
        units.push(("llmux.socket", socket_unit.replace("@BIN@", &bin)));
    }
    Ok(units)
}

/// `path` as the first word of `ExecStart=`: `%` doubled (systemd's specifiers), quoted when
/// it holds a space; a path systemd cannot take (a quote, a backslash, a control character) is
/// refused.
fn exec_path(path: &Path) -> Result<String> {
    let Some(text) = path.to_str() else {
        bail!("this binary's path {} is not UTF-8; systemd cannot run it", path.display());
    };
    if text.chars().any(|c| c.is_control() || c == '"' || c == '\'' || c == '\\') {
        bail!("this binary's path {text:?} has characters systemd's ExecStart= cannot take");
    }
    let text = text.replace('%', "%%");
    Ok(if text.contains(' ') { format!("\"{text}\"") } else { text })
}

/// Whether systemd is the init system (what `sd_booted()` checks).
fn systemd_running() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

fn install(args: InstallArgs, ctx: &Ctx) -> Result<u8> {
    let scope = args.scope.scope();
    let units = render(scope, args.socket)?;
    if args.print {
        for (i, (name, text)) in units.iter().enumerate() {
            if i > 0 {
                output::text("")?;
            }
            output::text(&format!("# ---- {name}"))?;
            output::text(text.trim_end())?;
        }
        return Ok(0);
    }
    if let Some(dir) = &args.unit_dir {
        let written = write_units(dir, &units)?;
        for path in &written {
            say!("wrote {}", path.display());
        }
        let user = if scope == Scope::User { " --user" } else { "" };
        say!("enable it with: systemctl{user} enable --now {}", written[0].display());
        return Ok(0);
    }
    if !systemd_running() {
        no_systemd(scope);
        return Ok(crate::exit::FAILURE);
    }
    if scope == Scope::System {
        if !rustix::process::geteuid().is_root() {
            bail!("a system unit needs root: run `sudo llmux service install --system`");
        }
        system_config()?;
    }
    let dir = scope.unit_dir();
    let written = write_units(&dir, &units)?;
    for path in &written {
        say!("wrote {}", path.display());
    }
    if let Some(dropin) = environment_dropin(scope, &dir, ctx)? {
        say!("wrote {dropin}");
    }
    systemctl(scope, &["daemon-reload"])?;
    let mut enable = vec!["enable", "--now"];
    if args.socket {
        enable.push("llmux.socket");
    }
    enable.push("llmux.service");
    systemctl(scope, &enable).with_context(|| {
        format!(
            "the unit is written but did not start; see `journalctl{} -u llmux` (is a daemon \
             started by hand still running? stop it first)",
            if scope == Scope::User { " --user" } else { "" }
        )
    })?;
    say!("llmux.service is enabled and started ({})", scope_words(scope));
    if scope == Scope::User {
        report_linger(&linger());
    }
    Ok(0)
}

fn scope_words(scope: Scope) -> &'static str {
    match scope {
        Scope::User => "user unit: starts with your user's service manager",
        Scope::System => "system unit: starts at boot",
    }
}

fn write_units(dir: &Path, units: &[(&str, String)]) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut written = Vec::new();
    for (name, text) in units {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

/// The unit's drop-in `llmux.service.d/environment.conf`: for a user unit the installing
/// shell's `PATH` (the user manager's own is the bare system one, without `~/.local/bin` or
/// npm's prefix, where agent CLIs live); for either, `LLMUX_STATE_DIR` when a state dir other
/// than the default was named (`--state-dir`, `LLMUX_STATE_DIR`). Returns what it wrote.
fn environment_dropin(scope: Scope, dir: &Path, ctx: &Ctx) -> Result<Option<String>> {
    let dropin_dir = dir.join("llmux.service.d");
    let file = dropin_dir.join("environment.conf");
    let mut lines = Vec::new();
    let mut what = Vec::new();
    if scope == Scope::User {
        lines.push(environment_line("PATH", &std::env::var("PATH").unwrap_or_default()));
        what.push("your PATH, so the daemon finds tmux and the agents");
    }
    let named = std::env::var_os("LLMUX_STATE_DIR").is_some_and(|v| !v.is_empty())
        || std::env::args().any(|a| a == "--state-dir" || a.starts_with("--state-dir="));
    if named {
        let state_dir = ctx.paths.state_dir.to_string_lossy();
        lines.push(environment_line("LLMUX_STATE_DIR", &state_dir));
        what.push("the state dir you named");
    }
    if lines.is_empty() {
        let _ = std::fs::remove_file(&file);
        let _ = std::fs::remove_dir(&dropin_dir);
        return Ok(None);
    }
    std::fs::create_dir_all(&dropin_dir)
        .with_context(|| format!("cannot create {}", dropin_dir.display()))?;
    let text = format!("# Written by `llmux service install`.\n[Service]\n{}\n", lines.join("\n"));
    std::fs::write(&file, text).with_context(|| format!("cannot write {}", file.display()))?;
    Ok(Some(format!("{} ({})", file.display(), what.join("; "))))
}

/// `Environment="KEY=value"` with systemd's quoting (`%` doubled, `\\` and `"` escaped).
fn environment_line(key: &str, value: &str) -> String {
    let quoted = value.replace('%', "%%").replace('\\', "\\\\").replace('"', "\\\"");
    format!("Environment=\"{key}={quoted}\"")
}

/// `/etc/llmux/config.yaml` must say `server.mode: system` (written when missing).
fn system_config() -> Result<()> {
    let path = Path::new(SYSTEM_CONFIG);
    if !path.exists() {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        std::fs::write(
            path,
            "# The llmux system daemon's config (see `llmux server start --help` and the README).\n\
             server:\n  mode: system\n",
        )
        .with_context(|| format!("cannot write {SYSTEM_CONFIG}"))?;
        say!("wrote {SYSTEM_CONFIG} (server.mode: system)");
        return Ok(());
    }
    let loaded = llmux_core::config::LoadedConfig::discover(Some(path))?;
    if loaded.config.server.mode != llmux_core::config::DaemonMode::System {
        bail!(
            "{SYSTEM_CONFIG} does not set `server.mode: system`: a system unit runs the daemon as \
             root, which only the system mode makes safe (each user's sessions run as their Unix \
             account). Add it:\n  server:\n    mode: system"
        );
    }
    Ok(())
}

fn systemctl(scope: Scope, args: &[&str]) -> Result<()> {
    let out = scope.systemctl().args(args).output().context("cannot run systemctl")?;
    if !out.status.success() {
        bail!(
            "systemctl {} {} failed: {}",
            scope.flag(),
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Whether the user's manager outlives their sessions (`loginctl show-user`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "lowercase", tag = "state", content = "detail")]
enum Linger {
    On,
    Off,
    Unknown(String),
}

fn user_name() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| rustix::process::getuid().as_raw().to_string())
}

fn linger() -> Linger {
    let out = Command::new("loginctl")
        .args(["show-user", &user_name(), "--property=Linger", "--value"])
        .output();
    match out {
        Ok(out) if out.status.success() => match String::from_utf8_lossy(&out.stdout).trim() {
            "yes" => Linger::On,
            "no" => Linger::Off,
            other => Linger::Unknown(format!("loginctl said {other:?}")),
        },
        Ok(out) => Linger::Unknown(String::from_utf8_lossy(&out.stderr).trim().to_owned()),
        Err(e) => Linger::Unknown(format!("cannot run loginctl: {e}")),
    }
}

fn report_linger(linger: &Linger) {
    let user = user_name();
    match linger {
        Linger::On => {
            say!("lingering is on for {user}: the daemon and its agents outlive your logout")
        }
        Linger::Off => {
            say!(
                "lingering is off for {user}: at logout systemd stops the daemon and every agent."
            );
            say!("Turn it on (once, as root):");
            say!("  sudo loginctl enable-linger {user}");
        }
        Linger::Unknown(why) => {
            say!("cannot tell whether lingering is on for {user} ({why}); to be sure, run:");
            say!("  sudo loginctl enable-linger {user}");
        }
    }
}

/// No systemd: what to do instead (on stderr; the caller exits non-zero).
fn no_systemd(scope: Scope) {
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "llmux".to_owned());
    let config =
        if scope == Scope::System { format!(" --config {SYSTEM_CONFIG}") } else { String::new() };
    let cmd = format!("{exe} server start{config}");
    for line in [
        "llmux: systemd is not running on this machine (no /run/systemd/system), so there is no \
         unit to install."
            .to_owned(),
        String::new(),
        "Run the daemon under the supervisor you have; it must run this command in the \
         foreground, stop it with SIGTERM (agents keep running in tmux) and may send SIGHUP to \
         reload the config file:"
            .to_owned(),
        format!("  {cmd}"),
        String::new(),
        "  runit (/etc/sv/llmux/run):".to_owned(),
        "    #!/bin/sh".to_owned(),
        format!("    exec chpst -u USER {cmd} 2>&1"),
        "  s6 (run):".to_owned(),
        "    #!/bin/execlineb -P".to_owned(),
        format!("    s6-setuidgid USER {cmd}"),
        "  supervisord:".to_owned(),
        "    [program:llmux]".to_owned(),
        format!("    command={cmd}"),
        "    user=USER".to_owned(),
        "    stopsignal=TERM".to_owned(),
        "    autorestart=true".to_owned(),
        "  OpenRC (/etc/init.d/llmux):".to_owned(),
        "    #!/sbin/openrc-run".to_owned(),
        format!("    command=\"{exe}\""),
        format!("    command_args=\"server start{config}\""),
        "    command_user=\"USER\"".to_owned(),
        "    command_background=true".to_owned(),
        "    pidfile=\"/run/llmux.pid\"".to_owned(),
        "  no supervisor at all:".to_owned(),
        format!("    nohup {cmd} >>~/llmux.log 2>&1 &"),
        String::new(),
        match scope {
            Scope::User => "(USER: your account.)".to_owned(),
            Scope::System => format!(
                "(USER: root, with `server:` / `  mode: system` in {SYSTEM_CONFIG}; for a \
                 personal daemon run it as yourself, without --config.)"
            ),
        },
        format!(
            "To write the unit files anyway: `llmux service install {} --print` or \
             `--unit-dir DIR`.",
            scope.flag()
        ),
    ] {
        say_err!("{line}");
    }
}

/// What `status --json` prints.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct StatusView {
    scope: Scope,
    systemd: bool,
    unit_file: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    properties: Option<std::collections::BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    linger: Option<Linger>,
}

fn status(scope: Scope, ctx: &Ctx) -> Result<u8> {
    let file = scope.unit_dir().join("llmux.service");
    let unit_file = file.exists().then_some(file);
    let systemd = systemd_running();
    let mut view = StatusView { scope, systemd, unit_file, properties: None, linger: None };
    if systemd {
        let out = scope
            .systemctl()
            .args([
                "show",
                "llmux.service",
                "--property=LoadState,ActiveState,SubState,UnitFileState,MainPID,StatusText,FragmentPath",
            ])
            .output()
            .context("cannot run systemctl")?;
        if !out.status.success() {
            bail!("systemctl show failed: {}", String::from_utf8_lossy(&out.stderr).trim());
        }
        let props = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        view.properties = Some(props);
        if scope == Scope::User {
            view.linger = Some(linger());
        }
    }
    if ctx.json {
        output::json(&view)?;
        return Ok(if systemd { 0 } else { crate::exit::FAILURE });
    }
    let where_ =
        view.unit_file.as_ref().map_or("not installed".to_owned(), |p| p.display().to_string());
    say!("scope:      {}", if scope == Scope::User { "user" } else { "system" });
    say!("unit file:  {where_}");
    let Some(props) = &view.properties else {
        say_err!(
            "llmux: systemd is not running on this machine (no /run/systemd/system): no unit \
             state to show"
        );
        return Ok(crate::exit::FAILURE);
    };
    let get = |k: &str| props.get(k).map(String::as_str).unwrap_or("");
    say!("loaded:     {} ({})", get("LoadState"), get("UnitFileState"));
    say!("active:     {} ({})", get("ActiveState"), get("SubState"));
    if get("MainPID") != "0" && !get("MainPID").is_empty() {
        say!("pid:        {}", get("MainPID"));
    }
    if !get("StatusText").is_empty() {
        say!("status:     {}", get("StatusText"));
    }
    if let Some(linger) = &view.linger {
        report_linger(linger);
    }
    Ok(0)
}

fn uninstall(args: UninstallArgs) -> Result<u8> {
    let scope = args.scope.scope();
    let names = ["llmux.service", "llmux.socket"];
    if let Some(dir) = &args.unit_dir {
        remove_units(dir, &names)?;
        return Ok(0);
    }
    if !systemd_running() {
        say_err!(
            "llmux: systemd is not running on this machine (no /run/systemd/system): nothing to \
             disable. Files written with `--unit-dir DIR` go with `llmux service uninstall \
             --unit-dir DIR`."
        );
        return Ok(crate::exit::FAILURE);
    }
    if scope == Scope::System && !rustix::process::geteuid().is_root() {
        bail!("a system unit needs root: run `sudo llmux service uninstall --system`");
    }
    // Not loaded, or never enabled: nothing to undo there, the files still go.
    let _ = systemctl(scope, &["disable", "--now", "llmux.socket", "llmux.service"]);
    let dir = scope.unit_dir();
    remove_units(&dir, &names)?;
    let dropin = dir.join("llmux.service.d");
    if dropin.join("environment.conf").exists() {
        std::fs::remove_file(dropin.join("environment.conf"))?;
        let _ = std::fs::remove_dir(&dropin);
    }
    systemctl(scope, &["daemon-reload"])?;
    say!("llmux.service is stopped and disabled; agents keep running in tmux");
    Ok(0)
}

fn remove_units(dir: &Path, names: &[&str]) -> Result<()> {
    let mut removed = false;
    for name in names {
        let path = dir.join(name);
        match std::fs::remove_file(&path) {
            Ok(()) => {
                say!("removed {}", path.display());
                removed = true;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("cannot remove {}", path.display())),
        }
    }
    if !removed {
        say!("no llmux unit in {}", dir.display());
    }
    Ok(())
}
