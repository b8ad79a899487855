//! Someone who can write the old llmux 0.41's files (or hand the operator a copy of "their old
//! install") crafts users.json, tokens.json and sessions.json for `llmux import llmux-0.41`:
//! to take over an account made here, to become an admin, to plant a token that passes for one
//! of ours, to make the import write outside the state dir, or to reach the operator's
//! terminal. And the tokens an import brings over obey the same rules as ours.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::{Value, json};

use super::call;
use crate::harness::old_llmux::{
    CRAFTED_HASH, CRAFTED_PASSPHRASE, CRAFTED_SECRET, CRAFTED_SECRET_HASH, import_from,
    write_install,
};
use crate::harness::{TestDaemon, post_json, token};

const ATTACKER_HASH: &str = CRAFTED_HASH;
const ATTACKER_PASSPHRASE: &str = CRAFTED_PASSPHRASE;
const SECRET: &str = CRAFTED_SECRET;
const SECRET_HASH: &str = CRAFTED_SECRET_HASH;

fn import(d: &TestDaemon, from: &Path, config_to: &Path) -> Output {
    import_from(d, from, config_to)
}

fn files_under(dir: &Path, skip: &Path) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        if d.starts_with(skip) {
            continue;
        }
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p);
            }
        }
    }
    out
}

fn login(d: &TestDaemon, user: &str, passphrase: &str) -> u16 {
    post_json(d, "/api/auth/login", &[], json!({"username": user, "passphrase": passphrase})).0
}

#[tokio::test]
async fn a_crafted_install_takes_over_nothing_made_here() {
    let mut d = TestDaemon::builder().admin("root").user("alice").start().await;
    let (alice_token, alice_id) = token(&d, "alice", "user", None).await;
    let from = d.dir().join("old");
    let evil = |name: &str, admin: Value| json!({"username": name, "name": name, "passphraseHash": ATTACKER_HASH, "admin": admin});
    write_install(
        &from,
        &json!([
            evil("root", json!(true)),
            evil("alice", json!(true)),
            evil("mallory", json!("true")),
            evil("../../../tmp/evil", json!(true)),
            {"username": "\u{1b}]0;pwned\u{7}\u{1b}[2J", "name": "x", "passphraseHash": ATTACKER_HASH},
            {"username": "costly", "name": "c", "admin": false,
             "passphraseHash": ATTACKER_HASH.replacen("1024", "1073741824", 1)}
        ]),
        &json!([
            {"tokenId": "rootrootrootroot", "secretHash": SECRET_HASH, "username": "root", "name": "t"},
            {"tokenId": alice_id, "secretHash": SECRET_HASH, "username": "alice", "name": "t"},
            {"tokenId": "mallorymallorymm", "secretHash": SECRET_HASH, "username": "mallory", "name": "m"}
        ]),
        &json!({
            "../../../../tmp/pwn": {"name": "x", "agent": "claude", "cwd": "/"},
            "semi": {"name": "semi", "agent": "claude", "cwd": "/", "flags": "--x; touch /tmp/pwned-by-import"}
        }),
    );
    let config_to = d.dir().join("llmux-config.yaml");
    let before = files_under(d.dir(), &d.paths.state_dir);
    d.kill("TERM");
    let out = import(&d, &from, &config_to);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.stdout.contains(&0x1b),
        "no escape sequence reaches the operator's terminal: {text}"
    );
    assert!(text.contains("\\u{1b}") || text.contains("\\x1b"), "shown escaped: {text}");
    assert!(
        text.contains("costly: its passphrase hash cannot be used") && text.contains("maximum"),
        "{text}"
    );
    d.spawn_daemon().await;

    // nothing was written but the store (and no config: the crafted install has none)
    let after = files_under(d.dir(), &d.paths.state_dir);
    let added: Vec<_> = after.difference(&before).filter(|p| !p.ends_with("daemon.log")).collect();
    assert!(added.is_empty(), "files written outside the state dir: {added:?}");
    assert!(!Path::new("/tmp/pwned-by-import").exists() && !Path::new("/tmp/evil").exists());

    // accounts made here: untouched, the attacker's passphrase opens none of them
    assert_eq!(login(&d, "root", ATTACKER_PASSPHRASE), 401);
    assert_eq!(login(&d, "alice", ATTACKER_PASSPHRASE), 401);
    assert_eq!(login(&d, "root", "root-passphrase"), 200);
    let (_, me) = call(&d, &alice_token, "GET", "/api/auth/whoami", Value::Null);
    assert_eq!(me["admin"], false, "alice is still no admin: {me}");
    // no old token passes for root, or for alice's own token id
    assert_eq!(
        call(&d, &format!("sas_rootrootrootroot.{SECRET}"), "GET", "/api/sessions", Value::Null).0,
        401
    );
    assert_eq!(
        call(&d, &format!("sas_{alice_id}.{SECRET}"), "GET", "/api/sessions", Value::Null).0,
        401
    );
    let forged_ours = format!("llmux_{alice_id}_{}", "0".repeat(64));
    assert_eq!(call(&d, &forged_ours, "GET", "/api/sessions", Value::Null).0, 401);
    assert_eq!(
        call(&d, &alice_token, "GET", "/api/sessions", Value::Null).0,
        200,
        "alice's own token still works"
    );

    // "admin": "true" (a string) made mallory an admin in 0.41; here she is a plain user
    assert_eq!(login(&d, "mallory", ATTACKER_PASSPHRASE), 200);
    let mallory = format!("sas_mallorymallorymm.{SECRET}");
    let (status, me) = call(&d, &mallory, "GET", "/api/auth/whoami", Value::Null);
    assert_eq!((status, me["admin"].clone()), (200, json!(false)), "{me}");
    assert_eq!(call(&d, &mallory, "GET", "/api/admin/users", Value::Null).0, 403);
    let (_, sessions) = call(&d, &mallory, "GET", "/api/sessions", Value::Null);
    assert!(
        sessions.to_string().find("pwn").is_none() && sessions.to_string().find("semi").is_none()
    );
}

