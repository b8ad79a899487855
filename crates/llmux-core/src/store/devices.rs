//! The `login_devices` table: device cookies, the browsers that signed in to an account
//! before (their secret's hash only). The rules about them live in `llmux-auth`.

use rusqlite::{OptionalExtension, Row, params};

use super::Store;
use crate::error::Result;

/// A browser that signed in to an account (its device cookie's secret hash only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginDeviceRecord {
    /// Public id (first half of the cookie).
    pub id: String,
    /// The account it signed in to.
    pub username: String,
    /// Hex SHA-256 of the cookie's secret half.
    pub secret_hash: String,
    /// First sign-in, unix ms.
    pub created_at: i64,
    /// End, unix ms.
    pub expires_at: i64,
}

const DEVICE_COLS: &str = "id, username, secret_hash, created_at, expires_at";
/// Device cookies kept per account; older ones are forgotten.
const DEVICES_PER_USER: i64 = 20;

fn device_row(r: &Row<'_>) -> rusqlite::Result<LoginDeviceRecord> {
    Ok(LoginDeviceRecord {
        id: r.get(0)?,
        username: r.get(1)?,
        secret_hash: r.get(2)?,
        created_at: r.get(3)?,
        expires_at: r.get(4)?,
    })
}

impl Store {
    /// Records a browser that signed in; forgets expired device cookies and all but the
    /// newest few of the account's.
    pub fn insert_login_device(&self, d: &LoginDeviceRecord) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute("DELETE FROM login_devices WHERE expires_at <= ?1", [d.created_at])?;
        tx.execute(
            &format!("INSERT INTO login_devices ({DEVICE_COLS}) VALUES (?1, ?2, ?3, ?4, ?5)"),
            params![d.id, d.username, d.secret_hash, d.created_at, d.expires_at],
        )?;
        tx.execute(
            "DELETE FROM login_devices WHERE username = ?1 AND id NOT IN \
             (SELECT id FROM login_devices WHERE username = ?1 \
              ORDER BY created_at DESC, id LIMIT ?2)",
            params![d.username, DEVICES_PER_USER],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The device cookie record with this id.
    pub fn get_login_device(&self, id: &str) -> Result<Option<LoginDeviceRecord>> {
        Ok(self
            .conn()
            .query_row(
                &format!("SELECT {DEVICE_COLS} FROM login_devices WHERE id = ?1"),
                [id],
                device_row,
            )
            .optional()?)
    }

    /// Forgets every device cookie of an account (its passphrase changed).
    pub fn delete_user_login_devices(&self, username: &str) -> Result<u64> {
        Ok(self.conn().execute("DELETE FROM login_devices WHERE username = ?1", [username])? as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_keep_the_newest_and_go_with_their_user() {
        let store = Store::open_in_memory().unwrap();
        for (name, admin) in [("root", true), ("bob", false)] {
            crate::store::insert_test_user(&store, name, admin);
        }
        let device = |id: &str, at: i64| LoginDeviceRecord {
            id: id.into(),
            username: "bob".into(),
            secret_hash: "d".into(),
            created_at: at,
            expires_at: at + 100,
        };
        store.insert_login_device(&device("old", 1)).unwrap();
        for i in 0..DEVICES_PER_USER {
            store.insert_login_device(&device(&format!("d{i}"), 2 + i)).unwrap();
        }
        assert!(store.get_login_device("old").unwrap().is_none(), "only the newest are kept");
        assert_eq!(store.get_login_device("d0").unwrap().unwrap(), device("d0", 2));
        store.insert_login_device(&device("late", 500)).unwrap();
        assert!(store.get_login_device("d0").unwrap().is_none(), "expired ones go");
        store.delete_user("bob", &crate::store::UserSessions::End).unwrap();
        assert!(store.get_login_device("late").unwrap().is_none(), "devices go with the user");
    }
}
