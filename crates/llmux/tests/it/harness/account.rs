//! A test daemon run as an unprivileged Unix account the tests create (the personal daemon of
//! issue 15, while CI runs everything as root): [`unprivileged`] makes the account, and a
//! [`Relay`] carries the harness's local-operator calls to it.
//!
//! The daemon trusts only its own uid on its Unix socket (`PeerUidListener`), so the tests'
//! root would be refused there. The relay is a thread of the test process that gives up root
//! for good (its own thread's uid, gid and groups become the account's: on Linux these are
//! per thread) and connects to the daemon's socket for each connection made to a socket of its
//! own in the test's temp dir; the daemon sees a client of its own uid, as it would see its
//! owner's CLI. Nothing in the daemon is loosened for the tests.

use std::io;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::{bin, fake_agent, fake_qwen};

/// An unprivileged Unix account a test daemon runs as.
#[derive(Debug, Clone)]
pub struct Account {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

impl Account {
    /// `program` run as this account (its uid, its gid and its groups) via `setpriv`; the
    /// environment and working directory are the caller's to set.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new("setpriv");
        cmd.arg(format!("--reuid={}", self.uid))
            .arg(format!("--regid={}", self.gid))
            .arg("--init-groups")
            .arg("--")
            .arg(program)
            .env("USER", &self.name)
            .env("LOGNAME", &self.name);
        cmd
    }

    /// Makes `path` and everything under it owned by this account.
    pub fn chown(&self, path: &Path) {
        let status = Command::new("chown")
            .arg("-R")
            .arg(format!("{}:{}", self.uid, self.gid))
            .arg(path)
            .status()
            .expect("run chown");
        assert!(status.success(), "chown -R {} {} failed", self.name, path.display());
    }
}

/// The unprivileged account `name`, created (`useradd --system`, no HOME, no shell) when it
/// does not exist yet; None after saying why when the tests cannot run a daemon as it here
/// (not root; the checkout out of its reach). When `LLMUX_REQUIRE_SANDBOX` is set (CI, which
/// runs as root), that is a failure instead.
pub fn unprivileged(name: &str) -> Option<Account> {
    match account(name) {
        Ok(account) => Some(account),
        Err(why) if std::env::var_os("LLMUX_REQUIRE_SANDBOX").is_some() => {
            panic!("LLMUX_REQUIRE_SANDBOX is set but no daemon can run as {name} here: {why}")
        }
        Err(why) => {
            eprintln!("SKIPPED: no daemon can run as the unprivileged account {name} here: {why}");
            None
        }
    }
}

fn account(name: &str) -> Result<Account, String> {
    let me = rustix::process::getuid().as_raw();
    if me != 0 {
        return Err(format!(
            "the tests run as uid {me}, not root, so they can neither create the account nor \
             start a process as it (run them as root, as CI does)"
        ));
    }
    let id = |flag: &str| {
        let out = Command::new("id").arg(flag).arg(name).output().expect("run id");
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().parse::<u32>().expect("an id"))
    };
    if id("-u").is_none() {
        let out = Command::new("useradd")
            .args(["--system", "--no-create-home", "--shell", "/usr/sbin/nologin"])
            .arg(name)
            .output()
            .map_err(|e| format!("cannot run useradd: {e}"))?;
        // Another test process may have created it meanwhile: only its absence is an error.
        if !out.status.success() && id("-u").is_none() {
            return Err(format!("useradd {name} failed: {}", String::from_utf8_lossy(&out.stderr)));
        }
    }
    let (uid, gid) = (id("-u").unwrap(), id("-g").unwrap());
    let account = Account { name: name.to_owned(), uid, gid };
    for file in [bin(), fake_agent(), fake_qwen()] {
        reachable(&account, &file)?;
    }
    Ok(account)
}

