//! The terminal WebSocket: echo, resize, many viewers, read-only, Origin, revocation, session
//! end, reconnect with scrollback, and no leaks over many connects.

use std::time::{Duration, Instant};

use futures_util::SinkExt;
use hyper::Method;
use serde_json::json;
use tokio::net::{TcpStream, UnixStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{WebSocketStream, client_async};

use crate::harness::ws::{read_to_close, read_until, tcp_viewer};
use crate::harness::{TestDaemon, create_as, local, login_cookie, token, user};

type Ws<S> = WebSocketStream<S>;

/// A viewer over the Unix socket (the local operator).
async fn local_viewer(d: &TestDaemon, name: &str) -> Ws<UnixStream> {
    let stream = UnixStream::connect(&d.paths.socket).await.unwrap();
    let req = format!("ws://localhost/ws/{name}").into_client_request().unwrap();
    client_async(req, stream).await.expect("upgrade over the socket").0
}

#[tokio::test]
async fn keystrokes_echo_and_resizes_reach_the_agent() {
    let d = TestDaemon::start().await;
    d.spawn_fake("t1").await;
    let mut ws = local_viewer(&d, "t1").await;
    read_until(&mut ws, "SIZE").await;
    ws.send(Message::Binary(b"typed live\r".to_vec().into())).await.unwrap();
    read_until(&mut ws, "PROMPT[1]: typed live").await;
    ws.send(Message::Text(json!({"type": "resize", "cols": 91, "rows": 23}).to_string().into()))
        .await
        .unwrap();
    read_until(&mut ws, "SIZE 91x23").await;
    // text frames that are not control messages are keystrokes too
    ws.send(Message::Text("as text\r".into())).await.unwrap();
    read_until(&mut ws, "PROMPT[2]: as text").await;
}

#[tokio::test]
async fn two_viewers_see_the_same_output() {
    let d = TestDaemon::start().await;
    d.spawn_fake("t2").await;
    let mut a = local_viewer(&d, "t2").await;
    let mut b = local_viewer(&d, "t2").await;
    a.send(Message::Binary(b"from a\r".to_vec().into())).await.unwrap();
    read_until(&mut a, "PROMPT[1]: from a").await;
    read_until(&mut b, "PROMPT[1]: from a").await;
}

#[tokio::test]
async fn a_read_only_viewer_cannot_type() {
    let d = TestDaemon::builder().user("alice").start().await;
    let (rw, _) = token(&d, "alice", "user", None).await;
    let (ro, _) = token(&d, "alice", "read-only", None).await;
    let auth = format!("Bearer {rw}");
    assert_eq!(create_as(&d, &rw, "t3").0, 201);
    // the operator names alice's session in full
    d.wait_for_screen("t3@alice", "SIZE").await;
    let ro_auth = format!("Bearer {ro}");
    let mut viewer =
        tcp_viewer(&d, "t3", &[("Authorization", &ro_auth)]).await.expect("read-only may view");
    read_until(&mut viewer, "SIZE").await;
    viewer.send(Message::Binary(b"sneaky\r".to_vec().into())).await.unwrap();
    // a writer's input, sent after, arrives as the first prompt: the read-only one never did
    let mut writer = tcp_viewer(&d, "t3", &[("Authorization", &auth)]).await.unwrap();
    writer.send(Message::Binary(b"legit\r".to_vec().into())).await.unwrap();
    let seen = read_until(&mut viewer, "PROMPT[1]: legit").await;
    assert!(!seen.contains("sneaky"), "{seen}");
    let screen = d.client.capture("t3@alice", 100).await.unwrap().text;
    assert!(!screen.contains("sneaky"), "{screen}");
}

#[tokio::test]
async fn origins_and_ownership_are_checked_on_upgrade() {
    let d = TestDaemon::builder().user("alice").user("bob").start().await;
    d.spawn_fake("ops").await; // owned by the local operator
    let (alice, _) = token(&d, "alice", "user", None).await;
    let (bob, _) = token(&d, "bob", "user", None).await;
    let auth = format!("Bearer {alice}");
    assert_eq!(create_as(&d, &alice, "mine").0, 201);
    d.wait_for_screen("mine@alice", "SIZE").await;

    let cookie = format!("llmux_session={}", login_cookie(&d, "alice"));
    let own = format!("http://127.0.0.1:{}", d.port);
    // no credential; foreign origin with a valid cookie or token; no origin with a cookie
    assert_eq!(tcp_viewer(&d, "mine", &[]).await.err(), Some(401));
    assert_eq!(
        tcp_viewer(&d, "mine", &[("Cookie", &cookie), ("Origin", "http://evil.example")])
            .await
            .err(),
        Some(403)
    );
    assert_eq!(
        tcp_viewer(&d, "mine", &[("Authorization", &auth), ("Origin", "http://evil.example")])
            .await
            .err(),
        Some(403)
    );
    assert_eq!(tcp_viewer(&d, "mine", &[("Cookie", &cookie)]).await.err(), Some(403));
    // someone else's session looks absent
    let bob_auth = format!("Bearer {bob}");
    assert_eq!(tcp_viewer(&d, "mine", &[("Authorization", &bob_auth)]).await.err(), Some(404));
    assert_eq!(tcp_viewer(&d, "ops", &[("Authorization", &auth)]).await.err(), Some(404));
    // no token in the URL, ever
    let stream = TcpStream::connect(("127.0.0.1", d.port)).await.unwrap();
    let req =
        format!("ws://127.0.0.1:{}/ws/mine?token={alice}", d.port).into_client_request().unwrap();
    assert!(client_async(req, stream).await.is_err());
    // the right origin with a cookie, and a bearer token without an origin, work
    let mut ok = tcp_viewer(&d, "mine", &[("Cookie", &cookie), ("Origin", &own)]).await.unwrap();
    read_until(&mut ok, "SIZE").await;
    let mut ok = tcp_viewer(&d, "mine", &[("Authorization", &auth)]).await.unwrap();
    read_until(&mut ok, "SIZE").await;
}

#[tokio::test]
async fn revoking_the_token_closes_the_terminal_within_a_second() {
    let d = TestDaemon::builder().admin("root").start().await;
    let (value, id) = token(&d, "root", "admin", None).await;
    d.spawn_fake("t4").await;
    let auth = format!("Bearer {value}");
    let mut ws = tcp_viewer(&d, "t4", &[("Authorization", &auth)]).await.unwrap();
    read_until(&mut ws, "SIZE").await;
    let start = Instant::now();
    assert_eq!(local(&d, Method::DELETE, &format!("/api/tokens/{id}"), json!(null)).await.0, 200);
    assert_eq!(read_to_close(&mut ws, Duration::from_secs(1)).await.0, llmux_api::close::REVOKED);
    assert!(start.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn the_session_ending_closes_with_4040() {
    let d = TestDaemon::start().await;
    d.spawn_fake("t5").await;
    let mut ws = local_viewer(&d, "t5").await;
    read_until(&mut ws, "SIZE").await;
    ws.send(Message::Binary(b"/exit 0\r".to_vec().into())).await.unwrap();
    assert_eq!(read_to_close(&mut ws, Duration::from_secs(5)).await.0, 4040);
    // and attaching to an exited session is refused with 409
    user(&d, "root", true).await;
    let (value, _) = token(&d, "root", "admin", None).await;
    let auth = format!("Bearer {value}");
    assert_eq!(tcp_viewer(&d, "t5", &[("Authorization", &auth)]).await.err(), Some(409));
}

#[tokio::test]
async fn a_reconnecting_viewer_gets_the_screen_and_the_scrollback() {
    let d = TestDaemon::start().await;
    d.spawn_fake("t6").await;
    // push earlier output off the top of the 40-row screen
    for i in 0..60 {
        d.client.send("t6", &format!("line number {i}"), true).await.unwrap();
    }
    d.wait_for_screen("t6", "PROMPT[60]: line number 59").await;
    let mut ws = local_viewer(&d, "t6").await;
    let seen = read_until(&mut ws, "PROMPT[60]: line number 59").await;
    assert!(seen.contains("PROMPT[1]: line number 0"), "scrollback replayed: {seen}");
    assert!(seen.contains("FAKE AGENT READY"), "{seen}");
}

/// Open file descriptors of `pid` that are pty masters.
fn ptmx_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|dir| {
            dir.flatten()
                .filter(|e| {
                    std::fs::read_link(e.path()).is_ok_and(|t| t.to_string_lossy().contains("ptmx"))
                })
                .count()
        })
        .unwrap_or(0)
}

/// tmux clients attached for viewers (the daemon's own control-mode client does not count).
fn tmux_clients(d: &TestDaemon) -> usize {
    viewer_clients(d)
}

pub fn viewer_clients(d: &TestDaemon) -> usize {
    let out = d.tmux(&["list-clients", "-F", "#{client_control_mode}"]);
    String::from_utf8_lossy(&out.stdout).lines().filter(|l| l.trim() != "1").count()
}

#[tokio::test]
async fn many_connects_leave_no_client_or_pty_behind() {
    let d = TestDaemon::start().await;
    d.spawn_fake("t7").await;
    let pid = d.pid();
    for i in 0..200 {
        let mut ws = local_viewer(&d, "t7").await;
        if i % 20 == 0 {
            read_until(&mut ws, "SIZE").await;
        }
        if i % 2 == 0 {
            ws.close(None).await.unwrap();
        } // odd ones just drop the connection
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (clients, ptys) = (tmux_clients(&d), ptmx_fds(pid));
        if clients == 0 && ptys == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{clients} tmux clients and {ptys} ptys left after 200 cycles"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let zombies = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter(|stat| stat.contains(&format!(") Z {pid} ")))
        .count();
    assert_eq!(zombies, 0, "zombie tmux clients under the daemon");
    // still works
    let mut ws = local_viewer(&d, "t7").await;
    ws.send(Message::Binary(b"alive\r".to_vec().into())).await.unwrap();
    read_until(&mut ws, "PROMPT[1]: alive").await;
}

/// `llmux session attach` in a real pseudo-terminal, as a person would use it.
mod cli {
    use std::time::{Duration, Instant};

    use llmux_api::SessionStatus;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use crate::harness::{TestDaemon, bin};

    struct Pty {
        read: pty_process::OwnedReadPty,
        write: pty_process::OwnedWritePty,
        child: tokio::process::Child,
        seen: Vec<u8>,
        /// A duplicate of the master, for reading the terminal's modes.
        fd: std::os::fd::OwnedFd,
    }

    impl Pty {
        fn spawn(d: &TestDaemon, args: &[&str]) -> Pty {
            let (pty, pts) = pty_process::open().unwrap();
            pty.resize(pty_process::Size::new(30, 100)).unwrap();
            let mut cmd = pty_process::Command::new(bin())
                .args(args)
                .env("LLMUX_STATE_DIR", &d.paths.state_dir)
                .env("HOME", d.home())
                .env("TERM", "xterm-256color");
            for var in ["LLMUX_SERVER", "LLMUX_TOKEN", "LLMUX_PROFILE", "TMUX"] {
                cmd = cmd.env_remove(var);
            }
            let child = cmd.spawn(pts).unwrap();
            let fd = std::os::fd::AsFd::as_fd(&pty).try_clone_to_owned().unwrap();
            let (read, write) = pty.into_split();
            Pty { read, write, child, seen: Vec::new(), fd }
        }

        async fn read_until(&mut self, needle: &str) {
            let deadline = Instant::now() + Duration::from_secs(10);
            let mut buf = [0u8; 4096];
            while !String::from_utf8_lossy(&self.seen).contains(needle) {
                let left = deadline.saturating_duration_since(Instant::now());
                match tokio::time::timeout(left, self.read.read(&mut buf)).await {
                    Ok(Ok(n)) if n > 0 => self.seen.extend_from_slice(&buf[..n]),
                    other => panic!(
                        "{needle:?} never came ({other:?}); output:\n{}",
                        String::from_utf8_lossy(&self.seen)
                    ),
                }
            }
        }

        async fn exit_code(&mut self) -> i32 {
            let status = tokio::time::timeout(Duration::from_secs(10), self.child.wait())
                .await
                .expect("llmux exits")
                .unwrap();
            status.code().expect("exit code")
        }

        /// Whether the terminal is back in cooked mode (line editing and echo on).
        fn cooked(&self) -> bool {
            use rustix::termios::LocalModes;
            let attrs = rustix::termios::tcgetattr(&self.fd).unwrap();
            attrs.local_modes.contains(LocalModes::ICANON | LocalModes::ECHO)
        }
    }

    #[tokio::test]
    async fn attach_types_resizes_and_detaches_with_ctrl_bracket() {
        let d = TestDaemon::start().await;
        d.spawn_fake("pa").await;
        let mut pty = Pty::spawn(&d, &["session", "attach", "pa"]);
        pty.read_until("SIZE 100x30").await;
        assert!(!pty.cooked(), "raw mode while attached");
        pty.write.write_all(b"hello from a tty\r").await.unwrap();
        pty.read_until("PROMPT[1]: hello from a tty").await;
        // the kernel sends SIGWINCH on a size change; the agent sees the new size
        pty.write.resize(pty_process::Size::new(35, 110)).unwrap();
        pty.read_until("SIZE 110x35").await;
        pty.write.write_all(&[0x1d]).await.unwrap();
        assert_eq!(pty.exit_code().await, 0);
        pty.read_until("[detached]").await;
        assert!(pty.cooked(), "the terminal is restored");
        assert_eq!(d.client.session("pa").await.unwrap().status, SessionStatus::Running);
        let deadline = Instant::now() + Duration::from_secs(5);
        while super::viewer_clients(&d) != 0 {
            assert!(Instant::now() < deadline, "a tmux client was left attached");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    #[tokio::test]
    async fn attach_exits_5_when_the_session_ends_and_restores_the_terminal() {
        let d = TestDaemon::start().await;
        d.spawn_fake("pe").await;
        let mut pty = Pty::spawn(&d, &["session", "attach", "pe", "--detach-key", "ctrl-q"]);
        pty.read_until("SIZE").await;
        // ctrl-] is an ordinary key now
        pty.write.write_all(b"/exit 0\r").await.unwrap();
        assert_eq!(pty.exit_code().await, 5);
        pty.read_until("session ended").await;
        assert!(pty.cooked());
    }

    #[tokio::test]
    async fn attach_exits_6_when_the_daemon_goes_away_and_restores_the_terminal() {
        let mut d = TestDaemon::start().await;
        d.spawn_fake("pl").await;
        let mut pty = Pty::spawn(&d, &["session", "attach", "pl"]);
        pty.read_until("SIZE").await;
        assert!(!pty.cooked());
        d.kill("KILL");
        assert_eq!(pty.exit_code().await, 6);
        pty.read_until("connection lost").await;
        assert!(pty.cooked(), "the terminal is restored after a network drop");
    }

    #[tokio::test]
    async fn attach_exit_codes_for_missing_and_stopped_sessions() {
        let d = TestDaemon::start().await;
        let out = d.cli(&["session", "attach", "nope"]);
        assert_eq!(out.status.code(), Some(4), "{}", String::from_utf8_lossy(&out.stderr));
        d.spawn_fake("ps").await;
        d.client.stop_session("ps").await.unwrap();
        let out = d.cli(&["session", "attach", "ps"]);
        assert_eq!(out.status.code(), Some(7));
        assert!(String::from_utf8_lossy(&out.stderr).contains("not running"));
    }
}
