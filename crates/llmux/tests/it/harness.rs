//! The test daemon: the real binary on a private state dir, tmux socket and port.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use llmux_client::Client;
use llmux_core::api::{CreateSessionRequest, SessionStatus, SessionView};
use llmux_core::paths::Paths;

/// Path of the built binary.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_llmux"))
}

/// The fake Qwen Code (`fakeq`, read with the qwen detector).
pub fn fake_qwen() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fake-qwen")
}

/// The fake agent script.
pub fn fake_agent() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fake-agent")
}

/// A running daemon for one test; stopped (with its tmux server) on drop.
pub struct TestDaemon {
    dir: tempfile::TempDir,
    child: Option<Child>,
    pub paths: Paths,
    pub client: Client,
    pub port: u16,
}

impl TestDaemon {
    /// Starts a daemon whose config defines the `fake` agent.
    pub async fn start() -> TestDaemon {
        TestDaemon::start_with_env(&[]).await
    }

    /// Like [`TestDaemon::start`], with extra environment for the daemon (and so for its tmux
    /// server and agents), e.g. a `PATH` that finds real agent CLIs.
    pub async fn start_with_env(env: &[(&str, &str)]) -> TestDaemon {
        // Short paths: Unix socket paths are limited to ~100 bytes.
        let dir = tempfile::Builder::new().prefix("lx").tempdir_in("/tmp").expect("temp dir");
        std::fs::create_dir(dir.path().join("home")).expect("home dir");
        std::fs::create_dir(dir.path().join("work")).expect("work dir");
        let config = format!(
            "server:\n  allowedHosts: [box.tailnet.ts.net]\nagents:\n  fake:\n    cmd: {:?}\n    flags: \"--default-flag\"\n    env:\n      FAKE_DEFAULT: \"1\"\n  fakeq:\n    cmd: {:?}\n    detector: qwen\n",
            fake_agent().display().to_string(),
            fake_qwen().display().to_string()
        );
        std::fs::write(dir.path().join("config.yaml"), config).expect("config");
        let paths = Paths::in_state_dir(dir.path().join("state"));
        let mut daemon =
            TestDaemon { client: Client::unix(&paths.socket), paths, dir, child: None, port: 0 };
        daemon.spawn_daemon_with(env).await;
        daemon
    }

    /// Starts the daemon process and waits until it answers.
    pub async fn spawn_daemon(&mut self) {
        self.spawn_daemon_with(&[]).await;
    }

    /// Starts the daemon process with extra environment and waits until it answers.
    pub async fn spawn_daemon_with(&mut self, env: &[(&str, &str)]) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("log file");
        let mut cmd = self.command();
        cmd.args(["server", "start", "--port", "0", "--config"])
            .arg(self.dir.path().join("config.yaml"))
            .env("LLMUX_LOG", "info,tower_http=debug")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log fd"))
            .stderr(log);
        let child = cmd.spawn().expect("spawn daemon");
        let pid = child.id();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if self.client.health().await.is_ok() {
                break;
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("daemon {pid} exited with {status}; log:\n{}", self.log());
            }
            assert!(Instant::now() < deadline, "daemon did not come up; log:\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.port = self.read_port();
    }

    fn read_port(&self) -> u16 {
        let log = self.log();
        let line = log.lines().rev().find(|l| l.contains("▸ Local")).expect("banner in the log");
        line.rsplit(':').next().and_then(|p| p.trim().parse().ok()).expect("port in the banner")
    }

