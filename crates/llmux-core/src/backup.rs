//! `llmux backup` and `llmux restore`: one tar archive of what brings a daemon back as it
//! was.
//!
//! The archive holds `manifest.json` first (format, llmux version, schema version, time, and
//! every file's size and SHA-256), then the files of [`FILES`] the state dir had: a
//! consistent copy of the database ([`crate::store::backup::snapshot`]), the VAPID key and
//! the settings overlay. Not in it: sockets and the runtime dir, the lock, logs, the
//! one-time setup token, and the users' sandbox homes and workspaces (their files, not
//! llmux's state; they belong to an ordinary file backup).
//!
//! Restoring verifies the whole archive (every checksum, the schema version) before it
//! touches the state dir, then writes each file aside in the state dir and renames it into
//! place.

use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::paths::Paths;
use crate::store::SCHEMA_VERSION;

/// The state dir's files a backup holds, by name; the database first.
pub const FILES: &[&str] = &["llmux.db", "vapid.key", "overlay.yaml"];
/// The archive's first entry.
pub const MANIFEST: &str = "manifest.json";
const FORMAT: &str = "llmux-backup";
const FORMAT_VERSION: u32 = 1;
/// The largest manifest read (a real one is a few hundred bytes).
const MANIFEST_MAX: u64 = 1 << 20;

/// What an archive holds, written as its first entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Always `llmux-backup`.
    pub format: String,
    /// The archive layout's version (1).
    pub format_version: u32,
    /// The llmux that wrote it.
    pub llmux_version: String,
    /// The database's schema version.
    pub schema_version: usize,
    /// When, RFC 3339.
    pub created_at: String,
    /// The state dir it was taken from (for the record).
    pub state_dir: String,
    /// The files after the manifest, in order.
    pub files: Vec<ManifestFile>,
}

/// One file of an archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestFile {
    /// Its name in the state dir.
    pub path: String,
    /// Bytes.
    pub size: u64,
    /// Lowercase hex SHA-256 of its bytes.
    pub sha256: String,
}

/// Writes a backup of the state dir of `paths` to `dest`: created 0600 (never readable by
/// anyone else, not for a moment), refusing an existing file unless `force`. The archive is
/// written aside in `dest`'s directory and put in place whole. Works with the daemon running
/// or stopped.
pub fn create(paths: &Paths, dest: &Path, force: bool) -> Result<Manifest> {
    if !force && dest.symlink_metadata().is_ok() {
        return Err(Error::AlreadyExists(format!(
            "{} exists; choose another file or pass --force to replace it",
            dest.display()
        )));
    }
    let dir = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = dest
        .file_name()
        .ok_or_else(|| Error::invalid(format!("{} does not name a file", dest.display())))?;
    let work = PrivateDir::create(&dir, &format!(".{}.llmux-backup", name.to_string_lossy()))?;

    // The files, staged: the database as a snapshot, the small ones as they are.
    let mut files = Vec::new();
    let db_copy = work.path.join("llmux.db");
    let schema_version = crate::store::backup::snapshot(&paths.db, &db_copy)?;
    files.push(("llmux.db", db_copy));
    for &file in &FILES[1..] {
        let from = paths.state_dir.join(file);
        match std::fs::read(&from) {
            Ok(bytes) => {
                let staged = work.path.join(file);
                write_new_private(&staged, &bytes)?;
                files.push((file, staged));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(format!("cannot read {}", from.display()), e)),
        }
    }
    let mut listed = Vec::new();
    for (name, path) in &files {
        let (size, sha256) = hash_file(path)?;
        listed.push(ManifestFile { path: (*name).to_owned(), size, sha256 });
    }
    let manifest = Manifest {
        format: FORMAT.to_owned(),
        format_version: FORMAT_VERSION,
        llmux_version: env!("CARGO_PKG_VERSION").to_owned(),
        schema_version,
        created_at: crate::time::rfc3339_ms(crate::time::now_ms()),
        state_dir: paths.state_dir.display().to_string(),
        files: listed,
    };

    // The archive, aside, then in place.
    let tmp = work.path.join("archive.tar");
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| Error::io(format!("cannot create {}", tmp.display()), e))?;
    let io = |e| Error::io(format!("cannot write {}", dest.display()), e);
    let mut tar = tar::Builder::new(std::io::BufWriter::new(file));
    let json = serde_json::to_vec_pretty(&manifest).expect("a manifest serializes");
    tar.append_data(&mut header(json.len() as u64), MANIFEST, json.as_slice()).map_err(io)?;
    for (name, path) in &files {
        let f = std::fs::File::open(path).map_err(io)?;
        let size = f.metadata().map_err(io)?.len();
        tar.append_data(&mut header(size), name, f).map_err(io)?;
    }
    let file = tar.into_inner().map_err(io)?.into_inner().map_err(|e| io(e.into_error()))?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    file.sync_all().map_err(io)?;
    drop(file);
    if force {
        std::fs::rename(&tmp, dest).map_err(io)?;
    } else {
        // A link fails if `dest` appeared meanwhile: never replaced without --force.
        std::fs::hard_link(&tmp, dest).map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => Error::AlreadyExists(format!(
                "{} exists; choose another file or pass --force to replace it",
                dest.display()
            )),
            _ => io(e),
        })?;
    }
    sync_dir(&dir);
    Ok(manifest)
}

