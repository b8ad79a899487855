use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::bwrap::{Sysctls, diagnose};
use super::*;

/// A directory tree for one test; paths canonical. It lives next to the test binary, not in
/// /tmp: everything under /tmp is hidden by the private /tmp already, which would make the
/// hidden-dir rules untested.
struct Tree {
    _dir: tempfile::TempDir,
    base: PathBuf,
}

impl Tree {
    fn new(dirs: &[&str]) -> Tree {
        // A checkout under /tmp (or /var/tmp) puts the test binary there too: then the
        // user's HOME, else a folder under /var/lib (CI runs as root).
        let exe = std::env::current_exe().unwrap();
        let beside_exe = exe.parent().unwrap().to_path_buf();
        let private = |p: &Path| p.starts_with("/tmp") || p.starts_with("/var/tmp");
        let parent = [Some(beside_exe), std::env::var_os("HOME").map(PathBuf::from)]
            .into_iter()
            .flatten()
            .find(|p| !private(p) && p.is_dir())
            .unwrap_or_else(|| {
                let dir = PathBuf::from("/var/lib/llmux-sandbox-tests");
                std::fs::create_dir_all(&dir).unwrap();
                dir
            });
        Tree::new_in(&parent, dirs)
    }

    fn new_in(parent: &Path, dirs: &[&str]) -> Tree {
        let dir = tempfile::Builder::new().prefix("sandbox-unit").tempdir_in(parent).unwrap();
        let base = dir.path().canonicalize().unwrap();
        for d in dirs {
            std::fs::create_dir_all(base.join(d)).unwrap();
        }
        Tree { _dir: dir, base }
    }

    fn p(&self, rel: &str) -> PathBuf {
        self.base.join(rel)
    }

    fn confinement(&self) -> Confinement {
        Confinement {
            home: self.p("home"),
            roots: vec![self.p("ws")],
            cwd: self.p("ws"),
            hidden: vec![],
            read_only: vec![],
            tmux_dir: None,
            env: vec![("TERM".into(), "xterm-256color".into())],
            argv: vec!["claude".into(), "--resume".into()],
        }
    }
}

fn strings(argv: &[OsString]) -> Vec<String> {
    argv.iter().map(|a| a.to_str().unwrap().to_owned()).collect()
}

/// Index of the mount option whose last argument is `path`.
fn pos(argv: &[String], flag: &str, path: &Path) -> usize {
    let path = path.to_str().unwrap();
    argv.windows(2)
        .position(|w| w[0] == flag && w[1] == path)
        .or_else(|| argv.windows(3).position(|w| w[0] == flag && w[2] == path))
        .unwrap_or_else(|| panic!("{flag} … {path} not in {argv:?}"))
}

#[test]
fn argv_is_the_whole_bwrap_command_in_order() {
    let t = Tree::new(&["home", "ws/proj"]);
    let mut c = t.confinement();
    c.cwd = t.p("ws/proj");
    let argv = strings(&c.plan().unwrap().bwrap_argv(Path::new("/usr/bin/bwrap")));
    let (ws, home, proj) = (t.p("ws"), t.p("home"), t.p("ws/proj"));
    let (ws, home, proj) = (ws.to_str().unwrap(), home.to_str().unwrap(), proj.to_str().unwrap());
    // home and ws have the same depth: ordered by path.
    let expected = [
        "/usr/bin/bwrap",
        "--ro-bind",
        "/",
        "/",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--tmpfs",
        "/tmp",
        "--bind",
        home,
        home,
        "--bind",
        ws,
        ws,
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--cap-drop",
        "ALL",
        "--die-with-parent",
        "--chdir",
        proj,
        "--clearenv",
        "--setenv",
        "TERM",
        "xterm-256color",
        "--setenv",
        "HOME",
        home,
        "--",
        "claude",
        "--resume",
    ];
    assert_eq!(argv, expected);
}

#[test]
fn no_new_session_so_the_agent_keeps_its_pane_as_controlling_terminal() {
    let t = Tree::new(&["home", "ws"]);
    let argv = strings(&t.confinement().plan().unwrap().bwrap_argv(Path::new("/b")));
    assert!(!argv.iter().any(|a| a == "--new-session"), "{argv:?}");
    assert!(!argv.iter().any(|a| a == "--unshare-net"), "network must stay shared: {argv:?}");
}

