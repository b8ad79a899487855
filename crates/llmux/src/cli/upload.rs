//! `llmux session upload NAME FILE… [--prompt TEXT]`: files into a session's folder.

use std::path::PathBuf;

use anyhow::{Context, Result};
use llmux_client::Client;

use super::Ctx;
use crate::output;

/// Uploads every file (stopping at the first refusal: what went before is kept and said),
/// prints where each landed and how to name it, then sends `prompt` with the names.
pub(super) async fn run(
    ctx: &Ctx,
    client: &Client,
    name: &str,
    files: &[PathBuf],
    prompt: Option<String>,
) -> Result<u8> {
    let mut done = Vec::new();
    for file in files {
        let bytes = tokio::fs::read(file)
            .await
            .with_context(|| format!("cannot read {}", file.display()))?;
        let file_name =
            file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let up = client
            .upload(name, &file_name, bytes.into())
            .await
            .with_context(|| format!("{} was not uploaded", file.display()))?;
        if !ctx.json {
            output::say!("uploaded {} → {} ({} bytes)", file.display(), up.relative_path, up.size);
        }
        done.push(up);
    }
    if let Some(text) = prompt {
        let names: Vec<&str> = done.iter().map(|u| u.mention.as_str()).collect();
        let full = format!("{} {}", text.trim_end(), names.join(" "));
        client.send(name, &full, true).await?;
        if !ctx.json {
            output::say!("sent {} bytes → {name}", full.len());
        }
    } else if !ctx.json {
        let names: Vec<&str> = done.iter().map(|u| u.mention.as_str()).collect();
        output::say!("name them in a prompt as: {}", names.join(" "));
    }
    if ctx.json {
        output::json(&done)?;
    }
    Ok(0)
}
