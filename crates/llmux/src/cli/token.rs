//! `llmux token …`: API tokens, shown once at creation, stored hashed by the daemon.

use std::io::Write;

use anyhow::Result;
use clap::{ArgGroup, Args, Subcommand};
use llmux_api::{CreateTokenRequest, TokenScope, TokenView};
use llmux_core::time::{now_ms, parse_rfc3339_ms, rfc3339_ms};
use serde_json::json;

use super::Ctx;
use super::pair;
use super::user::plural;
use crate::{output, prompt};

#[derive(Debug, Subcommand)]
pub(crate) enum TokenCmd {
    /// Mint an API token; its value is printed this once.
    Create(CreateArgs),
    /// List tokens: yours, or everyone's with --all (admins).
    #[command(visible_alias = "ls")]
    List {
        /// Every user's tokens (admins only).
        #[arg(long)]
        all: bool,
    },
    /// Rename a token.
    Rename {
        /// Token id (see `llmux token list`).
        id: String,
        /// New label.
        name: String,
    },
    /// Revoke a token, or every token of a user with --all.
    Revoke(RevokeArgs),
}

#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    /// Label [default: `<user>-<date>`].
    #[arg(long)]
    name: Option<String>,
    /// What it may do [default: user; admin and metrics (read /metrics only) for admins].
    #[arg(long, value_parser = parse_scope, value_name = "admin|user|read-only|metrics")]
    scope: Option<TokenScope>,
    /// Expiry: a duration from now (`12h`, `30d`, `2w`) or an RFC 3339 time [default: never].
    #[arg(long, value_parser = parse_expires_from_now, value_name = "30d|RFC3339")]
    expires: Option<String>,
    /// Mint it for another user (admins only).
    #[arg(long, value_name = "USERNAME")]
    user: Option<String>,
    /// Also print a QR code with a one-time link that signs a phone's browser in as you.
    #[arg(long, conflicts_with = "user")]
    qr: bool,
    /// Base URL the phone opens for --qr [default: the server's URL; for the local daemon the
    /// address it reports].
    #[arg(long, requires = "qr", value_name = "BASE")]
    url: Option<String>,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("which").required(true).args(["id", "all"])))]
pub(crate) struct RevokeArgs {
    /// Token id (see `llmux token list`).
    id: Option<String>,
    /// Revoke every token of a user (yours, or --user's), including the one this command
    /// may be using.
    #[arg(long)]
    all: bool,
    /// With --all: whose tokens (admins may name anyone).
    // With the `which` group, conflicting with the id means "only with --all" (`requires`
    // counts --all's default `false` as present).
    #[arg(long, conflicts_with = "id", value_name = "USERNAME")]
    user: Option<String>,
    /// Do not ask for confirmation (required without a terminal).
    #[arg(long, short)]
    yes: bool,
}