    /// A `Command` for the binary with this daemon's environment (and nothing else of ours).
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(bin());
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("LLMUX_") || key == "XDG_STATE_HOME" {
                cmd.env_remove(key);
            }
        }
        cmd.env("LLMUX_STATE_DIR", &self.paths.state_dir)
            .env("HOME", self.home())
            .current_dir(self.work());
        cmd
    }

    /// Runs the CLI against this daemon.
    pub fn cli(&self, args: &[&str]) -> Output {
        self.command().args(args).stdin(Stdio::null()).output().expect("run llmux")
    }

    /// Runs the CLI and asserts success; returns stdout.
    pub fn cli_ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "llmux {args:?} failed with {}\nstdout:\n{}\nstderr:\n{}\ndaemon log:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
        String::from_utf8(out.stdout).expect("utf-8 stdout")
    }

    /// The daemon's HOME (for `~` expansion).
    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// A directory to run agents in.
    pub fn work(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    /// The temp dir of this test.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("daemon.log")
    }

    /// The daemon's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// The daemon's pid.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("daemon running").id()
    }

    /// Kills the daemon with `signal` and waits for it.
    pub fn kill(&mut self, signal: &str) {
        if let Some(mut child) = self.child.take() {
            let _ =
                Command::new("kill").arg(format!("-{signal}")).arg(child.id().to_string()).status();
            let _ = child.wait();
        }
    }

    /// Creates a `fake` session named `name` in the work dir.
    pub async fn spawn_fake(&self, name: &str) -> SessionView {
        let req = CreateSessionRequest {
            agent: "fake".into(),
            name: Some(name.into()),
            cwd: Some(self.work().display().to_string()),
            ..Default::default()
        };
        let session = self.client.create_session(&req).await.expect("create fake session");
        self.wait_for_screen(name, "SIZE ").await;
        session
    }

    /// Polls the session's screen until it contains `needle`; returns the screen.
    pub async fn wait_for_screen(&self, name: &str, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut last = String::new();
        while Instant::now() < deadline {
            if let Ok(c) = self.client.capture(name, 200).await {
                if c.text.contains(needle) {
                    return c.text;
                }
                last = c.text;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("{needle:?} never appeared on {name}; screen:\n{last}\ndaemon log:\n{}", self.log());
    }

    /// Polls until the session has `status`.
    pub async fn wait_for_status(&self, name: &str, status: SessionStatus) -> SessionView {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let s = self.client.session(name).await.expect("session exists");
            if s.status == status {
                return s;
            }
            assert!(Instant::now() < deadline, "{name} never became {status:?}: {s:?}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The tmux sessions of the daemon's server, without its own hidden control session.
    pub fn tmux_sessions(&self) -> Vec<String> {
        let out = self.tmux(&["ls", "-F", "#{session_name}"]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| *l != llmux_core::tmux::CONTROL_SESSION)
            .map(str::to_owned)
            .collect()
    }

    /// Runs a tmux command against this daemon's tmux server.
    pub fn tmux(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-S")
            .arg(&self.paths.tmux_socket)
            .args(args)
            .env_remove("TMUX")
            .output()
            .expect("run tmux")
    }

    /// Sends a raw HTTP/1.1 request over TCP; returns (status, headers+body text).
    pub fn http(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, String) {
        use std::io::{Read, Write};
        let mut stream =
            std::net::TcpStream::connect(("127.0.0.1", self.port)).expect("connect tcp");
        stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n",
            self.port
        );
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
        stream.write_all(req.as_bytes()).expect("write request");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("read response");
        let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("status line");
        (status, response)
    }
}

impl Drop for TestDaemon {
    fn drop(&mut self) {
        self.kill("KILL");
        let _ = self.tmux(&["kill-server"]);
        // A control client the killed daemon was still starting outlives it, and can bring up a
        // fresh server after the kill-server above: end every process of this socket, then the
        // server once more.
        let socket = self.paths.tmux_socket.to_string_lossy().into_owned();
        let _ = Command::new("pkill").args(["-KILL", "-f", &socket]).status();
        let _ = self.tmux(&["kill-server"]);
    }
}

/// Sends a raw HTTP/1.1 request to `127.0.0.1:port`; returns (status, headers+body text).
/// A `Host` header in `headers` replaces the default one. Event streams are read up to the
/// end of their headers only.
pub fn http_to(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect tcp");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let mut req = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req.push_str(&format!("Host: 127.0.0.1:{port}\r\n"));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(req.as_bytes()).expect("write request");
    let mut response = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => response.extend_from_slice(&buf[..n]),
            Err(e) => panic!("reading {method} {path}: {e}"),
        }
        let text = String::from_utf8_lossy(&response);
        if text.contains("\r\n\r\n")
            && text.to_ascii_lowercase().contains("content-type: text/event-stream")
        {
            break;
        }
    }
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("status line");
    (status, response)
}
