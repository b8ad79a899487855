//! `llmux logs …`: the daemon's log (admins): the recent lines, or a live tail.

use std::io::Write;

use anyhow::{Result, bail};
use clap::Subcommand;

use super::Ctx;
use crate::output;

#[derive(Debug, Subcommand)]
pub(crate) enum LogsCmd {
    /// The newest log lines, oldest first.
    #[command(visible_alias = "show")]
    List {
        /// How many lines [default: the whole buffer].
        #[arg(long, short = 'n')]
        limit: Option<u32>,
    },
    /// Print log lines as the daemon writes them, until Ctrl-C (--json: one JSON object per
    /// line).
    Tail,
}

impl LogsCmd {
    pub async fn run(self, ctx: &Ctx) -> Result<u8> {
        let client = ctx.client()?;
        match self {
            LogsCmd::List { limit } => {
                let logs = client.logs(limit).await?;
                if ctx.json {
                    output::json(&logs)?;
                } else if logs.entries.is_empty() {
                    output::say!("no log entries yet");
                } else {
                    let mut out = std::io::stdout().lock();
                    for entry in &logs.entries {
                        writeln!(out, "{}", output::log_line(entry))?;
                    }
                }
            }
            LogsCmd::Tail => {
                // Runs until Ctrl-C, which the CLI turns into exit code 130 (see `Cli::run`).
                let mut stream = client.log_stream().await?;
                while let Some(entry) = stream.next().await {
                    let entry = entry?;
                    let line = if ctx.json {
                        serde_json::to_string(&entry)?
                    } else {
                        output::log_line(&entry)
                    };
                    writeln!(std::io::stdout().lock(), "{line}")?;
                }
                bail!(
                    "the daemon ended the log stream (it stopped, or the credential was revoked)"
                );
            }
        }
        Ok(0)
    }
}
