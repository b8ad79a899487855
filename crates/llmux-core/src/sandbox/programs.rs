//! Where an agent CLI is installed, so the sandbox can show it again when it lies in a hidden
//! dir: agents installed under the daemon user's HOME (`~/.local/bin`, `~/.npm-global`,
//! nvm's `~/.nvm/versions/node/vX/bin`) would otherwise be missing inside.

use std::path::{Path, PathBuf};

/// The directories to show read-only so that `program` (a bare name looked up on `path_env`,
/// or a path) runs inside a sandbox hiding `hidden`: the dir it was found in and the dir of
/// the file it links to (an npm package's own dir, with its `node_modules`), then the same for
/// the interpreter its `#!` line names (`#!/usr/bin/env node` → nvm's `node`). Only dirs that
/// lie under a hidden path are returned; nothing when the program is not found.
pub fn install_dirs(program: &str, path_env: Option<&str>, hidden: &[PathBuf]) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    let mut next = Some(program.to_owned());
    // The program, then at most one interpreter (an interpreter's own `#!` is not followed).
    for _ in 0..2 {
        let Some(name) = next.take() else { break };
        let Some(found) = lookup(&name, path_env) else { break };
        let canonical = found.canonicalize().unwrap_or_else(|_| found.clone());
        for file in [&found, &canonical] {
            if let Some(dir) = file.parent().filter(|d| under_any(d, hidden))
                && !dirs.iter().any(|d: &PathBuf| d == dir)
            {
                dirs.push(dir.to_path_buf());
            }
        }
        next = interpreter(&canonical);
    }
    dirs
}

/// `name` if it has a slash, else the first executable `dir/name` of `path_env`.
fn lookup(name: &str, path_env: Option<&str>) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let executable =
        |p: &Path| p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
    if name.contains('/') {
        let path = PathBuf::from(name);
        return executable(&path).then_some(path);
    }
    path_env?
        .split(':')
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(name))
        .find(|p| executable(p))
}

/// The interpreter a script's `#!` line names: `env`'s argument, else the path itself.
fn interpreter(script: &Path) -> Option<String> {
    use std::io::Read;
    let mut head = [0u8; 256];
    let n = std::fs::File::open(script).ok()?.read(&mut head).ok()?;
    let line = head[..n].strip_prefix(b"#!")?;
    let line = &line[..line.iter().position(|b| *b == b'\n').unwrap_or(line.len())];
    let line = std::str::from_utf8(line).ok()?;
    let mut words = line.split_whitespace();
    let first = words.next()?;
    if first.ends_with("/env") {
        words.find(|w| !w.starts_with('-')).map(str::to_owned)
    } else {
        Some(first.to_owned())
    }
}

fn under_any(dir: &Path, hidden: &[PathBuf]) -> bool {
    hidden.iter().any(|h| dir.starts_with(h))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{PermissionsExt, symlink};

    fn write_exec(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[test]
    fn an_npm_agent_under_a_hidden_home_shows_its_bin_package_and_node() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let prefix = home.join(".nvm/versions/node/v20");
        let package = prefix.join("lib/node_modules/agent");
        write_exec(&package.join("cli.js"), "#!/usr/bin/env node\nconsole.log(1)\n");
        write_exec(&prefix.join("bin/node"), "\x7fELF");
        symlink("../lib/node_modules/agent/cli.js", prefix.join("bin/agent")).unwrap();
        let path = format!("/usr/bin:{}", prefix.join("bin").display());
        let dirs = install_dirs("agent", Some(&path), std::slice::from_ref(&home));
        let bin = prefix.join("bin").canonicalize().unwrap();
        let package = package.canonicalize().unwrap();
        let home = home.canonicalize().unwrap();
        let dirs: Vec<PathBuf> = dirs.iter().map(|d| d.canonicalize().unwrap()).collect();
        assert_eq!(dirs, [bin, package], "node sits in the bin dir already: {dirs:?}");
        assert!(dirs.iter().all(|d| d.starts_with(&home)));
    }

    #[test]
    fn programs_outside_hidden_dirs_need_nothing() {
        let dir = tempfile::tempdir().unwrap();
        write_exec(&dir.path().join("bin/agent"), "#!/bin/sh\n");
        let path = dir.path().join("bin").display().to_string();
        assert!(install_dirs("agent", Some(&path), &[PathBuf::from("/nonexistent")]).is_empty());
        assert!(install_dirs("missing", Some(&path), &[dir.path().to_owned()]).is_empty());
        let shown = install_dirs("agent", Some(&path), &[dir.path().to_owned()]);
        assert_eq!(shown, [dir.path().join("bin")]);
    }
}