#[test]
fn a_granted_root_under_a_hidden_dir_is_mounted_after_it() {
    let t = Tree::new(&["home", "state/ws"]);
    let mut c = t.confinement();
    c.roots = vec![t.p("state/ws")];
    c.cwd = t.p("state/ws");
    c.hidden = vec![t.p("state")];
    let argv = strings(&c.plan().unwrap().bwrap_argv(Path::new("/b")));
    assert!(pos(&argv, "--tmpfs", &t.p("state")) < pos(&argv, "--bind", &t.p("state/ws")));
}

#[test]
fn a_hidden_dir_under_a_granted_root_is_mounted_after_it() {
    let t = Tree::new(&["home", "ws/.state"]);
    let mut c = t.confinement();
    c.hidden = vec![t.p("ws/.state")];
    let argv = strings(&c.plan().unwrap().bwrap_argv(Path::new("/b")));
    assert!(pos(&argv, "--bind", &t.p("ws")) < pos(&argv, "--tmpfs", &t.p("ws/.state")));
}

#[test]
fn hidden_order_does_not_depend_on_the_order_given() {
    let t = Tree::new(&["home", "a/b/c/d"]);
    let mut c = t.confinement();
    c.roots = vec![t.p("a/b/c"), t.p("a")];
    c.hidden = vec![t.p("a/b/c/d"), t.p("a/b")];
    c.cwd = t.p("a/b/c");
    let plan = c.plan().unwrap();
    let order: Vec<_> = plan.mounts.iter().map(|m| (m.kind, m.path.clone())).collect();
    assert_eq!(
        order,
        [
            (MountKind::HideDir, PathBuf::from("/tmp")),
            (MountKind::ReadWrite, t.p("a")),
            (MountKind::ReadWrite, t.p("home")),
            (MountKind::HideDir, t.p("a/b")),
            (MountKind::ReadWrite, t.p("a/b/c")),
            (MountKind::HideDir, t.p("a/b/c/d")),
        ]
    );
}

#[test]
fn a_hidden_file_gets_dev_null_and_a_missing_one_is_skipped() {
    let t = Tree::new(&["home", "ws"]);
    std::fs::write(t.p("ws/secret.key"), "k").unwrap();
    let mut c = t.confinement();
    c.hidden = vec![t.p("ws/secret.key"), t.p("nowhere")];
    let argv = strings(&c.plan().unwrap().bwrap_argv(Path::new("/b")));
    let i = pos(&argv, "--ro-bind", &t.p("ws/secret.key"));
    assert_eq!(argv[i + 1], "/dev/null");
    assert!(!argv.iter().any(|a| a.ends_with("nowhere")), "{argv:?}");
}

#[test]
fn a_hidden_dir_inside_another_hidden_dir_is_not_mounted_twice() {
    let t = Tree::new(&["home", "ws", "state/run/users/u1"]);
    let mut c = t.confinement();
    c.hidden = vec![t.p("state/run"), t.p("state")];
    c.tmux_dir = Some(t.p("state/run/users/u1"));
    let argv = strings(&c.plan().unwrap().bwrap_argv(Path::new("/b")));
    assert!(!argv.iter().any(|a| *a == t.p("state/run").to_str().unwrap()), "{argv:?}");
    // The user's own tmux dir is shown again, read-write, after the state dir is hidden.
    assert!(
        pos(&argv, "--tmpfs", &t.p("state")) < pos(&argv, "--bind", &t.p("state/run/users/u1"))
    );
}

#[test]
fn read_only_paths_are_shown_again_after_their_hidden_parent() {
    let t = Tree::new(&["home", "ws", "run/systemd/resolve"]);
    let mut c = t.confinement();
    c.hidden = vec![t.p("run")];
    c.read_only = vec![t.p("run/systemd/resolve"), t.p("run/missing")];
    let argv = strings(&c.plan().unwrap().bwrap_argv(Path::new("/b")));
    assert!(
        pos(&argv, "--tmpfs", &t.p("run")) < pos(&argv, "--ro-bind", &t.p("run/systemd/resolve"))
    );
    assert!(!argv.iter().any(|a| a.ends_with("missing")), "{argv:?}");
}

#[test]
fn a_root_under_tmp_is_shown_after_the_private_tmp() {
    let t = Tree::new_in(Path::new("/tmp"), &["home", "ws"]);
    let argv = strings(&t.confinement().plan().unwrap().bwrap_argv(Path::new("/b")));
    assert!(pos(&argv, "--tmpfs", Path::new("/tmp")) < pos(&argv, "--bind", &t.p("ws")));
}

