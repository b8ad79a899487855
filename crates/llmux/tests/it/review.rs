//! Review (issue 18): the diff of what a session's agent changed, from real git repositories
//! made here, through the real daemon; a repository's config never runs a program.

use std::path::{Path, PathBuf};
use std::process::Command;

use hyper::Method;
use llmux_api::{CreateSessionRequest, DiffFile, DiffResponse, FileStatus, LineKind};
use serde_json::{Value, json};

use crate::harness::{TestDaemon, call, local, token, user};

/// Runs git in `dir` with a fixed identity and no system or global config.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(["-c", "user.name=Test", "-c", "user.email=test@example.com"])
        .args(["-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false"])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .expect("run git");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A repository on `main` with a few files committed, then a `feature` branch checked out.
pub fn repo(d: &TestDaemon, name: &str) -> PathBuf {
    let dir = d.work().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    git(&dir, &["init", "-q", "-b", "main"]);
    std::fs::write(dir.join("keep.txt"), "one\ntwo\nthree\n").unwrap();
    std::fs::write(dir.join("gone.txt"), "bye\n").unwrap();
    std::fs::write(dir.join("old name.txt"), "moved\nacross\nthe\ntree\n").unwrap();
    std::fs::write(dir.join("Cargo.lock"), "lock = 1\n").unwrap();
    git(&dir, &["add", "-A"]);
    git(&dir, &["commit", "-q", "-m", "base"]);
    git(&dir, &["checkout", "-q", "-b", "feature"]);
    d.hand_to_daemon(&dir);
    dir
}

async fn session_in(d: &TestDaemon, name: &str, cwd: &Path) {
    let req = CreateSessionRequest {
        agent: "fake".into(),
        name: Some(name.into()),
        cwd: Some(cwd.display().to_string()),
        ..Default::default()
    };
    d.client.create_session(&req).await.expect("create session");
}

async fn diff(d: &TestDaemon, name: &str, query: &str) -> DiffResponse {
    let (status, body) =
        local(d, Method::GET, &format!("/api/sessions/{name}/diff{query}"), Value::Null).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_value(body).unwrap()
}

fn file<'a>(diff: &'a DiffResponse, path: &str) -> &'a DiffFile {
    diff.files.iter().find(|f| f.path == path).unwrap_or_else(|| panic!("no {path} in {diff:#?}"))
}

