//! The old Node llmux 0.41.1 (npm `@cordfuse/llmux`), driven by its own CLI to make a real
//! old install for the import tests: its users.json, tokens.json and sessions.json, its
//! sessions running in its own tmux server (the default server of a private `TMUX_TMPDIR`).
//!
//! `scripts/install-test-agents` installs it into `target/test-agents/llmux-0.41`; another
//! copy can be named with `LLMUX_TEST_OLD_LLMUX`. Without it the tests are skipped with a
//! notice, or fail under `LLMUX_REQUIRE_REAL_AGENTS=1` (as `scripts/test` runs them).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

use super::TestDaemon;

/// scrypt (N = 1024, r = 8, p = 1, 0.41's format) of [`CRAFTED_PASSPHRASE`], made with Node,
/// for hand-written old installs.
pub const CRAFTED_HASH: &str = "scrypt$1024$BQUFBQUFBQUFBQUFBQUFBQ==$/TmAzZDecZbmwmT1P3GNtsoiccHRcexVyJdvSxZzbtx7dVJKyv3eKsoPkmycju49yeBJ8QjP7p5TVnZ+TG8dRA==";
/// The passphrase [`CRAFTED_HASH`] hashes.
pub const CRAFTED_PASSPHRASE: &str = "attacker passphrase";
/// A token secret, and the base64 SHA-256 0.41 stores for it.
pub const CRAFTED_SECRET: &str = "attackersecretattackersecretattackersecret1";
/// See [`CRAFTED_SECRET`].
pub const CRAFTED_SECRET_HASH: &str = "wX3Zp9+DqujTz3IikP424yJUJUsjZzGzmypWHIq7esg=";

/// Writes a hand-made old install (users.json, tokens.json, sessions.json) into `dir`.
pub fn write_install(dir: &Path, users: &Value, tokens: &Value, sessions: &Value) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("users.json"), users.to_string()).unwrap();
    std::fs::write(dir.join("tokens.json"), tokens.to_string()).unwrap();
    let sessions = json!({"version": 1, "sessions": sessions});
    std::fs::write(dir.join("sessions.json"), sessions.to_string()).unwrap();
}

/// Runs `llmux import llmux-0.41 --from FROM --config-to CONFIG_TO` into `d`'s state dir (the
/// daemon must be stopped), with no old tmux server.
pub fn import_from(d: &TestDaemon, from: &Path, config_to: &Path) -> Output {
    let mut cmd = Command::new(super::bin());
    cmd.env_remove("LLMUX_STATE_DIR")
        .env("HOME", d.home())
        .env("TMUX_TMPDIR", d.dir().join("no-old-tmux"))
        .arg("--state-dir")
        .arg(&d.paths.state_dir)
        .args(["import", "llmux-0.41", "--from"])
        .arg(from)
        .arg("--config-to")
        .arg(config_to)
        .stdin(Stdio::null());
    cmd.output().unwrap()
}

/// The old `llmux` executable, or `None` (with a notice) to skip.
pub fn find() -> Option<PathBuf> {
    let path = std::env::var_os("LLMUX_TEST_OLD_LLMUX").map(PathBuf::from).unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../target/test-agents/llmux-0.41/node_modules/.bin/llmux")
    });
    if path.is_file() {
        return Some(path);
    }
    let problem = format!("{} is not there; run scripts/install-test-agents", path.display());
    if std::env::var("LLMUX_REQUIRE_REAL_AGENTS").as_deref() == Ok("1") {
        panic!("the llmux 0.41 import test cannot run: {problem}");
    }
    println!("skipped: llmux 0.41 not available ({problem})");
    None
}

/// An old install under `home`, its tmux server under `tmux_tmpdir`.
pub struct OldLlmux {
    bin: PathBuf,
    /// Its `HOME` (XDG dirs at their defaults under it).
    pub home: PathBuf,
    /// Its `TMUX_TMPDIR`.
    pub tmux_tmpdir: PathBuf,
    /// Stand-ins for `claude` and `codex` (they sleep), first on its `PATH`.
    pub bin_dir: PathBuf,
}

