//! Attacks: terminal (see the table in the parent module).
//!
//! A non-admin viewer attached over `/ws/NAME` reached a full `tmux attach-session` client with
//! tmux's default prefix and key tables: `C-b (` switched her into an admin's session, `C-b c`
//! opened a shell there, `C-b :` offered `kill-server`. Each test replays those keys over a real
//! WebSocket and checks with its own tmux calls that nothing but her own pane ever saw them.

use std::time::Duration;

use futures_util::SinkExt;
use serde_json::json;
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

use crate::harness::ws::{read_to_close, read_until, tcp_viewer};
use crate::harness::{TestDaemon, token, user};

type Ws = WebSocketStream<TcpStream>;

/// The admin's session, and the text on its screen that must never reach alice's viewer.
const ADMIN_SESSION: &str = "admin-secret";
const ADMIN_SCREEN: &str = "ADMIN-ONLY-SCREEN";
const ALICE_SESSION: &str = "alice-own";
/// The same two sessions as the local operator and tmux name them (each owner's own name is
/// plain to that owner only).
const ADMIN_CANONICAL: &str = "admin-secret@root";
const ALICE_CANONICAL: &str = "alice-own@alice";

/// A daemon with an admin session (showing [`ADMIN_SCREEN`]) and alice's own session; returns
/// alice's bearer header value.
async fn two_owners(d: &TestDaemon) -> String {
    user(d, "root", true).await;
    user(d, "alice", false).await;
    let (admin, _) = token(d, "root", "admin", None).await;
    let (alice, _) = token(d, "alice", "user", None).await;
    let (admin, alice) = (format!("Bearer {admin}"), format!("Bearer {alice}"));
    for (auth, name, canonical) in
        [(&admin, ADMIN_SESSION, ADMIN_CANONICAL), (&alice, ALICE_SESSION, ALICE_CANONICAL)]
    {
        let body = json!({"agent": "fake", "name": name, "cwd": d.work()}).to_string();
        let headers = [("Authorization", auth.as_str()), ("Content-Type", "application/json")];
        let (status, res) = d.http("POST", "/api/sessions", &headers, &body);
        assert_eq!(status, 201, "{res}");
        d.wait_for_screen(canonical, "SIZE").await;
    }
    d.client.send(ADMIN_CANONICAL, ADMIN_SCREEN, true).await.unwrap();
    d.wait_for_screen(ADMIN_CANONICAL, &format!("PROMPT[1]: {ADMIN_SCREEN}")).await;
    alice
}

/// Alice's viewer of her own session over TCP with her `user` token.
async fn attach(d: &TestDaemon, auth: &str) -> Ws {
    let mut ws = tcp_viewer(d, ALICE_SESSION, &[("Authorization", auth)])
        .await
        .expect("alice may view her own session");
    read_until(&mut ws, "SIZE").await;
    ws
}

/// Every `session:window` of the daemon's tmux servers (llmux's own and alice's; their hidden
/// control sessions included).
fn windows(d: &TestDaemon) -> Vec<String> {
    let out = d.tmux(&["list-windows", "-a", "-F", "#{session_name}:#{window_index}"]);
    assert!(out.status.success(), "tmux server alive: {}", String::from_utf8_lossy(&out.stderr));
    let mut all: Vec<String> = d
        .tmux_each(&["list-windows", "-a", "-F", "#{session_name}:#{window_index}"])
        .lines()
        .map(Into::into)
        .collect();
    all.sort();
    all
}

/// The sessions the viewer clients (not control mode) of every server are attached to.
fn viewer_sessions(d: &TestDaemon) -> Vec<String> {
    d.tmux_each(&["list-clients", "-F", "#{client_control_mode} #{session_name}"])
        .lines()
        .filter_map(|l| l.strip_prefix("0 "))
        .map(Into::into)
        .collect()
}

/// The escape keys of the review, each as the bytes a terminal sends: the prefix `C-b` then
/// choose-tree, switch-client, new-window, the command prompt with `kill-server`, detach, and a
/// right-click (SGR mouse, press and release) that opens tmux's pane menu when mouse is on.
const ATTACK: &[&[u8]] = &[
    b"\x02(",
    b"\x02)",
    b"\x02s",
    b"\x02w",
    b"\x02c",
    b"\x02:kill-server\r",
    b"\x02d",
    b"\x1b[<2;10;5M\x1b[<2;10;5m",
];

