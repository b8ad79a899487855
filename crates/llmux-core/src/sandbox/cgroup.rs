//! A memory ceiling per session through cgroups (issue 15).
//!
//! The daemon finds a memory hierarchy it can manage ([`hierarchy`], probed once per process):
//! cgroup v2 with the memory controller delegated to its own cgroup, else the cgroup v1
//! `memory` controller at its own cgroup's path. Under that cgroup (`<base>`) each session
//! with a ceiling gets `<base>/llmux/s-<key>` ([`Hierarchy::create`]; the caller's key names
//! the session and the daemon) with the limit
//! written (v2 `memory.max`, and `memory.swap.max` = 0 where present; v1
//! `memory.limit_in_bytes`, and `memory.memsw.limit_in_bytes` where swap is accounted), and
//! the pane's argv is wrapped ([`wrap`]) so that its first process moves itself in before it
//! forks anything: `llmux __cgroup-exec <cgroup.procs> -- argv…` writes `0` (itself) to
//! `cgroup.procs`, then execs the argv ([`exec_in`]). No shell anywhere. [`release`] removes
//! the session's cgroup when it is stopped, killed or removed (best effort).

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The smallest ceiling an admin may set, in MiB (an agent CLI alone needs more).
pub const MIN_MB: u32 = 64;
/// The largest ceiling an admin may set, in MiB (1 TiB).
pub const MAX_MB: u32 = 1_048_576;
/// The hidden subcommand of the `llmux` binary that moves itself into a cgroup and execs.
pub const EXEC_ARG: &str = "__cgroup-exec";

/// Which cgroup version a hierarchy is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// The legacy per-controller hierarchies (`memory` mounted on its own).
    V1,
    /// The unified hierarchy.
    V2,
}

/// A memory hierarchy and the daemon's own cgroup in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    /// v1 or v2.
    pub version: Version,
    /// The daemon's own cgroup directory (under the mount point): sessions' cgroups go under
    /// `<base>/llmux`.
    pub base: PathBuf,
}

/// Why no memory cgroup can be managed here, and how to make it work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unavailable(pub String);

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The memory hierarchies the daemon's own cgroup lies in, from the text of
/// `/proc/self/mountinfo` and `/proc/self/cgroup`: v2 first (when mounted), then v1's
/// `memory` controller. Whether the daemon may write there is not looked at.
pub fn candidates(mountinfo: &str, proc_cgroup: &str) -> Vec<Hierarchy> {
    let mut found = Vec::new();
    let mounts: Vec<Mount> = mountinfo.lines().filter_map(Mount::parse).collect();
    for line in proc_cgroup.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(id), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let version = if id == "0" && controllers.is_empty() {
            Version::V2
        } else if controllers.split(',').any(|c| c == "memory") {
            Version::V1
        } else {
            continue;
        };
        let mount = mounts.iter().find(|m| match version {
            Version::V2 => m.fstype == "cgroup2",
            Version::V1 => m.fstype == "cgroup" && m.options.split(',').any(|o| o == "memory"),
        });
        let Some(mount) = mount else { continue };
        // The mount shows the hierarchy from `root` down: the path must lie under it.
        let Ok(rest) = Path::new(path).strip_prefix(&mount.root) else { continue };
        if rest.components().any(|c| !matches!(c, std::path::Component::Normal(_))) {
            continue;
        }
        found.push(Hierarchy { version, base: mount.point.join(rest) });
    }
    found.sort_by_key(|h| h.version == Version::V1);
    found
}

/// One line of `/proc/self/mountinfo`, the fields used.
struct Mount {
    root: PathBuf,
    point: PathBuf,
    fstype: String,
    options: String,
}

impl Mount {
    fn parse(line: &str) -> Option<Mount> {
        let (left, right) = line.split_once(" - ")?;
        let left: Vec<&str> = left.split(' ').collect();
        let mut right = right.split(' ');
        let fstype = right.next()?.to_owned();
        let _source = right.next()?;
        let options = right.next().unwrap_or("").to_owned();
        Some(Mount {
            root: PathBuf::from(unescape(left.get(3)?)),
            point: PathBuf::from(unescape(left.get(4)?)),
            fstype,
            options,
        })
    }
}

