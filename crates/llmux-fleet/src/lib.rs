//! The fleet: the other llmux daemons (hosts) a hub shows and drives (issue 17).
//!
//! - [`Fleet`]: the hosts of the hub's store, one [`link`] task per host keeping the host's
//!   session list from its event stream, the merged list (`host:name`), a client per host for
//!   relaying actions.
//! - [`target`]: host names and SSH targets, checked at the edge.
//! - [`ssh`]: the OpenSSH transport (ControlMaster, Unix-socket forwarding).
//! - [`install`]: bootstrap over SSH (copy this binary, start it as a user service).
//! - [`placement`]: host labels and the choice of a host for `--host auto|label:NAME`.
//!
//! Nothing here decides who may do what: the server lets only admins reach hosts.

#![forbid(unsafe_code)]

pub mod install;
mod link;
pub mod placement;
pub mod ssh;
pub mod target;
mod users;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use llmux_api::{AddHostRequest, HostStatus, HostTestResponse, HostView, SessionView, StateEvent};
use llmux_client::Client;
use llmux_core::Error;
use llmux_core::store::{HostAddress, HostRecord, Store};
use llmux_core::time::{now_ms, rfc3339_ms};

use crate::link::Link;
pub use crate::ssh::SshSettings;
pub use crate::target::{SshTarget, validate_host_name};
pub use crate::users::check_users;

/// The hub's hosts and what it knows of each.
pub struct Fleet {
    store: Arc<Store>,
    ssh: SshSettings,
    links: RwLock<BTreeMap<String, Arc<Link>>>,
    /// Each host's labels (editable while its link runs).
    labels: RwLock<BTreeMap<String, Vec<String>>>,
    changes: tokio::sync::watch::Sender<u64>,
    states: tokio::sync::broadcast::Sender<StateEvent>,
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet").field("hosts", &self.names()).finish_non_exhaustive()
    }
}

impl Fleet {
    /// The fleet of `store`'s hosts, each link started (inside a tokio runtime).
    pub fn start(store: Arc<Store>, ssh: SshSettings) -> Result<Arc<Fleet>, Error> {
        let fleet = Arc::new(Fleet {
            store,
            ssh,
            links: RwLock::new(BTreeMap::new()),
            labels: RwLock::new(BTreeMap::new()),
            changes: tokio::sync::watch::channel(0).0,
            states: tokio::sync::broadcast::channel(256).0,
        });
        for record in fleet.store.list_hosts()? {
            fleet.spawn(record);
        }
        Ok(fleet)
    }

    fn spawn(self: &Arc<Fleet>, record: HostRecord) {
        self.labels
            .write()
            .expect("labels lock")
            .insert(record.name.clone(), record.labels.clone());
        let link = Link::new(record);
        let weak = Arc::downgrade(self);
        let host = link.record.name.clone();
        let states = self.states.clone();
        link.spawn(
            self.ssh.clone(),
            Arc::new(move || {
                if let Some(fleet) = weak.upgrade() {
                    fleet.changes.send_modify(|g| *g += 1);
                }
            }),
            Arc::new(move |mut ev: StateEvent| {
                ev.name = format!("{host}:{}", ev.name);
                let _ = states.send(ev);
            }),
        );
        let name = link.record.name.clone();
        self.links.write().expect("links lock").insert(name, link);
        self.changes.send_modify(|g| *g += 1);
    }

    fn names(&self) -> Vec<String> {
        self.links.read().expect("links lock").keys().cloned().collect()
    }

    /// Whether the hub has no hosts (then nothing about its lists changes).
    pub fn is_empty(&self) -> bool {
        self.links.read().expect("links lock").is_empty()
    }

