//! Server URLs: `http://` or `https://`, a host, an optional port and path prefix.
//!
//! One canonical form (lower-case scheme and host, no default port, no trailing slash) so that
//! `https://Host:443/` and `https://host` name the same server when the CLI looks up the
//! credentials saved for it.

use std::fmt;

use hyper::Uri;

use crate::{Error, Result};

/// The base URL of an llmux server.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServerUrl {
    https: bool,
    /// Lower-case host; IPv6 literals keep their brackets.
    host: String,
    port: u16,
    /// Path prefix without a trailing slash (`""` or `/llmux`).
    prefix: String,
}

impl ServerUrl {
    /// Parses `http[s]://host[:port][/prefix]`.
    ///
    /// Refused: other schemes, a missing host, user info (`user:pass@`: credentials never go
    /// in a URL), a query or a fragment.
    pub fn parse(text: &str) -> Result<ServerUrl> {
        let invalid =
            |reason: &str| Error::InvalidUrl { url: text.to_owned(), reason: reason.into() };
        let trimmed = text.trim();
        if trimmed.contains('#') {
            return Err(invalid("a server URL has no #fragment"));
        }
        let uri: Uri = trimmed.parse().map_err(|e: hyper::http::uri::InvalidUri| {
            invalid(&format!("{e} (expected http://host:port or https://host)"))
        })?;
        let https = match uri.scheme_str().map(str::to_ascii_lowercase).as_deref() {
            Some("https") => true,
            Some("http") => false,
            Some(other) => {
                return Err(invalid(&format!("the scheme must be http or https, not {other}")));
            }
            None => return Err(invalid("it must start with http:// or https://")),
        };
        let authority = uri.authority().ok_or_else(|| invalid("it has no host"))?;
        if authority.as_str().contains('@') {
            return Err(invalid("credentials do not go in the URL"));
        }
        let host = authority.host().to_ascii_lowercase();
        if host.is_empty() {
            return Err(invalid("it has no host"));
        }
        if uri.query().is_some() {
            return Err(invalid("a server URL has no ?query"));
        }
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        let prefix = uri.path().trim_end_matches('/').to_owned();
        Ok(ServerUrl { https, host, port, prefix })
    }

    /// Whether the scheme is `https`.
    pub fn is_https(&self) -> bool {
        self.https
    }

    /// The host, lower case (IPv6 literals in brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port, explicit or the scheme's default (443, 80).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `<this URL><path>`, for a `path` starting with `/`.
    pub fn join(&self, path: &str) -> String {
        format!("{self}{path}")
    }
}

impl fmt::Display for ServerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (scheme, default_port) = if self.https { ("https", 443) } else { ("http", 80) };
        write!(f, "{scheme}://{}", self.host)?;
        if self.port != default_port {
            write!(f, ":{}", self.port)?;
        }
        f.write_str(&self.prefix)
    }
}

impl std::str::FromStr for ServerUrl {
    type Err = Error;

    fn from_str(s: &str) -> Result<ServerUrl> {
        ServerUrl::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::ServerUrl;

    #[test]
    fn canonical_form_drops_default_ports_case_and_trailing_slashes() {
        let url = ServerUrl::parse("HTTPS://Box.Tailnet:443/").unwrap();
        assert_eq!(url.to_string(), "https://box.tailnet");
        assert_eq!((url.host(), url.port(), url.is_https()), ("box.tailnet", 443, true));
        assert_eq!(url, ServerUrl::parse("https://box.tailnet").unwrap());

        let url = ServerUrl::parse(" http://127.0.0.1:3001/llmux/ ").unwrap();
        assert_eq!(url.to_string(), "http://127.0.0.1:3001/llmux");
        assert_eq!(url.join("/api/version"), "http://127.0.0.1:3001/llmux/api/version");

        let url = ServerUrl::parse("http://[::1]:3001").unwrap();
        assert_eq!((url.host(), url.port()), ("[::1]", 3001));
        assert_eq!(ServerUrl::parse("http://h").unwrap().port(), 80);
    }

    #[test]
    fn refuses_what_is_not_a_server_base() {
        for bad in [
            "",
            "localhost:3001",
            "ftp://host",
            "ws://host",
            "http://user:pw@host",
            "http://host/?token=x",
            "http://host/#token=x",
            "http://",
            "/api",
        ] {
            assert!(ServerUrl::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