impl OldLlmux {
    /// An old install in `home` (created), with its tmux server under `tmux_tmpdir`.
    pub fn new(bin: PathBuf, home: &Path, tmux_tmpdir: &Path) -> OldLlmux {
        let bin_dir = home.join("old-bin");
        std::fs::create_dir_all(&bin_dir).unwrap();
        std::fs::create_dir_all(tmux_tmpdir).unwrap();
        for agent in ["claude", "codex"] {
            let path = bin_dir.join(agent);
            std::fs::write(&path, "#!/bin/sh\nexec sleep 600\n").unwrap();
            let mode = std::os::unix::fs::PermissionsExt::from_mode(0o755);
            std::fs::set_permissions(&path, mode).unwrap();
        }
        OldLlmux { bin, home: home.to_owned(), tmux_tmpdir: tmux_tmpdir.to_owned(), bin_dir }
    }

    /// The environment both the old CLI and our import see: its HOME and tmux dir, no XDG
    /// overrides (so the defaults under HOME hold), no llmux variables of ours.
    pub fn env(&self, cmd: &mut Command) {
        for (key, _) in std::env::vars_os() {
            let k = key.to_string_lossy();
            if k.starts_with("LLMUX") || k.starts_with("XDG_") || k == "TMUX" {
                cmd.env_remove(key);
            }
        }
        let path =
            format!("{}:{}", self.bin_dir.display(), std::env::var("PATH").unwrap_or_default());
        cmd.env("HOME", &self.home).env("TMUX_TMPDIR", &self.tmux_tmpdir).env("PATH", path);
    }

    /// Runs the old CLI.
    pub fn run(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(&self.bin);
        self.env(&mut cmd);
        cmd.args(args)
            .current_dir(&self.home)
            .stdin(Stdio::null())
            .output()
            .expect("run llmux 0.41")
    }

    /// Runs the old CLI and asserts success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "llmux 0.41 {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs 0.41's daemon (`server start`) on a free port until the returned guard drops
    /// (SIGTERM); waits until `/health` answers.
    pub fn serve(&self) -> OldDaemon {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut cmd = Command::new(&self.bin);
        self.env(&mut cmd);
        let log = std::fs::File::create(self.home.join("old-daemon.log")).unwrap();
        let child = cmd
            .args(["server", "start", "--no-qr", "--port", &port.to_string()])
            .current_dir(&self.home)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start llmux 0.41's daemon");
        let daemon = OldDaemon { child, port, log: self.home.join("old-daemon.log") };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
            || super::http_to(port, "GET", "/health", &[], "").0 != 200
        {
            assert!(
                std::time::Instant::now() < deadline,
                "0.41's daemon did not come up: {}",
                daemon.log()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        daemon
    }

    /// The socket of its tmux server.
    pub fn tmux_socket(&self) -> PathBuf {
        self.tmux_tmpdir
            .join(format!("tmux-{}", rustix::process::getuid().as_raw()))
            .join("default")
    }

    /// Its tmux server's session names.
    pub fn tmux_sessions(&self) -> Vec<String> {
        let out = Command::new("tmux")
            .arg("-S")
            .arg(self.tmux_socket())
            .args(["ls", "-F", "#{session_name}"])
            .env_remove("TMUX")
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect()
    }
}

impl Drop for OldLlmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-S")
            .arg(self.tmux_socket())
            .arg("kill-server")
            .env_remove("TMUX")
            .stderr(Stdio::null())
            .status();
    }
}

/// 0.41's daemon, stopped (SIGTERM, as its users stopped it) on drop.
pub struct OldDaemon {
    child: std::process::Child,
    /// Its TCP port.
    pub port: u16,
    log: PathBuf,
}

impl OldDaemon {
    /// A JSON call with a bearer token; (status, JSON body).
    pub fn call(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: &serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let auth = format!("Bearer {token}");
        let headers = [("Authorization", auth.as_str()), ("Content-Type", "application/json")];
        let (status, res) = super::http_to(self.port, method, path, &headers, &body.to_string());
        (status, super::body_of(&res))
    }

    /// Its output so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for OldDaemon {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.child.id().to_string()).status();
        let _ = self.child.wait();
    }
}
