//! What a host is called and where it is, checked at the edge: a name or an SSH target that
//! could be read as an option (`-oProxyCommand=…`) or carry shell or control characters never
//! reaches `ssh`'s argv.

use llmux_core::Error;

/// A host's name on the hub: `[A-Za-z0-9][A-Za-z0-9._-]{0,63}`, like a session name, so
/// `host:session` is unambiguous (session names have no `:`).
pub fn validate_host_name(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "invalid host name {name:?}: use 1-64 letters, digits, '.', '_' or '-', starting \
             with a letter or digit"
        )))
    }
}

/// An SSH target `[user@]host[:port]`, split and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshTarget {
    /// The remote user, if given (else ssh's config or the hub's user).
    pub user: Option<String>,
    /// Host name, address, or an alias of the ssh config.
    pub host: String,
    /// Port, if given.
    pub port: Option<u16>,
}

impl SshTarget {
    /// Parses `[user@]host[:port]` (an IPv6 address in brackets: `[::1]:22`).
    pub fn parse(text: &str) -> Result<SshTarget, Error> {
        let bad = |why: &str| Error::invalid(format!("invalid SSH target {text:?}: {why}"));
        let (user, rest) = match text.rsplit_once('@') {
            Some((user, rest)) => (Some(user), rest),
            None => (None, text),
        };
        let (host, port) = if let Some(inner) = rest.strip_prefix('[') {
            let (host, after) = inner.split_once(']').ok_or_else(|| bad("unclosed '['"))?;
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or_else(|| bad("junk after ']'"))?),
            };
            (host, port)
        } else {
            match rest.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (rest, None),
            }
        };
        let port = port
            .map(|p| p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| bad("bad port")))
            .transpose()?;
        let word = |w: &str| {
            !w.is_empty()
                && w.len() <= 253
                && !w.starts_with('-')
                && w.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':'))
        };
        if !word(host) {
            return Err(bad("the host must be a name or address, not starting with '-'"));
        }
        if let Some(u) = user
            && (!word(u) || u.contains(':'))
        {
            return Err(bad("the user must be a plain name, not starting with '-'"));
        }
        Ok(SshTarget { user: user.map(str::to_owned), host: host.to_owned(), port })
    }

    /// `user@host` or `host`: ssh's destination argument (placed after `--`).
    pub fn destination(&self) -> String {
        match &self.user {
            Some(u) => format!("{u}@{}", self.host),
            None => self.host.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_are_plain_words() {
        for ok in ["gpu", "box-1", "a.b_c", "9"] {
            validate_host_name(ok).unwrap();
        }
        for bad in ["", "-oProxyCommand=x", "a:b", "a b", "a/b", ".x", &"x".repeat(65)] {
            assert!(validate_host_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ssh_targets_split_and_refuse_options() {
        let t = SshTarget::parse("me@box.lan:2222").unwrap();
        assert_eq!(
            (t.user.as_deref(), t.host.as_str(), t.port),
            (Some("me"), "box.lan", Some(2222))
        );
        assert_eq!(t.destination(), "me@box.lan");
        let t = SshTarget::parse("10.0.0.2").unwrap();
        assert_eq!((t.user, t.port), (None, None));
        let t = SshTarget::parse("[fd00::2]:22").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("fd00::2", Some(22)));
        for bad in [
            "-oProxyCommand=touch /tmp/x",
            "me@-oProxyCommand=x",
            "-l@box",
            "box:0",
            "box:99999",
            "box;rm",
            "me@box x",
            "",
            "me@",
        ] {
            assert!(SshTarget::parse(bad).is_err(), "{bad:?}");
        }
    }
}
