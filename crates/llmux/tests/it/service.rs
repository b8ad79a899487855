//! The daemon as a service (issue 16 §1): the generated units pass `systemd-analyze verify`;
//! readiness, watchdog and stop through a `NOTIFY_SOCKET` the test listens on; socket
//! activation through `LISTEN_FDS` (`systemd-socket-activate`); SIGTERM keeps the agents;
//! SIGHUP reloads the config file; `service install` without systemd says what to do instead.
//! systemd is not PID 1 here (nor in CI): every piece of the protocol is driven by the test.

use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hyper::Method;
use llmux_api::SessionStatus;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::ws::{read_to_close, tcp_viewer};
use crate::harness::{TestDaemon, bin, local, token};

/// What the daemon must never hand on to tmux or an agent.
const PROTOCOL_VARS: &[&str] = &[
    "NOTIFY_SOCKET",
    "WATCHDOG_USEC",
    "WATCHDOG_PID",
    "LISTEN_FDS",
    "LISTEN_PID",
    "LISTEN_FDNAMES",
];

/// The service manager's end of `NOTIFY_SOCKET`: a datagram socket the test binds and reads.
struct Notify {
    socket: tokio::net::UnixDatagram,
    seen: Vec<String>,
}

impl Notify {
    fn bind(addr: &std::os::unix::net::SocketAddr) -> Notify {
        let socket = std::os::unix::net::UnixDatagram::bind_addr(addr).expect("bind NOTIFY_SOCKET");
        socket.set_nonblocking(true).unwrap();
        Notify { socket: tokio::net::UnixDatagram::from_std(socket).unwrap(), seen: Vec::new() }
    }

    /// An abstract socket (`NOTIFY_SOCKET=@name`); returns it and the variable's value.
    fn abstract_name(name: &str) -> (Notify, String) {
        use std::os::linux::net::SocketAddrExt;
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name).unwrap();
        (Notify::bind(&addr), format!("@{name}"))
    }

    fn path(path: &Path) -> Notify {
        Notify::bind(&std::os::unix::net::SocketAddr::from_pathname(path).unwrap())
    }

    /// The next message satisfying `want` (20 s at most); every message read is kept.
    async fn until(&mut self, what: &str, want: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut buf = vec![0u8; 4096];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let n = match tokio::time::timeout(left, self.socket.recv(&mut buf)).await {
                Ok(n) => n.expect("recv on NOTIFY_SOCKET"),
                Err(_) => panic!("no {what} on NOTIFY_SOCKET within 20 s; got {:?}", self.seen),
            };
            let message = String::from_utf8_lossy(&buf[..n]).into_owned();
            self.seen.push(message.clone());
            if want(&message) {
                return message;
            }
        }
    }
}

fn has_line(message: &str, line: &str) -> bool {
    message.lines().any(|l| l == line)
}

/// Polls `check` every 20 ms until it holds (20 s at most).
async fn until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn environ(pid: &str) -> Vec<String> {
    let raw = std::fs::read(format!("/proc/{pid}/environ")).expect("read environ");
    raw.split(|b| *b == 0).map(|v| String::from_utf8_lossy(v).into_owned()).collect()
}

fn has_var(env: &[String], name: &str) -> bool {
    env.iter().any(|kv| kv.split_once('=').is_some_and(|(k, _)| k == name))
}

/// Whether a log line starts with a timestamp (`2026-12-04T…`).
fn stamped(line: &str) -> bool {
    let b = line.as_bytes();
    b.len() > 10 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-' && b[10] == b'T'
}

