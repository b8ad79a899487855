//! Attacks: connections (see the table in the parent module).
//!
//! Finding 6: an anonymous client opened ~20k half-sent requests; the daemon ran out of file
//! descriptors, `/health` stopped answering on TCP and on the Unix socket, and one half-sent
//! request stayed open for over 75 s. Now a request head has a deadline, idle keep-alive
//! connections close, TCP connections are capped (the Unix socket has its own accept loop), and
//! each user holds a bounded number of terminals and event streams. The tests lower the limits
//! through the config file the daemon reads.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::harness::{Builder, TestDaemon, create_as, token};

/// A daemon with `server.limits` set to `limits` (YAML flow mapping).
fn with_limits(limits: &str) -> Builder {
    TestDaemon::builder().server(&format!("limits: {limits}"))
}

/// Opens a TCP connection and sends `bytes` (typically a request head cut short).
pub(super) fn half_open(port: u16, bytes: &str) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.write_all(bytes.as_bytes()).expect("write");
    s
}

/// Reads until EOF, a reset or `within`; returns what came and whether the peer closed.
pub(super) fn read_to_close(s: &mut TcpStream, within: Duration) -> (String, bool) {
    let deadline = Instant::now() + within;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return (String::from_utf8_lossy(&got).into_owned(), false);
        }
        s.set_read_timeout(Some(left)).unwrap();
        match s.read(&mut buf) {
            Ok(0) => return (String::from_utf8_lossy(&got).into_owned(), true),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return (String::from_utf8_lossy(&got).into_owned(), true),
        }
    }
}

