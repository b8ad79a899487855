//! The sandbox of a non-admin's session (issue 15), attacked for real: real bwrap, real files,
//! real tmux servers, real processes, a real TCP server.
//!
//! Each test runs as every identity a daemon can have here: as root (a system daemon's own
//! uid) and, when the tests run as root, as an unprivileged account the test creates (the
//! personal daemon), via `setpriv`; as the current user otherwise. Each attack also runs
//! unconfined first where that shows the attack would succeed without the sandbox.
//!
//! The fixture lives under `target/tmp`, not /tmp (everything under /tmp is hidden by the
//! private /tmp anyway, which would leave the state-dir rules untested). If bwrap cannot run,
//! the tests say why and pass, unless `LLMUX_REQUIRE_SANDBOX` is set (scripts/test sets it and
//! installs bubblewrap, so CI never skips).

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use llmux_core::paths::Paths;
use llmux_core::sandbox::{self, Confinement};

/// The unprivileged account the tests create when running as root.
const TEST_ACCOUNT: &str = "llmux-sbx-test";

#[derive(Debug, Clone)]
enum Who {
    /// The tests' own uid (root in CI).
    Me,
    /// Another, unprivileged account: (name, uid, gid).
    User(String, u32, u32),
}

impl std::fmt::Display for Who {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Who::Me => write!(f, "uid {}", rustix::process::getuid().as_raw()),
            Who::User(name, uid, _) => write!(f, "{name} (uid {uid})"),
        }
    }
}

impl Who {
    /// A command run as this identity.
    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        match self {
            Who::Me => Command::new(program),
            Who::User(_, uid, gid) => {
                let mut cmd = Command::new("setpriv");
                cmd.arg(format!("--reuid={uid}"))
                    .arg(format!("--regid={gid}"))
                    .arg("--clear-groups")
                    .arg("--")
                    .arg(program);
                cmd
            }
        }
    }

    fn uid(&self) -> u32 {
        match self {
            Who::Me => rustix::process::getuid().as_raw(),
            Who::User(_, uid, _) => *uid,
        }
    }
}

/// bwrap's path, or None (after saying why) when the sandbox cannot run here.
fn bwrap() -> Option<&'static Path> {
    match sandbox::probe() {
        Ok(path) => Some(path),
        Err(e) if std::env::var_os("LLMUX_REQUIRE_SANDBOX").is_some() => {
            panic!("LLMUX_REQUIRE_SANDBOX is set but the sandbox cannot run: {e}")
        }
        Err(e) => {
            eprintln!("SKIPPED: the sandbox cannot run on this machine: {e}");
            None
        }
    }
}

/// Root and the unprivileged test account when running as root; else the current user.
fn identities() -> Vec<Who> {
    if rustix::process::getuid().as_raw() != 0 {
        return vec![Who::Me];
    }
    static ACCOUNT: OnceLock<(u32, u32)> = OnceLock::new();
    let (uid, gid) = *ACCOUNT.get_or_init(|| {
        let id = |flag: &str| {
            let out = Command::new("id").arg(flag).arg(TEST_ACCOUNT).output().unwrap();
            out.status
                .success()
                .then(|| String::from_utf8_lossy(&out.stdout).trim().parse::<u32>().unwrap())
        };
        if id("-u").is_none() {
            let status = Command::new("useradd")
                .args(["--system", "--no-create-home", "--shell", "/usr/sbin/nologin"])
                .arg(TEST_ACCOUNT)
                .status()
                .expect("run useradd");
            assert!(status.success(), "useradd {TEST_ACCOUNT} failed");
        }
        (id("-u").unwrap(), id("-g").unwrap())
    });
    vec![Who::Me, Who::User(TEST_ACCOUNT.to_owned(), uid, gid)]
}

