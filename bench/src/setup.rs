//! What every mode does around its measurements: check the binary, read the versions, make a
//! short scratch state dir, run the daemon on it, then print the run and write its JSON.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::daemon::{Daemon, Run, run_with_daemon};

/// A mode's binary, the versions it reports, and its scratch state dir (removed on drop).
pub struct Setup {
    /// The llmux binary, as an absolute path (the daemon runs in its state dir).
    pub llmux: PathBuf,
    /// `llmux --version`.
    pub version: String,
    /// `tmux -V`.
    pub tmux: String,
    /// CPUs this process may use.
    pub cpus: usize,
    /// Sizes of the binary under test and the release builds present (nothing is built).
    pub binaries: Vec<Binary>,
    dir: TempDir,
}

/// One llmux binary's size on disk.
#[derive(Debug, Clone, PartialEq)]
pub struct Binary {
    /// What it is: `under test`, `gnu release`, `musl release`.
    pub label: &'static str,
    /// Where it is.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
}

/// The binary under test, then the gnu and musl release builds under the target dir
/// (`$CARGO_TARGET_DIR` or `<root>/target`; the musl one is `scripts/build-musl`'s), each
/// when it exists and is not the one under test.
pub fn binaries(llmux: &Path, target_dir: &Path) -> Vec<Binary> {
    let candidates = [
        ("under test", llmux.to_path_buf()),
        ("gnu release", target_dir.join("release/llmux")),
        (
            "musl release",
            target_dir.join(format!("{}-unknown-linux-musl/release/llmux", std::env::consts::ARCH)),
        ),
    ];
    let mut out: Vec<Binary> = Vec::new();
    for (label, path) in candidates {
        let Ok(meta) = std::fs::metadata(&path) else { continue };
        let real = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
        if meta.is_file() && !out.iter().any(|b| b.path == real) {
            out.push(Binary { label, path: real, bytes: meta.len() });
        }
    }
    out
}

/// The line `binaries: under test 21.4 MB (path), musl release 19.0 MB (path)`.
pub fn binaries_line(binaries: &[Binary]) -> String {
    let parts: Vec<String> = binaries
        .iter()
        .map(|b| {
            format!(
                "{} {:.1} MB ({} bytes, {})",
                b.label,
                b.bytes as f64 / 1e6,
                b.bytes,
                b.path.display()
            )
        })
        .collect();
    format!("binaries: {}", parts.join("; "))
}

impl Setup {
    /// Checks that `llmux` is a binary (warning when a source is newer), reads the versions
    /// and makes the state dir; `mode` names the mode in what it prints.
    pub fn new(root: &Path, llmux: &Path, mode: &str) -> Result<Setup> {
        if !llmux.is_file() {
            bail!(
                "no llmux binary at {}; build it with `cargo build --release -p llmux` \
                 (or pass --llmux PATH)",
                llmux.display()
            );
        }
        let llmux = std::fs::canonicalize(llmux)?;
        warn_if_stale(&llmux, root);
        let version = command_line(Command::new(&llmux).arg("--version"));
        let tmux = command_line(Command::new("tmux").arg("-V"));
        // Short path under /tmp: the daemon's Unix sockets live below it.
        let dir = tempfile::Builder::new().prefix("llmux-bench-").tempdir_in("/tmp")?;
        eprintln!("llmux-bench {mode}: {version}, {tmux}, state dir {}", dir.path().display());
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let target_dir =
            std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
        let binaries = binaries(&llmux, &target_dir);
        Ok(Setup { llmux, version, tmux, cpus, binaries, dir })
    }

