//! Identities and policy: who is asking, and what they may do to which session.
//!
//! Until accounts exist the only principal is the local operator, trusted because the kernel
//! vouched for its uid on the Unix socket. Nothing here ever looks at addresses or headers.

/// Who made a request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Principal {
    /// The daemon's own user on the Unix socket (peer uid checked by the kernel): an admin.
    LocalOperator,
}

impl Principal {
    /// Whether the principal has admin rights.
    pub fn is_admin(&self) -> bool {
        match self {
            Principal::LocalOperator => true,
        }
    }

    /// The owner name recorded on sessions this principal creates (`""` for the operator).
    pub fn owner(&self) -> &str {
        match self {
            Principal::LocalOperator => "",
        }
    }

    /// Whether the principal may see and act on a session owned by `owner`.
    pub fn can_access(&self, owner: &str) -> bool {
        self.is_admin() || self.owner() == owner
    }
}
