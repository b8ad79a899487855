//! `llmux user …`: accounts (admins, or the local operator on the daemon's machine).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Subcommand;
use llmux_api::{ChangePassphraseRequest, CreateUserRequest, UpdateUserRequest, UserView};

use super::Ctx;
use crate::{output, prompt};

/// Where a new passphrase may come from, for error messages.
const NEW_PASSPHRASE_MISSING: &str =
    "passphrase required: pass --passphrase or set LLMUX_PASSPHRASE (stdin is not a TTY)";

/// What `user delete` does with the user's sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum SessionsFate {
    /// End them (the default).
    End,
    /// Hand them to the user named by --to.
    Transfer,
}

#[derive(Debug, Subcommand)]
pub(crate) enum UserCmd {
    /// Create a user.
    ///
    /// The passphrase (at least 8 characters) comes from --passphrase, else LLMUX_PASSPHRASE,
    /// else it is asked for twice without echo.
    Create {
        /// Login name (`a-z`, `0-9`, `_`, `-`; at most 32).
        username: String,
        /// Display name [default: the username].
        #[arg(long)]
        name: Option<String>,
        /// Make the user an admin.
        #[arg(long)]
        admin: bool,
        /// The passphrase (visible to other local users in the process list: prefer the
        /// prompt or LLMUX_PASSPHRASE).
        #[arg(long)]
        passphrase: Option<String>,
    },
    /// List users.
    #[command(visible_alias = "ls")]
    List,
    /// Delete a user, with their tokens, browser sessions and notification settings; their
    /// sessions end, or pass to another user with --sessions transfer --to USER.
    #[command(visible_alias = "rm")]
    Delete {
        /// Login name.
        username: String,
        /// What becomes of the user's sessions.
        #[arg(long, value_enum, default_value_t = SessionsFate::End)]
        sessions: SessionsFate,
        /// With --sessions transfer: the user who gets them (renamed to their own names).
        #[arg(long, value_name = "USER", required_if_eq("sessions", "transfer"))]
        to: Option<String>,
        /// Do not ask for confirmation (required without a terminal).
        #[arg(long, short)]
        yes: bool,
    },
    /// Set a new passphrase for a user, without the old one (ends their browser sessions).
    ResetPassphrase {
        /// Login name.
        username: String,
        /// The new passphrase [default: LLMUX_PASSPHRASE, else asked twice].
        #[arg(long)]
        passphrase: Option<String>,
    },
    /// Change your own passphrase (needs the current one).
    ///
    /// Without a terminal, the current passphrase comes from LLMUX_PASSPHRASE and the new one
    /// from LLMUX_NEW_PASSPHRASE.
    Passwd,
    /// Change what a user's sessions may use: the workspace roots their confined sessions get
    /// read-write, how many sessions they may have, and how much memory each may use.
    ///
    /// Every --root replaces the granted roots (give all of them; relative paths are taken from
    /// the current directory); the daemon resolves symlinks and `..`, and refuses paths that
    /// are missing, not directories, system or daemon dirs. Without granted roots a user gets
    /// their default workspace.
    #[command(group(
        clap::ArgGroup::new("change")
            .required(true)
            .multiple(true)
            .args([
                "roots",
                "default_roots",
                "max_sessions",
                "no_session_limit",
                "unix_account",
                "no_unix_account",
                "create_unix_account",
                "max_session_memory",
                "no_memory_limit"
            ])
    ))]
    Edit {
        /// Login name.
        username: String,
        /// Grant this directory read-write (repeat for several, at most 16).
        #[arg(long = "root", value_name = "PATH", conflicts_with = "default_roots")]
        roots: Vec<PathBuf>,
        /// Back to the user's default workspace only.
        #[arg(long)]
        default_roots: bool,
        /// The most sessions the user may have (1-1000).
        #[arg(long, value_name = "N", conflicts_with = "no_session_limit")]
        max_sessions: Option<u32>,
        /// Let the user have any number of sessions.
        #[arg(long)]
        no_session_limit: bool,
        /// Under a system daemon (`server.mode: system`), run the user's sessions as this
        /// existing Unix account (not root, not the daemon's, not another user's).
        #[arg(long, value_name = "ACCOUNT", conflicts_with = "no_unix_account")]
        unix_account: Option<String>,
        /// Map the user to no Unix account.
        #[arg(long)]
        no_unix_account: bool,
        /// Make the Unix account `llmux-NAME` (own group and HOME; a system daemon only) and
        /// run the user's sessions as it.
        #[arg(long, conflicts_with_all = ["unix_account", "no_unix_account"])]
        create_unix_account: bool,
        /// The memory ceiling of each of the user's sessions: `512M`, `2G`, or MiB (64M-1024G);
        /// a session going over it is killed by the kernel. Needs cgroups the daemon can manage.
        #[arg(long, value_name = "SIZE", value_parser = parse_mib, conflicts_with = "no_memory_limit")]
        max_session_memory: Option<u32>,
        /// Lift the memory ceiling.
        #[arg(long)]
        no_memory_limit: bool,
    },
    /// Grant or revoke admin rights (the last admin cannot be demoted).
    SetAdmin {
        /// Login name.
        username: String,
        /// `true` or `false`.
        #[arg(action = clap::ArgAction::Set, value_parser = clap::value_parser!(bool), value_name = "true|false")]
        admin: bool,
    },
}

