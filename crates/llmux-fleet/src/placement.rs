//! Placement (issue 17): host labels (`gpu`, `fast-disk`) and the choice of a host for
//! `session start --host auto` or `--host label:NAME`: among the reachable hosts (with that
//! label), those where the start's own checks pass (the agent installed, the cwd usable:
//! asked of each host, `GET /api/placement`), the one with the most available memory.
//!
//! The asking is the server's (it decides who may); here are the rules, pure and tested.

use llmux_core::Error;

use crate::Fleet;

/// What `--host` asked for, when it is a placement rather than a host name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spec {
    /// `auto`: any reachable host.
    Auto,
    /// `label:NAME`: a reachable host with that label.
    Label(String),
}

impl Spec {
    /// `auto` or `label:NAME`; `None` for a host name (host names have no `:`, and `auto`
    /// is not a name a host can be given).
    pub fn parse(host: &str) -> Option<Spec> {
        if host == "auto" {
            return Some(Spec::Auto);
        }
        host.strip_prefix("label:").map(|l| Spec::Label(l.to_owned()))
    }
}

/// A label: `[a-z0-9][a-z0-9._-]{0,31}`.
pub fn validate_label(label: &str) -> Result<(), Error> {
    let ok = !label.is_empty()
        && label.len() <= 32
        && label.as_bytes()[0].is_ascii_alphanumeric()
        && label.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        });
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "invalid label {label:?}: use 1-32 lowercase letters, digits, '.', '_' or '-', \
             starting with a letter or digit"
        )))
    }
}

/// Checked, sorted, without duplicates.
pub fn labels(mut labels: Vec<String>) -> Result<Vec<String>, Error> {
    for l in &labels {
        validate_label(l)?;
    }
    labels.sort();
    labels.dedup();
    Ok(labels)
}

/// One host considered for a session: whether the start's checks pass there, its memory.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// The host's name.
    pub host: String,
    /// `Err(why)` when the host cannot take the session (or could not be asked).
    pub fits: Result<(), String>,
    /// Its available memory in bytes, when known.
    pub mem_available: Option<u64>,
}

/// The host to use: among those that fit, the most available memory (unknown counts as
/// least; ties by name, so the choice is stable). When none fits, why, host by host.
pub fn pick(candidates: &[Candidate], spec: &Spec) -> Result<String, Error> {
    let best = candidates
        .iter()
        .filter(|c| c.fits.is_ok())
        .max_by(|a, b| a.mem_available.cmp(&b.mem_available).then_with(|| b.host.cmp(&a.host)));
    if let Some(best) = best {
        return Ok(best.host.clone());
    }
    let what = match spec {
        Spec::Auto => "reachable host".to_owned(),
        Spec::Label(l) => format!("reachable host labelled {l:?}"),
    };
    if candidates.is_empty() {
        return Err(Error::Conflict(format!("no {what} to place the session on")));
    }
    let why: Vec<String> = candidates
        .iter()
        .filter_map(|c| c.fits.as_ref().err().map(|e| format!("{}: {e}", c.host)))
        .collect();
    Err(Error::Conflict(format!("no {what} can take the session ({})", why.join("; "))))
}

impl Fleet {
    pub(crate) fn labels_of(&self, name: &str) -> Vec<String> {
        self.labels.read().expect("labels lock").get(name).cloned().unwrap_or_default()
    }

    /// Adds and removes labels of host `name`; its view after.
    pub fn edit_labels(
        &self,
        name: &str,
        add: Vec<String>,
        remove: &[String],
    ) -> Result<llmux_api::HostView, Error> {
        let add = labels(add)?;
        let mut now = self.labels_of(name);
        self.link(name)?;
        now.retain(|l| !remove.contains(l));
        now.extend(add);
        let now = labels(now)?;
        if !self.store.set_host_labels(name, &now)? {
            return Err(Error::NotFound(format!("no host named {name:?}")));
        }
        self.labels.write().expect("labels lock").insert(name.to_owned(), now);
        self.changes.send_modify(|g| *g += 1);
        self.view(name).ok_or_else(|| Error::NotFound(format!("no host named {name:?}")))
    }

    /// The hosts `spec` allows that are connected now: name and a client of each.
    pub fn candidates(&self, spec: &Spec) -> Vec<(String, llmux_client::Client)> {
        let links = self.links.read().expect("links lock");
        links
            .keys()
            .filter(|name| match spec {
                Spec::Auto => true,
                Spec::Label(l) => self.labels_of(name).contains(l),
            })
            .filter_map(|name| Some((name.clone(), self.client(name).ok()?)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(host: &str, fits: bool, mem: Option<u64>) -> Candidate {
        Candidate {
            host: host.into(),
            fits: if fits { Ok(()) } else { Err("agent \"x\" is not installed".into()) },
            mem_available: mem,
        }
    }

    #[test]
    fn the_host_that_fits_with_the_most_free_memory_wins() {
        let auto = Spec::Auto;
        let all = [c("a", true, Some(1 << 30)), c("b", true, Some(4 << 30)), c("c", true, None)];
        assert_eq!(pick(&all, &auto).unwrap(), "b");
        // more memory but the agent is missing there: not chosen
        let all = [c("a", true, Some(1 << 30)), c("big", false, Some(64 << 30))];
        assert_eq!(pick(&all, &auto).unwrap(), "a");
        // unknown memory counts as least; ties go by name
        assert_eq!(pick(&[c("x", true, None), c("y", true, Some(1))], &auto).unwrap(), "y");
        assert_eq!(pick(&[c("m", true, Some(5)), c("k", true, Some(5))], &auto).unwrap(), "k");
        // none fits: why, host by host
        let err = pick(&[c("a", false, Some(1))], &Spec::Label("gpu".into())).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("labelled \"gpu\"") && text.contains("a: agent"), "{text}");
        let err = pick(&[], &auto).unwrap_err().to_string();
        assert!(err.contains("no reachable host"), "{err}");
    }

    #[test]
    fn specs_and_labels_parse() {
        assert_eq!(Spec::parse("auto"), Some(Spec::Auto));
        assert_eq!(Spec::parse("label:gpu"), Some(Spec::Label("gpu".into())));
        assert_eq!(Spec::parse("gpu-box"), None);
        assert_eq!(
            labels(vec!["gpu".into(), "fast-disk".into(), "gpu".into()]).unwrap(),
            ["fast-disk", "gpu"]
        );
        for bad in ["", "GPU", "-x", "a b", "a:b", &"x".repeat(33)] {
            assert!(validate_label(bad).is_err(), "{bad:?}");
        }
    }
}