#[test]
fn generated_units_pass_systemd_analyze_verify() {
    let dir = tempfile::tempdir().unwrap();
    // The user manager's verify wants a runtime dir (there is no user session here).
    let runtime = dir.path().join("runtime");
    std::fs::create_dir(&runtime).unwrap();
    std::fs::set_permissions(&runtime, std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .unwrap();
    let exe = bin().canonicalize().unwrap();
    for scope in ["--user", "--system"] {
        let units = dir.path().join(scope.trim_start_matches('-'));
        let out = Command::new(bin())
            .args(["service", "install", scope, "--socket", "--unit-dir"])
            .arg(&units)
            .output()
            .unwrap();
        assert!(out.status.success(), "{scope}: {}", String::from_utf8_lossy(&out.stderr));
        let service = std::fs::read_to_string(units.join("llmux.service")).unwrap();
        let socket = std::fs::read_to_string(units.join("llmux.socket")).unwrap();
        assert!(
            service.contains(&format!("\nExecStart={} server start", exe.display())),
            "{scope}: ExecStart names this binary:\n{service}"
        );
        assert!(!service.contains("@BIN@") && !socket.contains("@BIN@"));
        for needed in ["Type=notify", "WatchdogSec=", "KillMode=process", "ExecReload="] {
            assert!(service.contains(needed), "{scope}: {needed} missing:\n{service}");
        }
        let mut verify = Command::new("systemd-analyze");
        if scope == "--user" {
            verify.arg("--user").env("XDG_RUNTIME_DIR", &runtime);
        }
        let out = verify
            .arg("verify")
            .arg(units.join("llmux.service"))
            .arg(units.join("llmux.socket"))
            .output()
            .expect("systemd-analyze (Debian: systemd)");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{scope}: systemd-analyze verify failed:\n{stderr}");
        // A warning (an unknown key, a bad value) fails too.
        assert!(stderr.trim().is_empty(), "{scope}: systemd-analyze verify warned:\n{stderr}");

        // `--print` writes the same units on stdout.
        let out = Command::new(bin())
            .args(["service", "install", scope, "--socket", "--print"])
            .output()
            .unwrap();
        let printed = String::from_utf8(out.stdout).unwrap();
        assert!(out.status.success());
        assert!(printed.contains(service.trim_end()), "{scope}: --print differs:\n{printed}");
        assert!(printed.contains(socket.trim_end()), "{scope}: --print differs:\n{printed}");

        // uninstall --unit-dir takes them away
        let out = Command::new(bin())
            .args(["service", "uninstall", scope, "--unit-dir"])
            .arg(&units)
            .output()
            .unwrap();
        assert!(out.status.success());
        assert!(!units.join("llmux.service").exists() && !units.join("llmux.socket").exists());
    }
    // The templates' contract with the Debian package: `@BIN@` is the one placeholder.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packaging/systemd");
    for file in ["user/llmux.service.in", "user/llmux.socket.in", "system/llmux.service.in"] {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        let words: Vec<&str> = text.split('@').collect();
        let placeholders: Vec<&&str> = words
            .iter()
            .skip(1)
            .step_by(2)
            .filter(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
            .collect();
        assert!(placeholders.iter().all(|p| **p == "BIN"), "{file}: {placeholders:?}");
        if file.ends_with(".service.in") {
            assert_eq!(text.matches("@BIN@").count(), 1, "{file}: @BIN@ once, in ExecStart=");
        }
    }
}

#[test]
fn install_without_systemd_says_so_and_how_to_supervise_instead() {
    if Path::new("/run/systemd/system").is_dir() {
        // The failure under test cannot happen where systemd runs.
        eprintln!("skipped: systemd is running on this machine");
        return;
    }
    for scope in ["--user", "--system"] {
        let out = Command::new(bin()).args(["service", "install", scope]).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{scope}: {stderr}");
        assert!(out.stdout.is_empty(), "nothing installed, nothing said on stdout");
        assert!(stderr.contains("systemd is not running on this machine"), "{stderr}");
        for way in ["runit", "s6", "supervisord", "OpenRC", "nohup", "--print", "--unit-dir"] {
            assert!(stderr.contains(way), "{scope}: {way} missing:\n{stderr}");
        }
        let exe = bin().canonicalize().unwrap();
        assert!(stderr.contains(&format!("{} server start", exe.display())), "{stderr}");
    }
    let out = Command::new(bin()).args(["service", "status", "--user"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("systemd is not running"));
}

#[tokio::test(flavor = "multi_thread")]
async fn readiness_watchdog_journal_and_a_graceful_stop_that_keeps_the_agents() {
    let mut d = TestDaemon::builder().admin("root").start().await;
    d.spawn_fake("keep").await;
    // A daemon started by hand (no journal): its log lines carry their timestamps.
    assert!(d.log().lines().any(stamped), "control: a plain log is stamped:\n{}", d.log());
    d.kill("TERM");
    assert!(d.tmux_sessions().contains(&"keep".to_owned()), "SIGTERM left the agent running");

    // Started again as a service manager would: NOTIFY_SOCKET (abstract), a watchdog, and
    // stderr a "journal stream" (the test's log file stands in for it).
    let name = format!("llmux-it-{}-{}", std::process::id(), d.dir().display());
    let (mut notify, notify_var) = Notify::abstract_name(&name.replace('/', "_"));
    let log = std::fs::metadata(d.log_path()).unwrap();
    let journal = format!("{}:{}", log.dev(), log.ino());
    let log_before = d.log().len();
    let cmd = d.daemon_command(&[
        ("NOTIFY_SOCKET", &notify_var),
        ("WATCHDOG_USEC", "400000"),
        ("JOURNAL_STREAM", &journal),
    ]);
    let pid = d.spawn_command(cmd);
    let ready = notify.until("READY=1", |m| has_line(m, "READY=1")).await;
    // READY=1 means the API answers: no retry here.
    d.client.health().await.expect("the API answers once READY=1 is sent");
    assert!(has_line(&ready, &format!("MAINPID={pid}")), "{ready}");
    assert!(ready.contains("STATUS=Serving on http://127.0.0.1:"), "{ready}");
    d.wait_until_up().await;

    // The watchdog: pinged again and again at half of WATCHDOG_USEC (200 ms).
    let started = Instant::now();
    for _ in 0..5 {
        notify.until("WATCHDOG=1", |m| has_line(m, "WATCHDOG=1")).await;
    }
    assert!(started.elapsed() < Duration::from_secs(5), "5 pings took {:?}", started.elapsed());

    // The journal stamps lines itself: none of ours is, each starts with its priority.
    let text = d.log()[log_before..].to_owned();
    assert!(
        text.lines().any(|l| l.starts_with("<6>") && l.contains("llmux daemon ready")),
        "{text}"
    );
    assert!(!text.lines().any(stamped), "a doubled timestamp:\n{text}");

    // The new daemon found the agent the stop left running.
    assert_eq!(d.client.session("keep").await.unwrap().status, SessionStatus::Running);

    // Open an event stream (socket) and a terminal (TCP), then SIGTERM.
    let mut events = tokio::net::UnixStream::connect(&d.paths.socket).await.unwrap();
    events.write_all(b"GET /api/events HTTP/1.1\r\nHost: localhost\r\n\r\n").await.unwrap();
    let mut seen = String::new();
    read_stream_until(&mut events, &mut seen, "event: sessions").await;
    let (admin, _) = token(&d, "root", "admin", None).await;
    let mut ws = tcp_viewer(&d, "keep", &[("Authorization", &format!("Bearer {admin}"))])
        .await
        .expect("a terminal viewer");
    d.signal("TERM");
    let stopping = notify.until("STOPPING=1", |m| has_line(m, "STOPPING=1")).await;
    assert!(stopping.contains("STATUS=Stopping"), "{stopping}");
    read_stream_until(&mut events, &mut seen, "event: shutdown").await;
    read_stream_until(&mut events, &mut seen, "the llmux daemon is stopping").await;
    let (code, _) = read_to_close(&mut ws, Duration::from_secs(10)).await;
    assert_eq!(code, 1001, "the terminal closes as 'going away'");
    let status = d.wait_for_exit();
    assert!(status.success(), "a graceful stop exits 0: {status}\n{}", d.log());
    assert!(d.log().contains("store flushed"), "{}", d.log());
    // The store holds everything in its file: the write-ahead log is empty.
    let wal = d.paths.db.with_extension("db-wal");
    assert!(std::fs::metadata(&wal).map_or(0, |m| m.len()) == 0, "WAL left: {wal:?}");

    // The agent outlived the daemon, and a restarted daemon finds it.
    assert!(d.tmux_sessions().contains(&"keep".to_owned()));
    d.spawn_daemon().await;
    assert_eq!(d.client.session("keep").await.unwrap().status, SessionStatus::Running);
}

/// Reads from an event stream until `needle` appears (10 s at most).
async fn read_stream_until(stream: &mut tokio::net::UnixStream, seen: &mut String, needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = [0u8; 8192];
    while !seen.contains(needle) {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
            other => panic!("no {needle:?} in the event stream ({other:?}); got:\n{seen}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn socket_activation_serves_on_the_passed_sockets_and_agents_never_see_them() {
    let mut d = TestDaemon::start().await;
    d.kill("TERM");
    // The activated daemon starts the tmux server itself: what its agents inherit comes from it.
    let _ = d.tmux(&["kill-server"]);
    assert!(!d.paths.socket.exists(), "the stopped daemon removed its own socket");

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let notify_path = d.dir().join("notify.sock");
    let mut notify = Notify::path(&notify_path);
    let inner = d.daemon_command(&[
        ("NOTIFY_SOCKET", notify_path.to_str().unwrap()),
        ("WATCHDOG_USEC", "60000000"),
    ]);
    let mut cmd = Command::new("systemd-socket-activate");
    cmd.arg("-l").arg(format!("127.0.0.1:{port}"));
    cmd.arg("-l").arg(&d.paths.socket).arg("--fdname=http:operator");
    // systemd-socket-activate passes on only the variables it is given.
    for (key, value) in inner.get_envs() {
        if let Some(value) = value {
            let mut kv = key.to_owned();
            kv.push("=");
            kv.push(value);
            cmd.arg("-E").arg(kv);
        }
    }
    cmd.arg("--").arg(inner.get_program()).args(inner.get_args());
    let log = std::fs::OpenOptions::new().append(true).open(d.log_path()).unwrap();
    cmd.current_dir(d.work()).stdin(Stdio::null()).stdout(log.try_clone().unwrap()).stderr(log);
    let pid = d.spawn_command(cmd);

    // systemd-socket-activate binds both, then starts the daemon at the first connection.
    let socket_ino = {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(meta) = std::fs::metadata(&d.paths.socket) {
                break meta.ino();
            }
            assert!(Instant::now() < deadline, "no socket from systemd-socket-activate");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let health = tokio::task::spawn_blocking(move || {
        let mut tcp = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        tcp.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut res = String::new();
        let _ = tcp.read_to_string(&mut res);
        res
    })
    .await
    .unwrap();
    assert!(health.starts_with("HTTP/1.1 200"), "the passed TCP socket serves: {health}");
    notify.until("READY=1", |m| has_line(m, "READY=1")).await;
    d.wait_until_up().await;
    // Its own binds would have been a random port (it was started with --port 0) and a new
    // socket file (a bind replaces it).
    assert_eq!(d.port, port, "the daemon reports the passed port");
    assert_eq!(std::fs::metadata(&d.paths.socket).unwrap().ino(), socket_ino, "same socket file");
    let log = d.log();
    assert!(log.contains("using the TCP socket passed by the service manager"), "{log}");
    assert!(log.contains("using the Unix socket passed by the service manager"), "{log}");

    // The passed fds (3, 4) are close-on-exec in the daemon: no child inherits a listener.
    for fd in [3, 4] {
        let info = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")).unwrap();
        let flags = info
            .lines()
            .find_map(|l| l.strip_prefix("flags:"))
            .map(|f| u32::from_str_radix(f.trim(), 8).unwrap())
            .unwrap();
        assert!(flags & 0o2000000 != 0, "fd {fd} is not O_CLOEXEC: {info}");
    }

    // An agent sees none of the protocol's variables; the daemon itself was given them.
    let daemon_env = environ(&pid.to_string());
    for var in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"] {
        assert!(has_var(&daemon_env, var), "control: the daemon was started with {var}");
    }
    let req = llmux_api::CreateSessionRequest {
        agent: "fake".into(),
        name: Some("envcheck".into()),
        cwd: Some(d.work().display().to_string()),
        ..Default::default()
    };
    if let Err(e) = d.client.create_session(&req).await {
        panic!("create a session: {e}\n{}", d.log());
    }
    d.wait_for_screen("envcheck", "SIZE ").await;
    let out = d.tmux(&["list-panes", "-t", "=envcheck", "-F", "#{pane_pid}"]);
    let pane = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let agent_env = environ(&pane);
    assert!(has_var(&agent_env, "LLMUX_SESSION"), "the agent's environment: {agent_env:?}");
    let global = String::from_utf8_lossy(&d.tmux(&["show-environment", "-g"]).stdout).into_owned();
    for var in PROTOCOL_VARS {
        assert!(!has_var(&agent_env, var), "the agent inherited {var}: {agent_env:?}");
        assert!(!global.contains(&format!("{var}=")), "tmux's environment has {var}:\n{global}");
    }

    // Stopped, the daemon leaves the socket file to its owner (the socket unit).
    d.signal("TERM");
    assert!(d.wait_for_exit().success());
    assert_eq!(std::fs::metadata(&d.paths.socket).unwrap().ino(), socket_ino);
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_reloads_live_settings_and_logs_what_needs_a_restart() {
    let d = TestDaemon::start().await;
    let settings = async || local(&d, Method::GET, "/api/settings", Value::Null).await.1;
    let before = settings().await;
    assert_eq!(before["initPrompts"]["value"], serde_json::json!([]), "{before}");
    let public_url = |s: &Value| {
        s["settings"].as_array().unwrap().iter().find(|v| v["key"] == "server.publicUrl").cloned()
    };
    let url_before = public_url(&before);

    d.add_config("initPrompts:\n  - reloaded prompt\n");
    d.add_server_config("publicUrl: https://reloaded.example");
    d.signal("HUP");
    until("the reloaded init prompts", async || {
        let now = settings().await;
        now["initPrompts"]["value"] == serde_json::json!(["reloaded prompt"])
            && now["initPrompts"]["source"] == "config"
    })
    .await;
    // …and a new session gets it typed.
    d.spawn_fakeq("q1", &[], &[]).await;
    d.wait_for_screen("q1", "Reply to: reloaded prompt").await;
    until("the restart warning", async || d.log().contains("needs a restart")).await;
    let log = d.log();
    let warning = log.lines().find(|l| l.contains("needs a restart")).unwrap();
    assert!(warning.contains("server.publicUrl"), "{warning}");
    // What needs a restart stays as it was, in effect and as reported.
    assert_eq!(public_url(&settings().await), url_before);
    assert!(!log.lines().any(|l| l.contains("needs a restart") && l.contains("initPrompts")));

    // A file that does not parse changes nothing, and the daemon serves on.
    let path = d.config_path();
    let good = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, good.replace("  - reloaded prompt", "  - [unclosed")).unwrap();
    d.signal("HUP");
    until("the failed reload", async || d.log().contains("config reload failed")).await;
    let now = settings().await;
    assert_eq!(now["initPrompts"]["value"], serde_json::json!(["reloaded prompt"]), "{now}");
    d.client.health().await.expect("the daemon serves on");
}
