//! Per-user isolation settings an admin controls (issue 15): the workspace roots granted to a
//! user's confined sessions and their session limit, over the API and the CLI; who may change
//! them; bad roots; the limit at session creation; and no non-admin where the sandbox cannot
//! run.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hyper::Method;
use llmux_client::Client;
use llmux_core::paths::Paths;
use serde_json::{Value, json};

use crate::harness::{TestDaemon, body_of, call, create_as, local, login_cookie, token};

/// `PATCH /api/admin/users/{username}` over TCP with `bearer`.
fn patch(d: &TestDaemon, bearer: &str, username: &str, body: Value) -> (u16, Value) {
    call(d, bearer, "PATCH", &format!("/api/admin/users/{username}"), body)
}

/// The user `username` as `GET /api/admin/users` shows it to the local operator.
async fn shown(d: &TestDaemon, username: &str) -> Value {
    let (status, users) = local(d, Method::GET, "/api/admin/users", Value::Null).await;
    assert_eq!(status, 200, "{users}");
    users.as_array().unwrap().iter().find(|u| u["username"] == username).cloned().unwrap()
}

/// A directory `name` in the test's temp dir, by its resolved path.
fn folder(d: &TestDaemon, name: &str) -> String {
    let path = d.dir().join(name);
    std::fs::create_dir_all(&path).unwrap();
    path.canonicalize().unwrap().display().to_string()
}

/// Runs the CLI; returns (exit code, stdout, stderr).
fn cli(d: &TestDaemon, args: &[&str]) -> (Option<i32>, String, String) {
    let out = d.cli(args);
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
    (out.status.code(), text(out.stdout), text(out.stderr))
}

#[tokio::test]
async fn admins_set_roots_and_limits_over_the_api_and_the_cli() {
    let d = TestDaemon::builder().admin("root").user_in_default_workspace("bob").start().await;
    let (root, _) = token(&d, "root", "admin", None).await;
    let default = d.paths.default_workspace("bob").display().to_string();

    // Every user shows both settings: the effective roots and `null` for no limit.
    let bob = shown(&d, "bob").await;
    assert_eq!(bob["roots"], json!([default]), "{bob}");
    assert!(bob.as_object().unwrap().contains_key("maxSessions") && bob["maxSessions"].is_null());

    // Roots are stored resolved (symlinks, `.`, `..`), once each.
    let (a, b) = (folder(&d, "proj-a"), folder(&d, "proj-b"));
    std::os::unix::fs::symlink(&a, d.dir().join("link")).unwrap();
    let link = d.dir().join("link").display().to_string();
    let body =
        json!({"roots": [format!("{a}/."), link, format!("{b}/../proj-b")], "maxSessions": 2});
    let (status, res) = patch(&d, &root, "bob", body);
    assert_eq!(status, 200, "{res}");
    assert_eq!((&res["user"]["roots"], &res["user"]["maxSessions"]), (&json!([a, b]), &json!(2)));
    let bob = shown(&d, "bob").await;
    assert_eq!((&bob["roots"], &bob["maxSessions"]), (&json!([a, b]), &json!(2)));
    // Absent fields are kept.
    let (status, res) = patch(&d, &root, "bob", json!({"name": "Bob"}));
    assert_eq!(status, 200, "{res}");
    assert_eq!((&res["user"]["roots"], &res["user"]["maxSessions"]), (&json!([a, b]), &json!(2)));
    // `null` lifts the limit, `[]` restores the default workspace.
    let (status, res) = patch(&d, &root, "bob", json!({"roots": [], "maxSessions": null}));
    assert_eq!(status, 200, "{res}");
    let bob = shown(&d, "bob").await;
    assert_eq!((&bob["roots"], &bob["maxSessions"]), (&json!([default]), &Value::Null));

    // The audit log says what changed.
    let (_, audit) = local(&d, Method::GET, "/api/audit", Value::Null).await;
    let details: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "user_updated" && e["target"] == "bob")
        .map(|e| e["detail"].as_str().unwrap())
        .collect();
    assert_eq!(
        details,
        [format!("maxSessions=2, roots={a}:{b}").as_str(), "maxSessions=none, roots=default"]
    );

    // The CLI: relative roots are taken from its cwd (the work dir).
    let (code, out, err) = cli(
        &d,
        &["user", "edit", "bob", "--root", "../proj-a", "--root", &b, "--max-sessions", "5"],
    );
    assert_eq!((code, err.as_str()), (Some(0), ""), "{out}");
    assert_eq!(out, format!("bob: roots {a}, {b}; at most 5 sessions\n"));
    let bob = shown(&d, "bob").await;
    assert_eq!((&bob["roots"], &bob["maxSessions"]), (&json!([a, b]), &json!(5)));
    let table = d.cli_ok(&["user", "list"]);
    let lines: Vec<&str> = table.lines().collect();
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        ["USERNAME", "NAME", "ADMIN", "MAX", "SESSIONS", "MEMORY/SESSION", "CREATED", "ROOTS"]
    );
    let bob_line = lines.iter().find(|l| l.starts_with("bob ")).unwrap();
    let cells: Vec<&str> = bob_line.split_whitespace().collect();
    assert_eq!(cells[..4], ["bob", "Bob", "-", "5"], "{table}");
    assert!(bob_line.ends_with(&format!("{a}, {b}")), "{table}");
    let root_line = lines.iter().find(|l| l.starts_with("root ")).unwrap();
    assert_eq!(root_line.split_whitespace().nth(3), Some("-"), "no limit: {table}");
    let json: Value = serde_json::from_str(&d.cli_ok(&["user", "list", "--json"])).unwrap();
    let bob = json.as_array().unwrap().iter().find(|u| u["username"] == "bob").unwrap();
    assert_eq!((&bob["roots"], &bob["maxSessions"]), (&json!([a, b]), &json!(5)));

    let (code, out, err) =
        cli(&d, &["user", "edit", "bob", "--default-roots", "--no-session-limit"]);
    assert_eq!((code, err.as_str()), (Some(0), ""), "{out}");
    assert_eq!(out, format!("bob: roots {default}; no session limit\n"));
    let (code, out, _) = cli(&d, &["user", "edit", "bob", "--max-sessions", "1", "--json"]);
    assert_eq!(code, Some(0));
    let edited: Value = serde_json::from_str(&out).unwrap();
    assert_eq!((&edited["roots"], &edited["maxSessions"]), (&json!([default]), &json!(1)));
}

