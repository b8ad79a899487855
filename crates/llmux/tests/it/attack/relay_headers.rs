//! Attacks: relay_headers (see the table in the parent module).
//!
//! Finding 12: a proxy pointed at the Unix socket relays remote requests that the daemon would
//! trust as the local operator. The socket refuses any request carrying a header that a relay
//! adds; the review got 200 on `/api/admin/users` with the client-address headers of common
//! CDNs and load balancers, which the old check did not know.

use hyper::Method;

use crate::harness::TestDaemon;

/// Every relay header the socket must refuse, spelled as proxies send them.
const RELAY_HEADERS: &[&str] = &[
    // The ones the review got through with.
    "X-Client-IP",
    "True-Client-IP",
    "CF-Connecting-IP",
    "X-Original-Forwarded-For",
    "X-Envoy-External-Address",
    "Fastly-Client-IP",
    "X-Cluster-Client-IP",
    // Other common ones.
    "X-Forwarded",
    "Forwarded-For",
    "X-ProxyUser-Ip",
    "Client-IP",
    "X-Real-IP",
    "X-Forwarded-For",
    "X-Forwarded-Host",
    "Forwarded",
    "Via",
    "CF-Connecting-IPv6",
    "X-Originating-IP",
    "X-Remote-IP",
    "X-Remote-Addr",
    "X-Envoy-Internal",
    "Tailscale-User-Login",
];

#[tokio::test]
async fn the_socket_refuses_every_relay_header() {
    let d = TestDaemon::start().await;
    // The admin route the review reached; a plain request still works.
    let plain = d.client.raw(Method::GET, "/api/admin/users", None, &[]).await.unwrap();
    assert_eq!(plain.status.as_u16(), 200);
    for header in RELAY_HEADERS {
        for value in ["127.0.0.1", "203.0.113.9"] {
            let res = d
                .client
                .raw(Method::GET, "/api/admin/users", None, &[(header, value)])
                .await
                .unwrap();
            assert_eq!(res.status.as_u16(), 403, "{header}: {value}");
            let body: serde_json::Value = serde_json::from_slice(&res.body).unwrap();
            assert_eq!(body["code"], "proxied_request", "{header}: {body}");
        }
    }
    // Lower case, as HTTP/2-style relays send them, is the same header.
    let res = d
        .client
        .raw(Method::GET, "/api/admin/users", None, &[("x-client-ip", "1.2.3.4")])
        .await
        .unwrap();
    assert_eq!(res.status.as_u16(), 403);
}