/// Where fixtures go: `target/tmp`, unless it lies under /tmp or the unprivileged account
/// cannot reach it (a checkout under root's 0700 HOME); then `/var/lib/llmux-sandbox-tests`
/// (root) or the user's HOME.
fn fixture_parent() -> PathBuf {
    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).canonicalize().unwrap();
    let reachable = target
        .ancestors()
        .all(|dir| std::fs::metadata(dir).is_ok_and(|m| m.permissions().mode() & 0o001 != 0));
    // A checkout under /tmp puts target/tmp where the sandbox hides everything anyway.
    let private = target.starts_with("/tmp") || target.starts_with("/var/tmp");
    let root = rustix::process::getuid().as_raw() == 0;
    if !private && (reachable || !root) {
        return target;
    }
    if !root {
        // Only this account runs the tests: its own HOME will do.
        return PathBuf::from(std::env::var_os("HOME").expect("HOME is set"));
    }
    let fallback = PathBuf::from("/var/lib/llmux-sandbox-tests");
    std::fs::create_dir_all(&fallback).unwrap();
    std::fs::set_permissions(&fallback, std::fs::Permissions::from_mode(0o755)).unwrap();
    fallback
}

/// A fake daemon layout owned by one identity: a state dir with a store, a VAPID key, an
/// overlay, two users' agent HOMEs and a runtime dir; the daemon user's HOME; a granted
/// workspace root with a project dir; a dir outside every granted root.
struct Fixture {
    _dir: tempfile::TempDir,
    base: PathBuf,
    paths: Paths,
    who: Who,
    bwrap: &'static Path,
}

impl Fixture {
    fn new(who: &Who, bwrap: &'static Path) -> Fixture {
        let dir = tempfile::Builder::new().prefix("sbx").tempdir_in(fixture_parent()).unwrap();
        let base = dir.path().canonicalize().unwrap();
        assert!(
            !base.starts_with("/tmp") && !base.starts_with("/var/tmp"),
            "the fixture must not live where the sandbox hides everything anyway: {}",
            base.display()
        );
        let paths = Paths::in_state_dir(base.join("state"));
        let files = [
            ("state/llmux.db", "SQLITE-STORE-SECRET"),
            ("state/vapid.key", "VAPID-KEY-SECRET"),
            ("state/overlay.yaml", "OVERLAY-SECRET"),
            ("state/homes/bob/.claude/.credentials.json", "BOB-LOGIN-SECRET"),
            ("state/homes/bob/.claude/projects/p/c.jsonl", "BOB-CONVERSATION-SECRET"),
            ("daemonhome/.ssh/id_ed25519", "DAEMON-SSH-SECRET"),
            ("ws/proj/README", "project"),
            ("bob-ws/plans.md", "BOB-WORKSPACE-SECRET"),
            ("outside/README", "not granted"),
        ];
        for (rel, content) in files {
            let path = base.join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, content).unwrap();
        }
        for rel in ["state/homes/alice", "state/run/users/alice"] {
            std::fs::create_dir_all(base.join(rel)).unwrap();
        }
        std::fs::set_permissions(base.join("state"), std::fs::Permissions::from_mode(0o700))
            .unwrap();
        if let Who::User(_, uid, gid) = who {
            let status =
                Command::new("chown").arg("-R").arg(format!("{uid}:{gid}")).arg(&base).status();
            assert!(status.unwrap().success());
        }
        Fixture { _dir: dir, base, paths, who: who.clone(), bwrap }
    }

    fn p(&self, rel: &str) -> PathBuf {
        self.base.join(rel)
    }

    /// alice's confinement, as the daemon would build it, running `argv`.
    fn confinement(&self, argv: &[&str]) -> Confinement {
        Confinement {
            home: self.p("state/homes/alice"),
            roots: vec![self.p("ws")],
            cwd: self.p("ws/proj"),
            hidden: sandbox::default_hidden(&self.paths, &self.p("daemonhome"), std::env::vars()),
            read_only: sandbox::default_read_only(),
            tmux_dir: None,
            env: sandbox::agent_env(std::env::vars(), [("SHELL".to_owned(), "/bin/sh".to_owned())]),
            argv: argv.iter().map(Into::into).collect(),
        }
    }

    /// Runs `conf` confined, as the fixture's identity.
    fn run_confined(&self, conf: &Confinement) -> Output {
        let argv = conf.plan().unwrap().bwrap_argv(self.bwrap);
        let out = self.who.command(&argv[0]).args(&argv[1..]).stdin(Stdio::null()).output();
        out.unwrap()
    }

    /// `sh -c script`, confined.
    fn sh(&self, script: &str) -> Output {
        self.run_confined(&self.confinement(&["/bin/sh", "-c", script]))
    }

    /// `sh -c script`, unconfined, as the same identity: what the attack gets without the
    /// sandbox.
    fn sh_unconfined(&self, script: &str) -> Output {
        let out = self.who.command("/bin/sh").arg("-c").arg(script).stdin(Stdio::null()).output();
        out.unwrap()
    }

    /// Path as a string for scripts (the fixture's paths have no shell metacharacters).
    fn s(&self, rel: &str) -> String {
        self.p(rel).to_str().unwrap().to_owned()
    }
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `attack` for every identity (no-op with a message when the sandbox cannot run).
fn for_each_identity(attack: impl Fn(&Fixture)) {
    let Some(bwrap) = bwrap() else { return };
    for who in identities() {
        eprintln!("-- as {who}");
        attack(&Fixture::new(&who, bwrap));
    }
}

