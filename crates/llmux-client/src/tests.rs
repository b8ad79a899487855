//! The client's own rules: paths, errors and transports, without a daemon.

use super::{Client, Error};

#[test]
fn segments_are_encoded() {
    assert_eq!(super::encode_segment("a.b-c"), "a.b-c");
    assert_eq!(super::encode_segment("a/b c"), "a%2Fb%20c");
}

#[test]
fn remote_clients_check_url_and_token_and_never_show_the_token() {
    let c = Client::remote("https://box.example:3001/", Some("llmux_abc_secret".into())).unwrap();
    assert_eq!(c.target(), "https://box.example:3001");
    assert!(c.socket().is_none());
    assert!(!format!("{c:?}").contains("secret"));
    assert!(matches!(Client::remote("box:3001", None), Err(Error::InvalidUrl { .. })));
    assert!(matches!(Client::remote("http://box", Some("a\nb".into())), Err(Error::InvalidToken)));
}

#[test]
fn unauthorized_keeps_the_server_for_the_clis_hint() {
    let c = Client::remote("http://box:3001", None).unwrap();
    let e = c.api_error(
        hyper::StatusCode::UNAUTHORIZED,
        br#"{"error":"a credential is required","code":"unauthorized"}"#,
    );
    assert_eq!(e.status().map(|s| s.as_u16()), Some(401));
    // The domain's message; the CLI adds how to log in (crates/llmux/src/hint.rs).
    assert_eq!(e.to_string(), "a credential is required");
    assert!(matches!(&e, Error::Unauthorized { server: Some(s), .. } if s == "http://box:3001"));
    let e = c.api_error(hyper::StatusCode::FORBIDDEN, b"nope");
    assert!(matches!(e, Error::Api { .. }) && e.to_string() == "HTTP 403 Forbidden");
}

/// Answers one HTTP request on loopback with `response` (then closes); yields the request
/// head it received.
async fn one_shot(response: &'static str) -> (u16, tokio::task::JoinHandle<String>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "request ended early");
            head.extend_from_slice(&buf[..n]);
        }
        stream.write_all(response.as_bytes()).await.unwrap();
        stream.shutdown().await.unwrap();
        String::from_utf8(head).unwrap()
    });
    (port, task)
}

#[tokio::test]
async fn tcp_requests_carry_the_bearer_token_host_and_prefix() {
    let (port, server) = one_shot(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n\
         {\"username\":\"ann\",\"name\":\"Ann\",\"admin\":false,\"via\":\"token\"}",
    )
    .await;
    let c = Client::remote(&format!("http://127.0.0.1:{port}/pre/"), Some("tok".into())).unwrap();
    let me = c.whoami().await.unwrap();
    assert_eq!((me.username.as_str(), me.via.as_str()), ("ann", "token"));
    let head = server.await.unwrap().to_ascii_lowercase();
    assert!(head.starts_with("get /pre/api/auth/whoami http/1.1\r\n"), "{head}");
    assert!(head.contains("\r\nauthorization: bearer tok\r\n"), "{head}");
    assert!(head.contains(&format!("\r\nhost: 127.0.0.1:{port}\r\n")), "{head}");
}

#[tokio::test]
async fn a_401_over_tcp_is_unauthorized() {
    let (port, _server) = one_shot(
        "HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\n\
         connection: close\r\n\r\n{\"error\":\"bad token\",\"code\":\"unauthorized\"}",
    )
    .await;
    let c = Client::remote(&format!("http://127.0.0.1:{port}"), Some("x".into())).unwrap();
    match c.list_tokens(false).await {
        Err(Error::Unauthorized { server, code, message }) => {
            assert_eq!(server.as_deref(), Some(format!("http://127.0.0.1:{port}").as_str()));
            assert_eq!((code.as_str(), message.as_str()), ("unauthorized", "bad token"));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn the_log_stream_yields_entries_until_the_server_ends_it() {
    let (port, server) = one_shot(
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n\
         : keep-alive\n\n\
         data: {\"ts\":\"2026-01-01T00:00:00Z\",\"level\":\"info\",\"target\":\"t\",\"text\":\"one\"}\n\n\
         data: {\"ts\":\"2026-01-01T00:00:01Z\",\"level\":\"warn\",\"target\":\"t\",\"text\":\"two\"}\n\n",
    )
    .await;
    let c = Client::remote(&format!("http://127.0.0.1:{port}"), None).unwrap();
    let mut stream = c.log_stream().await.unwrap();
    assert_eq!(stream.next().await.unwrap().unwrap().text, "one");
    assert_eq!(stream.next().await.unwrap().unwrap().level, "warn");
    assert!(stream.next().await.is_none());
    let head = server.await.unwrap();
    assert!(head.starts_with("GET /api/logs/stream "), "{head}");
    assert!(!head.to_ascii_lowercase().contains("authorization"), "{head}");
}

#[tokio::test]
async fn a_failed_tls_handshake_is_unreachable() {
    // A plain-HTTP server: it answers the ClientHello with text, and closes.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let _ = stream.read(&mut [0u8; 1024]).await;
        let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
    });
    let c = Client::remote(&format!("https://127.0.0.1:{port}"), Some("t".into())).unwrap();
    match c.health().await {
        Err(Error::Unreachable { target, .. }) => {
            assert_eq!(target, format!("https://127.0.0.1:{port}"))
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn an_unreachable_server_is_unreachable_not_an_api_error() {
    // A port nothing listens on: bind one, note it, drop the listener.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let c = Client::remote(&format!("http://127.0.0.1:{port}"), Some("t".into())).unwrap();
    match c.health().await {
        Err(Error::Unreachable { target, source }) => {
            assert_eq!(target, format!("http://127.0.0.1:{port}"));
            assert_eq!(source.kind(), std::io::ErrorKind::ConnectionRefused, "{source}");
        }
        other => panic!("{other:?}"),
    }
}
