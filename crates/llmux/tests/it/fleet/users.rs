//! Hub users on hosts (issue 17): a host's user mapping lets a non-admin of the hub see, drive
//! and start their own sessions on that host, as the host user the mapping names, and nobody
//! else's. The hub's users call its TCP port inside its namespace through [`bridge`].

use std::os::fd::AsFd;

use llmux_api::{CreateSessionRequest, SendRequest};
use llmux_client::{Client, SessionEvent};

use super::*;

/// A TCP port on the test's own loopback leading to `127.0.0.1:3001` inside namespace `ns`:
/// a thread moved into `ns` dials (a socket stays in the namespace it was made in), and the
/// bytes are copied both ways. Lives as long as the test's runtime.
pub(super) async fn bridge(ns: &str) -> u16 {
    let (dial, requests) = std::sync::mpsc::channel::<
        tokio::sync::oneshot::Sender<std::io::Result<std::net::TcpStream>>,
    >();
    let ns = ns.to_owned();
    std::thread::spawn(move || {
        enter(&ns);
        for reply in requests {
            let _ = reply.send(std::net::TcpStream::connect(("127.0.0.1", 3001)));
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut outer, _)) = listener.accept().await {
            let (tx, rx) = tokio::sync::oneshot::channel();
            if dial.send(tx).is_err() {
                return;
            }
            tokio::spawn(async move {
                let Ok(Ok(inner)) = rx.await else { return };
                inner.set_nonblocking(true).unwrap();
                let mut inner = tokio::net::TcpStream::from_std(inner).unwrap();
                let _ = tokio::io::copy_bidirectional(&mut outer, &mut inner).await;
            });
        }
    });
    port
}

/// Moves the calling thread into network namespace `ns` (sockets it makes are made there).
pub(super) fn enter(ns: &str) {
    let file = std::fs::File::open(format!("/run/netns/{ns}")).expect("the namespace's file");
    rustix::thread::move_into_link_name_space(
        file.as_fd(),
        Some(rustix::thread::LinkNameSpaceType::Network),
    )
    .expect("setns");
}

/// `name`'s client of the hub over TCP, with a `user` token of theirs.
pub(super) async fn user_client(hub: &TestDaemon, port: u16, name: &str) -> Client {
    let (tok, _) = token(hub, name, "user", None).await;
    Client::remote(&format!("http://127.0.0.1:{port}"), Some(tok)).unwrap()
}

/// The remote sessions in `client`'s list, by name.
pub(super) async fn remote_names(client: &Client) -> Vec<String> {
    let list = client.list_sessions().await.unwrap();
    let mut names: Vec<String> =
        list.into_iter().filter(|s| s.host.is_some()).map(|s| s.name).collect();
    names.sort();
    names
}

