//! The system daemon (issue 15, `server.mode: system`, run as root): each llmux user's
//! sessions run as the Unix account mapped to them, with its uid, groups and HOME, on a tmux
//! server of that account's; a non-admin's inside the sandbox on top. A process in such a
//! session is that account and no more: root's files, the daemon's state and every other tmux
//! server are out of reach. Needs root (CI runs as root): skipped, with a message, otherwise.

use std::process::Command;
use std::time::{Duration, Instant};

use hyper::Method;
use serde_json::json;

use super::call;
use crate::harness::TestDaemon;
use crate::harness::http::{local, token, user_in_default_workspace};

const ACCOUNT: &str = "llmux-sys-alice";

/// The test account (made once; `useradd -m`), or `None` when not root.
fn account() -> Option<(u32, std::path::PathBuf)> {
    crate::harness::account::login(ACCOUNT)
}

/// Runs `args` as the account (tmux on its own server, `kill`…).
fn as_account(uid: u32, args: &[&str]) -> std::process::Output {
    Command::new("setpriv")
        .args([&format!("--reuid={uid}"), &format!("--regid={uid}"), "--init-groups", "--"])
        .args(args)
        .env_remove("TMUX")
        .env_remove("TMUX_TMPDIR")
        .output()
        .unwrap()
}

