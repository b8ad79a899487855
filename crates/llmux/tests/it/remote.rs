//! The CLI against a remote daemon, run as a user would: accounts over the local socket,
//! `auth login` and its profiles, `--server`/`--token` and their environment variables,
//! tokens, pairing, the admin commands, and a server that cannot be reached.
//!
//! Every test runs the real binary with `HOME=<temp>/home`, so the credentials file is
//! `<temp>/home/.config/llmux/credentials.json` and never the user's own.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Output, Stdio};

use hyper::Method;
use llmux_api::SessionStatus;
use serde_json::{Value, json};

use crate::harness::{TestDaemon, body_of, create_as, local, post_json, token};

/// What a CLI run ended with.
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Ran {
    fn from(out: Output) -> Ran {
        Ran {
            code: out.status.code(),
            stdout: String::from_utf8(out.stdout).expect("utf-8 stdout"),
            stderr: String::from_utf8(out.stderr).expect("utf-8 stderr"),
        }
    }
}

impl std::fmt::Display for Ran {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {:?}\nstdout:\n{}\nstderr:\n{}", self.code, self.stdout, self.stderr)
    }
}

/// Runs the CLI with extra environment variables and stdin from /dev/null (not a TTY).
fn run(d: &TestDaemon, env: &[(&str, &str)], args: &[&str]) -> Ran {
    let out = d
        .command()
        .envs(env.iter().copied())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run llmux");
    Ran::from(out)
}

/// Runs the CLI and asserts exit 0 and a silent stderr; returns stdout.
fn ok(d: &TestDaemon, env: &[(&str, &str)], args: &[&str]) -> String {
    let ran = run(d, env, args);
    assert!(
        ran.code == Some(0) && ran.stderr.is_empty(),
        "llmux {args:?}: {ran}\ndaemon log:\n{}",
        d.log()
    );
    ran.stdout
}

/// Runs the CLI and asserts it exits with `code`, printing nothing on stdout; returns stderr.
fn fails(d: &TestDaemon, env: &[(&str, &str)], args: &[&str], code: i32) -> String {
    let ran = run(d, env, args);
    assert_eq!(ran.code, Some(code), "llmux {args:?}: {ran}");
    assert_eq!(ran.stdout, "", "llmux {args:?} printed on stdout: {ran}");
    ran.stderr
}

/// `args` after `--server <this daemon> --token <token>`.
fn with_token<'a>(server: &'a str, token: &'a str, args: &[&'a str]) -> Vec<&'a str> {
    let mut all = vec!["--server", server, "--token", token];
    all.extend_from_slice(args);
    all
}

/// The daemon's TCP base URL.
fn server(d: &TestDaemon) -> String {
    format!("http://127.0.0.1:{}", d.port)
}

/// The profile name `auth login` picks for this daemon.
fn profile_name(d: &TestDaemon) -> String {
    format!("127.0.0.1-{}", d.port)
}

fn credentials_path(d: &TestDaemon) -> PathBuf {
    d.home().join(".config/llmux/credentials.json")
}

/// The credentials file, parsed.
fn credentials(d: &TestDaemon) -> Value {
    let text = std::fs::read_to_string(credentials_path(d)).expect("credentials file");
    serde_json::from_str(&text).expect("credentials JSON")
}

/// The token saved in `profile`.
fn saved_token(d: &TestDaemon, profile: &str) -> String {
    credentials(d)["profiles"][profile]["token"].as_str().expect("saved token").to_owned()
}

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).expect("metadata").permissions().mode() & 0o777
}

/// `auth login` to this daemon as `username` with LLMUX_PASSPHRASE.
fn login(d: &TestDaemon, username: &str, passphrase: &str, extra: &[&str]) -> Ran {
    let url = server(d);
    let mut args = vec!["auth", "login", "--server", &url, "--username", username];
    args.extend_from_slice(extra);
    run(d, &[("LLMUX_PASSPHRASE", passphrase)], &args)
}

/// The status of `GET /api/auth/whoami` over TCP with `token`.
fn whoami_status(d: &TestDaemon, token: &str) -> u16 {
    d.http("GET", "/api/auth/whoami", &[("Authorization", &format!("Bearer {token}"))], "").0
}

/// The JSON body of a raw HTTP response.
fn http_login(d: &TestDaemon, username: &str, passphrase: &str) -> u16 {
    let body = json!({"username": username, "passphrase": passphrase});
    post_json(d, "/api/auth/login", &[], body).0
}

/// Redeems a pairing code over TCP; returns (status, body).
fn redeem(d: &TestDaemon, code: &str) -> (u16, Value) {
    let (status, res) = post_json(d, "/api/auth/pair", &[], json!({ "code": code }));
    (status, body_of(&res))
}

/// The names in a `session list --json` output.
fn session_names(json: &str) -> Vec<String> {
    let list: Value = serde_json::from_str(json).expect("session list JSON");
    list.as_array()
        .expect("an array")
        .iter()
        .map(|s| s["name"].as_str().expect("name").to_owned())
        .collect()
}

/// The usernames and admin flags in a `user list --json` output.
fn users(json: &str) -> Vec<(String, bool)> {
    let list: Value = serde_json::from_str(json).expect("user list JSON");
    list.as_array()
        .expect("an array")
        .iter()
        .map(|u| (u["username"].as_str().unwrap().to_owned(), u["admin"].as_bool().unwrap()))
        .collect()
}

fn owned(pairs: &[(&str, bool)]) -> Vec<(String, bool)> {
    pairs.iter().map(|(n, a)| ((*n).to_owned(), *a)).collect()
}

