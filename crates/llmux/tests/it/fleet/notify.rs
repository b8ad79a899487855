//! Notifications for remote sessions (issue 17): a hub user who follows a host's session they
//! see (their own through the host's mapping, or any as an admin) gets a push when its agent
//! finishes or waits; someone it is not mapped to can neither follow it nor is told.

use std::io::Write;
use std::sync::mpsc;

use llmux_api::SendRequest;
use llmux_client::Client;

use super::users::{bridge, enter, fake_on, remote_until, status, user_client};
use super::*;

const P256DH: &str =
    "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
const AUTH: &str = "BTBZMqHH6r4Tts7J_aSIgg";

/// A push service on the loopback of namespace `ns` (where the hub can reach it): answers
/// 201 and reports each request's line (`POST /push/WHO HTTP/1.1`).
fn push_service_in(ns: &str) -> (u16, mpsc::Receiver<String>) {
    let (tx, rx) = mpsc::channel();
    let (port_tx, port_rx) = mpsc::channel();
    let ns = ns.to_owned();
    std::thread::spawn(move || {
        enter(&ns);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        port_tx.send(listener.local_addr().unwrap().port()).unwrap();
        for mut conn in listener.incoming().flatten() {
            let (head, _) = crate::harness::http::read_request(&mut conn);
            let _ =
                write!(conn, "HTTP/1.1 201 X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            let _ = tx.send(head.lines().next().unwrap_or_default().to_owned());
        }
    });
    (port_rx.recv().unwrap(), rx)
}

#[tokio::test]
async fn a_remote_agent_that_finishes_is_pushed_to_its_mapped_owner_and_followers() {
    need_netns!();
    let net = Net::new(1);
    let (h1, url, tok, _) = super::host_with(&net, 1, &["ann"]).await;
    let hub = TestDaemon::builder()
        .netns(&net.hub())
        .config("notifications:\n  allowLoopbackPush: true\n")
        .admin("root")
        .user("ann")
        .user("bob")
        .start()
        .await;
    hub.cli_ok(&["host", "add", "h1", "--url", &url, "--host-token", &tok, "--map-user", "ann"]);
    host_until(&hub, "h1", HostStatus::Up, Duration::from_secs(20)).await;
    let port = bridge(&net.hub()).await;
    let (push_port, pushes) = push_service_in(&net.hub());
    let ann = user_client(&hub, port, "ann").await;
    let bob = user_client(&hub, port, "bob").await;
    let (root_tok, _) = token(&hub, "root", "admin", None).await;
    let root = Client::remote(&format!("http://127.0.0.1:{port}"), Some(root_tok)).unwrap();
    for (client, who) in [(&ann, "ann"), (&bob, "bob"), (&root, "root")] {
        let sub = json!({"endpoint": format!("http://127.0.0.1:{push_port}/push/{who}"),
            "keys": {"p256dh": P256DH, "auth": AUTH}});
        let body = Some((bytes::Bytes::from(sub.to_string()), "application/json"));
        let res = client.raw(Method::POST, "/api/push/subscriptions", body, &[]).await.unwrap();
        assert_eq!(res.status.as_u16(), 201, "{who}: {:?}", res.body);
    }

    let mut req = fake_on("h1", "aq", &h1.work().display().to_string());
    req.agent = "fakeq".into();
    req.env = Some(llmux_api::EnvInput::Map([("FAKE_THINK_MS".into(), "800".into())].into()));
    ann.create_session(&req).await.unwrap();
    remote_until(&ann, &["h1:aq"]).await;
    let put = |client: &Client, name: &str| {
        let (client, path) = (client.clone(), format!("/api/push/sessions/{name}"));
        async move { client.raw(Method::PUT, &path, None, &[]).await.unwrap().status.as_u16() }
    };
    // ann follows her own by her name for it, root (admin) by the hub credential's name;
    // bob sees neither, so cannot follow either (nor tell it from a missing one)
    assert_eq!(put(&ann, "h1:aq").await, 200);
    assert_eq!(put(&root, "h1:aq@ann").await, 200);
    for name in ["h1:aq", "h1:aq@ann", "h1:ghost"] {
        assert_eq!(put(&bob, name).await, 404, "bob follows {name}");
    }
    let res = ann.raw(Method::GET, "/api/push/sessions", None, &[]).await.unwrap();
    let followed: serde_json::Value = serde_json::from_slice(&res.body).unwrap();
    assert_eq!(followed["sessions"][0]["name"], "h1:aq", "{followed}");

    // working -> idle on the host: a push to ann's device and root's, none to bob's
    let reply = ann
        .send_request(
            "h1:aq",
            &SendRequest { prompt: "say hello".into(), wait: Some(true), ..Default::default() },
        )
        .await
        .unwrap();
    assert_eq!(reply.state, Some(llmux_api::AgentState::Idle), "{reply:?}");
    let mut got = Vec::new();
    for _ in 0..2 {
        let line = pushes.recv_timeout(Duration::from_secs(10)).expect("a push");
        got.push(line);
    }
    got.sort();
    assert_eq!(got, ["POST /push/ann HTTP/1.1", "POST /push/root HTTP/1.1"], "{got:?}");
    if let Ok(line) = pushes.recv_timeout(Duration::from_secs(1)) {
        panic!("an extra push: {line}");
    }
    // unfollowed by her own name, she is not told again; root still is
    let res = ann.raw(Method::DELETE, "/api/push/sessions/h1:aq", None, &[]).await.unwrap();
    assert_eq!(res.status.as_u16(), 200);
    ann.send_request(
        "h1:aq",
        &SendRequest { prompt: "again".into(), wait: Some(true), ..Default::default() },
    )
    .await
    .unwrap();
    let line = pushes.recv_timeout(Duration::from_secs(10)).expect("root's push");
    assert_eq!(line, "POST /push/root HTTP/1.1");
    if let Ok(line) = pushes.recv_timeout(Duration::from_secs(1)) {
        panic!("a push after unfollowing: {line}");
    }
    assert_eq!(status(&bob.session("h1:aq").await.unwrap_err()), 404);
    drop((hub, h1));
}