impl UserCmd {
    pub async fn run(self, ctx: &Ctx) -> Result<u8> {
        let client = ctx.client()?;
        match self {
            UserCmd::Create { username, name, admin, passphrase } => {
                let passphrase = prompt::new_secret(
                    passphrase,
                    "LLMUX_PASSPHRASE",
                    &format!("New passphrase for {username}: "),
                    NEW_PASSPHRASE_MISSING,
                )?;
                let req = CreateUserRequest { username, name, passphrase, admin };
                let user = client.create_user(&req).await?;
                if ctx.json {
                    output::json(&user)?;
                } else {
                    let admin = if user.admin { " (admin)" } else { "" };
                    output::say!("user created: {}{admin}", user.username);
                }
            }
            UserCmd::List => {
                let users = client.list_users().await?;
                if ctx.json {
                    output::json(&users)?;
                } else if users.is_empty() {
                    output::say!("no users; create one with `llmux user create <username>`");
                } else {
                    output::table(
                        &[
                            "USERNAME",
                            "NAME",
                            "ADMIN",
                            "MAX SESSIONS",
                            "MEMORY/SESSION",
                            "CREATED",
                            "ROOTS",
                        ],
                        &users.iter().map(row).collect::<Vec<_>>(),
                    )?;
                }
            }
            UserCmd::Delete { username, sessions, to, yes } => {
                let to = match (sessions, to) {
                    (SessionsFate::Transfer, to) => to,
                    (SessionsFate::End, None) => None,
                    (SessionsFate::End, Some(_)) => {
                        anyhow::bail!("--to goes with --sessions transfer")
                    }
                };
                let fate = match &to {
                    Some(to) => format!("hand their sessions to \"{to}\""),
                    None => "end their sessions".to_owned(),
                };
                let question =
                    format!("Delete user \"{username}\", revoke all their tokens and {fate}?");
                if !prompt::confirm(&question, yes, "user delete").await? {
                    output::say!("cancelled");
                    return Ok(0);
                }
                let res = client.delete_user(&username, to.as_deref()).await?;
                if ctx.json {
                    output::json(&res)?;
                } else {
                    let sessions =
                        match (&to, res.ended_sessions.len(), res.transferred_sessions.len()) {
                            (Some(to), _, n) if n > 0 => {
                                format!("; handed {n} session{} to {to}", plural(n as u64))
                            }
                            (None, n, _) if n > 0 => {
                                format!("; ended {n} session{}", plural(n as u64))
                            }
                            _ => String::new(),
                        };
                    output::say!(
                        "deleted user \"{username}\" (revoked {} token{}{sessions})",
                        res.revoked_tokens,
                        plural(res.revoked_tokens)
                    );
                }
            }
            UserCmd::ResetPassphrase { username, passphrase } => {
                let passphrase = prompt::new_secret(
                    passphrase,
                    "LLMUX_PASSPHRASE",
                    &format!("New passphrase for {username}: "),
                    NEW_PASSPHRASE_MISSING,
                )?;
                let req = UpdateUserRequest { passphrase: Some(passphrase), ..Default::default() };
                let user = client.update_user(&username, &req).await?;
                if ctx.json {
                    output::json(&user)?;
                } else {
                    output::say!(
                        "passphrase reset for \"{}\" (their browser sessions were signed out)",
                        user.username
                    );
                }
            }
            UserCmd::Passwd => {
                let old_passphrase = prompt::secret(
                    "LLMUX_PASSPHRASE",
                    "Current passphrase: ",
                    "current passphrase required: set LLMUX_PASSPHRASE (stdin is not a TTY)",
                )?;
                let new_passphrase = prompt::new_secret(
                    None,
                    "LLMUX_NEW_PASSPHRASE",
                    "New passphrase: ",
                    "new passphrase required: set LLMUX_NEW_PASSPHRASE (stdin is not a TTY)",
                )?;
                let req = ChangePassphraseRequest { old_passphrase, new_passphrase };
                client.change_passphrase(&req).await?;
                if ctx.json {
                    output::json(&serde_json::json!({"ok": true}))?;
                } else {
                    output::say!(
                        "passphrase changed (your other browser sessions were signed out)"
                    );
                }
            }
            UserCmd::Edit {
                username,
                roots,
                default_roots,
                max_sessions,
                no_session_limit,
                unix_account,
                no_unix_account,
                create_unix_account,
                max_session_memory,
                no_memory_limit,
            } => {
                let roots = if default_roots {
                    Some(Vec::new())
                } else if roots.is_empty() {
                    None
                } else {
                    Some(absolute_roots(roots)?)
                };
                let max_sessions = match (max_sessions, no_session_limit) {
                    (Some(n), _) => Some(Some(n)),
                    (None, true) => Some(None),
                    (None, false) => None,
                };
                let unix_account = match (unix_account, no_unix_account) {
                    (Some(name), _) => Some(Some(name)),
                    (None, true) => Some(None),
                    (None, false) => None,
                };
                let max_session_memory_mb = match (max_session_memory, no_memory_limit) {
                    (Some(mb), _) => Some(Some(mb)),
                    (None, true) => Some(None),
                    (None, false) => None,
                };
                let req = UpdateUserRequest {
                    roots,
                    max_sessions,
                    unix_account,
                    create_unix_account: create_unix_account.then_some(true),
                    max_session_memory_mb,
                    ..Default::default()
                };
                let user = client.update_user(&username, &req).await?;
                if ctx.json {
                    output::json(&user)?;
                } else {
                    let memory = match user.max_session_memory_mb {
                        Some(mb) => format!("; at most {} of memory per session", mib(mb)),
                        None if no_memory_limit => "; no memory ceiling".to_owned(),
                        None => String::new(),
                    };
                    output::say!(
                        "{}: roots {}; {}{memory}",
                        user.username,
                        user.roots.join(", "),
                        session_limit(user.max_sessions),
                    );
                }
            }
            UserCmd::SetAdmin { username, admin } => {
                let req = UpdateUserRequest { admin: Some(admin), ..Default::default() };
                let user = client.update_user(&username, &req).await?;
                if ctx.json {
                    output::json(&user)?;
                } else if user.admin {
                    output::say!("{} is an admin", user.username);
                } else {
                    output::say!("{} is not an admin", user.username);
                }
            }
        }
        Ok(0)
    }
}

