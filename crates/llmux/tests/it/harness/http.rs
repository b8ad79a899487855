//! Requests every module makes: the local operator over the Unix socket, accounts and tokens,
//! sign-in, and raw HTTP/1.1 over TCP with credentials.

use std::time::Duration;

use bytes::Bytes;
use hyper::Method;
use serde_json::{Value, json};

use super::TestDaemon;

/// Calls the API over the Unix socket as the local operator.
pub async fn local(d: &TestDaemon, method: Method, path: &str, body: Value) -> (u16, Value) {
    let body = (!body.is_null()).then(|| (Bytes::from(body.to_string()), "application/json"));
    let res = d.client.raw(method, path, body, &[]).await.unwrap();
    (res.status.as_u16(), serde_json::from_slice(&res.body).unwrap_or(Value::Null))
}

/// Creates a user over the socket, with the passphrase `{username}-passphrase`.
pub async fn user(d: &TestDaemon, username: &str, admin: bool) {
    let (status, body) = local(
        d,
        Method::POST,
        "/api/admin/users",
        json!({"username": username, "passphrase": format!("{username}-passphrase"), "admin": admin}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    if !admin {
        // A non-admin's sessions run confined to the roots granted to them: the tests' work
        // dir, where they start their sessions.
        let path = format!("/api/admin/users/{username}");
        let (status, body) = local(d, Method::PATCH, &path, json!({"roots": [d.work()]})).await;
        assert_eq!(status, 200, "{body}");
    }
}

/// Creates a non-admin over the socket with nothing granted: their sessions start in their
/// default workspace.
pub async fn user_in_default_workspace(d: &TestDaemon, username: &str) {
    let (status, body) = local(
        d,
        Method::POST,
        "/api/admin/users",
        json!({"username": username, "passphrase": format!("{username}-passphrase")}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
}

/// Mints a token over the socket; returns (value, id).
pub async fn token(
    d: &TestDaemon,
    username: &str,
    scope: &str,
    expires_at: Option<String>,
) -> (String, String) {
    let (status, body) = local(
        d,
        Method::POST,
        "/api/tokens",
        json!({"username": username, "scope": scope, "expiresAt": expires_at, "name": format!("{username}-{scope}")}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    (body["value"].as_str().unwrap().to_owned(), body["token"]["id"].as_str().unwrap().to_owned())
}

/// POSTs JSON over TCP with extra headers; returns (status, raw response).
pub fn post_json(
    d: &TestDaemon,
    path: &str,
    headers: &[(&str, &str)],
    body: Value,
) -> (u16, String) {
    let mut h = headers.to_vec();
    h.push(("Content-Type", "application/json"));
    d.http("POST", path, &h, &body.to_string())
}

/// Signs in over TCP with the passphrase [`user`] gave; returns the cookie value.
pub fn login_cookie(d: &TestDaemon, username: &str) -> String {
    login_cookie_with(d, username, &format!("{username}-passphrase"))
}

/// Signs in over TCP; asserts 200 and returns the `llmux_session` cookie value.
pub fn login_cookie_with(d: &TestDaemon, username: &str, passphrase: &str) -> String {
    let body = json!({"username": username, "passphrase": passphrase});
    let (status, res) = post_json(d, "/api/auth/login", &[], body);
    assert_eq!(status, 200, "{res}");
    session_cookie(&res).expect("a session cookie")
}

/// The `llmux_session` cookie a response sets, if any.
pub fn session_cookie(res: &str) -> Option<String> {
    let line =
        res.lines().find(|l| l.to_ascii_lowercase().starts_with("set-cookie: llmux_session="))?;
    Some(line.split_once('=')?.1.split(';').next()?.to_owned())
}

/// The JSON body of a raw response (`null` when there is none or it is not JSON).
pub fn body_of(res: &str) -> Value {
    serde_json::from_str(res.split("\r\n\r\n").nth(1).unwrap_or("null")).unwrap_or(Value::Null)
}

/// A request over TCP with a bearer token (and JSON `Content-Type` when there is a body);
/// returns (status, JSON body).
pub fn call(d: &TestDaemon, token: &str, method: &str, path: &str, body: Value) -> (u16, Value) {
    call_with(d, token, &[], method, path, body)
}

/// Like [`call`], with extra headers.
pub fn call_with(
    d: &TestDaemon,
    token: &str,
    extra: &[(&str, &str)],
    method: &str,
    path: &str,
    body: Value,
) -> (u16, Value) {
    let auth = format!("Bearer {token}");
    let mut headers = vec![("Authorization", auth.as_str())];
    let text = if body.is_null() { String::new() } else { body.to_string() };
    if !text.is_empty() {
        headers.push(("Content-Type", "application/json"));
    }
    headers.extend_from_slice(extra);
    let (status, res) = d.http(method, path, &headers, &text);
    let json = res.split_once("\r\n\r\n").and_then(|(_, b)| serde_json::from_str(b).ok());
    (status, json.unwrap_or(Value::Null))
}

/// Creates a `fake` session `name` in the work dir over TCP with `bearer`, so its holder
/// owns it; returns (status, raw response). The operator then names it `name@owner`.
pub fn create_as(d: &TestDaemon, bearer: &str, name: &str) -> (u16, String) {
    let body = json!({"agent": "fake", "name": name, "cwd": d.work()}).to_string();
    let auth = format!("Bearer {bearer}");
    d.http(
        "POST",
        "/api/sessions",
        &[("Authorization", &auth), ("Content-Type", "application/json")],
        &body,
    )
}

/// Sends a raw HTTP/1.1 request to `127.0.0.1:port`; returns (status, headers+body text).
/// A `Host` header in `headers` replaces the default one. Event streams are read up to the
/// end of their headers only.
pub fn http_to(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect tcp");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let mut req = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req.push_str(&format!("Host: 127.0.0.1:{port}\r\n"));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(req.as_bytes()).expect("write request");
    let mut response = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => response.extend_from_slice(&buf[..n]),
            Err(e) => panic!("reading {method} {path}: {e}"),
        }
        let text = String::from_utf8_lossy(&response);
        if text.contains("\r\n\r\n")
            && text.to_ascii_lowercase().contains("content-type: text/event-stream")
        {
            break;
        }
    }
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("status line");
    (status, response)
}

/// For a daemon with the users `alice` and `bob`: a `user` token each, and a running `fake`
/// session named `s` of each (`s@alice`, `s@bob` to the operator); returns (alice's, bob's).
pub async fn alice_and_bob_each_with_s(d: &TestDaemon) -> (String, String) {
    let (alice, _) = token(d, "alice", "user", None).await;
    let (bob, _) = token(d, "bob", "user", None).await;
    assert_eq!(create_as(d, &alice, "s").0, 201);
    assert_eq!(create_as(d, &bob, "s").0, 201);
    d.wait_for_screen("s@alice", "SIZE").await;
    d.wait_for_screen("s@bob", "SIZE").await;
    (alice, bob)
}

/// Reads one HTTP/1.1 request from `conn` as a small test server does: its head (request line
/// and headers, up to the blank line) and a body of the head's `Content-Length`.
pub fn read_request(conn: &mut impl std::io::Read) -> (String, Vec<u8>) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if conn.read(&mut byte).unwrap_or(0) == 0 {
            break;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let len = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case("content-length").then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    let _ = conn.read_exact(&mut body);
    (head, body)
}