/// Replays [`ATTACK`] then a marker line on alice's viewer, and checks that tmux is untouched
/// and the marker (and only it) reached alice's own pane.
async fn replay_attack(d: &TestDaemon, ws: &mut Ws, marker: &str) {
    let before = windows(d);
    assert!(before.iter().any(|w| w.starts_with(ADMIN_SESSION)), "{before:?}");
    for keys in ATTACK {
        ws.send(Message::Binary(keys.to_vec().into())).await.unwrap();
        // Separate writes, as a person types them (tmux then reads each on its own).
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    ws.send(Message::Binary(format!("{marker}\r").into_bytes().into())).await.unwrap();
    let seen = read_until(ws, marker).await;
    // The marker came back through alice's own pane: the agent echoed it into its prompt line.
    let screen = d.wait_for_screen(ALICE_CANONICAL, marker).await;
    assert!(screen.lines().any(|l| l.starts_with("PROMPT[") && l.contains(marker)), "{screen}");
    let admin = d.client.capture(ADMIN_CANONICAL, 200).await.unwrap().text;
    assert!(!admin.contains(marker), "the marker reached the admin's pane:\n{admin}");
    assert!(!admin.contains("kill-server"), "{admin}");
    assert!(!seen.contains(ADMIN_SCREEN), "alice saw the admin's screen:\n{seen}");
    for menu in ["Horizontal Split", "Swap Up", "(sort:", "Kill"] {
        assert!(!seen.contains(menu), "tmux showed {menu:?} to alice:\n{seen}");
    }
    assert_eq!(windows(d), before, "sessions or windows changed");
    assert_eq!(viewer_sessions(d), [ALICE_CANONICAL], "alice's client moved");
}

#[tokio::test]
async fn prefix_keys_prompt_and_mouse_reach_only_the_viewers_own_pane() {
    let d = TestDaemon::start().await;
    let alice = two_owners(&d).await;
    let mut ws = attach(&d, &alice).await;
    replay_attack(&d, &mut ws, "MARKER-ALICE-1").await;
    killing_detaches(&d, &mut ws).await;
}

/// Her session ending detaches her (code 4040) instead of moving her to another session: it is
/// killed behind the daemon's back, so tmux's own `detach-on-destroy` acts before the daemon
/// notices.
async fn killing_detaches(d: &TestDaemon, ws: &mut Ws) {
    let out = d.tmux_of("alice", &["kill-session", "-t", &format!("={ALICE_CANONICAL}")]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (code, shown) = read_to_close(ws, Duration::from_secs(10)).await;
    assert_eq!(code, 4040, "{shown}");
    assert!(!shown.contains(ADMIN_SCREEN), "alice was shown the admin's screen:\n{shown}");
    assert!(windows(d).iter().any(|w| w.starts_with(ADMIN_SESSION)));
}

#[tokio::test]
async fn a_stopped_session_closes_its_viewer_with_4040() {
    let d = TestDaemon::start().await;
    let alice = two_owners(&d).await;
    let mut ws = attach(&d, &alice).await;
    let (status, res) = d.http(
        "POST",
        &format!("/api/sessions/{ALICE_SESSION}/stop"),
        &[("Authorization", &alice)],
        "",
    );
    assert_eq!(status, 200, "{res}");
    let (code, shown) = read_to_close(&mut ws, Duration::from_secs(10)).await;
    assert_eq!(code, 4040, "{shown}");
    assert!(!shown.contains(ADMIN_SCREEN), "alice was shown the admin's screen:\n{shown}");
}

/// tmux reads its config only when its server starts: a daemon that finds a server already
/// running (an older llmux's, with tmux's default keys) seals that one at startup.
#[tokio::test]
async fn a_daemon_seals_a_tmux_server_it_finds_running() {
    let mut d = TestDaemon::start().await;
    let alice = two_owners(&d).await;
    d.kill("KILL"); // tmux and its sessions outlive the daemon
    let defaults = default_bindings(&d);
    // Both servers: llmux's own (the admin's session) and alice's own.
    let servers = d.tmux_sockets();
    assert_eq!(servers.len(), 2, "{servers:?}");
    let on = |socket: &std::path::Path, args: &[&str]| {
        std::process::Command::new("tmux")
            .arg("-S")
            .arg(socket)
            .args(args)
            .env_remove("TMUX")
            .output()
            .unwrap()
    };
    for socket in &servers {
        let out = on(socket, &["source-file", defaults.to_str().unwrap()]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        for set in [["prefix", "C-b"], ["detach-on-destroy", "off"], ["mouse", "on"]] {
            assert!(on(socket, &["set", "-g", set[0], set[1]]).status.success());
        }
        let keys = on(socket, &["list-keys", "-T", "prefix"]);
        assert!(String::from_utf8_lossy(&keys.stdout).contains("switch-client -p"), "unsealed");
    }

    d.spawn_daemon().await;
    for socket in &servers {
        let keys = on(socket, &["list-keys"]);
        let keys = String::from_utf8_lossy(&keys.stdout);
        assert_eq!(keys, "", "every key table of {} is empty", socket.display());
    }
    let mut ws = attach(&d, &alice).await;
    replay_attack(&d, &mut ws, "MARKER-ALICE-2").await;
    killing_detaches(&d, &mut ws).await;
}

/// tmux's default key bindings, as a config file: what a tmux server started without our
/// config (or by an llmux before this fix) has.
fn default_bindings(d: &TestDaemon) -> std::path::PathBuf {
    let socket = d.dir().join("defaults.sock");
    let out = std::process::Command::new("tmux")
        .arg("-S")
        .arg(&socket)
        .args(["-f", "/dev/null", "start-server", ";", "list-keys"])
        .env_remove("TMUX")
        .output()
        .unwrap();
    let _ = std::process::Command::new("tmux").arg("-S").arg(&socket).arg("kill-server").output();
    let keys = String::from_utf8(out.stdout).unwrap();
    assert!(keys.contains("choose-tree"), "{keys}");
    let path = d.dir().join("defaults.conf");
    std::fs::write(&path, keys).unwrap();
    path
}
