//! The authorization matrix: every route (read from the daemon's own OpenAPI document, so a
//! new route without an entry here fails) against every kind of caller, each case expecting
//! one exact status. Then the same matrix through a reverse proxy that forges
//! `X-Forwarded-For: 127.0.0.1`, `Forwarded` and `Tailscale-User-*` headers, the way a
//! `tailscale serve` in front of the daemon would look to an attacker: identical results.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use hyper::Method;
use serde_json::{Value, json};

use crate::harness::old_llmux::{
    CRAFTED_HASH, CRAFTED_SECRET, CRAFTED_SECRET_HASH, import_from, write_install,
};
use crate::harness::{TestDaemon, create_as, http_to, local, login_cookie, token, user};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Who {
    Anonymous,
    Malformed,
    Expired,
    Revoked,
    AliceUser,
    AliceReadOnly,
    AliceCookie,
    AliceCookieNoOrigin,
    AliceCookieForeignOrigin,
    Bob,
    RootAdmin,
    /// root's `metrics`-scope token: reads /metrics and nothing else.
    RootMetrics,
    /// carol, a non-admin brought over from llmux 0.41, with her old `sas_…` token: a `user`
    /// token like bob's (issue 16 §3).
    CarolImported,
    /// root's `hub`-scope token (issue 17): every session as an admin, nothing else.
    RootHub,
}

const EVERYONE: [Who; 14] = [
    Who::Anonymous,
    Who::Malformed,
    Who::Expired,
    Who::Revoked,
    Who::AliceUser,
    Who::AliceReadOnly,
    Who::AliceCookie,
    Who::AliceCookieNoOrigin,
    Who::AliceCookieForeignOrigin,
    Who::Bob,
    Who::RootAdmin,
    Who::RootMetrics,
    Who::CarolImported,
    Who::RootHub,
];

/// What a route needs, and the status an allowed caller gets with the request we send.
#[derive(Debug, Clone, Copy)]
enum Need {
    Public(u16),
    Page,
    Read(u16),
    ReadSession(u16),
    Drive(u16),
    DriveSession(u16),
    Identity(u16),
    Account(u16),
    Tokens(u16),
    Admin(u16),
    /// `GET /metrics`: admins and metrics tokens.
    Metrics(u16),
    /// Ends the caller's own credential: only the refusals are checked here.
    Logout,
}

