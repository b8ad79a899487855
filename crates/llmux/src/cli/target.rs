//! Which daemon a command talks to, and with which credential.
//!
//! The server: `--server` > `--profile`'s server > `$LLMUX_SERVER` > the active profile > the
//! local daemon's Unix socket (no credential needed: the kernel vouches for the caller).
//!
//! The token, for that server: `--token` > `--profile`'s token > `$LLMUX_TOKEN` (only with a
//! server from `--server` or `$LLMUX_SERVER`) > the active profile's token when the server is
//! its own > a saved profile for that server. A saved token is only ever sent to the server it
//! was saved for, and `$LLMUX_TOKEN` never to a profile's server: an old exported token would
//! otherwise go to whatever server was logged in to last.

use std::fmt;

use anyhow::{Result, anyhow, bail};

use super::credentials::Credentials;
use crate::prompt;

/// What the command line and the environment say; no I/O here.
#[derive(Debug, Clone, Default)]
pub(crate) struct TargetInputs {
    /// `--server`.
    pub flag_server: Option<String>,
    /// `$LLMUX_SERVER`.
    pub env_server: Option<String>,
    /// `--token`.
    pub flag_token: Option<String>,
    /// `$LLMUX_TOKEN`.
    pub env_token: Option<String>,
    /// `--profile`.
    pub flag_profile: Option<String>,
}

impl TargetInputs {
    /// The flags, plus `$LLMUX_SERVER` and `$LLMUX_TOKEN` (empty counts as unset).
    pub fn with_env(
        flag_server: Option<String>,
        flag_token: Option<String>,
        flag_profile: Option<String>,
    ) -> TargetInputs {
        TargetInputs {
            flag_server,
            env_server: prompt::env("LLMUX_SERVER"),
            flag_token,
            env_token: prompt::env("LLMUX_TOKEN"),
            flag_profile,
        }
    }

    /// The server given by `--server` or `$LLMUX_SERVER`.
    pub fn server(&self) -> Option<&str> {
        self.flag_server.as_deref().or(self.env_server.as_deref())
    }
}

/// Where a server URL or a token came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    /// `--server` / `--token`.
    Flag,
    /// `$LLMUX_SERVER` / `$LLMUX_TOKEN`.
    Env,
    /// A profile of the credentials file.
    Profile(String),
}

/// The daemon a command talks to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// The local daemon, over its Unix socket.
    Local,
    /// A server over TCP.
    Remote(Remote),
}

/// A server over TCP, and the credential for it.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Remote {
    /// Its base URL, as given.
    pub url: String,
    /// Where the URL came from.
    pub server_from: Source,
    /// The bearer token, if any.
    pub token: Option<String>,
    /// Where the token came from.
    pub token_from: Option<Source>,
}

impl fmt::Debug for Remote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Remote")
            .field("url", &self.url)
            .field("server_from", &self.server_from)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("token_from", &self.token_from)
            .finish()
    }
}

impl Remote {
    /// The profile whose token is used, if one is.
    pub fn profile(&self) -> Option<&str> {
        match &self.token_from {
            Some(Source::Profile(name)) => Some(name),
            _ => None,
        }
    }
}

