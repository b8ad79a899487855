//! `GET /metrics` and `GET /api/health` (issue 16, "Metrics and health") against a real
//! daemon: who may scrape, that the figures move with what happens, that the detailed health
//! checks pass, and that every metric the Grafana dashboard queries exists.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

use hyper::Method;
use serde_json::{Value, json};

use crate::harness::ws::tcp_viewer;
use crate::harness::{TestDaemon, call, create_as, local, login_cookie, token, user};

/// One sample line of the exposition: name, labels, value.
#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parses the Prometheus text format (what a scraper does), strictly: a line that is not a
/// comment, a blank or a well-formed sample fails the test.
fn parse(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (head, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("bad line {line:?}"));
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("bad value in {line:?}")),
        };
        let (name, labels) = match head.split_once('{') {
            None => (head.to_owned(), BTreeMap::new()),
            Some((name, rest)) => {
                let rest = rest.strip_suffix('}').unwrap_or_else(|| panic!("bad line {line:?}"));
                (name.to_owned(), parse_labels(rest, line))
            }
        };
        assert!(
            name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
            "bad name in {line:?}"
        );
        out.push(Sample { name, labels, value });
    }
    out
}

fn parse_labels(mut rest: &str, line: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    while !rest.is_empty() {
        let (key, after) = rest.split_once("=\"").unwrap_or_else(|| panic!("bad labels {line:?}"));
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => value.push(chars.next().expect("escape").1),
                Some((i, '"')) => break i,
                Some((_, c)) => value.push(c),
                None => panic!("unterminated label in {line:?}"),
            }
        };
        labels.insert(key.to_owned(), value);
        rest = after[end + 1..].trim_start_matches(',');
    }
    labels
}

/// The value of the sample `name` with (at least) `labels`, summed over the rest.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == name)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v)))
        .map(|s| s.value)
        .sum()
}

/// Scrapes as the local operator (the Unix socket).
async fn scrape(d: &TestDaemon) -> (String, Vec<Sample>) {
    let res = d.client.raw(Method::GET, "/metrics", None, &[]).await.unwrap();
    assert_eq!(res.status.as_u16(), 200);
    let text = String::from_utf8(res.body.to_vec()).unwrap();
    let samples = parse(&text);
    (text, samples)
}

