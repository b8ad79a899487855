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
    // the actions too: a commit, a discard and a merge are refused while filters exist
    for action in ["commit", "discard"] {
        let body = json!({"message": "m", "confirm": true});
        let (status, res) =
            local(&d, Method::POST, &format!("/api/sessions/rev/review/{action}"), body).await;
        assert_eq!(status, 409, "{action}: {res}");
        assert!(res["error"].as_str().unwrap().contains("filter drivers"), "{res}");
    }
    let (status, res) = local(&d, Method::POST, "/api/sessions/rev/review/merge", json!({})).await;
    assert_eq!(status, 409, "{res}");
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
    // An option as a base would have git write a file: refused before git runs.
    let written = d.dir().join("written-by-git");
    let option = format!("--output={}", written.display());
    for base in [option.as_str(), "no-such-branch", "a..b", "x%20y"] {
        let (status, body) =
            local(&d, Method::GET, &format!("/api/sessions/rev/diff?base={base}"), Value::Null)
                .await;
        assert_eq!(status, 400, "{base}: {body}");
    }
    assert!(!written.exists());
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

async fn add(d: &TestDaemon, body: Value) -> Value {
    let (status, res) = local(d, Method::POST, "/api/sessions/rev/review/comments", body).await;
    assert_eq!(status, 201, "{res}");
    res["comment"].clone()
}

/// The session's screen as one line (the fake agent prints a prompt on one line, which tmux
/// wraps).
async fn screen(d: &TestDaemon, name: &str) -> String {
    d.client.capture(name, 200).await.unwrap().text.replace('\n', "")
}

#[tokio::test]
async fn comments_reach_the_agent_as_one_prompt_and_stay_open_or_resolved() {
    let d = TestDaemon::start().await;
    let dir = repo(&d, "repo");
    std::fs::write(dir.join("keep.txt"), "one\nTWO\nthree\n").unwrap();
    session_in(&d, "rev", &dir).await;
    d.wait_for_screen("rev", "SIZE ").await;
    let one = add(
        &d,
        json!({"path": "keep.txt", "startLine": 2, "code": "TWO", "body": "Why upper case?"}),
    )
    .await;
    let two = add(&d, json!({"path": "keep.txt", "startLine": 1, "endLine": 3, "code": "one\nTWO\nthree", "body": "Add a test for this file."})).await;
    assert_eq!((one["status"].as_str(), one["sentAt"].as_str()), (Some("open"), None));
    assert_eq!(one["author"], "local");
    // refusals
    for (body, want) in [
        (json!({"path": "keep.txt", "startLine": 0, "body": "x"}), 400),
        (json!({"path": "keep.txt", "startLine": 3, "endLine": 2, "body": "x"}), 400),
        (json!({"path": "", "startLine": 1, "body": "x"}), 400),
        (json!({"path": "keep.txt", "startLine": 1, "body": "  "}), 400),
        (json!({"path": "keep.txt", "startLine": 1, "body": "x".repeat(8001)}), 413),
    ] {
        let (status, res) =
            local(&d, Method::POST, "/api/sessions/rev/review/comments", body).await;
        assert_eq!(status, want, "{res}");
    }

    let (status, res) = local(&d, Method::POST, "/api/sessions/rev/review/send", Value::Null).await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(res["sent"], 2);
    let prompt = res["prompt"].as_str().unwrap();
    assert!(prompt.starts_with("Review comments on your changes (2)"), "{prompt}");
    assert!(prompt.contains("1. keep.txt, line 2:\n```\nTWO\n```\nWhy upper case?"), "{prompt}");
    assert!(
        prompt.contains("2. keep.txt, lines 1-3:\n```\none\nTWO\nthree\n```\nAdd a test"),
        "{prompt}"
    );
    // the agent got it as ONE prompt, whole
    d.wait_for_screen("rev", "PROMPT[1]").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut text = screen(&d, "rev").await;
    while !text.contains("Add a test for this file.") && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        text = screen(&d, "rev").await;
    }
    assert!(text.contains("PROMPT[1]: Review comments on your changes (2)"), "{text}");
    assert!(text.contains("keep.txt, line 2:⏎```⏎TWO⏎```⏎Why upper case?"), "{text}");
    assert!(text.contains("Add a test for this file."), "{text}");
    assert!(!text.contains("PROMPT[2]"), "{text}");
    // nothing new to send
    let (status, _) = local(&d, Method::POST, "/api/sessions/rev/review/send", Value::Null).await;
    assert_eq!(status, 409);

    // kept: sent, then resolved or deleted
    let id = one["id"].as_i64().unwrap();
    let (status, res) = local(
        &d,
        Method::PATCH,
        &format!("/api/sessions/rev/review/comments/{id}"),
        json!({"status": "resolved"}),
    )
    .await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(res["comment"]["status"], "resolved");
    let id2 = two["id"].as_i64().unwrap();
    let path = format!("/api/sessions/rev/review/comments/{id2}");
    assert_eq!(local(&d, Method::DELETE, &path, Value::Null).await.0, 200);
    assert_eq!(local(&d, Method::DELETE, &path, Value::Null).await.0, 404);
    let (status, list) =
        local(&d, Method::GET, "/api/sessions/rev/review/comments", Value::Null).await;
    assert_eq!(status, 200);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["status"], "resolved");
    assert!(list[0]["sentAt"].is_string());
    // a rename keeps them; removing the session removes them
    d.cli_ok(&["session", "edit", "rev", "--rename", "rev2"]);
    let (_, list) = local(&d, Method::GET, "/api/sessions/rev2/review/comments", Value::Null).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
}

