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
}

impl AgentCmd {
    pub async fn run(self, ctx: &Ctx) -> Result<u8> {
        match self {
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
                    println!("no agents installed; see them all with `llmux agent list --all`");
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