    /// The daemon's state dir.
    pub fn state(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `config.yaml` into the state dir and returns its path.
    pub fn write_config(&self, text: &str) -> Result<PathBuf> {
        let config = self.state().join("config.yaml");
        std::fs::write(&config, text)?;
        Ok(config)
    }

    /// Runs `body` against a daemon started on the state dir with `config`
    /// ([`run_with_daemon`]).
    pub async fn run<T>(
        &self,
        config: &Path,
        label: &str,
        body: impl AsyncFnOnce(&Daemon) -> Result<T>,
    ) -> Result<Run<T>> {
        run_with_daemon(&self.llmux, self.state(), config, label, body).await
    }

    /// Prints a run's title line (`title — versions, CPUs, detail`), the load average, its
    /// `table` and the daemon's warnings.
    pub fn print<T>(&self, title: &str, detail: &str, run: &Run<T>, table: &str) {
        println!();
        println!("{title} — {}, {}, {} CPUs, {detail}", self.version, self.tmux, self.cpus);
        println!("load average (1 min) {:.2} before, {:.2} after", run.load_before, run.load_after);
        println!("{}", binaries_line(&self.binaries));
        println!();
        print!("{table}");
        if !run.warnings.is_empty() {
            println!("\ndaemon warnings/errors during the run ({}):", run.warnings.len());
            for w in run.warnings.iter().take(10) {
                println!("  {w}");
            }
        }
    }

    /// What every mode's JSON records about the run, with the mode's own `extra` fields.
    pub fn meta<T>(&self, run: &Run<T>, extra: Value) -> Value {
        let mut meta = json!({
            "unix_time": SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
            "llmux": self.llmux.display().to_string(),
            "llmux_version": self.version,
            "tmux_version": self.tmux,
            "cpus": self.cpus,
            "binaries": self.binaries.iter().map(|b| json!({
                "label": b.label, "path": b.path.display().to_string(), "bytes": b.bytes,
            })).collect::<Vec<_>>(),
            "load_average_1m": {"before": run.load_before, "after": run.load_after},
            "daemon_warnings": run.warnings,
        });
        if let (Some(meta), Value::Object(extra)) = (meta.as_object_mut(), extra) {
            meta.extend(extra);
        }
        meta
    }
}

/// Writes `value` as pretty JSON to `out` (making its folder) and says where.
pub fn write_json(out: &Path, value: &Value) -> Result<()> {
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let text = serde_json::to_string_pretty(value)?;
    std::fs::write(out, text + "\n").with_context(|| format!("cannot write {}", out.display()))?;
    println!("\nJSON: {}", out.display());
    Ok(())
}

/// The first line a command prints, or `?` if it cannot run.
pub(crate) fn command_line(cmd: &mut Command) -> String {
    cmd.output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.lines().next().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned())
}

/// Warns when a source file under `crates/` is newer than the binary.
fn warn_if_stale(binary: &Path, root: &Path) {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let Some(built) = modified(binary) else { return };
    let mut stack = vec![root.join("crates")];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for path in entries.flatten().map(|e| e.path()) {
            if path.is_dir() && !path.ends_with("tests") && !path.ends_with("benches") {
                stack.push(path);
            } else if is_build_input(&path) && modified(&path).is_some_and(|m| m > built) {
                eprintln!(
                    "llmux-bench: warning: {} is newer than {}; rebuild with \
                     `cargo build --release -p llmux` to measure the current code",
                    path.display(),
                    binary.display()
                );
                return;
            }
        }
    }
}

/// Whether a file under `crates/` goes into the binary: sources and manifests, not tests.
fn is_build_input(path: &Path) -> bool {
    path.file_name().is_some_and(|n| n == "Cargo.toml")
        || path.extension().is_some_and(|e| e == "rs")
            && path.components().any(|c| c.as_os_str() == "src")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binaries_are_the_one_under_test_and_the_release_builds_present() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::create_dir_all(target.join("release")).unwrap();
        std::fs::create_dir_all(target.join("debug")).unwrap();
        std::fs::write(target.join("debug/llmux"), vec![0u8; 300]).unwrap();
        std::fs::write(target.join("release/llmux"), vec![0u8; 200]).unwrap();
        let debug = target.join("debug/llmux");

        // No musl build: not listed.
        let found = binaries(&debug, &target);
        let labels: Vec<(&str, u64)> = found.iter().map(|b| (b.label, b.bytes)).collect();
        assert_eq!(labels, [("under test", 300), ("gnu release", 200)]);

        let musl = target.join(format!("{}-unknown-linux-musl/release", std::env::consts::ARCH));
        std::fs::create_dir_all(&musl).unwrap();
        std::fs::write(musl.join("llmux"), vec![0u8; 100]).unwrap();
        // The release build under test is listed once.
        let found = binaries(&target.join("release/llmux"), &target);
        let labels: Vec<(&str, u64)> = found.iter().map(|b| (b.label, b.bytes)).collect();
        assert_eq!(labels, [("under test", 200), ("musl release", 100)]);
        let line = binaries_line(&found);
        assert!(line.starts_with("binaries: under test 0.0 MB (200 bytes, "), "{line}");
        assert!(line.contains("; musl release 0.0 MB (100 bytes, "), "{line}");
    }
}