/// Scrapes until `check` holds (10 s at most); returns the last samples.
async fn scrape_until(d: &TestDaemon, what: &str, check: impl Fn(&[Sample]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (text, samples) = scrape(d).await;
        if check(&samples) {
            return;
        }
        assert!(Instant::now() < deadline, "{what} never held; last scrape:\n{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A raw GET over TCP; returns (status, headers, body).
fn get(d: &TestDaemon, path: &str, headers: &[(&str, &str)]) -> (u16, String, String) {
    let (status, res) = d.http("GET", path, headers, "");
    let (head, body) = res.split_once("\r\n\r\n").unwrap_or((&res, ""));
    (status, head.to_ascii_lowercase(), body.to_owned())
}

#[tokio::test]
async fn only_admins_the_operator_and_metrics_tokens_may_scrape() {
    let d = TestDaemon::start().await;
    user(&d, "root", true).await;
    user(&d, "alice", false).await;
    let (admin, _) = token(&d, "root", "admin", None).await;
    let (root_user, _) = token(&d, "root", "user", None).await;
    let (alice, _) = token(&d, "alice", "user", None).await;
    let (alice_ro, _) = token(&d, "alice", "read-only", None).await;
    // the CLI mints the scraper's token
    let out =
        d.cli_ok(&["token", "create", "--scope", "metrics", "--user", "root", "--name", "prom"]);
    assert!(out.contains("scope metrics"), "{out}");
    let scraper = out.lines().map(str::trim).find(|l| l.starts_with("llmux_")).expect("the value");
    let root_cookie = login_cookie(&d, "root");
    let alice_cookie = login_cookie(&d, "alice");

    // the operator on the socket
    let (text, _) = scrape(&d).await;
    assert!(text.contains("# TYPE llmux_sessions gauge"), "{text}");
    // admins (token and browser) and the metrics token, over TCP
    let bearer = |t: &str| format!("Bearer {t}");
    let root_cookie = format!("llmux_session={root_cookie}");
    for (who, header) in [
        ("admin token", ("Authorization", bearer(&admin))),
        ("admin cookie", ("Cookie", root_cookie.clone())),
        ("metrics token", ("Authorization", bearer(scraper))),
    ] {
        let (status, head, body) = get(&d, "/metrics", &[(header.0, &header.1)]);
        assert_eq!(status, 200, "{who}: {body}");
        assert!(head.contains("content-type: text/plain; version=0.0.4"), "{who}: {head}");
        assert!(body.contains("# TYPE llmux_http_requests_total counter"), "{who}: {body}");
        parse(&body);
    }
    // everyone else
    let alice_cookie = format!("llmux_session={alice_cookie}");
    for (who, headers, want) in [
        ("anonymous", vec![], 401),
        ("a bad token", vec![("Authorization", bearer("llmux_nothex_zz"))], 401),
        ("a non-admin", vec![("Authorization", bearer(&alice))], 403),
        ("a read-only token", vec![("Authorization", bearer(&alice_ro))], 403),
        ("a non-admin's browser", vec![("Cookie", alice_cookie)], 403),
        ("an admin's user-scoped token", vec![("Authorization", bearer(&root_user))], 403),
    ] {
        let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, _, body) = get(&d, "/metrics", &h);
        assert_eq!(status, want, "{who}: {body}");
        assert!(!body.contains("llmux_"), "{who} saw metrics: {body}");
    }
    // the metrics token reads nothing else
    for path in ["/api/sessions", "/api/auth/whoami", "/api/health", "/api/about", "/"] {
        let (status, _, body) = get(&d, path, &[("Authorization", &bearer(scraper))]);
        assert_eq!(status, 403, "{path}: {body}");
        assert!(body.contains("this token can only read /metrics"), "{path}: {body}");
    }
    let (status, body) = call(&d, scraper, "POST", "/api/tokens", json!({"scope": "user"}));
    assert_eq!(status, 403, "{body}");
    // only an admin credential mints one, and only for an admin
    let (status, body) = call(&d, &alice, "POST", "/api/tokens", json!({"scope": "metrics"}));
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("only admins can mint metrics tokens, and only for admins")),
        "{body}"
    );
    let (status, body) = call(&d, &root_user, "POST", "/api/tokens", json!({"scope": "metrics"}));
    assert_eq!(status, 403, "{body}");
    let (status, body) =
        local(&d, Method::POST, "/api/tokens", json!({"username": "alice", "scope": "metrics"}))
            .await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = call(&d, &admin, "POST", "/api/tokens", json!({"scope": "metrics"}));
    assert_eq!((status, body["token"]["scope"].as_str()), (201, Some("metrics")), "{body}");

    // both are in the OpenAPI document, /metrics as text
    let (status, doc) = local(&d, Method::GET, "/api/openapi.json", Value::Null).await;
    assert_eq!(status, 200);
    let content = &doc["paths"]["/metrics"]["get"]["responses"]["200"]["content"];
    assert!(content["text/plain; version=0.0.4; charset=utf-8"].is_object(), "{content}");
    let health = &doc["paths"]["/api/health"]["get"]["responses"]["200"]["content"];
    assert!(health["application/json"].is_object(), "{health}");
    let scopes = &doc["components"]["schemas"]["TokenScope"]["enum"];
    assert!(scopes.as_array().unwrap().contains(&json!("metrics")), "{scopes}");
}