#[tokio::test]
async fn user_commands_manage_accounts_over_the_local_socket() {
    let d = TestDaemon::start().await;
    assert_eq!(
        ok(&d, &[], &["user", "list"]),
        "no users; create one with `llmux user create <username>`\n"
    );
    assert_eq!(
        ok(&d, &[], &["user", "create", "alice", "--passphrase", "alice-passphrase"]),
        "user created: alice\n"
    );
    assert_eq!(
        ok(&d, &[], &["user", "create", "root", "--admin", "--passphrase", "root-passphrase"]),
        "user created: root (admin)\n"
    );
    // the passphrase may come from the environment; without it and without a TTY, a clear no
    assert_eq!(
        fails(&d, &[], &["user", "create", "bob"], 1),
        "llmux: passphrase required: pass --passphrase or set LLMUX_PASSPHRASE (stdin is not a \
         TTY)\n"
    );
    assert_eq!(
        fails(&d, &[], &["user", "create", "bob", "--passphrase", "short"], 1),
        "llmux: passphrase must be at least 8 characters\n"
    );
    assert_eq!(
        ok(&d, &[("LLMUX_PASSPHRASE", "bob-passphrase")], &["user", "create", "bob"]),
        "user created: bob\n"
    );
    assert_eq!(http_login(&d, "bob", "bob-passphrase"), 200);
    assert_eq!(
        fails(&d, &[], &["user", "create", "bob", "--passphrase", "bob-passphrase"], 1)
            .lines()
            .count(),
        1,
        "a duplicate is refused in one line"
    );

    let list = ok(&d, &[], &["user", "list", "--json"]);
    assert_eq!(users(&list), owned(&[("alice", false), ("bob", false), ("root", true)]));
    assert!(!list.contains("passphrase") && !list.contains("argon2"), "{list}");
    let table = ok(&d, &[], &["user", "list"]);
    let lines: Vec<Vec<&str>> = table.lines().map(|l| l.split_whitespace().collect()).collect();
    let header =
        ["USERNAME", "NAME", "ADMIN", "MAX", "SESSIONS", "MEMORY/SESSION", "CREATED", "ROOTS"];
    assert_eq!(lines[0], header, "{table}");
    assert_eq!(lines[1][..3], ["alice", "alice", "-"], "{table}");
    assert_eq!(lines[3][..3], ["root", "root", "yes"], "{table}");

    // delete asks first, and without a TTY refuses unless --yes
    token(&d, "bob", "user", None).await;
    assert_eq!(
        fails(&d, &[], &["user", "delete", "bob"], 1),
        "llmux: user delete without --yes needs an interactive terminal\n"
    );
    assert_eq!(users(&ok(&d, &[], &["user", "list", "--json"])).len(), 3, "bob is still there");
    assert_eq!(
        ok(&d, &[], &["user", "delete", "bob", "--yes"]),
        "deleted user \"bob\" (revoked 1 token)\n"
    );
    assert_eq!(
        users(&ok(&d, &[], &["user", "list", "--json"])),
        owned(&[("alice", false), ("root", true)])
    );
    assert_eq!(http_login(&d, "bob", "bob-passphrase"), 401);
    assert_eq!(
        fails(&d, &[], &["user", "delete", "ghost", "--yes"], 4),
        "llmux: no user named \"ghost\"\n"
    );

    // reset-passphrase: the new one works, the old one no longer does
    assert_eq!(
        ok(&d, &[], &["user", "reset-passphrase", "alice", "--passphrase", "alice-new-passphrase"]),
        "passphrase reset for \"alice\" (their browser sessions were signed out)\n"
    );
    assert_eq!(http_login(&d, "alice", "alice-passphrase"), 401);
    assert_eq!(http_login(&d, "alice", "alice-new-passphrase"), 200);
    assert_eq!(
        ok(
            &d,
            &[("LLMUX_PASSPHRASE", "alice-third-passphrase")],
            &["user", "reset-passphrase", "alice"]
        ),
        "passphrase reset for \"alice\" (their browser sessions were signed out)\n"
    );
    assert_eq!(http_login(&d, "alice", "alice-third-passphrase"), 200);

    // set-admin, and the last admin stays one
    assert_eq!(
        fails(&d, &[], &["user", "set-admin", "root", "false"], 1),
        "llmux: the last admin cannot be demoted\n"
    );
    assert_eq!(ok(&d, &[], &["user", "set-admin", "alice", "true"]), "alice is an admin\n");
    assert_eq!(ok(&d, &[], &["user", "set-admin", "root", "false"]), "root is not an admin\n");
    assert_eq!(
        users(&ok(&d, &[], &["user", "list", "--json"])),
        owned(&[("alice", true), ("root", false)])
    );
    let shown: Value =
        serde_json::from_str(&ok(&d, &[], &["user", "set-admin", "root", "true", "--json"]))
            .unwrap();
    assert_eq!((shown["username"].as_str(), shown["admin"].as_bool()), (Some("root"), Some(true)));
    let usage = fails(&d, &[], &["user", "set-admin", "root", "maybe"], 2);
    assert!(usage.contains("maybe"), "{usage}");
}

