//! Session names per owner.
//!
//! A session's canonical name (the key of its record, its tmux session and everything stored
//! about it) is `NAME` for the local operator's sessions and `NAME@USER` for a user's. Plain
//! names cannot contain `@` (see [`crate::validate::session_name`]), so the form is
//! unambiguous and two owners may both have a session called `fix`.
//!
//! Every caller has a home owner (`""` for the local operator, its username for a user). At
//! the edge of the API a name without `@` means the caller's own session ([`resolve`]) and a
//! name with `@` is taken as canonical (`NAME@` addresses the local operator's `NAME`); names
//! going out are shown relative to the caller ([`display`]): its own without a suffix, others'
//! with their owner's.

/// Separates a session's name from its owner's username.
pub const SEP: char = '@';

/// The canonical name of `base` owned by `owner` (`""` = the local operator).
pub fn canonical(base: &str, owner: &str) -> String {
    if owner.is_empty() { base.to_owned() } else { format!("{base}{SEP}{owner}") }
}

/// Splits a canonical name into (name, owner).
pub fn split(canonical: &str) -> (&str, &str) {
    canonical.split_once(SEP).unwrap_or((canonical, ""))
}

/// The canonical name a caller whose home owner is `home` means by `name`.
pub fn resolve(name: &str, home: &str) -> String {
    match name.split_once(SEP) {
        None => canonical(name, home),
        Some((base, owner)) => canonical(base, owner),
    }
}

/// How the session `canonical` is shown to a caller whose home owner is `home`: its own
/// without a suffix, a user's as `NAME@USER`, the local operator's (to a user) as `NAME@`.
pub fn display(canonical: &str, home: &str) -> String {
    let (base, owner) = split(canonical);
    if owner == home {
        base.to_owned()
    } else if owner.is_empty() {
        format!("{base}{SEP}")
    } else {
        canonical.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_per_caller() {
        assert_eq!(canonical("fix", ""), "fix");
        assert_eq!(canonical("fix", "alice"), "fix@alice");
        assert_eq!(split("fix@alice"), ("fix", "alice"));
        assert_eq!(split("fix"), ("fix", ""));
        // a bare name is the caller's own; a suffixed one is canonical
        assert_eq!(resolve("fix", "alice"), "fix@alice");
        assert_eq!(resolve("fix", ""), "fix");
        assert_eq!(resolve("fix@bob", "alice"), "fix@bob");
        assert_eq!(resolve("fix@", "alice"), "fix");
        assert_eq!(resolve("fix@alice", "alice"), "fix@alice");
        // and back
        for (canon, home) in [("fix@alice", "alice"), ("fix@bob", "alice"), ("fix", "root")] {
            assert_eq!(resolve(&display(canon, home), home), canon);
        }
        assert_eq!(display("fix@alice", "alice"), "fix");
        assert_eq!(display("fix@alice", ""), "fix@alice");
        assert_eq!(display("fix", "root"), "fix@");
        assert_eq!(display("fix", ""), "fix");
    }
}
