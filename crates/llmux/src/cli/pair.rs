//! `llmux pair`: a one-time link (and QR code) that signs a phone's browser in as you.
//!
//! The code travels in the URL's fragment (`/pair#code=…`), so it never reaches a server log;
//! it works once, within 5 minutes.

use std::io::Write;

use anyhow::Result;
use clap::Args;
use llmux_client::{Client, ServerUrl};
use serde_json::json;

use super::Ctx;
use crate::output;

/// What the local daemon's URL is assumed to be: the CLI reaches it over its socket and does
/// not know where (or whether) it listens on TCP.
const LOCAL_DEFAULT_URL: &str = "http://localhost:3001";

#[derive(Debug, Args)]
pub(crate) struct PairArgs {
    /// Base URL the phone opens [default: the server's URL; for the local daemon
    /// http://localhost:3001].
    #[arg(long, value_name = "BASE")]
    url: Option<String>,
}

impl PairArgs {
    pub async fn run(self, ctx: &Ctx) -> Result<u8> {
        let pairing = mint(&ctx.client()?, self.url.as_deref()).await?;
        if ctx.json {
            output::json(&pairing.to_json())?;
        } else {
            pairing.print()?;
        }
        Ok(0)
    }
}

/// A minted pairing link.
pub(crate) struct Pairing {
    url: String,
    expires_at: String,
    /// Said when the base URL is a guess.
    note: Option<&'static str>,
}

/// Mints a pairing code (`POST /api/pairing`) and builds its link on `base`, else the
/// client's server URL, else [`LOCAL_DEFAULT_URL`].
pub(crate) async fn mint(client: &Client, base: Option<&str>) -> Result<Pairing> {
    let (base, note) = match (base, client.server_url()) {
        (Some(base), _) => (ServerUrl::parse(base)?, None),
        (None, Some(server)) => (server.clone(), None),
        (None, None) => (
            ServerUrl::parse(LOCAL_DEFAULT_URL)?,
            Some(
                "the local daemon's default address; from another device, or if it listens \
                 elsewhere, pass --url http://HOST:PORT",
            ),
        ),
    };
    let res = client.create_pairing().await?;
    Ok(Pairing { url: base.join(&res.path), expires_at: res.expires_at, note })
}

impl Pairing {
    /// `{url, expiresAt}`.
    pub fn to_json(&self) -> serde_json::Value {
        json!({ "url": self.url, "expiresAt": self.expires_at })
    }

    /// The QR code, the link and how long it works.
    pub fn print(&self) -> Result<()> {
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "Scan to sign this phone in — the link works once, within 5 minutes (until {}):",
            self.expires_at
        )?;
        writeln!(out)?;
        writeln!(out, "{}", output::qr(&self.url)?)?;
        writeln!(out)?;
        output::line(&mut out, &format!("  {}", self.url));
        if let Some(note) = self.note {
            writeln!(out, "  ({note})")?;
        }
        Ok(())
    }
}