#[tokio::test]
async fn auth_login_saves_a_private_profile_that_later_commands_follow() {
    let d = TestDaemon::builder().user("alice").start().await;
    // a session of the local operator: alice (not an admin) cannot see it
    d.spawn_fake("local-only").await;
    let profile = profile_name(&d);
    let url = server(&d);

    let ran = login(&d, "alice", "alice-passphrase", &[]);
    assert_eq!(ran.code, Some(0), "{ran}");
    assert_eq!(
        ran.stdout,
        format!(
            "logged in as alice → profile \"{profile}\" (saved to ~/.config/llmux/credentials.json)\n"
        )
    );
    assert_eq!(ran.stderr, "");

    // the file: private, and holding a device token that works
    let file = credentials_path(&d);
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(file.parent().unwrap()), 0o700);
    let creds = credentials(&d);
    assert_eq!(creds["version"], 1);
    assert_eq!(creds["active"], profile.as_str());
    assert_eq!(creds["profiles"][&profile]["serverUrl"], url.as_str());
    assert_eq!(creds["profiles"][&profile]["username"], "alice");
    let saved = saved_token(&d, &profile);
    assert!(saved.starts_with("llmux_"), "{saved}");
    assert!(!ran.stdout.contains(&saved), "the token is never printed");
    assert_eq!(whoami_status(&d, &saved), 200);
    let token_id = saved.split('_').nth(1).unwrap().to_owned();

    // whoami: alice, via the saved token
    let who = ok(&d, &[], &["auth", "whoami"]);
    assert_eq!(
        who,
        format!(
            "user     alice\nserver   {url}\nprofile  {profile}\nvia      token\nscope    user\n\
             token    {token_id}\n"
        )
    );
    let who: Value = serde_json::from_str(&ok(&d, &[], &["auth", "whoami", "--json"])).unwrap();
    assert_eq!(who["username"], "alice");
    assert_eq!(who["via"], "token");
    assert_eq!(who["profile"], profile.as_str());

    // plain session commands now go to the server, as alice
    assert_eq!(
        ok(&d, &[], &["session", "list"]),
        "no sessions; start one with `llmux session start <agent>`\n",
        "alice does not see the local operator's session"
    );
    let (status, res) = create_as(&d, &saved, "alice-tcp");
    assert_eq!(status, 201, "{res}");
    let out = ok(&d, &[], &["session", "start", "fake", "--name", "alice-cli"]);
    assert!(out.starts_with("spawned alice-cli (agent: fake, cwd: "), "{out}");
    // the operator (d.client) names alice's sessions in full
    assert_eq!(d.client.session("alice-cli@alice").await.unwrap().owner, "alice", "made as alice");
    let mut names = session_names(&ok(&d, &[], &["session", "list", "--json"]));
    names.sort();
    assert_eq!(names, ["alice-cli", "alice-tcp"]);

    // the saved profiles, never with the token
    let list = ok(&d, &[], &["auth", "list"]);
    let rows: Vec<Vec<&str>> = list.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows[0], ["PROFILE", "USER", "SERVER", "SAVED"], "{list}");
    assert_eq!(rows[1][..4], ["*", profile.as_str(), "alice", url.as_str()], "{list}");
    assert_eq!(rows.len(), 2, "{list}");
    let list = ok(&d, &[], &["auth", "list", "--json"]);
    assert!(!list.contains(&saved) && !list.contains("token"), "{list}");
    let list: Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list[0]["name"], profile.as_str());
    assert_eq!(list[0]["active"], true);
    assert_eq!(list[0]["serverUrl"], url.as_str());

    // back to the local socket, and to the profile again
    assert_eq!(
        ok(&d, &[], &["auth", "use", "--local"]),
        "no active profile: commands go to the local daemon\n"
    );
    assert!(credentials(&d).get("active").is_none(), "{}", credentials(&d));
    let who = ok(&d, &[], &["auth", "whoami"]);
    assert!(who.lines().any(|l| l == "via      local"), "{who}");
    let mut names = session_names(&ok(&d, &[], &["session", "list", "--json"]));
    names.sort();
    assert_eq!(
        names,
        ["alice-cli@alice", "alice-tcp@alice", "local-only"],
        "the local operator sees all, others' in full"
    );
    assert_eq!(
        fails(&d, &[], &["auth", "use", "nope"], 1),
        "llmux: no profile named 'nope'; see `llmux auth list`\n"
    );
    assert_eq!(ok(&d, &[], &["auth", "use", &profile]), format!("active profile: {profile}\n"));
    assert!(ok(&d, &[], &["auth", "whoami"]).contains("via      token"));

    // logout revokes the token on the server and forgets the profile
    assert_eq!(ok(&d, &[], &["auth", "logout"]), format!("logged out of profile \"{profile}\"\n"));
    assert_eq!(whoami_status(&d, &saved), 401, "the token is revoked server-side");
    let creds = credentials(&d);
    assert_eq!(creds["profiles"], json!({}), "{creds}");
    assert!(creds.get("active").is_none(), "{creds}");
    assert_eq!(mode(&file), 0o600);
    assert_eq!(
        ok(&d, &[], &["auth", "list"]),
        "no profiles saved — run `llmux auth login --server <url> --username <u>`\n"
    );
    assert!(ok(&d, &[], &["auth", "whoami"]).contains("via      local"));
    assert_eq!(
        fails(&d, &[], &["auth", "logout"], 1),
        "llmux: auth logout: no active profile to log out (name one with --profile)\n"
    );
}