/// Resolves the target. `load` reads the credentials file; it is called only when the answer
/// depends on it (so `--server URL --token T` works even with a broken file).
pub(crate) fn resolve(
    inputs: &TargetInputs,
    load: impl FnOnce() -> Result<Credentials>,
) -> Result<Target> {
    let mut creds = Lazy { load: Some(load), value: None };

    if let Some(name) = &inputs.flag_profile {
        let profile = creds
            .get()?
            .profiles
            .get(name)
            .ok_or_else(|| anyhow!("no profile named '{name}'; see `llmux auth list`"))?;
        let (url, server_from) = match &inputs.flag_server {
            Some(url) => (url.clone(), Source::Flag),
            None => (profile.server_url.clone(), Source::Profile(name.clone())),
        };
        if let Some(token) = &inputs.flag_token {
            return Ok(remote(url, server_from, Some((token.clone(), Source::Flag))));
        }
        if !profile.is_for(&url) {
            bail!("profile '{name}' is for {}, not {url}", profile.server_url);
        }
        let token = (profile.token.clone(), Source::Profile(name.clone()));
        return Ok(remote(url, server_from, Some(token)));
    }

    let server = match (&inputs.flag_server, &inputs.env_server) {
        (Some(url), _) => Some((url.clone(), Source::Flag)),
        (None, Some(url)) => Some((url.clone(), Source::Env)),
        (None, None) => None,
    };
    if let Some((url, server_from)) = server {
        let token = match (&inputs.flag_token, &inputs.env_token) {
            (Some(token), _) => Some((token.clone(), Source::Flag)),
            (None, Some(token)) => Some((token.clone(), Source::Env)),
            (None, None) => creds
                .get()?
                .for_server(&url)
                .map(|(name, p)| (p.token.clone(), Source::Profile(name.to_owned()))),
        };
        return Ok(remote(url, server_from, token));
    }

    if let Some((name, profile)) = creds.get()?.active() {
        let token = match &inputs.flag_token {
            Some(token) => (token.clone(), Source::Flag),
            None => (profile.token.clone(), Source::Profile(name.to_owned())),
        };
        let url = profile.server_url.clone();
        return Ok(remote(url, Source::Profile(name.to_owned()), Some(token)));
    }

    if inputs.flag_token.is_some() {
        bail!("--token needs a server: pass --server URL or set LLMUX_SERVER");
    }
    Ok(Target::Local)
}

fn remote(url: String, server_from: Source, token: Option<(String, Source)>) -> Target {
    let (token, token_from) = token.map_or((None, None), |(t, s)| (Some(t), Some(s)));
    Target::Remote(Remote { url, server_from, token, token_from })
}

/// The credentials, read at most once and only when asked for.
struct Lazy<F> {
    load: Option<F>,
    value: Option<Credentials>,
}