impl TokenCmd {
    pub async fn run(self, ctx: &Ctx) -> Result<u8> {
        let client = ctx.client()?;
        match self {
            TokenCmd::Create(args) => {
                let req = CreateTokenRequest {
                    name: args.name,
                    scope: args.scope,
                    expires_at: args.expires,
                    username: args.user,
                };
                let created = client.create_token(&req).await?;
                let t = &created.token;
                if ctx.json && !args.qr {
                    output::json(&created)?;
                    return Ok(0);
                }
                if !ctx.json {
                    let expires = t.expires_at.as_deref().unwrap_or("never");
                    let mut out = std::io::stdout().lock();
                    output::line(
                        &mut out,
                        &format!(
                            "token created (id: {}) \"{}\" for {} (scope {}, expires {expires})",
                            t.id,
                            t.name,
                            t.username,
                            t.scope.as_str()
                        ),
                    );
                    writeln!(out)?;
                    writeln!(out, "  {}", created.value)?;
                    writeln!(out)?;
                    writeln!(
                        out,
                        "Save this token now — it is shown once. Scripts and API clients send \
                         it as `Authorization: Bearer <token>`; the CLI takes it with \
                         `llmux --server URL --token <token>` or in the LLMUX_TOKEN env var. \
                         Browsers sign in with a passphrase or `llmux pair`, and another \
                         machine's CLI with `llmux auth login`, not with this token."
                    )?;
                }
                if args.qr {
                    if !ctx.json {
                        output::say!();
                    }
                    let pairing = pair::mint(&client, args.url.as_deref()).await?;
                    if ctx.json {
                        let mut value = serde_json::to_value(&created)?;
                        value["pairing"] = pairing.to_json();
                        output::json(&value)?;
                    } else {
                        pairing.print()?;
                    }
                }
            }
            TokenCmd::List { all } => {
                let tokens = client.list_tokens(all).await?;
                if ctx.json {
                    output::json(&tokens)?;
                } else if tokens.is_empty() {
                    if client.server_url().is_none() {
                        // The local operator has no account: a token is always someone's.
                        output::say!("no tokens; create one with `llmux token create --user NAME`");
                    } else {
                        output::say!("no tokens; create one with `llmux token create`");
                    }
                } else {
                    output::table(
                        &["ID", "USER", "NAME", "SCOPE", "CREATED", "EXPIRES", "LAST-USED"],
                        &tokens.iter().map(row).collect::<Vec<_>>(),
                    )?;
                }
            }
            TokenCmd::Rename { id, name } => {
                let token = client.rename_token(&id, &name).await?;
                if ctx.json {
                    output::json(&token)?;
                } else {
                    output::say!("renamed {} → \"{}\"", token.id, token.name);
                }
            }
            TokenCmd::Revoke(RevokeArgs { id: Some(id), .. }) => {
                client.revoke_token(&id).await?;
                if ctx.json {
                    output::json(&json!({"ok": true, "id": id}))?;
                } else {
                    output::say!("revoked {id}");
                }
            }
            TokenCmd::Revoke(RevokeArgs { id: None, user, yes, .. }) => {
                let whose = match &user {
                    Some(u) => format!("of user \"{u}\""),
                    None => "of yours".to_owned(),
                };
                let question = format!("Revoke ALL tokens {whose}?");
                if !prompt::confirm(&question, yes, "token revoke --all").await? {
                    output::say!("cancelled");
                    return Ok(0);
                }
                let res = client.revoke_tokens(user.as_deref()).await?;
                if ctx.json {
                    output::json(&res)?;
                } else if res.revoked_tokens == 0 {
                    output::say!("no tokens {whose} to revoke");
                } else {
                    output::say!(
                        "revoked {} token{}",
                        res.revoked_tokens,
                        plural(res.revoked_tokens)
                    );
                }
            }
        }
        Ok(0)
    }
}

fn row(t: &TokenView) -> Vec<String> {
    vec![
        t.id.clone(),
        t.username.clone(),
        match (&t.imported_from, t.name.is_empty()) {
            (Some(from), _) => format!("{} (imported from {from})", t.name),
            (None, true) => "-".into(),
            (None, false) => t.name.clone(),
        },
        t.scope.as_str().to_owned(),
        output::ago(&t.created_at),
        t.expires_at.as_deref().map_or_else(|| "never".into(), output::until),
        t.last_used_at.as_deref().map_or_else(|| "never".into(), output::ago),
    ]
}

fn parse_scope(text: &str) -> Result<TokenScope, String> {
    TokenScope::parse(text)
        .ok_or_else(|| format!("expected admin, user, read-only or metrics (got {text:?})"))
}

fn parse_expires_from_now(text: &str) -> Result<String, String> {
    parse_expires(text, now_ms())
}

/// The longest duration `--expires` takes: a hundred years.
const MAX_EXPIRY_MS: i64 = 36_500 * 86_400_000;

