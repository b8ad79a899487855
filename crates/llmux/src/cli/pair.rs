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

#[derive(Debug, Args)]
pub(crate) struct PairArgs {
    /// Base URL the phone opens [default: the server's URL; for the local daemon the address
    /// it reports: its server.publicUrl, a Tailscale name, or where it listens].
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
    /// Said when a phone cannot open the link as it is.
    note: Option<&'static str>,
}

/// Said under a link whose host is this machine's loopback.
const LOOPBACK_NOTE: &str = "this is a loopback address: a phone cannot open it. Set      server.publicUrl in the config to an address the phone can reach (for example the      https://….ts.net name that `tailscale serve` gives), or pass --url http://HOST:PORT";

/// Mints a pairing code (`POST /api/pairing`) and builds its link on `base`, else the
/// client's server URL, else the address the daemon reports for itself.
pub(crate) async fn mint(client: &Client, base: Option<&str>) -> Result<Pairing> {
    let base = match (base, client.server_url()) {
        (Some(base), _) => Some(ServerUrl::parse(base)?),
        (None, Some(server)) => Some(server.clone()),
        (None, None) => None,
    };
    let res = client.create_pairing().await?;
    let url = match (base, res.url) {
        (Some(base), _) => base.join(&res.path),
        (None, Some(url)) => url,
        (None, None) => {
            anyhow::bail!("the daemon did not say its address; pass --url http://HOST:PORT")
        }
    };
    let note = is_loopback(&url).then_some(LOOPBACK_NOTE);
    Ok(Pairing { url, expires_at: res.expires_at, note })
}

/// Whether `url`'s host is this machine only (`localhost`, `127.0.0.0/8`, `[::1]`).
fn is_loopback(url: &str) -> bool {
    let Ok(parsed) = ServerUrl::parse(url.split('#').next().unwrap_or(url)) else {
        return false;
    };
    let host = parsed.host().trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host.ends_with(".localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl Pairing {
    /// `{url, expiresAt}`, and `note` when a phone cannot open the link as it is.
    pub fn to_json(&self) -> serde_json::Value {
        let mut value = json!({ "url": self.url, "expiresAt": self.expires_at });
        if let Some(note) = self.note {
            value["note"] = note.into();
        }
        value
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
            writeln!(out)?;
            writeln!(out, "Note: {note}.")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn loopback_hosts_are_recognised() {
        for url in ["http://localhost:3101/pair#code=x", "http://127.0.0.1:1", "http://[::1]:80"] {
            assert!(super::is_loopback(url), "{url}");
        }
        for url in ["https://box.tail1.ts.net/pair#code=x", "http://192.168.1.5:3101"] {
            assert!(!super::is_loopback(url), "{url}");
        }
    }
}
