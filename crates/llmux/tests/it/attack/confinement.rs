//! What a process inside a non-admin's session can reach (issue 15): its agent runs in the
//! sandbox on its user's own tmux server, so the daemon's socket, store, key and overlay,
//! other users' agent homes, every tmux server and the daemon's processes are out of reach;
//! and the session still works (network, its cwd, git, a HOME that survives restarts).
//!
//! The attack is a shell script run as the session's agent (what an agent's own tool calls
//! do), and the same reads typed into an interactive shell's terminal (what a viewer's keys
//! do). Each probe writes one line to a report in the session's cwd, read from outside.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::call;
use crate::harness::TestDaemon;
use crate::harness::http::{token, user_in_default_workspace};

/// A one-line TCP server standing in for a model API on 127.0.0.1.
pub(super) fn model_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let mut buf = [0u8; 64];
            let _ = conn.read(&mut buf);
            let _ = conn.write_all(b"MODEL-OK\n");
        }
    });
    port
}

/// The attacks, as `sh` runs them; every line of the report is `probe=result`.
pub(super) fn script(d: &TestDaemon, model_port: u16) -> String {
    let state = d.paths.state_dir.display();
    let socket = d.paths.socket.display();
    let main_tmux = d.paths.tmux_socket.display();
    let bob_tmux = d.paths.user_tmux_socket("bob");
    let bob_tmux = bob_tmux.display();
    let pid = d.pid();
    let port = d.port;
    format!(
        r#"exec > report 2>&1
echo "socket-visible=$(test -e {socket} && echo yes || echo no)"
echo "socket-connect=$(python3 -c 'import socket,sys
s=socket.socket(socket.AF_UNIX)
try:
    s.connect("{socket}"); s.sendall(b"GET /api/admin/users HTTP/1.0\r\n\r\n"); print(s.recv(64))
except OSError as e: print("refused", e.errno)')"
echo "admin-over-tcp=$(python3 -c 'import urllib.request,urllib.error
try: urllib.request.urlopen("http://127.0.0.1:{port}/api/admin/users"); print(200)
except urllib.error.HTTPError as e: print(e.code)')"
echo "store=$(cat {state}/llmux.db {state}/vapid.key {state}/overlay.yaml 2>/dev/null | head -c 40 | od -An -c | tr -d ' \n')"
echo "state-listing=$(ls -A {state} | tr '\n' ' ')"
echo "bob-home=$(cat {state}/homes/bob/.claude/.credentials.json 2>/dev/null)"
echo "tmux-main=$(tmux -S {main_tmux} ls 2>/dev/null | wc -l)"
echo "tmux-bob=$(tmux -S {bob_tmux} ls 2>/dev/null | wc -l)"
echo "tmux-default=$(tmux ls 2>/dev/null | wc -l)"
echo "daemon-proc=$(test -e /proc/{pid} && echo yes || echo no)"
echo "daemon-kill=$(kill -0 {pid} 2>/dev/null && echo yes || echo no)"
echo "pids=$(ls /proc | grep -c '^[0-9]')"
echo "model=$(python3 -c 'import socket
s=socket.create_connection(("127.0.0.1",{model_port})); s.sendall(b"hi"); print(s.recv(64).decode().strip())')"
echo "git=$(git init -q repo && cd repo && git -c user.email=a@b.c -c user.name=a commit -q --allow-empty -m x && git log --oneline | wc -l)"
echo "runs=$(echo run >> "$HOME/.persist"; wc -l < "$HOME/.persist")"
echo "home=$HOME"
echo "uid=$(id -u)"
echo end=1
"#
    )
}

/// The report's lines as (probe, result) once its last line is there.
pub(super) async fn report(path: &Path) -> Vec<(String, String)> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.lines().any(|l| l == "end=1") {
            return text
                .lines()
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
        }
        assert!(Instant::now() < deadline, "no whole report at {}: {text}", path.display());
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

pub(super) fn get<'a>(report: &'a [(String, String)], key: &str) -> &'a str {
    report.iter().find(|(k, _)| k == key).map_or("<missing>", |(_, v)| v.as_str())
}

/// `text` as one single-quoted shell word.
pub(super) fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

pub(super) fn create(d: &TestDaemon, token: &str, body: Value) -> Value {
    let (status, res) = call(d, token, "POST", "/api/sessions", body);
    assert_eq!(status, 201, "{res}\n{}", d.log());
    res["session"].clone()
}

#[tokio::test]
async fn a_non_admins_agent_reaches_nothing_of_the_daemon_and_still_works() {
    let model_port = model_server();
    let d = TestDaemon::builder()
        .config("  sh:\n    cmd: /bin/sh\n")
        .admin("ada")
        .user("bob")
        .start()
        .await;
    attack(d, model_port).await;
}

/// What [`attack`] leaves for a caller's own checks: the daemon, the first report of alice's
/// confined agent and the report of the admin's unconfined one (the control).
pub(super) struct Seen {
    pub d: TestDaemon,
    pub confined: Vec<(String, String)>,
    pub control: Vec<(String, String)>,
}

