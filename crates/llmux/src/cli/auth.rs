//! `llmux auth …`: sign this machine in to a server and manage the saved profiles.
//!
//! `login` trades a username and passphrase for a device token and saves it as a profile of
//! the credentials file (see [`super::credentials`]); later commands find it by server or as
//! the active profile (see [`super::target`]). Tokens are never printed.

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use llmux_api::LoginRequest;
use llmux_client::{Client, ServerUrl};
use serde_json::json;

use super::Ctx;
use super::credentials::{CredentialsFile, Profile, default_profile_name};
use super::target::{Source, Target};
use crate::{output, prompt};

#[derive(Debug, Subcommand)]
pub(crate) enum AuthCmd {
    /// Sign in to a server and save a device token for it as a profile (made active).
    ///
    /// The server comes from --server or LLMUX_SERVER (or, to sign in again, --profile). The
    /// passphrase comes from LLMUX_PASSPHRASE or is asked for without echo. The token is named
    /// `<user>@<this host>` and saved in ~/.config/llmux/credentials.json (mode 0600) under
    /// --profile, by default `<host>-<port>` of the server.
    Login {
        /// Username [default: the profile's, when signing in again; else asked for].
        #[arg(long, short)]
        username: Option<String>,
    },
    /// Revoke the profile's token on its server and forget the profile.
    ///
    /// Uses --profile or the active profile. The profile is removed locally even when the
    /// server cannot be reached.
    Logout {
        /// Only forget the profile; leave the token valid on the server.
        #[arg(long)]
        no_revoke: bool,
    },
    /// Who the server sees: user, server, credential and its scope.
    Whoami,
    /// The saved profiles (`*` marks the active one).
    #[command(visible_alias = "ls")]
    List,
    /// Make a profile the active one: commands without --server then go to its server.
    Use {
        /// Profile name.
        #[arg(required_unless_present = "local")]
        name: Option<String>,
        /// No active profile: commands go to the local daemon again.
        #[arg(long, conflicts_with = "name")]
        local: bool,
    },
}

impl AuthCmd {
    pub async fn run(self, ctx: &Ctx) -> Result<u8> {
        match self {
            AuthCmd::Login { username } => login(ctx, username).await,
            AuthCmd::Logout { no_revoke } => logout(ctx, no_revoke).await,
            AuthCmd::Whoami => whoami(ctx).await,
            AuthCmd::List => list(ctx),
            AuthCmd::Use { name, local } => use_profile(ctx, name, local),
        }
    }
}

async fn login(ctx: &Ctx, username: Option<String>) -> Result<u8> {
    let file = CredentialsFile::default_location()?;
    let mut creds = file.load()?;
    let existing = ctx.inputs.flag_profile.as_ref().and_then(|p| creds.profiles.get(p)).cloned();
    let server = match (ctx.inputs.server(), &existing) {
        (Some(server), _) => server.to_owned(),
        (None, Some(profile)) => profile.server_url.clone(),
        (None, None) => bail!("auth login requires --server <url> or LLMUX_SERVER"),
    };
    let url = ServerUrl::parse(&server)?;
    let username = match username.or_else(|| existing.as_ref().map(|p| p.username.clone())) {
        Some(u) => u,
        None if prompt::is_interactive() => prompt::line(&format!("Username for {url}: ")).await?,
        None => bail!("auth login requires --username <name>"),
    };
    if username.is_empty() {
        bail!("auth login requires --username <name>");
    }
    let passphrase = prompt::secret(
        "LLMUX_PASSPHRASE",
        &format!("Passphrase for {username}@{url}: "),
        "passphrase required: set LLMUX_PASSPHRASE (stdin is not a TTY)",
    )?;
    let device_name = format!("{username}@{}", hostname());
    let client = Client::remote(&url.to_string(), None)?;
    let req =
        LoginRequest { username: username.clone(), passphrase, device_name: Some(device_name) };
    let res = match client.login(&req).await {
        Ok(res) => res,
        Err(llmux_client::Error::Unauthorized { message, .. }) => {
            bail!("auth login failed: {message}")
        }
        Err(e) => return Err(e.into()),
    };
    let token = res.token.context(
        "the server signed in but returned no device token (is it an llmux server with accounts?)",
    )?;
    let token_name = res.token_info.as_ref().map(|t| t.name.clone()).unwrap_or_default();

    let name = ctx.inputs.flag_profile.clone().unwrap_or_else(|| default_profile_name(&server));
    let replaced = creds.profiles.insert(
        name.clone(),
        Profile {
            server_url: url.to_string(),
            username: res.user.username.clone(),
            token,
            saved_at: llmux_core::time::rfc3339_ms(llmux_core::time::now_ms()),
        },
    );
    creds.active = Some(name.clone());
    file.save(&creds)?;
    // The token this profile held before is forgotten now: revoke it (best effort).
    if let Some(old) = replaced
        && let Ok(old_client) = Client::remote(&old.server_url, Some(old.token))
    {
        let _ = old_client.logout().await;
    }

    if ctx.json {
        output::json(&json!({
            "ok": true,
            "profileName": name,
            "serverUrl": url.to_string(),
            "username": res.user.username,
            "tokenName": token_name,
        }))?;
    } else {
        output::say!(
            "logged in as {} → profile \"{name}\" (saved to {})",
            res.user.username,
            file.display()
        );
    }
    Ok(0)
}

