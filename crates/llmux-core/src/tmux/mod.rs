//! The tmux driver: llmux's own tmux server on its own socket, with its own config.
//!
//! Every call is one `tmux -S <socket> -f <conf> …` process with an argv (no shell). Targets are
//! always exact: `=NAME` for sessions and `=NAME:` for panes, never a bare (prefix-matched) name.
//! tmux forbids `.` in session names, so an llmux name maps to a tmux name with `.` → `+`
//! (`+` is not allowed in llmux names, so the mapping is one-to-one).
//!
//! The frequent reads (the pane list every tick, screens of active panes) go through one
//! long-lived control-mode client instead ([`control`]).
//!
//! tmux expands formats (`#{…}`, `#(shell command)`) in some arguments. Measured on tmux 3.3a:
//! `new-session -c` and `-s`, and `rename-session`'s new name, are expanded; `-e K=V`, targets,
//! `set-environment` values, `send-keys -l` text, buffer names and contents, and the command
//! argv are not. So the start directory is passed through [`escape_format`] and names with `#`
//! are refused here (the API refuses them before, see `validate::session_name`).
//!
//! A viewer's keys reach only its own pane: the server is sealed ([`conf`], [`Tmux::seal`]).

mod conf;
mod control;
mod servers;

pub use conf::escape_format;
pub use control::CONTROL_SESSION;
pub use servers::Servers;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::error::{Error, Result};
use crate::paths::write_private;
use crate::sandbox::Account;

/// The tmux name of an llmux session.
pub fn tmux_name(name: &str) -> String {
    name.replace('.', "+")
}

/// The llmux name of a tmux session.
pub fn llmux_name(tmux_name: &str) -> String {
    tmux_name.replace('+', ".")
}

/// Whether an inherited variable is left out of the tmux server's environment.
///
/// `TMUX`/`TMUX_PANE` would make tmux talk to the caller's server. The CI markers make
/// interactive agents degrade to batch mode: Gemini CLI treats `CI=true` as headless and exits
/// ("No input provided via stdin"), and Ink (Claude Code, Qwen, Gemini) renders only a final frame
/// under `is-in-ci`. Every llmux pane is an interactive terminal, so a daemon started from a CI job
/// or a build script must not pass them on; a session that wants one sets it in its own `env`.
fn is_scrubbed_var(key: &str) -> bool {
    matches!(key, "TMUX" | "TMUX_PANE" | "CI" | "CONTINUOUS_INTEGRATION" | "GITHUB_ACTIONS")
        || key.starts_with("CI_")
        || SYSTEMD_VARS.contains(&key)
}

/// The service manager's variables for the daemon (readiness, watchdog, socket activation,
/// journal): meant for the daemon alone, never for a tmux server or an agent.
pub const SYSTEMD_VARS: &[&str] = &[
    "NOTIFY_SOCKET",
    "WATCHDOG_USEC",
    "WATCHDOG_PID",
    "LISTEN_FDS",
    "LISTEN_PID",
    "LISTEN_FDNAMES",
    "JOURNAL_STREAM",
];

/// Removes [`is_scrubbed_var`] variables from what a tmux command (and a server it starts) inherits.
fn scrub_env(cmd: &mut Command) {
    for (key, _) in std::env::vars_os() {
        if key.to_str().is_some_and(is_scrubbed_var) {
            cmd.env_remove(&key);
        }
    }
}

/// What is needed to start a session.
#[derive(Debug, Clone)]
pub struct SpawnSpec<'a> {
    /// llmux session name.
    pub name: &'a str,
    /// Working directory.
    pub cwd: &'a Path,
    /// Program and arguments; run directly, never through a shell.
    pub argv: &'a [String],
    /// Environment added to the session.
    pub env: &'a BTreeMap<String, String>,
    /// Initial width in cells.
    pub width: u16,
    /// Initial height in cells.
    pub height: u16,
    /// Whether `argv` is a sandbox around the agent: marked on the tmux session
    /// (`@llmux_confined`) so a restarted daemon still knows.
    pub confined: bool,
}