/// The request for each route: concrete path, body, and what it needs. Every route must be
/// listed: a new one fails here until it gets an entry.
fn entry(method: &str, template: &str) -> (String, Value, Need) {
    use Need::*;
    let (path, body, need) = match (method, template) {
        ("GET", "/health") | ("GET", "/api/version") => (template, json!(null), Public(200)),
        ("POST", "/api/setup") => (
            template,
            json!({"setupToken": "nope", "username": "x", "passphrase": "long enough"}),
            Public(401),
        ),
        ("POST", "/api/auth/login") => (template, json!({"username": 5}), Public(400)),
        ("POST", "/api/auth/pair") | ("POST", "/api/auth/pair/peek") => {
            (template, json!({"code": "nope"}), Public(401))
        }
        ("GET", "/login") | ("GET", "/setup") | ("GET", "/pair") | ("GET", "/static/auth.js") => {
            (template, json!(null), Public(200))
        }
        ("GET", "/") => (template, json!(null), Page),
        ("GET", "/api/openapi.json") => (template, json!(null), Read(200)),
        ("GET", "/api/sessions") => (template, json!(null), Read(200)),
        ("POST", "/api/sessions") => (template, json!({"agent": "nope"}), Drive(400)),
        ("GET", "/api/sessions/{name}") => {
            ("/api/sessions/alice-run", json!(null), ReadSession(200))
        }
        ("PATCH", "/api/sessions/{name}") => {
            ("/api/sessions/alice-run", json!({"cwd": "/no/such/dir"}), DriveSession(400))
        }
        ("DELETE", "/api/sessions/{name}") => {
            ("/api/sessions/alice-run", json!(null), DriveSession(409))
        }
        ("POST", "/api/sessions/{name}/send") => {
            ("/api/sessions/alice-run/send", json!({"prompt": ""}), DriveSession(400))
        }
        ("POST", "/api/sessions/{name}/kill") => {
            ("/api/sessions/ghost/kill", json!(null), DriveSession(404))
        }
        ("POST", "/api/sessions/{name}/stop") => {
            ("/api/sessions/alice-stopped/stop", json!(null), DriveSession(200))
        }
        ("POST", "/api/sessions/{name}/respawn") => {
            ("/api/sessions/alice-run/respawn", json!(null), DriveSession(200))
        }
        ("POST", "/api/sessions/broadcast") => (template, json!({"prompt": ""}), Drive(400)),
        ("GET", "/api/sessions/{name}/capture") => {
            ("/api/sessions/alice-run/capture", json!(null), ReadSession(200))
        }
        ("POST", "/api/sessions/{name}/uploads") => {
            ("/api/sessions/alice-run/uploads?filename=x.exe", json!(null), DriveSession(400))
        }
        // the work dir is no git repository: 409 for whoever may see the session
        ("GET", "/api/sessions/{name}/diff") => {
            ("/api/sessions/alice-run/diff", json!(null), ReadSession(409))
        }
        ("GET", "/api/sessions/{name}/review/comments") => {
            ("/api/sessions/alice-run/review/comments", json!(null), ReadSession(200))
        }
        ("POST", "/api/sessions/{name}/review/comments") => (
            "/api/sessions/alice-run/review/comments",
            json!({"path": "a.rs", "startLine": 1, "body": " "}),
            DriveSession(400),
        ),
        ("PATCH", "/api/sessions/{name}/review/comments/{id}") => (
            "/api/sessions/alice-run/review/comments/999999",
            json!({"status": "resolved"}),
            DriveSession(404),
        ),
        ("DELETE", "/api/sessions/{name}/review/comments/{id}") => {
            ("/api/sessions/alice-run/review/comments/999999", json!(null), DriveSession(404))
        }
        // nothing waits to be sent
        ("POST", "/api/sessions/{name}/review/send") => {
            ("/api/sessions/alice-run/review/send", json!(null), DriveSession(409))
        }
        ("POST", "/api/sessions/{name}/review/commit") => {
            ("/api/sessions/alice-run/review/commit", json!({"message": " "}), DriveSession(400))
        }
        // the work dir is no git repository (and no gh/glab here)
        ("POST", "/api/sessions/{name}/review/merge") => {
            ("/api/sessions/alice-run/review/merge", json!({}), DriveSession(409))
        }
        ("POST", "/api/sessions/{name}/review/pr") => {
            ("/api/sessions/alice-run/review/pr", json!({}), DriveSession(409))
        }
        ("POST", "/api/sessions/{name}/review/push") => {
            ("/api/sessions/alice-run/review/push", json!(null), DriveSession(409))
        }
        ("POST", "/api/sessions/{name}/review/discard") => {
            ("/api/sessions/alice-run/review/discard", json!({}), DriveSession(400))
        }
        ("POST", "/api/sessions/{name}/answer") => {
            ("/api/sessions/alice-run/answer", json!({"option": 1}), DriveSession(409))
        }
        ("POST", "/api/sessions/{name}/key") => {
            ("/api/sessions/alice-run/key", json!({"key": "rm -rf"}), DriveSession(400))
        }
        ("POST", "/api/sessions/{name}/interrupt") => {
            ("/api/sessions/alice-stopped/interrupt", json!(null), DriveSession(409))
        }
        // the queue: reading it is a read; editing or cancelling an item that is not there is
        // the allowed caller's 404 (refusals are 403 or the 404 of an unseen session first)
        ("GET", "/api/sessions/{name}/queue") => {
            ("/api/sessions/alice-run/queue", json!(null), ReadSession(200))
        }
        ("PATCH", "/api/sessions/{name}/queue/{id}") => {
            ("/api/sessions/alice-run/queue/999999", json!({"to": 1}), DriveSession(404))
        }
        ("DELETE", "/api/sessions/{name}/queue/{id}") => {
            ("/api/sessions/alice-run/queue/999999", json!(null), DriveSession(404))
        }
        ("GET", "/api/sessions/{name}/conversations") => {
            ("/api/sessions/alice-run/conversations", json!(null), ReadSession(200))
        }
        ("POST", "/api/sessions/{name}/resume") => {
            ("/api/sessions/alice-run/resume", json!({"conversationId": "x"}), DriveSession(400))
        }
        ("GET", "/api/sessions/{name}/transcript") => {
            ("/api/sessions/alice-run/transcript", json!(null), ReadSession(200))
        }
        ("GET", "/api/sessions/{name}/transcript/stream") => {
            ("/api/sessions/alice-run/transcript/stream", json!(null), ReadSession(200))
        }
        ("GET", "/api/conversations") => {
            ("/api/conversations?agent=fake&cwd=/tmp", json!(null), Admin(200))
        }
        ("GET", "/api/agents") | ("GET", "/api/agents/all") => (template, json!(null), Read(200)),
        ("GET", "/api/events") | ("GET", "/api/about") => (template, json!(null), Read(200)),
        ("GET", "/api/auth/whoami") => (template, json!(null), Identity(200)),
        ("POST", "/api/auth/logout") => (template, json!(null), Logout),
        ("POST", "/api/pairing") => (template, json!(null), Tokens(201)),
        ("GET", "/api/tokens") => (template, json!(null), Read(200)),
        ("POST", "/api/tokens") => (template, json!({"expiresAt": "not a date"}), Tokens(400)),
        ("DELETE", "/api/tokens") => ("/api/tokens?username=nobody", json!(null), Admin(200)),
        ("PATCH", "/api/tokens/{id}") => {
            ("/api/tokens/000000000000", json!({"name": "x"}), Tokens(404))
        }
        ("DELETE", "/api/tokens/{id}") => ("/api/tokens/000000000000", json!(null), Tokens(404)),
        ("POST", "/api/account/passphrase") => {
            (template, json!({"oldPassphrase": "x", "newPassphrase": "short"}), Account(400))
        }
        ("POST", "/api/account/profile") => (template, json!({"name": ""}), Account(400)),
        ("GET", "/api/account/sessions") => (template, json!(null), Account(200)),
        ("DELETE", "/api/account/sessions/{id}") => {
            ("/api/account/sessions/nope", json!(null), Account(404))
        }
        ("GET", "/api/admin/users") => (template, json!(null), Admin(200)),
        ("POST", "/api/admin/users") => {
            (template, json!({"username": "Bad Name", "passphrase": "x"}), Admin(400))
        }
        ("PATCH", "/api/admin/users/{username}") => {
            ("/api/admin/users/nobody", json!({}), Admin(404))
        }
        ("DELETE", "/api/admin/users/{username}") => {
            ("/api/admin/users/nobody", json!(null), Admin(404))
        }
        ("GET", "/api/settings") => (template, json!(null), Admin(200)),
        // Fleet hosts (issue 17): admins only; the test daemon has none.
        ("GET", "/api/hosts") => (template, json!(null), Admin(200)),
        ("POST", "/api/hosts") => {
            (template, json!({"name": "-oProxyCommand=x", "ssh": "box"}), Admin(400))
        }
        ("DELETE", "/api/hosts/{name}") => ("/api/hosts/nope", json!(null), Admin(404)),
        ("PATCH", "/api/hosts/{name}") => {
            ("/api/hosts/nope", json!({"users": {"sameNames": true}, "label": ["gpu"]}), Admin(404))
        }
        ("POST", "/api/hosts/{name}/test") => ("/api/hosts/nope/test", json!(null), Admin(404)),
        // Placement: a dry run of a start's checks, for whoever may start sessions.
        ("GET", "/api/placement") => {
            ("/api/placement?agent=fake&cwd=/tmp", json!(null), Drive(200))
        }
        // Bootstrap over SSH: an option-like target is refused before any ssh runs.
        ("POST", "/api/installs") => (template, json!({"ssh": "-oProxyCommand=x"}), Admin(400)),
        ("POST", "/api/hosts/{name}/upgrade") => {
            ("/api/hosts/nope/upgrade", json!(null), Admin(404))
        }
        ("GET", "/metrics") => (template, json!(null), Metrics(200)),
        ("GET", "/api/health") => (template, json!(null), Admin(200)),
        ("PUT", "/api/settings/init-prompts") => (template, json!({"initPrompts": []}), Admin(200)),
        ("GET", "/api/logs") | ("GET", "/api/logs/stream") | ("GET", "/api/audit") => {
            (template, json!(null), Admin(200))
        }
        ("GET", "/api/push/vapid")
        | ("GET", "/api/push/subscriptions")
        | ("GET", "/api/push/sessions") => (template, json!(null), Identity(200)),
        ("POST", "/api/push/subscriptions") => (
            template,
            json!({"endpoint": "http://push.example/x", "keys": {"p256dh": "x", "auth": "y"}}),
            Tokens(400),
        ),
        ("DELETE", "/api/push/subscriptions/{id}") => {
            ("/api/push/subscriptions/0000000000000000", json!(null), Tokens(404))
        }
        // opting in needs access to the session; opting out touches only one's own row
        ("PUT", "/api/push/sessions/{name}") => {
            ("/api/push/sessions/alice-run", json!(null), DriveSession(200))
        }
        ("DELETE", "/api/push/sessions/{name}") => {
            ("/api/push/sessions/alice-run", json!(null), Tokens(200))
        }
        ("POST", "/api/push/test") => (template, json!(null), Tokens(200)),
        _ => panic!("{method} {template} has no entry in the authorization matrix; add one"),
    };
    (path.to_owned(), body, need)
}

