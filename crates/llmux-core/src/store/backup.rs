//! The database side of `llmux backup` and `llmux restore`: a consistent copy of a live
//! database with SQLite's online backup API, the checks a restored copy must pass, and the
//! schema version of a file read without opening it.
//!
//! The copy opens the database file directly, not through the daemon: WAL lets a reader
//! take a snapshot while the daemon writes, and the same code works with the daemon
//! stopped (see DESIGN-NOTES, "Issue 16 §4").

use std::io::Read;
use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use super::SCHEMA_VERSION;
use crate::error::{Error, Result};

/// The schema version (`PRAGMA user_version`) in the header of the database file at `path`,
/// read as bytes so nothing is created or changed; `None` when there is no file or it is
/// empty (a database about to be made). A file that is not an SQLite database is an error.
pub fn file_schema_version(path: &Path) -> Result<Option<usize>> {
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(format!("cannot read {}", path.display()), e)),
    };
    let mut header = [0u8; 100];
    let mut read = 0;
    while read < header.len() {
        match file.read(&mut header[read..]) {
            Ok(0) => break,
            Ok(n) => read += n,
            Err(e) => return Err(Error::io(format!("cannot read {}", path.display()), e)),
        }
    }
    if read == 0 {
        return Ok(None);
    }
    if read < header.len() || &header[..16] != b"SQLite format 3\0" {
        return Err(Error::invalid(format!("{} is not an SQLite database", path.display())));
    }
    let version = i32::from_be_bytes([header[60], header[61], header[62], header[63]]);
    Ok(Some(usize::try_from(version).unwrap_or(0)))
}

/// Copies the database at `src` into the new file `dest` (created 0600; it must not exist)
/// with SQLite's online backup API, in one step: the copy is the database as of one
/// committed transaction, whatever a running daemon writes meanwhile (in WAL mode a reader
/// does not block the writer). The copy is made self-contained (rollback journal, no WAL)
/// and checked (`PRAGMA integrity_check`). Returns its schema version.
pub fn snapshot(src: &Path, dest: &Path) -> Result<usize> {
    if !src.exists() {
        return Err(Error::NotFound(format!(
            "no database at {} (is this the daemon's state dir? --state-dir or LLMUX_STATE_DIR)",
            src.display()
        )));
    }
    // Read-write (without create): a read-only connection could not set up the WAL index
    // of a database whose daemon is stopped. Nothing is written to the source.
    let source = Connection::open_with_flags(
        src,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    source.busy_timeout(std::time::Duration::from_secs(10))?;
    create_private(dest)?;
    let mut copy = Connection::open(dest)?;
    {
        let backup = rusqlite::backup::Backup::new(&source, &mut copy)?;
        // -1: every page in one step, under one read transaction of the source. A
        // step-by-step copy would restart each time the daemon writes in between.
        loop {
            match backup.step(-1)? {
                rusqlite::backup::StepResult::Done => break,
                rusqlite::backup::StepResult::More => {}
                // Busy/Locked (the source's writer holds a lock for a moment): try again.
                _ => std::thread::sleep(std::time::Duration::from_millis(20)),
            }
        }
    }
    drop(source);
    copy.pragma_update(None, "journal_mode", "DELETE")?;
    check(&copy, dest)?;
    let version: i64 = copy.pragma_query_value(None, "user_version", |r| r.get(0))?;
    Ok(usize::try_from(version).unwrap_or(0))
}

/// Checks a database file about to be restored: SQLite's `integrity_check` passes and its
/// schema is not newer than this binary's. Returns its schema version. Opens it with the
/// rollback journal a snapshot has, so no `-wal` appears.
pub fn check_restorable(path: &Path) -> Result<usize> {
    let version = file_schema_version(path)?
        .ok_or_else(|| Error::invalid(format!("{} is empty", path.display())))?;
    if version > SCHEMA_VERSION {
        return Err(super::newer_schema(path, version));
    }
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    check(&conn, path)?;
    Ok(version)
}

impl super::Store {
    /// SQLite's verdict on the open database (`PRAGMA integrity_check`): `ok`, or the
    /// problems it found.
    pub fn integrity_check(&self) -> Result<String> {
        let conn = self.conn();
        let mut stmt = conn.prepare("PRAGMA integrity_check")?;
        let lines = stmt.query_map([], |r| r.get::<_, String>(0))?;
        Ok(lines.collect::<rusqlite::Result<Vec<_>>>()?.join("\n"))
    }
}

fn check(conn: &Connection, path: &Path) -> Result<()> {
    let verdict: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    if verdict != "ok" {
        return Err(Error::invalid(format!(
            "{}: the database copy fails SQLite's integrity check: {verdict}",
            path.display()
        )));
    }
    Ok(())
}

/// Creates an empty file readable only by us; refuses an existing one.
fn create_private(path: &Path) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::io(format!("cannot create {}", path.display()), e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn a_snapshot_is_a_checked_self_contained_copy() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("llmux.db");
        let store = Store::open(&db).unwrap();
        let rec = crate::store::SessionRecord {
            name: "s".into(),
            agent: "claude".into(),
            cwd: "/tmp".into(),
            flags: None,
            env: Default::default(),
            init_prompts: vec![],
            resume_from: None,
            owner: String::new(),
            parent: None,
            created_at: 1,
            updated_at: 1,
            started_at: 1,
        };
        store.insert_session(&rec).unwrap();
        let copy = dir.path().join("copy.db");
        assert_eq!(snapshot(&db, &copy).unwrap(), SCHEMA_VERSION);
        assert!(!dir.path().join("copy.db-wal").exists());
        assert_eq!(file_schema_version(&copy).unwrap(), Some(SCHEMA_VERSION));
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&copy).unwrap().permissions().mode() & 0o777, 0o600);
        // The store's live connection is still open: the copy saw its committed write.
        assert_eq!(Store::open(&copy).unwrap().get_session("s").unwrap(), Some(rec));
        assert!(snapshot(&db, &copy).is_err(), "an existing file is not overwritten");
        assert_eq!(check_restorable(&copy).unwrap(), SCHEMA_VERSION);
    }

    #[test]
    fn header_version_without_opening() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(file_schema_version(&dir.path().join("none")).unwrap(), None);
        let junk = dir.path().join("junk");
        std::fs::write(&junk, vec![b'x'; 200]).unwrap();
        assert!(file_schema_version(&junk).is_err());
    }
}
