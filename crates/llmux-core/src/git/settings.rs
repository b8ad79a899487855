//! Worktree settings: the daemon config's `worktrees:` section and a repository's own
//! `.llmux.yaml` (`worktree:`), and the checks on the files they ask to copy.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};

/// `worktrees:` in the daemon config.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorktreesConfig {
    /// Where worktrees go (default `repo`).
    #[serde(default)]
    pub location: WorktreeLocation,
    /// Per-repository settings, keyed by the repository's top-level directory; they win over
    /// the repository's own `.llmux.yaml`, field by field.
    #[serde(default)]
    pub repos: BTreeMap<PathBuf, RepoSettings>,
}

/// Where a session's worktree is made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WorktreeLocation {
    /// `<repo>/.worktrees/<session>`, kept out of git by `/.worktrees/` in `.git/info/exclude`.
    #[default]
    Repo,
    /// `<state dir>/worktrees/<session>` (a confined user can use it only when it lies in
    /// one of their roots).
    State,
}

/// `worktree:` settings of one repository.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RepoSettings {
    /// Files (or directories) to copy from the repository into a new worktree, relative to
    /// its top-level directory; missing ones are skipped.
    #[serde(default)]
    pub copy: Option<Vec<String>>,
    /// A command run once in a new worktree before the agent starts.
    #[serde(default)]
    pub setup: Option<SetupCommand>,
    /// The base of new branches (default: the repository's current HEAD).
    #[serde(default)]
    pub base: Option<String>,
}

/// A setup command: an argv, or one string run with `sh -c` (as the session's own identity,
/// in its confinement: it is the repository owner's own command).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum SetupCommand {
    /// Program and arguments.
    Argv(Vec<String>),
    /// A shell command line.
    Shell(String),
}

impl SetupCommand {
    /// The argv to run.
    pub fn argv(&self) -> Result<Vec<String>> {
        let argv = match self {
            SetupCommand::Argv(argv) => argv.clone(),
            SetupCommand::Shell(line) => vec!["sh".into(), "-c".into(), line.clone()],
        };
        if argv.first().is_none_or(|p| p.trim().is_empty()) {
            return Err(Error::invalid("worktree.setup is empty"));
        }
        Ok(argv)
    }
}

impl RepoSettings {
    /// `self` with every field it leaves unset taken from `under`.
    pub fn over(self, under: RepoSettings) -> RepoSettings {
        RepoSettings {
            copy: self.copy.or(under.copy),
            setup: self.setup.or(under.setup),
            base: self.base.or(under.base),
        }
    }

    /// Parses a repository's `.llmux.yaml`; other keys (a daemon config there) are ignored.
    pub fn from_repo_file(text: &str) -> Result<RepoSettings> {
        #[derive(Deserialize)]
        struct File {
            #[serde(default)]
            worktree: Option<RepoSettings>,
        }
        if text.trim().is_empty() {
            return Ok(RepoSettings::default());
        }
        let file: File = serde_saphyr::from_str(text)
            .map_err(|e| Error::invalid(format!("the repository's .llmux.yaml: {e}")))?;
        Ok(file.worktree.unwrap_or_default())
    }
}

/// Checks one `copy` entry: a relative path with no `..`, nothing absolute, not `.git`.
/// Returns it normalized (no `.` parts).
pub fn copy_entry(raw: &str) -> Result<PathBuf> {
    let bad = |why: &str| Err(Error::invalid(format!("worktree.copy entry {raw:?} {why}")));
    let path = Path::new(raw);
    if raw.is_empty() || raw.contains('\0') {
        return bad("is empty");
    }
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::Normal(p) if p == ".git" => return bad("is inside .git"),
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            Component::ParentDir => return bad("goes up with `..`"),
            Component::RootDir | Component::Prefix(_) => {
                return bad("is absolute: entries are relative to the repository");
            }
        }
    }
    if out.as_os_str().is_empty() {
        return bad("names the repository itself");
    }
    Ok(out)
}

/// Whether `rel` (a checked [`copy_entry`]) may be copied from `repo`: it exists, and neither
/// it nor any directory on the way is a symlink (nothing outside the repository is read, and
/// nothing is written through a link). `Ok(false)`: missing, skipped. Blocking.
pub fn copy_source_ok(repo: &Path, rel: &Path) -> Result<bool> {
    let mut at = repo.to_path_buf();
    for part in rel.components() {
        at.push(part);
        match std::fs::symlink_metadata(&at) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(Error::invalid(format!(
                    "worktree.copy entry {} is or goes through a symlink; llmux copies only \
                     plain files and directories of the repository",
                    rel.display()
                )));
            }
            Ok(_) => {}
            Err(_) => return Ok(false),
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_entries_stay_inside() {
        assert_eq!(copy_entry("./.env").unwrap(), PathBuf::from(".env"));
        assert_eq!(copy_entry("conf/local.yaml").unwrap(), PathBuf::from("conf/local.yaml"));
        for bad in ["", "/etc/passwd", "../x", "a/../../x", ".git/config", "."] {
            assert!(copy_entry(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn repo_file_and_config_merge() {
        let file = RepoSettings::from_repo_file(
            "server: {port: 1}\nworktree:\n  copy: [.env]\n  setup: make deps\n  base: dev\n",
        )
        .unwrap();
        assert_eq!(file.setup, Some(SetupCommand::Shell("make deps".into())));
        let config = RepoSettings { base: Some("main".into()), ..Default::default() };
        let merged = config.over(file);
        assert_eq!(merged.base.as_deref(), Some("main"));
        assert_eq!(merged.copy, Some(vec![".env".into()]));
        let argv = RepoSettings::from_repo_file("worktree: {setup: [npm, ci]}").unwrap();
        assert_eq!(argv.setup.unwrap().argv().unwrap(), vec!["npm", "ci"]);
        assert!(RepoSettings::from_repo_file("worktree: [").is_err());
    }
}
