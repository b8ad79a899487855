//! Bootstrap over SSH (issue 17): a host account made by the test (its own HOME, no llmux),
//! reached through a real `sshd` in a network namespace; the hub copies its own binary there,
//! starts the daemon (detached: no systemd user manager in the namespace), and follows it.
//! Then `host upgrade` against an honestly older llmux: the installed binary is swapped for a
//! script that says `llmux 0.0.1` to `--version` and runs the real binary for anything else,
//! so the running daemon is the real one and only the version check sees the old number.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use llmux_api::HostStatus;

use crate::fleet::{Net, Sshd, find, host_until, hub_until, unavailable};
use crate::harness::account::login;
use crate::harness::{TestDaemon, bin, fake_agent};

/// The host account: a login account with a HOME of its own, emptied of what a previous run
/// left (its `~/.local` and `~/.config`), with a password field ssh accepts (`*`: no
/// password, not locked) and the fake agent in its config.
fn host_account(name: &str) -> Option<(u32, u32, PathBuf)> {
    let (uid, home) = login(name)?;
    let ok = Command::new("usermod").args(["-p", "*", name]).status().expect("usermod");
    assert!(ok.success(), "usermod -p");
    for dir in [".local", ".config"] {
        let _ = std::fs::remove_dir_all(home.join(dir));
    }
    let gid = String::from_utf8(Command::new("id").args(["-g", name]).output().unwrap().stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let agent = home.join("fake-agent");
    std::fs::copy(fake_agent(), &agent).unwrap();
    std::fs::set_permissions(&agent, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = home.join(".config/llmux");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        config.join("config.yaml"),
        format!("agents:\n  fake:\n    cmd: {:?}\n", agent.display().to_string()),
    )
    .unwrap();
    chown(uid, gid, &home);
    Some((uid, gid, home))
}

fn chown(uid: u32, gid: u32, path: &Path) {
    let ok = Command::new("chown").arg("-R").arg(format!("{uid}:{gid}")).arg(path).status();
    assert!(ok.is_ok_and(|s| s.success()), "chown {}", path.display());
}

/// The pid in the host daemon's lock file (the daemon running there now).
fn daemon_pid(home: &Path) -> String {
    std::fs::read_to_string(home.join(".local/state/llmux/daemon.lock"))
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// Runs the host's installed CLI as the host account.
fn host_cli(uid: u32, gid: u32, home: &Path, args: &[&str]) -> String {
    let out = Command::new("setpriv")
        .args([&format!("--reuid={uid}"), &format!("--regid={gid}"), "--clear-groups", "--"])
        .arg(home.join(".local/bin/llmux"))
        .args(args)
        .env_clear()
        .env("HOME", home)
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .current_dir(home)
        .output()
        .expect("run the host's llmux");
    assert!(out.status.success(), "host llmux {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn host_add_install_puts_llmux_on_a_bare_host_and_upgrade_replaces_an_older_one() {
    if let Some(why) = unavailable() {
        eprintln!("skipping the fleet install test: {why}");
        return;
    }
    if !Path::new("/usr/sbin/sshd").exists() {
        eprintln!("skipping: no /usr/sbin/sshd (Debian openssh-server)");
        return;
    }
    let Some((uid, gid, home)) = host_account("lxfleet") else { return };
    let installed = home.join(".local/bin/llmux");
    assert!(!installed.exists());
    let net = Net::new(1);
    let sshd = Sshd::start(&net, 1);
    let hub = TestDaemon::builder()
        .netns(&net.hub())
        .env("LLMUX_SSH_CONFIG", &sshd.config().display().to_string())
        .start()
        .await;

    // an architecture or target the hub cannot use is refused before anything is copied
    let out = hub.cli(&["host", "add", "x", "--ssh", "-oProxyCommand=x", "--install"]);
    assert_ne!(out.status.code(), Some(0), "{out:?}");
    let out = hub.cli(&["host", "add", "x", "--url", "http://x", "--install"]);
    assert_ne!(out.status.code(), Some(0), "--install without --ssh: {out:?}");

    // a bare host: llmux copied, run there, started detached, and the host followed
    let started = Instant::now();
    let out = hub.cli_ok(&["host", "add", "s1", "--ssh", "lxfleet@10.77.1.2", "--install"]);
    eprintln!("fleet install: host add --install took {:?}\n{out}", started.elapsed());
    assert!(out.contains("no llmux on lxfleet@10.77.1.2"), "{out}");
    assert!(out.contains("installed") && out.contains("detached"), "{out}");
    assert!(out.contains("s1") && out.contains(": up,"), "{out}");
    let meta = std::fs::metadata(&installed).expect("installed in ~/.local/bin");
    assert_eq!(meta.len(), std::fs::metadata(bin()).unwrap().len());
    assert_eq!(meta.permissions().mode() & 0o777, 0o755);
    assert!(!home.join(".local/bin/.llmux.new").exists(), "the temp file was renamed");
    use std::os::unix::fs::MetadataExt;
    assert_eq!(meta.uid(), uid, "installed as the host account, not as root");
    let first = daemon_pid(&home);
    assert!(!first.is_empty(), "a daemon holds the host's lock");
    let out = hub.cli(&["host", "add", "s1", "--ssh", "lxfleet@10.77.1.2", "--install"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("exists already"), "a taken name fails before any copy: {out:?}");
    assert_eq!(daemon_pid(&home), first, "nothing restarted");

    // the host's own sessions appear at the hub; the hub starts one there too
    host_cli(uid, gid, &home, &["session", "start", "fake", "--name", "r1"]);
    hub_until(&hub, "s1:r1 listed", |l| find(l, "s1:r1").is_some()).await;
    hub.cli_ok(&["session", "start", "fake", "--host", "s1", "--name", "r2"]);
    hub.cli_ok(&["session", "prompt", "s1:r1", "before the upgrade"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !hub.client.capture("s1:r1", 50).await.unwrap().text.contains("before the upgrade") {
        assert!(Instant::now() < deadline, "the prompt never reached s1:r1");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let list = hub.cli_ok(&["host", "list"]);
    assert!(list.contains(llmux_core::VERSION), "{list}");

    // an older llmux there: the real binary behind a script that says 0.0.1 to --version
    let real = home.join(".local/lib/llmux-real");
    std::fs::create_dir_all(real.parent().unwrap()).unwrap();
    std::fs::rename(&installed, &real).unwrap();
    std::fs::write(
        &installed,
        format!(
            "#!/bin/sh\ncase \"$1\" in --version) echo 'llmux 0.0.1';; *) exec {:?} \"$@\";; esac\n",
            real.display().to_string()
        ),
    )
    .unwrap();
    chown(uid, gid, &home.join(".local"));
    std::fs::set_permissions(&installed, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = hub.cli_ok(&["host", "upgrade", "s1"]);
    eprintln!("fleet install: host upgrade\n{out}");
    assert!(out.contains("found llmux 0.0.1"), "{out}");
    assert!(out.contains("stopped the daemon (pid"), "{out}");
    assert!(out.contains(&format!("llmux {} upgraded from 0.0.1", llmux_core::VERSION)), "{out}");
    let bytes = std::fs::read(&installed).unwrap();
    assert_eq!(&bytes[..4], b"\x7fELF", "the script was replaced by the binary");
    let second = daemon_pid(&home);
    assert!(!second.is_empty() && second != first, "a new daemon: {first} -> {second}");
    // tmux outlived the daemon: the same agent, with what it was told before
    host_until(&hub, "s1", HostStatus::Up, Duration::from_secs(30)).await;
    hub_until(&hub, "s1:r1 and s1:r2 after the upgrade", |l| {
        find(l, "s1:r1").is_some_and(|s| !s.unreachable) && find(l, "s1:r2").is_some()
    })
    .await;
    let screen = hub.client.capture("s1:r1", 50).await.unwrap().text;
    assert!(screen.contains("before the upgrade"), "{screen}");

    // once current, an upgrade copies nothing and restarts nothing
    let out = hub.cli_ok(&["host", "upgrade", "s1"]);
    assert!(out.contains("already current"), "{out}");
    assert_eq!(daemon_pid(&home), second);
    drop((hub, sshd, net));
}

/// `llmux server stop` (what an upgrade runs on a host without systemd): the daemon holding
/// the state dir's lock ends gracefully, its agents keep running in tmux, and a second stop
/// finds nothing to do.
#[tokio::test]
async fn server_stop_ends_the_daemon_of_its_state_dir_and_its_agents_live_on() {
    let mut d = TestDaemon::start().await;
    d.spawn_fake("keep").await;
    let pid = d.pid();
    let out = d.cli_ok(&["server", "stop"]);
    assert!(out.contains(&format!("stopped the daemon (pid {pid})")), "{out}");
    let status = d.wait_for_exit();
    assert!(status.success(), "a graceful stop: {status}");
    assert!(d.tmux_sessions().iter().any(|s| s.contains("keep")), "{:?}", d.tmux_sessions());
    let out = d.cli_ok(&["server", "stop"]);
    assert!(out.contains("no daemon running"), "{out}");
    d.spawn_daemon().await;
    assert_eq!(d.client.session("keep").await.unwrap().status, llmux_api::SessionStatus::Running);
}
