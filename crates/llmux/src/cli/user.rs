//! `llmux user …`: accounts (admins, or the local operator on the daemon's machine).

use anyhow::Result;
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
                        &["USERNAME", "NAME", "ADMIN", "CREATED"],
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
        output::ago(&u.created_at),
    ]
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
    fn create_accepts_a_passphrase_starting_with_a_dash_only_with_equals() {
        let cli =
            Cli::try_parse_from(["llmux", "user", "create", "ann", "--admin", "--passphrase=-x-"]);
        assert!(format!("{:?}", cli.unwrap()).contains("\"-x-\""));
    }
}
