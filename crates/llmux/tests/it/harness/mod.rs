//! The test daemon: the real binary on a private state dir, tmux socket and port.
//!
//! [`TestDaemon::builder`] shapes what a test varies (config, environment, accounts);
//! [`http`] holds the request helpers every module shares; [`ws`] the terminal's; [`account`]
//! runs a daemon as an unprivileged Unix account ([`Builder::run_as`]).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use hyper::Method;
use llmux_api::{CreateSessionRequest, SessionStatus, SessionView};
use llmux_client::Client;
use llmux_core::paths::Paths;

pub mod account;
mod builder;
pub mod http;
pub mod old_llmux;
pub mod ws;

pub use builder::Builder;
pub use http::{
    body_of, call, create_as, http_to, local, login_cookie, login_cookie_with, post_json, token,
    user,
};

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

/// The TCP port of a daemon in a network namespace of its own ([`Builder::netns`]).
pub const NETNS_PORT: &str = "3001";

/// `cmd` (program, arguments so far, environment, directory) run by `ip netns exec ns`.
pub fn in_netns(cmd: &Command, ns: &str) -> Command {
    let mut wrapped = Command::new("ip");
    wrapped.args(["netns", "exec", ns]).arg(cmd.get_program()).args(cmd.get_args());
    for (key, value) in cmd.get_envs() {
        match value {
            Some(v) => wrapped.env(key, v),
            None => wrapped.env_remove(key),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        wrapped.current_dir(dir);
    }
    wrapped
}

/// A running daemon for one test; stopped (with its tmux server) on drop.
pub struct TestDaemon {
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// Environment every start of this daemon gets (from [`Builder::env`]).
    env: Vec<(String, String)>,
    pub paths: Paths,
    pub client: Client,
    /// The TCP port the daemon bound (it starts with `--port 0`), from `GET /api/about`.
    pub port: u16,
    /// The Unix account the daemon runs as, when not the tests' own ([`Builder::run_as`]).
    account: Option<account::Account>,
    /// Carries [`TestDaemon::client`]'s calls to the socket as that account.
    relay: Option<account::Relay>,
    /// The network namespace the daemon runs in ([`Builder::netns`]).
    netns: Option<String>,
}

impl TestDaemon {
    /// Starts a daemon whose config defines the `fake` and `fakeq` agents.
    pub async fn start() -> TestDaemon {
        TestDaemon::builder().start().await
    }

    /// A daemon to shape before starting: config, environment, accounts.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// Starts the daemon process and waits until it answers.
    pub async fn spawn_daemon(&mut self) {
        self.spawn_daemon_with(&[]).await;
    }

    /// Stops the daemon with SIGTERM and starts it again (reading its config anew).
    pub async fn restart(&mut self) {
        self.kill("TERM");
        self.spawn_daemon().await;
    }

    /// Starts the daemon process with extra environment (for this start only, after the
    /// builder's) and waits until it answers.
    pub async fn spawn_daemon_with(&mut self, env: &[(&str, &str)]) {
        let cmd = self.daemon_command(env);
        self.spawn_command(cmd);
        self.wait_until_up().await;
    }

    /// The command [`TestDaemon::spawn_daemon_with`] runs: `server start` on port 0 with this
    /// daemon's config and environment, its output appended to the log.
    pub fn daemon_command(&self, env: &[(&str, &str)]) -> Command {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("log file");
        let mut cmd = self.command();
        // In a namespace of its own the port is free and stays the same across restarts.
        let port = if self.netns.is_some() { NETNS_PORT } else { "0" };
        if let Some(ns) = &self.netns {
            cmd = in_netns(&cmd, ns);
        }
        cmd.args(["server", "start", "--port", port, "--config"])
            .arg(self.dir.path().join("config.yaml"))
            .env("LLMUX_LOG", "info,tower_http=debug")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log fd"))
            .stderr(log);
        cmd
    }

    /// Spawns `cmd` (e.g. [`TestDaemon::daemon_command`], or a wrapper around it) as this
    /// test's daemon, without waiting for it; returns its pid.
    pub fn spawn_command(&mut self, mut cmd: Command) -> u32 {
        let child = cmd.spawn().expect("spawn daemon");
        let pid = child.id();
        self.child = Some(child);
        pid
    }

    /// Waits (20 s at most) until the daemon answers on its socket; reads its TCP port.
    pub async fn wait_until_up(&mut self) {
        let pid = self.pid();
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
        self.port = self.bound_port().await;
    }

    /// Waits (20 s at most) for the daemon process to exit on its own; returns its status.
    pub fn wait_for_exit(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("daemon running");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = child.try_wait().expect("wait for the daemon") {
                return status;
            }
            assert!(Instant::now() < deadline, "daemon did not exit; log:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends `signal` to the daemon without waiting for it.
    pub fn signal(&self, signal: &str) {
        let pid = self.pid().to_string();
        let status = Command::new("kill").arg(format!("-{signal}")).arg(pid).status();
        assert!(status.is_ok_and(|s| s.success()), "kill -{signal} failed");
    }

    /// The port the daemon bound, from its `Local` endpoint in `GET /api/about` (asked over
    /// the Unix socket): what the web UI's About page shows, not a line of the log.
    async fn bound_port(&self) -> u16 {
        let (status, about) = local(self, Method::GET, "/api/about", serde_json::Value::Null).await;
        assert_eq!(status, 200, "{about}");
        let url = about["endpoints"]
            .as_array()
            .and_then(|e| e.iter().find(|e| e["label"] == "Local"))
            .and_then(|e| e["url"].as_str())
            .unwrap_or_else(|| panic!("no Local endpoint in {about}"));
        url.rsplit(':').next().and_then(|p| p.parse().ok()).expect("a port in the Local URL")
    }

    /// A `Command` for the binary with this daemon's environment (and nothing else of ours),
    /// run as the daemon's account.
    pub fn command(&self) -> Command {
        let mut cmd = self.as_daemon_user(bin());
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

    /// `program` run as the Unix account the daemon runs as (the tests' own user unless
    /// [`Builder::run_as`] named another).
    pub fn as_daemon_user(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        match &self.account {
            Some(account) => account.command(program),
            None => Command::new(program),
        }
    }

    /// The uid the daemon runs as.
    pub fn uid(&self) -> u32 {
        self.account.as_ref().map_or_else(|| rustix::process::getuid().as_raw(), |a| a.uid)
    }

    /// Makes `path` (and what is under it), written by the test, owned by the daemon's
    /// account, as if the daemon had made it; nothing when the daemon runs as the tests' user.
    pub fn hand_to_daemon(&self, path: &Path) {
        if let Some(account) = &self.account {
            account.chown(path);
        }
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

    /// The file the daemon's stdout and stderr go to.
    pub fn log_path(&self) -> PathBuf {
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
        let mut names: Vec<String> = self
            .tmux_each(&["ls", "-F", "#{session_name}"])
            .lines()
            .filter(|l| *l != llmux_core::tmux::CONTROL_SESSION)
            .map(str::to_owned)
            .collect();
        names.sort();
        names
    }

    /// The sockets of every tmux server of this daemon: llmux's own, then each confined
    /// user's (`run/u/*.sock`).
    pub fn tmux_sockets(&self) -> Vec<PathBuf> {
        let mut users: Vec<PathBuf> = std::fs::read_dir(self.paths.run_dir.join("u"))
            .map(|dir| dir.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        users.retain(|p| p.extension().is_some_and(|e| e == "sock"));
        users.sort();
        std::iter::once(self.paths.tmux_socket.clone()).chain(users).collect()
    }

    /// Runs a tmux command against every tmux server of this daemon; their stdout, joined.
    pub fn tmux_each(&self, args: &[&str]) -> String {
        self.tmux_sockets()
            .iter()
            .map(|socket| {
                let out = self
                    .as_daemon_user("tmux")
                    .arg("-S")
                    .arg(socket)
                    .args(args)
                    .env_remove("TMUX")
                    .output()
                    .expect("run tmux");
                String::from_utf8_lossy(&out.stdout).into_owned()
            })
            .collect()
    }

    /// Runs a tmux command against `user`'s own tmux server.
    pub fn tmux_of(&self, user: &str, args: &[&str]) -> Output {
        self.as_daemon_user("tmux")
            .arg("-S")
            .arg(self.paths.user_tmux_socket(user))
            .args(args)
            .env_remove("TMUX")
            .output()
            .expect("run tmux")
    }

    /// Runs a tmux command against this daemon's tmux server.
    pub fn tmux(&self, args: &[&str]) -> Output {
        self.as_daemon_user("tmux")
            .arg("-S")
            .arg(&self.paths.tmux_socket)
            .args(args)
            .env_remove("TMUX")
            .output()
            .expect("run tmux")
    }

    /// Sends a raw HTTP/1.1 request to this daemon over TCP; see [`http_to`].
    pub fn http(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, String) {
        http_to(self.port, method, path, headers, body)
    }

    /// Adds `line` (e.g. `publicUrl: https://x`) under `server:` in the config file; takes
    /// effect at the next start.
    pub fn add_server_config(&self, line: &str) {
        let path = self.config_path();
        let text = std::fs::read_to_string(&path).expect("config");
        let text = text.replacen("server:\n", &format!("server:\n  {line}\n"), 1);
        std::fs::write(&path, text).expect("config");
    }

    /// Appends top-level YAML (e.g. a `notifications:` block) to the config file; takes
    /// effect at the next start.
    pub fn add_config(&self, yaml: &str) {
        let path = self.config_path();
        let mut text = std::fs::read_to_string(&path).expect("config");
        text.push_str(yaml);
        std::fs::write(&path, text).expect("config");
    }

    /// The daemon's config file.
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("config.yaml")
    }

    /// Creates a `fakeq` session (the fake Qwen Code) named `name` in the work dir, with
    /// extra environment and init prompts.
    pub async fn spawn_fakeq(
        &self,
        name: &str,
        env: &[(&str, &str)],
        init: &[&str],
    ) -> SessionView {
        let env = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let req = CreateSessionRequest {
            agent: "fakeq".into(),
            name: Some(name.into()),
            cwd: Some(self.work().display().to_string()),
            env: Some(llmux_api::EnvInput::Map(env)),
            init_prompts: (!init.is_empty())
                .then(|| init.iter().map(|s| (*s).to_owned()).collect()),
            ..Default::default()
        };
        self.client.create_session(&req).await.expect("create fakeq session")
    }

    /// Polls until the session's agent is in `state`; returns the session.
    pub async fn wait_for_state(&self, name: &str, state: llmux_api::AgentState) -> SessionView {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let s = self.client.session(name).await.expect("session exists");
            if s.state == state {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "{name} never became {state}: {s:?}\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
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
        // Confined users' own tmux servers, with their sandboxed panes.
        let users = self.paths.run_dir.join("u/");
        let _ = Command::new("pkill").args(["-KILL", "-f", &users.to_string_lossy()]).status();
        // Before the temp dir holding its socket goes.
        self.relay.take();
    }
}