/// mountinfo's octal escapes (`\040` for a space) undone.
fn unescape(field: &str) -> String {
    let mut out = String::new();
    let mut rest = field;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let code = rest.get(i + 1..i + 4).and_then(|o| u8::from_str_radix(o, 8).ok());
        match code {
            Some(byte) => {
                out.push(char::from(byte));
                rest = &rest[i + 4..];
            }
            None => {
                out.push('\\');
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

static PROBED: OnceLock<Result<Hierarchy, Unavailable>> = OnceLock::new();

/// The memory hierarchy this daemon manages sessions' cgroups in, probed on first use and
/// then cached (blocking): the first candidate (see [`candidates`]) where `<base>/llmux` can
/// be made (and, on v2, the memory controller enabled for it). On v2 a cgroup with processes
/// cannot hand controllers to children, so the daemon's cgroup's processes move into the
/// leaf `<base>/daemon` first (as systemd asks of a delegated service).
pub fn hierarchy() -> Result<&'static Hierarchy, Unavailable> {
    let probed = PROBED.get_or_init(|| {
        let probed = probe();
        match &probed {
            Ok(h) => tracing::info!(base = %h.base.display(), version = ?h.version, "memory cgroups for sessions' ceilings"),
            Err(e) => tracing::info!(reason = %e, "no memory cgroups for sessions' ceilings"),
        }
        probed
    });
    probed.as_ref().map_err(Clone::clone)
}

fn probe() -> Result<Hierarchy, Unavailable> {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let found = candidates(&read("/proc/self/mountinfo"), &read("/proc/self/cgroup"));
    let mut why = Vec::new();
    for h in found {
        match h.prepare() {
            Ok(()) => return Ok(h),
            Err(e) => why.push(e),
        }
    }
    if why.is_empty() {
        why.push("no cgroup memory controller is mounted".into());
    }
    Err(Unavailable(format!(
        "the daemon cannot manage a memory cgroup here ({}); run the daemon as root, or as a \
         systemd service with Delegate=yes on cgroup v2 (the memory controller delegated to \
         it)",
        why.join("; ")
    )))
}

impl Hierarchy {
    fn llmux_dir(&self) -> PathBuf {
        self.base.join("llmux")
    }

    /// The cgroup of the session whose key is `key` (its dir name cannot clash with a control
    /// file: none starts with `s-`).
    pub fn session_dir(&self, key: &str) -> PathBuf {
        self.llmux_dir().join(format!("s-{key}"))
    }

    /// Makes `<base>/llmux` and, on v2, hands the memory controller down to it.
    fn prepare(&self) -> Result<(), String> {
        let at = |what: &str, path: &Path, e: std::io::Error| {
            format!("cannot {what} {}: {e}", path.display())
        };
        if self.version == Version::V2 {
            let controllers = self.base.join("cgroup.controllers");
            let text =
                std::fs::read_to_string(&controllers).map_err(|e| at("read", &controllers, e))?;
            if !text.split_whitespace().any(|c| c == "memory") {
                return Err(format!(
                    "the memory controller is not delegated to the daemon's cgroup {}",
                    self.base.display()
                ));
            }
        }
        let dir = self.llmux_dir();
        mkdir(&dir).map_err(|e| at("create", &dir, e))?;
        if self.version == Version::V2 {
            if enable_memory(&self.base).is_err() {
                // Processes in `<base>` keep it from having controlled children: move them all
                // into a leaf of their own.
                let leaf = self.base.join("daemon");
                mkdir(&leaf).map_err(|e| at("create", &leaf, e))?;
                let procs = std::fs::read_to_string(self.base.join("cgroup.procs"))
                    .map_err(|e| at("read", &self.base.join("cgroup.procs"), e))?;
                for pid in procs.split_whitespace() {
                    // A process that exited meanwhile is fine.
                    let _ = write(&leaf.join("cgroup.procs"), pid);
                }
                enable_memory(&self.base).map_err(|e| at("enable memory in", &self.base, e))?;
            }
            enable_memory(&dir).map_err(|e| at("enable memory in", &dir, e))?;
        }
        // `<base>/llmux` may be an earlier daemon's (another uid's): try a session's steps.
        let probe = dir.join(format!("probe-{}", std::process::id()));
        mkdir(&probe).map_err(|e| at("create", &probe, e))?;
        let (file, value) = match self.version {
            Version::V1 => ("memory.limit_in_bytes", "-1"),
            Version::V2 => ("memory.max", "max"),
        };
        let written =
            write(&probe.join(file), value).map_err(|e| at("write", &probe.join(file), e));
        let _ = std::fs::remove_dir(&probe);
        written
    }

    /// Makes the cgroup of the session keyed `name` with a ceiling of `mb` MiB (an earlier one of the
    /// same name, left empty, is replaced), owned by `owner` (uid, gid) when given so a pane
    /// running as that account can move itself in. Returns its `cgroup.procs`. Blocking.
    pub fn create(
        &self,
        name: &str,
        mb: u32,
        owner: Option<(u32, u32)>,
    ) -> Result<PathBuf, String> {
        let dir = self.session_dir(name);
        let fail = |what: &str, path: &Path, e: std::io::Error| {
            format!("cannot {what} the session's memory cgroup {}: {e}", path.display())
        };
        // Left by an earlier run of the session. Still busy (a restart makes the new cgroup
        // before it ends the old pane): reused with the new limit, the old processes are
        // about to be ended.
        let _ = remove_dir(&dir, Duration::ZERO);
        mkdir(&dir).map_err(|e| fail("create", &dir, e))?;
        let bytes = u64::from(mb) * 1024 * 1024;
        let set = |file: &str, value: &str| {
            let path = dir.join(file);
            write(&path, value).map_err(|e| fail("set", &path, e))
        };
        match self.version {
            Version::V2 => {
                set("memory.max", &bytes.to_string())?;
                if dir.join("memory.swap.max").exists() {
                    set("memory.swap.max", "0")?;
                }
            }
            Version::V1 => {
                // memsw must never be below the limit: open it up, set the limit, close it.
                let memsw = dir.join("memory.memsw.limit_in_bytes").exists();
                if memsw {
                    set("memory.memsw.limit_in_bytes", "-1")?;
                }
                set("memory.limit_in_bytes", &bytes.to_string())?;
                if memsw {
                    set("memory.memsw.limit_in_bytes", &bytes.to_string())?;
                }
            }
        }
        let procs = dir.join("cgroup.procs");
        if let Some((uid, gid)) = owner {
            for path in [&dir, &procs] {
                std::os::unix::fs::chown(path, Some(uid), Some(gid))
                    .map_err(|e| fail("hand over", path, e))?;
            }
        }
        Ok(procs)
    }
}

/// `mkdir`, an existing dir being fine.
fn mkdir(dir: &Path) -> std::io::Result<()> {
    match std::fs::create_dir(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        other => other,
    }
}

/// Writes `value` to a control file (no create, no truncate: cgroupfs files are written
/// whole in one `write`).
fn write(path: &Path, value: &str) -> std::io::Result<()> {
    std::fs::OpenOptions::new().write(true).open(path)?.write_all(value.as_bytes())
}

fn enable_memory(dir: &Path) -> std::io::Result<()> {
    let control = dir.join("cgroup.subtree_control");
    if std::fs::read_to_string(&control)?.split_whitespace().any(|c| c == "memory") {
        return Ok(());
    }
    write(&control, "+memory")
}

/// `rmdir` of a cgroup, retried while its last processes are still exiting (`EBUSY`) until
/// `wait` has passed. A missing dir is fine.
fn remove_dir(dir: &Path, wait: Duration) -> std::io::Result<()> {
    let deadline = Instant::now() + wait;
    loop {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if Instant::now() < deadline && e.raw_os_error() == Some(libc_ebusy()) => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(e),
        }
    }
}

fn libc_ebusy() -> i32 {
    rustix::io::Errno::BUSY.raw_os_error()
}

/// Removes the cgroup of the session keyed `name` if it has one (after it was stopped, killed or
/// removed), waiting up to a second for its processes to be gone. Best effort: logged.
/// Never probes: with no hierarchy found yet in this process, it looks where one would be.
pub fn release(name: &str) {
    for h in known() {
        let dir = h.session_dir(name);
        if let Err(e) = remove_dir(&dir, Duration::from_secs(1)) {
            tracing::warn!(session.name = %name, error = %e, dir = %dir.display(), "cannot remove the session's memory cgroup");
        }
    }
}

/// Moves the cgroup of a session re-keyed from `old` to `new` along (best effort).
pub fn rename(old: &str, new: &str) {
    for h in known() {
        let from = h.session_dir(old);
        if from.exists()
            && let Err(e) = std::fs::rename(&from, h.session_dir(new))
        {
            tracing::warn!(session.name = %new, old, error = %e, "cannot rename the session's memory cgroup");
        }
    }
}

/// The hierarchy probed, or before any probe the candidates with a `llmux` dir (made by an
/// earlier daemon).
fn known() -> Vec<Hierarchy> {
    if let Some(probed) = PROBED.get() {
        return probed.iter().cloned().collect();
    }
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    candidates(&read("/proc/self/mountinfo"), &read("/proc/self/cgroup"))
        .into_iter()
        .filter(|h| h.llmux_dir().is_dir())
        .collect()
}

/// The pane's argv run through `helper` (the `llmux` binary): it enters the cgroup whose
/// `cgroup.procs` is `procs`, then execs `argv`.
pub fn wrap(helper: &Path, procs: &Path, argv: Vec<String>) -> Vec<String> {
    let mut wrapped = vec![
        helper.display().to_string(),
        EXEC_ARG.to_owned(),
        procs.display().to_string(),
        "--".to_owned(),
    ];
    wrapped.extend(argv);
    wrapped
}

/// `llmux __cgroup-exec <cgroup.procs> -- argv…` (the arguments after the subcommand): moves
/// this process into the cgroup, then execs `argv` (searched on `PATH`). Returns only on
/// failure, with the message.
pub fn exec_in(mut args: impl Iterator<Item = OsString>) -> String {
    use std::os::unix::process::CommandExt;
    let usage = format!("usage: llmux {EXEC_ARG} <cgroup.procs> -- PROGRAM [ARG]...");
    let (Some(procs), Some(dash)) = (args.next(), args.next()) else { return usage };
    let argv: Vec<OsString> = args.collect();
    if dash != "--" || argv.is_empty() {
        return usage;
    }
    let procs = PathBuf::from(procs);
    // Only into a session's cgroup: never a way to write elsewhere.
    if procs.file_name().is_none_or(|n| n != "cgroup.procs") {
        return format!("{} is not a cgroup.procs file", procs.display());
    }
    if let Err(e) = write(&procs, "0") {
        return format!("cannot enter the session's memory cgroup ({}): {e}", procs.display());
    }
    let e = std::process::Command::new(&argv[0]).args(&argv[1..]).exec();
    format!("cannot run {}: {e}", argv[0].to_string_lossy())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
24 30 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
31 24 0:26 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:27 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:30 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:31 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:35 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn finds_the_daemons_own_cgroup_in_each_memory_hierarchy_v2_first() {
        let cgroup = "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/abc\n1:cpu:/\n0::/\n";
        assert_eq!(
            candidates(MOUNTINFO, cgroup),
            vec![
                Hierarchy { version: Version::V2, base: "/sys/fs/cgroup/unified".into() },
                Hierarchy {
                    version: Version::V1,
                    base: "/sys/fs/cgroup/memory/process_api/abc".into()
                },
            ]
        );
    }

    #[test]
    fn a_pure_v2_host_and_a_v1_controller_mounted_with_others() {
        let v2 = "30 1 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n";
        let cgroup = "0::/system.slice/llmux.service\n";
        assert_eq!(
            candidates(v2, cgroup),
            vec![Hierarchy {
                version: Version::V2,
                base: "/sys/fs/cgroup/system.slice/llmux.service".into()
            }]
        );
        let v1 = "35 31 0:30 / /sys/fs/cgroup/memory,cpu rw - cgroup cgroup rw,cpu,memory\n";
        assert_eq!(
            candidates(v1, "4:cpu,memory:/user.slice\n"),
            vec![Hierarchy {
                version: Version::V1,
                base: "/sys/fs/cgroup/memory,cpu/user.slice".into()
            }]
        );
    }

    #[test]
    fn a_mount_of_a_subtree_and_paths_outside_it() {
        // A container that sees its hierarchy from /docker/abc down.
        let info = "35 31 0:30 /docker/abc /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n";
        assert_eq!(
            candidates(info, "4:memory:/docker/abc/inner\n"),
            vec![Hierarchy { version: Version::V1, base: "/sys/fs/cgroup/memory/inner".into() }]
        );
        // Outside the mounted subtree, or with `..`: not a candidate.
        assert!(candidates(info, "4:memory:/elsewhere\n").is_empty());
        assert!(candidates(info, "4:memory:/docker/abc/../x\n").is_empty());
        // No memory controller mounted at all.
        assert!(
            candidates("32 31 0:27 / /c rw - cgroup cgroup rw,cpu\n", "4:memory:/\n").is_empty()
        );
        // Escaped mount points.
        let spaced = "40 31 0:35 / /sys/fs/my\\040cgroup rw - cgroup2 cgroup2 rw\n";
        assert_eq!(candidates(spaced, "0::/a\n")[0].base, PathBuf::from("/sys/fs/my cgroup/a"));
    }

    #[test]
    fn the_session_dir_never_clashes_with_a_control_file() {
        let h = Hierarchy { version: Version::V1, base: "/cg".into() };
        assert_eq!(h.session_dir("tasks"), PathBuf::from("/cg/llmux/s-tasks"));
        assert_eq!(h.session_dir("fix@bob"), PathBuf::from("/cg/llmux/s-fix@bob"));
    }

    #[test]
    fn the_wrapper_argv_and_its_refusals() {
        let argv = wrap(
            Path::new("/usr/bin/llmux"),
            Path::new("/cg/llmux/s-a/cgroup.procs"),
            vec!["bwrap".into(), "--".into(), "sh".into()],
        );
        assert_eq!(
            argv,
            ["/usr/bin/llmux", EXEC_ARG, "/cg/llmux/s-a/cgroup.procs", "--", "bwrap", "--", "sh"]
        );
        let os = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>().into_iter();
        assert!(exec_in(os(&["/cg/cgroup.procs"])).starts_with("usage"));
        assert!(exec_in(os(&["/cg/cgroup.procs", "x", "sh"])).starts_with("usage"));
        assert!(exec_in(os(&["/cg/cgroup.procs", "--"])).starts_with("usage"));
        let refused = exec_in(os(&["/etc/passwd", "--", "true"]));
        assert!(refused.contains("not a cgroup.procs file"), "{refused}");
    }

    /// The real hierarchy of this machine: found where `/proc/self/cgroup` says the test runs,
    /// a ceiling written, and the cgroup gone again after [`release`].
    #[test]
    fn a_real_session_cgroup_is_made_limited_and_removed() {
        let h = match hierarchy() {
            Ok(h) => h,
            Err(e) if std::env::var_os("LLMUX_REQUIRE_SANDBOX").is_none() => {
                eprintln!("skipped: {e}");
                return;
            }
            Err(e) => panic!("LLMUX_REQUIRE_SANDBOX is set and {e}"),
        };
        let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
        let name = format!("unit-{}", std::process::id());
        let procs = h.create(&name, 96, None).unwrap();
        let dir = h.session_dir(&name);
        assert_eq!(procs, dir.join("cgroup.procs"));
        let limit = match h.version {
            Version::V1 => std::fs::read_to_string(dir.join("memory.limit_in_bytes")).unwrap(),
            Version::V2 => std::fs::read_to_string(dir.join("memory.max")).unwrap(),
        };
        assert_eq!(limit.trim(), (96u64 << 20).to_string(), "{own}");
        // Made again (a restart): the same dir with the new limit.
        h.create(&name, 128, None).unwrap();
        release(&name);
        assert!(!dir.exists(), "{}", dir.display());
    }
}
