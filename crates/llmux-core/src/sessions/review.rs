//! Git for a session's review (issue 18): the diff of what its agent changed.

use std::path::PathBuf;

use super::SessionService;
use crate::api::{DiffQuery, DiffResponse};
use crate::error::{Error, Result};
use crate::git::runner::Git;

impl SessionService {
    /// Git in session `name`'s cwd, run as the session's own identity (see
    /// [`SessionService::as_owner`]).
    pub async fn git(&self, name: &str) -> Result<Git> {
        let record = self.record(name)?;
        let cwd = PathBuf::from(&record.cwd);
        if !cwd.is_dir() {
            return Err(Error::Conflict(format!(
                "the session's directory {} does not exist",
                cwd.display()
            )));
        }
        let argv = self.as_owner(&record.owner, &cwd, "git").await?;
        Ok(Git::new(argv, cwd))
    }

    /// The diff of session `name`'s repository ([`crate::git::diff::diff`]).
    pub async fn diff(&self, name: &str, query: &DiffQuery) -> Result<DiffResponse> {
        let mut git = self.git(name).await?;
        let mut diff = crate::git::diff::diff(&mut git, query).await?;
        diff.name = name.to_owned();
        Ok(diff)
    }
}
