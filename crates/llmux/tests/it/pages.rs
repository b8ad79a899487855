//! The web UI's error pages: a browser that mistypes a URL gets the app's "Page not found"
//! page, API clients keep their JSON errors (and anonymous ones their 401 on any unknown path).

use crate::harness::TestDaemon;

/// What a browser sends when it navigates to a page.
const BROWSER_ACCEPT: &str =
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8";

/// The body of a raw HTTP response.
fn body(res: &str) -> &str {
    res.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

fn header<'a>(res: &'a str, name: &str) -> Option<&'a str> {
    res.split("\r\n\r\n").next()?.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn assert_not_found_page(res: &str, what: &str) {
    assert!(res.starts_with("HTTP/1.1 404"), "{what}: {res}");
    assert!(
        header(res, "content-type").is_some_and(|t| t.starts_with("text/html")),
        "{what}: {res}"
    );
    assert!(header(res, "content-security-policy").is_some(), "{what}: the page's CSP");
    assert!(body(res).contains("Page not found"), "{what}: {res}");
}

fn assert_json(res: &str, status: u16, what: &str) {
    assert!(res.starts_with(&format!("HTTP/1.1 {status}")), "{what}: {res}");
    assert!(header(res, "content-type").is_some_and(|t| t.contains("json")), "{what}: {res}");
    let v: serde_json::Value =
        serde_json::from_str(body(res)).unwrap_or_else(|e| panic!("{what}: {e}: {res}"));
    assert!(v["error"].is_string(), "{what}: {res}");
}

#[tokio::test]
async fn a_mistyped_url_shows_the_not_found_page_to_browsers_and_json_to_api_clients() {
    let d = TestDaemon::builder().user("alice").start().await;
    let cookie = format!("llmux_session={}", crate::harness::login_cookie(&d, "alice"));
    let html = ("Accept", BROWSER_ACCEPT);

    // A browser, signed in or not, gets the same page for any unknown page path.
    for path in ["/sesions", "/s/x/nope", "/admin/nope", "/nope?x=1"] {
        let (_, res) = d.http("GET", path, &[html], "");
        assert_not_found_page(&res, &format!("{path} anonymous browser"));
        let (_, signed_in) = d.http("GET", path, &[html, ("Cookie", &cookie)], "");
        assert_not_found_page(&signed_in, &format!("{path} signed-in browser"));
        assert_eq!(body(&res), body(&signed_in), "{path}: the page says nothing about the caller");
    }

    // API paths and API clients keep JSON: 401 to anyone anonymous, 404 once signed in.
    for (path, accept) in [
        ("/api/nope", BROWSER_ACCEPT),
        ("/ws/s1/nope", BROWSER_ACCEPT),
        ("/api", BROWSER_ACCEPT),
        ("/nope", "application/json"),
        ("/nope", "*/*"),
    ] {
        let (_, res) = d.http("GET", path, &[("Accept", accept)], "");
        assert_json(&res, 401, &format!("{path} ({accept}) anonymous"));
        let (_, res) = d.http("GET", path, &[("Accept", accept), ("Cookie", &cookie)], "");
        assert_json(&res, 404, &format!("{path} ({accept}) signed in"));
    }
    let (_, res) = d.http("GET", "/nope", &[], "");
    assert_json(&res, 401, "/nope without Accept");
    // Only page loads: a form post to an unknown path is not a page.
    let (_, res) = d.http("POST", "/nope", &[html], "");
    assert_json(&res, 401, "POST /nope");

    // Known pages are unchanged: the app for a signed-in browser, sign-in for anyone else.
    let (status, _) = d.http("GET", "/", &[html, ("Cookie", &cookie)], "");
    assert_eq!(status, 200);
    let (status, res) = d.http("GET", "/", &[html], "");
    assert!(matches!(status, 302 | 303 | 307), "{res}");
}

#[tokio::test]
async fn version_says_setup_is_pending_only_until_an_account_exists() {
    let d = TestDaemon::start().await;
    let version = |d: &TestDaemon| {
        let (status, res) = d.http("GET", "/api/version", &[], "");
        assert_eq!(status, 200, "{res}");
        serde_json::from_str::<serde_json::Value>(body(&res)).unwrap()
    };
    let before = version(&d);
    assert_eq!(before["setupPending"], true, "{before}");
    // Nothing else is told: the version and the flag.
    assert_eq!(before.as_object().unwrap().len(), 2, "{before}");
    crate::harness::user(&d, "alice", true).await;
    assert_eq!(version(&d)["setupPending"], false);
}