/// The path naming alice's sessions the way `who` does: alice by their bare names, anyone
/// else in full (`alice-run@alice`), since a bare name means the caller's own session.
fn as_seen_by(who: Who, path: &str) -> String {
    if matches!(
        who,
        Who::Bob | Who::RootAdmin | Who::RootMetrics | Who::CarolImported | Who::RootHub
    ) {
        path.replace("/alice-run", "/alice-run@alice")
            .replace("/alice-stopped", "/alice-stopped@alice")
    } else {
        path.to_owned()
    }
}

/// The one status `who` must get.
fn expected(who: Who, method: &str, need: Need) -> Option<u16> {
    use Need::*;
    use Who::*;
    let unsafe_method = method != "GET";
    if let Public(ok) = need {
        return Some(if who == AliceCookieForeignOrigin && unsafe_method { 403 } else { ok });
    }
    let status = match who {
        Anonymous | Malformed | Expired | Revoked => {
            // pages send people to the sign-in page instead
            if matches!(need, Page) { 303 } else { 401 }
        }
        AliceCookieNoOrigin | AliceCookieForeignOrigin if unsafe_method => 403,
        // a metrics token is refused everywhere else, pages and sign-out included
        RootMetrics => match need {
            Metrics(ok) => ok,
            _ => 403,
        },
        _ if matches!(need, Logout) => return None,
        _ if matches!(need, Page) => 200,
        RootHub => match need {
            Read(ok) | ReadSession(ok) | Drive(ok) | DriveSession(ok) | Identity(ok) => ok,
            Account(_) | Tokens(_) | Admin(_) | Metrics(_) => 403,
            _ => unreachable!(),
        },
        RootAdmin => match need {
            Read(ok) | ReadSession(ok) | Drive(ok) | DriveSession(ok) | Identity(ok)
            | Account(ok) | Tokens(ok) | Admin(ok) | Metrics(ok) => ok,
            _ => unreachable!(),
        },
        AliceReadOnly => match need {
            Read(ok) | ReadSession(ok) | Identity(ok) => ok,
            _ => 403,
        },
        AliceUser
        | AliceCookie
        | AliceCookieNoOrigin
        | AliceCookieForeignOrigin
        | Bob
        | CarolImported => match need {
            Admin(_) | Metrics(_) => 403,
            ReadSession(_) | DriveSession(_) if matches!(who, Bob | CarolImported) => 404,
            Read(ok) | ReadSession(ok) | Drive(ok) | DriveSession(ok) | Identity(ok)
            | Account(ok) | Tokens(ok) => ok,
            _ => unreachable!(),
        },
    };
    Some(status)
}

