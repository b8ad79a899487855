//! `llmux audit`: who signed in, minted or revoked what, changed which session (admins).

use anyhow::Result;
use clap::Args;

use super::Ctx;
use crate::output;

#[derive(Debug, Args)]
pub(crate) struct AuditArgs {
    /// How many of the newest events [default: 100].
    #[arg(long, short = 'n')]
    limit: Option<u32>,
}

impl AuditArgs {
    pub async fn run(self, ctx: &Ctx) -> Result<u8> {
        let events = ctx.client()?.audit(self.limit).await?;
        if ctx.json {
            output::json(&events)?;
        } else if events.is_empty() {
            output::say!("no audit events yet");
        } else {
            let rows: Vec<Vec<String>> = events
                .iter()
                .map(|e| {
                    vec![
                        e.id.to_string(),
                        e.ts.clone(),
                        e.actor.clone(),
                        e.action.clone(),
                        e.target.clone(),
                        e.detail.clone(),
                    ]
                })
                .collect();
            output::table(&["ID", "TIME", "ACTOR", "ACTION", "TARGET", "DETAIL"], &rows)?;
        }
        Ok(0)
    }
}