/// `GET /health` over TCP in one connection; the status, or `None` if the connection was
/// refused, reset or closed without an answer.
fn tcp_health(port: u16) -> Option<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.write_all(
        format!("GET /health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    )
    .ok()?;
    let (text, _) = read_to_close(&mut s, Duration::from_secs(5));
    text.split(' ').nth(1)?.parse().ok()
}

/// Reads a response head (up to the blank line) within 10 s; the status line and headers.
pub(super) fn read_head(s: &mut TcpStream) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while !got.ends_with(b"\r\n\r\n") {
        assert!(Instant::now() < deadline, "no response head: {:?}", String::from_utf8_lossy(&got));
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        match s.read(&mut byte) {
            Ok(1) => got.push(byte[0]),
            other => panic!(
                "connection ended before the head ({other:?}): {:?}",
                String::from_utf8_lossy(&got)
            ),
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

pub(super) fn status_of(head: &str) -> u16 {
    head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("status line")
}

#[tokio::test]
async fn a_tcp_flood_never_starves_the_socket_and_ends_by_itself() {
    let d = with_limits("{maxTcpConnections: 16, headerTimeoutSecs: 8}").start().await;
    let port = d.port;
    // Fill the cap with half-sent requests.
    let started = Instant::now();
    let mut held: Vec<TcpStream> =
        (0..16).map(|_| half_open(port, "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")).collect();
    // One more is refused or closed at once, not left hanging.
    let mut extra = half_open(port, "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    let t = Instant::now();
    let (text, closed) = read_to_close(&mut extra, Duration::from_secs(2));
    assert!(closed, "a connection over the cap was left open: {text:?}");
    assert!(t.elapsed() < Duration::from_millis(1500), "refused only after {:?}", t.elapsed());
    assert!(text.is_empty() || text.starts_with("HTTP/1.1 503"), "{text}");
    // The local CLI still works over the Unix socket while TCP is full...
    d.cli_ok(&["session", "list"]);
    d.client.health().await.expect("health over the socket");
    // ...and TCP was still full meanwhile.
    assert!(!read_to_close(&mut held[0], Duration::from_millis(10)).1, "the flood ended early");
    // The half-sent requests are closed by the header timeout, and TCP answers again.
    for s in &mut held {
        let (_, closed) = read_to_close(s, Duration::from_secs(12));
        assert!(closed, "a half-sent request outlived the header timeout");
    }
    assert!(started.elapsed() >= Duration::from_millis(7500), "closed before the timeout");
    let deadline = Instant::now() + Duration::from_secs(5);
    while tcp_health(port) != Some(200) {
        assert!(Instant::now() < deadline, "/health never answered over TCP after the flood");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_half_sent_request_is_closed_after_the_header_timeout() {
    let d = with_limits("{headerTimeoutSecs: 2, idleTimeoutSecs: 6}").start().await;
    // A head that never ends, however slowly it trickles.
    let mut s = half_open(d.port, "GET /health HTTP/1.1\r\n");
    let start = Instant::now();
    for i in 0..3 {
        std::thread::sleep(Duration::from_millis(400));
        let _ = s.write_all(format!("X-Slow-{i}: 1\r\n").as_bytes());
    }
    let (text, closed) = read_to_close(&mut s, Duration::from_secs(6));
    assert!(closed, "still open after {:?}", start.elapsed());
    let lived = start.elapsed();
    assert!(
        lived >= Duration::from_millis(1800) && lived < Duration::from_secs(4),
        "lived {lived:?}"
    );
    assert!(!text.contains("200 OK"), "{text}");
    // A connection that sends nothing at all gets the same deadline.
    let mut silent = half_open(d.port, "");
    let start = Instant::now();
    assert!(read_to_close(&mut silent, Duration::from_secs(6)).1);
    assert!(start.elapsed() < Duration::from_secs(4));
}

#[tokio::test]
async fn an_idle_keep_alive_connection_closes_after_the_idle_timeout() {
    let d = with_limits("{headerTimeoutSecs: 1, idleTimeoutSecs: 4}").start().await;
    let mut s = half_open(d.port, "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    let head = read_head(&mut s);
    assert_eq!(status_of(&head), 200, "{head}");
    let len: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .expect("content-length");
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).unwrap();
    let idle = Instant::now();
    // Idle, not a slow head: the header timeout (1 s) does not apply between requests...
    let (_, closed) = read_to_close(&mut s, Duration::from_secs(2));
    assert!(!closed, "closed after {:?}, before the idle timeout", idle.elapsed());
    // ...the idle timeout does.
    let (_, closed) = read_to_close(&mut s, Duration::from_secs(6));
    assert!(closed, "an idle keep-alive connection outlived the idle timeout");
    let lived = idle.elapsed();
    assert!(
        lived >= Duration::from_millis(3500) && lived < Duration::from_secs(6),
        "idle for {lived:?}"
    );
}

/// A WebSocket handshake for `/ws/NAME` with `bearer`; the connection and its status.
fn ws_open(port: u16, name: &str, bearer: &str) -> (TcpStream, u16) {
    let mut s = half_open(
        port,
        &format!(
            "GET /ws/{name} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
             Authorization: Bearer {bearer}\r\n\r\n"
        ),
    );
    let status = status_of(&read_head(&mut s));
    (s, status)
}

/// `GET /api/events` with `bearer`; the connection and its status (and the head).
fn events_open(port: u16, bearer: &str) -> (TcpStream, u16, String) {
    let mut s = half_open(
        port,
        &format!(
            "GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {bearer}\r\n\r\n"
        ),
    );
    let head = read_head(&mut s);
    (s, status_of(&head), head)
}

/// Creates a `fake` session named `name` owned by `owner`, with `owner`'s token.
async fn own_session(d: &TestDaemon, bearer: &str, owner: &str, name: &str) {
    let (status, res) = create_as(d, bearer, name);
    assert_eq!(status, 201, "{res}");
    // The operator names a user's session in full.
    d.wait_for_screen(&format!("{name}@{owner}"), "SIZE").await;
}

#[tokio::test]
async fn per_user_caps_on_terminals_and_event_streams_answer_429() {
    let d = with_limits("{maxWebSocketsPerUser: 2, maxEventStreamsPerUser: 2}")
        .user("alice")
        .user("bob")
        .start()
        .await;
    let (alice, _) = token(&d, "alice", "user", None).await;
    let (alice2, _) = token(&d, "alice", "user", None).await;
    let (bob, _) = token(&d, "bob", "user", None).await;
    own_session(&d, &alice, "alice", "alices").await;
    own_session(&d, &bob, "bob", "bobs").await;
    let port = d.port;

    // Event streams: two, then 429 (a second token of the same user counts too).
    let mut streams = vec![events_open(port, &alice), events_open(port, &alice2)];
    assert!(
        streams.iter().all(|s| s.1 == 200),
        "{:?}",
        streams.iter().map(|s| &s.2).collect::<Vec<_>>()
    );
    let (mut over, status, head) = events_open(port, &alice);
    assert_eq!(status, 429, "{head}");
    let (body, _) = read_to_close(&mut over, Duration::from_secs(2));
    assert!(body.contains("too_many_streams"), "{body}");
    // Another user is unaffected.
    let bobs_stream = events_open(port, &bob);
    assert_eq!(bobs_stream.1, 200);
    // Closing one frees its slot.
    drop(streams.pop());
    let deadline = Instant::now() + Duration::from_secs(5);
    let reopened = loop {
        let s = events_open(port, &alice);
        if s.1 == 200 {
            break s;
        }
        assert!(Instant::now() < deadline, "a closed event stream never freed its slot");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    // Terminals: two, then 429; bob still gets his.
    let a1 = ws_open(port, "alices", &alice);
    let a2 = ws_open(port, "alices", &alice2);
    assert_eq!((a1.1, a2.1), (101, 101));
    assert_eq!(ws_open(port, "alices", &alice).1, 429);
    let b1 = ws_open(port, "bobs", &bob);
    assert_eq!(b1.1, 101);
    drop(a1);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (s, status) = ws_open(port, "alices", &alice);
        if status == 101 {
            drop(s);
            break;
        }
        assert_eq!(status, 429);
        assert!(Instant::now() < deadline, "a closed terminal never freed its slot");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop((streams, reopened, bobs_stream, a2, b1));
}
