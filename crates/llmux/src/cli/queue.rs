//! `llmux session queue NAME` and the scheduling flags of `session prompt` (`--at`, `--in`,
//! `--when idle`, `--after-limit`): prompts the daemon keeps and types when due.

use anyhow::{Result, bail};
use clap::Args;
use llmux_api::{QueueEditRequest, QueueItem, SendRequest};
use llmux_client::Client;

use super::Ctx;
use crate::output;

/// When a prompt is typed, if not now.
#[derive(Debug, Args, Default)]
pub(crate) struct WhenArgs {
    /// Type it at this time (RFC 3339, e.g. 2026-12-04T18:00:00Z).
    #[arg(long, value_name = "TIME", conflicts_with = "within")]
    pub at: Option<String>,
    /// Type it after this long (90s, 5m, 1h30m).
    #[arg(long = "in", id = "within", value_name = "DURATION")]
    pub within: Option<String>,
    /// Type it when the agent is idle (the only value: idle).
    #[arg(long, value_name = "STATE", value_parser = ["idle"])]
    pub when: Option<String>,
    /// Type it once the agent's rate limit has reset (the text defaults to "continue").
    #[arg(long)]
    pub after_limit: bool,
}

impl WhenArgs {
    /// Whether the prompt is queued rather than typed now.
    pub fn is_queued(&self) -> bool {
        self.at.is_some() || self.within.is_some() || self.when.is_some() || self.after_limit
    }
}

/// `llmux session queue NAME [--cancel ID | --move ID --to N | --edit ID TEXT…]`.
#[derive(Debug, Args)]
pub(crate) struct QueueArgs {
    /// Session name.
    name: String,
    /// Cancel the waiting prompt with this id.
    #[arg(long, value_name = "ID", conflicts_with_all = ["move_", "edit"])]
    cancel: Option<i64>,
    /// Move the waiting prompt with this id (to the place --to).
    #[arg(long = "move", id = "move_", value_name = "ID", requires = "to")]
    move_: Option<i64>,
    /// The new place of --move (1 = first).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    to: Option<u32>,
    /// Replace the text of the waiting prompt with this id (the new text follows).
    #[arg(long, value_name = "ID", requires = "text")]
    edit: Option<i64>,
    /// With --edit: the new text; several words are joined with spaces; `-` reads stdin.
    #[arg(num_args = 0.., requires = "edit")]
    text: Vec<String>,
}

fn describe(item: &QueueItem) -> String {
    let mut when = Vec::new();
    if let Some(t) = &item.not_before {
        when.push(format!("at {t}"));
    }
    if item.when_idle {
        when.push("when idle".to_owned());
    }
    if item.after_limit {
        when.push("after the rate limit".to_owned());
    }
    if when.is_empty() {
        when.push("next".to_owned());
    }
    when.join(", ")
}

/// `session prompt NAME TEXT --at/--in/--when/--after-limit`.
pub(crate) async fn prompt_later(
    ctx: &Ctx,
    client: &Client,
    name: &str,
    prompt: String,
    enter: bool,
    when: WhenArgs,
) -> Result<u8> {
    let req = SendRequest {
        prompt,
        enter: Some(enter),
        at: when.at,
        in_: when.within,
        when: when.when,
        after_limit: when.after_limit.then_some(true),
        ..Default::default()
    };
    let res = client.send_request(name, &req).await?;
    let Some(item) = res.queued else { bail!("the daemon did not queue the prompt") };
    if ctx.json {
        output::json(&item)?;
    } else {
        output::say!("queued #{} for {name} ({}), place {}", item.id, describe(&item), item.place);
    }
    Ok(0)
}

/// `session queue NAME …`.
pub(crate) async fn run(ctx: &Ctx, client: &Client, args: QueueArgs) -> Result<u8> {
    let name = args.name;
    if let Some(id) = args.cancel {
        client.queue_cancel(&name, id).await?;
        if ctx.json {
            output::json(&serde_json::json!({"ok": true}))?;
        } else {
            output::say!("cancelled #{id} of {name}");
        }
        return Ok(0);
    }
    let edit = match (args.move_, args.edit) {
        (Some(a), Some(b)) if a != b => bail!("--move and --edit name different items"),
        (Some(id), _) | (_, Some(id)) => Some(id),
        _ => None,
    };
    if let Some(id) = edit {
        let text =
            if args.edit.is_some() { Some(super::session::prompt_text(args.text)?) } else { None };
        let req = QueueEditRequest { text, to: args.to.map(|n| n as usize) };
        let item = client.queue_edit(&name, id, &req).await?;
        if ctx.json {
            output::json(&item)?;
        } else {
            output::say!(
                "#{} of {name} is now place {} ({})",
                item.id,
                item.place,
                describe(&item)
            );
        }
        return Ok(0);
    }
    let queue = client.queue(&name).await?;
    if ctx.json {
        output::json(&queue)?;
        return Ok(0);
    }
    if queue.items.is_empty() && queue.waiting.is_empty() {
        output::say!("no prompts waiting for {}", queue.session);
        return Ok(0);
    }
    for w in &queue.waiting {
        let first = w.text.lines().next().unwrap_or_default();
        let text: String = first.chars().take(60).collect();
        let more = if text.len() < w.text.len() { "…" } else { "" };
        let why = match w.reason.as_str() {
            "starting" => "typing once the agent is ready",
            _ => "typing after the prompt before it",
        };
        output::say!("  now        {why:<28} {text}{more}");
    }
    for item in &queue.items {
        let first = item.text.lines().next().unwrap_or_default();
        let text: String = first.chars().take(60).collect();
        let more = if text.len() < item.text.len() { "…" } else { "" };
        output::say!("{:>3}. #{:<5} {:<28} {text}{more}", item.place, item.id, describe(item));
    }
    Ok(0)
}