#[tokio::test]
async fn the_openapi_document_describes_both_settings() {
    let d = TestDaemon::start().await;
    let (status, doc) = local(&d, Method::GET, "/api/openapi.json", Value::Null).await;
    assert_eq!(status, 200);
    let schemas = &doc["components"]["schemas"];
    let view = &schemas["UserView"];
    let required: Vec<&str> =
        view["required"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(required.contains(&"roots") && required.contains(&"maxSessions"), "{view}");
    assert_eq!(view["properties"]["roots"]["items"]["type"], "string");
    assert_eq!(view["properties"]["maxSessions"]["type"], json!(["integer", "null"]));
    let update = &schemas["UpdateUserRequest"]["properties"];
    assert_eq!(update["roots"]["maxItems"], 16);
    assert_eq!(update["maxSessions"]["type"], json!(["integer", "null"]));
    assert_eq!(
        (&update["maxSessions"]["minimum"], &update["maxSessions"]["maximum"]),
        (&json!(1), &json!(1000))
    );
}

#[tokio::test]
async fn only_admins_change_them() {
    let d = TestDaemon::builder().admin("root").user_in_default_workspace("bob").start().await;
    let (bob, _) = token(&d, "bob", "user", None).await;
    let (root_read_only, _) = token(&d, "root", "read-only", None).await;
    let (root_user_scope, _) = token(&d, "root", "user", None).await;
    let dir = folder(&d, "proj");
    let change = json!({"roots": [dir], "maxSessions": 9});
    for (who, bearer, message) in [
        ("bob", &bob, "admin only"),
        ("a read-only token of an admin", &root_read_only, "this token is read-only"),
        ("a user-scope token of an admin", &root_user_scope, "admin only"),
    ] {
        let (status, res) = patch(&d, bearer, "bob", change.clone());
        assert_eq!((status, res["error"].as_str()), (403, Some(message)), "{who}: {res}");
    }
    // A non-admin's browser, too.
    let cookie = format!("llmux_session={}", login_cookie(&d, "bob"));
    let origin = format!("http://127.0.0.1:{}", d.port);
    let headers =
        [("Cookie", cookie.as_str()), ("Content-Type", "application/json"), ("Origin", &origin)];
    let (status, res) = d.http("PATCH", "/api/admin/users/bob", &headers, &change.to_string());
    assert_eq!((status, body_of(&res)["error"].as_str()), (403, Some("admin only")), "{res}");
    // And the CLI with bob's token says so.
    let url = format!("http://127.0.0.1:{}", d.port);
    let (code, out, err) =
        cli(&d, &["--server", &url, "--token", &bob, "user", "edit", "bob", "--max-sessions", "9"]);
    assert_eq!((code, out.as_str(), err.as_str()), (Some(1), "", "llmux: admin only\n"));
    let shown = shown(&d, "bob").await;
    assert_eq!(shown["maxSessions"], Value::Null, "nothing changed: {shown}");
    assert_eq!(shown["roots"], json!([d.paths.default_workspace("bob")]), "{shown}");
}

#[tokio::test]
async fn bad_roots_and_limits_get_400_naming_the_path() {
    let d = TestDaemon::builder().admin("root").user_in_default_workspace("bob").start().await;
    let (root, _) = token(&d, "root", "admin", None).await;
    let good = folder(&d, "proj");
    std::fs::write(d.dir().join("file"), "x").unwrap();
    let file = d.dir().join("file").canonicalize().unwrap().display().to_string();
    let missing = format!("{good}/missing");
    let state = d.paths.state_dir.canonicalize().unwrap().display().to_string();
    let run = d.paths.run_dir.canonicalize().unwrap().display().to_string();
    std::fs::create_dir_all(d.paths.state_dir.join("workspaces")).unwrap();
    let cases = [
        ("proj".to_owned(), "is not an absolute path"),
        (missing.clone(), "does not exist"),
        (file.clone(), "is not a directory"),
        ("/".to_owned(), "is the whole filesystem"),
        ("/proc/self".to_owned(), "lies in /proc"),
        ("/dev/shm".to_owned(), "lies in /dev"),
        ("/sys/kernel".to_owned(), "lies in /sys"),
        (state.clone(), "is or contains the daemon's state directory"),
        (format!("{state}/.."), "is or contains the daemon's state directory"),
        (run.clone(), "is or contains the daemon's runtime directory"),
        (format!("{state}/workspaces"), "lies inside the daemon's state directory"),
    ];
    for (root_path, why) in &cases {
        let (status, res) = patch(&d, &root, "bob", json!({"roots": [good, root_path]}));
        let message = res["error"].as_str().unwrap_or_default();
        assert_eq!(status, 400, "{root_path}: {res}");
        assert!(message.contains(&format!("{root_path:?}")), "names the path: {message}");
        assert!(message.contains(why), "{root_path}: {message}");
    }
    let many: Vec<&str> = (0..17).map(|_| good.as_str()).collect();
    let (status, res) = patch(&d, &root, "bob", json!({ "roots": many }));
    assert_eq!(status, 400, "{res}");
    assert!(res["error"].as_str().unwrap().contains("at most 16"), "{res}");
    for bad in [json!(0), json!(1001)] {
        let (status, res) = patch(&d, &root, "bob", json!({ "maxSessions": bad }));
        assert_eq!(status, 400, "{res}");
        assert!(res["error"].as_str().unwrap().contains("1-1000"), "{res}");
    }
    for bad in [json!(-1), json!("3"), json!(2.5)] {
        let (status, res) = patch(&d, &root, "bob", json!({ "maxSessions": bad }));
        assert_eq!(status, 400, "{bad}: {res}");
    }
    // Nothing changed.
    let bob = shown(&d, "bob").await;
    assert_eq!(
        (&bob["roots"], &bob["maxSessions"]),
        (&json!([d.paths.default_workspace("bob")]), &Value::Null)
    );

    // The CLI prints the daemon's message.
    let (code, out, err) = cli(&d, &["user", "edit", "bob", "--root", &missing]);
    assert_eq!(
        (code, out.as_str(), err),
        (Some(1), "", format!("llmux: workspace root {missing:?} does not exist\n"))
    );
    let (code, _, err) = cli(&d, &["user", "edit", "bob", "--max-sessions", "0"]);
    assert_eq!(code, Some(1));
    assert_eq!(err, "llmux: maxSessions must be 1-1000 (or null for no limit), not 0\n");
}

#[tokio::test]
async fn the_session_limit_refuses_the_one_over_it() {
    let d = TestDaemon::builder()
        .admin("root")
        .user_in_default_workspace("bob")
        .user("ann")
        .start()
        .await;
    let work = d.work().canonicalize().unwrap().display().to_string();
    // Bob's sessions run in the work dir, so it is granted to him.
    d.cli_ok(&["user", "edit", "bob", "--root", &work, "--max-sessions", "2"]);
    let (bob, _) = token(&d, "bob", "user", None).await;
    for name in ["s1", "s2"] {
        let (status, res) = create_as(&d, &bob, name);
        assert_eq!(status, 201, "{res}");
    }
    let refusal = "user \"bob\" may have at most 2 sessions (an admin can raise it: llmux user \
                   edit bob --max-sessions N)";
    let (status, res) = create_as(&d, &bob, "s3");
    assert_eq!(status, 409, "{res}");
    assert_eq!(body_of(&res)["error"], refusal);
    // The CLI prints it as it is.
    let url = format!("http://127.0.0.1:{}", d.port);
    let (code, out, err) =
        cli(&d, &["--server", &url, "--token", &bob, "session", "start", "fake", "--name", "s3"]);
    assert_eq!((code, out.as_str(), err), (Some(1), "", format!("llmux: {refusal}\n")));
    let owned = |owner: &str| {
        let owner = owner.to_owned();
        let client = d.client.clone();
        async move {
            let list = client.list_sessions().await.unwrap();
            let mut names: Vec<String> =
                list.into_iter().filter(|s| s.owner == owner).map(|s| s.name).collect();
            names.sort();
            names
        }
    };
    assert_eq!(owned("bob").await, ["s1@bob", "s2@bob"]);

    // Other owners are not limited by bob's limit.
    let (ann, _) = token(&d, "ann", "user", None).await;
    for name in ["a1", "a2", "a3"] {
        assert_eq!(create_as(&d, &ann, name).0, 201);
    }
    d.spawn_fake("op1").await;

    // A removed session frees its place; a raised limit lets more in.
    let (status, res) = call(&d, &bob, "DELETE", "/api/sessions/s1?force=true", Value::Null);
    assert!(status == 200 || status == 204, "{status} {res}");
    assert_eq!(create_as(&d, &bob, "s3").0, 201);
    assert_eq!(create_as(&d, &bob, "s4").0, 409);
    d.cli_ok(&["user", "edit", "bob", "--max-sessions", "3"]);
    assert_eq!(create_as(&d, &bob, "s4").0, 201);
    assert_eq!(owned("bob").await, ["s2@bob", "s3@bob", "s4@bob"]);
}

/// A daemon run where no bubblewrap can be found: inside a mount namespace (made by bwrap
/// itself) in which every `bwrap` on the search path is `/dev/null`. Without bwrap installed,
/// the daemon runs as it is (the probe fails just the same).
struct NoSandboxDaemon {
    dir: tempfile::TempDir,
    child: Child,
    paths: Paths,
    client: Client,
}

impl NoSandboxDaemon {
    async fn start() -> NoSandboxDaemon {
        let dir = tempfile::Builder::new().prefix("lx").tempdir_in("/tmp").unwrap();
        std::fs::write(dir.path().join("config.yaml"), "agents: {}\n").unwrap();
        let paths = Paths::in_state_dir(dir.path().join("state"));
        let path = std::env::var_os("PATH").unwrap_or_default();
        let found: Vec<PathBuf> = std::env::split_paths(&path)
            .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/local/bin")])
            .filter_map(|d| d.join("bwrap").canonicalize().ok())
            .fold(Vec::new(), |mut all, p| {
                if !all.contains(&p) {
                    all.push(p);
                }
                all
            });
        let mut cmd = match found.first() {
            Some(bwrap) => {
                let mut cmd = Command::new(bwrap);
                // The daemon dies with bwrap, which is what the test kills.
                cmd.args(["--dev-bind", "/", "/", "--die-with-parent"]);
                for p in &found {
                    cmd.arg("--ro-bind").arg("/dev/null").arg(p);
                }
                cmd.arg("--").arg(crate::harness::bin());
                cmd
            }
            None => Command::new(crate::harness::bin()),
        };
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("LLMUX_") || key == "XDG_STATE_HOME" {
                cmd.env_remove(key);
            }
        }
        let log = std::fs::File::create(dir.path().join("daemon.log")).unwrap();
        let child = cmd
            .args(["server", "start", "--port", "0", "--config"])
            .arg(dir.path().join("config.yaml"))
            .env("LLMUX_STATE_DIR", &paths.state_dir)
            .env("HOME", dir.path())
            .env("LLMUX_INIT_USERNAME", "root")
            .env("LLMUX_INIT_PASSPHRASE", "root-passphrase")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let client = Client::unix(&paths.socket);
        let deadline = Instant::now() + Duration::from_secs(20);
        while client.health().await.is_err() {
            let log = std::fs::read_to_string(dir.path().join("daemon.log")).unwrap_or_default();
            assert!(Instant::now() < deadline, "daemon did not come up:\n{log}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        NoSandboxDaemon { dir, child, paths, client }
    }

    async fn call(&self, method: Method, path: &str, body: Value) -> (u16, Value) {
        let body = Some((bytes::Bytes::from(body.to_string()), "application/json"));
        let res = self.client.raw(method, path, body, &[]).await.unwrap();
        (res.status.as_u16(), serde_json::from_slice(&res.body).unwrap_or(Value::Null))
    }
}

impl Drop for NoSandboxDaemon {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.child.id().to_string()).status();
        let _ = self.child.wait();
        // Whatever outlived bwrap (its own pid is not the daemon's).
        let config = self.dir.path().join("config.yaml");
        let _ = Command::new("pkill").args(["-KILL", "-f", &config.to_string_lossy()]).status();
        let _ =
            Command::new("tmux").arg("-S").arg(&self.paths.tmux_socket).arg("kill-server").output();
    }
}

