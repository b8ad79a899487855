//! Attacks: conversations (see the table in the parent module).
//!
//! Finding 7: a non-admin's own session in the same cwd as an admin's listed, resumed and
//! streamed the admin's conversation (Claude Code: every transcript of the cwd is listed;
//! Codex and OpenCode: the live transcript fell back to the newest conversation in the cwd).
//! Here an admin (`root`) and a non-admin (`alice`) each run sessions of `claude` and `codex`
//! (the fake agent under those names on the daemon's PATH) in one directory, and transcripts
//! are written into the daemon's HOME where and how the real CLIs write them. The admin's
//! own view is the positive control: it shows the admin's conversation, so the fixtures
//! parse and alice not seeing it means something.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{TestDaemon, call, fake_agent, token};

/// A daemon whose PATH finds the fake agent as `claude` and `codex`, with an admin `root`
/// and a non-admin `alice`; returns (daemon, bin dir to keep, root's token, alice's token).
async fn daemon() -> (TestDaemon, tempfile::TempDir, String, String) {
    let bin = tempfile::tempdir().unwrap();
    for name in ["claude", "codex"] {
        std::os::unix::fs::symlink(fake_agent(), bin.path().join(name)).unwrap();
    }
    let path = format!("{}:{}", bin.path().display(), std::env::var("PATH").unwrap_or_default());
    let d = TestDaemon::builder().env("PATH", &path).admin("root").user("alice").start().await;
    let (root, _) = token(&d, "root", "admin", None).await;
    let (alice, _) = token(&d, "alice", "user", None).await;
    (d, bin, root, alice)
}

/// Opens `/api/sessions/NAME/transcript/stream` and returns its status and first event's
/// data (`Null` when the status is not 200). HTTP/1.0, so the body is not chunked.
fn first_stream_event(d: &TestDaemon, token: &str, name: &str) -> (u16, Value) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", d.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET /api/sessions/{name}/transcript/stream HTTP/1.0\r\nHost: 127.0.0.1:{}\r\n\
         Authorization: Bearer {token}\r\n\r\n",
        d.port
    )
    .unwrap();
    let mut text = String::new();
    let mut buf = [0u8; 65536];
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let n = s.read(&mut buf).unwrap_or(0);
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
        let status: u16 = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
        if status != 0 && status != 200 {
            return (status, Value::Null);
        }
        if let Some(i) = text.find("event: transcript\ndata: ") {
            let rest = &text[i + "event: transcript\ndata: ".len()..];
            if let Some(end) = rest.find('\n') {
                return (status, serde_json::from_str(&rest[..end]).unwrap());
            }
        }
        assert!(n > 0 && Instant::now() < deadline, "no transcript event: {text}");
    }
}

fn now_rfc3339() -> String {
    llmux_core::time::rfc3339_ms(llmux_core::time::now_ms())
}

/// Appends JSON lines to a file (creating it and its directory).
fn append(path: &Path, lines: &[Value]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap();
    for l in lines {
        writeln!(f, "{l}").unwrap();
    }
}

/// Writes a Claude Code transcript for conversation `id` in `cwd`: one prompt, one reply.
fn claude_transcript(home: &Path, cwd: &str, id: &str, prompt: &str, reply: &str) {
    let dir: String =
        cwd.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    let path = home.join(".claude/projects").join(dir).join(format!("{id}.jsonl"));
    let ts = now_rfc3339();
    append(
        &path,
        &[
            json!({"type": "user", "uuid": format!("{id}-u"), "parentUuid": null, "timestamp": ts,
                   "sessionId": id, "cwd": cwd, "message": {"role": "user", "content": prompt}}),
            json!({"type": "assistant", "uuid": format!("{id}-a"), "parentUuid": format!("{id}-u"),
                   "timestamp": ts, "sessionId": id, "cwd": cwd,
                   "message": {"role": "assistant", "content": [{"type": "text", "text": reply}]}}),
        ],
    );
}