#[tokio::test]
async fn a_wrong_passphrase_fails_clearly_and_saves_nothing() {
    let d = TestDaemon::builder().user("alice").start().await;
    let url = server(&d);

    let ran = login(&d, "alice", "not-her-passphrase", &[]);
    assert_eq!(ran.code, Some(1), "{ran}");
    assert_eq!(ran.stdout, "");
    assert_eq!(ran.stderr, "llmux: auth login failed: invalid username or passphrase\n");
    assert!(!credentials_path(&d).exists(), "no profile is written");
    assert!(!d.home().join(".config").exists(), "not even the directory");

    // no passphrase and no TTY, no username, no server: each says what to pass
    let ran = run(&d, &[], &["auth", "login", "--server", &url, "--username", "alice"]);
    assert_eq!(ran.code, Some(1), "{ran}");
    assert_eq!(
        ran.stderr,
        "llmux: passphrase required: set LLMUX_PASSPHRASE (stdin is not a TTY)\n"
    );
    let pass = [("LLMUX_PASSPHRASE", "alice-passphrase")];
    assert_eq!(
        fails(&d, &pass, &["auth", "login", "--server", &url], 1),
        "llmux: auth login requires --username <name>\n"
    );
    assert_eq!(
        fails(&d, &pass, &["auth", "login", "--username", "alice"], 1),
        "llmux: auth login requires --server <url> or LLMUX_SERVER\n"
    );
    assert!(!credentials_path(&d).exists());

    // a failed sign-in leaves an existing profile exactly as it was
    assert_eq!(login(&d, "alice", "alice-passphrase", &[]).code, Some(0));
    let before = std::fs::read_to_string(credentials_path(&d)).unwrap();
    let ran = login(&d, "alice", "still-wrong-passphrase", &[]);
    assert_eq!(ran.code, Some(1), "{ran}");
    assert_eq!(ran.stderr, "llmux: auth login failed: invalid username or passphrase\n");
    assert_eq!(std::fs::read_to_string(credentials_path(&d)).unwrap(), before);
    assert_eq!(whoami_status(&d, &saved_token(&d, &profile_name(&d))), 200);
}

#[tokio::test]
async fn signing_in_again_revokes_the_token_it_replaces() {
    let d = TestDaemon::builder().user("alice").admin("root").start().await;
    let profile = profile_name(&d);
    assert_eq!(login(&d, "alice", "alice-passphrase", &[]).code, Some(0));
    let first = saved_token(&d, &profile);
    // the username is matched case-insensitively; --json says what was saved
    let ran = login(&d, "ALICE", "alice-passphrase", &["--json"]);
    assert_eq!(ran.code, Some(0), "{ran}");
    let out: Value = serde_json::from_str(&ran.stdout).unwrap();
    assert_eq!(out["ok"], true);
    assert_eq!(out["profileName"], profile.as_str());
    assert_eq!(out["username"], "alice");
    assert_eq!(out["serverUrl"], server(&d).as_str());
    let second = saved_token(&d, &profile);
    assert_ne!(first, second);
    assert_eq!(whoami_status(&d, &first), 401, "the replaced token is revoked");
    assert_eq!(whoami_status(&d, &second), 200);

    // a second, named profile for the same server becomes the active one
    let ran = login(&d, "root", "root-passphrase", &["--profile", "adm"]);
    assert_eq!(ran.code, Some(0), "{ran}");
    assert_eq!(credentials(&d)["active"], "adm");
    let who = ok(&d, &[], &["auth", "whoami"]);
    assert!(who.starts_with("user     root [admin]\n") && who.contains("scope    admin"), "{who}");
    // --profile picks another one for one command
    let who = ok(&d, &[], &["--profile", &profile, "auth", "whoami"]);
    assert!(who.starts_with("user     alice\n"), "{who}");
    // logging out of a profile that is not the active one keeps the active one
    assert_eq!(
        ok(&d, &[], &["--profile", &profile, "auth", "logout"]),
        format!("logged out of profile \"{profile}\"\n")
    );
    assert_eq!(whoami_status(&d, &second), 401);
    assert_eq!(credentials(&d)["active"], "adm");
    assert!(credentials(&d)["profiles"].get(&profile).is_none());
}

#[tokio::test]
async fn saved_tokens_only_go_to_their_own_server() {
    let d = TestDaemon::builder().user("alice").user("bob").start().await;
    let url = server(&d);
    let profile = profile_name(&d);
    assert_eq!(login(&d, "alice", "alice-passphrase", &[]).code, Some(0));
    let (bob, _) = token(&d, "bob", "user", None).await;

    // LLMUX_TOKEN is not sent to the active profile's server: the profile's token is
    let who = ok(&d, &[("LLMUX_TOKEN", &bob)], &["auth", "whoami"]);
    assert!(who.starts_with("user     alice\n"), "{who}");
    // with the server named, LLMUX_TOKEN is used
    let who = ok(&d, &[("LLMUX_TOKEN", &bob)], &["--server", &url, "auth", "whoami"]);
    assert!(who.starts_with("user     bob\n") && !who.contains("profile"), "{who}");
    // --server alone finds the profile saved for that server
    let who = ok(&d, &[], &["--server", &url, "auth", "whoami"]);
    assert!(who.contains(&format!("profile  {profile}\n")), "{who}");
    // a profile is never used for another server
    assert_eq!(
        fails(
            &d,
            &[],
            &["--profile", &profile, "--server", "http://127.0.0.1:9", "auth", "whoami"],
            1
        ),
        format!("llmux: profile '{profile}' is for {url}, not http://127.0.0.1:9\n")
    );
    assert_eq!(
        fails(&d, &[], &["--profile", "nope", "session", "list"], 1),
        "llmux: no profile named 'nope'; see `llmux auth list`\n"
    );
    // a token needs a server
    ok(&d, &[], &["auth", "use", "--local"]);
    assert_eq!(
        fails(&d, &[], &["--token", &bob, "session", "list"], 1),
        "llmux: --token needs a server: pass --server URL or set LLMUX_SERVER\n"
    );
    // and LLMUX_TOKEN alone does not leave the local socket
    let who = ok(&d, &[("LLMUX_TOKEN", &bob)], &["auth", "whoami"]);
    assert!(who.contains("via      local"), "{who}");
}