/// Reads the whole archive and checks it: a manifest of this format first, then exactly its
/// files (known names only), each of the listed size and SHA-256, and a schema version this
/// binary can open. Writes nothing. Returns the manifest.
pub fn verify(archive: &Path) -> Result<Manifest> {
    read_archive(archive, |_, _| Ok(None))
}

/// Restores the archive into the state dir of `paths`: refuses while a daemon runs there,
/// refuses a state dir with llmux state in it unless `force`, verifies the whole archive
/// first (nothing is touched when it fails), then writes each file aside in the state dir
/// and renames it into place (the database last's stale `-wal`/`-shm` moved away first).
/// With `force`, a file of [`FILES`] the archive lacks is removed, so the state is the
/// backup's. Users' homes and workspaces are left as they are.
pub fn restore(archive: &Path, paths: &Paths, force: bool) -> Result<Manifest> {
    refuse_running(paths)?;
    let manifest = verify(archive)?;
    if !force {
        let present = state_entries(&paths.state_dir)?;
        if !present.is_empty() {
            return Err(Error::Conflict(format!(
                "the state dir {} is not empty (it has {}); restore into an empty one \
                 (--state-dir), or pass --force to replace its llmux state",
                paths.state_dir.display(),
                present.join(", ")
            )));
        }
    }
    paths.create_dirs()?;
    // Holding the daemon's lock keeps a daemon from starting while files move.
    let Ok(lock) = crate::state_lock::try_lock(paths)? else {
        return Err(Error::Conflict(format!(
            "a daemon holds the lock of the state dir {} ({}); stop it first: a restore \
             replaces the database under it",
            paths.state_dir.display(),
            paths.lock.display()
        )));
    };
    let work = PrivateDir::create(&paths.state_dir, ".restore")?;
    // Second pass: the files written aside, hashed again as they are written (the archive
    // could have changed since the first).
    read_archive(archive, |name, _| Ok(Some(work.path.join(name))))?;
    crate::store::backup::check_restorable(&work.path.join("llmux.db"))?;

    // Into place. The old database's WAL and shared-memory files would be replayed onto
    // the new one: they go aside first.
    let old = work.path.join("old");
    std::fs::DirBuilder::new().mode(0o700).create(&old).map_err(|e| Error::io("mkdir", e))?;
    for suffix in ["-wal", "-shm"] {
        let side = paths.state_dir.join(format!("llmux.db{suffix}"));
        if side.exists() {
            std::fs::rename(&side, old.join(format!("llmux.db{suffix}")))
                .map_err(|e| Error::io(format!("cannot move {} aside", side.display()), e))?;
        }
    }
    for &name in FILES {
        let target = paths.state_dir.join(name);
        if manifest.files.iter().any(|f| f.path == name) {
            std::fs::rename(work.path.join(name), &target)
                .map_err(|e| Error::io(format!("cannot replace {}", target.display()), e))?;
        } else if target.exists() {
            std::fs::remove_file(&target)
                .map_err(|e| Error::io(format!("cannot remove {}", target.display()), e))?;
        }
    }
    sync_dir(&paths.state_dir);
    drop(lock);
    Ok(manifest)
}