fn until(what: &str, deadline: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn cannot_read_the_store_vapid_key_or_overlay() {
    for_each_identity(|fx| {
        let files = ["state/llmux.db", "state/vapid.key", "state/overlay.yaml"];
        let cat: Vec<String> = files.iter().map(|f| fx.s(f)).collect();
        let script = format!("cat {}", cat.join(" "));
        let control = fx.sh_unconfined(&script);
        assert!(stdout(&control).contains("VAPID-KEY-SECRET"), "control: {}", text(&control));
        let out = fx.sh(&format!("{script}; ls -A {}", fx.s("state")));
        for secret in ["SQLITE-STORE-SECRET", "VAPID-KEY-SECRET", "OVERLAY-SECRET"] {
            assert!(
                !stdout(&out).contains(secret),
                "{secret} leaked as {}: {}",
                fx.who,
                text(&out)
            );
        }
        // The state dir is an empty tmpfs, save the mount points of alice's own HOME.
        assert_eq!(
            stdout(&out).split_whitespace().collect::<Vec<_>>(),
            ["homes"],
            "{}",
            text(&out)
        );
    });
}

#[test]
fn cannot_read_other_users_agent_homes_but_has_its_own() {
    for_each_identity(|fx| {
        let bob = fx.s("state/homes/bob/.claude/.credentials.json");
        let conv = fx.s("state/homes/bob/.claude/projects/p/c.jsonl");
        let control = fx.sh_unconfined(&format!("cat {bob}"));
        assert!(stdout(&control).contains("BOB-LOGIN-SECRET"), "control: {}", text(&control));
        let out =
            fx.sh(&format!("cat {bob} {conv}; ls -A {}; echo HOME=$HOME", fx.s("state/homes")));
        assert!(!stdout(&out).contains("BOB-"), "bob's files leaked as {}: {}", fx.who, text(&out));
        let listing = stdout(&out);
        assert!(listing.lines().any(|l| l == "alice"), "{}", text(&out));
        assert!(!listing.lines().any(|l| l == "bob"), "{}", text(&out));
        assert!(listing.contains(&format!("HOME={}", fx.s("state/homes/alice"))), "{listing}");
    });
}

#[test]
fn cannot_read_another_users_workspace() {
    for_each_identity(|fx| {
        let plans = fx.s("bob-ws/plans.md");
        let control = fx.sh_unconfined(&format!("cat {plans}"));
        assert!(stdout(&control).contains("BOB-WORKSPACE"), "control: {}", text(&control));
        // The daemon hides every other user's granted roots (outside the state dir).
        let mut conf =
            fx.confinement(&["/bin/sh", "-c", &format!("cat {plans}; ls -A {}", fx.s("bob-ws"))]);
        conf.hidden.push(fx.p("bob-ws"));
        let out = fx.run_confined(&conf);
        assert_eq!(stdout(&out), "", "as {}: {}", fx.who, text(&out));
    });
}

#[test]
fn cannot_read_the_daemon_users_home_or_its_runtime_sockets() {
    for_each_identity(|fx| {
        let key = fx.s("daemonhome/.ssh/id_ed25519");
        let control = fx.sh_unconfined(&format!("cat {key}"));
        assert!(stdout(&control).contains("DAEMON-SSH-SECRET"), "control: {}", text(&control));
        let out = fx.sh(&format!(
            "cat {key}; ls -A {}; echo /run:; ls -A /run; echo env:; env",
            fx.s("daemonhome")
        ));
        let out_text = stdout(&out);
        assert!(!out_text.contains("DAEMON-SSH-SECRET"), "leaked as {}: {}", fx.who, text(&out));
        let (_, after) = out_text.split_once("/run:\n").unwrap();
        let (run, env) = after.split_once("env:\n").unwrap();
        // /run (per-user runtime dirs with dbus, ssh-agent and gpg sockets; docker's socket)
        // is empty save the resolver's dir shown again for DNS.
        for entry in run.split_whitespace() {
            assert_eq!(entry, "systemd", "/run shows {entry} as {}: {}", fx.who, text(&out));
        }
        for name in ["LLMUX_", "TMUX=", "SSH_AUTH_SOCK", "DBUS_SESSION", "XDG_RUNTIME_DIR"] {
            assert!(!env.contains(name), "{name} in the agent's env: {env}");
        }
    });
}

#[test]
fn cannot_reach_the_daemons_unix_socket() {
    for_each_identity(|fx| {
        let socket = fx.paths.socket.clone();
        let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o777)).unwrap();
        let s = socket.to_str().unwrap();
        let probe = format!("test -S {s} && echo SOCKET-VISIBLE");
        let control = fx.sh_unconfined(&probe);
        assert!(stdout(&control).contains("SOCKET-VISIBLE"), "control: {}", text(&control));
        let out = fx.sh(&format!("{probe}; ls -A {}", fx.s("state/run")));
        assert!(!stdout(&out).contains("SOCKET-VISIBLE"), "as {}: {}", fx.who, text(&out));
        assert!(!stdout(&out).contains("llmux.sock"), "as {}: {}", fx.who, text(&out));
        drop(listener);
    });
}

