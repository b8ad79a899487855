//! Session worktrees (issue 18): real git repositories made by the tests, a real daemon.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use hyper::Method;
use serde_json::{Value, json};

use crate::harness::{TestDaemon, call, local, token};

/// Runs git in `dir` (as the tests' user) and asserts success; returns stdout, trimmed.
fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=T",
            "-c",
            "user.email=t@example.com",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A repository at `dir` with one commit on `main` (README), a branch `feature` one commit
/// ahead, and `main` checked out.
fn repo(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    git(dir, &["init", "-q"]);
    std::fs::write(dir.join("README"), "one\n").unwrap();
    git(dir, &["add", "README"]);
    git(dir, &["commit", "-qm", "one"]);
    git(dir, &["checkout", "-qb", "feature"]);
    std::fs::write(dir.join("feature.txt"), "f\n").unwrap();
    git(dir, &["add", "feature.txt"]);
    git(dir, &["commit", "-qm", "feature"]);
    git(dir, &["checkout", "-q", "main"]);
    std::fs::write(dir.join("README"), "two\n").unwrap();
    git(dir, &["commit", "-qam", "two"]);
    dir.to_owned()
}

fn branches(dir: &Path) -> Vec<String> {
    git(dir, &["branch", "--format=%(refname:short)"]).lines().map(str::to_owned).collect()
}

/// `POST /api/sessions` over the socket (the local operator) with a `fake` agent.
async fn start(d: &TestDaemon, name: &str, cwd: &Path, worktree: Value) -> (u16, Value) {
    let body = json!({"agent": "fake", "name": name, "cwd": cwd, "worktree": worktree});
    local(d, Method::POST, "/api/sessions", body).await
}

async fn show(d: &TestDaemon, name: &str) -> Value {
    let (status, body) = local(d, Method::GET, &format!("/api/sessions/{name}"), Value::Null).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Polls the session list until `name`'s worktree satisfies `pred`; returns it.
async fn wait_worktree(d: &TestDaemon, name: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, list) = local(d, Method::GET, "/api/sessions", Value::Null).await;
        let found = list.as_array().and_then(|l| l.iter().find(|s| s["name"] == name)).cloned();
        if let Some(w) = found.as_ref().map(|s| s["worktree"].clone())
            && pred(&w)
        {
            return w;
        }
        assert!(Instant::now() < deadline, "{name}'s worktree never matched: {found:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_worktree_from_a_new_branch_a_base_and_an_existing_branch() {
    let d = TestDaemon::start().await;
    let repo = repo(&d.work().join("repo"));
    let main_tip = git(&repo, &["rev-parse", "main"]);

    // The CLI, a new branch named after the session, from the current HEAD (main).
    let cwd = repo.display().to_string();
    let out = d.cli_ok(&["session", "start", "fake", "--name", "wt1", "--cwd", &cwd, "--worktree"]);
    assert!(out.contains("worktree on new branch wt1 (base main)"), "{out}");
    let s = show(&d, "wt1").await;
    let path = repo.join(".worktrees/wt1");
    assert_eq!(s["cwd"], path.display().to_string());
    assert_eq!(s["worktree"]["branch"], "wt1");
    assert_eq!(s["worktree"]["base"], "main");
    assert_eq!(s["worktree"]["createdBranch"], true);
    assert_eq!(s["worktree"]["repo"], repo.display().to_string());
    assert_eq!(git(&path, &["rev-parse", "HEAD"]), main_tip);
    // Kept out of git: the repository stays clean.
    let exclude = std::fs::read_to_string(repo.join(".git/info/exclude")).unwrap();
    assert_eq!(exclude.lines().filter(|l| *l == "/.worktrees/").count(), 1, "{exclude}");
    assert_eq!(git(&repo, &["status", "--porcelain"]), "");
    d.wait_for_screen("wt1", "SIZE ").await;

    // A new branch from --base (a commit behind main).
    let first = git(&repo, &["rev-parse", "main~1"]);
    let (status, body) = start(&d, "wt2", &repo, json!({"branch": "topic", "base": first})).await;
    assert_eq!(status, 201, "{body}");
    let topic = repo.join(".worktrees/wt2");
    assert_eq!(git(&topic, &["rev-parse", "HEAD"]), first);
    assert_eq!(git(&topic, &["branch", "--show-current"]), "topic");
    // The CLI's --base too.
    d.cli_ok(&[
        "session",
        "start",
        "fake",
        "--name",
        "wt4",
        "--cwd",
        &cwd,
        "--worktree",
        "b4",
        "--base",
        "feature",
    ]);
    assert_eq!(
        git(&repo.join(".worktrees/wt4"), &["rev-parse", "HEAD"]),
        git(&repo, &["rev-parse", "feature"])
    );

    // An existing branch: checked out, not made; ahead/behind count against main.
    let (status, body) = start(&d, "wt3", &repo, json!({"branch": "feature"})).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["session"]["worktree"]["createdBranch"], false);
    let w = wait_worktree(&d, "wt3", |w| w["ahead"].is_u64()).await;
    assert_eq!(
        (w["ahead"].as_u64(), w["behind"].as_u64(), w["dirty"].as_bool()),
        (Some(1), Some(1), Some(false))
    );

    // Dirty shows in the list (refreshed, not read per request).
    std::fs::write(path.join("new.txt"), "x").unwrap();
    wait_worktree(&d, "wt1", |w| w["dirty"] == true).await;
    let list = d.cli_ok(&["session", "list"]);
    assert!(list.contains("BRANCH") && list.contains("wt1 +0 -0 dirty"), "{list}");
    let shown = d.cli_ok(&["session", "show", "wt3"]);
    assert!(shown.contains("branch      feature (existing; base main)"), "{shown}");

    // Refusals: a bad branch name, a base that is no commit, a cwd outside any repository.
    let (status, body) = start(&d, "bad1", &repo, json!({"branch": "--force"})).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = start(&d, "bad2", &repo, json!({"base": "no-such-ref"})).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = start(&d, "bad3", &d.work(), json!({})).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("not inside a git repository"), "{body}");
    let (status, body) = start(&d, "wt1b", &repo, json!({"branch": "wt1"})).await;
    assert_eq!(status, 409, "a branch checked out elsewhere: {body}");
    let (_, list) = local(&d, Method::GET, "/api/sessions", Value::Null).await;
    assert_eq!(list.as_array().unwrap().len(), 4, "{list}");
    assert!(!branches(&repo).contains(&"wt1b".to_owned()));
}