#[tokio::test]
async fn server_and_token_flags_drive_sessions_remotely() {
    let d = TestDaemon::builder().user("alice").start().await;
    let (alice, _) = token(&d, "alice", "user", None).await;
    let url = server(&d);
    let remote = |args: &[&str]| ok(&d, &[], &with_token(&url, &alice, args));

    let out = remote(&["session", "start", "fake", "--name", "r1"]);
    assert!(out.starts_with("spawned r1 (agent: fake, cwd: "), "{out}");
    assert_eq!(d.client.session("r1@alice").await.unwrap().owner, "alice");
    d.wait_for_screen("r1@alice", "SIZE ").await;
    assert_eq!(remote(&["session", "prompt", "r1", "hello", "remote"]), "sent 12 bytes → r1\n");
    d.wait_for_screen("r1@alice", "PROMPT[1]: hello remote").await;
    let capture = remote(&["session", "capture", "r1", "-n", "20"]);
    assert!(capture.lines().any(|l| l.contains("PROMPT[1]: hello remote")), "{capture}");
    let list = remote(&["session", "list"]);
    let row: Vec<&str> = list
        .lines()
        .find(|l| l.starts_with("r1 "))
        .expect("r1 listed")
        .split_whitespace()
        .collect();
    assert_eq!(row[..2], ["r1", "fake"], "{list}");
    assert!(["starting", "idle", "working"].contains(&row[2]), "{list}");
    assert_eq!(session_names(&remote(&["session", "list", "--json"])), ["r1"]);
    let who = remote(&["auth", "whoami"]);
    assert!(who.starts_with(&format!("user     alice\nserver   {url}\nvia      token\n")), "{who}");
    assert_eq!(
        fails(&d, &[], &with_token(&url, &alice, &["session", "show", "ghost"]), 4),
        "llmux: no session named \"ghost\"\n"
    );
}

#[tokio::test]
async fn llmux_server_and_llmux_token_drive_sessions_remotely() {
    let d = TestDaemon::builder().user("alice").start().await;
    let (alice, _) = token(&d, "alice", "user", None).await;
    let url = server(&d);
    let env = [("LLMUX_SERVER", url.as_str()), ("LLMUX_TOKEN", alice.as_str())];

    let out = ok(&d, &env, &["session", "start", "fake", "--name", "e1"]);
    assert!(out.starts_with("spawned e1 (agent: fake, cwd: "), "{out}");
    assert_eq!(d.client.session("e1@alice").await.unwrap().owner, "alice");
    d.wait_for_screen("e1@alice", "SIZE ").await;
    assert_eq!(ok(&d, &env, &["session", "prompt", "e1", "via", "env"]), "sent 7 bytes → e1\n");
    d.wait_for_screen("e1@alice", "PROMPT[1]: via env").await;
    let capture = ok(&d, &env, &["session", "capture", "e1"]);
    assert!(capture.contains("PROMPT[1]: via env"), "{capture}");
    assert_eq!(session_names(&ok(&d, &env, &["session", "list", "--json"])), ["e1"]);
    let who = ok(&d, &env, &["auth", "whoami"]);
    assert!(who.contains("via      token\n"), "{who}");
    // --token wins over LLMUX_TOKEN
    assert_eq!(
        fails(&d, &env, &["--token", "llmux_000000000000_00", "session", "list"], 1),
        format!(
            "llmux: invalid token; log in with `llmux auth login --server {url}` or pass --token\n"
        )
    );
}

#[tokio::test]
async fn read_only_and_revoked_tokens_are_refused_clearly() {
    let d = TestDaemon::builder().user("alice").start().await;
    let (alice, alice_id) = token(&d, "alice", "user", None).await;
    let (read_only, _) = token(&d, "alice", "read-only", None).await;
    let url = server(&d);
    ok(&d, &[], &with_token(&url, &alice, &["session", "start", "fake", "--name", "ro"]));
    d.wait_for_screen("ro@alice", "SIZE ").await;

    // a read-only token reads, and is refused anything else
    assert_eq!(
        session_names(&ok(&d, &[], &with_token(&url, &read_only, &["ls", "--json"]))),
        ["ro"]
    );
    assert!(
        ok(&d, &[], &with_token(&url, &read_only, &["session", "capture", "ro"])).contains("SIZE ")
    );
    for args in [
        &["session", "prompt", "ro", "hello"][..],
        &["session", "start", "fake", "--name", "ro2"],
        &["token", "create"],
    ] {
        assert_eq!(
            fails(&d, &[], &with_token(&url, &read_only, args), 1),
            "llmux: this token is read-only\n",
            "{args:?}"
        );
    }
    // stop reports per session
    assert_eq!(
        fails(&d, &[], &with_token(&url, &read_only, &["session", "stop", "ro"]), 1),
        "llmux: stop ro: this token is read-only\n"
    );
    assert!(!d.wait_for_screen("ro@alice", "SIZE ").await.contains("PROMPT["), "nothing was typed");
    assert_eq!(d.client.session("ro@alice").await.unwrap().status, SessionStatus::Running);

    // a revoked token: exit 1 and how to sign in
    assert_eq!(
        local(&d, Method::DELETE, &format!("/api/tokens/{alice_id}"), json!(null)).await.0,
        200
    );
    let hint = format!(
        "llmux: invalid token; log in with `llmux auth login --server {url}` or pass --token\n"
    );
    assert_eq!(fails(&d, &[], &with_token(&url, &alice, &["session", "list"]), 1), hint);
    assert_eq!(
        fails(&d, &[], &with_token(&url, &alice, &["session", "prompt", "ro", "x"]), 1),
        hint
    );
    // no token at all
    assert_eq!(
        fails(&d, &[], &["--server", &url, "session", "list"], 1),
        format!(
            "llmux: authentication required; log in with `llmux auth login --server {url}` or \
             pass --token\n"
        )
    );
}

