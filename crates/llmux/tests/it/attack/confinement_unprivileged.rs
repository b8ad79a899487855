//! The [`confinement`](super::confinement) attack on a personal daemon (issue 15): the daemon
//! runs as an unprivileged Unix account the test creates, so a confined agent has the
//! daemon's own uid and only the sandbox's mounts and namespaces, not file permissions, stand
//! between it and the store, the key, the sockets and the daemon's processes.
//!
//! CI runs as root; here the daemon is started with `setpriv` as `llmux-sbx-daemon`, its state
//! dir, HOME and work dir owned by that account (`Builder::run_as`). Not as root, or with a
//! checkout the account cannot reach, or where bwrap cannot run unprivileged, the test says why
//! and passes, unless `LLMUX_REQUIRE_SANDBOX` is set (CI), when it fails.

use std::os::unix::fs::MetadataExt;

use super::confinement::{attack, get, model_server};
use crate::harness::TestDaemon;
use crate::harness::account::{self, Account};

/// The account the daemon runs as (another than the sandbox tests' `llmux-sbx-test`, so
/// neither owns the other's files).
const ACCOUNT: &str = "llmux-sbx-daemon";

/// Whether bwrap runs as `account` (unprivileged, it needs user namespaces, which root's bwrap
/// does not); says why and returns false when not, or fails under `LLMUX_REQUIRE_SANDBOX`.
fn sandbox_runs_as(account: &Account) -> bool {
    let bwrap = match llmux_core::sandbox::probe() {
        Ok(bwrap) => bwrap,
        Err(e) => return skip(&format!("the sandbox cannot run on this machine: {e}")),
    };
    let out = account
        .command(bwrap)
        .args(["--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"])
        .args(["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--cap-drop", "ALL"])
        .args(["--die-with-parent", "--", "true"])
        .output()
        .expect("run bwrap");
    out.status.success()
        || skip(&format!(
            "bwrap does not run as {} (user namespaces?): {}",
            account.name,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
}

fn skip(why: &str) -> bool {
    assert!(
        std::env::var_os("LLMUX_REQUIRE_SANDBOX").is_none(),
        "LLMUX_REQUIRE_SANDBOX is set but {why}"
    );
    eprintln!("SKIPPED: {why}");
    false
}

/// The uid `pid` runs as, from outside (`Uid:` of its `/proc` status: real, effective, …).
fn uids_of(pid: u32) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    line.split_whitespace().skip(1).collect::<Vec<_>>().join(" ")
}

#[tokio::test]
async fn a_non_admins_agent_under_an_unprivileged_daemon_reaches_nothing_of_it() {
    let Some(account) = account::unprivileged(ACCOUNT) else { return };
    if !sandbox_runs_as(&account) {
        return;
    }
    let model_port = model_server();
    let d = TestDaemon::builder()
        .run_as(&account)
        .config("  sh:\n    cmd: /bin/sh\n")
        .admin("ada")
        .user("bob")
        .start()
        .await;
    let uid = account.uid.to_string();
    assert_ne!(uid, "0");
    assert_eq!(d.uid(), account.uid);
    let all = format!("{uid} {uid} {uid} {uid}");
    assert_eq!(uids_of(d.pid()), all, "the daemon runs as {ACCOUNT}");
    assert_eq!(std::fs::metadata(&d.paths.state_dir).unwrap().uid(), account.uid);

    let seen = attack(d, model_port).await;
    let (d, r, c) = (seen.d, seen.confined, seen.control);
    // alice's agent is the daemon's own uid: only the sandbox kept it out.
    assert_eq!(get(&r, "uid"), uid, "{r:?}");
    let workspace = d.paths.default_workspace("alice");
    let report = std::fs::metadata(workspace.join("report")).unwrap();
    assert_eq!(report.uid(), account.uid, "the agent's files are {ACCOUNT}'s, seen from outside");
    // The control: ada's agent, the same uid unconfined, sees the socket, the daemon's
    // process and the store, and the socket answers it as the local operator.
    assert_eq!(get(&c, "uid"), uid, "{c:?}");
    assert_eq!(get(&c, "socket-visible"), "yes", "{c:?}");
    assert!(get(&c, "socket-connect").contains(" 200 "), "{c:?}");
    assert_eq!(get(&c, "daemon-proc"), "yes", "{c:?}");
    assert_eq!(get(&c, "daemon-kill"), "yes", "{c:?}");
    assert_ne!(get(&c, "store"), "", "{c:?}");
    // The restarted daemon still runs as the account.
    assert_eq!(uids_of(d.pid()), all);
}
