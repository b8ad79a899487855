//! Unix accounts, for the system daemon (`server.mode: system`, run as root): each llmux user
//! maps to an account, and that user's tmux server and agents run with its uid, groups and
//! HOME.

use std::path::PathBuf;

use crate::error::{Error, Result};

/// One Unix account, from the password database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Login name.
    pub name: String,
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// HOME.
    pub home: PathBuf,
}

impl Account {
    /// Looks `name` up with `getent passwd` (NSS: local files, LDAP, sssd alike). Blocking.
    pub fn lookup(name: &str) -> Result<Option<Account>> {
        let valid = !name.is_empty()
            && name.len() <= 32
            && !name.starts_with('-')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if !valid {
            return Err(Error::invalid(format!("invalid Unix account name {name:?}")));
        }
        let out = std::process::Command::new("getent")
            .args(["passwd", "--", name])
            .output()
            .map_err(|e| Error::io("cannot run getent", e))?;
        if !out.status.success() {
            return Ok(None);
        }
        Ok(parse_passwd(&String::from_utf8_lossy(&out.stdout)).filter(|a| a.name == name))
    }

    /// Makes the Unix account `name` (`useradd --create-home --user-group`, shell
    /// `/bin/bash`). Root only; an existing account of that name is refused. Blocking.
    pub fn create(name: &str) -> Result<Account> {
        if !rustix::process::getuid().is_root() {
            return Err(Error::invalid(
                "only a system daemon (run as root) can make Unix accounts",
            ));
        }
        if name.len() > 32 {
            return Err(Error::invalid(format!(
                "{name:?} is too long for a Unix account name; make an account by hand and map \
                 it with --unix-account"
            )));
        }
        if Account::lookup(name)?.is_some() {
            return Err(Error::Conflict(format!(
                "a Unix account {name:?} exists already; map it with --unix-account {name}"
            )));
        }
        let out = std::process::Command::new("useradd")
            .args(["--create-home", "--user-group", "--shell", "/bin/bash", "--", name])
            .output()
            .map_err(|e| Error::io("cannot run useradd", e))?;
        if !out.status.success() {
            let why = String::from_utf8_lossy(&out.stderr).trim().to_owned();
            return Err(Error::invalid(format!("useradd {name} failed: {why}")));
        }
        Account::lookup(name)?
            .ok_or_else(|| Error::invalid(format!("useradd made no account {name:?}")))
    }

    /// Looks the account running as `uid` up (`getent passwd <uid>`). Blocking.
    pub fn lookup_uid(uid: u32) -> Result<Option<Account>> {
        let out = std::process::Command::new("getent")
            .args(["passwd", &uid.to_string()])
            .output()
            .map_err(|e| Error::io("cannot run getent", e))?;
        if !out.status.success() {
            return Ok(None);
        }
        Ok(parse_passwd(&String::from_utf8_lossy(&out.stdout)).filter(|a| a.uid == uid))
    }

    /// Refuses an account llmux must never run a user's agents as: root, or the daemon's own.
    pub fn check_mappable(&self) -> Result<()> {
        let daemon = rustix::process::getuid().as_raw();
        if self.uid == 0 || self.uid == daemon {
            return Err(Error::invalid(format!(
                "Unix account {:?} (uid {}) is {}; map the user to an account of their own",
                self.name,
                self.uid,
                if self.uid == 0 { "root" } else { "the daemon's own" }
            )));
        }
        Ok(())
    }

    /// Whether the account may walk to `path`: every dir above it lets it search. Mode bits
    /// only, and on the safe side for what the sandbox hides: a dir whose group may search
    /// counts as searchable (the account may be in that group). Blocking (a stat per dir).
    pub fn can_reach(&self, path: &std::path::Path) -> bool {
        use std::os::unix::fs::MetadataExt;
        path.ancestors().skip(1).all(|dir| match std::fs::metadata(dir) {
            Ok(meta) if meta.uid() == self.uid => meta.mode() & 0o100 != 0,
            Ok(meta) => meta.mode() & 0o011 != 0,
            Err(_) => true,
        })
    }

    /// The argv prefix that runs a command as this account: `setpriv` with its uid, primary
    /// group and supplementary groups (`--init-groups`), nothing of root's kept.
    pub fn setpriv(&self) -> Vec<String> {
        vec![
            "setpriv".into(),
            format!("--reuid={}", self.uid),
            format!("--regid={}", self.gid),
            "--init-groups".into(),
            "--".into(),
        ]
    }
}

fn parse_passwd(line: &str) -> Option<Account> {
    let f: Vec<&str> = line.trim_end().split(':').collect();
    if f.len() < 7 {
        return None;
    }
    Some(Account {
        name: f[0].to_owned(),
        uid: f[2].parse().ok()?,
        gid: f[3].parse().ok()?,
        home: PathBuf::from(f[5]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwd_lines_parse() {
        let a = parse_passwd("bob:x:1001:1002:Bob,,,:/home/bob:/bin/bash\n").unwrap();
        assert_eq!((a.name.as_str(), a.uid, a.gid), ("bob", 1001, 1002));
        assert_eq!(a.home, PathBuf::from("/home/bob"));
        assert!(parse_passwd("garbage").is_none());
    }

    #[test]
    fn root_is_found_and_never_mappable() {
        let root = Account::lookup("root").unwrap().expect("root exists");
        assert_eq!(root.uid, 0);
        assert_eq!(Account::lookup_uid(0).unwrap(), Some(root.clone()));
        assert!(root.check_mappable().is_err());
        assert_eq!(Account::lookup("no-such-account-here").unwrap(), None);
        assert!(Account::lookup("-x").is_err());
        assert!(Account::lookup("a:b").is_err());
    }

    #[test]
    fn reach_follows_the_search_bits_of_the_dirs_above() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let closed = dir.path().join("closed");
        std::fs::create_dir_all(closed.join("inside")).unwrap();
        std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o700)).unwrap();
        let nobody = Account { name: "x".into(), uid: 65534, gid: 65534, home: "/".into() };
        assert!(!nobody.can_reach(&closed.join("inside")));
        assert!(nobody.can_reach(&closed) || !nobody.can_reach(dir.path()));
        std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o711)).unwrap();
        assert_eq!(nobody.can_reach(&closed.join("inside")), nobody.can_reach(&closed));
    }
}