#[tokio::test]
async fn a_refused_saved_token_says_how_to_sign_in_again() {
    let d = TestDaemon::builder().user("alice").start().await;
    let profile = profile_name(&d);
    assert_eq!(login(&d, "alice", "alice-passphrase", &[]).code, Some(0));
    // every token of alice's goes, the saved one with them
    let (status, res) = local(&d, Method::DELETE, "/api/tokens?username=alice", json!(null)).await;
    assert_eq!((status, &res["revokedTokens"]), (200, &json!(1)), "{res}");
    let hint = format!(
        "llmux: invalid token: the token saved in profile '{profile}' was refused (revoked or \
         expired?); sign in again with `llmux auth login --profile {profile}`\n"
    );
    assert_eq!(fails(&d, &[], &["session", "list"], 1), hint);
    assert_eq!(fails(&d, &[], &["auth", "whoami"], 1), hint);
    // signing in again with the profile alone (its server and username are remembered)
    let ran = run(
        &d,
        &[("LLMUX_PASSPHRASE", "alice-passphrase")],
        &["auth", "login", "--profile", &profile],
    );
    assert_eq!(ran.code, Some(0), "{ran}");
    assert!(ok(&d, &[], &["auth", "whoami"]).starts_with("user     alice\n"));
    // logging out of a profile whose token is already gone still forgets it
    local(&d, Method::DELETE, "/api/tokens?username=alice", json!(null)).await;
    let out = ok(&d, &[], &["auth", "logout"]);
    assert!(
        out.starts_with(&format!(
            "logged out of profile \"{profile}\" (server revoke failed — local profile removed \
             anyway: invalid token"
        )),
        "{out}"
    );
    assert_eq!(credentials(&d)["profiles"], json!({}));
}

#[tokio::test]
async fn tokens_are_minted_listed_renamed_and_revoked() {
    let d = TestDaemon::builder().user("alice").start().await;
    let (alice, alice_id) = token(&d, "alice", "user", None).await;
    let url = server(&d);
    let as_alice = |args: &[&str]| ok(&d, &[], &with_token(&url, &alice, args));

    let out = as_alice(&["token", "create", "--name", "laptop", "--scope", "read-only"]);
    let lines: Vec<&str> = out.lines().collect();
    let id = lines[0]
        .strip_prefix("token created (id: ")
        .and_then(|rest| rest.split(')').next())
        .unwrap_or_else(|| panic!("{out}"))
        .to_owned();
    assert_eq!(
        lines[0],
        format!("token created (id: {id}) \"laptop\" for alice (scope read-only, expires never)")
    );
    assert_eq!(lines[1], "");
    let value = lines[2].strip_prefix("  ").expect("the token, indented").to_owned();
    assert!(value.starts_with(&format!("llmux_{id}_")), "{out}");
    assert_eq!(lines[3], "");
    assert!(lines[4].starts_with("Save this token now — it is shown once."), "{out}");
    assert_eq!(lines.len(), 5, "{out}");
    // it works, read-only
    let auth = format!("Bearer {value}");
    let (status, res) = d.http("GET", "/api/auth/whoami", &[("Authorization", &auth)], "");
    assert_eq!(status, 200, "{res}");
    assert_eq!(body_of(&res)["scope"], "read-only");

    // listed without the secret
    let list = as_alice(&["token", "list", "--json"]);
    let secret = value.rsplit('_').next().unwrap();
    assert!(!list.contains(secret), "{list}");
    let tokens: Value = serde_json::from_str(&list).unwrap();
    let laptop =
        tokens.as_array().unwrap().iter().find(|t| t["id"] == id.as_str()).expect("listed");
    assert_eq!(laptop["name"], "laptop");
    assert_eq!(laptop["scope"], "read-only");
    assert_eq!(laptop["username"], "alice");
    assert!(laptop.get("value").is_none(), "{laptop}");
    assert_eq!(tokens.as_array().unwrap().len(), 2, "alice's two tokens: {tokens}");
    let table = as_alice(&["token", "list"]);
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["ID", "USER", "NAME", "SCOPE", "CREATED", "EXPIRES", "LAST-USED"]);
    assert!(!table.contains(secret));

    // rename
    assert_eq!(as_alice(&["token", "rename", &id, "phone"]), format!("renamed {id} → \"phone\"\n"));
    let tokens: Value = serde_json::from_str(&as_alice(&["token", "list", "--json"])).unwrap();
    let names: Vec<&str> =
        tokens.as_array().unwrap().iter().filter_map(|t| t["name"].as_str()).collect();
    assert!(names.contains(&"phone") && !names.contains(&"laptop"), "{tokens}");
    assert_eq!(
        fails(&d, &[], &with_token(&url, &alice, &["token", "rename", "000000000000", "x"]), 4),
        "llmux: no token with id \"000000000000\"\n"
    );

    // revoke one
    assert_eq!(as_alice(&["token", "revoke", &id]), format!("revoked {id}\n"));
    assert_eq!(whoami_status(&d, &value), 401);
    let tokens: Value = serde_json::from_str(&as_alice(&["token", "list", "--json"])).unwrap();
    let ids: Vec<&str> =
        tokens.as_array().unwrap().iter().filter_map(|t| t["id"].as_str()).collect();
    assert_eq!(ids, [alice_id.as_str()]);

    // revoke all: asks first, then takes the one in use too
    as_alice(&["token", "create", "--name", "spare"]);
    assert_eq!(
        fails(&d, &[], &with_token(&url, &alice, &["token", "revoke", "--all"]), 1),
        "llmux: token revoke --all without --yes needs an interactive terminal\n"
    );
    assert_eq!(whoami_status(&d, &alice), 200, "nothing was revoked");
    assert_eq!(as_alice(&["token", "revoke", "--all", "--yes"]), "revoked 2 tokens\n");
    assert_eq!(whoami_status(&d, &alice), 401);
    let (_, res) = local(&d, Method::GET, "/api/tokens", json!(null)).await;
    assert_eq!(res["tokens"], json!([]), "{res}");

    // over the socket: the local operator has no tokens of its own, so it names the user
    let stderr = fails(&d, &[], &["token", "create", "--name", "x"], 1);
    assert!(stderr.starts_with("llmux: the local operator has no account"), "{stderr}");
    let out = ok(&d, &[], &["token", "create", "--user", "alice", "--name", "ci", "--json"]);
    let created: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(created["token"]["username"], "alice");
    assert_eq!(created["token"]["name"], "ci");
    assert_eq!(whoami_status(&d, created["value"].as_str().unwrap()), 200);
    // a user cannot mint an admin token
    let (alice2, _) = token(&d, "alice", "user", None).await;
    assert_eq!(
        fails(&d, &[], &with_token(&url, &alice2, &["token", "create", "--scope", "admin"]), 1),
        "llmux: only admins can mint admin tokens, and only for admins\n"
    );
}