async fn logout(ctx: &Ctx, no_revoke: bool) -> Result<u8> {
    let file = CredentialsFile::default_location()?;
    let mut creds = file.load()?;
    let name = match ctx.inputs.flag_profile.clone().or_else(|| creds.active.clone()) {
        Some(name) => name,
        None => bail!("auth logout: no active profile to log out (name one with --profile)"),
    };
    let profile = creds
        .profiles
        .remove(&name)
        .with_context(|| format!("no profile named '{name}'; see `llmux auth list`"))?;
    let revoke_error = if no_revoke {
        None
    } else {
        let revoked = match Client::remote(&profile.server_url, Some(profile.token.clone())) {
            Ok(client) => client.logout().await.map_err(anyhow::Error::from),
            Err(e) => Err(e.into()),
        };
        revoked.err()
    };
    if creds.active.as_deref() == Some(name.as_str()) {
        creds.active = None;
    }
    file.save(&creds)?;
    if ctx.json {
        output::json(&json!({
            "ok": true,
            "profileName": name,
            "revoked": !no_revoke && revoke_error.is_none(),
            "revokeError": revoke_error.as_ref().map(|e| format!("{e:#}")),
        }))?;
    } else {
        match &revoke_error {
            None => output::say!("logged out of profile \"{name}\""),
            Some(e) => output::say!(
                "logged out of profile \"{name}\" (server revoke failed — local profile removed \
                 anyway: {e:#})"
            ),
        }
    }
    Ok(0)
}

async fn whoami(ctx: &Ctx) -> Result<u8> {
    let target = ctx.target()?;
    let me = ctx.client_for(&target)?.whoami().await?;
    let (server, profile) = match &target {
        Target::Local => (format!("local daemon ({})", ctx.paths.socket.display()), None),
        Target::Remote(r) => (
            ServerUrl::parse(&r.url).map(|u| u.to_string()).unwrap_or_else(|_| r.url.clone()),
            match &r.server_from {
                Source::Profile(name) => Some(name.clone()),
                _ => r.profile().map(str::to_owned),
            },
        ),
    };
    if ctx.json {
        let mut value = serde_json::to_value(&me)?;
        value["server"] = json!(server);
        value["profile"] = json!(profile);
        output::json(&value)?;
        return Ok(0);
    }
    let user = if me.username.is_empty() {
        me.name.clone()
    } else if me.name.is_empty() || me.name == me.username {
        me.username.clone()
    } else {
        format!("{} ({})", me.username, me.name)
    };
    let admin = if me.admin { " [admin]" } else { "" };
    output::say!("user     {user}{admin}");
    output::say!("server   {server}");
    if let Some(profile) = &profile {
        output::say!("profile  {profile}");
    }
    output::say!("via      {}", me.via);
    if let Some(scope) = me.scope {
        output::say!("scope    {}", scope.as_str());
    }
    if let Some(id) = &me.token_id {
        output::say!("token    {id}");
    }
    Ok(0)
}

fn list(ctx: &Ctx) -> Result<u8> {
    let file = CredentialsFile::default_location()?;
    let creds = file.load()?;
    let active = creds.active.as_deref();
    if ctx.json {
        // Never the token.
        let rows: Vec<_> = creds
            .profiles
            .iter()
            .map(|(name, p)| {
                json!({
                    "name": name,
                    "active": Some(name.as_str()) == active,
                    "serverUrl": p.server_url,
                    "username": p.username,
                    "savedAt": p.saved_at,
                })
            })
            .collect();
        output::json(&rows)?;
        return Ok(0);
    }
    if creds.profiles.is_empty() {
        output::say!("no profiles saved — run `llmux auth login --server <url> --username <u>`");
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = creds
        .profiles
        .iter()
        .map(|(name, p)| {
            vec![
                if Some(name.as_str()) == active { "*".into() } else { " ".into() },
                name.clone(),
                p.username.clone(),
                p.server_url.clone(),
                output::ago(&p.saved_at),
            ]
        })
        .collect();
    output::table(&["", "PROFILE", "USER", "SERVER", "SAVED"], &rows)?;
    Ok(0)
}

fn use_profile(ctx: &Ctx, name: Option<String>, local: bool) -> Result<u8> {
    let file = CredentialsFile::default_location()?;
    let mut creds = file.load()?;
    match name {
        Some(name) if !local => {
            if !creds.profiles.contains_key(&name) {
                bail!("no profile named '{name}'; see `llmux auth list`");
            }
            creds.active = Some(name);
        }
        _ => creds.active = None,
    }
    file.save(&creds)?;
    if ctx.json {
        output::json(&json!({ "ok": true, "active": creds.active }))?;
    } else {
        match &creds.active {
            Some(name) => output::say!("active profile: {name}"),
            None => output::say!("no active profile: commands go to the local daemon"),
        }
    }
    Ok(0)
}

/// This machine's name, for naming device tokens.
fn hostname() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| prompt::env("HOSTNAME"))
        .unwrap_or_else(|| "unknown-host".to_owned())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::cli::Cli;

    #[test]
    fn login_takes_the_global_server_and_profile_flags_after_the_verb() {
        let cli = Cli::try_parse_from([
            "llmux",
            "auth",
            "login",
            "--server",
            "https://box:3001",
            "-u",
            "ann",
            "--profile",
            "p",
        ])
        .unwrap();
        assert_eq!(cli.server.as_deref(), Some("https://box:3001"));
        assert_eq!(cli.profile.as_deref(), Some("p"));
    }

    #[test]
    fn use_needs_a_name_or_local_but_not_both() {
        assert!(Cli::try_parse_from(["llmux", "auth", "use"]).is_err());
        assert!(Cli::try_parse_from(["llmux", "auth", "use", "p"]).is_ok());
        assert!(Cli::try_parse_from(["llmux", "auth", "use", "--local"]).is_ok());
        assert!(Cli::try_parse_from(["llmux", "auth", "use", "p", "--local"]).is_err());
    }
}