/// A tmux client command for a caller to spawn (see [`Tmux::attach_client`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCommand {
    /// The program.
    pub program: &'static str,
    /// Its arguments.
    pub args: Vec<OsString>,
    /// Variables to leave out of its environment (`TMUX`, `TMUX_PANE`, CI markers: see
    /// [`is_scrubbed_var`]).
    pub env_remove: Vec<OsString>,
}

/// One pane of llmux's tmux server, from `list-panes -a`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaneInfo {
    /// llmux session name (mapped back from the tmux name).
    pub session: String,
    /// PID of the pane's process.
    pub pid: u32,
    /// Whether the process has exited (the pane stays, `remain-on-exit`).
    pub dead: bool,
    /// Exit status once dead.
    pub dead_status: Option<i32>,
    /// Last activity, unix seconds.
    pub activity: i64,
    /// The owner of the tmux server the pane lives on (`""`: llmux's own server).
    pub server: String,
    /// Whether the pane's process runs in the sandbox (the session's `@llmux_confined`).
    pub confined: bool,
}

/// Handle on one of llmux's tmux servers.
#[derive(Debug)]
pub struct Tmux {
    /// Whose server it is (`""`: llmux's own); stamped on every [`PaneInfo`] it lists.
    owner: String,
    /// The Unix account the server and every command to it run as (a system daemon's user
    /// server); `None`: the daemon's own identity.
    run_as: Option<Account>,
    socket: PathBuf,
    conf: PathBuf,
    buffer_seq: AtomicU64,
    control: control::Control,
    /// Whether this daemon started (and for an account's server, configured and sealed) this
    /// user's server before its first session.
    sealed: std::sync::atomic::AtomicBool,
}

/// Told the name and duration of every tmux command the driver runs (the daemon's metrics);
/// set once per process. A plain function pointer: the hot path pays one atomic load.
static COMMAND_OBSERVER: std::sync::OnceLock<fn(&str, std::time::Duration)> =
    std::sync::OnceLock::new();

/// Sets the function told the name (`list-panes`, …) and duration of every tmux command the
/// driver runs, by exec or over the control client. The first call wins.
pub fn observe_commands(observer: fn(&str, std::time::Duration)) {
    let _ = COMMAND_OBSERVER.set(observer);
}

fn observed(what: &str, started: std::time::Instant) {
    if let Some(observer) = COMMAND_OBSERVER.get() {
        observer(what, started.elapsed());
    }
}

/// The tmux socket name (`-L`) of a server run as a Unix account.
const ACCOUNT_LABEL: &str = "llmux";

/// Text longer than this goes through a tmux buffer: tmux caps one command message at 16 KiB.
const MAX_SEND_KEYS_BYTES: usize = 8 * 1024;

const LIST_FORMAT: &str = "#{session_name}\t#{pane_pid}\t#{pane_dead}\t#{pane_dead_status}\t\
                           #{window_activity}\t#{@llmux_confined}";

impl Tmux {
    /// A driver for llmux's own tmux server on `socket`, started with config `conf`.
    pub fn new(socket: PathBuf, conf: PathBuf) -> Tmux {
        Tmux::owned_by(String::new(), socket, conf)
    }

