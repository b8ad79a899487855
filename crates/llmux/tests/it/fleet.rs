//! Fleet (issue 17): a hub showing and driving other daemons (its hosts). Every host is a
//! network namespace with its own llmux daemon (own state dir, own tmux socket), and for SSH
//! its own `sshd` with a test-made host key; the hub runs in a namespace of its own, joined to
//! each host by a veth pair. Traffic stays inside the test's namespaces. Needs root and
//! `ip netns` (CI runs as root); elsewhere each test says why it skips.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use hyper::Method;
use llmux_api::{HostStatus, SessionStatus, SessionView};
use serde_json::json;

use crate::harness::ws::read_until;
use crate::harness::{NETNS_PORT, TestDaemon, in_netns, local, token};

/// Why namespaces cannot be made here, if they cannot.
pub(crate) fn unavailable() -> Option<String> {
    if rustix::process::getuid().as_raw() != 0 {
        return Some("not root: network namespaces need root".into());
    }
    match Command::new("ip").args(["netns", "list"]).output() {
        Ok(o) if o.status.success() => None,
        Ok(o) => Some(format!("`ip netns` fails: {}", String::from_utf8_lossy(&o.stderr))),
        Err(e) => Some(format!("no `ip` (iproute2): {e}")),
    }
}

macro_rules! need_netns {
    () => {
        if let Some(why) = unavailable() {
            eprintln!("skipping the fleet test: {why}");
            return;
        }
    };
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(out.status.success(), "ip {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// The namespaces of one test: a hub and `n` hosts, host `i` at 10.77.`i`.2 and the hub at
/// 10.77.`i`.1 on their own veth. Deleted on drop (after the daemons in them stopped).
pub(crate) struct Net {
    prefix: String,
    hosts: usize,
}

impl Net {
    pub(crate) fn new(hosts: usize) -> Net {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let prefix = format!("lx{}x{n}", std::process::id() % 100_000);
        let net = Net { prefix, hosts: 0 };
        ip(&["netns", "add", &net.hub()]);
        ip(&["-n", &net.hub(), "link", "set", "lo", "up"]);
        let mut net = net;
        for i in 1..=hosts {
            let ns = net.host(i);
            ip(&["netns", "add", &ns]);
            net.hosts = i;
            ip(&["-n", &ns, "link", "set", "lo", "up"]);
            let (a, b) = (format!("{}a{i}", net.prefix), format!("{}b{i}", net.prefix));
            let hub = net.hub();
            ip(&[
                "link", "add", &a, "netns", &hub, "type", "veth", "peer", "name", &b, "netns", &ns,
            ]);
            ip(&["-n", &hub, "addr", "add", &format!("10.77.{i}.1/24"), "dev", &a]);
            ip(&["-n", &ns, "addr", "add", &format!("10.77.{i}.2/24"), "dev", &b]);
            ip(&["-n", &hub, "link", "set", &a, "up"]);
            ip(&["-n", &ns, "link", "set", &b, "up"]);
        }
        net
    }

    pub(crate) fn hub(&self) -> String {
        format!("{}hub", self.prefix)
    }

    pub(crate) fn host(&self, i: usize) -> String {
        format!("{}h{i}", self.prefix)
    }
}

impl Drop for Net {
    /// Kills whatever still runs in the test's namespaces (all started by the test: sshd's
    /// per-connection children, the hub's ssh clients, a daemon a failed test left), then
    /// deletes them: deleting a namespace alone would leave its processes running.
    fn drop(&mut self) {
        let names: Vec<String> =
            (1..=self.hosts).map(|i| self.host(i)).chain(std::iter::once(self.hub())).collect();
        for ns in &names {
            let Ok(out) = Command::new("ip").args(["netns", "pids", ns]).output() else {
                continue;
            };
            for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                let _ = Command::new("kill").args(["-KILL", pid]).status();
            }
        }
        for ns in &names {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// A host daemon in namespace `i` of `net`, listening on 10.77.`i`.2, with the admin `hubber`
/// whose `hub`-scope token the hub is given; returns the daemon, its URL, the token and its id.
async fn host(net: &Net, i: usize) -> (TestDaemon, String, String, String) {
    host_with(net, i, &[]).await
}

/// [`host`] with these (non-admin) users of the host's own.
pub(crate) async fn host_with(
    net: &Net,
    i: usize,
    users: &[&str],
) -> (TestDaemon, String, String, String) {
    let mut b = TestDaemon::builder()
        .netns(&net.host(i))
        .server(&format!("host: 10.77.{i}.2"))
        .admin("hubber");
    for u in users {
        b = b.user(u);
    }
    let d = b.start().await;
    let (tok, id) = token(&d, "hubber", "hub", None).await;
    (d, format!("http://10.77.{i}.2:{NETNS_PORT}"), tok, id)
}

/// Polls the hub's list (as the operator) until `pred` holds; returns the sessions.
pub(crate) async fn hub_until(
    hub: &TestDaemon,
    what: &str,
    pred: impl Fn(&[SessionView]) -> bool,
) -> Vec<SessionView> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let list = hub.client.list_sessions().await.unwrap();
        if pred(&list) {
            return list;
        }
        assert!(Instant::now() < deadline, "never {what}: {list:#?}\nhub log:\n{}", hub.log());
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Polls the hub's host list until host `name` has `status`; returns how long it took.
pub(crate) async fn host_until(
    hub: &TestDaemon,
    name: &str,
    status: HostStatus,
    within: Duration,
) -> Duration {
    let started = Instant::now();
    loop {
        let hosts = hub.client.list_hosts().await.unwrap();
        let h = hosts.iter().find(|h| h.name == name).expect("host listed");
        if h.status == status {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "host {name} not {status:?} within {within:?}: {h:?}\nhub log:\n{}",
            hub.log()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Opens `name`'s terminal through the hub as `client`, sees the agent's screen, types `text`
/// and Enter, and sees the agent echo it back as a prompt.
pub(crate) async fn attach_and_type(client: &llmux_client::Client, name: &str, text: &str) {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    let opts = llmux_client::AttachOptions {
        cols: 100,
        rows: 30,
        history: 100,
        read_only: false,
        insecure: false,
    };
    let mut term = client.attach(name, opts).await.expect("attach through the hub");
    read_until(&mut term, "FAKE AGENT READY").await;
    term.send(Message::Binary(format!("{text}\r").into_bytes().into())).await.unwrap();
    read_until(&mut term, &format!("]: {text}")).await;
}

pub(crate) fn find<'a>(list: &'a [SessionView], name: &str) -> Option<&'a SessionView> {
    list.iter().find(|s| s.name == name)
}

/// The CLI inside the hub's namespace, against its TCP port with `token`.
pub(crate) fn cli_over_tcp(hub: &TestDaemon, net: &Net, token: &str, args: &[&str]) -> Output {
    let mut cmd = hub.command();
    cmd.args(["--server", &format!("http://127.0.0.1:{NETNS_PORT}"), "--token", token]).args(args);
    in_netns(&cmd, &net.hub()).output().expect("run the CLI")
}

#[tokio::test]
async fn a_host_added_by_url_shows_its_sessions_and_obeys_the_hub() {
    need_netns!();
    let net = Net::new(1);
    let (h1, url, tok, _) = host(&net, 1).await;
    let hub = TestDaemon::builder().netns(&net.hub()).user("bob").start().await;

    // bad input is refused at the edge, before anything is stored
    let out = hub.cli(&["host", "add", "-x", "--ssh", "box"]);
    assert_ne!(out.status.code(), Some(0), "{out:?}");
    let (status, body) = local(
        &hub,
        Method::POST,
        "/api/hosts",
        json!({"name": "h1", "ssh": "-oProxyCommand=touch /tmp/x"}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) =
        local(&hub, Method::POST, "/api/hosts", json!({"name": "h1", "url": url})).await;
    assert_eq!(status, 400, "a URL without a token: {body}");

    h1.spawn_fake("r1").await;
    hub.cli_ok(&["host", "add", "h1", "--url", &url, "--host-token", &tok]);
    host_until(&hub, "h1", HostStatus::Up, Duration::from_secs(20)).await;
    // the token is never shown again, anywhere
    let listed = hub.cli_ok(&["--json", "host", "list"]);
    assert!(!listed.contains(&tok) && listed.contains("\"up\""), "{listed}");
    let (_, hosts) = local(&hub, Method::GET, "/api/hosts", json!(null)).await;
    assert!(!hosts.to_string().contains(&tok), "{hosts}");
    assert!(!hub.log().contains(&tok), "the token reached the hub's log");

    // the host's session is in the hub's list as h1:r1, with its host; local names unchanged
    let list = hub_until(&hub, "h1:r1 listed", |l| find(l, "h1:r1").is_some()).await;
    let r1 = find(&list, "h1:r1").unwrap();
    assert_eq!((r1.host.as_deref(), r1.unreachable), (Some("h1"), false));
    let only = hub.client.list_sessions_on("h1").await.unwrap();
    assert!(only.iter().all(|s| s.host.as_deref() == Some("h1")) && !only.is_empty());
    assert!(hub.client.list_sessions_on("local").await.unwrap().is_empty());
    let text = hub.cli_ok(&["session", "list", "--host", "h1"]);
    assert!(text.contains("h1:r1"), "{text}");

    // a session made on the host arrives in the hub's event stream
    let mut events = hub.client.events().await.unwrap();
    h1.spawn_fake("r2").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ev = tokio::time::timeout_at(deadline.into(), events.next()).await;
        let ev = ev.expect("no event with h1:r2 in time").expect("stream open").unwrap();
        if let llmux_client::SessionEvent::Sessions(list) = ev
            && find(&list, "h1:r2").is_some()
        {
            break;
        }
    }

    // start, prompt --wait, capture, stop and remove on the host, through the hub
    let out = hub.cli_ok(&["session", "start", "fakeq", "--host", "h1", "--name", "q1"]);
    assert!(out.contains("h1:q1"), "{out}");
    // made with the hub's token: on the host it is the token's user's session (`q1@hubber`),
    // and the host's audit log names the hub user who acted (the hub's operator: `local`)
    assert_eq!(h1.client.session("q1@hubber").await.unwrap().agent, "fakeq");
    let (_, audit) = local(&h1, Method::GET, "/api/audit?limit=50", json!(null)).await;
    let created = audit.as_array().unwrap().iter().find(|e| {
        e["action"] == "session_created"
            && e["target"].as_str().is_some_and(|t| t.starts_with("q1"))
    });
    let created = created.unwrap_or_else(|| panic!("no session_created in {audit}"));
    assert_eq!(created["actor"], "hubber for hub user local", "{created}");
    let mut events = hub.client.events().await.unwrap();
    let out = hub.cli(&["session", "prompt", "h1:q1", "--wait", "say", "hi"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("Reply to: say hi"), "{out:?}");
    // the host's agent states reach the hub's event stream, named in the hub's terms
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ev = tokio::time::timeout_at(deadline.into(), events.next()).await;
        let ev = ev.expect("no state event for h1:q1 in time").expect("stream open").unwrap();
        if let llmux_client::SessionEvent::State(ev) = ev
            && ev.name == "h1:q1"
            && ev.state == llmux_api::AgentState::Idle
        {
            break;
        }
    }
    let on_host = h1.client.session("q1@hubber").await.unwrap().state;
    hub_until(&hub, "h1:q1's state as on the host", |l| {
        find(l, "h1:q1").is_some_and(|s| s.state == on_host)
    })
    .await;
    let screen = hub.client.capture("h1:r1", 50).await.unwrap();
    assert!(screen.text.contains("FAKE AGENT READY"), "{screen:?}");
    attach_and_type(&hub.client, "h1:r1", "typed through the hub").await;
    let screen = h1.client.capture("r1", 50).await.unwrap().text;
    assert!(screen.contains("PROMPT[1]: typed through the hub"), "{screen}");
    hub.cli_ok(&["session", "stop", "h1:q1"]);
    assert_eq!(h1.client.session("q1@hubber").await.unwrap().status, SessionStatus::Exited);
    hub_until(&hub, "h1:q1 exited", |l| {
        find(l, "h1:q1").is_some_and(|s| s.status == SessionStatus::Exited)
    })
    .await;
    hub.cli_ok(&["session", "rm", "h1:q1"]);
    assert!(h1.client.session("q1@hubber").await.is_err(), "removed on the host");

    // a non-admin of the hub neither sees nor reaches the host's sessions, nor the hosts
    let (bob, _) = token(&hub, "bob", "user", None).await;
    let out = cli_over_tcp(&hub, &net, &bob, &["--json", "session", "list"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("h1:"), "{out:?}");
    for args in [
        &["session", "show", "h1:r1"][..],
        &["session", "prompt", "h1:r1", "hello"],
        &["session", "stop", "h1:r1"],
        &["session", "list", "--host", "h1"],
        &["session", "start", "fake", "--host", "h1"],
        &["host", "list"],
        &["host", "remove", "h1"],
    ] {
        let out = cli_over_tcp(&hub, &net, &bob, args);
        assert_ne!(out.status.code(), Some(0), "{args:?}: {out:?}");
    }
    assert_eq!(h1.client.session("r1").await.unwrap().status, SessionStatus::Running);
    let screen = h1.client.capture("r1", 50).await.unwrap().text;
    assert!(!screen.contains("hello"), "bob's prompt reached the host: {screen}");

    // `host test` goes there now; removing the host drops its sessions from the hub's list
    let out = hub.cli_ok(&["host", "test", "h1"]);
    assert!(out.contains("hubber"), "{out}");
    hub.cli_ok(&["host", "remove", "h1"]);
    hub_until(&hub, "h1's sessions gone", |l| l.iter().all(|s| s.host.is_none())).await;
    drop((hub, h1));
}

#[tokio::test]
async fn a_host_whose_daemon_dies_is_unreachable_then_resynced() {
    need_netns!();
    let net = Net::new(1);
    let (mut h1, url, tok, _) = host(&net, 1).await;
    let hub = TestDaemon::builder().netns(&net.hub()).start().await;
    h1.spawn_fake("r1").await;
    hub.cli_ok(&["host", "add", "h1", "--url", &url, "--host-token", &tok]);
    hub_until(&hub, "h1:r1 listed", |l| find(l, "h1:r1").is_some()).await;

    h1.kill("KILL");
    // kept as last known, marked unreachable, not exited
    let list =
        hub_until(&hub, "h1:r1 unreachable", |l| find(l, "h1:r1").is_some_and(|s| s.unreachable))
            .await;
    assert_eq!(find(&list, "h1:r1").unwrap().status, SessionStatus::Running);
    let (status, body) =
        local(&hub, Method::POST, "/api/sessions/h1:r1/key", json!({"key": "Enter"})).await;
    assert_eq!(status, 409, "an action on an unreachable host: {body}");

    // back: the whole list again (r2 was made while the hub was not looking)
    h1.spawn_daemon().await;
    h1.spawn_fake("r2").await;
    let list = hub_until(&hub, "resynced", |l| {
        find(l, "h1:r2").is_some() && find(l, "h1:r1").is_some_and(|s| !s.unreachable)
    })
    .await;
    assert!(list.iter().filter(|s| s.host.is_some()).all(|s| !s.unreachable));

    // a hub restart: its hosts come from its store, their lists from their streams again
    let mut hub = hub;
    hub.restart().await;
    host_until(&hub, "h1", HostStatus::Up, Duration::from_secs(20)).await;
    hub_until(&hub, "h1:r1 and h1:r2 after a hub restart", |l| {
        find(l, "h1:r1").is_some() && find(l, "h1:r2").is_some()
    })
    .await;
    drop((hub, h1));
}

#[tokio::test]
async fn revoking_the_hubs_token_on_the_host_cuts_the_hub_off_within_a_second() {
    need_netns!();
    let net = Net::new(1);
    let (h1, url, tok, id) = host(&net, 1).await;
    let hub = TestDaemon::builder().netns(&net.hub()).start().await;
    h1.spawn_fake("r1").await;
    hub.cli_ok(&["host", "add", "h1", "--url", &url, "--host-token", &tok]);
    host_until(&hub, "h1", HostStatus::Up, Duration::from_secs(20)).await;
    hub_until(&hub, "h1:r1 listed", |l| find(l, "h1:r1").is_some()).await;

    let (status, body) =
        local(&h1, Method::DELETE, &format!("/api/tokens/{id}"), json!(null)).await;
    assert_eq!(status, 200, "{body}");
    let took = host_until(&hub, "h1", HostStatus::Down, Duration::from_secs(1)).await;
    eprintln!("fleet: revoked hub token -> host down at the hub in {took:?}");
    let (status, body) = local(&hub, Method::GET, "/api/sessions/h1:r1", json!(null)).await;
    assert_ne!(status, 200, "{body}");
    // the next attempt says why (after the first backoff step)
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let hosts = hub.client.list_hosts().await.unwrap();
        let error = hosts[0].error.clone().unwrap_or_default();
        if error.contains("refused the hub's credential") {
            assert_eq!(hosts[0].status, HostStatus::Down);
            break;
        }
        assert!(Instant::now() < deadline, "{hosts:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop((hub, h1));
}

/// An `sshd` in a host's namespace with a test-made host key, and the hub's side: a client key
/// authorized there, a known_hosts naming that host key, and an ssh config using both.
pub(crate) struct Sshd {
    child: Child,
    dir: tempfile::TempDir,
}

impl Sshd {
    pub(crate) fn start(net: &Net, i: usize) -> Sshd {
        let dir = tempfile::Builder::new().prefix("lxssh").tempdir_in("/tmp").unwrap();
        let p = |name: &str| dir.path().join(name);
        for key in ["hostkey", "id"] {
            let out = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(p(key))
                .output()
                .expect("ssh-keygen");
            assert!(out.status.success(), "{out:?}");
        }
        std::fs::copy(p("id.pub"), p("authorized_keys")).unwrap();
        let addr = format!("10.77.{i}.2");
        let hostkey = std::fs::read_to_string(p("hostkey.pub")).unwrap();
        std::fs::write(p("known_hosts"), format!("{addr} {hostkey}")).unwrap();
        std::fs::write(
            p("sshd_config"),
            format!(
                "ListenAddress {addr}\nPort 22\nHostKey {}\nAuthorizedKeysFile {}\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\n\
                 PermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\n\
                 AllowStreamLocalForwarding yes\nPidFile none\n",
                p("hostkey").display(),
                p("authorized_keys").display()
            ),
        )
        .unwrap();
        std::fs::write(
            p("ssh_config"),
            format!(
                "Host *\n  IdentityFile {}\n  IdentitiesOnly yes\n  UserKnownHostsFile {}\n  \
                 StrictHostKeyChecking yes\n  User root\n",
                p("id").display(),
                p("known_hosts").display()
            ),
        )
        .unwrap();
        // sshd's privilege-separation dir (the Debian package makes it at boot)
        std::fs::create_dir_all("/run/sshd").unwrap();
        let child = Sshd::spawn(dir.path(), net, i);
        Sshd { child, dir }
    }

    fn spawn(dir: &Path, net: &Net, i: usize) -> Child {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("sshd.log"))
            .unwrap();
        let mut cmd = Command::new("/usr/sbin/sshd");
        cmd.args(["-D", "-e", "-f"]).arg(dir.join("sshd_config"));
        in_netns(&cmd, &net.host(i))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start sshd")
    }

    /// Kills sshd in host `i`'s namespace, its connections' processes too (the tunnels end).
    pub(crate) fn kill_all(&mut self, net: &Net, i: usize) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let out = Command::new("ip").args(["netns", "pids", &net.host(i)]).output().unwrap();
        for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            if comm.trim().starts_with("sshd") {
                let _ = Command::new("kill").args(["-KILL", pid]).status();
            }
        }
    }

    /// Starts sshd again (same keys and config) after [`Sshd::kill_all`].
    pub(crate) fn back(&mut self, net: &Net, i: usize) {
        self.child = Sshd::spawn(self.dir.path(), net, i);
    }

    pub(crate) fn config(&self) -> PathBuf {
        self.dir.path().join("ssh_config")
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn a_host_added_by_ssh_is_driven_through_its_forwarded_socket() {
    need_netns!();
    if !Path::new("/usr/sbin/sshd").exists() {
        eprintln!("skipping: no /usr/sbin/sshd (Debian openssh-server)");
        return;
    }
    let net = Net::new(1);
    let sshd = Sshd::start(&net, 1);
    let h1 = TestDaemon::builder().netns(&net.host(1)).server("host: 10.77.1.2").start().await;
    let hub = TestDaemon::builder()
        .netns(&net.hub())
        .env("LLMUX_SSH_CONFIG", &sshd.config().display().to_string())
        .start()
        .await;
    h1.spawn_fake("r1").await;
    let socket = h1.paths.socket.display().to_string();
    hub.cli_ok(&["host", "add", "s1", "--ssh", "root@10.77.1.2:22", "--socket", &socket]);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let hosts = hub.client.list_hosts().await.unwrap();
        if hosts[0].status == HostStatus::Up {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "ssh host never up: {hosts:?}\nsshd:\n{}\nhub:\n{}",
            sshd.log(),
            hub.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    hub_until(&hub, "s1:r1 listed", |l| find(l, "s1:r1").is_some()).await;
    // over SSH the host sees the SSH user's uid: its own operator
    let out = hub.cli_ok(&["host", "test", "s1"]);
    assert!(out.contains('✓'), "{out}");
    hub.cli_ok(&["session", "start", "fake", "--host", "s1", "--name", "over-ssh"]);
    assert_eq!(h1.client.session("over-ssh").await.unwrap().status, SessionStatus::Running);
    attach_and_type(&hub.client, "s1:over-ssh", "over the forward").await;
    hub.cli_ok(&["session", "stop", "s1:over-ssh"]);
    assert_eq!(h1.client.session("over-ssh").await.unwrap().status, SessionStatus::Exited);
    // the ControlMaster socket and the forwarded socket live in the hub's own run dir
    let ssh_dir = hub.paths.run_dir.join("ssh");
    assert!(ssh_dir.join("s1.sock").exists(), "{ssh_dir:?}");

    // the host's sshd killed (with its connections): the host is down, its sessions kept as
    // unreachable; sshd back: the link reconnects and the list is whole again
    let mut sshd = sshd;
    sshd.kill_all(&net, 1);
    host_until(&hub, "s1", HostStatus::Down, Duration::from_secs(20)).await;
    hub_until(&hub, "s1:r1 unreachable", |l| find(l, "s1:r1").is_some_and(|s| s.unreachable)).await;
    sshd.back(&net, 1);
    host_until(&hub, "s1", HostStatus::Up, Duration::from_secs(30)).await;
    hub_until(&hub, "s1:r1 reachable again", |l| find(l, "s1:r1").is_some_and(|s| !s.unreachable))
        .await;

    // a hub killed outright takes its ssh clients with it (parent-death signal via setpriv)
    let before = ssh_clients(&net.hub());
    assert!(!before.is_empty(), "no ssh client of the hub in its namespace");
    let mut hub = hub;
    hub.kill("KILL");
    let started = Instant::now();
    loop {
        let left = ssh_clients(&net.hub());
        if left.is_empty() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "ssh clients {left:?} outlived the SIGKILLed hub"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!("fleet: SIGKILLed hub -> its ssh clients gone in {:?}", started.elapsed());
    // and a restarted hub opens a new tunnel over the stale socket path, list resynced
    h1.spawn_fake("r2").await;
    hub.spawn_daemon().await;
    host_until(&hub, "s1", HostStatus::Up, Duration::from_secs(30)).await;
    hub_until(&hub, "s1:r1 and s1:r2 after the hub came back", |l| {
        find(l, "s1:r1").is_some() && find(l, "s1:r2").is_some()
    })
    .await;
    drop((hub, h1, sshd));
}

/// The pids of `ssh` processes running in namespace `ns` (the hub's clients).
fn ssh_clients(ns: &str) -> Vec<String> {
    let out = Command::new("ip").args(["netns", "pids", ns]).output().expect("ip netns pids");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "ssh")
        })
        .map(str::to_owned)
        .collect()
}

mod notify;
mod users;
