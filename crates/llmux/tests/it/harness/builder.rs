//! [`Builder`]: what a test varies about its daemon, before it starts.

use llmux_client::Client;
use llmux_core::paths::Paths;

use super::account::{Account, Relay};
use super::{TestDaemon, fake_agent, fake_qwen, http::user};

/// A test daemon to shape before it starts: `TestDaemon::builder().server("limits: {…}")
/// .env("PATH", &path).admin("root").user("alice").start().await`.
///
/// Every daemon's config allows the Host `box.tailnet.ts.net` and defines two agents: `fake`
/// (the fake agent, with a default flag and env) and `fakeq` (the fake Qwen Code).
#[derive(Default)]
#[must_use = "a builder does nothing until `start`"]
pub struct Builder {
    server: Vec<String>,
    config: String,
    env: Vec<(String, String)>,
    users: Vec<(String, bool)>,
    plain_users: Vec<String>,
    account: Option<Account>,
    netns: Option<String>,
}

impl Builder {
    /// Adds a line under `server:` in the config, e.g. `publicUrl: https://x` or
    /// `limits: {headerTimeoutSecs: 2}`.
    pub fn server(mut self, line: &str) -> Builder {
        self.server.push(line.to_owned());
        self
    }

    /// Appends top-level YAML to the config, e.g. a `notifications:` block.
    pub fn config(mut self, yaml: &str) -> Builder {
        self.config.push_str(yaml);
        self
    }

    /// Sets an environment variable for every start of the daemon (and so for its tmux server
    /// and agents), e.g. a `PATH` that finds real agent CLIs.
    pub fn env(mut self, key: &str, value: &str) -> Builder {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Creates the non-admin account `username` (passphrase `{username}-passphrase`) once the
    /// daemon is up, in the order given.
    pub fn user(mut self, username: &str) -> Builder {
        self.users.push((username.to_owned(), false));
        self
    }

    /// Creates the non-admin account `username` with no root granted: their sessions run in
    /// their default workspace (`<state>/workspaces/<username>`).
    pub fn user_in_default_workspace(mut self, username: &str) -> Builder {
        self.plain_users.push(username.to_owned());
        self
    }

    /// Creates the admin account `username` (passphrase `{username}-passphrase`).
    pub fn admin(mut self, username: &str) -> Builder {
        self.users.push((username.to_owned(), true));
        self
    }

    /// Runs the daemon as `account` (from [`super::account::unprivileged`]) instead of the
    /// tests' own user: its temp dir (state dir, HOME, work dir, config) is owned by that
    /// account, the daemon, the CLI and the harness's tmux commands run as it (`setpriv`), and
    /// [`TestDaemon::client`] reaches the socket through a relay running as it, since the
    /// daemon answers only its own uid there.
    pub fn run_as(mut self, account: &Account) -> Builder {
        self.account = Some(account.clone());
        self
    }

    /// Runs the daemon inside the network namespace `ns` (`ip netns exec`): a fleet host or
    /// hub of its own (issue 17). Its Unix socket is still the test's to reach.
    pub fn netns(mut self, ns: &str) -> Builder {
        self.netns = Some(ns.to_owned());
        self
    }

    /// Writes the config, starts the daemon, waits until it answers and creates the accounts.
    pub async fn start(self) -> TestDaemon {
        // Short paths: Unix socket paths are limited to ~100 bytes.
        let dir = tempfile::Builder::new().prefix("lx").tempdir_in("/tmp").expect("temp dir");
        std::fs::create_dir(dir.path().join("home")).expect("home dir");
        std::fs::create_dir(dir.path().join("work")).expect("work dir");
        let server: String = self.server.iter().map(|l| format!("  {l}\n")).collect();
        let config = format!(
            "server:\n{server}  allowedHosts: [box.tailnet.ts.net]\nagents:\n  fake:\n    cmd: {:?}\n    flags: \"--default-flag\"\n    env:\n      FAKE_DEFAULT: \"1\"\n  fakeq:\n    cmd: {:?}\n    detector: qwen\n{}",
            fake_agent().display().to_string(),
            fake_qwen().display().to_string(),
            self.config,
        );
        std::fs::write(dir.path().join("config.yaml"), config).expect("config");
        let paths = Paths::in_state_dir(dir.path().join("state"));
        let relay = self.account.as_ref().map(|account| {
            account.chown(dir.path());
            Relay::start(account, dir.path().join("operator.sock"), paths.socket.clone())
        });
        let mut daemon = TestDaemon {
            client: Client::unix(relay.as_ref().map_or(paths.socket.as_path(), Relay::path)),
            paths,
            dir,
            child: None,
            env: self.env,
            port: 0,
            account: self.account,
            relay,
            netns: self.netns,
        };
        daemon.spawn_daemon().await;
        for (username, admin) in &self.users {
            user(&daemon, username, *admin).await;
        }
        for username in &self.plain_users {
            super::http::user_in_default_workspace(&daemon, username).await;
        }
        daemon
    }
}