struct Creds {
    expired: String,
    revoked: String,
    alice: String,
    alice_ro: String,
    bob: String,
    admin: String,
    metrics: String,
    hub: String,
    cookie: String,
    carol: String,
}

fn headers_for(who: Who, c: &Creds, origin: &str) -> Vec<(String, String)> {
    let bearer = |t: &str| vec![("Authorization".to_owned(), format!("Bearer {t}"))];
    let cookie = |extra: Option<&str>| {
        let mut h = vec![("Cookie".to_owned(), format!("llmux_session={}", c.cookie))];
        if let Some(o) = extra {
            h.push(("Origin".to_owned(), o.to_owned()));
        }
        h
    };
    match who {
        Who::Anonymous => vec![],
        Who::Malformed => bearer("llmux_nothex_zz"),
        Who::Expired => bearer(&c.expired),
        Who::Revoked => bearer(&c.revoked),
        Who::AliceUser => bearer(&c.alice),
        Who::AliceReadOnly => bearer(&c.alice_ro),
        Who::AliceCookie => cookie(Some(origin)),
        Who::AliceCookieNoOrigin => cookie(None),
        Who::AliceCookieForeignOrigin => cookie(Some("http://evil.example")),
        Who::Bob => bearer(&c.bob),
        Who::RootAdmin => bearer(&c.admin),
        Who::RootMetrics => bearer(&c.metrics),
        Who::CarolImported => bearer(&c.carol),
        Who::RootHub => bearer(&c.hub),
    }
}

