//! Accounts end to end: first run, sign-in and its throttle, cookies, pairing, revocation,
//! the last admin, settings, logs, audit, and secrets that never leak.

use std::io::{BufRead, BufReader, Write};
use std::time::{Duration, Instant};

use hyper::Method;
use serde_json::json;

use crate::harness::{
    TestDaemon, body_of, local, login_cookie, login_cookie_with, post_json, token, user,
};

#[tokio::test]
async fn first_run_setup_token_creates_the_first_admin_once() {
    let d = TestDaemon::start().await;
    let log = d.log();
    let url = log.lines().find(|l| l.contains("/setup#token=")).expect("setup URL in the banner");
    let token = url.trim().rsplit("token=").next().unwrap().to_owned();
    let file = d.paths.state_dir.join("setup-token");
    assert_eq!(std::fs::read_to_string(&file).unwrap().trim(), token);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);

    let setup = |tok: &str, user: &str| json!({"setupToken": tok, "username": user, "name": "Root", "passphrase": "correct horse battery"});
    assert_eq!(post_json(&d, "/api/setup", &[], setup("wrong", "root")).0, 401);
    let (status, res) = post_json(&d, "/api/setup", &[], setup(&token, "root"));
    assert_eq!(status, 200, "{res}");
    assert!(res.to_ascii_lowercase().contains("set-cookie: llmux_session="), "{res}");
    assert_eq!(body_of(&res)["user"]["admin"], true);
    assert!(!file.exists(), "the setup token is forgotten once used");
    // single use
    let (status, _) = post_json(&d, "/api/setup", &[], setup(&token, "second"));
    assert_eq!(status, 401);
    // the new admin can sign in
    login_cookie_with(&d, "root", "correct horse battery");
}

#[tokio::test]
async fn init_env_creates_the_admin_non_interactively() {
    let mut d = TestDaemon::start().await;
    d.kill("TERM");
    std::fs::remove_file(d.paths.state_dir.join("llmux.db")).unwrap();
    // SAFETY of the test: the variables are passed to the child only, through its Command.
    d.spawn_daemon_with(&[
        ("LLMUX_INIT_USERNAME", "boot"),
        ("LLMUX_INIT_NAME", "Boot Strap"),
        ("LLMUX_INIT_PASSPHRASE", "bootstrap-passphrase"),
    ])
    .await;
    assert!(d.log().contains("created admin \"boot\""), "{}", d.log());
    login_cookie_with(&d, "boot", "bootstrap-passphrase");
    assert!(!d.paths.state_dir.join("setup-token").exists());
}

#[tokio::test]
async fn logins_are_throttled_per_username_even_from_one_address() {
    let d = TestDaemon::builder().user("victim").start().await;
    let attempt = |pass: &str| {
        post_json(&d, "/api/auth/login", &[], json!({"username": "victim", "passphrase": pass}))
    };
    for i in 0..5 {
        assert_eq!(attempt("wrong-guess").0, 401, "attempt {i}");
    }
    let (status, res) = attempt("wrong-guess");
    assert_eq!(status, 401, "the sixth failure is still counted: {res}");
    let (status, res) = attempt("victim-passphrase");
    assert_eq!(status, 429, "even the right passphrase waits: {res}");
    let retry: u64 = res
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase().strip_prefix("retry-after: ").map(|v| v.trim().parse().unwrap())
        })
        .expect("Retry-After header");
    assert!(retry >= 1, "{res}");
    // other accounts are not blocked
    user(&d, "other", false).await;
    assert_eq!(
        post_json(
            &d,
            "/api/auth/login",
            &[],
            json!({"username": "other", "passphrase": "other-passphrase"})
        )
        .0,
        200
    );
    // after the delay, the right passphrase works, and the delay had grown with each failure
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, _) = attempt("victim-passphrase");
        if status == 200 {
            break;
        }
        assert_eq!(status, 429);
        assert!(Instant::now() < deadline, "the throttle never lifted");
        std::thread::sleep(Duration::from_millis(250));
    }
    let audit = local(&d, Method::GET, "/api/audit?limit=100", json!(null)).await.1;
    let failed = audit.as_array().unwrap().iter().filter(|e| e["action"] == "login_failed").count();
    assert_eq!(failed, 6, "{audit}");
}

