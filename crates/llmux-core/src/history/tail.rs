//! An incremental reader of an append-only file: each [`Tail::poll`] hands over only the
//! complete lines appended since the last one.
//!
//! The file is checked with one `stat` per poll: when its length and mtime did not move,
//! nothing is read. It is read again from the start only when it shrank or was replaced (a
//! new inode); a last line without its newline yet is kept back until the newline arrives.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Lines longer than this are skipped (as [`super::for_each_json_line`] does).
const MAX_LINE: usize = 16 * 1024 * 1024;

/// Read size.
const CHUNK: usize = 64 * 1024;

/// What a poll found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Polled {
    /// Nothing moved.
    Unchanged,
    /// New bytes after the ones already read (maybe only part of a line).
    Appended,
    /// The file is new, shrank, was replaced or went: everything handed over so far is void
    /// (the lines of this poll are the file's lines from its start).
    Restarted,
}

/// The read position in one file.
#[derive(Debug)]
pub struct Tail {
    path: PathBuf,
    /// (device, inode) of the file read so far.
    ident: Option<(u64, u64)>,
    /// Length and mtime at the last read.
    stamp: Option<(u64, Option<SystemTime>)>,
    /// Bytes consumed (lines handed over plus `partial`).
    pos: u64,
    /// The bytes of the last line read, while its newline has not come.
    partial: Vec<u8>,
    /// Inside an overlong line: drop bytes up to its newline.
    skipping: bool,
}

impl Tail {
    /// A reader of `path` that has read nothing yet (the file need not exist).
    pub fn new(path: impl Into<PathBuf>) -> Tail {
        Tail {
            path: path.into(),
            ident: None,
            stamp: None,
            pos: 0,
            partial: Vec::new(),
            skipping: false,
        }
    }

    /// The file read.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The start of a last line whose newline has not come yet (empty if none).
    pub fn partial(&self) -> &[u8] {
        if self.skipping { &[] } else { &self.partial }
    }

    /// Reads what was appended, calling `line` for each new complete line (without its
    /// newline). A missing file reads as empty.
    pub fn poll(&mut self, line: impl FnMut(&[u8])) -> std::io::Result<Polled> {
        let polled = self.check()?;
        if polled != Polled::Unchanged {
            self.read(line)?;
        }
        Ok(polled)
    }

    /// Whether the file exists, as of the last check.
    pub fn exists(&self) -> bool {
        self.ident.is_some()
    }

    /// Looks at the file (one `stat`): unchanged, grown, or to be read from its start (the
    /// position is then reset; [`Tail::read`] hands over its lines from the first).
    pub fn check(&mut self) -> std::io::Result<Polled> {
        let meta = match std::fs::metadata(&self.path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if self.ident.is_none() {
                    return Ok(Polled::Unchanged);
                }
                self.reset(None);
                return Ok(Polled::Restarted);
            }
            Err(e) => return Err(e),
        };
        let ident = (meta.dev(), meta.ino());
        let stamp = (meta.len(), meta.modified().ok());
        if self.ident != Some(ident) || meta.len() < self.pos {
            self.reset(Some(ident));
            self.stamp = Some(stamp);
            return Ok(Polled::Restarted);
        }
        if self.stamp == Some(stamp) || meta.len() == self.pos {
            self.stamp = Some(stamp);
            return Ok(Polled::Unchanged);
        }
        self.stamp = Some(stamp);
        Ok(Polled::Appended)
    }

    /// Reads from the position to the end of the file, calling `line` for each complete line.
    pub fn read(&mut self, mut line: impl FnMut(&[u8])) -> std::io::Result<()> {
        let Some(ident) = self.ident else { return Ok(()) };
        let mut file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let opened = file.metadata()?;
        if (opened.dev(), opened.ino()) != ident {
            // Replaced after the check: the next check starts over.
            self.ident = Some((u64::MAX, u64::MAX));
            return Ok(());
        }
        file.seek(SeekFrom::Start(self.pos))?;
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                return Ok(());
            }
            self.pos += n as u64;
            self.feed(&buf[..n], &mut line);
        }
    }

    fn reset(&mut self, ident: Option<(u64, u64)>) {
        self.ident = ident;
        self.stamp = None;
        self.pos = 0;
        self.partial.clear();
        self.skipping = false;
    }

    fn feed(&mut self, mut bytes: &[u8], line: &mut impl FnMut(&[u8])) {
        while let Some(i) = bytes.iter().position(|b| *b == b'\n') {
            if !self.skipping {
                if self.partial.is_empty() {
                    line(&bytes[..i]);
                } else {
                    self.partial.extend_from_slice(&bytes[..i]);
                    line(&self.partial);
                }
            }
            self.partial.clear();
            self.skipping = false;
            bytes = &bytes[i + 1..];
        }
        if !self.skipping {
            self.partial.extend_from_slice(bytes);
            if self.partial.len() > MAX_LINE {
                self.partial = Vec::new();
                self.skipping = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn lines(t: &mut Tail) -> (Polled, Vec<String>) {
        let mut out = Vec::new();
        let p = t.poll(|l| out.push(String::from_utf8_lossy(l).into_owned())).unwrap();
        (p, out)
    }

    fn append(path: &Path, text: &str) {
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    #[test]
    fn appends_and_partial_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl");
        let mut t = Tail::new(&path);
        assert_eq!(lines(&mut t), (Polled::Unchanged, vec![]), "no file yet");
        append(&path, "a\nb\n");
        assert_eq!(lines(&mut t), (Polled::Restarted, vec!["a".into(), "b".into()]));
        assert_eq!(lines(&mut t), (Polled::Unchanged, vec![]));
        append(&path, "c");
        assert_eq!(lines(&mut t), (Polled::Appended, vec![]));
        assert_eq!(t.partial(), b"c");
        append(&path, "cc\nd\n");
        assert_eq!(lines(&mut t), (Polled::Appended, vec!["ccc".into(), "d".into()]));
        assert_eq!(t.partial(), b"");
    }

    #[test]
    fn truncation_starts_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl");
        append(&path, "one\ntwo\n");
        let mut t = Tail::new(&path);
        assert_eq!(lines(&mut t).1, ["one", "two"]);
        std::fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(0).unwrap();
        append(&path, "x\n");
        assert_eq!(lines(&mut t), (Polled::Restarted, vec!["x".into()]));
    }

    #[test]
    fn replacement_starts_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl");
        append(&path, "one\n");
        let mut t = Tail::new(&path);
        assert_eq!(lines(&mut t).1, ["one"]);
        // A longer file moved over it (a rewrite): read whole, not from the old offset.
        let new = dir.path().join("new");
        append(&new, "uno\ndos\ntres\n");
        std::fs::rename(&new, &path).unwrap();
        assert_eq!(
            lines(&mut t),
            (Polled::Restarted, vec!["uno".into(), "dos".into(), "tres".into()])
        );
        std::fs::remove_file(&path).unwrap();
        assert_eq!(lines(&mut t), (Polled::Restarted, vec![]));
        assert_eq!(lines(&mut t), (Polled::Unchanged, vec![]));
    }

    #[test]
    fn overlong_lines_are_skipped_in_pieces() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl");
        let mut t = Tail::new(&path);
        append(&path, "ok\n");
        append(&path, &"x".repeat(MAX_LINE + 10));
        assert_eq!(lines(&mut t).1, ["ok"]);
        assert_eq!(t.partial(), b"");
        append(&path, "xxx\nafter\n");
        assert_eq!(lines(&mut t).1, ["after"]);
    }
}