/// Whether `account` can run `file` (the daemon's binary, the fake agents): asked of the
/// kernel, as the account; the message names the first directory it cannot enter.
fn reachable(account: &Account, file: &Path) -> Result<(), String> {
    let test = |flag: &str, path: &Path| {
        account
            .command("test")
            .arg(flag)
            .arg(path)
            .stdin(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if test("-x", file) && test("-r", file) {
        return Ok(());
    }
    let mut dirs: Vec<&Path> = file.ancestors().skip(1).collect();
    dirs.reverse();
    let blocked = dirs.into_iter().find(|dir| !test("-x", dir));
    Err(match blocked {
        Some(dir) => format!(
            "{} (uid {}) cannot enter {}, so it cannot run {}: put the checkout where other \
             users can reach it (e.g. chmod o+x {})",
            account.name,
            account.uid,
            dir.display(),
            file.display(),
            dir.display()
        ),
        None => format!(
            "{} (uid {}) cannot read and run {} (chmod o+rx it)",
            account.name,
            account.uid,
            file.display()
        ),
    })
}

/// Carries connections made to `path` to the daemon's socket, connecting as the account.
pub(super) struct Relay {
    path: PathBuf,
    stop: Arc<AtomicBool>,
}

impl Relay {
    /// Listens on `path` (in a directory the account can write) as `account` and relays each
    /// connection to `daemon`. A connection made while the daemon is down is closed at once,
    /// as the daemon's own socket would refuse it.
    pub(super) fn start(account: &Account, path: PathBuf, daemon: PathBuf) -> Relay {
        let stop = Arc::new(AtomicBool::new(false));
        let (ready, started) = std::sync::mpsc::channel();
        let (uid, gid, at, stopped) = (account.uid, account.gid, path.clone(), stop.clone());
        std::thread::Builder::new()
            .name("operator-relay".into())
            .spawn(move || {
                let listener = match drop_root(uid, gid).and_then(|()| UnixListener::bind(&at)) {
                    Ok(listener) => listener,
                    Err(e) => return ready.send(Err(e)).unwrap(),
                };
                ready.send(Ok(())).unwrap();
                for conn in listener.incoming() {
                    if stopped.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    if let Ok(upstream) = UnixStream::connect(&daemon) {
                        pipe(conn, upstream);
                    }
                }
            })
            .expect("spawn the relay thread");
        match started.recv().expect("the relay thread answers") {
            Ok(()) => Relay { path, stop },
            Err(e) => panic!("cannot relay {} as {}: {e}", path.display(), account.name),
        }
    }

    /// Where the harness's client connects.
    pub(super) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so it sees the flag; connections still open end with the daemon.
        let _ = UnixStream::connect(&self.path);
    }
}

/// Gives up root for this thread only (and the threads it starts): groups, gid, then uid, so
/// none of it can be taken back.
fn drop_root(uid: u32, gid: u32) -> io::Result<()> {
    use rustix::process::{Gid, Uid};
    use rustix::thread::{set_thread_groups, set_thread_res_gid, set_thread_res_uid};
    let (uid, gid) = (Uid::from_raw(uid), Gid::from_raw(gid));
    set_thread_groups(&[gid])?;
    set_thread_res_gid(gid, gid, gid)?;
    set_thread_res_uid(uid, uid, uid)?;
    Ok(())
}

/// Copies bytes both ways until each side has said all it will (half-closes passed on).
fn pipe(a: UnixStream, b: UnixStream) {
    let (Ok(a2), Ok(b2)) = (a.try_clone(), b.try_clone()) else { return };
    for (mut from, mut to) in [(a, b2), (b, a2)] {
        std::thread::spawn(move || {
            let _ = io::copy(&mut from, &mut to);
            let _ = to.shutdown(std::net::Shutdown::Write);
        });
    }
}

/// The login account `name` (`useradd --create-home`, shell `/bin/sh`), made when missing: a
/// person a system daemon maps a user to. Returns its uid and HOME; `None` after saying why
/// when the tests do not run as root (a failure when `LLMUX_REQUIRE_SANDBOX` is set).
pub fn login(name: &str) -> Option<(u32, std::path::PathBuf)> {
    if !rustix::process::getuid().is_root() {
        assert!(
            std::env::var_os("LLMUX_REQUIRE_SANDBOX").is_none(),
            "LLMUX_REQUIRE_SANDBOX is set but the tests do not run as root: no account {name}"
        );
        eprintln!("SKIPPED: not root, so no login account {name}");
        return None;
    }
    let exists = Command::new("id").arg(name).output().expect("run id").status.success();
    if !exists {
        let made = Command::new("useradd")
            .args(["--create-home", "--shell", "/bin/sh", name])
            .status()
            .expect("run useradd");
        assert!(made.success(), "useradd {name}");
    }
    let line = Command::new("getent").args(["passwd", name]).output().expect("getent").stdout;
    let line = String::from_utf8(line).expect("utf-8 passwd line");
    let f: Vec<&str> = line.trim().split(':').collect();
    Some((f[2].parse().expect("a uid"), f[5].into()))
}