/// The authorization of an imported token (the one changed path: `Bearer sas_…`): what a
/// `user` token of ours may do, and nothing more.
#[tokio::test]
async fn an_imported_token_has_exactly_the_rights_of_a_user_token() {
    let mut d = TestDaemon::builder().admin("root").start().await;
    let (_root_token, root_id) = token(&d, "root", "admin", None).await;
    let from = d.dir().join("old");
    write_install(
        &from,
        &json!([{"username": "mallory", "name": "M", "passphraseHash": ATTACKER_HASH, "admin": false}]),
        &json!([{"tokenId": "m-_mallory_token", "secretHash": SECRET_HASH, "username": "mallory", "name": "m"}]),
        &json!({}),
    );
    d.kill("TERM");
    let out = import(&d, &from, &d.dir().join("c.yaml"));
    assert!(out.status.success(), "{out:?}");
    d.spawn_daemon().await;
    let mallory = format!("sas_m-_mallory_token.{SECRET}");
    let id = "sas_m-_mallory_token";

    let (status, list) = call(&d, &mallory, "GET", "/api/tokens", Value::Null);
    assert_eq!(status, 200, "{list}");
    let ids: Vec<&str> =
        list["tokens"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [id], "her own tokens only");
    assert_eq!(list["tokens"][0]["importedFrom"], "llmux 0.41");
    assert_eq!(
        call(&d, &mallory, "GET", "/api/tokens?all=true", Value::Null).1["tokens"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(call(&d, &mallory, "DELETE", &format!("/api/tokens/{root_id}"), Value::Null).0, 404);
    assert_eq!(
        call(&d, &mallory, "PATCH", &format!("/api/tokens/{root_id}"), json!({"name": "x"})).0,
        404
    );
    assert_eq!(call(&d, &mallory, "POST", "/api/tokens", json!({"scope": "admin"})).0, 403);
    assert_eq!(call(&d, &mallory, "GET", "/api/admin/users", Value::Null).0, 403);
    assert_eq!(call(&d, &mallory, "GET", "/api/audit", Value::Null).0, 403);
    let (status, minted) = call(&d, &mallory, "POST", "/api/tokens", json!({"scope": "read-only"}));
    assert_eq!(status, 201, "{minted}");
    // a wrong secret for her id, a truncated one, or her secret under another id: refused
    for bad in [
        format!("sas_m-_mallory_token.{}", "B".repeat(43)),
        format!("sas_m-_mallory_token.{}", &SECRET[..20]),
        format!("sas_m-_mallory_tokem.{SECRET}"),
        format!("sas_m-_mallory_token{SECRET}"),
    ] {
        assert_eq!(call(&d, &bad, "GET", "/api/tokens", Value::Null).0, 401, "{bad}");
    }
    // revocable like ours, by herself; then it is dead
    assert_eq!(call(&d, &mallory, "DELETE", &format!("/api/tokens/{id}"), Value::Null).0, 200);
    assert_eq!(call(&d, &mallory, "GET", "/api/tokens", Value::Null).0, 401);
    // and a second import does not bring it back
    d.kill("TERM");
    let out = import(&d, &from, &d.dir().join("c.yaml"));
    assert!(String::from_utf8_lossy(&out.stdout).contains("revoked here since"), "{out:?}");
    d.spawn_daemon().await;
    assert_eq!(call(&d, &mallory, "GET", "/api/tokens", Value::Null).0, 401);
}