    /// Counts every change of what the fleet knows (hosts, their status, their sessions).
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Every state change of a host's agent, named `host:name` (admins' event streams).
    pub fn state_events(&self) -> tokio::sync::broadcast::Receiver<StateEvent> {
        self.states.subscribe()
    }

    /// The current generation of [`Fleet::changes`].
    pub fn generation(&self) -> u64 {
        *self.changes.borrow()
    }

    /// Adds a host (checked, stored, its link started).
    pub fn add(self: &Arc<Fleet>, req: AddHostRequest) -> Result<HostView, Error> {
        validate_host_name(&req.name)?;
        if req.name == "local" {
            return Err(Error::invalid("\"local\" names the hub's own sessions; pick another"));
        }
        if req.name == "auto" {
            return Err(Error::invalid("\"auto\" asks the hub to place a session; pick another"));
        }
        let address = match (req.url, req.token, req.ssh) {
            (Some(url), Some(token), None) => {
                if req.socket.is_some() {
                    return Err(Error::invalid("a socket path goes with --ssh, not --url"));
                }
                Client::remote(&url, Some(token.clone()))
                    .map_err(|e| Error::invalid(e.to_string()))?;
                HostAddress::Url { url: url.trim_end_matches('/').to_owned(), token }
            }
            (Some(_), None, None) => {
                return Err(Error::invalid(
                    "a host added by URL needs a token minted on it (--host-token)",
                ));
            }
            (None, None, Some(ssh)) => {
                SshTarget::parse(&ssh)?;
                if let Some(socket) = &req.socket
                    && (!socket.starts_with('/')
                        || socket.chars().any(|c| c.is_control() || c == ':'))
                {
                    return Err(Error::invalid("--socket must be an absolute path without ':'"));
                }
                HostAddress::Ssh { target: ssh, socket: req.socket }
            }
            (None, Some(_), Some(_)) => {
                return Err(Error::invalid("a token goes with --url; SSH uses your keys"));
            }
            _ => return Err(Error::invalid("give exactly one of --url (with --token) or --ssh")),
        };
        let labels = placement::labels(req.labels)?;
        let users = req.users.unwrap_or_default();
        check_users(&users)?;
        let record = HostRecord { name: req.name, address, created_at: now_ms(), labels, users };
        self.store.insert_host(&record)?;
        tracing::info!(host = %record.name, "fleet host added");
        self.spawn(record.clone());
        self.view(&record.name).ok_or_else(|| Error::NotFound("host vanished".into()))
    }

    /// Removes a host: its link stops, its sessions leave the hub's list.
    pub fn remove(&self, name: &str) -> Result<(), Error> {
        if !self.store.delete_host(name)? {
            return Err(Error::NotFound(format!("no host named {name:?}")));
        }
        if let Some(link) = self.links.write().expect("links lock").remove(name) {
            link.stop();
        }
        self.labels.write().expect("labels lock").remove(name);
        self.changes.send_modify(|g| *g += 1);
        tracing::info!(host = %name, "fleet host removed");
        Ok(())
    }

    fn link(&self, name: &str) -> Result<Arc<Link>, Error> {
        self.links
            .read()
            .expect("links lock")
            .get(name)
            .cloned()
            .ok_or_else(|| Error::NotFound(format!("no host named {name:?}")))
    }

    /// One host as `GET /api/hosts` shows it.
    pub fn view(&self, name: &str) -> Option<HostView> {
        self.link(name).ok().map(|l| view(&l, self.labels_of(name)))
    }

    /// Every host.
    pub fn list(&self) -> Vec<HostView> {
        let links = self.links.read().expect("links lock");
        links.iter().map(|(name, l)| view(l, self.labels_of(name))).collect()
    }

    /// Remote sessions, named `host:name` with `host` set, of every host or of `host` only;
    /// those of an unreachable host are marked so. Never waits on a host.
    pub fn sessions(&self, host: Option<&str>) -> Vec<SessionView> {
        let links = self.links.read().expect("links lock");
        let mut out = Vec::new();
        for (name, link) in links.iter() {
            if host.is_some_and(|h| h != name) {
                continue;
            }
            let k = link.known.lock().expect("known lock");
            let unreachable = k.status != HostStatus::Up;
            out.extend(k.sessions.iter().map(|s| present(name, s.clone(), unreachable)));
        }
        out
    }

    /// A client of `host` while it is connected: 404 for an unknown host, 409 while down.
    pub fn client(&self, host: &str) -> Result<Client, Error> {
        let link = self.link(host)?;
        let k = link.known.lock().expect("known lock");
        k.client.clone().ok_or_else(|| {
            Error::Conflict(format!(
                "host {host:?} is unreachable now{}",
                k.error.as_deref().map(|e| format!(": {e}")).unwrap_or_default()
            ))
        })
    }

    /// One round trip to `host` over a fresh connection: reachable, credential accepted.
    pub async fn test(&self, host: &str) -> Result<HostTestResponse, Error> {
        let record = self.link(host)?.record.clone();
        let started = Instant::now();
        let mut record = record;
        // A connection of its own, beside the link's (its own forwarded socket).
        record.name = format!("{}.test", record.name);
        let outcome = async {
            let conn = link::connect(&record, &self.ssh).await?;
            let about = link::about(&conn.client).await?;
            let me = conn.client.whoami().await.map_err(|e| link::describe(&e))?;
            Ok::<_, String>((about, me))
        }
        .await;
        let millis = started.elapsed().as_millis() as u64;
        Ok(match outcome {
            Ok((about, me)) => HostTestResponse {
                ok: true,
                version: Some(about.version),
                identity: Some(format!("{} ({})", me.username, me.via)),
                millis,
                error: None,
            },
            Err(e) => HostTestResponse {
                ok: false,
                version: None,
                identity: None,
                millis,
                error: Some(e),
            },
        })
    }
}

fn view(link: &Link, labels: Vec<String>) -> HostView {
    let k = link.known.lock().expect("known lock");
    let (transport, address) = match &link.record.address {
        HostAddress::Url { url, .. } => ("url", url.clone()),
        HostAddress::Ssh { target, .. } => ("ssh", target.clone()),
    };
    HostView {
        name: link.record.name.clone(),
        transport: transport.into(),
        address,
        status: k.status,
        error: k.error.clone(),
        last_seen: k.last_seen.map(rfc3339_ms),
        version: k.about.as_ref().map(|a| a.version.clone()),
        sessions: k.sessions.len() as u32,
        load: k.about.as_ref().and_then(|a| a.load),
        mem_available: k.about.as_ref().and_then(|a| a.mem_available),
        created_at: rfc3339_ms(link.record.created_at),
        labels,
        users: link.users.read().expect("users lock").clone(),
    }
}

/// A host's session as the hub shows it: `host:name`, with `host`.
pub fn present(host: &str, mut s: SessionView, unreachable: bool) -> SessionView {
    s.name = format!("{host}:{}", s.name);
    s.parent = s.parent.map(|p| format!("{host}:{p}"));
    s.host = Some(host.to_owned());
    s.unreachable = unreachable;
    // The host's tmux is not the hub's: attach through the hub.
    s.attach_command = format!("llmux session attach {}", s.name);
    s
}

/// Splits a hub session name `host:name`; `None` for a local name.
pub fn split_remote(name: &str) -> Option<(&str, &str)> {
    name.split_once(':')
}

/// The default [`SshSettings`] of a hub whose run dir is `run_dir`: control sockets in
/// `<run>/ssh`, and the ssh config of `LLMUX_SSH_CONFIG` if set.
pub fn ssh_settings(run_dir: &std::path::Path) -> SshSettings {
    SshSettings {
        dir: run_dir.join("ssh"),
        config: std::env::var_os("LLMUX_SSH_CONFIG").filter(|v| !v.is_empty()).map(PathBuf::from),
    }
}