fn row(u: &UserView) -> Vec<String> {
    vec![
        u.username.clone(),
        u.name.clone(),
        if u.admin { "yes".into() } else { "-".into() },
        u.max_sessions.map_or_else(|| "-".into(), |n| n.to_string()),
        u.max_session_memory_mb.map_or_else(|| "-".into(), mib),
        output::ago(&u.created_at),
        u.roots.join(", "),
    ]
}

/// A size in MiB as `2G` or `512M` (whole G, M; `MB`/`MiB`, `GB`/`GiB` too, any case), or a
/// plain number of MiB. The daemon checks the range.
fn parse_mib(text: &str) -> std::result::Result<u32, String> {
    let t = text.trim().to_ascii_lowercase();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(digits);
    let scale: u64 = match unit.trim_start() {
        "" | "m" | "mb" | "mib" => 1,
        "g" | "gb" | "gib" => 1024,
        _ => {
            return Err(format!(
                "{text:?} is not a size: give MiB, or a whole number with M or G (512M, 2G)"
            ));
        }
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a size: it needs a number (512M, 2G)"))?;
    n.checked_mul(scale)
        .and_then(|mb| u32::try_from(mb).ok())
        .ok_or_else(|| format!("{text:?} is too large"))
}

/// MiB as `2G` when whole GiB, else `512M`.
fn mib(mb: u32) -> String {
    if mb.is_multiple_of(1024) { format!("{}G", mb / 1024) } else { format!("{mb}M") }
}

/// `--root` paths made absolute against the current directory (the daemon resolves them).
fn absolute_roots(roots: Vec<PathBuf>) -> Result<Vec<String>> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    roots
        .into_iter()
        .map(|root| {
            let root = cwd.join(root);
            root.to_str().map(str::to_owned).with_context(|| {
                format!("--root {}: only UTF-8 paths can be granted", root.display())
            })
        })
        .collect()
}