async fn routes(d: &TestDaemon) -> Vec<(String, String)> {
    let res = d.client.raw(Method::GET, "/api/openapi.json", None, &[]).await.unwrap();
    let doc: Value = serde_json::from_slice(&res.body).unwrap();
    let mut routes: Vec<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object().unwrap().keys().map(move |m| (m.to_uppercase(), path.clone()))
        })
        .collect();
    for page in ["/", "/login", "/setup", "/pair", "/static/auth.js", "/api/openapi.json"] {
        routes.push(("GET".into(), page.into()));
    }
    routes.sort();
    assert!(routes.len() > 40, "{routes:?}");
    routes
}

async fn fixture(d: &mut TestDaemon) -> Creds {
    // carol and her token come over from a llmux 0.41 install (the daemon stopped for it)
    let from = d.dir().join("old");
    write_install(
        &from,
        &json!([{"username": "carol", "name": "Carol", "passphraseHash": CRAFTED_HASH, "admin": false}]),
        &json!([{"tokenId": "carolOldToken_01", "secretHash": CRAFTED_SECRET_HASH, "username": "carol", "name": "old"}]),
        &json!({}),
    );
    d.kill("TERM");
    let out = import_from(d, &from, &d.dir().join("imported.yaml"));
    assert!(out.status.success(), "{out:?}");
    d.spawn_daemon().await;
    let carol = format!("sas_carolOldToken_01.{CRAFTED_SECRET}");
    user(d, "root", true).await;
    user(d, "alice", false).await;
    user(d, "bob", false).await;
    let (alice, _) = token(d, "alice", "user", None).await;
    let (alice_ro, _) = token(d, "alice", "read-only", None).await;
    let (bob, _) = token(d, "bob", "user", None).await;
    let (admin, _) = token(d, "root", "admin", None).await;
    let (metrics, _) = token(d, "root", "metrics", None).await;
    let (hub, _) = token(d, "root", "hub", None).await;
    let (revoked, revoked_id) = token(d, "alice", "user", None).await;
    assert_eq!(
        local(d, Method::DELETE, &format!("/api/tokens/{revoked_id}"), json!(null)).await.0,
        200
    );
    let soon = llmux_core::time::rfc3339_ms(llmux_core::time::now_ms() + 1500);
    let (expired, _) = token(d, "alice", "user", Some(soon)).await;
    let cookie = login_cookie(d, "alice");
    // alice's sessions, made through TCP with her own token so she owns them
    for name in ["alice-run", "alice-stopped"] {
        let (status, res) = create_as(d, &alice, name);
        assert_eq!(status, 201, "{res}");
    }
    // the operator names another owner's session in full (finding 10: names are per owner)
    d.client.stop_session("alice-stopped@alice").await.unwrap();
    // let the expiring token expire (a deliberate wait for the clock, not for the daemon)
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let (status, _) = d.http(
            "GET",
            "/api/auth/whoami",
            &[("Authorization", &format!("Bearer {expired}"))],
            "",
        );
        if status == 401 {
            break;
        }
        assert!(Instant::now() < deadline, "token never expired");
        std::thread::sleep(Duration::from_millis(100));
    }
    Creds { expired, revoked, alice, alice_ro, bob, admin, metrics, hub, cookie, carol }
}