#[tokio::test]
async fn each_users_sessions_run_as_their_own_unix_account() {
    let Some((uid, home)) = account() else { return };
    let users_socket = format!("/tmp/llmux-users-{}/users.sock", std::process::id());
    let d = TestDaemon::builder()
        .server("mode: system")
        .server(&format!("usersSocket: {users_socket}"))
        .config("  sh:\n    cmd: /bin/sh\n")
        .admin("ada")
        .start()
        .await;
    user_in_default_workspace(&d, "alice").await;
    let (alice, _) = token(&d, "alice", "user", None).await;
    let report = home.join("report");
    let _ = std::fs::remove_file(&report);
    let script = format!(
        "exec > report 2>&1; echo uid=$(id -u); echo groups=$(id -G); echo home=$HOME; \
         echo shadow=$(head -c 4 /etc/shadow 2>/dev/null); \
         echo vapid=$(head -c 4 {state}/vapid.key 2>/dev/null); \
         echo tmux=$(tmux ls 2>/dev/null | wc -l); echo end=1",
        state = d.paths.state_dir.display()
    );
    let body = json!({"agent": "sh", "name": "probe", "flags": format!("-c '{script}'")});

    // Not mapped to an account yet: no session, and the message says how.
    let (status, res) = call(&d, &alice, "POST", "/api/sessions", body.clone());
    assert_eq!(status, 409, "{res}");
    let error = res["error"].as_str().unwrap();
    assert!(error.contains("llmux user edit alice --unix-account"), "{error}");
    // Root and another user's account are refused as mappings.
    for bad in ["root", "no-such-account-x"] {
        let patch = json!({"unixAccount": bad});
        let (status, res) = local(&d, Method::PATCH, "/api/admin/users/alice", patch).await;
        assert_eq!(status, 400, "{bad}: {res}");
    }
    let patch = json!({"unixAccount": ACCOUNT});
    let (status, res) = local(&d, Method::PATCH, "/api/admin/users/alice", patch).await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(res["user"]["unixAccount"], ACCOUNT, "{res}");
    let (status, res) =
        local(&d, Method::PATCH, "/api/admin/users/ada", json!({"unixAccount": ACCOUNT})).await;
    assert_eq!(status, 409, "one account per user: {res}");
    // Or llmux makes one: `llmux-ada`, with its own group and HOME.
    let _ = Command::new("userdel").args(["--remove", "llmux-ada"]).output();
    let create = json!({"createUnixAccount": true});
    let (status, res) = local(&d, Method::PATCH, "/api/admin/users/ada", create.clone()).await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(res["user"]["unixAccount"], "llmux-ada", "{res}");
    let made = Command::new("getent").args(["passwd", "llmux-ada"]).output().unwrap();
    let made = String::from_utf8_lossy(&made.stdout).into_owned();
    assert!(made.starts_with("llmux-ada:") && made.contains("/home/llmux-ada"), "{made}");
    let (status, res) = local(&d, Method::PATCH, "/api/admin/users/ada", create).await;
    assert_eq!(status, 409, "exists already: {res}");
    let _ = Command::new("userdel").args(["--remove", "llmux-ada"]).output();

    let (status, res) = call(&d, &alice, "POST", "/api/sessions", body);
    assert_eq!(status, 201, "{res}\n{}", d.log());
    assert_eq!(res["session"]["confined"], true, "{res}");
    assert_eq!(res["session"]["cwd"], home.display().to_string(), "she starts in her HOME");
    let deadline = Instant::now() + Duration::from_secs(20);
    let text = loop {
        let text = std::fs::read_to_string(&report).unwrap_or_default();
        if text.contains("end=1") {
            break text;
        }
        assert!(Instant::now() < deadline, "no report: {text}\n{}", d.log());
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    assert!(text.contains(&format!("uid={uid}\n")), "{text}");
    let groups = text.lines().find_map(|l| l.strip_prefix("groups=")).unwrap();
    assert!(!groups.split(' ').any(|g| g == "0"), "root's group kept: {text}");
    assert!(text.contains(&format!("home={}\n", home.display())), "{text}");
    assert!(text.contains("shadow=\n") && text.contains("vapid=\n"), "{text}");
    assert!(text.contains("tmux=0\n"), "{text}");
    use std::os::unix::fs::MetadataExt;
    assert_eq!(std::fs::metadata(&report).unwrap().uid(), uid, "the file is hers");

    // Her uploads are written as her account, inside her sandbox (issue 19).
    let (status, res) =
        call(&d, &alice, "POST", "/api/sessions/probe/uploads?filename=note.txt", json!("hi"));
    assert_eq!(status, 201, "{res}\n{}", d.log());
    let note = home.join(".llmux/uploads/note.txt");
    assert_eq!(std::fs::read_to_string(&note).unwrap(), "\"hi\"");
    assert_eq!(std::fs::metadata(&note).unwrap().uid(), uid, "the upload is hers");

    // Her session lives on her account's tmux server, not on llmux's (root's) own.
    let own = as_account(uid, &["tmux", "-L", "llmux", "ls", "-F", "#{session_name}"]);
    assert!(String::from_utf8_lossy(&own.stdout).contains("probe@alice"), "{own:?}");
    let main = String::from_utf8_lossy(&d.tmux(&["ls"]).stdout).into_owned();
    assert!(!main.contains("alice"), "{main}");
    // The operator's sessions stay root's, on llmux's own server.
    let op = d.spawn_fake("op").await;
    assert!(!op.confined);

    // On the users' socket, her account is alice (never the operator); any other uid is
    // nobody there.
    let get = |path: &str| {
        format!(
            "import socket\ns=socket.socket(socket.AF_UNIX)\ns.connect({users_socket:?})\n\
             s.sendall(b'GET {path} HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n')\n\
             out=b''\nwhile True:\n    b=s.recv(65536)\n    if not b: break\n    out+=b\n\
             print(out.decode())"
        )
    };
    let ask = |who: Option<u32>, path: &str| -> String {
        let script = get(path);
        let out = match who {
            Some(uid) => as_account(uid, &["/usr/bin/python3", "-c", &script]),
            None => Command::new("/usr/bin/python3").args(["-c", &script]).output().unwrap(),
        };
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let me = ask(Some(uid), "/api/auth/whoami");
    assert!(me.starts_with("HTTP/1.0 200"), "{me}");
    assert!(me.contains(r#""username":"alice""#) && me.contains(r#""via":"unix""#), "{me}");
    let list = ask(Some(uid), "/api/sessions");
    assert!(list.contains(r#""name":"probe""#) && !list.contains(r#""name":"op""#), "{list}");
    let admin = ask(Some(uid), "/api/admin/users");
    assert!(admin.starts_with("HTTP/1.0 403"), "{admin}");
    for other in [Some(65534), None] {
        let res = ask(other, "/api/sessions");
        assert!(res.starts_with("HTTP/1.0 403"), "{other:?}: {res}");
    }
    let mode = std::fs::metadata(&users_socket).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(mode.permissions().mode() & 0o777, 0o666);

    let _ = as_account(uid, &["tmux", "-L", "llmux", "kill-server"]);
    drop(d);
    let _ = std::fs::remove_dir_all(std::path::Path::new(&users_socket).parent().unwrap());
}