#[tokio::test]
async fn no_non_admin_is_made_where_the_sandbox_cannot_run() {
    let d = NoSandboxDaemon::start().await;
    let new_user = |username: &str, admin: bool| json!({"username": username, "passphrase": "long passphrase", "admin": admin});
    let (status, res) = d.call(Method::POST, "/api/admin/users", new_user("bob", false)).await;
    assert_eq!(status, 409, "{res}");
    let message = res["error"].as_str().unwrap();
    assert!(
        message.starts_with(
            "non-admin users cannot be made on this machine: their sessions must \
             run in a sandbox, and the sandbox for non-admin sessions needs bubblewrap, which is \
             not installed: install it (Debian/Ubuntu: apt-get install bubblewrap"
        ),
        "{message}"
    );
    // Admins can still be made, and stay admins.
    let (status, res) = d.call(Method::POST, "/api/admin/users", new_user("ann", true)).await;
    assert_eq!(status, 201, "{res}");
    let (status, res) =
        d.call(Method::PATCH, "/api/admin/users/ann", json!({"admin": false})).await;
    assert_eq!((status, res["error"].as_str()), (409, Some(message)), "{res}");
    let (_, users) = d.call(Method::GET, "/api/admin/users", Value::Null).await;
    let users: Vec<(&str, bool)> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["username"].as_str().unwrap(), u["admin"].as_bool().unwrap()))
        .collect();
    assert_eq!(users, [("ann", true), ("root", true)]);

    // The CLI prints the reason as a message.
    let mut cli = Command::new(crate::harness::bin());
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("LLMUX_") {
            cli.env_remove(key);
        }
    }
    let out = cli
        .args(["user", "create", "bob", "--passphrase", "long passphrase"])
        .env("LLMUX_STATE_DIR", &d.paths.state_dir)
        .env("HOME", d.dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8(out.stderr).unwrap(), format!("llmux: {message}\n"));
}
