//! Every tmux server llmux drives: its own, and one per confined user.
//!
//! llmux's own server holds the local operator's and the admins' sessions (they run as the
//! daemon's user anyway). Each user whose sessions are confined gets a server of their own on
//! `<run>/u/<username>.sock` ([`Paths::user_tmux_socket`]), with its own control client: no
//! tmux command can cross from one user's sessions to another's, and the runtime dir that
//! holds every socket is hidden inside the sandbox, so a confined agent reaches no tmux server
//! at all (a socket it could reach would let it run `tmux new-window cmd` outside the sandbox,
//! or swap the socket for a link to another server).
//!
//! A handle is made on first use; the server itself starts with the first session created on
//! it and reads the same sealed config as llmux's own.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use super::{PaneInfo, Tmux};
use crate::error::Result;
use crate::paths::Paths;
use crate::sandbox::Account;

/// llmux's own tmux server and the per-user ones.
#[derive(Debug)]
pub struct Servers {
    main: Arc<Tmux>,
    /// Where per-user sockets go; `None`: one server for everyone (no confinement).
    paths: Option<Paths>,
    users: RwLock<HashMap<String, Arc<Tmux>>>,
}

impl Servers {
    /// Only llmux's own server: [`Servers::of`] gives it for every owner.
    pub fn single(main: Arc<Tmux>) -> Servers {
        Servers { main, paths: None, users: RwLock::new(HashMap::new()) }
    }

    /// llmux's own server plus one per user on the sockets `paths` names.
    pub fn per_user(main: Arc<Tmux>, paths: Paths) -> Servers {
        Servers { main, paths: Some(paths), users: RwLock::new(HashMap::new()) }
    }

    /// llmux's own server.
    pub fn main(&self) -> &Arc<Tmux> {
        &self.main
    }

    /// The server of `owner` (`""`: llmux's own). Creates the socket's private dir the
    /// first time.
    pub fn of(&self, owner: &str) -> Result<Arc<Tmux>> {
        let Some(paths) = self.paths.as_ref().filter(|_| !owner.is_empty()) else {
            return Ok(self.main.clone());
        };
        if let Some(tmux) = self.users.read().expect("servers lock").get(owner) {
            return Ok(tmux.clone());
        }
        let socket = paths.user_tmux_socket(owner);
        if let Some(dir) = socket.parent() {
            crate::sandbox::ensure_private_dir(dir)?;
        }
        let tmux = Arc::new(Tmux::owned_by(owner.to_owned(), socket, paths.tmux_conf.clone()));
        let mut users = self.users.write().expect("servers lock");
        Ok(users.entry(owner.to_owned()).or_insert(tmux).clone())
    }

    /// `owner`'s server run as Unix `account` (a system daemon): the cached handle when it
    /// runs as that account, else a new one (an admin mapped the user to another account:
    /// their next sessions go to that account's server).
    pub fn bind(&self, owner: &str, account: Account) -> Arc<Tmux> {
        let mut users = self.users.write().expect("servers lock");
        if let Some(tmux) = users.get(owner).filter(|t| t.account() == Some(&account)) {
            return tmux.clone();
        }
        let tmux = Arc::new(Tmux::as_account(owner.to_owned(), account));
        users.insert(owner.to_owned(), tmux.clone());
        tmux
    }

    /// The Unix account `owner`'s server runs as, when it is bound to one.
    pub fn account_of(&self, owner: &str) -> Option<Account> {
        let users = self.users.read().expect("servers lock");
        users.get(owner).and_then(|t| t.account().cloned())
    }

    /// Every server with a handle: llmux's own first.
    pub fn all(&self) -> Vec<Arc<Tmux>> {
        let users = self.users.read().expect("servers lock");
        std::iter::once(self.main.clone()).chain(users.values().cloned()).collect()
    }

    /// Every pane of every server, each listed over its own control client (a fraction of a
    /// millisecond each: one after the other is fine).
    /// A user's server that was never started is skipped (listing would start one).
    pub async fn list_panes(&self) -> Result<Vec<PaneInfo>> {
        let mut panes = Vec::new();
        for server in self.all() {
            if server.owner().is_empty() || server.socket().exists() {
                panes.extend(server.list_panes().await?);
            }
        }
        Ok(panes)
    }

    /// Ends every control client (at shutdown); the servers and their sessions keep running.
    pub async fn close(&self) {
        for server in self.all() {
            server.close().await;
        }
    }
}