/// `--expires`: `<N>h`, `<N>d`, `<N>w` from `now_ms`, or an RFC 3339 time after it; the
/// result is RFC 3339 in UTC.
pub(crate) fn parse_expires(text: &str, now_ms: i64) -> Result<String, String> {
    let text = text.trim();
    let unit_ms = match text.chars().last() {
        Some('h') => Some(3_600_000),
        Some('d') => Some(86_400_000),
        Some('w') => Some(7 * 86_400_000),
        _ => None,
    };
    let count = &text[..text.len().saturating_sub(1)];
    if let Some(unit_ms) = unit_ms
        && !count.is_empty()
        && count.bytes().all(|b| b.is_ascii_digit())
    {
        let ms = count
            .parse::<i64>()
            .ok()
            .and_then(|n| n.checked_mul(unit_ms))
            .filter(|&ms| ms <= MAX_EXPIRY_MS)
            .ok_or_else(|| format!("{text:?} is too far away (at most 36500d)"))?;
        if ms == 0 {
            return Err(format!("{text:?} would expire at once"));
        }
        return Ok(rfc3339_ms(now_ms + ms));
    }
    let at = parse_rfc3339_ms(text).ok_or_else(|| {
        format!(
            "expected a duration like 12h, 30d or 2w, or an RFC 3339 time like \
             2027-01-31T00:00:00Z (got {text:?})"
        )
    })?;
    if at <= now_ms {
        return Err(format!("{text:?} is in the past"));
    }
    Ok(rfc3339_ms(at))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::parse_expires;
    use crate::cli::Cli;

    /// 2026-01-01T00:00:00Z.
    const NOW: i64 = 1_767_225_600_000;

    #[test]
    fn expires_takes_durations_and_future_times() {
        assert_eq!(parse_expires("30d", NOW).unwrap(), "2026-01-31T00:00:00Z");
        assert_eq!(parse_expires("12h", NOW).unwrap(), "2026-01-01T12:00:00Z");
        assert_eq!(parse_expires("2w", NOW).unwrap(), "2026-01-15T00:00:00Z");
        assert_eq!(
            parse_expires("2026-03-01T10:00:00+01:00", NOW).unwrap(),
            "2026-03-01T09:00:00Z"
        );
        for bad in ["", "d", "30", "-1d", "1.5d", "30x", "0d", "99999999999999d", "tomorrow"] {
            assert!(parse_expires(bad, NOW).is_err(), "{bad:?} was accepted");
        }
        assert!(parse_expires("2025-12-31T23:59:59Z", NOW).unwrap_err().contains("in the past"));
    }

    #[test]
    fn create_flags_parse_and_check_each_other() {
        let ok = |args: &[&str]| {
            let mut argv = vec!["llmux", "token", "create"];
            argv.extend_from_slice(args);
            Cli::try_parse_from(argv)
        };
        let cli = ok(&["--scope", "read-only", "--expires", "30d", "--name", "ci"]).unwrap();
        assert!(format!("{cli:?}").contains("ReadOnly"));
        assert!(ok(&["--scope", "root"]).is_err());
        assert!(ok(&["--expires", "soon"]).is_err());
        assert!(ok(&["--qr", "--url", "https://box:3001"]).is_ok());
        assert!(ok(&["--url", "https://box:3001"]).is_err(), "--url needs --qr");
        assert!(ok(&["--qr", "--user", "bob"]).is_err(), "a QR signs in the caller, not bob");
    }

    #[test]
    fn revoke_takes_an_id_or_all() {
        let parse = |args: &[&str]| {
            let mut argv = vec!["llmux", "token", "revoke"];
            argv.extend_from_slice(args);
            Cli::try_parse_from(argv)
        };
        assert!(parse(&["abc"]).is_ok());
        assert!(parse(&["--all", "--yes"]).is_ok());
        assert!(parse(&["--all", "--user", "bob"]).is_ok());
        assert!(parse(&[]).is_err());
        assert!(parse(&["abc", "--all"]).is_err());
        assert!(parse(&["abc", "--user", "bob"]).is_err(), "--user only with --all");
    }
}