/// Refuses while a daemon answers on the state dir's socket.
pub fn refuse_running(paths: &Paths) -> Result<()> {
    if std::os::unix::net::UnixStream::connect(&paths.socket).is_ok() {
        return Err(running(paths));
    }
    Ok(())
}

fn running(paths: &Paths) -> Error {
    Error::Conflict(format!(
        "a daemon is running on the state dir {} (its socket {} answers); stop it first: a \
         restore replaces the database under it",
        paths.state_dir.display(),
        paths.socket.display()
    ))
}

/// What in a state dir would be replaced or mixed with a restore: every entry but the
/// runtime dir, the lock and our own leftovers.
fn state_entries(dir: &Path) -> Result<Vec<String>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(Error::io(format!("cannot read {}", dir.display()), e)),
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "run" && n != "daemon.lock" && !n.starts_with(".restore"))
        .collect();
    names.sort();
    Ok(names)
}

/// One pass over an archive, checking everything; `sink` says where (if anywhere) to write
/// each file as it is read.
fn read_archive(
    archive: &Path,
    mut sink: impl FnMut(&str, &ManifestFile) -> Result<Option<PathBuf>>,
) -> Result<Manifest> {
    let shown = archive.display();
    let file =
        std::fs::File::open(archive).map_err(|e| Error::io(format!("cannot open {shown}"), e))?;
    let bad =
        |what: String| Error::invalid(format!("{shown} is not a usable llmux backup: {what}"));
    let mut tar = tar::Archive::new(std::io::BufReader::new(file));
    let mut entries = tar.entries().map_err(|e| bad(e.to_string()))?;
    let mut first =
        entries.next().ok_or_else(|| bad("it is empty".into()))?.map_err(|e| bad(e.to_string()))?;
    if entry_name(&first).as_deref() != Some(MANIFEST) || first.size() > MANIFEST_MAX {
        return Err(bad(format!("it does not start with {MANIFEST}")));
    }
    let mut json = Vec::new();
    first.read_to_end(&mut json).map_err(|e| bad(e.to_string()))?;
    let manifest: Manifest =
        serde_json::from_slice(&json).map_err(|e| bad(format!("{MANIFEST}: {e}")))?;
    if manifest.format != FORMAT || manifest.format_version != FORMAT_VERSION {
        return Err(bad(format!(
            "format {} version {} (this llmux reads {FORMAT} version {FORMAT_VERSION})",
            manifest.format, manifest.format_version
        )));
    }
    if manifest.schema_version > SCHEMA_VERSION {
        return Err(Error::invalid(format!(
            "{shown} was made by llmux {} with database schema version {}, newer than this \
             llmux {} knows (version {SCHEMA_VERSION}); restore it with that llmux or a newer one",
            manifest.llmux_version,
            manifest.schema_version,
            env!("CARGO_PKG_VERSION")
        )));
    }
    if manifest.files.first().map(|f| f.path.as_str()) != Some("llmux.db") {
        return Err(bad("its manifest lists no database".into()));
    }
    for f in &manifest.files {
        if !FILES.contains(&f.path.as_str()) {
            return Err(bad(format!("its manifest lists an unknown file {:?}", f.path)));
        }
    }
    let mut seen = 0;
    for entry in entries {
        let mut entry = entry.map_err(|e| bad(e.to_string()))?;
        let name = entry_name(&entry).unwrap_or_default();
        let expected = manifest
            .files
            .get(seen)
            .filter(|f| f.path == name)
            .ok_or_else(|| bad(format!("unexpected entry {name:?}")))?;
        if !entry.header().entry_type().is_file() || entry.size() != expected.size {
            return Err(bad(format!("{name}: not a file of {} bytes", expected.size)));
        }
        let mut out = match sink(&name, expected)? {
            Some(path) => Some(
                std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&path)
                    .map_err(|e| Error::io(format!("cannot create {}", path.display()), e))?,
            ),
            None => None,
        };
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = entry.read(&mut buf).map_err(|e| bad(format!("{name}: {e}")))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            size += n as u64;
            if let Some(out) = out.as_mut() {
                out.write_all(&buf[..n]).map_err(|e| Error::io("cannot write", e))?;
            }
        }
        if let Some(out) = out {
            out.sync_all().map_err(|e| Error::io("cannot write", e))?;
        }
        if size != expected.size || crate::hex::encode(&hasher.finalize()) != expected.sha256 {
            return Err(bad(format!(
                "{name} does not match its checksum (the archive is damaged or was changed)"
            )));
        }
        seen += 1;
    }
    if seen != manifest.files.len() {
        return Err(bad(format!(
            "{} is missing (the archive is cut short)",
            manifest.files[seen].path
        )));
    }
    Ok(manifest)
}