impl<F: FnOnce() -> Result<Credentials>> Lazy<F> {
    fn get(&mut self) -> Result<&Credentials> {
        if self.value.is_none() {
            let load = self.load.take().expect("a failed load is not retried");
            self.value = Some(load()?);
        }
        Ok(self.value.as_ref().expect("loaded just above"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::credentials::Profile;

    fn creds() -> Credentials {
        let mut creds = Credentials::default();
        for (name, url, token, saved) in [
            ("box-3001", "https://box:3001", "t-box", "2026-01-01T00:00:00Z"),
            ("lab-443", "https://lab", "t-lab", "2026-01-02T00:00:00Z"),
        ] {
            creds.profiles.insert(
                name.into(),
                Profile {
                    server_url: url.into(),
                    username: "ann".into(),
                    token: token.into(),
                    saved_at: saved.into(),
                },
            );
        }
        creds.active = Some("lab-443".into());
        creds
    }

    fn inputs(
        flag_server: Option<&str>,
        env_server: Option<&str>,
        flag_token: Option<&str>,
        env_token: Option<&str>,
        flag_profile: Option<&str>,
    ) -> TargetInputs {
        TargetInputs {
            flag_server: flag_server.map(Into::into),
            env_server: env_server.map(Into::into),
            flag_token: flag_token.map(Into::into),
            env_token: env_token.map(Into::into),
            flag_profile: flag_profile.map(Into::into),
        }
    }

    /// (url, token) of a resolved remote target; `("local", "")` for the socket.
    fn resolved(i: TargetInputs, creds: Credentials) -> (String, String) {
        match resolve(&i, || Ok(creds)).unwrap() {
            Target::Local => ("local".into(), String::new()),
            Target::Remote(r) => (r.url, r.token.unwrap_or_default()),
        }
    }

    fn pair(url: &str, token: &str) -> (String, String) {
        (url.into(), token.into())
    }

    #[test]
    fn flags_beat_env_beat_the_active_profile_beats_the_socket() {
        let none = Credentials::default();
        assert_eq!(resolved(inputs(None, None, None, None, None), none.clone()), pair("local", ""));
        assert_eq!(
            resolved(inputs(None, None, None, None, None), creds()),
            pair("https://lab", "t-lab")
        );
        assert_eq!(
            resolved(inputs(None, Some("http://env"), None, Some("t-env"), None), creds()),
            pair("http://env", "t-env")
        );
        assert_eq!(
            resolved(
                inputs(
                    Some("http://flag"),
                    Some("http://env"),
                    Some("t-flag"),
                    Some("t-env"),
                    None
                ),
                creds()
            ),
            pair("http://flag", "t-flag")
        );
        // A flag server with the env token (the old CLI's usage).
        assert_eq!(
            resolved(inputs(Some("http://flag"), None, None, Some("t-env"), None), none),
            pair("http://flag", "t-env")
        );
        // --token alone applies to the active profile's server.
        assert_eq!(
            resolved(inputs(None, None, Some("t-flag"), None, None), creds()),
            pair("https://lab", "t-flag")
        );
    }

    #[test]
    fn a_server_without_a_token_uses_the_profile_saved_for_it() {
        assert_eq!(
            resolved(inputs(Some("https://BOX:3001/"), None, None, None, None), creds()),
            pair("https://BOX:3001/", "t-box")
        );
        assert_eq!(
            resolved(inputs(None, Some("https://box:3001"), None, None, None), creds()),
            pair("https://box:3001", "t-box")
        );
        // No saved profile for it: no token (the server will answer 401 with a hint).
        assert_eq!(
            resolved(inputs(Some("http://new:1"), None, None, None, None), creds()),
            pair("http://new:1", "")
        );
    }

    #[test]
    fn the_env_token_never_goes_to_a_profiles_server() {
        let t = resolve(&inputs(None, None, None, Some("t-env"), None), || Ok(creds())).unwrap();
        let Target::Remote(r) = t else { panic!("{t:?}") };
        assert_eq!((r.url.as_str(), r.token.as_deref()), ("https://lab", Some("t-lab")));
        assert_eq!(r.profile(), Some("lab-443"));
        // With no profile at all, LLMUX_TOKEN alone means nothing: the local socket.
        let t = resolve(&inputs(None, None, None, Some("t"), None), || Ok(Credentials::default()));
        assert_eq!(t.unwrap(), Target::Local);
    }

    #[test]
    fn an_explicit_profile_beats_the_env_server_and_must_match_a_flag_server() {
        let i = inputs(None, Some("http://env"), None, Some("t-env"), Some("box-3001"));
        assert_eq!(resolved(i, creds()), pair("https://box:3001", "t-box"));
        let i = inputs(Some("https://box:3001"), None, None, None, Some("box-3001"));
        assert_eq!(resolved(i, creds()), pair("https://box:3001", "t-box"));
        let i = inputs(Some("https://other"), None, None, None, Some("box-3001"));
        let e = resolve(&i, || Ok(creds())).unwrap_err().to_string();
        assert_eq!(e, "profile 'box-3001' is for https://box:3001, not https://other");
        let e = resolve(&inputs(None, None, None, None, Some("nope")), || Ok(creds()));
        assert!(e.unwrap_err().to_string().starts_with("no profile named 'nope'"));
    }

    #[test]
    fn the_file_is_read_only_when_needed() {
        let broken = || Err(anyhow!("invalid JSON"));
        let i = inputs(Some("http://flag"), None, Some("t"), None, None);
        assert!(resolve(&i, broken).is_ok());
        let i = inputs(None, Some("http://env"), None, Some("t"), None);
        assert!(resolve(&i, broken).is_ok());
        assert!(resolve(&inputs(None, None, None, None, None), broken).is_err());
    }

    #[test]
    fn a_token_without_any_server_is_an_error() {
        let e = resolve(&inputs(None, None, Some("t"), None, None), || Ok(Credentials::default()));
        assert!(e.unwrap_err().to_string().starts_with("--token needs a server"));
    }
}