    /// A driver for `owner`'s own tmux server (see [`Servers`]).
    pub fn owned_by(owner: String, socket: PathBuf, conf: PathBuf) -> Tmux {
        Tmux {
            owner,
            run_as: None,
            socket,
            conf,
            buffer_seq: AtomicU64::new(0),
            control: control::Control::default(),
            sealed: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// A driver for `owner`'s server run as Unix `account` (a system daemon): every command
    /// runs through `setpriv` as the account, on its own tmux socket dir (`tmux -L llmux`:
    /// `/tmp/tmux-<uid>/llmux`, made and checked by tmux). The daemon never connects to it as
    /// root, so a socket the account swapped for a link reaches only what the account could.
    /// The server starts without a config file (root's is not readable by the account) and
    /// is configured and sealed before its first session ([`Tmux::prepare`]).
    pub fn as_account(owner: String, account: Account) -> Tmux {
        let socket = PathBuf::from(format!("/tmp/tmux-{}/{ACCOUNT_LABEL}", account.uid));
        let mut tmux = Tmux::owned_by(owner, socket, PathBuf::from("/dev/null"));
        tmux.run_as = Some(account);
        tmux
    }

    /// The Unix account this server runs as, if not the daemon's.
    pub fn account(&self) -> Option<&Account> {
        self.run_as.as_ref()
    }

    /// Whose server this is (`""`: llmux's own).
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// The socket path.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Writes llmux's tmux config (read only when the tmux server starts), sealed: see [`conf`].
    pub fn write_conf(&self) -> Result<()> {
        write_private(&self.conf, conf::text(default_terminal()).as_bytes())
    }

    /// Seals a tmux server that is already running (started before this daemon, perhaps by an
    /// older llmux with tmux's default keys): the options of the config, then every key table
    /// it has emptied. Checks the result; an error means viewers could escape their pane, so
    /// the daemon must not serve. No server is fine: one started later reads the config.
    pub async fn seal(&self) -> Result<()> {
        let options = conf::seal_options_argv().into_iter().map(OsString::from).collect();
        match self.run(options, None).await {
            Ok(_) => {}
            Err(Error::NotFound(message)) if no_server(&message) => return Ok(()),
            Err(e) => return Err(e),
        }
        let listed = self.run(vec!["list-keys".into()], None).await?;
        for table in conf::tables(&listed) {
            tracing::info!(table, "emptying a key table of the running tmux server");
            let args = vec!["unbind-key".into(), "-a".into(), "-T".into(), table.into()];
            self.run(args, None).await?;
        }
        let left = self.run(vec!["list-keys".into()], None).await?;
        let prefix = self.run(vec!["show-options".into(), "-gv".into(), "prefix".into()], None);
        let prefix = prefix.await?;
        if !left.trim().is_empty() || prefix.trim() != "None" {
            return Err(Error::Tmux {
                command: "seal".into(),
                message: format!("key bindings survived the seal (prefix {prefix:?}): {left}"),
            });
        }
        Ok(())
    }

    /// The shell command that attaches a plain tmux client to a session.
    pub fn attach_command(&self, name: &str) -> String {
        if let Some(account) = &self.run_as {
            let target = format!("={}", tmux_name(name));
            let words = ["sudo", "-u", &account.name, "tmux", "-L", ACCOUNT_LABEL, "attach", "-t"];
            return shell_words::join(words.into_iter().chain([target.as_str()]));
        }
        shell_words::join([
            "tmux",
            "-S",
            &self.socket.to_string_lossy(),
            "attach",
            "-t",
            &format!("={}", tmux_name(name)),
        ])
    }

    /// A tmux client attached to session `name`, for a caller to run on a terminal of its own
    /// (the web terminal's PTY): `tmux -S <socket> -f <conf> attach-session [-r] -t =NAME`,
    /// read-only (`-r`: its keys are dropped) when `read_only`. Spawning it is the caller's, as
    /// the terminal is; the argv and the environment rules are the driver's.
    pub fn attach_client(&self, name: &str, read_only: bool) -> ClientCommand {
        let mut args: Vec<OsString> = match &self.run_as {
            None => vec!["-S".into(), self.socket.clone().into()],
            Some(account) => {
                let setpriv = account.setpriv().into_iter().skip(1).map(OsString::from);
                setpriv.chain(["tmux".into(), "-L".into(), ACCOUNT_LABEL.into()]).collect()
            }
        };
        args.extend(["-f".into(), self.conf.clone().into(), "attach-session".into()]);
        if read_only {
            args.push("-r".into());
        }
        args.extend(["-t".into(), format!("={}", tmux_name(name)).into()]);
        let env_remove = std::env::vars_os()
            .map(|(key, _)| key)
            .filter(|key| key.to_str().is_some_and(|k| is_scrubbed_var(k) || k == "TMUX_TMPDIR"))
            .collect();
        let program = if self.run_as.is_some() { "setpriv" } else { "tmux" };
        ClientCommand { program, args, env_remove }
    }

    fn command(&self) -> Command {
        let mut cmd = match &self.run_as {
            None => {
                let mut cmd = Command::new("tmux");
                cmd.arg("-S").arg(&self.socket);
                cmd
            }
            Some(account) => {
                let argv = account.setpriv();
                let mut cmd = Command::new(&argv[0]);
                cmd.args(&argv[1..]).args(["tmux", "-L", ACCOUNT_LABEL]);
                // What a server started by this command gives its panes.
                cmd.env("HOME", &account.home).env("USER", &account.name);
                cmd.env("LOGNAME", &account.name).env_remove("TMUX_TMPDIR");
                cmd
            }
        };
        // `-u`: UTF-8 whatever the locale. A service manager's environment often has no
        // LANG, and tmux in the C locale prints the tab of `LIST_FORMAT` as `_`.
        cmd.arg("-u").arg("-f").arg(&self.conf);
        scrub_env(&mut cmd);
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd.kill_on_drop(true);
        cmd
    }

    /// Runs one tmux command; returns stdout, or the error tmux printed.
    async fn run(&self, args: Vec<OsString>, stdin: Option<&[u8]>) -> Result<String> {
        let what = args.first().map(|a| a.to_string_lossy().into_owned()).unwrap_or_default();
        let mut cmd = self.command();
        cmd.args(&args);
        if stdin.is_some() {
            cmd.stdin(Stdio::piped());
        }
        let started = std::time::Instant::now();
        let mut child = cmd.spawn().map_err(Error::TmuxMissing)?;
        if let (Some(data), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(data).await.map_err(|e| Error::io("cannot write to tmux", e))?;
            drop(pipe);
        }
        let out = child.wait_with_output().await.map_err(|e| Error::io("cannot run tmux", e))?;
        observed(&what, started);
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            let message = String::from_utf8_lossy(&out.stderr).trim().to_owned();
            Err(classify(what, message))
        }
    }

    /// One command over the control client, timed like [`Tmux::run`]'s.
    async fn control_run(&self, line: &str) -> Result<Vec<String>> {
        let started = std::time::Instant::now();
        let out = self.control.run(&self.command(), line).await;
        observed(line.split(' ').next().unwrap_or(""), started);
        out
    }

    /// Once per handle, for a user's server: starts it through the control client (under its
    /// lock), gives an account's server the options of our config (it cannot read the file),
    /// and seals it. Before a session is created on it, so that one place starts the server:
    /// two tmux clients starting a server on one socket at once race, and the loser's server
    /// can take the socket over from the winner's (seen: a session created in that moment
    /// vanished); and so remain-on-exit and the emptied key tables hold from the agent's
    /// first moment. A server left running by an earlier daemon is sealed the same way.
    /// llmux's own server is sealed by the daemon at start ([`Tmux::seal`]).
    pub async fn prepare(&self) -> Result<()> {
        if self.owner.is_empty() || self.sealed.load(Ordering::Acquire) {
            return Ok(());
        }
        self.list_panes().await?;
        if self.run_as.is_some() {
            let options = conf::options_argv(default_terminal());
            self.run(options.into_iter().map(OsString::from).collect(), None).await?;
        }
        self.seal().await?;
        self.sealed.store(true, Ordering::Release);
        Ok(())
    }

    /// Starts a detached session running `spec.argv` directly (no shell); returns its pane,
    /// as tmux reports it in the same call (`-P -F`).
    pub async fn new_session(&self, spec: &SpawnSpec<'_>) -> Result<PaneInfo> {
        refuse_format(spec.name)?;
        // `-c` is format-expanded: escaped, a directory named `#(cmd)` is only a directory.
        let cwd = OsString::from_vec(escape_format(spec.cwd.as_os_str().as_bytes()));
        let mut args: Vec<OsString> = vec![
            "new-session".into(),
            "-d".into(),
            "-P".into(),
            "-F".into(),
            LIST_FORMAT.into(),
            "-s".into(),
            tmux_name(spec.name).into(),
            "-c".into(),
            cwd,
            "-x".into(),
            spec.width.to_string().into(),
            "-y".into(),
            spec.height.to_string().into(),
        ];
        for (key, value) in spec.env {
            args.push("-e".into());
            args.push(format!("{key}={value}").into());
        }
        args.push("--".into());
        // tmux runs a single argument through `sh -c`; with two or more it execs them
        // directly. `env --` keeps a lone program out of the shell's hands.
        if spec.argv.len() == 1 {
            args.push("env".into());
            args.push("--".into());
        }
        args.extend(spec.argv.iter().map(OsString::from));
        if spec.confined {
            // A second command of the same call: the mark is there before anyone lists.
            // set-option's -t is a pane target: `=NAME:`.
            let target = pane_target(spec.name);
            args.extend(
                [";", "set-option", "-t", &target, "@llmux_confined", "1"].map(OsString::from),
            );
        }
        self.prepare().await?;
        let out = self.run(args, None).await?;
        let pane = out.lines().find_map(|l| parse_pane(l, &self.owner));
        let mut pane = pane.ok_or_else(|| Error::Tmux {
            command: "new-session".into(),
            message: format!("unexpected output {out:?}"),
        })?;
        pane.confined = spec.confined;
        Ok(pane)
    }

    /// Every pane of every llmux session, from one `list-panes -a` (over the control client;
    /// by exec if that fails). No server = no panes.
    pub async fn list_panes(&self) -> Result<Vec<PaneInfo>> {
        let line = format!("list-panes -a -F {}", control::quote(LIST_FORMAT));
        let out = match self.control_run(&line).await {
            Ok(lines) => Ok(lines.join("\n")),
            Err(e) => {
                tracing::debug!(error = %e, "tmux control client failed; listing by exec");
                let args = vec!["list-panes".into(), "-a".into(), "-F".into(), LIST_FORMAT.into()];
                self.run(args, None).await
            }
        };
        match out {
            Ok(out) => Ok(out
                .lines()
                .filter_map(|l| parse_pane(l, &self.owner))
                .filter(|p| p.session != CONTROL_SESSION)
                .collect()),
            // An empty server has no "current" session to resolve the default target from.
            Err(Error::NotFound(message))
                if no_server(&message) || message.contains("no current target") =>
            {
                Ok(Vec::new())
            }
            Err(e) => Err(e),
        }
    }

    /// The visible screen of a session's pane as plain text (what a detector reads), over
    /// the control client.
    pub async fn screen(&self, name: &str) -> Result<String> {
        let line = format!("capture-pane -p -t {}", control::quote(&pane_target(name)));
        match self.control_run(&line).await {
            Ok(lines) => Ok(lines.join("\n")),
            Err(e @ Error::NotFound(_)) => Err(e),
            Err(_) => {
                let args =
                    vec!["capture-pane".into(), "-p".into(), "-t".into(), pane_target(name).into()];
                self.run(args, None).await
            }
        }
    }

    /// Ends the control client and its hidden session (at shutdown).
    pub async fn close(&self) {
        self.control.close().await;
        let target = format!("={CONTROL_SESSION}");
        let _ = self.run(vec!["kill-session".into(), "-t".into(), target.into()], None).await;
    }

    /// Kills a session; returns false if it did not exist.
    pub async fn kill_session(&self, name: &str) -> Result<bool> {
        let args = vec!["kill-session".into(), "-t".into(), session_target(name).into()];
        match self.run(args, None).await {
            Ok(_) => Ok(true),
            Err(Error::NotFound(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Renames a live session.
    pub async fn rename_session(&self, old: &str, new: &str) -> Result<()> {
        refuse_format(new)?;
        let args = vec![
            "rename-session".into(),
            "-t".into(),
            session_target(old).into(),
            tmux_name(new).into(),
        ];
        self.run(args, None).await?;
        let env = vec![
            "set-environment".into(),
            "-t".into(),
            session_target(new).into(),
            "LLMUX_SESSION".into(),
            new.into(),
        ];
        self.run(env, None).await.map(drop)
    }

    /// Types text into the session's pane. Single short lines are sent as literal keys;
    /// multi-line or long text is pasted from a buffer, bracketed when the app asked for it,
    /// so it arrives as one prompt.
    pub async fn send_text(&self, name: &str, text: &str) -> Result<()> {
        if text.contains(['\n', '\r']) || text.len() > MAX_SEND_KEYS_BYTES {
            let buffer = format!("llmux-{}", self.buffer_seq.fetch_add(1, Ordering::Relaxed));
            let load = vec!["load-buffer".into(), "-b".into(), buffer.clone().into(), "-".into()];
            self.run(load, Some(text.as_bytes())).await?;
            let paste = vec![
                "paste-buffer".into(),
                "-p".into(),
                "-d".into(),
                "-b".into(),
                buffer.into(),
                "-t".into(),
                pane_target(name).into(),
            ];
            self.run(paste, None).await.map(drop)
        } else {
            let args = vec![
                "send-keys".into(),
                "-t".into(),
                pane_target(name).into(),
                "-l".into(),
                "--".into(),
                text.into(),
            ];
            self.run(args, None).await.map(drop)
        }
    }

    /// Sends one named key (`Enter`, `Escape`, `C-c`, …).
    pub async fn send_key(&self, name: &str, key: &str) -> Result<()> {
        let args = vec!["send-keys".into(), "-t".into(), pane_target(name).into(), key.into()];
        self.run(args, None).await.map(drop)
    }

    /// The last `lines` lines of the pane (history included), trailing blank lines removed.
    pub async fn capture(&self, name: &str, lines: u32) -> Result<String> {
        let args = vec![
            "capture-pane".into(),
            "-p".into(),
            "-J".into(),
            "-t".into(),
            pane_target(name).into(),
            "-S".into(),
            format!("-{lines}").into(),
        ];
        let out = self.run(args, None).await?;
        Ok(last_lines(&out, lines as usize))
    }

    /// The pane's scrollback above the visible screen (up to `lines` lines), with colours
    /// (escape sequences), for replay into a viewer's own scrollback.
    pub async fn history(&self, name: &str, lines: u32) -> Result<String> {
        let args = vec![
            "capture-pane".into(),
            "-p".into(),
            "-e".into(),
            "-t".into(),
            pane_target(name).into(),
            "-S".into(),
            format!("-{lines}").into(),
            "-E".into(),
            "-1".into(),
        ];
        let out = self.run(args, None).await?;
        Ok(out.trim_end_matches('\n').to_owned())
    }

    /// Stops the whole tmux server (tests and benchmarks only).
    pub async fn kill_server(&self) -> Result<()> {
        match self.run(vec!["kill-server".into()], None).await {
            Ok(_) => Ok(()),
            Err(Error::NotFound(message)) if no_server(&message) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// Refuses a session name tmux would expand as a format (`new-session -s` and
/// `rename-session` expand theirs); valid llmux names never contain `#`.
fn refuse_format(name: &str) -> Result<()> {
    if name.contains('#') {
        return Err(Error::invalid(format!("invalid session name {name:?}: '#' is not allowed")));
    }
    Ok(())
}

/// `=NAME`: the exact session.
fn session_target(name: &str) -> String {
    format!("={}", tmux_name(name))
}

/// `=NAME:`: the active pane of the exact session (without the colon tmux would read `=NAME`
/// as a pane target and fail).
fn pane_target(name: &str) -> String {
    format!("={}:", tmux_name(name))
}

fn no_server(message: &str) -> bool {
    message.contains("no server running")
        || message.contains("error connecting to")
        || message.contains("server exited unexpectedly")
}

fn classify(command: String, message: String) -> Error {
    if message.contains("can't find session")
        || message.contains("can't find pane")
        || message.contains("can't find window")
        || message.contains("no current target")
        || no_server(&message)
    {
        Error::NotFound(message)
    } else if message.contains("duplicate session") {
        Error::AlreadyExists(message)
    } else {
        Error::Tmux { command, message }
    }
}

fn parse_pane(line: &str, server: &str) -> Option<PaneInfo> {
    let mut parts = line.split('\t');
    let session = llmux_name(parts.next()?);
    let pid = parts.next()?.parse().ok()?;
    let dead = parts.next()? == "1";
    let dead_status = parts.next().and_then(|s| s.parse().ok());
    let activity = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let confined = parts.next() == Some("1");
    Some(PaneInfo {
        session,
        pid,
        dead,
        dead_status,
        activity,
        server: server.to_owned(),
        confined,
    })
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    let end = lines.iter().rposition(|l| !l.is_empty()).map_or(0, |i| i + 1);
    let start = end.saturating_sub(n);
    lines[start..end].join("\n")
}

/// The `default-terminal` of llmux's servers: tmux's own where its terminfo is installed.
fn default_terminal() -> &'static str {
    if terminfo_exists("tmux-256color") { "tmux-256color" } else { "screen-256color" }
}

fn terminfo_exists(name: &str) -> bool {
    let first = &name[..1];
    ["/usr/share/terminfo", "/lib/terminfo", "/etc/terminfo"]
        .iter()
        .any(|dir| Path::new(dir).join(first).join(name).exists())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_one_to_one() {
        assert_eq!(tmux_name("a.b-c_d"), "a+b-c_d");
        assert_eq!(llmux_name("a+b-c_d"), "a.b-c_d");
        assert_eq!(pane_target("x.y"), "=x+y:");
    }

    #[test]
    fn an_attach_client_targets_one_session_exactly() {
        let tmux = Tmux::new("/run/t.sock".into(), "/run/t.conf".into());
        let argv = |c: ClientCommand| {
            assert_eq!(c.program, "tmux");
            c.args.iter().map(|a| a.to_string_lossy().into_owned()).collect::<Vec<_>>().join(" ")
        };
        assert_eq!(
            argv(tmux.attach_client("fix.1@bob", false)),
            "-S /run/t.sock -f /run/t.conf attach-session -t =fix+1@bob"
        );
        assert_eq!(
            argv(tmux.attach_client("x", true)),
            "-S /run/t.sock -f /run/t.conf attach-session -r -t =x"
        );
    }

    #[test]
    fn names_with_a_hash_never_reach_tmux() {
        assert!(refuse_format("a#(id)").is_err());
        assert!(refuse_format("a#{pane_pid}").is_err());
        assert!(refuse_format("plain.name-1").is_ok());
    }

    #[test]
    fn pane_lines_parse() {
        let pane = parse_pane("a+b\t42\t1\t3\t1700000000\t", "").unwrap();
        assert_eq!(
            pane,
            PaneInfo {
                session: "a.b".into(),
                pid: 42,
                dead: true,
                dead_status: Some(3),
                activity: 1_700_000_000,
                server: String::new(),
                confined: false,
            }
        );
        assert_eq!(parse_pane("x\t7\t0\t\t5\t", "").unwrap().dead_status, None);
        let confined = parse_pane("x\t7\t0\t\t5\t1", "bob").unwrap();
        assert!(confined.confined);
        assert_eq!(confined.server, "bob");
        assert!(parse_pane("garbage", "").is_none());
    }

    #[test]
    fn last_lines_trims_trailing_blanks() {
        assert_eq!(last_lines("a\nb  \nc\n\n\n", 2), "b\nc");
        assert_eq!(last_lines("\n\n", 5), "");
    }
}