#[tokio::test]
async fn the_figures_move_with_what_happens() {
    let d = TestDaemon::start().await;
    user(&d, "root", true).await;
    let (admin, _) = token(&d, "root", "admin", None).await;
    let auth = format!("Bearer {admin}");

    // a session, read three times under one route template
    let (status, res) = create_as(&d, &admin, "m1");
    assert_eq!(status, 201, "{res}");
    for _ in 0..3 {
        let (status, body) = call(&d, &admin, "GET", "/api/sessions/m1", Value::Null);
        assert_eq!(status, 200, "{body}");
    }
    let (status, _, _) = get(&d, "/api/no-such-route/xyz", &[]);
    assert_eq!(status, 401);
    scrape_until(&d, "the session counted", |s| {
        value(s, "llmux_sessions", &[("agent", "fake")]) == 1.0
    })
    .await;
    let (text, s) = scrape(&d).await;
    // one series per state of the agent, the session in exactly one of them
    let states: Vec<_> = s
        .iter()
        .filter(|x| x.name == "llmux_sessions")
        .map(|x| (x.labels["state"].clone(), x.value))
        .collect();
    assert_eq!(states.len(), 5, "{text}");
    assert!(states.iter().any(|(st, v)| *v == 1.0 && st != "exited"), "{states:?}");
    let route = [("method", "GET"), ("route", "/api/sessions/{name}"), ("status", "200")];
    assert_eq!(value(&s, "llmux_http_requests_total", &route), 3.0, "{text}");
    let created = [("method", "POST"), ("route", "/api/sessions"), ("status", "201")];
    assert_eq!(value(&s, "llmux_http_requests_total", &created), 1.0, "{text}");
    let unknown = [("route", "unmatched"), ("status", "401")];
    assert_eq!(value(&s, "llmux_http_requests_total", &unknown), 1.0, "{text}");
    let timed = [("method", "GET"), ("route", "/api/sessions/{name}")];
    assert_eq!(value(&s, "llmux_http_request_duration_seconds_count", &timed), 3.0, "{text}");
    assert!(!text.contains("/api/sessions/m1"), "a raw path became a label:\n{text}");
    assert!(!text.contains("no-such-route"), "a raw path became a label:\n{text}");
    // tmux commands were timed: the session's start and the refresher's pane lists
    let started = [("command", "new-session")];
    assert!(value(&s, "llmux_tmux_command_duration_seconds_count", &started) >= 1.0, "{text}");
    let listed = [("command", "list-panes")];
    scrape_until(&d, "the refresher's pane lists timed", |s| {
        value(s, "llmux_tmux_command_duration_seconds_count", &listed) >= 1.0
    })
    .await;
    let outcomes = s.iter().filter(|x| x.name == "llmux_push_deliveries_total").count();
    assert_eq!(outcomes, 3, "sent, failed, gone:\n{text}");
    assert_eq!(value(&s, "llmux_push_deliveries_total", &[("outcome", "sent")]), 0.0);
    assert_eq!(value(&s, "llmux_build_info", &[("version", env!("CARGO_PKG_VERSION"))]), 1.0);

    // a terminal viewer while its WebSocket is open
    let ws = tcp_viewer(&d, "m1", &[("Authorization", &auth)]).await.expect("a viewer");
    scrape_until(&d, "one viewer", |s| value(s, "llmux_terminal_viewers", &[]) == 1.0).await;
    drop(ws);
    scrape_until(&d, "no viewer", |s| value(s, "llmux_terminal_viewers", &[]) == 0.0).await;

    // an event-stream client while its stream is open
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", d.port)).unwrap();
    let req = format!(
        "GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAuthorization: {auth}\r\n\r\n",
        d.port
    );
    stream.write_all(req.as_bytes()).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = [0u8; 512];
    let n = stream.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    scrape_until(&d, "one event stream", |s| value(s, "llmux_event_stream_clients", &[]) == 1.0)
        .await;
    drop(stream);
    // the daemon notices the closed stream at its next write: make one
    let (status, res) = create_as(&d, &admin, "m2");
    assert_eq!(status, 201, "{res}");
    scrape_until(&d, "no event stream", |s| value(s, "llmux_event_stream_clients", &[]) == 0.0)
        .await;

    // wrong passphrases until the throttle steps in: each refusal counted as what it was
    let (mut wrong, mut throttled) = (0.0, 0.0);
    for _ in 0..10 {
        let body = json!({"username": "root", "passphrase": "not the passphrase"});
        let (status, res) = crate::harness::post_json(&d, "/api/auth/login", &[], body);
        match status {
            401 => wrong += 1.0,
            429 => {
                throttled += 1.0;
                break;
            }
            other => panic!("sign-in answered {other}: {res}"),
        }
    }
    assert!(wrong >= 1.0 && throttled == 1.0, "{wrong} wrong, {throttled} throttled");
    let (text, s) = scrape(&d).await;
    assert_eq!(value(&s, "llmux_signin_failures_total", &[]), wrong, "{text}");
    assert_eq!(value(&s, "llmux_signin_throttled_total", &[]), throttled, "{text}");
    let refused = [("route", "/api/auth/login"), ("status", "401")];
    assert_eq!(value(&s, "llmux_http_requests_total", &refused), wrong, "{text}");
}