/// Writes a Codex rollout for conversation `id` in `cwd`: the meta line, a prompt, a reply.
fn codex_rollout(home: &Path, cwd: &str, id: &str, prompt: &str, reply: &str) -> PathBuf {
    let path = home
        .join(".codex/sessions/2026/12/03")
        .join(format!("rollout-2026-12-03T21-00-00-{id}.jsonl"));
    let ts = now_rfc3339();
    let message = |role: &str, kind: &str, text: &str| {
        json!({"timestamp": ts, "type": "response_item", "payload": {"type": "message",
               "role": role, "content": [{"type": kind, "text": text}]}})
    };
    append(
        &path,
        &[
            json!({"timestamp": ts, "type": "session_meta", "payload": {"id": id, "cwd": cwd}}),
            message("user", "input_text", prompt),
            message("assistant", "output_text", reply),
        ],
    );
    path
}

/// Alice's agent HOME: her sessions run confined, their agents keep their files there.
fn alice_home(d: &TestDaemon) -> PathBuf {
    d.paths.state_dir.join("homes/alice")
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("a list: {list}"))
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Polls the session's transcript as `token` until it shows a conversation.
fn wait_transcript(d: &TestDaemon, token: &str, name: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, t) =
            call(d, token, "GET", &format!("/api/sessions/{name}/transcript"), Value::Null);
        assert_eq!(status, 200, "{t}");
        if t["conversationId"].is_string() {
            return t;
        }
        assert!(Instant::now() < deadline, "{name} never showed a conversation: {t}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn create(d: &TestDaemon, token: &str, body: Value) -> (u16, Value) {
    call(d, token, "POST", "/api/sessions", body)
}

#[tokio::test]
async fn a_shared_cwd_never_shows_another_users_claude_conversation() {
    let (d, _bin, root, alice) = daemon().await;
    let cwd = d.work().display().to_string();
    let (status, adm) = create(&d, &root, json!({"agent": "claude", "name": "adm", "cwd": cwd}));
    assert_eq!(status, 201, "{adm}");
    let (status, mine) = create(&d, &alice, json!({"agent": "claude", "name": "al", "cwd": cwd}));
    assert_eq!(status, 201, "{mine}");
    let cwd = adm["session"]["cwd"].as_str().unwrap().to_owned();
    let secret = adm["session"]["conversationId"].as_str().expect("llmux chose an id").to_owned();
    let own = mine["session"]["conversationId"].as_str().expect("llmux chose an id").to_owned();
    claude_transcript(&d.home(), &cwd, &secret, "admin question", "ADMIN SECRET reply");
    // Alice's session is confined: her agent writes in her own HOME.
    claude_transcript(&alice_home(&d), &cwd, &own, "alice question", "alice reply");

    // The admin's session sees its own (the fixture parses); alice's is in her HOME.
    let (status, all) = call(&d, &root, "GET", "/api/sessions/adm/conversations", Value::Null);
    assert_eq!(status, 200, "{all}");
    assert_eq!(ids(&all), [secret.as_str()]);
    assert!(wait_transcript(&d, &root, "adm").to_string().contains("ADMIN SECRET"));

    // Alice: her own conversation only, in the list, the transcript and the stream.
    let (status, list) = call(&d, &alice, "GET", "/api/sessions/al/conversations", Value::Null);
    assert_eq!(status, 200, "{list}");
    assert_eq!(ids(&list), [own.as_str()], "alice's history lists only hers");
    let t = wait_transcript(&d, &alice, "al");
    assert_eq!(t["conversationId"], json!(own));
    assert!(t.to_string().contains("alice reply") && !t.to_string().contains("ADMIN SECRET"));
    let (status, event) = first_stream_event(&d, &alice, "al");
    assert_eq!(status, 200);
    assert_eq!(event["conversationId"], json!(own), "{event}");
    assert!(!event.to_string().contains("ADMIN SECRET"));

    // Resuming the admin's conversation: 404 from every door, the same as a made-up id.
    let madeup = "0e0e0e0e-0e0e-4e0e-8e0e-0e0e0e0e0e0e";
    for id in [&secret, &madeup.to_owned()] {
        let body = json!({"conversationId": id});
        let (status, res) = call(&d, &alice, "POST", "/api/sessions/al/resume", body);
        assert_eq!(status, 404, "resume {id}: {res}");
        assert!(res["error"].is_string(), "{res}");
        let (status, res) =
            call(&d, &alice, "PATCH", "/api/sessions/al", json!({"resumeFrom": id}));
        assert_eq!(status, 404, "edit {id}: {res}");
        let body = json!({"agent": "claude", "name": "al-steal", "cwd": cwd, "resumeFrom": id});
        let (status, res) = create(&d, &alice, body);
        assert_eq!(status, 404, "create {id}: {res}");
    }
    let (_, session) = call(&d, &alice, "GET", "/api/sessions/al", Value::Null);
    assert_ne!(session["resumeFrom"], json!(secret), "{session}");
    let (status, _) = call(&d, &alice, "GET", "/api/sessions/al-steal", Value::Null);
    assert_eq!(status, 404, "no session was made");
    // Bad input is still a 400, not a 404.
    let (status, _) = call(&d, &alice, "PATCH", "/api/sessions/al", json!({"resumeFrom": "$(id)"}));
    assert_eq!(status, 400);

    // Her history stays hers after the session is gone: a new session lists it and resumes it.
    let (status, res) = call(&d, &alice, "DELETE", "/api/sessions/al?force=true", Value::Null);
    assert_eq!(status, 200, "{res}");
    let body = json!({"agent": "claude", "name": "al2", "cwd": cwd, "resumeFrom": own});
    let (status, res) = create(&d, &alice, body);
    assert_eq!(status, 201, "{res}");
    let (_, list) = call(&d, &alice, "GET", "/api/sessions/al2/conversations", Value::Null);
    assert_eq!(ids(&list), [own.as_str()]);
    // The admin may still resume anything.
    let body = json!({"conversationId": own});
    let (status, res) = call(&d, &root, "POST", "/api/sessions/adm/resume", body);
    assert_eq!(status, 200, "{res}");
}