#[tokio::test]
async fn session_cookies_have_safe_flags() {
    let d = TestDaemon::builder().user("alice").start().await;
    let body = json!({"username": "alice", "passphrase": "alice-passphrase"});
    let cookie_line = |headers: &[(&str, &str)]| {
        let (status, res) = post_json(&d, "/api/auth/login", headers, body.clone());
        assert_eq!(status, 200, "{res}");
        res.lines().find(|l| l.to_ascii_lowercase().starts_with("set-cookie:")).unwrap().to_owned()
    };
    let plain = cookie_line(&[]);
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age="] {
        assert!(plain.contains(flag), "{flag} missing: {plain}");
    }
    assert!(!plain.contains("Secure"), "plain http: {plain}");
    let https = cookie_line(&[("X-Forwarded-Proto", "https")]);
    assert!(https.contains("; Secure"), "{https}");
    // Through a TLS proxy for an allowed host (plain http's own origin is `http://`).
    let https =
        cookie_line(&[("Origin", "https://box.tailnet.ts.net"), ("Host", "box.tailnet.ts.net")]);
    assert!(https.contains("; Secure"), "{https}");
    let host = format!("127.0.0.1:{}", d.port);

    // logout ends the session server-side and clears the cookie
    let cookie = login_cookie(&d, "alice");
    let c = format!("llmux_session={cookie}");
    let own = format!("http://{host}");
    let (status, res) = d.http("POST", "/api/auth/logout", &[("Cookie", &c), ("Origin", &own)], "");
    assert_eq!(status, 200, "{res}");
    assert!(res.contains("Max-Age=0"), "{res}");
    assert_eq!(d.http("GET", "/api/auth/whoami", &[("Cookie", &c)], "").0, 401);
}

#[tokio::test]
async fn pairing_codes_work_once() {
    let d = TestDaemon::builder().admin("root").start().await;
    let (status, pairing) = local(&d, Method::POST, "/api/pairing", json!(null)).await;
    assert_eq!(status, 201, "{pairing}");
    let code = pairing["code"].as_str().unwrap();
    assert_eq!(pairing["path"], format!("/pair#code={code}"), "the code travels in the fragment");
    let (status, res) = post_json(&d, "/api/auth/pair", &[], json!({"code": code}));
    assert_eq!(status, 200, "{res}");
    assert_eq!(body_of(&res)["user"]["username"], "root");
    assert!(res.to_ascii_lowercase().contains("set-cookie: llmux_session="));
    let (status, _) = post_json(&d, "/api/auth/pair", &[], json!({"code": code}));
    assert_eq!(status, 401, "a pairing code works once");
}

#[tokio::test]
async fn revoking_a_token_ends_its_event_stream_within_a_second() {
    let d = TestDaemon::builder().admin("root").start().await;
    let (value, id) = token(&d, "root", "admin", None).await;
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", d.port)).unwrap();
    write!(
        stream,
        "GET /api/logs/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {value}\r\n\r\n"
    )
    .unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert!(line.contains("200"), "{line}");
    // read the headers
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
    }
    let revoked_at = Instant::now();
    assert_eq!(local(&d, Method::DELETE, &format!("/api/tokens/{id}"), json!(null)).await.0, 200);
    // the stream carries the log line of the revocation or ends; it must end within 1 s
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) => break,
            Ok(_) if line == "0\r\n" => break, // end of the chunked body
            Ok(_) => assert!(
                revoked_at.elapsed() < Duration::from_secs(1),
                "still streaming after revocation"
            ),
            Err(e) => panic!("the stream did not end: {e}"),
        }
    }
    assert!(revoked_at.elapsed() < Duration::from_secs(1), "took {:?}", revoked_at.elapsed());
}

#[tokio::test]
async fn the_last_admin_stays() {
    let d = TestDaemon::builder().admin("root").user("alice").start().await;
    let (status, res) = local(&d, Method::DELETE, "/api/admin/users/root", json!(null)).await;
    assert_eq!(status, 409, "{res}");
    let (status, res) =
        local(&d, Method::PATCH, "/api/admin/users/root", json!({"admin": false})).await;
    assert_eq!(status, 409, "{res}");
    // with a second admin, the first can go
    let (status, _) =
        local(&d, Method::PATCH, "/api/admin/users/alice", json!({"admin": true})).await;
    assert_eq!(status, 200);
    let (status, res) = local(&d, Method::DELETE, "/api/admin/users/root", json!(null)).await;
    assert_eq!(status, 200, "{res}");
    // an admin cannot delete themselves
    let (alice, _) = token(&d, "alice", "admin", None).await;
    let auth = format!("Bearer {alice}");
    assert_eq!(d.http("DELETE", "/api/admin/users/alice", &[("Authorization", &auth)], "").0, 409);
}

#[tokio::test]
async fn deleting_a_user_revokes_everything_they_had() {
    let d = TestDaemon::builder().admin("root").user("bob").start().await;
    let (bob, _) = token(&d, "bob", "user", None).await;
    let cookie = login_cookie(&d, "bob");
    let auth = format!("Bearer {bob}");
    assert_eq!(d.http("GET", "/api/auth/whoami", &[("Authorization", &auth)], "").0, 200);
    let (status, res) = local(&d, Method::DELETE, "/api/admin/users/bob", json!(null)).await;
    assert_eq!(status, 200);
    assert_eq!(res["revokedTokens"], 1);
    assert_eq!(d.http("GET", "/api/auth/whoami", &[("Authorization", &auth)], "").0, 401);
    let c = format!("llmux_session={cookie}");
    assert_eq!(d.http("GET", "/api/auth/whoami", &[("Cookie", &c)], "").0, 401);
}