/// The `/pair#code=` link in `pair`'s output, and its code.
fn pairing_link(out: &str) -> (String, String) {
    let link = out
        .lines()
        .map(str::trim)
        .find(|l| l.contains("/pair#code="))
        .unwrap_or_else(|| panic!("no pairing link in:\n{out}"))
        .to_owned();
    let code = link.rsplit("code=").next().unwrap().to_owned();
    assert_eq!(code.len(), 32, "{link}");
    (link, code)
}

#[tokio::test]
async fn pair_prints_a_link_whose_code_works_once() {
    let d = TestDaemon::builder().admin("root").user("alice").start().await;

    // over the socket: the first admin, on the address the daemon listens on
    let out = ok(&d, &[], &["pair"]);
    assert!(out.starts_with("Scan to sign this phone in — the link works once, within 5 minutes"));
    let (link, code) = pairing_link(&out);
    assert_eq!(link, format!("http://127.0.0.1:{}/pair#code={code}", d.port));
    assert!(out.contains("a phone cannot open it"), "{out}");
    let (status, body) = redeem(&d, &code);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["username"], "root");
    assert_eq!(redeem(&d, &code).0, 401, "a code works once");

    // --url and --json
    let out: Value = serde_json::from_str(&ok(
        &d,
        &[],
        &["pair", "--url", "https://box.tailnet.ts.net", "--json"],
    ))
    .unwrap();
    let url = out["url"].as_str().unwrap();
    let code = url.strip_prefix("https://box.tailnet.ts.net/pair#code=").expect(url);
    assert!(out["expiresAt"].as_str().is_some(), "{out}");
    assert_eq!(redeem(&d, code).0, 200);

    // remotely: the caller, on the server's own URL
    let (alice, _) = token(&d, "alice", "user", None).await;
    let base = server(&d);
    let out = ok(&d, &[], &with_token(&base, &alice, &["pair"]));
    let (link, code) = pairing_link(&out);
    assert_eq!(link, format!("{base}/pair#code={code}"));
    assert!(!out.contains("default address"), "{out}");
    let (status, body) = redeem(&d, &code);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["username"], "alice");
    assert_eq!(redeem(&d, &code).0, 401);
}

#[tokio::test]
async fn pair_without_any_user_says_to_create_one() {
    let d = TestDaemon::start().await;
    assert_eq!(
        fails(&d, &[], &["pair"], 1),
        "llmux: no user exists yet; create one with `llmux user create NAME --admin`\n"
    );
}

#[tokio::test]
async fn pair_with_users_but_no_admin_says_an_admin_is_missing() {
    let d = TestDaemon::builder().user("alice").start().await;
    let stderr = fails(&d, &[], &["pair"], 1);
    assert!(!stderr.contains("no user exists"), "alice exists: {stderr}");
    assert!(stderr.contains("admin"), "{stderr}");
}

