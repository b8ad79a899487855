//! Files into a session's workspace (issue 19): where they land and how they are named, the
//! prompt that names them, the admin's limits, names that try to leave the folder, another
//! user's session, and a symlink planted by a process in a confined session.

use std::path::Path;

use bytes::Bytes;
use serde_json::{Value, json};

use crate::harness::http::token;
use crate::harness::{TestDaemon, create_as, http_to};

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR-not-really-but-the-signature-is";

/// `POST /api/sessions/{name}/uploads?filename=…` over TCP with `bearer`; (status, JSON).
fn upload_as(d: &TestDaemon, bearer: &str, name: &str, file: &str, body: &str) -> (u16, Value) {
    let auth = format!("Bearer {bearer}");
    let path = format!("/api/sessions/{name}/uploads?filename={file}");
    let (status, text) = http_to(
        d.port,
        "POST",
        &path,
        &[("Authorization", &auth), ("Content-Type", "application/octet-stream")],
        body,
    );
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The files in `dir` (sorted), hidden ones included.
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|r| r.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

#[tokio::test]
async fn a_file_lands_in_the_sessions_folder_and_is_named_in_a_prompt() {
    let d = TestDaemon::start().await;
    d.spawn_fake("up").await;
    let uploads = d.work().join(".llmux/uploads");

    // Over the API: written whole, named for the agent, kept out of git.
    let up = d.client.upload("up", "Screen Shot 1.png", Bytes::from_static(PNG)).await.unwrap();
    assert_eq!(up.name, "Screen_Shot_1.png");
    assert_eq!(up.relative_path, ".llmux/uploads/Screen_Shot_1.png");
    assert_eq!(up.mention, up.relative_path, "the fake agent takes paths as they are");
    assert_eq!(up.size, PNG.len() as u64);
    assert_eq!(std::fs::read(uploads.join(&up.name)).unwrap(), PNG);
    assert_eq!(Path::new(&up.path), d.work().join(&up.relative_path));
    let ignore = std::fs::read_to_string(d.work().join(".llmux/.gitignore")).unwrap();
    assert!(ignore.lines().any(|l| l == "*"), "{ignore}");

    // The same name again is never replaced: it gets a suffix.
    let again = d.client.upload("up", "Screen Shot 1.png", Bytes::from_static(PNG)).await.unwrap();
    assert_eq!(again.name, "Screen_Shot_1-2.png");

    // The CLI uploads and sends one prompt naming the files; a name with a path is cut to
    // its last part and stays in the folder.
    let notes = d.work().join("notes.txt");
    std::fs::write(&notes, "the log\n").unwrap();
    let out = d.cli_ok(&["session", "upload", "up", notes.to_str().unwrap(), "--prompt", "read"]);
    assert!(out.contains("uploaded") && out.contains(".llmux/uploads/notes.txt"), "{out}");
    d.wait_for_screen("up", "PROMPT[1]: read .llmux/uploads/notes.txt").await;
    let sneaky = d.client.upload("up", "../../../etc/cron.d/x.txt", Bytes::from_static(b"hi"));
    assert_eq!(sneaky.await.unwrap().relative_path, ".llmux/uploads/x.txt");

    // Nothing half-written is left behind, and nothing outside the folder.
    let listed = names_in(&uploads);
    assert_eq!(listed, ["Screen_Shot_1-2.png", "Screen_Shot_1.png", "notes.txt", "x.txt"]);
    assert!(!d.work().join("x.txt").exists());
}

#[tokio::test]
async fn the_admins_limits_refuse_clearly_and_write_nothing() {
    let mut d = TestDaemon::start().await;
    d.add_server_config("uploads: {maxBytes: 64, maxFiles: 2, types: [txt, png]}");
    d.restart().await;
    d.spawn_fake("lim").await;
    let uploads = d.work().join(".llmux/uploads");
    let refused = |r: llmux_client::Result<llmux_api::UploadResponse>| match r {
        Err(llmux_client::Error::Api { status, message, .. }) => (status.as_u16(), message),
        other => panic!("expected a refusal, got {other:?}"),
    };

    let (status, msg) = refused(d.client.upload("lim", "big.txt", vec![b'a'; 65].into()).await);
    assert_eq!(status, 413, "{msg}");
    assert!(msg.contains("64 bytes"), "{msg}");
    let (status, msg) = refused(d.client.upload("lim", "run.sh", "echo".into()).await);
    assert_eq!(status, 400, "{msg}");
    assert!(msg.contains(".sh files are not accepted") && msg.contains("txt, png"), "{msg}");
    let (status, msg) = refused(d.client.upload("lim", "fake.png", "not a png".into()).await);
    assert_eq!(status, 400, "{msg}");
    let (status, _) = refused(d.client.upload("lim", ".bashrc", "x".into()).await);
    assert_eq!(status, 400);
    let (status, _) = refused(d.client.upload("ghost", "a.txt", "x".into()).await);
    assert_eq!(status, 404);
    assert!(names_in(&uploads).iter().all(|n| n.starts_with('.')), "{:?}", names_in(&uploads));

    // Two files fit; the third is refused, and the two stay.
    d.client.upload("lim", "a.txt", "1".into()).await.unwrap();
    d.client.upload("lim", "b.png", Bytes::from_static(PNG)).await.unwrap();
    let (status, msg) = refused(d.client.upload("lim", "c.txt", "3".into()).await);
    assert_eq!(status, 409, "{msg}");
    assert!(msg.contains("full"), "{msg}");
    assert_eq!(names_in(&uploads), ["a.txt", "b.png"], "no part file is left behind");
}

#[tokio::test]
async fn only_the_sessions_owner_uploads_and_a_planted_symlink_leads_nowhere() {
    let d = TestDaemon::builder().user("alice").user_in_default_workspace("bob").start().await;
    let (alice, _) = token(&d, "alice", "user", None).await;
    let (bob, _) = token(&d, "bob", "user", None).await;
    let (status, body) = create_as(&d, &alice, "alices");
    assert_eq!(status, 201, "{body}");

    // Another user's session is not there for bob, and nothing is written.
    let (status, res) = upload_as(&d, &bob, "alices", "x.txt", "from bob");
    assert_eq!(status, 404, "{res}");
    assert!(!d.work().join(".llmux/uploads/x.txt").exists());
    let (status, res) = upload_as(&d, &alice, "alices", "x.txt", "from alice");
    assert_eq!(status, 201, "{res}");

    // bob's confined session. A process in it points `.llmux` at the daemon's state dir
    // (what an agent's tool call could do: the path means nothing inside its sandbox).
    let auth = format!("Bearer {bob}");
    let body = json!({"agent": "fake", "name": "bobs"}).to_string();
    let (status, text) = http_to(
        d.port,
        "POST",
        "/api/sessions",
        &[("Authorization", &auth), ("Content-Type", "application/json")],
        &body,
    );
    assert_eq!(status, 201, "{text}");
    let workspace = d.paths.default_workspace("bob");
    std::os::unix::fs::symlink(&d.paths.state_dir, workspace.join(".llmux")).unwrap();
    let before = names_in(&d.paths.state_dir);

    let (status, res) = upload_as(&d, &bob, "bobs", "config.txt", "pwned");
    assert!(status == 201 || status == 409, "{status} {res}");
    assert_eq!(names_in(&d.paths.state_dir), before, "nothing lands in the daemon's state dir");
    assert!(!d.paths.state_dir.join("uploads").exists());

    // Without the symlink, bob's upload lands in his workspace, written as his session runs.
    std::fs::remove_file(workspace.join(".llmux")).unwrap();
    let (status, res) = upload_as(&d, &bob, "bobs", "config.txt", "fine");
    assert_eq!(status, 201, "{res}");
    assert_eq!(
        std::fs::read_to_string(workspace.join(".llmux/uploads/config.txt")).unwrap(),
        "fine"
    );
}