/// "at most 3 sessions" or "no session limit".
fn session_limit(max: Option<u32>) -> String {
    match max {
        Some(n) => format!("at most {n} session{}", plural(u64::from(n))),
        None => "no session limit".to_owned(),
    }
}

/// `"s"` unless `n` is 1.
pub(crate) fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::cli::Cli;

    #[test]
    fn set_admin_takes_a_strict_boolean() {
        assert!(Cli::try_parse_from(["llmux", "user", "set-admin", "ann", "true"]).is_ok());
        assert!(Cli::try_parse_from(["llmux", "user", "set-admin", "ann", "false"]).is_ok());
        assert!(Cli::try_parse_from(["llmux", "user", "set-admin", "ann", "maybe"]).is_err());
        assert!(Cli::try_parse_from(["llmux", "user", "set-admin", "ann"]).is_err());
    }

    #[test]
    fn memory_sizes_in_mib() {
        for (text, mb) in [
            ("512", 512),
            ("512M", 512),
            ("512m", 512),
            ("512MiB", 512),
            ("512 MB", 512),
            ("2G", 2048),
            ("2gib", 2048),
            ("1024G", 1_048_576),
            (" 64M ", 64),
        ] {
            assert_eq!(super::parse_mib(text), Ok(mb), "{text}");
        }
        for bad in ["", "M", "1.5G", "-1", "2T", "2K", "G2", "0x40", "4194304G"] {
            assert!(super::parse_mib(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            (super::mib(2048), super::mib(512), super::mib(1536)),
            ("2G".into(), "512M".into(), "1536M".into())
        );
    }

    #[test]
    fn edit_needs_a_change_and_no_contradictions() {
        let parse = |args: &[&str]| {
            let mut argv = vec!["llmux", "user", "edit", "bob"];
            argv.extend_from_slice(args);
            Cli::try_parse_from(argv)
        };
        assert!(parse(&[]).is_err(), "nothing to change");
        assert!(parse(&["--root", "/a", "--root", "b", "--max-sessions", "3"]).is_ok());
        assert!(parse(&["--default-roots", "--no-session-limit"]).is_ok());
        assert!(parse(&["--root", "/a", "--default-roots"]).is_err());
        assert!(parse(&["--max-sessions", "3", "--no-session-limit"]).is_err());
        assert!(parse(&["--max-session-memory", "2G"]).is_ok());
        assert!(parse(&["--no-memory-limit"]).is_ok());
        assert!(parse(&["--max-session-memory", "2G", "--no-memory-limit"]).is_err());
        assert!(parse(&["--max-session-memory", "lots"]).is_err());
        assert!(parse(&["--max-sessions", "many"]).is_err());
    }

    #[test]
    fn create_accepts_a_passphrase_starting_with_a_dash_only_with_equals() {
        let cli =
            Cli::try_parse_from(["llmux", "user", "create", "ann", "--admin", "--passphrase=-x-"]);
        assert!(format!("{:?}", cli.unwrap()).contains("\"-x-\""));
    }
}