fn entry_name<R: Read>(entry: &tar::Entry<'_, R>) -> Option<String> {
    let path = entry.path().ok()?;
    Some(path.to_str()?.to_owned())
}

fn header(size: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_size(size);
    h.set_mode(0o600);
    h.set_mtime(u64::try_from(crate::time::now_ms() / 1000).unwrap_or(0));
    h.set_entry_type(tar::EntryType::Regular);
    h
}

fn hash_file(path: &Path) -> Result<(u64, String)> {
    let mut file = std::fs::File::open(path)
        .map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
    let mut hasher = Sha256::new();
    let size = std::io::copy(&mut file, &mut hasher)
        .map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
    Ok((size, crate::hex::encode(&hasher.finalize())))
}

fn write_new_private(path: &Path, data: &[u8]) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::io(format!("cannot create {}", path.display()), e))?;
    f.write_all(data).map_err(|e| Error::io(format!("cannot write {}", path.display()), e))
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// A 0700 directory of ours, removed with what is in it when dropped.
struct PrivateDir {
    path: PathBuf,
}

impl PrivateDir {
    fn create(parent: &Path, prefix: &str) -> Result<PrivateDir> {
        let path =
            parent.join(format!("{prefix}-{}-{}", std::process::id(), crate::time::now_ms()));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .map_err(|e| Error::io(format!("cannot create {}", path.display()), e))?;
        Ok(PrivateDir { path })
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> (tempfile::TempDir, Paths) {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::in_state_dir(dir.path().join("state"));
        paths.create_dirs().unwrap();
        crate::store::Store::open(&paths.db).unwrap();
        std::fs::write(paths.state_dir.join("vapid.key"), "KEY").unwrap();
        (dir, paths)
    }

    #[test]
    fn round_trip_and_refusals() {
        let (dir, paths) = state();
        let archive = dir.path().join("b.tar");
        let made = create(&paths, &archive, false).unwrap();
        assert_eq!(
            made.files.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(),
            ["llmux.db", "vapid.key"]
        );
        assert_eq!(std::fs::metadata(&archive).unwrap().permissions().mode() & 0o777, 0o600);
        assert!(matches!(create(&paths, &archive, false), Err(Error::AlreadyExists(_))));
        create(&paths, &archive, true).unwrap();
        // Nothing left beside it.
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap()).collect();
        assert_eq!(left.len(), 2, "{left:?}");

        let into = Paths::in_state_dir(dir.path().join("new"));
        assert_eq!(restore(&archive, &into, false).unwrap(), verify(&archive).unwrap());
        assert_eq!(std::fs::read(into.state_dir.join("vapid.key")).unwrap(), b"KEY");
        // Not again without --force.
        assert!(matches!(restore(&archive, &into, false), Err(Error::Conflict(_))));
        restore(&archive, &into, true).unwrap();
        // Not while a daemon holds the state dir's lock (its socket gone or not).
        let held = std::fs::File::create(&into.lock).unwrap();
        held.try_lock().unwrap();
        let err = restore(&archive, &into, true).unwrap_err().to_string();
        assert!(err.contains("holds the lock"), "{err}");
    }

    #[test]
    fn a_changed_byte_is_refused_before_anything_is_touched() {
        let (dir, paths) = state();
        let archive = dir.path().join("b.tar");
        create(&paths, &archive, false).unwrap();
        let mut bytes = std::fs::read(&archive).unwrap();
        // The last byte of the VAPID key's content ("KEY"), past the database.
        let at = bytes.windows(3).rposition(|w| w == b"KEY").unwrap();
        bytes[at] = b'X';
        std::fs::write(&archive, &bytes).unwrap();
        let into = Paths::in_state_dir(dir.path().join("new"));
        let err = restore(&archive, &into, true).unwrap_err().to_string();
        assert!(err.contains("checksum"), "{err}");
        assert!(!into.state_dir.exists(), "the state dir was touched");
    }
}