async fn post(d: &TestDaemon, path: &str, body: Value) -> (u16, Value) {
    local(d, Method::POST, path, body).await
}

#[tokio::test]
async fn commit_push_discard_and_pull_request() {
    let d = TestDaemon::start().await;
    let dir = repo(&d, "repo");
    git(&dir, &["config", "user.name", "Agent"]);
    git(&dir, &["config", "user.email", "agent@example.com"]);
    let remote = d.work().join("remote.git");
    git(&d.work(), &["init", "-q", "--bare", remote.to_str().unwrap()]);
    git(&dir, &["remote", "add", "origin", remote.to_str().unwrap()]);
    std::fs::write(dir.join("keep.txt"), "one\nTWO\nthree\n").unwrap();
    std::fs::write(dir.join("added.txt"), "new\n").unwrap();
    d.hand_to_daemon(&dir);
    session_in(&d, "rev", &dir).await;
    d.wait_for_screen("rev", "SIZE ").await;

    // commit: a message is needed; then every change goes in
    let (status, _) = post(&d, "/api/sessions/rev/review/commit", json!({"message": "  "})).await;
    assert_eq!(status, 400);
    let (status, res) =
        post(&d, "/api/sessions/rev/review/commit", json!({"message": "Upper-case two"})).await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(git(&dir, &["log", "-1", "--format=%s"]).trim(), "Upper-case two");
    assert_eq!(res["commit"].as_str().unwrap(), git(&dir, &["rev-parse", "HEAD"]).trim());
    assert_eq!(git(&dir, &["status", "--porcelain"]), "");
    let (status, res) = post(&d, "/api/sessions/rev/review/commit", json!({"message": "x"})).await;
    assert_eq!(status, 409, "{res}");
    assert!(res["error"].as_str().unwrap().contains("nothing to commit"));
    // or the agent is asked to
    let (status, res) = post(&d, "/api/sessions/rev/review/commit", json!({"ask": true})).await;
    assert_eq!(status, 200, "{res}");
    d.wait_for_screen("rev", "PROMPT[1]: Please commit all of your uncommitted changes").await;

    // push: the branch reaches the remote
    let (status, res) = post(&d, "/api/sessions/rev/review/push", Value::Null).await;
    assert_eq!(status, 200, "{res}");
    let pushed = git(&remote, &["rev-parse", "refs/heads/feature"]);
    assert_eq!(pushed.trim(), git(&dir, &["rev-parse", "HEAD"]).trim());

    // discard: only with confirm; then the working tree is HEAD again
    std::fs::write(dir.join("keep.txt"), "scribbled\n").unwrap();
    std::fs::write(dir.join("junk.txt"), "junk\n").unwrap();
    let (status, _) = post(&d, "/api/sessions/rev/review/discard", json!({})).await;
    assert_eq!(status, 400);
    assert!(dir.join("junk.txt").exists());
    let (status, res) =
        post(&d, "/api/sessions/rev/review/discard", json!({"confirm": true})).await;
    assert_eq!(status, 200, "{res}");
    assert!(!dir.join("junk.txt").exists());
    assert_eq!(std::fs::read_to_string(dir.join("keep.txt")).unwrap(), "one\nTWO\nthree\n");

    // a pull request needs gh or glab
    let (status, res) = post(&d, "/api/sessions/rev/review/pr", json!({})).await;
    if status != 200 {
        assert_eq!(status, 409, "{res}");
        let msg = res["error"].as_str().unwrap();
        assert!(
            msg.contains("gh") && (msg.contains("installed") || msg.contains("signed in")),
            "{msg}"
        );
    }
}

