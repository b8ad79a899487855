//! `shell`: the user's login shell (`$SHELL` when absolute, else bash or sh). No detector,
//! no history; only admins may start one (see the server's policy).

use std::borrow::Cow;
use std::path::Path;

use super::kind::{AgentKind, Builtin};

/// A shell.
pub struct Shell;

impl AgentKind for Shell {
    fn key(&self) -> &'static str {
        "shell"
    }

    fn builtin(&self) -> Builtin {
        let shell =
            std::env::var("SHELL").ok().filter(|s| s.starts_with('/')).unwrap_or_else(|| {
                if Path::new("/bin/bash").exists() { "/bin/bash".into() } else { "/bin/sh".into() }
            });
        Builtin {
            display_name: "Shell",
            cmd: Cow::Owned(shell),
            flags: "",
            env: &[],
            install_hint: "a POSIX shell is part of every system",
            docs_url: "https://www.gnu.org/software/bash/manual/",
        }
    }
}