#[tokio::test]
async fn codex_newest_in_the_cwd_never_crosses_owners() {
    let (d, _bin, root, alice) = daemon().await;
    let cwd = d.work().display().to_string();
    let (status, adm) = create(&d, &root, json!({"agent": "codex", "name": "adm-cx", "cwd": cwd}));
    assert_eq!(status, 201, "{adm}");
    let (status, res) = create(&d, &alice, json!({"agent": "codex", "name": "al-cx", "cwd": cwd}));
    assert_eq!(status, 201, "{res}");
    let cwd = adm["session"]["cwd"].as_str().unwrap().to_owned();
    assert!(adm["session"]["conversationId"].is_null(), "codex chooses its own ids");

    // The admin's session starts a conversation: the newest in the cwd.
    let secret = "01a21ba0-69c4-7420-93ef-881ce78c68fb";
    codex_rollout(&d.home(), &cwd, secret, "admin codex question", "ADMIN SECRET codex");
    let t = wait_transcript(&d, &root, "adm-cx");
    assert_eq!(t["conversationId"], json!(secret), "the admin sees it (fixture parses)");

    // Alice's session is the other candidate: nothing is shown to her, nothing is hers.
    let (status, t) = call(&d, &alice, "GET", "/api/sessions/al-cx/transcript", Value::Null);
    assert_eq!(status, 200);
    assert!(t["conversationId"].is_null() && !t.to_string().contains("ADMIN SECRET"), "{t}");
    let (status, event) = first_stream_event(&d, &alice, "al-cx");
    assert_eq!(status, 200);
    assert!(event["conversationId"].is_null() && !event.to_string().contains("ADMIN"), "{event}");
    let (_, list) = call(&d, &alice, "GET", "/api/sessions/al-cx/conversations", Value::Null);
    assert_eq!(ids(&list), Vec::<String>::new());
    let body = json!({"conversationId": secret});
    let (status, res) = call(&d, &alice, "POST", "/api/sessions/al-cx/resume", body);
    assert_eq!(status, 404, "{res}");

    // The admin resumes theirs (so it is recorded as the admin's); alice's own next
    // conversation is then hers alone.
    let body = json!({"conversationId": secret});
    let (status, res) = call(&d, &root, "POST", "/api/sessions/adm-cx/resume", body);
    assert_eq!(status, 200, "{res}");
    std::thread::sleep(Duration::from_millis(20));
    let own = "01a21ba1-75fa-7613-a6d7-668de66c1c80";
    codex_rollout(&alice_home(&d), &cwd, own, "alice codex question", "alice codex reply");
    let t = wait_transcript(&d, &alice, "al-cx");
    assert_eq!(t["conversationId"], json!(own), "{t}");
    assert!(t.to_string().contains("alice codex reply") && !t.to_string().contains("ADMIN"));
    let (_, list) = call(&d, &alice, "GET", "/api/sessions/al-cx/conversations", Value::Null);
    assert_eq!(ids(&list), [own.to_owned()]);
    // A stream shows it (the reader of her earlier stream may still be there and answer
    // first with what it last showed; it never showed the admin's).
    let mut stream = Stream::open(&d, &alice, "al-cx");
    let event = stream.until("her conversation", |e| {
        assert!(!e.to_string().contains("ADMIN"), "{e}");
        e["conversationId"] == json!(own)
    });
    assert!(event.to_string().contains("alice codex reply"), "{event}");
    // The admin's session still sees its own only: alice's is in her HOME.
    let (_, list) = call(&d, &root, "GET", "/api/sessions/adm-cx/conversations", Value::Null);
    assert_eq!(ids(&list), [secret.to_owned()], "{list}");
}

