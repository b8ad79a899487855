//! The `hosts` table: a hub's fleet hosts (issue 17). Who may change them is decided in the
//! server (admins); reaching them lives in `llmux-fleet`.

use rusqlite::{OptionalExtension, Row, params};

use super::Store;
use crate::error::Result;

/// How a hub reaches one host.
#[derive(Clone, PartialEq, Eq)]
pub enum HostAddress {
    /// The host daemon's URL and a token minted there (a secret: never logged or shown).
    Url {
        /// `https://…` or `http://…`.
        url: String,
        /// The token.
        token: String,
    },
    /// OpenSSH to `[user@]host[:port]`, forwarding the host daemon's Unix socket.
    Ssh {
        /// The SSH target as given.
        target: String,
        /// The daemon's socket on the host; `None`: asked of `llmux` there.
        socket: Option<String>,
    },
}

impl std::fmt::Debug for HostAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HostAddress::Url { url, .. } => {
                f.debug_struct("Url").field("url", url).field("token", &"<redacted>").finish()
            }
            HostAddress::Ssh { target, socket } => {
                f.debug_struct("Ssh").field("target", target).field("socket", socket).finish()
            }
        }
    }
}

/// One fleet host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRecord {
    /// Its name on the hub.
    pub name: String,
    /// How it is reached.
    pub address: HostAddress,
    /// When it was added, unix ms.
    pub created_at: i64,
    /// Its labels (`gpu`, `fast-disk`), for placement; sorted, no duplicates.
    pub labels: Vec<String>,
    /// Which hub users reach their sessions there, as which host user.
    pub users: llmux_api::HostUsers,
}

const COLS: &str = "name, url, token, ssh, socket, created_at, labels, users";

fn row(r: &Row<'_>) -> rusqlite::Result<HostRecord> {
    let url: Option<String> = r.get(1)?;
    let address = match url {
        Some(url) => {
            HostAddress::Url { url, token: r.get::<_, Option<String>>(2)?.unwrap_or_default() }
        }
        None => HostAddress::Ssh {
            target: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
            socket: r.get(4)?,
        },
    };
    let labels: String = r.get(6)?;
    let labels = labels.split_whitespace().map(str::to_owned).collect();
    // Written only by this module: an unreadable mapping maps nobody.
    let users = serde_json::from_str(&r.get::<_, String>(7)?).unwrap_or_default();
    Ok(HostRecord { name: r.get(0)?, address, created_at: r.get(5)?, labels, users })
}

impl Store {
    /// Adds a host; [`Error::AlreadyExists`] if the name is taken.
    pub fn insert_host(&self, h: &HostRecord) -> Result<()> {
        let (url, token, ssh, socket) = match &h.address {
            HostAddress::Url { url, token } => (Some(url), Some(token), None, None),
            HostAddress::Ssh { target, socket } => (None, None, Some(target), socket.as_ref()),
        };
        self.conn()
            .execute(
                &format!("INSERT INTO hosts ({COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
                params![
                    h.name,
                    url,
                    token,
                    ssh,
                    socket,
                    h.created_at,
                    h.labels.join(" "),
                    users_json(&h.users)
                ],
            )
            .map(drop)
            .map_err(|e| super::on_conflict(e, || format!("host {:?} already exists", h.name)))
    }

    /// Every host, by name.
    pub fn list_hosts(&self) -> Result<Vec<HostRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!("SELECT {COLS} FROM hosts ORDER BY name"))?;
        let rows = stmt.query_map([], row)?.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// The host named `name`.
    pub fn get_host(&self, name: &str) -> Result<Option<HostRecord>> {
        Ok(self
            .conn()
            .query_row(&format!("SELECT {COLS} FROM hosts WHERE name = ?1"), [name], row)
            .optional()?)
    }

    /// Replaces a host's labels; whether the host exists.
    pub fn set_host_labels(&self, name: &str, labels: &[String]) -> Result<bool> {
        let n = self.conn().execute(
            "UPDATE hosts SET labels = ?2 WHERE name = ?1",
            params![name, labels.join(" ")],
        )?;
        Ok(n > 0)
    }

    /// Replaces a host's user mapping; whether the host exists.
    pub fn set_host_users(&self, name: &str, users: &llmux_api::HostUsers) -> Result<bool> {
        let n = self.conn().execute(
            "UPDATE hosts SET users = ?2 WHERE name = ?1",
            params![name, users_json(users)],
        )?;
        Ok(n > 0)
    }

    /// Removes a host; whether it existed.
    pub fn delete_host(&self, name: &str) -> Result<bool> {
        let conn = self.conn();
        super::push::forget_remote_opt_ins(&conn, name)?;
        Ok(conn.execute("DELETE FROM hosts WHERE name = ?1", [name])? > 0)
    }
}

fn users_json(users: &llmux_api::HostUsers) -> String {
    serde_json::to_string(users).expect("a mapping serializes")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    #[test]
    fn hosts_round_trip_and_names_are_unique() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        let a = HostRecord {
            name: "gpu".into(),
            address: HostAddress::Url { url: "https://gpu.ts.net".into(), token: "llmux_x".into() },
            created_at: 1,
            labels: vec!["fast-disk".into(), "gpu".into()],
            users: Default::default(),
        };
        let b = HostRecord {
            name: "box".into(),
            address: HostAddress::Ssh { target: "me@box:2222".into(), socket: None },
            created_at: 2,
            labels: vec![],
            users: Default::default(),
        };
        store.insert_host(&a).unwrap();
        store.insert_host(&b).unwrap();
        assert!(matches!(store.insert_host(&a), Err(Error::AlreadyExists(_))));
        assert_eq!(store.list_hosts().unwrap(), vec![b.clone(), a.clone()]);
        assert_eq!(store.get_host("gpu").unwrap(), Some(a.clone()));
        let mut users = llmux_api::HostUsers { same_names: true, ..Default::default() };
        users.map.insert("ann".into(), "bob".into());
        assert!(store.set_host_users("gpu", &users).unwrap());
        assert!(!store.set_host_users("nope", &users).unwrap());
        assert_eq!(store.get_host("gpu").unwrap().unwrap().users, users);
        store.set_host_users("gpu", &Default::default()).unwrap();
        // opt-ins to a host's sessions have their own table, and go with the host
        crate::store::insert_test_user(&store, "ann", false);
        store.set_push_session("ann", "gpu:fix@ann", "ann", 1).unwrap();
        store.set_push_session("ann", "gpuz:fix@ann", "ann", 1).unwrap();
        let followed = |s: &Store| -> Vec<String> {
            s.list_push_sessions("ann").unwrap().into_iter().map(|r| r.session).collect()
        };
        assert_eq!(followed(&store), ["gpu:fix@ann", "gpuz:fix@ann"]);
        assert!(!format!("{a:?}").contains("llmux_x"), "the token is never in Debug");
        assert!(store.set_host_labels("box", &["arm".into()]).unwrap());
        assert!(!store.set_host_labels("nope", &[]).unwrap());
        let b = HostRecord { labels: vec!["arm".into()], ..b };
        assert_eq!(store.get_host("box").unwrap(), Some(b.clone()));
        assert!(store.delete_host("gpu").unwrap());
        assert_eq!(followed(&store), ["gpuz:fix@ann"], "only gpu's go");
        assert!(!store.delete_host("gpu").unwrap());
        assert_eq!(store.list_hosts().unwrap(), vec![b]);
    }
}
