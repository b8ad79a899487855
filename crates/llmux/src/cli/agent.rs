//! `llmux agent …`: the agent catalog.

use anyhow::Result;
use clap::Subcommand;

use super::Ctx;
use crate::output;

#[derive(Debug, Subcommand)]
pub(crate) enum AgentCmd {
    /// List installed agents (all of them with --all).
    #[command(visible_alias = "ls")]
    List {
        /// Include agents that are not installed, with install hints.
        #[arg(long)]
        all: bool,
    },
    /// Print the state a detector reads from a saved screen (stdin by default), to check or
    /// report a misdetection: `llmux session capture NAME > screen.txt`, then
    /// `llmux agent detect --agent qwen screen.txt`. Runs locally; no daemon needed.
    Detect {
        /// Agent key whose detector to run.
        #[arg(long)]
        agent: String,
        /// The saved screen (plain text); `-` or nothing reads stdin.
        file: Option<std::path::PathBuf>,
    },
}

impl AgentCmd {
    pub async fn run(self, ctx: &Ctx) -> Result<u8> {
        match self {
            AgentCmd::Detect { agent, file } => detect(ctx, &agent, file.as_deref()),
            AgentCmd::List { all } => {
                let agents = ctx.client()?.agents(all).await?;
                if ctx.json {
                    output::json(&agents)?;
                    return Ok(0);
                }
                let rows: Vec<Vec<String>> = agents
                    .iter()
                    .map(|a| {
                        vec![
                            a.key.clone(),
                            a.display_name.clone(),
                            if a.installed { "yes".into() } else { "no".into() },
                            a.running.to_string(),
                            if a.flags.is_empty() { "-".into() } else { a.flags.clone() },
                            if a.installed { a.cmd.clone() } else { a.install_hint.clone() },
                        ]
                    })
                    .collect();
                if rows.is_empty() {
                    output::say!("no agents installed; see them all with `llmux agent list --all`");
                    return Ok(0);
                }
                output::table(
                    &["KEY", "NAME", "INSTALLED", "RUNNING", "FLAGS", "CMD / INSTALL"],
                    &rows,
                )?;
                Ok(0)
            }
        }
    }
}

fn detect(ctx: &Ctx, agent: &str, file: Option<&std::path::Path>) -> Result<u8> {
    use std::io::Read;

    use anyhow::Context;
    let screen = match file.filter(|f| f.as_os_str() != "-") {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?,
        None => {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text).context("cannot read stdin")?;
            text
        }
    };
    let Some(found) = llmux_core::agents::kind(agent).and_then(|k| k.detect(&screen)) else {
        let with: Vec<&str> =
            llmux_core::agents::kinds().filter(|k| k.has_detector()).map(|k| k.key()).collect();
        anyhow::bail!(
            "no detector for agent {agent:?}; llmux follows its screen activity instead \
             (detectors: {})",
            with.join(", ")
        );
    };
    if ctx.json {
        output::json(&found)?;
        return Ok(0);
    }
    output::say!("state        {}", found.state);
    if let Some(w) = &found.waiting_for {
        output::say!("waiting for  {w}");
    }
    if let Some(p) = &found.prompt {
        output::say!("question     {}", p.question);
        if !p.detail.is_empty() {
            output::say!("detail       {}", p.detail);
        }
        for (n, o) in (1..).zip(&p.options) {
            let mark = if o.selected { '>' } else { ' ' };
            output::say!("  {mark} {n}. {}  (keys: {})", o.label, o.keys.join(" "));
        }
    }
    Ok(0)
}