/// A tmux server started (unconfined) by the fixture's identity; killed on drop.
struct TmuxServer {
    who: Who,
    args: Vec<String>,
}

impl TmuxServer {
    fn start(who: &Who, args: &[&str]) -> TmuxServer {
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        // CI has no $SHELL; tmux would then take the test account's login shell (nologin),
        // the session would exit at once and the server with it.
        let status = who
            .command("tmux")
            .env("SHELL", "/bin/sh")
            .args(&args)
            .args(["-f", "/dev/null", "new-session", "-d", "-s", "daemon-secret", "sleep 600"])
            .status()
            .unwrap();
        assert!(status.success(), "tmux {args:?} did not start");
        TmuxServer { who: who.clone(), args }
    }
}

impl Drop for TmuxServer {
    fn drop(&mut self) {
        let _ = self.who.command("tmux").args(&self.args).arg("kill-server").status();
    }
}

#[test]
fn cannot_list_or_drive_tmux_servers_outside_its_own() {
    for_each_identity(|fx| {
        let daemon_socket = fx.paths.tmux_socket.to_str().unwrap().to_owned();
        let label = format!("llmux-sbx-{}", std::process::id());
        let _daemon = TmuxServer::start(&fx.who, &["-S", &daemon_socket]);
        let _default = TmuxServer::start(&fx.who, &["-L", &label]);
        let script = format!(
            "tmux -S {daemon_socket} ls; tmux -L {label} ls; \
             tmux -S {daemon_socket} send-keys -t daemon-secret x"
        );
        let control = fx.sh_unconfined(&script);
        assert!(stdout(&control).contains("daemon-secret"), "control: {}", text(&control));
        let out = fx.sh(&script);
        assert!(!stdout(&out).contains("daemon-secret"), "as {}: {}", fx.who, text(&out));
        assert_eq!(stdout(&out), "", "as {}: {}", fx.who, text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.matches("No such file or directory").count(), 3, "{}", text(&out));
    });
}

