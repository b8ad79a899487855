//! `llmux backup` and `llmux restore` against a real daemon: everything comes back in a new
//! state dir, a backup under write load is a consistent snapshot, and a restore refuses a
//! running daemon, a damaged archive and a newer schema without touching anything.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hyper::Method;
use llmux_api::{CreateSessionRequest, EditSessionRequest, EnvInput};
use llmux_auth::store::AuthStore;
use llmux_core::paths::Paths;
use llmux_core::store::Store;
use serde_json::json;

use crate::harness::{TestDaemon, call, create_as, local, login_cookie, token};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Every file under `dir` (but the runtime dir) with its bytes: what "untouched" compares.
fn snapshot_dir(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for e in entries.flatten() {
            let path = e.path();
            if path == root.join("run") {
                continue;
            }
            let ft = e.file_type().unwrap();
            if ft.is_dir() {
                walk(&path, root, out);
            } else if ft.is_file() {
                out.insert(path.strip_prefix(root).unwrap().into(), std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// Stops `d` for good (SIGTERM, then its tmux server) and removes its state dir: the state
/// dir of a new install, for a restore.
fn stop_and_wipe(d: &mut TestDaemon) {
    d.kill("TERM");
    let _ = d.tmux(&["kill-server"]);
    std::fs::remove_dir_all(&d.paths.state_dir).unwrap();
}

#[tokio::test]
async fn restore_into_a_new_state_dir_brings_back_users_tokens_and_sessions() {
    let d = TestDaemon::builder().admin("alice").user("bob").start().await;
    let (alice_token, _) = token(&d, "alice", "admin", None).await;
    let (bob_token, _) = token(&d, "bob", "user", None).await;
    let (revoked, revoked_id) = token(&d, "bob", "read-only", None).await;
    d.client.revoke_token(&revoked_id).await.unwrap();
    assert_eq!(call(&d, &revoked, "GET", "/api/sessions", json!(null)).0, 401);
    // Sessions with settings: the operator's (env, flags, init prompts), bob's, a stopped one.
    let req = CreateSessionRequest {
        agent: "fake".into(),
        name: Some("keep".into()),
        cwd: Some(d.work().display().to_string()),
        env: Some(EnvInput::Map(BTreeMap::from([("KEEP_ME".into(), "yes please".into())]))),
        flags: Some("--one --two".into()),
        init_prompts: Some(vec!["first words".into()]),
        ..Default::default()
    };
    d.client.create_session(&req).await.unwrap();
    d.spawn_fake("stopped").await;
    d.client
        .edit_session(
            "stopped",
            &EditSessionRequest { init_prompts: Some(vec!["edited".into()]), ..Default::default() },
        )
        .await
        .unwrap();
    d.client.stop_session("stopped").await.unwrap();
    let (status, res) = create_as(&d, &bob_token, "bobs");
    assert_eq!(status, 201, "{res}");
    // A daemon-wide setting kept in the overlay.
    let (status, _) =
        local(&d, Method::PUT, "/api/settings/init-prompts", json!({"initPrompts": ["hi"]})).await;
    assert_eq!(status, 200);
    let users_before = d.client.list_users().await.unwrap();
    let sessions_before = d.client.list_sessions().await.unwrap();
    assert_eq!(sessions_before.len(), 3);
    let vapid = std::fs::read(d.paths.state_dir.join("vapid.key")).unwrap();
    let overlay = std::fs::read(&d.paths.overlay).unwrap();

    // The backup, while the daemon runs.
    let archive = d.dir().join("backup.tar");
    let out = d.cli_ok(&["backup", archive.to_str().unwrap()]);
    assert!(out.contains("llmux.db") && out.contains("vapid.key"), "{out}");
    assert_eq!(mode(&archive), 0o600, "the archive is private");
    let again = d.cli(&["backup", archive.to_str().unwrap()]);
    assert!(!again.status.success());
    assert!(stderr(&again).contains("--force"), "{}", stderr(&again));
    d.cli_ok(&["backup", "--force", archive.to_str().unwrap()]);
    assert_eq!(mode(&archive), 0o600);

    // Not onto a running daemon, and nothing changes there.
    let before = snapshot_dir(&d.paths.state_dir);
    let refused = d.cli(&["restore", "--force", archive.to_str().unwrap()]);
    assert!(!refused.status.success());
    assert!(stderr(&refused).contains("a daemon is running"), "{}", stderr(&refused));
    assert_eq!(
        snapshot_dir(&d.paths.state_dir).keys().collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>()
    );

    // A second install: its own state dir, emptied, restored into.
    let mut e = TestDaemon::start().await;
    e.kill("TERM");
    let refused = e.cli(&["restore", archive.to_str().unwrap()]);
    assert!(stderr(&refused).contains("not empty"), "{}", stderr(&refused));
    stop_and_wipe(&mut e);
    let out = e.cli_ok(&["restore", archive.to_str().unwrap()]);
    assert!(out.contains("restored"), "{out}");
    for file in ["llmux.db", "vapid.key", "overlay.yaml"] {
        assert_eq!(mode(&e.paths.state_dir.join(file)), 0o600, "{file}");
    }
    assert_eq!(std::fs::read(e.paths.state_dir.join("vapid.key")).unwrap(), vapid);
    assert_eq!(std::fs::read(&e.paths.overlay).unwrap(), overlay);
    e.spawn_daemon().await;

    // Every user, with their settings; their passphrases still sign in.
    let users_after = e.client.list_users().await.unwrap();
    // A default workspace lies in the state dir of whichever daemon runs.
    let (from, to) =
        (d.paths.state_dir.display().to_string(), e.paths.state_dir.display().to_string());
    let key = |u: &llmux_api::UserView| {
        let roots: Vec<String> = u.roots.iter().map(|r| r.replace(&from, &to)).collect();
        (u.username.clone(), u.admin, roots, u.max_sessions, u.created_at.clone())
    };
    assert_eq!(
        users_after.iter().map(key).collect::<Vec<_>>(),
        users_before.iter().map(key).collect::<Vec<_>>()
    );
    login_cookie(&e, "bob");
    // Tokens authenticate on the restored daemon; the revoked one stays revoked.
    assert_eq!(call(&e, &alice_token, "GET", "/api/sessions", json!(null)).0, 200);
    let (status, mine) = call(&e, &bob_token, "GET", "/api/sessions", json!(null));
    assert_eq!(status, 200);
    assert_eq!(mine.as_array().map(Vec::len), Some(1), "bob sees his session: {mine}");
    assert_eq!(call(&e, &revoked, "GET", "/api/sessions", json!(null)).0, 401);
    // Every session with its settings (on a new machine nothing runs until restarted).
    let sessions_after = e.client.list_sessions().await.unwrap();
    let key = |s: &llmux_api::SessionView| {
        (
            s.name.clone(),
            s.agent.clone(),
            s.cwd.clone(),
            s.flags.clone(),
            s.env.clone(),
            s.init_prompts.clone(),
            s.owner.clone(),
            s.created_at.clone(),
        )
    };
    assert_eq!(
        sessions_after.iter().map(key).collect::<Vec<_>>(),
        sessions_before.iter().map(key).collect::<Vec<_>>()
    );
    let keep = e.client.restart_session("keep").await.unwrap();
    assert_eq!(keep.env.unwrap().get("KEEP_ME").map(String::as_str), Some("yes please"));
    // The overlay's daemon-wide init prompt first, then the session's own.
    let screen = e.wait_for_screen("keep", "PROMPT[2]: first words").await;
    assert!(screen.contains("PROMPT[1]: hi"), "{screen}");
    let (_, settings) = local(&e, Method::GET, "/api/settings", json!(null)).await;
    assert_eq!(settings["initPrompts"]["value"], json!(["hi"]));
}

// Two workers: the writer goes on while the test blocks on the CLI's backups.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_write_load_is_a_consistent_snapshot() {
    let d = TestDaemon::builder().admin("alice").start().await;
    d.spawn_fake("busy").await;
    let count_tokens = |paths: &Paths| {
        let store = Store::open(&paths.db).unwrap();
        store.list_tokens(None).unwrap().len()
    };
    // Writers: tokens minted one after another (one transaction each), and the session's
    // init prompts rewritten, as fast as the daemon takes them.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let client = d.client.clone();
    let flag = stop.clone();
    let writer = tokio::spawn(async move {
        let mut minted = 0usize;
        while !flag.load(std::sync::atomic::Ordering::Relaxed) {
            let req = llmux_api::CreateTokenRequest {
                username: Some("alice".into()),
                scope: Some(llmux_api::TokenScope::ReadOnly),
                name: Some(format!("load-{minted}")),
                ..Default::default()
            };
            client.create_token(&req).await.unwrap();
            let edit = EditSessionRequest {
                init_prompts: Some(vec![format!("edit {minted}")]),
                ..Default::default()
            };
            client.edit_session("busy", &edit).await.unwrap();
            minted += 1;
        }
        minted
    });
    // Let the load get going, then back up several times while it runs.
    let start = Instant::now();
    while d.client.list_tokens(true).await.unwrap().len() < 5 {
        assert!(start.elapsed() < Duration::from_secs(20), "the writer does not write");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut counts = Vec::new();
    for i in 0..4 {
        let archive = d.dir().join(format!("load-{i}.tar"));
        d.cli_ok(&["backup", archive.to_str().unwrap()]);
        // Each restores and opens as a whole database.
        let into = Paths::in_state_dir(d.dir().join(format!("restored-{i}")));
        llmux_core::backup::restore(&archive, &into, false).unwrap();
        llmux_core::store::backup::check_restorable(&into.db).unwrap();
        let n = count_tokens(&into);
        let store = Store::open(&into.db).unwrap();
        let busy = store.get_session("busy").unwrap().expect("the session is in every backup");
        assert_eq!(busy.init_prompts.len(), 1, "{busy:?}");
        counts.push(n);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let minted = writer.await.unwrap();
    let total = d.client.list_tokens(true).await.unwrap().len();
    assert_eq!(total, minted);
    // Snapshots in order: never fewer than the one before, never more than exist.
    assert!(counts.windows(2).all(|w| w[0] <= w[1]), "{counts:?}");
    assert!(counts[0] >= 5 && *counts.last().unwrap() <= total, "{counts:?} of {total}");
    assert!(counts.last() > counts.first(), "the writes went on during the backups: {counts:?}");
}

#[tokio::test]
async fn a_damaged_or_newer_archive_is_refused_and_the_state_dir_untouched() {
    let mut d = TestDaemon::builder().admin("alice").start().await;
    d.spawn_fake("s").await;
    let archive = d.dir().join("good.tar");
    d.cli_ok(&["backup", archive.to_str().unwrap()]);
    d.kill("TERM");
    let before = snapshot_dir(&d.paths.state_dir);
    let good = std::fs::read(&archive).unwrap();

    // One byte changed in the database's pages; the archive cut short; a stranger's file.
    let mut flipped = good.clone();
    flipped[512 * 3 + 4000] ^= 0x01;
    let cut = good[..good.len() / 2].to_vec();
    let damaged = [("flipped", flipped), ("cut", cut), ("junk", b"not a tar".repeat(100))];
    for (name, bytes) in damaged {
        let path = d.dir().join(format!("{name}.tar"));
        std::fs::write(&path, bytes).unwrap();
        let out = d.cli(&["restore", "--force", path.to_str().unwrap()]);
        assert!(!out.status.success(), "{name} was restored");
        let err = stderr(&out);
        assert!(err.contains("not a usable llmux backup"), "{name}: {err}");
        assert_eq!(snapshot_dir(&d.paths.state_dir), before, "{name} touched the state dir");
        let verify = d.cli(&["restore", "--verify", path.to_str().unwrap()]);
        assert!(!verify.status.success(), "{name} verified");
    }
    assert!(
        stderr(&d.cli(&["restore", "--force", d.dir().join("flipped.tar").to_str().unwrap()]))
            .contains("checksum")
    );

    // A database newer than this llmux: the daemon will not start on it and leaves it be.
    let mut db = std::fs::read(&d.paths.db).unwrap();
    let newer = llmux_core::store::SCHEMA_VERSION as u32 + 1;
    db[60..64].copy_from_slice(&newer.to_be_bytes());
    std::fs::write(&d.paths.db, &db).unwrap();
    let out = d
        .command()
        .args(["server", "start", "--port", "0", "--config"])
        .arg(d.dir().join("config.yaml"))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = format!("{}{}", stderr(&out), String::from_utf8_lossy(&out.stdout));
    assert!(
        text.contains(&format!("schema version {newer}")) && text.contains("newer than this llmux"),
        "{text}"
    );
    assert_eq!(std::fs::read(&d.paths.db).unwrap(), db, "the newer database changed");
    for side in ["llmux.db-wal", "llmux.db-shm"] {
        assert!(!d.paths.state_dir.join(side).exists(), "{side} appeared");
    }
    // Its backup is refused by this llmux's restore, before anything is touched.
    let newer_archive = d.dir().join("newer.tar");
    d.cli_ok(&["backup", newer_archive.to_str().unwrap()]);
    let before = snapshot_dir(&d.paths.state_dir);
    let out = d.cli(&["restore", "--force", newer_archive.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("newer than this"), "{}", stderr(&out));
    assert_eq!(snapshot_dir(&d.paths.state_dir), before);

    // The good archive still restores over it.
    d.cli_ok(&["restore", "--force", archive.to_str().unwrap()]);
    d.spawn_daemon().await;
    assert_eq!(d.client.session("s").await.unwrap().name, "s");
}