#[tokio::test]
async fn health_details_for_admins_and_the_operator() {
    let d = TestDaemon::start().await;
    user(&d, "root", true).await;
    user(&d, "alice", false).await;
    let (admin, _) = token(&d, "root", "admin", None).await;
    let (alice, _) = token(&d, "alice", "user", None).await;
    d.spawn_fake("h1").await;

    let (status, report) = local(&d, Method::GET, "/api/health", Value::Null).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["status"], "ok", "{report}");
    assert_eq!(report["version"], env!("CARGO_PKG_VERSION"));
    assert!(report["uptimeSeconds"].as_u64().is_some(), "{report}");
    let checks = report["checks"].as_array().unwrap();
    let names: Vec<_> = checks.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["tmux", "store", "disk"], "{report}");
    for c in checks {
        assert_eq!(c["status"], "ok", "{c}");
        assert!(!c["message"].as_str().unwrap().is_empty(), "{c}");
    }
    // the operator's session's pane is among the ones tmux listed
    let tmux = checks[0]["message"].as_str().unwrap();
    let panes: u32 = tmux.split(' ').next().unwrap().parse().unwrap();
    assert!(panes >= 1, "{tmux}");
    assert!(checks[2]["message"].as_str().unwrap().contains("GiB free of"), "{report}");

    let (status, body) = call(&d, &admin, "GET", "/api/health", Value::Null);
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")), "{body}");
    let (status, _) = call(&d, &alice, "GET", "/api/health", Value::Null);
    assert_eq!(status, 403);
    let (status, _, _) = get(&d, "/api/health", &[]);
    assert_eq!(status, 401);

    // the public one stays as it was: up, version, nothing more
    let (status, _, body) = get(&d, "/health", &[]);
    assert_eq!(status, 200);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        body,
        json!({"ok": true, "version": env!("CARGO_PKG_VERSION"), "authEnabled": true})
    );
}

#[tokio::test]
async fn the_grafana_dashboard_queries_only_real_metrics() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/grafana/llmux.json");
    let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut exprs = Vec::new();
    collect_exprs(&dashboard, &mut exprs);
    assert!(exprs.len() >= 8, "{exprs:?}");
    let used: std::collections::BTreeSet<String> = exprs
        .iter()
        .flat_map(|e| {
            let bytes = e.as_bytes();
            let mut names = Vec::new();
            let mut i = 0;
            while let Some(at) = e[i..].find("llmux_") {
                let start = i + at;
                let mut end = start;
                while end < bytes.len()
                    && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_')
                {
                    end += 1;
                }
                names.push(e[start..end].to_owned());
                i = end;
            }
            names
        })
        .collect();
    assert!(used.len() >= 8, "{used:?}");

    // a daemon with something in every family: a session, a viewer's request, a sign-in
    let d = TestDaemon::start().await;
    user(&d, "root", true).await;
    d.spawn_fake("g1").await;
    let body = json!({"username": "root", "passphrase": "wrong"});
    crate::harness::post_json(&d, "/api/auth/login", &[], body);
    let (text, samples) = scrape(&d).await;
    let mut exposed: std::collections::BTreeSet<String> =
        samples.iter().map(|s| s.name.clone()).collect();
    // families declared with no sample yet (counters at zero still have one; histograms of
    // nothing observed do not)
    for line in text.lines().filter_map(|l| l.strip_prefix("# TYPE ")) {
        let (name, kind) = line.split_once(' ').unwrap();
        exposed.insert(name.to_owned());
        if kind == "histogram" {
            for suffix in ["_bucket", "_sum", "_count"] {
                exposed.insert(format!("{name}{suffix}"));
            }
        }
    }
    let missing: Vec<_> = used.iter().filter(|n| !exposed.contains(*n)).collect();
    assert!(missing.is_empty(), "the dashboard queries {missing:?}, not in /metrics:\n{text}");
}

fn collect_exprs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("expr", Value::String(e)) => out.push(e.clone()),
                    _ => collect_exprs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_exprs(v, out)),
        _ => {}
    }
}