#[tokio::test]
async fn a_hostile_display_name_is_never_markup() {
    let d = TestDaemon::builder().user("mallory").start().await;
    let payload = "</script><img src=x onerror=alert(1)>";
    let cookie = login_cookie(&d, "mallory");
    let host = format!("127.0.0.1:{}", d.port);
    let origin = format!("http://{host}");
    let c = format!("llmux_session={cookie}");
    let (status, res) = post_json(
        &d,
        "/api/account/profile",
        &[("Cookie", &c), ("Origin", &origin)],
        json!({"name": payload}),
    );
    assert_eq!(status, 200, "{res}");
    for page in ["/", "/login", "/setup", "/pair"] {
        let (_, html) = d.http("GET", page, &[("Cookie", &c)], "");
        assert!(!html.contains("<img src=x"), "{page} contains the payload as markup");
        let csp = html
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("content-security-policy:"))
            .unwrap_or_else(|| panic!("{page} has no CSP"));
        let script_src = csp.split(';').find(|d| d.trim_start().starts_with("script-src")).unwrap();
        assert_eq!(script_src.trim(), "script-src 'self'", "{page}: scripts only from us");
    }
    // JSON carries it as data, never as HTML
    let (_, who) = d.http("GET", "/api/auth/whoami", &[("Cookie", &c)], "");
    assert!(who.to_ascii_lowercase().contains("content-type: application/json"), "{who}");
    assert!(
        who.contains("x-content-type-options: nosniff")
            || who.contains("X-Content-Type-Options: nosniff")
    );
}

#[tokio::test]
async fn secrets_never_appear_in_responses_or_logs() {
    let d = TestDaemon::start().await;
    let passphrase = "super-secret-passphrase-42";
    let (status, _) = local(
        &d,
        Method::POST,
        "/api/admin/users",
        json!({"username": "root", "passphrase": passphrase, "admin": true}),
    )
    .await;
    assert_eq!(status, 201);
    let mut seen = String::new();
    let (value, id) = token(&d, "root", "admin", None).await;
    let auth = format!("Bearer {value}");
    let cookie = login_cookie_with(&d, "root", passphrase);
    for (method, path) in [
        ("GET", "/api/admin/users"),
        ("GET", "/api/tokens?all=true"),
        ("GET", "/api/settings"),
        ("GET", "/api/logs"),
        ("GET", "/api/audit"),
        ("GET", "/api/auth/whoami"),
        ("GET", "/api/account/sessions"),
    ] {
        let (status, res) = d.http(method, path, &[("Authorization", &auth)], "");
        assert_eq!(status, 200, "{path}: {res}");
        seen.push_str(&res);
    }
    seen.push_str(&d.log());
    let secret_half = value.rsplit('_').next().unwrap();
    let cookie_secret = cookie.split('.').nth(1).unwrap();
    for (what, needle) in [
        ("passphrase", passphrase),
        ("token secret", secret_half),
        ("cookie secret", cookie_secret),
        ("argon2 hash", "$argon2"),
    ] {
        assert!(!seen.contains(needle), "{what} leaked");
    }
    assert!(seen.contains(&id), "the token id (not secret) is listed");
}

#[tokio::test]
async fn settings_show_sources_and_init_prompts_persist_in_the_overlay() {
    let mut d = TestDaemon::start().await;
    let (status, settings) = local(&d, Method::GET, "/api/settings", json!(null)).await;
    assert_eq!(status, 200);
    let port = settings["settings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == "server.port")
        .unwrap();
    assert_eq!(port["source"], "flag");
    let hosts = settings["settings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == "server.allowedHosts")
        .unwrap();
    assert_eq!(hosts["source"], "config");
    assert_eq!(settings["initPrompts"]["source"], "default");

    let (status, _) = local(
        &d,
        Method::PUT,
        "/api/settings/init-prompts",
        json!({"initPrompts": ["hello init", "  "]}),
    )
    .await;
    assert_eq!(status, 200);
    // a new session gets it typed in once its screen settles
    d.spawn_fake("ip").await;
    d.wait_for_screen("ip", "PROMPT[1]: hello init").await;
    // and it survives a restart of the daemon
    d.restart().await;
    let (_, settings) = local(&d, Method::GET, "/api/settings", json!(null)).await;
    assert_eq!(settings["initPrompts"]["value"], json!(["hello init"]));
    assert_eq!(settings["initPrompts"]["source"], "overlay");
}