#[tokio::test]
async fn files_are_copied_and_the_setup_output_is_kept_and_a_failure_undoes_the_start() {
    let d = TestDaemon::start().await;
    let repo = repo(&d.work().join("repo"));
    std::fs::write(repo.join(".env"), "SECRET=1\n").unwrap();
    std::fs::create_dir(repo.join("conf")).unwrap();
    std::fs::write(repo.join("conf/local.yaml"), "a: 1\n").unwrap();
    std::fs::write(
        repo.join(".llmux.yaml"),
        "worktree:\n  copy: [.env, .env.local, conf/local.yaml]\n  setup: \"echo setup-ran in $(basename \\\"$PWD\\\"); cat .env; echo to-stderr >&2\"\n",
    )
    .unwrap();
    let (status, body) = start(&d, "cp", &repo, json!({})).await;
    assert_eq!(status, 201, "{body}\n{}", d.log());
    let wt = repo.join(".worktrees/cp");
    assert_eq!(std::fs::read_to_string(wt.join(".env")).unwrap(), "SECRET=1\n");
    assert_eq!(std::fs::read_to_string(wt.join("conf/local.yaml")).unwrap(), "a: 1\n");
    assert!(!wt.join(".env.local").exists());
    let output = show(&d, "cp").await["worktree"]["setupOutput"].as_str().unwrap().to_owned();
    assert!(output.contains("setup-ran in cp") && output.contains("SECRET=1"), "{output}");
    assert!(output.contains("to-stderr"), "{output}");
    let shown = d.cli_ok(&["session", "show", "cp"]);
    assert!(shown.contains("setup output") && shown.contains("  setup-ran in cp"), "{shown}");
    // Not in the list: it can be long.
    let (_, list) = local(&d, Method::GET, "/api/sessions", Value::Null).await;
    assert!(list[0]["worktree"].get("setupOutput").is_none(), "{list}");

    // A failing setup (an argv) stops the start with its output; nothing is left.
    std::fs::write(
        repo.join(".llmux.yaml"),
        "worktree:\n  setup: [sh, -c, 'echo half-done; echo broken-dependency >&2; exit 3']\n",
    )
    .unwrap();
    let (status, body) = start(&d, "fails", &repo, json!({})).await;
    assert_eq!(status, 409, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(error.contains("half-done") && error.contains("broken-dependency"), "{error}");
    assert!(!repo.join(".worktrees/fails").exists());
    assert!(!branches(&repo).contains(&"fails".to_owned()), "{:?}", branches(&repo));
    assert!(!git(&repo, &["worktree", "list"]).contains("fails"));
    let (status, _) = local(&d, Method::GET, "/api/sessions/fails", Value::Null).await;
    assert_eq!(status, 404);
    // The CLI says the same.
    let cwd = repo.display().to_string();
    let out = d.cli(&["session", "start", "fake", "--name", "fails", "--cwd", &cwd, "--worktree"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("broken-dependency"));

    // The daemon config's entry for the repository wins over its file.
    std::fs::write(repo.join(".llmux.yaml"), "worktree:\n  setup: [\"false\"]\n").unwrap();
    let mut d = d;
    d.add_config(&format!(
        "worktrees:\n  repos:\n    {:?}:\n      setup: [sh, -c, 'echo from-config']\n      base: feature\n",
        repo.display().to_string()
    ));
    d.restart().await;
    let (status, body) = start(&d, "cfg", &repo, json!({})).await;
    assert_eq!(status, 201, "{body}\n{}", d.log());
    assert_eq!(body["session"]["worktree"]["base"], "feature");
    assert!(body["session"]["worktree"]["setupOutput"].as_str().unwrap().contains("from-config"));
    // Restarting the daemon kept the first worktree session as it was.
    assert_eq!(show(&d, "cp").await["cwd"], wt.display().to_string());
}

#[tokio::test]
async fn copy_entries_that_leave_the_repository_are_refused() {
    let d = TestDaemon::start().await;
    let repo = repo(&d.work().join("repo"));
    std::fs::write(d.work().join("outside.txt"), "outside\n").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", repo.join(".env")).unwrap();
    std::os::unix::fs::symlink(d.work(), repo.join("up")).unwrap();
    for (entry, why) in [
        ("../outside.txt", "goes up"),
        ("/etc/passwd", "is absolute"),
        (".env", "symlink"),
        ("up/outside.txt", "symlink"),
        (".git/config", ".git"),
    ] {
        std::fs::write(repo.join(".llmux.yaml"), format!("worktree:\n  copy: [{entry:?}]\n"))
            .unwrap();
        let (status, body) = start(&d, "esc", &repo, json!({})).await;
        assert_eq!(status, 400, "{entry}: {body}");
        assert!(body["error"].as_str().unwrap().contains(why), "{entry}: {body}");
        assert!(!repo.join(".worktrees/esc").exists(), "{entry}");
        assert!(!branches(&repo).contains(&"esc".to_owned()), "{entry}");
    }
    // A .llmux.yaml that is a symlink is not read.
    std::fs::remove_file(repo.join(".llmux.yaml")).unwrap();
    std::os::unix::fs::symlink(d.paths.db.clone(), repo.join(".llmux.yaml")).unwrap();
    let (status, body) = start(&d, "esc", &repo, json!({})).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("not a symlink"), "{body}");
}

#[tokio::test]
async fn a_worktree_with_work_in_it_is_removed_only_with_force_and_a_branch_choice() {
    let d = TestDaemon::start().await;
    let repo = repo(&d.work().join("repo"));

    // Clean, nothing unmerged: it goes with the session, and its branch too.
    assert_eq!(start(&d, "clean", &repo, json!({})).await.0, 201);
    d.cli_ok(&["session", "rm", "--force", "clean"]);
    assert!(!repo.join(".worktrees/clean").exists());
    assert!(!branches(&repo).contains(&"clean".to_owned()));

    // Dirty: refused (also with --force alone), the session and its files stay.
    assert_eq!(start(&d, "dirty", &repo, json!({})).await.0, 201);
    let wt = repo.join(".worktrees/dirty");
    std::fs::write(wt.join("work.txt"), "precious").unwrap();
    let out = d.cli(&["session", "rm", "--force", "dirty"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("uncommitted changes") && err.contains("--keep-branch"), "{err}");
    assert!(wt.join("work.txt").exists());
    assert_eq!(show(&d, "dirty").await["name"], "dirty");
    let (status, body) =
        local(&d, Method::DELETE, "/api/sessions/dirty?force=true", Value::Null).await;
    assert_eq!(status, 409, "{body}");
    let (status, _) =
        local(&d, Method::DELETE, "/api/sessions/dirty?force=true&branch=maybe", Value::Null).await;
    assert_eq!(status, 400);
    // --keep-branch: the worktree goes, the branch stays.
    git(&wt, &["add", "work.txt"]);
    git(&wt, &["commit", "-qm", "work"]);
    std::fs::write(wt.join("more.txt"), "x").unwrap();
    d.cli_ok(&["session", "rm", "--force", "--keep-branch", "dirty"]);
    assert!(!wt.exists());
    assert!(branches(&repo).contains(&"dirty".to_owned()));
    assert_eq!(git(&repo, &["log", "-1", "--format=%s", "dirty"]), "work");

    // Unmerged commits (clean tree): refused, then --delete-branch over the API.
    assert_eq!(start(&d, "ahead", &repo, json!({})).await.0, 201);
    let wt = repo.join(".worktrees/ahead");
    std::fs::write(wt.join("c.txt"), "c").unwrap();
    git(&wt, &["add", "c.txt"]);
    git(&wt, &["commit", "-qm", "c"]);
    d.cli_ok(&["session", "stop", "ahead"]);
    let (status, body) = local(&d, Method::DELETE, "/api/sessions/ahead", Value::Null).await;
    assert_eq!(status, 409, "{body}");
    assert!(body["error"].as_str().unwrap().contains("1 commit not in main"), "{body}");
    let path = "/api/sessions/ahead?force=true&branch=delete";
    let (status, body) = local(&d, Method::DELETE, path, Value::Null).await;
    assert_eq!(status, 200, "{body}");
    assert!(!wt.exists());
    assert!(!branches(&repo).contains(&"ahead".to_owned()));

    // A worktree deleted by hand: the session still goes, git forgets it.
    assert_eq!(start(&d, "gone", &repo, json!({})).await.0, 201);
    std::fs::remove_dir_all(repo.join(".worktrees/gone")).unwrap();
    d.cli_ok(&["session", "rm", "--force", "gone"]);
    assert!(!git(&repo, &["worktree", "list"]).contains("gone"));
    // `kill` never throws work away either.
    assert_eq!(start(&d, "k", &repo, json!({})).await.0, 201);
    std::fs::write(repo.join(".worktrees/k/w"), "w").unwrap();
    let (status, _) = local(&d, Method::POST, "/api/sessions/k/kill", Value::Null).await;
    assert_eq!(status, 409);
    assert!(repo.join(".worktrees/k/w").exists());
}

#[tokio::test]
async fn rename_moves_the_worktree_and_restarts_keep_it() {
    let mut d = TestDaemon::start().await;
    let repo = repo(&d.work().join("repo"));
    assert_eq!(start(&d, "r1", &repo, json!({})).await.0, 201);
    d.wait_for_screen("r1", "SIZE ").await;
    std::fs::write(repo.join(".worktrees/r1/keep.txt"), "k").unwrap();
    d.cli_ok(&["session", "edit", "r1", "--rename", "r2"]);
    let s = show(&d, "r2").await;
    let moved = repo.join(".worktrees/r2");
    assert_eq!(s["cwd"], moved.display().to_string());
    assert_eq!(s["worktree"]["path"], moved.display().to_string());
    assert_eq!(s["worktree"]["branch"], "r1", "the branch keeps its name");
    assert!(moved.join("keep.txt").exists() && !repo.join(".worktrees/r1").exists());
    assert!(git(&repo, &["worktree", "list"]).contains(&moved.display().to_string()));
    // The agent kept running through the rename.
    assert_eq!(s["status"], "running");

    d.cli_ok(&["session", "restart", "r2"]);
    d.wait_for_screen("r2", &format!("cwd={}", moved.display())).await;
    d.restart().await;
    let s = show(&d, "r2").await;
    assert_eq!(s["worktree"]["path"], moved.display().to_string());
    assert_eq!(s["cwd"], moved.display().to_string());
    // Its status is read again by the new daemon.
    wait_worktree(&d, "r2", |w| w["dirty"] == true).await;
}

/// Started from a folder inside the repository, the session starts in the same folder of its
/// worktree, and keeps it through a rename; a folder the branch does not have (untracked
/// here), or one that is a symlink in the branch, gives the worktree's top.
#[tokio::test]
async fn a_cwd_inside_the_repository_is_the_same_folder_in_the_worktree() {
    let d = TestDaemon::start().await;
    let repo = repo(&d.work().join("repo"));
    std::fs::create_dir_all(repo.join("crates/core")).unwrap();
    std::fs::write(repo.join("crates/core/lib.rs"), "x\n").unwrap();
    git(&repo, &["add", "crates"]);
    git(&repo, &["commit", "-qm", "crates"]);
    // a branch where crates/core is a symlink out of the repository
    git(&repo, &["checkout", "-qb", "linked"]);
    git(&repo, &["rm", "-rq", "crates/core"]);
    std::fs::create_dir_all(repo.join("crates")).unwrap();
    std::os::unix::fs::symlink("/tmp", repo.join("crates/core")).unwrap();
    git(&repo, &["add", "crates/core"]);
    git(&repo, &["commit", "-qm", "linked"]);
    git(&repo, &["checkout", "-q", "main"]);
    std::fs::create_dir_all(repo.join("scratch")).unwrap();

    assert_eq!(start(&d, "sub", &repo.join("crates/core"), json!({})).await.0, 201);
    let inside = repo.join(".worktrees/sub/crates/core");
    assert_eq!(show(&d, "sub").await["cwd"], inside.display().to_string());
    d.wait_for_screen("sub", &format!("cwd={}", inside.display())).await;
    d.cli_ok(&["session", "edit", "sub", "--rename", "sub2"]);
    let moved = repo.join(".worktrees/sub2/crates/core");
    assert_eq!(show(&d, "sub2").await["cwd"], moved.display().to_string());

    assert_eq!(start(&d, "untracked", &repo.join("scratch"), json!({})).await.0, 201);
    let top = repo.join(".worktrees/untracked");
    assert_eq!(show(&d, "untracked").await["cwd"], top.display().to_string());

    let (status, body) =
        start(&d, "linked", &repo.join("crates/core"), json!({"branch": "linked"})).await;
    assert_eq!(status, 201, "{body}");
    let s = show(&d, "linked").await;
    assert_eq!(s["cwd"], repo.join(".worktrees/linked").display().to_string(), "{s}");
}

/// A session started without a worktree moves into one by an edit of its own: made as at
/// start (the same folder of it), the agent restarted there; a second one, or one combined
/// with other changes, is refused and changes nothing.
#[tokio::test]
async fn an_existing_session_moves_into_a_new_worktree() {
    let d = TestDaemon::start().await;
    let repo = repo(&d.work().join("repo"));
    std::fs::create_dir_all(repo.join("src")).unwrap();
    std::fs::write(repo.join("src/main.rs"), "fn main() {}\n").unwrap();
    git(&repo, &["add", "src"]);
    git(&repo, &["commit", "-qm", "src"]);
    let src = repo.join("src").display().to_string();
    d.cli_ok(&["session", "start", "fake", "--name", "later", "--cwd", &src]);
    d.wait_for_screen("later", &format!("cwd={src}")).await;

    // not with other changes; nothing made
    let out = d.cli(&["session", "edit", "later", "--worktree", "--rename", "x"]);
    assert_ne!(out.status.code(), Some(0), "{out:?}");
    let (status, body) = local(
        &d,
        Method::PATCH,
        "/api/sessions/later",
        json!({"worktree": {}, "initPrompts": ["hi"]}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(!repo.join(".worktrees").exists());

    d.cli_ok(&["session", "edit", "later", "--worktree", "moved", "--base", "main"]);
    let inside = repo.join(".worktrees/later/src");
    let s = show(&d, "later").await;
    assert_eq!(s["cwd"], inside.display().to_string(), "{s}");
    assert_eq!(s["worktree"]["branch"], "moved");
    assert_eq!(git(&repo.join(".worktrees/later"), &["branch", "--show-current"]), "moved");
    // the running agent restarted in it
    d.wait_for_screen("later", &format!("cwd={}", inside.display())).await;
    assert_eq!(s["status"], "running");

    // a second worktree: refused
    let (status, body) =
        local(&d, Method::PATCH, "/api/sessions/later", json!({"worktree": {}})).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(show(&d, "later").await["cwd"], inside.display().to_string());
}

/// A non-admin's worktree git and setup run in their sandbox, and nothing of it reaches
/// outside their roots.
#[tokio::test]
async fn a_non_admin_cannot_point_a_worktree_or_a_copy_outside_their_roots() {
    let d = TestDaemon::builder().user("bob").start().await;
    let (bob, _) = token(&d, "bob", "user", None).await;
    let repo = repo(&d.work().join("repo"));
    let state = d.paths.state_dir.display().to_string();
    std::fs::write(
        repo.join(".llmux.yaml"),
        format!(
            "worktree:\n  setup: [sh, -c, 'test -e {state}/llmux.db && echo STATE-VISIBLE || echo STATE-HIDDEN']\n"
        ),
    )
    .unwrap();
    let body = json!({"agent": "fake", "name": "b1", "cwd": repo, "worktree": {}});
    let (status, res) = call(&d, &bob, "POST", "/api/sessions", body);
    assert_eq!(status, 201, "{res}\n{}", d.log());
    let (_, shown) = call(&d, &bob, "GET", "/api/sessions/b1", Value::Null);
    let output = shown["worktree"]["setupOutput"].as_str().unwrap();
    assert!(output.contains("STATE-HIDDEN"), "the setup ran outside the sandbox: {output}");

    // A repository whose top lies outside bob's roots (his root is inside it).
    let outer = d.dir().join("outer");
    let inner = outer.join("granted");
    repo_at_top_with_root_inside(&outer, &inner);
    let (status, _) =
        local(&d, Method::PATCH, "/api/admin/users/bob", json!({"roots": [d.work(), inner]})).await;
    assert_eq!(status, 200);
    let body = json!({"agent": "fake", "name": "b2", "cwd": inner, "worktree": {}});
    let (status, res) = call(&d, &bob, "POST", "/api/sessions", body);
    assert_eq!(status, 400, "{res}");
    assert!(!outer.join(".worktrees").exists());
    assert!(!branches(&outer).contains(&"b2".to_owned()));

    // Copy entries that leave the repository: refused before anything is made.
    for entry in ["../../state/llmux.db", "/etc/shadow"] {
        std::fs::write(repo.join(".llmux.yaml"), format!("worktree:\n  copy: [{entry:?}]\n"))
            .unwrap();
        let body = json!({"agent": "fake", "name": "b3", "cwd": repo, "worktree": {}});
        let (status, res) = call(&d, &bob, "POST", "/api/sessions", body);
        assert_eq!(status, 400, "{entry}: {res}");
    }
    std::fs::remove_file(repo.join(".llmux.yaml")).unwrap();
    std::os::unix::fs::symlink(&d.paths.db, repo.join("db-link")).unwrap();
    std::fs::write(repo.join(".llmux.yaml"), "worktree:\n  copy: [db-link]\n").unwrap();
    let body = json!({"agent": "fake", "name": "b3", "cwd": repo, "worktree": {}});
    let (status, res) = call(&d, &bob, "POST", "/api/sessions", body);
    assert_eq!(status, 400, "{res}");
    assert!(!repo.join(".worktrees/b3").exists());

    // Bob removes his own clean worktree session (git runs as him).
    let (status, res) = call(&d, &bob, "DELETE", "/api/sessions/b1?force=true", Value::Null);
    assert_eq!(status, 200, "{res}");
    assert!(!repo.join(".worktrees/b1@bob").exists());
}

/// A repository at `top` holding the directory `inner`.
fn repo_at_top_with_root_inside(top: &Path, inner: &Path) {
    repo(top);
    std::fs::create_dir_all(inner).unwrap();
}

#[tokio::test]
async fn worktrees_in_the_state_dir_are_refused_to_a_confined_user() {
    let d = TestDaemon::builder().user("bob").start().await;
    let mut d = d;
    d.add_config("worktrees:\n  location: state\n");
    d.restart().await;
    let repo = repo(&d.work().join("repo"));
    // The operator's goes under the state dir.
    let (status, body) = start(&d, "st", &repo, json!({})).await;
    assert_eq!(status, 201, "{body}");
    let path = d.paths.state_dir.join("worktrees/st");
    assert_eq!(body["session"]["cwd"], path.display().to_string());
    assert!(path.join("README").exists());
    // Bob's would be outside his roots.
    let (bob, _) = token(&d, "bob", "user", None).await;
    let body = json!({"agent": "fake", "name": "b", "cwd": repo, "worktree": {}});
    let (status, res) = call(&d, &bob, "POST", "/api/sessions", body);
    assert_eq!(status, 400, "{res}");
    assert!(res["error"].as_str().unwrap().contains("not inside a workspace root"), "{res}");
    assert!(!branches(&repo).contains(&"b".to_owned()));
}
