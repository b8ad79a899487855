//! The state dir's lock (`daemon.lock`): one daemon, one restore or one import at a time.
//!
//! An exclusive `flock` on the file, held for as long as the returned [`File`] lives; the
//! daemon writes its pid into it, so whoever finds it held can say which process holds it.

use std::fs::File;
use std::os::unix::fs::OpenOptionsExt;

use crate::error::{Error, Result};
use crate::paths::Paths;

/// The lock is held by another process (the daemon's pid, when it wrote one).
#[derive(Debug)]
pub struct Held {
    /// What the holder wrote into the lock file, trimmed; empty when nothing.
    pub pid: String,
}

/// Takes the lock of `paths`'s state dir without waiting: the open file (the lock lives
/// as long as it does), `Ok(Err(Held))` when another process holds it, `Err` on I/O failure.
pub fn try_lock(paths: &Paths) -> Result<std::result::Result<File, Held>> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&paths.lock)
        .map_err(|e| Error::io(format!("cannot open {}", paths.lock.display()), e))?;
    match file.try_lock() {
        Ok(()) => Ok(Ok(file)),
        Err(std::fs::TryLockError::WouldBlock) => {
            let pid = std::fs::read_to_string(&paths.lock).unwrap_or_default().trim().to_owned();
            Ok(Err(Held { pid }))
        }
        Err(std::fs::TryLockError::Error(e)) => Err(Error::io("cannot lock the state dir", e)),
    }
}