/// Polls `client`'s list until its remote sessions are exactly `want`.
pub(super) async fn remote_until(client: &Client, want: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let names = remote_names(client).await;
        if names == want {
            return;
        }
        assert!(Instant::now() < deadline, "remote sessions {names:?}, want {want:?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

pub(super) fn fake_on(host: &str, name: &str, cwd: &str) -> CreateSessionRequest {
    CreateSessionRequest {
        agent: "fake".into(),
        name: Some(name.into()),
        cwd: Some(cwd.into()),
        host: Some(host.into()),
        ..Default::default()
    }
}

pub(super) fn status(e: &llmux_client::Error) -> u16 {
    e.status().map_or(0, |s| s.as_u16())
}

#[tokio::test]
async fn mapped_users_reach_their_own_remote_sessions_and_nobody_elses() {
    need_netns!();
    let net = Net::new(1);
    let (h1, url, tok, _) = super::host_with(&net, 1, &["ann", "cy"]).await;
    let hub =
        TestDaemon::builder().netns(&net.hub()).user("ann").user("bob").user("dan").start().await;
    h1.spawn_fake("r1").await;
    let (status_code, _) = crate::harness::local(
        &h1,
        Method::POST,
        "/api/sessions",
        json!({"agent": "fake", "name": "c0", "cwd": h1.work()}),
    )
    .await;
    assert_eq!(status_code, 201);

    hub.cli_ok(&["host", "add", "h1", "--url", &url, "--host-token", &tok, "--map-user", "ann"]);
    let out = hub.cli_ok(&["host", "edit", "h1", "--map-user", "bob=cy"]);
    assert!(out.contains("ann→ann") && out.contains("bob→cy"), "{out}");
    // each host user stands for one hub user
    let out = hub.cli(&["host", "edit", "h1", "--map-user", "dan=cy"]);
    assert_ne!(out.status.code(), Some(0), "{out:?}");
    host_until(&hub, "h1", HostStatus::Up, Duration::from_secs(20)).await;
    let port = bridge(&net.hub()).await;
    let ann = user_client(&hub, port, "ann").await;
    let bob = user_client(&hub, port, "bob").await;
    let dan = user_client(&hub, port, "dan").await;
    // whoami names the hosts a start may go to (the web form's Host field): the mapped only
    let hosts =
        |w: llmux_api::WhoamiResponse| w.hosts.into_iter().map(|h| h.name).collect::<Vec<_>>();
    assert_eq!(hosts(ann.whoami().await.unwrap()), ["h1"]);
    assert_eq!(hosts(bob.whoami().await.unwrap()), ["h1"]);
    assert!(hosts(dan.whoami().await.unwrap()).is_empty(), "dan is mapped nowhere");

    // starting on the host: the session is the mapped host user's there
    let cwd = h1.work().display().to_string();
    let made = ann.create_session(&fake_on("h1", "a1", &cwd)).await.unwrap();
    assert_eq!((made.name.as_str(), made.host.as_deref()), ("h1:a1", Some("h1")));
    assert_eq!(h1.client.session("a1@ann").await.unwrap().owner, "ann");
    bob.create_session(&fake_on("h1", "b1", &cwd)).await.unwrap();
    assert_eq!(h1.client.session("b1@cy").await.unwrap().owner, "cy");
    // the hub's policy for the user holds there too: no shell for a non-admin
    let mut shell = fake_on("h1", "sh", &cwd);
    shell.agent = "shell".into();
    assert_eq!(status(&ann.create_session(&shell).await.unwrap_err()), 403);
    // an unmapped user learns nothing of the host
    let err = dan.create_session(&fake_on("h1", "d1", &cwd)).await.unwrap_err();
    assert_eq!(status(&err), 404, "{err}");
    assert_eq!(status(&dan.list_sessions_on("h1").await.unwrap_err()), 404);

    // each sees their own, in their own terms; the operator's and others' stay hidden
    remote_until(&ann, &["h1:a1"]).await;
    remote_until(&bob, &["h1:b1"]).await;
    remote_until(&dan, &[]).await;
    let only = ann.list_sessions_on("h1").await.unwrap();
    assert_eq!(only.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["h1:a1"]);
    // the admin (operator) sees them all, named as the hub's credential sees them
    hub_until(&hub, "every remote session", |l| {
        ["h1:r1", "h1:c0", "h1:a1@ann", "h1:b1@cy"].iter().all(|n| find(l, n).is_some())
    })
    .await;

    // ann's event stream carries her remote session and its state changes, nobody else's
    let mut events = ann.events().await.unwrap();
    let first = events.next().await.unwrap().unwrap();
    let SessionEvent::Sessions(first) = first else { panic!("first event: {first:?}") };
    let names: Vec<&str> =
        first.iter().filter(|s| s.host.is_some()).map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["h1:a1"]);
    bob.send_request(
        "h1:b1",
        &SendRequest { prompt: "bob's".into(), wait: Some(true), ..Default::default() },
    )
    .await
    .unwrap();
    // driving her own: prompt --wait, capture, a terminal
    let reply = ann
        .send_request(
            "h1:a1",
            &SendRequest { prompt: "say hi".into(), wait: Some(true), ..Default::default() },
        )
        .await
        .unwrap();
    assert!(reply.reply.as_deref().unwrap_or_default().contains("say hi"), "{reply:?}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ev = tokio::time::timeout_at(deadline.into(), events.next()).await;
        let ev = ev.expect("no state event for h1:a1").expect("stream open").unwrap();
        match ev {
            SessionEvent::State(ev) => {
                assert_eq!(ev.name, "h1:a1", "ann got another's state: {ev:?}");
                if ev.state == llmux_api::AgentState::Idle {
                    break;
                }
            }
            SessionEvent::Sessions(list) => {
                let other = list.iter().find(|s| s.host.is_some() && s.name != "h1:a1");
                assert!(other.is_none(), "ann's list: {list:?}");
            }
        }
    }
    assert!(ann.capture("h1:a1", 50).await.unwrap().text.contains("say hi"));
    attach_and_type(&ann, "h1:a1", "typed by ann").await;
    let (_, audit) =
        crate::harness::local(&h1, Method::GET, "/api/audit?limit=50", json!(null)).await;
    let by_ann = audit.as_array().unwrap().iter().any(|e| {
        e["action"] == "session_created" && e["actor"] == "hubber for hub user ann as ann"
    });
    assert!(by_ann, "{audit}");

    // the attack: another user's, the operator's and unknown remote sessions are all absent
    for (who, client, names) in [
        ("bob", &bob, &["h1:a1", "h1:a1@ann", "h1:r1", "h1:r1@", "h1:c0@", "h1:nope"][..]),
        ("dan", &dan, &["h1:a1", "h1:a1@ann", "h1:b1", "h1:r1"]),
        ("ann", &ann, &["h1:b1", "h1:b1@cy", "h1:r1@"]),
    ] {
        for name in names {
            let path = format!("/api/sessions/{}", llmux_client::encode_segment(name));
            for (method, tail, body) in [
                (Method::GET, "", json!(null)),
                (Method::POST, "/send", json!({"prompt": format!("{who} was here")})),
                (Method::POST, "/key", json!({"key": "Enter"})),
                (Method::POST, "/stop", json!(null)),
                (Method::DELETE, "", json!(null)),
            ] {
                let body = (!body.is_null())
                    .then(|| (bytes::Bytes::from(body.to_string()), "application/json"));
                let res = client.raw(method.clone(), &format!("{path}{tail}"), body, &[]).await;
                let res = res.unwrap();
                assert_eq!(res.status.as_u16(), 404, "{who}: {method} {name}{tail}");
            }
            let opts = llmux_client::AttachOptions {
                cols: 80,
                rows: 24,
                history: 10,
                read_only: false,
                insecure: false,
            };
            let err = client.attach(name, opts).await.err().expect("attach refused");
            assert_eq!(status(&err), 404, "{who}: attach {name}: {err}");
        }
    }
    for name in ["a1@ann", "b1@cy", "r1", "c0"] {
        let s = h1.client.session(name).await.unwrap();
        assert_eq!(s.status, SessionStatus::Running, "{name}");
        let screen = h1.client.capture(name, 100).await.unwrap().text;
        assert!(!screen.contains("was here"), "{name}: {screen}");
    }

    // unmapped: bob's remote session leaves his view at once, and his reach with it
    hub.cli_ok(&["host", "edit", "h1", "--unmap-user", "bob"]);
    assert!(remote_names(&bob).await.is_empty());
    assert_eq!(status(&bob.session("h1:b1").await.unwrap_err()), 404);
    // ann removes her own
    ann.stop_session("h1:a1").await.unwrap();
    ann.remove_session("h1:a1", false).await.unwrap();
    assert!(h1.client.session("a1@ann").await.is_err());
    drop((hub, h1));
}

/// Over SSH the hub is the host's operator (its socket's uid); a mapped user's request still
/// arrives narrowed to their host user: the session they start is that user's there, and the
/// operator's sessions stay out of their reach.
#[tokio::test]
async fn over_ssh_a_mapped_user_acts_as_their_host_user() {
    need_netns!();
    if !Path::new("/usr/sbin/sshd").exists() {
        eprintln!("skipping: no /usr/sbin/sshd (Debian openssh-server)");
        return;
    }
    let net = Net::new(1);
    let sshd = Sshd::start(&net, 1);
    let h1 = TestDaemon::builder()
        .netns(&net.host(1))
        .server("host: 10.77.1.2")
        .user("ann")
        .start()
        .await;
    let hub = TestDaemon::builder()
        .netns(&net.hub())
        .env("LLMUX_SSH_CONFIG", &sshd.config().display().to_string())
        .user("ann")
        .user("bob")
        .start()
        .await;
    h1.spawn_fake("r1").await;
    let socket = h1.paths.socket.display().to_string();
    hub.cli_ok(&[
        "host",
        "add",
        "s1",
        "--ssh",
        "root@10.77.1.2:22",
        "--socket",
        &socket,
        "--map-same-names",
    ]);
    host_until(&hub, "s1", HostStatus::Up, Duration::from_secs(30)).await;
    let port = bridge(&net.hub()).await;
    let ann = user_client(&hub, port, "ann").await;
    let bob = user_client(&hub, port, "bob").await;
    let cwd = h1.work().display().to_string();
    ann.create_session(&fake_on("s1", "a1", &cwd)).await.unwrap();
    assert_eq!(h1.client.session("a1@ann").await.unwrap().owner, "ann");
    remote_until(&ann, &["s1:a1"]).await;
    // bob maps by name to a host user that does not exist: nothing to see, nothing to start
    remote_until(&bob, &[]).await;
    let err = bob.create_session(&fake_on("s1", "b1", &cwd)).await.unwrap_err();
    assert_eq!(status(&err), 403, "{err}");
    for name in ["s1:r1", "s1:r1@", "s1:a1@ann"] {
        let err = bob.session(name).await.unwrap_err();
        assert!(matches!(status(&err), 403 | 404), "bob: {name}: {err}");
    }
    assert_eq!(status(&ann.session("s1:r1@").await.unwrap_err()), 404);
    attach_and_type(&ann, "s1:a1", "over ssh as ann").await;
    let (_, audit) =
        crate::harness::local(&h1, Method::GET, "/api/audit?limit=50", json!(null)).await;
    let by_ann =
        audit.as_array().unwrap().iter().any(|e| {
            e["action"] == "session_created" && e["actor"] == "local for hub user ann as ann"
        });
    assert!(by_ann, "{audit}");
    drop((hub, h1, sshd));
}
