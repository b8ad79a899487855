//! Review actions on behalf of a principal (issue 18): the same policy, 404 masking and audit
//! as every session action ([`super::sessions`]). Reading a diff needs
//! [`Action::ReadSessions`] on a session the caller may see.

use llmux_core::api::{DiffQuery, DiffResponse};

use super::Sessions;
use crate::policy::Action;
use crate::{Error, Principal, Result};

impl Sessions {
    /// The diff of what the session's agent changed in its repository.
    pub async fn diff(
        &self,
        principal: &Principal,
        name: &str,
        query: &DiffQuery,
    ) -> Result<DiffResponse> {
        let target = self.target(principal, name, Action::ReadSessions)?;
        let mut diff = self.service().diff(&target.name, query).await.map_err(Error::Core)?;
        diff.name = self.shown(principal, &target.name);
        Ok(diff)
    }
}