#[tokio::test]
async fn merge_fast_forward_merge_commit_and_conflicts() {
    let d = TestDaemon::start().await;
    // the session on `feature` in the repository's own checkout; `main` checked out nowhere
    let dir = repo(&d, "repo");
    git(&dir, &["config", "user.name", "Agent"]);
    git(&dir, &["config", "user.email", "agent@example.com"]);
    std::fs::write(dir.join("keep.txt"), "one\nTWO\nthree\n").unwrap();
    git(&dir, &["commit", "-qam", "two"]);
    session_in(&d, "ff", &dir).await;
    let (status, res) =
        post(&d, "/api/sessions/ff/review/merge", json!({"mode": "merge-commit", "base": "-x"}))
            .await;
    assert_eq!(status, 400, "{res}");
    let (status, res) = post(&d, "/api/sessions/ff/review/merge", json!({})).await;
    assert_eq!(status, 200, "{res}");
    assert!(res["output"].as_str().unwrap().contains("fast-forward"), "{res}");
    assert_eq!(git(&dir, &["rev-parse", "main"]), git(&dir, &["rev-parse", "feature"]));
    let (status, res) = post(&d, "/api/sessions/ff/review/merge", json!({})).await;
    assert_eq!(status, 409, "{res}");

    // main moved on: ff-only refused, then a merge commit without a checkout
    git(&dir, &["checkout", "-q", "main"]);
    std::fs::write(dir.join("gone.txt"), "changed on main\n").unwrap();
    git(&dir, &["commit", "-qam", "main moves"]);
    git(&dir, &["checkout", "-q", "feature"]);
    std::fs::write(dir.join("added.txt"), "on feature\n").unwrap();
    git(&dir, &["add", "added.txt"]);
    git(&dir, &["commit", "-qm", "feature moves"]);
    let (status, res) = post(&d, "/api/sessions/ff/review/merge", json!({"mode": "ff-only"})).await;
    assert_eq!(status, 409, "{res}");
    assert!(res["error"].as_str().unwrap().contains("no fast-forward"), "{res}");
    let (status, res) = post(&d, "/api/sessions/ff/review/merge", json!({})).await;
    assert_eq!(status, 200, "{res}");
    let parents = git(&dir, &["log", "-1", "--format=%P", "main"]);
    assert_eq!(parents.split_whitespace().count(), 2, "a merge commit: {parents}");
    assert_eq!(git(&dir, &["show", "main:added.txt"]), "on feature\n");
    assert_eq!(git(&dir, &["show", "main:gone.txt"]), "changed on main\n");

    // a session in a worktree of its own; main checked out in the repository: a conflict
    git(&dir, &["checkout", "-q", "main"]);
    let wt = d.work().join("wt");
    git(&dir, &["worktree", "add", "-q", "-b", "topic", wt.to_str().unwrap()]);
    std::fs::write(dir.join("keep.txt"), "one\nzwei\nthree\n").unwrap();
    git(&dir, &["commit", "-qam", "zwei on main"]);
    std::fs::write(wt.join("keep.txt"), "one\ndeux\nthree\n").unwrap();
    git(&wt, &["commit", "-qam", "deux on topic"]);
    d.hand_to_daemon(&d.work());
    session_in(&d, "wt", &wt).await;
    let main_before = git(&dir, &["rev-parse", "main"]);
    let (status, res) = post(&d, "/api/sessions/wt/review/merge", json!({"base": "main"})).await;
    assert_eq!(status, 409, "{res}");
    let msg = res["error"].as_str().unwrap();
    assert!(msg.contains("conflicts in keep.txt") && msg.contains("nothing was merged"), "{msg}");
    assert_eq!(git(&dir, &["rev-parse", "main"]), main_before);
    assert_eq!(git(&dir, &["status", "--porcelain"]), "", "the merge was aborted");
    assert!(!dir.join(".git/MERGE_HEAD").exists());
    // without the conflict, the merge happens in main's checkout
    std::fs::write(wt.join("keep.txt"), "one\nzwei\nthree\n").unwrap();
    std::fs::write(wt.join("topic.txt"), "topic\n").unwrap();
    git(&wt, &["add", "-A"]);
    git(&wt, &["commit", "-qm", "agree with main"]);
    let (status, res) = post(&d, "/api/sessions/wt/review/merge", json!({"base": "main"})).await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(std::fs::read_to_string(dir.join("topic.txt")).unwrap(), "topic\n");
    assert_eq!(git(&dir, &["status", "--porcelain"]), "");
}

#[tokio::test]
async fn the_cli_comments_sends_and_merges() {
    let d = TestDaemon::start().await;
    let dir = repo(&d, "repo");
    git(&dir, &["config", "user.name", "Agent"]);
    git(&dir, &["config", "user.email", "agent@example.com"]);
    session_in(&d, "rev", &dir).await;
    d.wait_for_screen("rev", "SIZE ").await;
    let out =
        d.cli_ok(&["session", "review", "comment", "rev", "keep.txt:1-2", "Please", "rename"]);
    assert!(out.contains("comment #1 on keep.txt:1-2"), "{out}");
    let out = d.cli_ok(&["session", "review", "comments", "rev"]);
    assert!(out.contains("#1 keep.txt:1-2 [not sent] Please rename"), "{out}");
    let out = d.cli_ok(&["session", "review", "send", "rev"]);
    assert!(out.contains("sent 1 comment to rev"), "{out}");
    d.wait_for_screen("rev", "PROMPT[1]: Review comments").await;
    assert!(!d.cli(&["session", "review", "discard", "rev"]).status.success(), "--yes is required");
    let out = d.cli(&["session", "review", "commit", "rev", "-m", "nothing"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to commit"), "{out:?}");
    std::fs::write(dir.join("keep.txt"), "one\n").unwrap();
    d.cli_ok(&["session", "review", "commit", "rev", "-m", "trim"]);
    let out = d.cli_ok(&["session", "review", "merge", "rev", "--ff-only"]);
    assert!(out.contains("fast-forward"), "{out}");
    assert_eq!(git(&dir, &["rev-parse", "main"]), git(&dir, &["rev-parse", "feature"]));
}