#[tokio::test]
async fn diff_shows_edits_adds_deletes_renames_binary_in_each_range() {
    let d = TestDaemon::start().await;
    let dir = repo(&d, "repo");
    // committed on the branch: an edit and a rename
    std::fs::write(dir.join("keep.txt"), "one\nTWO\nthree\n").unwrap();
    git(&dir, &["mv", "old name.txt", "new name.txt"]);
    git(&dir, &["commit", "-qam", "edit and rename"]);
    // staged: a deletion and a binary file
    git(&dir, &["rm", "-q", "gone.txt"]);
    std::fs::write(dir.join("img.bin"), [0u8, 1, 2, 0, 255, 0]).unwrap();
    git(&dir, &["add", "img.bin"]);
    // unstaged: an edit; untracked: a new file
    std::fs::write(dir.join("keep.txt"), "one\nTWO\nthree\nfour\n").unwrap();
    std::fs::write(dir.join("brand new.txt"), "hello\nworld\n").unwrap();
    d.hand_to_daemon(&dir);
    session_in(&d, "rev", &dir).await;

    let all = diff(&d, "rev", "").await;
    assert_eq!(all.branch.as_deref(), Some("feature"));
    assert_eq!(all.base.as_deref(), Some("main"));
    assert!(all.merge_base.is_some());
    let keep = file(&all, "keep.txt");
    assert_eq!((keep.status, keep.additions, keep.deletions), (FileStatus::Modified, 2, 1));
    let lines: Vec<(LineKind, Option<u32>, Option<u32>, &str)> = keep.hunks[0]
        .lines
        .iter()
        .map(|l| (l.kind, l.old_line, l.new_line, l.text.as_str()))
        .collect();
    assert_eq!(
        lines,
        vec![
            (LineKind::Context, Some(1), Some(1), "one"),
            (LineKind::Del, Some(2), None, "two"),
            (LineKind::Add, None, Some(2), "TWO"),
            (LineKind::Context, Some(3), Some(3), "three"),
            (LineKind::Add, None, Some(4), "four"),
        ]
    );
    let renamed = file(&all, "new name.txt");
    assert_eq!(renamed.status, FileStatus::Renamed);
    assert_eq!(renamed.old_path.as_deref(), Some("old name.txt"));
    assert_eq!(file(&all, "gone.txt").status, FileStatus::Deleted);
    assert_eq!(file(&all, "gone.txt").deletions, 1);
    let bin = file(&all, "img.bin");
    assert!(bin.binary && bin.hunks.is_empty() && bin.status == FileStatus::Added, "{bin:?}");
    let new = file(&all, "brand new.txt");
    assert!(new.untracked && new.status == FileStatus::Added && new.additions == 2, "{new:?}");
    assert_eq!(all.files.len(), 5, "{all:#?}");

    let staged = diff(&d, "rev", "?range=staged").await;
    let paths: Vec<&str> = staged.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, vec!["gone.txt", "img.bin"]);
    assert!(staged.base.is_none());

    let uncommitted = diff(&d, "rev", "?range=uncommitted").await;
    let mut paths: Vec<&str> = uncommitted.files.iter().map(|f| f.path.as_str()).collect();
    paths.sort();
    assert_eq!(paths, vec!["brand new.txt", "gone.txt", "img.bin", "keep.txt"]);
    assert_eq!(file(&uncommitted, "keep.txt").additions, 1);

    let commits = diff(&d, "rev", "?range=commits").await;
    let mut paths: Vec<&str> = commits.files.iter().map(|f| f.path.as_str()).collect();
    paths.sort();
    assert_eq!(paths, vec!["keep.txt", "new name.txt"]);
    assert_eq!(file(&commits, "keep.txt").additions, 1);

    // an explicit base: the branch's own HEAD leaves only what is not committed
    let head = diff(&d, "rev", "?base=feature").await;
    assert!(head.files.iter().all(|f| f.path != "new name.txt"), "{head:#?}");

    // stat: counts only
    let stat = diff(&d, "rev", "?stat=true").await;
    assert!(stat.files.iter().all(|f| f.hunks.is_empty()));
    assert_eq!(stat.additions, all.additions);

    // the CLI: a unified diff and --stat
    let out = d.cli_ok(&["session", "diff", "rev"]);
    assert!(out.contains("-two\n+TWO\n") && out.contains("+four"), "{out}");
    assert!(out.contains("old name.txt → new name.txt (renamed)"), "{out}");
    let out = d.cli_ok(&["session", "diff", "rev", "--stat", "--commits"]);
    assert!(out.contains("M        +1 -1  keep.txt"), "{out}");
    assert!(out.contains("2 files changed"), "{out}");
    let json: Value =
        serde_json::from_str(&d.cli_ok(&["--json", "session", "diff", "rev"])).unwrap();
    assert_eq!(json["files"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn lock_generated_and_large_files_are_collapsed_until_asked_for() {
    let d = TestDaemon::start().await;
    let dir = repo(&d, "repo");
    std::fs::write(dir.join("Cargo.lock"), "lock = 2\n").unwrap();
    std::fs::write(dir.join(".gitattributes"), "gen/** linguist-generated\n").unwrap();
    std::fs::create_dir_all(dir.join("gen")).unwrap();
    std::fs::write(dir.join("gen/out.js"), "x\n".repeat(10)).unwrap();
    let big: String = (0..5000).map(|i| format!("line {i}\n")).collect();
    std::fs::write(dir.join("big.txt"), big).unwrap();
    d.hand_to_daemon(&dir);
    session_in(&d, "rev", &dir).await;
    let all = diff(&d, "rev", "").await;
    let lock = file(&all, "Cargo.lock");
    assert_eq!(lock.collapsed, Some(llmux_api::Collapsed::Generated));
    assert!(lock.hunks.is_empty());
    assert_eq!(file(&all, "gen/out.js").collapsed, Some(llmux_api::Collapsed::Generated));
    let big = file(&all, "big.txt");
    assert_eq!((big.collapsed, big.additions), (Some(llmux_api::Collapsed::Large), 5000));
    assert!(file(&all, ".gitattributes").collapsed.is_none());
    // asked for alone, a collapsed file comes whole
    let one = diff(&d, "rev", "?path=big.txt").await;
    assert_eq!(one.files.len(), 1);
    assert_eq!(one.files[0].hunks[0].lines.len(), 5000);
}

#[tokio::test]
async fn a_repository_config_never_runs_a_program() {
    let d = TestDaemon::start().await;
    let dir = repo(&d, "repo");
    let marker = d.dir().join("pwned");
    let evil = d.dir().join("evil.sh");
    std::fs::write(&evil, format!("#!/bin/sh\necho \"$0 $*\" >> {}\ncat\n", marker.display()))
        .unwrap();
    std::fs::set_permissions(&evil, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let e = evil.display().to_string();
    for (key, value) in [
        ("diff.external", e.as_str()),
        ("diff.evil.command", e.as_str()),
        ("diff.evil.textconv", e.as_str()),
        ("filter.evil.clean", e.as_str()),
        ("filter.evil.process", e.as_str()),
        ("core.fsmonitor", e.as_str()),
        ("core.pager", e.as_str()),
        ("pager.diff", e.as_str()),
    ] {
        git(&dir, &["config", key, value]);
    }
    std::fs::write(dir.join(".gitattributes"), "* diff=evil filter=evil\n").unwrap();
    std::fs::write(dir.join("keep.txt"), "one\nchanged\nthree\n").unwrap();
    std::fs::write(dir.join("untracked.txt"), "new\n").unwrap();
    d.hand_to_daemon(&dir);
    session_in(&d, "rev", &dir).await;
    for range in ["", "?range=staged", "?range=uncommitted", "?range=commits", "?path=keep.txt"] {
        let all = diff(&d, "rev", range).await;
        if range.is_empty() {
            let keep = file(&all, "keep.txt");
            assert_eq!((keep.additions, keep.deletions), (1, 1), "{keep:?}");
            assert!(file(&all, "untracked.txt").untracked);
        }
    }
    assert!(
        !marker.exists(),
        "a program from the repository's config ran: {:?}",
        std::fs::read_to_string(&marker)
    );
    // the test's own check that the program would run when git is allowed to
    git(&dir, &["diff", "--ext-diff"]);
    assert!(marker.exists(), "the attack program never ran even unguarded");
}

#[tokio::test]
async fn diff_refusals_bad_base_not_a_repository_and_other_users() {
    let d = TestDaemon::start().await;
    let dir = repo(&d, "repo");
    session_in(&d, "rev", &dir).await;
    let plain = d.work().join("plain");
    std::fs::create_dir_all(&plain).unwrap();
    session_in(&d, "plain", &plain).await;
    let (status, body) = local(&d, Method::GET, "/api/sessions/plain/diff", Value::Null).await;
    assert_eq!(status, 409, "{body}");
    assert!(body["error"].as_str().unwrap().contains("not inside a git repository"), "{body}");
    let out = d.cli(&["session", "diff", "plain"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not inside a git repository"));
    for base in ["--output=/tmp/x", "no-such-branch", "a..b", "x%20y"] {
        let (status, body) =
            local(&d, Method::GET, &format!("/api/sessions/rev/diff?base={base}"), Value::Null)
                .await;
        assert_eq!(status, 400, "{base}: {body}");
    }
    assert!(!Path::new("/tmp/x").exists());
    let (status, _) = local(&d, Method::GET, "/api/sessions/ghost/diff", Value::Null).await;
    assert_eq!(status, 404);

    // a non-admin's session: git runs in the sandbox, and reads the repository all the same
    user(&d, "alice", false).await;
    user(&d, "bob", false).await;
    let (alice, _) = token(&d, "alice", "user", None).await;
    let (bob, _) = token(&d, "bob", "user", None).await;
    let body = json!({"agent": "fake", "name": "mine", "cwd": dir});
    let (status, res) = call(&d, &alice, "POST", "/api/sessions", body);
    assert_eq!(status, 201, "{res}");
    std::fs::write(dir.join("keep.txt"), "one\nthree\n").unwrap();
    let (status, res) = call(&d, &alice, "GET", "/api/sessions/mine/diff", Value::Null);
    assert_eq!(status, 200, "{res}");
    assert_eq!(res["name"], "mine");
    assert_eq!(res["files"][0]["path"], "keep.txt");
    assert_eq!(res["deletions"], 1);
    // bob sees no such session
    let (status, _) = call(&d, &bob, "GET", "/api/sessions/mine@alice/diff", Value::Null);
    assert_eq!(status, 404);
}