/// Runs every case against `port` with `host`; returns the list of failures.
async fn run_matrix(d: &TestDaemon, creds: &Creds, port: u16, host: &str) -> Vec<String> {
    let origin = format!("http://{host}");
    let mut failures = Vec::new();
    for (method, template) in routes(d).await {
        let (path, body, need) = entry(&method, &template);
        for who in EVERYONE {
            let Some(mut want) = expected(who, &method, need) else { continue };
            // a hub has no devices: it reads its (empty) lists, changes nothing there
            if who == Who::RootHub && template.starts_with("/api/push/") && method != "GET" {
                want = 403;
            }
            let path = as_seen_by(who, &path);
            let mut headers = headers_for(who, creds, &origin);
            headers.push(("Host".into(), host.into()));
            let body_text = if body.is_null() { String::new() } else { body.to_string() };
            if !body_text.is_empty() {
                headers.push(("Content-Type".into(), "application/json".into()));
            }
            let h: Vec<(&str, &str)> =
                headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let (got, res) = http_to(port, &method, &path, &h, &body_text);
            if got != want {
                let first = res.lines().last().unwrap_or("").chars().take(160).collect::<String>();
                failures
                    .push(format!("{method} {path} as {who:?}: want {want}, got {got} ({first})"));
            }
        }
    }
    failures
}

#[tokio::test]
async fn every_route_answers_every_caller_exactly() {
    let mut d = TestDaemon::start().await;
    let creds = fixture(&mut d).await;
    let host = format!("127.0.0.1:{}", d.port);
    let failures = run_matrix(&d, &creds, d.port, &host).await;
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

/// A loopback proxy that adds forged identity headers to every request, like an attacker
/// behind (or a misconfigured) `tailscale serve`.
fn forging_proxy(upstream: u16) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            std::thread::spawn(move || proxy_one(client, upstream));
        }
    });
    port
}

fn proxy_one(mut client: TcpStream, upstream: u16) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if client.read(&mut byte).unwrap_or(0) == 0 {
            return;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let (first, rest) = head.split_once("\r\n").unwrap();
    let forged = "X-Forwarded-For: 127.0.0.1\r\nX-Forwarded-Proto: https\r\nX-Real-IP: 127.0.0.1\r\n\
                  Forwarded: for=127.0.0.1;proto=https\r\nTailscale-User-Login: admin@example.com\r\n\
                  Tailscale-User-Name: Admin\r\nVia: 1.1 tailscale\r\n";
    let mut server = TcpStream::connect(("127.0.0.1", upstream)).unwrap();
    server.write_all(format!("{first}\r\n{forged}{rest}").as_bytes()).unwrap();
    let mut client_read = client.try_clone().unwrap();
    let mut server_write = server.try_clone().unwrap();
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut client_read, &mut server_write);
    });
    let _ = std::io::copy(&mut server, &mut client);
    // the reader thread holds a clone of the socket: shut it down so the client sees EOF
    let _ = client.shutdown(std::net::Shutdown::Both);
}

#[tokio::test]
async fn a_forging_proxy_on_loopback_gains_nothing() {
    let mut d = TestDaemon::start().await;
    let creds = fixture(&mut d).await;
    let proxy = forging_proxy(d.port);
    // as tailscale serve would: its own port on loopback, and the tailnet name as Host
    for host in [format!("127.0.0.1:{proxy}"), "box.tailnet.ts.net".to_owned()] {
        let failures = run_matrix(&d, &creds, proxy, &host).await;
        assert!(
            failures.is_empty(),
            "through the proxy as {host}: {} failures:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }
    // an unknown host name is refused before anything else
    let (status, _) = http_to(proxy, "GET", "/health", &[("Host", "evil.example")], "");
    assert_eq!(status, 421);
}