/// The attack on a daemon `d` started with the `sh` agent, the admin `ada` and the user
/// `bob`, with the model server on `model_port`: from alice's confined agent and typed keys,
/// across a restart of her session and of the daemon, then from ada's session (control).
pub(super) async fn attack(d: TestDaemon, model_port: u16) -> Seen {
    user_in_default_workspace(&d, "alice").await;
    // bob's login, where alice's agent would look for it.
    let bob_home = d.paths.state_dir.join("homes/bob/.claude");
    std::fs::create_dir_all(&bob_home).unwrap();
    std::fs::write(bob_home.join(".credentials.json"), "BOB-LOGIN-SECRET").unwrap();
    d.hand_to_daemon(&d.paths.state_dir.join("homes"));
    let (alice, _) = token(&d, "alice", "user", None).await;
    let (ada, _) = token(&d, "ada", "user", None).await;

    let attack = script(&d, model_port);
    let session = create(
        &d,
        &alice,
        json!({"agent": "sh", "name": "probe", "flags": format!("-c {}", quote(&attack))}),
    );
    assert_eq!(session["confined"], true, "{session}");
    let workspace = d.paths.default_workspace("alice");
    assert_eq!(
        session["cwd"],
        workspace.display().to_string(),
        "a non-admin starts in their workspace"
    );
    let r = report(&workspace.join("report")).await;
    let show = format!("{r:?}");
    assert_eq!(get(&r, "socket-visible"), "no", "{show}");
    assert!(get(&r, "socket-connect").starts_with("refused"), "{show}");
    assert_eq!(get(&r, "admin-over-tcp"), "401", "{show}");
    assert_eq!(get(&r, "store"), "", "the store, the key and the overlay read as nothing: {show}");
    assert_eq!(get(&r, "state-listing").trim(), "homes workspaces", "{show}");
    assert_eq!(get(&r, "bob-home"), "", "{show}");
    for server in ["tmux-main", "tmux-bob", "tmux-default"] {
        assert_eq!(get(&r, server), "0", "{server}: {show}");
    }
    assert_eq!(get(&r, "daemon-proc"), "no", "{show}");
    assert_eq!(get(&r, "daemon-kill"), "no", "{show}");
    let pids: u32 = get(&r, "pids").parse().unwrap();
    assert!(pids < 10, "only the sandbox's own processes: {show}");
    assert_eq!(get(&r, "model"), "MODEL-OK", "{show}");
    assert_eq!(get(&r, "git"), "1", "{show}");
    assert_eq!(get(&r, "runs"), "1", "{show}");
    let home = d.paths.state_dir.join("homes/alice");
    assert_eq!(get(&r, "home"), home.display().to_string(), "{show}");

    // alice's HOME survives a restart of the session and of the daemon.
    std::fs::remove_file(workspace.join("report")).unwrap();
    let (status, body) = call(&d, &alice, "POST", "/api/sessions/probe/respawn", json!(null));
    assert_eq!(status, 200, "{body}");
    assert_eq!(get(&report(&workspace.join("report")).await, "runs"), "2");
    std::fs::remove_file(workspace.join("report")).unwrap();
    let mut d = d;
    d.restart().await;
    let (status, body) = call(&d, &alice, "POST", "/api/sessions/probe/respawn", json!(null));
    assert_eq!(status, 200, "{body}");
    let again = report(&workspace.join("report")).await;
    assert_eq!(get(&again, "runs"), "3", "{again:?}");
    assert_eq!(get(&again, "store"), "", "{again:?}");

    // Typed into an interactive shell's terminal: the same walls.
    let typed = create(&d, &alice, json!({"agent": "sh", "name": "typed"}));
    assert_eq!(typed["confined"], true, "{typed}");
    let vapid = d.paths.state_dir.join("vapid.key");
    let keys = format!(
        "cat {} > typed.txt 2>&1; tmux -S {} ls >> typed.txt 2>&1; echo done >> typed.txt",
        vapid.display(),
        d.paths.tmux_socket.display()
    );
    let (status, body) =
        call(&d, &alice, "POST", "/api/sessions/typed/send", json!({"prompt": keys}));
    assert_eq!(status, 200, "{body}");
    let out = workspace.join("typed.txt");
    let deadline = Instant::now() + Duration::from_secs(20);
    let text = loop {
        let text = std::fs::read_to_string(&out).unwrap_or_default();
        if text.contains("done") {
            break text;
        }
        assert!(Instant::now() < deadline, "typed keys never ran: {text}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    let key = std::fs::read_to_string(&vapid).unwrap();
    assert!(!text.contains(key.trim()), "{text}");
    assert!(text.contains("No such file") && !text.contains("probe"), "{text}");

    // The same attack from an admin's session is not confined (control): it sees the store.
    let attack = script(&d, model_port);
    let control = create(
        &d,
        &ada,
        json!({"agent": "sh", "name": "control", "cwd": d.work(), "flags": format!("-c {}", quote(&attack))}),
    );
    assert_eq!(control["confined"], false, "{control}");
    let c = report(&d.work().join("report")).await;
    assert_eq!(get(&c, "socket-visible"), "yes", "{c:?}");
    assert_eq!(get(&c, "daemon-proc"), "yes", "{c:?}");

    // alice's sessions run on her own tmux server, not llmux's.
    let main =
        String::from_utf8_lossy(&d.tmux(&["ls", "-F", "#{session_name}"]).stdout).into_owned();
    assert!(main.contains("control@ada") && !main.contains("alice"), "{main}");
    let own = d.tmux_of("alice", &["ls", "-F", "#{session_name}"]);
    let own = String::from_utf8_lossy(&own.stdout).into_owned();
    assert!(own.contains("probe@alice") && own.contains("typed@alice"), "{own}");
    Seen { d, confined: r, control: c }
}