/// An open transcript stream (HTTP/1.0: the body is the bare event stream).
struct Stream {
    socket: std::net::TcpStream,
    text: String,
}

impl Stream {
    fn open(d: &TestDaemon, token: &str, name: &str) -> Stream {
        let mut socket = std::net::TcpStream::connect(("127.0.0.1", d.port)).unwrap();
        socket.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        write!(
            socket,
            "GET /api/sessions/{name}/transcript/stream HTTP/1.0\r\nHost: 127.0.0.1:{}\r\n\
             Authorization: Bearer {token}\r\n\r\n",
            d.port
        )
        .unwrap();
        Stream { socket, text: String::new() }
    }

    /// The next event's data that satisfies `want` (earlier events are skipped).
    fn until(&mut self, what: &str, want: impl Fn(&Value) -> bool) -> Value {
        const MARK: &str = "event: transcript\ndata: ";
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut buf = [0u8; 65536];
        loop {
            while let Some(i) = self.text.find(MARK) {
                let Some(end) = self.text[i + MARK.len()..].find('\n') else { break };
                let data = self.text[i + MARK.len()..i + MARK.len() + end].to_owned();
                self.text.drain(..i + MARK.len() + end);
                let v: Value = serde_json::from_str(&data).unwrap();
                if want(&v) {
                    return v;
                }
            }
            assert!(Instant::now() < deadline, "no event with {what}; have {:?}", self.text);
            if let Ok(n) = self.socket.read(&mut buf) {
                assert!(n > 0, "the stream ended");
                self.text.push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        }
    }
}

fn turns(v: &Value) -> usize {
    v["turns"].as_array().map_or(0, Vec::len)
}

/// Finding 8: viewers of one transcript share its reader, which hands them what the agent
/// appends (and starts over when the file is replaced), in the unchanged wire format.
#[tokio::test]
async fn transcript_viewers_see_appends_and_rewrites() {
    let (d, _bin, root, alice) = daemon().await;
    let cwd = d.work().display().to_string();
    let (status, s) = create(&d, &alice, json!({"agent": "claude", "name": "al", "cwd": cwd}));
    assert_eq!(status, 201, "{s}");
    let cwd = s["session"]["cwd"].as_str().unwrap().to_owned();
    let id = s["session"]["conversationId"].as_str().unwrap().to_owned();
    claude_transcript(&alice_home(&d), &cwd, &id, "first question", "first reply");
    // Alice names her session short; the admin names it in full.
    let mut viewers: Vec<Stream> = [(&alice, "al"), (&alice, "al"), (&root, "al@alice")]
        .iter()
        .map(|(t, name)| Stream::open(&d, t, name))
        .collect();
    for v in &mut viewers {
        let first = v.until("2 turns", |e| turns(e) == 2);
        assert_eq!(first["supported"], json!(true));
        assert_eq!(first["conversationId"], json!(id));
    }
    claude_transcript(&alice_home(&d), &cwd, &id, "second question", "second reply");
    for v in &mut viewers {
        let e = v.until("4 turns", |e| turns(e) == 4);
        assert_eq!(e["turns"][3]["parts"][0]["text"], json!("second reply"), "{e}");
    }
    // The file replaced by a shorter one: read again from its start.
    let dir: String =
        cwd.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    let path = alice_home(&d).join(".claude/projects").join(dir).join(format!("{id}.jsonl"));
    let tmp = path.with_extension("tmp");
    std::fs::copy(&path, &tmp).unwrap();
    let text = std::fs::read_to_string(&tmp).unwrap();
    std::fs::write(&tmp, text.lines().next().unwrap().to_owned() + "\n").unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    for v in &mut viewers {
        v.until("1 turn", |e| turns(e) == 1);
    }
    // Gone with its session: the streams end.
    let (status, _) = call(&d, &alice, "DELETE", "/api/sessions/al?force=true", Value::Null);
    assert_eq!(status, 200);
    for v in &mut viewers {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut buf = [0u8; 4096];
        loop {
            match v.socket.read(&mut buf) {
                Ok(0) => break,
                _ => assert!(Instant::now() < deadline, "the stream did not end"),
            }
        }
    }
}

/// Finding (issue 13): the chat view showed replies as raw markdown; now the server renders it
/// to HTML, the one markup the web UI inserts. A reply carries whatever the agent read (a web
/// page, a file an attacker wrote), so nothing of its own markup may survive: no script, no
/// element with a handler, no `javascript:` or relative link, no image (nothing is fetched),
/// no raw HTML block. Checked on the API output, from the transcript and from its stream.
#[tokio::test]
async fn an_agents_markup_never_survives_into_the_rendered_html() {
    const REPLY: &str = "## Plan\n\n- one\n- two\n\n```sh\nrm -rf build\n```\n\n\
        | a | b |\n|---|---|\n| 1 | 2 |\n\nUse `cargo` **now**.\n\n\
        <script>alert(1)</script>\n\n<img src=x onerror=alert(2)>\n\n\
        [click](javascript:alert(3)) [home](/api/tokens) [ok](https://example.com/docs)\n\n\
        <div onclick=\"alert(4)\">\n<iframe src=\"https://evil.example\"></iframe>\n</div>\n\n\
        inline <svg onload=alert(5)></svg> and <a href=\"javascript:alert(6)\">raw</a>\n\n\
        ![pixel](https://evil.example/track.png)\n";
    let (d, _bin, root, _alice) = daemon().await;
    let cwd = d.work().display().to_string();
    let (status, s) = create(&d, &root, json!({"agent": "claude", "name": "md", "cwd": cwd}));
    assert_eq!(status, 201, "{s}");
    let cwd = s["session"]["cwd"].as_str().unwrap().to_owned();
    let id = s["session"]["conversationId"].as_str().expect("llmux chose an id").to_owned();
    claude_transcript(&d.home(), &cwd, &id, "<b>hi</b> **there**", REPLY);
    let polled = wait_transcript(&d, &root, "md");
    let (status, streamed) = first_stream_event(&d, &root, "md");
    assert_eq!(status, 200);
    for t in [polled, streamed] {
        let turns = t["turns"].as_array().unwrap_or_else(|| panic!("turns: {t}"));
        assert_eq!(turns.len(), 2, "{t}");
        // The person's text is not rendered; the reply keeps its raw `text` (wire compatible).
        assert_eq!(turns[0]["parts"][0], json!({"kind": "text", "text": "<b>hi</b> **there**"}));
        let part = &turns[1]["parts"][0];
        assert_eq!(part["text"], json!(REPLY), "{part}");
        let html = part["html"].as_str().unwrap_or_else(|| panic!("an html field: {part}"));
        // The markdown is rendered.
        for want in [
            "<h2>Plan</h2>",
            "<li>one</li>",
            "<pre><code>rm -rf build\n</code></pre>",
            "<th>a</th>",
            "<td>2</td>",
            "<code>cargo</code>",
            "<strong>now</strong>",
        ] {
            assert!(html.contains(want), "{want} missing from {html}");
        }
        // Only the allow-listed tags and attributes, every one the renderer's own.
        for (tag, attrs) in tags(html) {
            const ALLOWED: &[&str] = &[
                "p", "h2", "ul", "li", "pre", "code", "table", "thead", "tbody", "tr", "th", "td",
                "strong", "a",
            ];
            assert!(ALLOWED.contains(&tag.as_str()), "<{tag}> survived: {html}");
            for a in attrs {
                assert!(["href", "target", "rel"].contains(&a.as_str()), "{a} on <{tag}>: {html}");
            }
        }
        // Links: only the https one keeps its href; every link opens a new tab, no referrer.
        let hrefs: Vec<&str> = html.split("<a ").skip(1).collect();
        assert_eq!(hrefs.len(), 4, "click, home, ok and the image's link: {html}");
        for a in &hrefs {
            assert!(a.contains("target=\"_blank\" rel=\"noopener noreferrer nofollow\""), "{a}");
            assert!(!a.contains("href=") || a.starts_with("href=\"https://"), "{a}");
        }
        assert!(html.contains("<a href=\"https://example.com/docs\""), "{html}");
        // The image is a link to it, not an image: nothing is fetched by showing the reply.
        assert!(html.contains("<a href=\"https://evil.example/track.png\""), "{html}");
        // The agent's raw HTML shows as the text it is.
        for escaped in [
            "&lt;script&gt;alert(1)&lt;/script&gt;",
            "&lt;img src=x onerror=alert(2)&gt;",
            "&lt;iframe src=\"https://evil.example\"&gt;",
            "&lt;svg onload=alert(5)&gt;",
        ] {
            assert!(html.contains(escaped), "{escaped} missing from {html}");
        }
    }
}

/// Every tag in `html` as (name, attribute names); quoted values skipped.
fn tags(html: &str) -> Vec<(String, Vec<String>)> {
    html.split('<')
        .skip(1)
        .map(|t| {
            let t = &t[..t.find('>').expect("a tag ends")];
            let t: String = t.split('"').step_by(2).collect();
            let mut words = t.trim_start_matches('/').split_whitespace();
            let name = words.next().unwrap_or_default().to_owned();
            (name, words.map(|a| a.split('=').next().unwrap_or_default().to_owned()).collect())
        })
        .collect()
}

/// Issue 15, existing installs: alice's session ran unconfined (she was an admin) and her
/// conversation is in the daemon's HOME; once she is not an admin, its restart moves it into
/// the sandbox and takes her conversation along: still listed and read, and resumable by her
/// agent in its new HOME. The admin's conversation in the same cwd stays behind.
#[tokio::test]
async fn a_session_moving_into_the_sandbox_keeps_its_owners_history() {
    let (d, _bin, root, alice) = daemon().await;
    let admin = |on: bool| json!({"admin": on});
    let (status, res) = call(&d, &root, "PATCH", "/api/admin/users/alice", admin(true));
    assert_eq!(status, 200, "{res}");
    let cwd = d.work().display().to_string();
    let (status, mine) = create(&d, &alice, json!({"agent": "claude", "name": "al", "cwd": cwd}));
    assert_eq!(status, 201, "{mine}");
    assert_eq!(mine["session"]["confined"], false);
    let (status, adm) = create(&d, &root, json!({"agent": "claude", "name": "adm", "cwd": cwd}));
    assert_eq!(status, 201, "{adm}");
    let cwd = mine["session"]["cwd"].as_str().unwrap().to_owned();
    let own = mine["session"]["conversationId"].as_str().unwrap().to_owned();
    let secret = adm["session"]["conversationId"].as_str().unwrap().to_owned();
    claude_transcript(&d.home(), &cwd, &own, "alice question", "alice reply");
    claude_transcript(&d.home(), &cwd, &secret, "admin question", "ADMIN SECRET reply");

    let (status, res) = call(&d, &root, "PATCH", "/api/admin/users/alice", admin(false));
    assert_eq!(status, 200, "{res}");
    let (status, res) = call(&d, &alice, "POST", "/api/sessions/al/respawn", Value::Null);
    assert_eq!(status, 200, "{res}");
    assert_eq!(res["session"]["confined"], true, "{res}");
    let (status, list) = call(&d, &alice, "GET", "/api/sessions/al/conversations", Value::Null);
    assert_eq!(status, 200, "{list}");
    assert_eq!(ids(&list), [own.as_str()], "hers came along, the admin's did not");
    // The restart began a new conversation; she resumes the old one, now in her HOME.
    let body = json!({"conversationId": own});
    let (status, res) = call(&d, &alice, "POST", "/api/sessions/al/resume", body);
    assert_eq!(status, 200, "{res}");
    let t = wait_transcript(&d, &alice, "al");
    assert_eq!(t["conversationId"], json!(own), "{t}");
    assert!(t.to_string().contains("alice reply"), "{t}");
    let dir: String =
        cwd.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    let projects = alice_home(&d).join(".claude/projects").join(dir);
    assert!(projects.join(format!("{own}.jsonl")).is_file());
    assert!(!projects.join(format!("{secret}.jsonl")).exists());
}