fn plan_error(c: &Confinement) -> String {
    match c.plan() {
        Ok(plan) => panic!("expected an error, got {plan:?}"),
        Err(e) => {
            assert!(matches!(e, crate::Error::Invalid(_)), "{e:?}");
            e.to_string()
        }
    }
}

#[test]
fn cwd_outside_every_granted_root_is_refused() {
    let t = Tree::new(&["home", "ws", "elsewhere"]);
    let mut c = t.confinement();
    c.cwd = t.p("elsewhere");
    let msg = plan_error(&c);
    assert!(msg.contains("not inside a granted workspace root"), "{msg}");
    assert!(msg.contains(t.p("ws").to_str().unwrap()), "names the granted roots: {msg}");
}

#[test]
fn cwd_escaping_by_dotdot_or_symlink_is_refused() {
    let t = Tree::new(&["home", "ws", "elsewhere"]);
    std::os::unix::fs::symlink(t.p("elsewhere"), t.p("ws/link")).unwrap();
    let mut c = t.confinement();
    c.cwd = t.p("ws/../elsewhere");
    assert!(plan_error(&c).contains("not inside"));
    c.cwd = t.p("ws/link");
    assert!(plan_error(&c).contains("not inside"));
    // A prefix that is not a path component is not inside either.
    std::fs::create_dir(t.p("ws2")).unwrap();
    c.cwd = t.p("ws2");
    assert!(plan_error(&c).contains("not inside"));
}

#[test]
fn a_further_cwd_is_checked_by_the_same_rule() {
    let t = Tree::new(&["home", "ws/a", "ws/.state", "elsewhere"]);
    let mut c = t.confinement();
    c.hidden = vec![t.p("ws/.state")];
    let plan = c.plan().unwrap();
    assert_eq!(plan.check_cwd(&t.p("ws/a/../a")).unwrap(), t.p("ws/a"));
    assert!(plan.check_cwd(&t.p("elsewhere")).unwrap_err().to_string().contains("not inside"));
    assert!(plan.check_cwd(&t.p("ws/.state")).unwrap_err().to_string().contains("hides"));
}

#[test]
fn cwd_in_a_hidden_dir_inside_a_root_is_refused() {
    let t = Tree::new(&["home", "ws/.state/x"]);
    let mut c = t.confinement();
    c.hidden = vec![t.p("ws/.state")];
    c.cwd = t.p("ws/.state/x");
    let msg = plan_error(&c);
    assert!(msg.contains("which the sandbox hides"), "{msg}");
}

#[test]
fn missing_relative_or_system_paths_are_refused() {
    let t = Tree::new(&["home", "ws"]);
    let mut c = t.confinement();
    c.cwd = t.p("ws/missing");
    assert!(plan_error(&c).contains("cwd"));
    let mut c = t.confinement();
    c.roots = vec![PathBuf::from("ws")];
    assert!(plan_error(&c).contains("not an absolute path"));
    let mut c = t.confinement();
    c.roots = vec![PathBuf::from("/")];
    c.cwd = PathBuf::from("/");
    assert!(plan_error(&c).contains("whole filesystem"));
    let mut c = t.confinement();
    c.roots = vec![PathBuf::from("/proc/self")];
    assert!(plan_error(&c).contains("/proc"));
    let mut c = t.confinement();
    c.home = t.p("missing-home");
    assert!(plan_error(&c).contains("agent HOME"));
}

#[test]
fn a_path_both_granted_and_hidden_is_refused() {
    let t = Tree::new(&["home", "ws"]);
    let mut c = t.confinement();
    c.hidden = vec![t.p("ws")];
    let msg = plan_error(&c);
    assert!(msg.contains("is both"), "{msg}");
}

#[test]
fn bad_command_or_env_is_refused() {
    let t = Tree::new(&["home", "ws"]);
    let mut c = t.confinement();
    c.argv.clear();
    assert!(plan_error(&c).contains("command"));
    let mut c = t.confinement();
    c.env.push(("A=B".into(), "x".into()));
    assert!(plan_error(&c).contains("invalid env name"));
    let mut c = t.confinement();
    c.env.push(("A".into(), "x\0y".into()));
    assert!(plan_error(&c).contains("NUL"));
}

#[test]
fn home_is_the_agent_home_whatever_the_env_says() {
    let t = Tree::new(&["home", "ws"]);
    let mut c = t.confinement();
    c.env.push(("HOME".into(), "/root".into()));
    let plan = c.plan().unwrap();
    let homes: Vec<_> = plan.env.iter().filter(|(k, _)| k == "HOME").collect();
    assert_eq!(homes, [&("HOME".to_owned(), t.p("home").to_str().unwrap().to_owned())]);
}