#[tokio::test]
async fn admin_commands_work_locally_and_for_admin_tokens_only() {
    let d = TestDaemon::builder().admin("root").user("alice").start().await;
    let (admin, _) = token(&d, "root", "admin", None).await;
    let (alice, _) = token(&d, "alice", "user", None).await;
    let (admin_ro, _) = token(&d, "root", "read-only", None).await;
    let url = server(&d);

    let check = |prefix: &[&str], who: &str| {
        let args = |rest: &[&'static str]| [prefix, rest].concat();
        let settings: Value =
            serde_json::from_str(&ok(&d, &[], &args(&["settings", "show", "--json"]))).unwrap();
        let port = settings["settings"]
            .as_array()
            .unwrap_or_else(|| panic!("{who}: {settings}"))
            .iter()
            .find(|s| s["key"] == "server.port")
            .unwrap_or_else(|| panic!("{who}: {settings}"));
        assert_eq!(port["source"], "flag", "{who}");
        let table = ok(&d, &[], &args(&["settings", "show"]));
        let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
        assert_eq!(header, ["SETTING", "SOURCE", "VALUE"], "{who}");
        assert!(table.lines().any(|l| l.starts_with("server.port ") && l.contains(" flag ")));

        let logs: Value =
            serde_json::from_str(&ok(&d, &[], &args(&["logs", "list", "--json"]))).unwrap();
        assert!(logs["capacity"].as_u64().unwrap() > 0, "{who}: {logs}");
        assert!(!logs["entries"].as_array().unwrap().is_empty(), "{who}: {logs}");
        let two: Value =
            serde_json::from_str(&ok(&d, &[], &args(&["logs", "list", "-n", "2", "--json"])))
                .unwrap();
        assert_eq!(two["entries"].as_array().unwrap().len(), 2, "{who}: {two}");

        let audit: Value = serde_json::from_str(&ok(&d, &[], &args(&["audit", "--json"]))).unwrap();
        let actions: Vec<&str> =
            audit.as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
        assert!(actions.contains(&"token_created"), "{who}: {audit}");
        let one: Value =
            serde_json::from_str(&ok(&d, &[], &args(&["audit", "-n", "1", "--json"]))).unwrap();
        assert_eq!(one.as_array().unwrap().len(), 1, "{who}: {one}");
        let table = ok(&d, &[], &args(&["audit"]));
        let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
        assert_eq!(header, ["ID", "TIME", "ACTOR", "ACTION", "TARGET", "DETAIL"], "{who}");

        let listed = ok(&d, &[], &args(&["user", "list", "--json"]));
        assert_eq!(users(&listed), owned(&[("alice", false), ("root", true)]), "{who}");
    };
    check(&[], "the local operator");
    check(&["--server", &url, "--token", &admin], "an admin token");

    for (token, message) in [(&alice, "admin only"), (&admin_ro, "this token is read-only")] {
        for args in [
            &["settings", "show", "--json"][..],
            &["logs", "list", "--json"],
            &["audit", "--json"],
            &["user", "list"],
            &["user", "create", "eve", "--passphrase", "eve-passphrase"],
        ] {
            assert_eq!(
                fails(&d, &[], &with_token(&url, token, args), 1),
                format!("llmux: {message}\n"),
                "{args:?}"
            );
        }
    }
}

#[tokio::test]
async fn an_unreachable_server_exits_3_and_says_which() {
    let d = TestDaemon::start().await;
    let dead = "http://127.0.0.1:1";
    let stderr = fails(&d, &[], &["--server", dead, "--token", "llmux_x_y", "session", "list"], 3);
    assert!(
        stderr.starts_with("llmux: cannot reach the llmux server at http://127.0.0.1:1: ")
            && stderr.lines().count() == 1,
        "{stderr}"
    );
    let stderr = fails(&d, &[("LLMUX_SERVER", dead)], &["session", "list"], 3);
    assert!(
        stderr.starts_with(
            "llmux: cannot reach the llmux server at http://127.0.0.1:1 (from LLMUX_SERVER): "
        ),
        "{stderr}"
    );
    let stderr = fails(
        &d,
        &[("LLMUX_PASSPHRASE", "whatever-passphrase")],
        &["auth", "login", "--server", dead, "--username", "alice"],
        3,
    );
    assert!(stderr.starts_with("llmux: cannot reach the llmux server at http://127.0.0.1:1: "));
    assert!(!credentials_path(&d).exists());

    // a saved profile for a server that is gone
    let dir = d.home().join(".config/llmux");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let creds = json!({"version": 1, "active": "gone", "profiles": {"gone": {
        "serverUrl": dead, "username": "alice", "token": "llmux_0123456789ab_00",
        "savedAt": "2026-01-01T00:00:00.000Z"}}});
    std::fs::write(credentials_path(&d), creds.to_string()).unwrap();
    std::fs::set_permissions(credentials_path(&d), std::fs::Permissions::from_mode(0o600)).unwrap();
    let stderr = fails(&d, &[], &["session", "list"], 3);
    assert!(
        stderr.starts_with(
            "llmux: cannot reach the llmux server at http://127.0.0.1:1 (from profile 'gone'): "
        ),
        "{stderr}"
    );
    // logout still forgets it, and says the revoke failed
    let out = ok(&d, &[], &["auth", "logout"]);
    assert!(
        out.starts_with(
            "logged out of profile \"gone\" (server revoke failed — local profile removed anyway: "
        ),
        "{out}"
    );
    assert_eq!(credentials(&d)["profiles"], json!({}));
    // and the local daemon is reachable again without any flag
    assert!(ok(&d, &[], &["auth", "whoami"]).contains("via      local"));
}

#[tokio::test]
async fn a_refused_saved_token_hint_covers_every_session_verb() {
    let d = TestDaemon::builder().user("alice").start().await;
    let profile = profile_name(&d);
    let ran = login(&d, "alice", "alice-passphrase", &["--profile", "work"]);
    assert_eq!(ran.code, Some(0), "{ran}");
    ok(&d, &[], &["session", "start", "fake", "--name", "s"]);
    d.wait_for_screen("s@alice", "SIZE ").await;
    local(&d, Method::DELETE, "/api/tokens?username=alice", json!(null)).await;
    let hint = "the token saved in profile 'work' was refused (revoked or expired?); sign in \
                again with `llmux auth login --profile work`";
    assert!(fails(&d, &[], &["session", "show", "s"], 1).contains(hint));
    for verb in ["stop", "restart", "remove"] {
        let stderr = fails(&d, &[], &["session", verb, "s"], 1);
        assert!(stderr.contains(hint), "{verb}: {stderr}");
        assert!(!stderr.contains(&profile), "{verb}: {stderr}");
    }
}

#[tokio::test]
async fn a_credentials_file_others_can_read_is_warned_about_and_made_private_again() {
    let d = TestDaemon::builder().user("alice").start().await;
    assert_eq!(login(&d, "alice", "alice-passphrase", &[]).code, Some(0));
    let file = credentials_path(&d);
    let dir = file.parent().unwrap().to_owned();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let ran = run(&d, &[], &["auth", "list"]);
    assert_eq!(ran.code, Some(0), "{ran}");
    let path = file.display();
    assert_eq!(
        ran.stderr,
        format!("llmux: warning: {path} can be read by other users; run `chmod 600 {path}`\n")
    );
    // the next save replaces it with a private file in a private directory
    assert_eq!(
        run(&d, &[], &["auth", "use", "--local"]).stdout,
        "no active profile: commands go to the local daemon\n"
    );
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(&dir), 0o700);
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["credentials.json"], "no temp file left behind");
    assert_eq!(run(&d, &[], &["auth", "list"]).stderr, "");
}