/// The way a user's own tmux server is meant to run: itself inside the user's sandbox
/// (`tmux -D` in the foreground under bwrap), its socket in the user's tmux dir. The daemon
/// drives it from outside; every pane is confined; inside, `tmux ls` shows only this user's
/// sessions.
#[test]
fn its_own_tmux_server_runs_confined_and_is_reachable_from_both_sides() {
    for_each_identity(|fx| {
        let _daemon = TmuxServer::start(&fx.who, &["-S", fx.paths.tmux_socket.to_str().unwrap()]);
        let dir = fx.p("state/run/users/alice");
        let socket = dir.join("tmux.sock");
        let sock = socket.to_str().unwrap().to_owned();
        let mut conf = fx.confinement(&["tmux", "-D", "-S", &sock, "-f", "/dev/null"]);
        conf.tmux_dir = Some(dir.clone());
        let argv = conf.plan().unwrap().bwrap_argv(fx.bwrap);
        let mut server = KillOnDrop(
            fx.who
                .command(&argv[0])
                .args(&argv[1..])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let tmux = |args: &[&str]| fx.who.command("tmux").arg("-S").arg(&sock).args(args).output();
        until("the confined tmux server", Duration::from_secs(10), || {
            tmux(&["ls"]).is_ok_and(|o| o.status.success())
        });
        // The daemon (outside) creates a session; its pane runs inside the sandbox.
        let done = fx.p("ws/proj/pane-done");
        let pane = format!(
            "cat {vapid}; tmux ls; tmux -S {daemon} ls; echo end > {done}; sleep 600",
            vapid = fx.s("state/vapid.key"),
            daemon = fx.paths.tmux_socket.display(),
            done = done.display()
        );
        let made =
            tmux(&["new-session", "-d", "-s", "alice-1", "-x", "200", "-y", "50", &pane]).unwrap();
        assert!(made.status.success(), "{}", text(&made));
        until("the pane's command", Duration::from_secs(10), || done.exists());
        let screen = tmux(&["capture-pane", "-p", "-t", "alice-1"]).unwrap();
        let screen = stdout(&screen);
        assert!(screen.contains("alice-1"), "tmux ls inside shows its own session: {screen}");
        assert!(!screen.contains("VAPID-KEY-SECRET"), "pane read the key as {}: {screen}", fx.who);
        assert!(!screen.contains("daemon-secret"), "pane saw the daemon's tmux: {screen}");
        let _ = tmux(&["kill-server"]);
        let start = Instant::now();
        while server.0.try_wait().unwrap().is_none() {
            if start.elapsed() > Duration::from_secs(10) {
                panic!("the confined tmux server did not exit on kill-server");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
}

/// A child killed (and reaped) when the test ends, passed or not.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn cannot_see_or_signal_a_process_started_outside() {
    for_each_identity(|fx| {
        let outside = KillOnDrop(fx.who.command("sleep").arg("600").spawn().unwrap());
        let pid = outside.0.id();
        // setpriv changes uid, then execs sleep: wait for the sleep.
        until("the outside sleep", Duration::from_secs(10), || {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c == "sleep\n")
        });
        let control = fx.sh_unconfined(&format!("kill -0 {pid} && echo SIGNALLED"));
        assert!(stdout(&control).contains("SIGNALLED"), "control: {}", text(&control));
        let out = fx.sh(&format!(
            "kill -0 {pid} && echo SIGNALLED; kill -0 {me} && echo SIGNALLED; \
             echo procs:; ls /proc | grep -E '^[0-9]+$'",
            me = std::process::id()
        ));
        drop(outside);
        let out_text = stdout(&out);
        assert!(!out_text.contains("SIGNALLED"), "as {}: {}", fx.who, text(&out));
        let (_, procs) = out_text.split_once("procs:\n").unwrap();
        let pids: Vec<u32> = procs.split_whitespace().map(|p| p.parse().unwrap()).collect();
        assert!(!pids.contains(&pid), "outside pid {pid} in the sandbox's /proc: {pids:?}");
        // Only the sandbox's own: bwrap's init, sh, ls, grep.
        assert!(pids.len() <= 4 && pids.iter().all(|p| *p < 10), "/proc shows {pids:?}");
    });
}

#[test]
fn runs_without_capabilities_even_for_a_root_daemon() {
    for_each_identity(|fx| {
        let out = fx.sh(&format!("grep CapEff /proc/self/status; umount {}", fx.s("ws")));
        assert!(
            stdout(&out).contains("CapEff:\t0000000000000000"),
            "as {}: {}",
            fx.who,
            text(&out)
        );
        assert!(!out.status.success(), "umount worked as {}: {}", fx.who, text(&out));
    });
}

#[test]
fn has_a_private_tmp() {
    for_each_identity(|fx| {
        let tag = format!("llmux-sbx-{}-{}", std::process::id(), fx.who.uid());
        let host_file = PathBuf::from("/tmp").join(format!("{tag}-host"));
        std::fs::write(&host_file, "HOST-TMP").unwrap();
        std::fs::set_permissions(&host_file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let inside = format!("/tmp/{tag}-inside");
        let out = fx.sh(&format!("echo in > {inside} && cat {inside}; ls -A /tmp"));
        let second = fx.sh(&format!("cat {inside}"));
        let _ = std::fs::remove_file(&host_file);
        assert_eq!(stdout(&out), format!("in\n{tag}-inside\n"), "as {}: {}", fx.who, text(&out));
        assert!(!Path::new(&inside).exists(), "{inside} reached the host's /tmp");
        assert!(!second.status.success(), "/tmp is not fresh per run: {}", text(&second));
    });
}

#[test]
fn writes_its_cwd_but_nothing_outside_its_granted_roots() {
    for_each_identity(|fx| {
        let outside = fx.s("outside/written");
        let control = fx.sh_unconfined(&format!("echo x > {outside} && rm {outside}"));
        assert!(control.status.success(), "control: {}", text(&control));
        let out = fx.sh(&format!(
            "echo mine > written; echo x > {outside}; echo x > /usr/written; \
             echo x > {}/written",
            fx.s("state")
        ));
        assert_eq!(std::fs::read_to_string(fx.p("ws/proj/written")).unwrap(), "mine\n");
        assert!(!fx.p("outside/written").exists(), "wrote outside as {}: {}", fx.who, text(&out));
        assert!(!fx.p("state/written").exists(), "wrote the state dir: {}", text(&out));
        assert!(!Path::new("/usr/written").exists(), "wrote /usr: {}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("Read-only file system"), "as {}: {}", fx.who, text(&out));
    });
}

#[test]
fn runs_git_init_and_commit_in_its_cwd() {
    for_each_identity(|fx| {
        let out = fx.sh("git init -q && echo hi > a.txt && git add a.txt && \
             git -c user.name=alice -c user.email=alice@example.com commit -qm first && \
             git log --format=%s");
        assert!(out.status.success(), "as {}: {}", fx.who, text(&out));
        assert_eq!(stdout(&out), "first\n");
        let log = Command::new("git")
            .args(["-c", "safe.directory=*", "-C"])
            .arg(fx.p("ws/proj"))
            .args(["log", "--format=%s"])
            .output()
            .unwrap();
        assert_eq!(stdout(&log), "first\n", "the commit is on the host: {}", text(&log));
    });
}

#[test]
fn reaches_a_tcp_server_on_localhost() {
    for_each_identity(|fx| {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            conn.write_all(b"pong from the host\n").unwrap();
        });
        let out = fx.run_confined(&fx.confinement(&[
            "/bin/bash",
            "-c",
            &format!("exec 3<>/dev/tcp/127.0.0.1/{port} && cat <&3"),
        ]));
        assert_eq!(stdout(&out), "pong from the host\n", "as {}: {}", fx.who, text(&out));
        server.join().unwrap();
    });
}

#[test]
fn its_home_survives_a_second_run() {
    for_each_identity(|fx| {
        let first = fx.sh("mkdir -p \"$HOME/.claude\" && echo logged-in > \"$HOME/.claude/login\"");
        assert!(first.status.success(), "as {}: {}", fx.who, text(&first));
        let second = fx.sh("cat \"$HOME/.claude/login\"");
        assert_eq!(stdout(&second), "logged-in\n", "as {}: {}", fx.who, text(&second));
        let on_host = fx.p("state/homes/alice/.claude/login");
        assert_eq!(std::fs::read_to_string(on_host).unwrap(), "logged-in\n");
    });
}

#[test]
fn probe_finds_bwrap_here() {
    // CI (scripts/test) installs bubblewrap and sets LLMUX_REQUIRE_SANDBOX: there the probe
    // must pass; elsewhere its message must say how to enable the sandbox.
    match sandbox::probe() {
        Ok(path) => assert!(path.is_absolute() && path.ends_with("bwrap"), "{}", path.display()),
        Err(e) => {
            assert!(std::env::var_os("LLMUX_REQUIRE_SANDBOX").is_none(), "{e}");
            let msg = e.to_string();
            assert!(msg.contains("bubblewrap") || msg.contains("sysctl"), "{msg}");
        }
    }
    // Cached: the same answer, without running bwrap again.
    assert_eq!(sandbox::probe().map(Path::to_path_buf), sandbox::probe().map(Path::to_path_buf));
}