#[test]
fn agent_env_keeps_terminal_and_locale_and_drops_the_daemons_own() {
    let inherited = [
        ("PATH", "/usr/bin"),
        ("TERM", "xterm"),
        ("LC_ALL", "C.UTF-8"),
        ("LLMUX_STATE_DIR", "/s"),
        ("TMUX", "/tmp/tmux-0/default,1,0"),
        ("SSH_AUTH_SOCK", "/run/user/0/ssh"),
        ("DBUS_SESSION_BUS_ADDRESS", "unix:path=/run/user/0/bus"),
        ("XDG_RUNTIME_DIR", "/run/user/0"),
        ("HOME", "/root"),
        ("ANTHROPIC_API_KEY", "daemon's"),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()));
    let env = agent_env(inherited, [("TERM".to_owned(), "tmux-256color".to_owned())]);
    let names: Vec<_> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    assert_eq!(names, ["PATH=/usr/bin", "LC_ALL=C.UTF-8", "TMPDIR=/tmp", "TERM=tmux-256color"]);
}

#[test]
fn agent_home_is_under_the_state_dir_and_ids_cannot_escape() {
    let paths = crate::paths::Paths::in_state_dir(PathBuf::from("/s"));
    assert_eq!(agent_home(&paths, "u_12").unwrap(), PathBuf::from("/s/homes/u_12"));
    for bad in ["", "..", ".hidden", "a/b", "a b", &"x".repeat(65)] {
        assert!(agent_home(&paths, bad).is_err(), "{bad:?} accepted");
    }
}

#[test]
fn default_hidden_covers_state_runtime_home_and_run() {
    let paths = crate::paths::Paths::in_state_dir(PathBuf::from("/s"));
    let env = [
        ("XDG_CONFIG_HOME", "/srv/me-config"),
        ("XDG_RUNTIME_DIR", "/run/user/1000"),
        ("SSH_AUTH_SOCK", "/var/agent.sock"),
        ("TMUX_TMPDIR", "relative/ignored"),
        ("XDG_CACHE_HOME", "/"),
        ("PATH", "/usr/bin"),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()));
    let hidden = default_hidden(&paths, Path::new("/home/me"), env);
    assert_eq!(hidden.len(), 8, "{hidden:?}");
    for p in [
        "/s",
        "/s/run",
        "/home/me",
        "/run",
        "/var/tmp",
        "/srv/me-config",
        "/run/user/1000",
        "/var/agent.sock",
    ] {
        assert!(hidden.contains(&PathBuf::from(p)), "{p} not hidden: {hidden:?}");
    }
}

#[test]
fn ensure_private_dir_creates_0700_and_tightens_an_open_one() {
    let t = Tree::new(&[]);
    let home = t.p("homes/u1");
    ensure_private_dir(&home).unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&home), 0o700);
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o755)).unwrap();
    ensure_private_dir(&home).unwrap();
    assert_eq!(mode(&home), 0o700);
    std::fs::write(t.p("file"), "").unwrap();
    assert!(ensure_private_dir(&t.p("file")).is_err());
}

#[test]
fn diagnose_names_the_setting_that_is_off() {
    let bwrap = Path::new("/usr/bin/bwrap");
    let off = Sysctls { max_user_namespaces: Some(0), ..Sysctls::default() };
    let msg = diagnose(bwrap, "setting up uid map: Permission denied", &off);
    assert!(msg.contains("user.max_user_namespaces"), "{msg}");
    assert!(msg.contains("Permission denied"), "{msg}");
    assert!(!msg.contains("unprivileged_userns_clone"), "{msg}");
    let debian = Sysctls { unprivileged_userns_clone: Some(0), ..Sysctls::default() };
    assert!(diagnose(bwrap, "", &debian).contains("kernel.unprivileged_userns_clone=1"));
    let ubuntu = Sysctls { apparmor_restrict: Some(1), ..Sysctls::default() };
    let msg = diagnose(bwrap, "", &ubuntu);
    assert!(msg.contains("apparmor_restrict_unprivileged_userns=0"), "{msg}");
    assert!(msg.contains("AppArmor profile"), "{msg}");
    // Nothing visibly off: every way is listed.
    let msg = diagnose(bwrap, "x", &Sysctls::default());
    for s in ["unprivileged_userns_clone", "max_user_namespaces", "apparmor"] {
        assert!(msg.contains(s), "{msg}");
    }
}
