//! `llmux backup FILE` and `llmux restore FILE`: the local state dir's database, keys and
//! settings overlay in one archive, and back (see `llmux_core::backup`).
//!
//! Both work on the files of the state dir (`--state-dir`), not through a daemon: a backup
//! reads the database while the daemon runs (or not); a restore needs it stopped.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use llmux_core::backup::Manifest;

use super::Ctx;
use crate::output;

#[derive(Debug, Args)]
pub(crate) struct BackupArgs {
    /// The archive to write (a tar file, mode 0600).
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Replace FILE if it exists.
    #[arg(long)]
    force: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RestoreArgs {
    /// The archive `llmux backup` wrote.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Restore into a state dir that already has llmux state, replacing it.
    #[arg(long)]
    force: bool,
    /// Only check the archive (every checksum, the schema version); change nothing.
    #[arg(long)]
    verify: bool,
}

impl BackupArgs {
    pub async fn run(self, ctx: &Ctx) -> Result<u8> {
        let paths = ctx.paths.clone();
        let file = self.file.clone();
        let manifest = tokio::task::spawn_blocking(move || {
            llmux_core::backup::create(&paths, &file, self.force)
        })
        .await
        .context("the backup task failed")??;
        report(
            ctx,
            &manifest,
            &format!("backed up {} to {}", manifest.state_dir, self.file.display()),
        )
    }
}

impl RestoreArgs {
    pub async fn run(self, ctx: &Ctx) -> Result<u8> {
        let paths = ctx.paths.clone();
        let file = self.file.clone();
        let verify = self.verify;
        let manifest = tokio::task::spawn_blocking(move || match verify {
            true => llmux_core::backup::verify(&file),
            false => llmux_core::backup::restore(&file, &paths, self.force),
        })
        .await
        .context("the restore task failed")??;
        let done = match self.verify {
            true => format!("{} is a complete backup; nothing was changed", self.file.display()),
            false => format!(
                "restored {} into {}; start the daemon with `llmux server start`",
                self.file.display(),
                ctx.paths.state_dir.display()
            ),
        };
        report(ctx, &manifest, &done)
    }
}

fn report(ctx: &Ctx, manifest: &Manifest, done: &str) -> Result<u8> {
    if ctx.json {
        output::json(manifest)?;
        return Ok(0);
    }
    output::say!("{done}");
    output::say!(
        "  llmux {}, schema version {}, taken {}",
        manifest.llmux_version,
        manifest.schema_version,
        manifest.created_at
    );
    for f in &manifest.files {
        output::say!("  {:<14} {:>10} bytes  sha256 {}", f.path, f.size, f.sha256);
    }
    Ok(0)
}
