//! `llmux __man DIR` (hidden): writes the man pages, generated from the CLI definition by
//! clap_mangen: `llmux.1` and one page per visible subcommand, nested ones included
//! (`llmux-session.1`, `llmux-session-start.1`, …). Used by `scripts/package-deb`.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::CommandFactory;

use super::Cli;

/// Writes every page into `dir` (made if missing) and prints the paths written, one a line.
pub(crate) fn run(dir: &Path) -> Result<u8> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot make {}", dir.display()))?;
    let written = generate(dir)?;
    let mut out = std::io::stdout().lock();
    for path in written {
        writeln!(out, "{}", path.display())?;
    }
    Ok(0)
}

/// The pages of `llmux` and its visible subcommands, written into `dir`.
fn generate(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let mut written = Vec::new();
    page(&cmd, dir, &mut written)?;
    Ok(written)
}

fn page(cmd: &clap::Command, dir: &Path, written: &mut Vec<PathBuf>) -> Result<()> {
    let man = clap_mangen::Man::new(cmd.clone())
        .source(concat!("llmux ", env!("CARGO_PKG_VERSION")))
        .manual("llmux manual");
    let path = man.generate_to(dir).with_context(|| {
        format!("cannot write the man page of {} into {}", cmd.get_name(), dir.display())
    })?;
    written.push(path);
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        page(sub, dir, written)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_page_per_visible_command_with_its_options() {
        let dir = tempfile::tempdir().unwrap();
        let written = generate(dir.path()).unwrap();
        let names: Vec<String> =
            written.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
        for want in ["llmux.1", "llmux-session.1", "llmux-session-start.1", "llmux-server-start.1"]
        {
            assert!(names.iter().any(|n| n == want), "{want} missing from {names:?}");
        }
        // Hidden commands (this one, `ls`) get no page.
        assert!(!names.iter().any(|n| n.contains("__man") || n == "llmux-ls.1"), "{names:?}");
        let top = std::fs::read_to_string(dir.path().join("llmux.1")).unwrap();
        assert!(top.starts_with(".ie"), "roff: {}", &top[..top.len().min(200)]);
        assert!(top.contains("state\\-dir"), "global options listed");
        assert!(top.contains("llmux\\-session(1)"), "subcommands referred to by page");
        let sub = std::fs::read_to_string(dir.path().join("llmux-session.1")).unwrap();
        let source = concat!("\"llmux ", env!("CARGO_PKG_VERSION"), "\"");
        assert!(sub.contains(source), "the footer names llmux and its version");
    }
}
