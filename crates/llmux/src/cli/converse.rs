//! The agent-aware session commands: `prompt --wait`, `watch`, `history`, `resume`.

use anyhow::{Result, bail};
use llmux_api::{AgentState, SessionView};
use llmux_client::{Client, SessionEvent};

use super::Ctx;
use crate::{exit, output};

/// `session prompt NAME TEXT --wait`: prints the reply; the exit code says how it ended.
pub(crate) async fn prompt_wait(
    ctx: &Ctx,
    client: &Client,
    name: &str,
    prompt: &str,
    timeout: u64,
) -> Result<u8> {
    let res = client.send_wait(name, prompt, timeout).await?;
    let state = res.state.unwrap_or(AgentState::Idle);
    if ctx.json {
        output::json(&serde_json::json!({
            "state": state,
            "reply": res.reply,
            "waitingFor": res.waiting_for,
            "prompt": res.prompt,
            "timedOut": res.timed_out,
        }))?;
    } else {
        if let Some(reply) = res.reply.as_deref().filter(|r| !r.is_empty()) {
            output::text(reply)?;
        }
        if res.timed_out {
            output::say_err!("llmux: {name} is still working after {timeout}s");
        } else if state == AgentState::Waiting {
            output::say_err!(
                "llmux: {name} is waiting for you: {}",
                res.waiting_for.as_deref().unwrap_or("an answer")
            );
            if let Some(p) = &res.prompt {
                output::say_err!("  {}", p.question);
                for (n, o) in (1..).zip(&p.options) {
                    output::say_err!("  {n}. {}", o.label);
                }
                output::say_err!("answer with `llmux session answer {name} N`");
            }
        } else if state == AgentState::Exited {
            output::say_err!("llmux: the agent in {name} exited");
        }
    }
    Ok(if res.timed_out {
        exit::TIMEOUT
    } else {
        match state {
            AgentState::Waiting => exit::WAITING,
            AgentState::Exited => exit::SESSION_ENDED,
            _ => 0,
        }
    })
}

/// `session watch [NAMES]`: the current states, then one line per change.
pub(crate) async fn watch(ctx: &Ctx, client: &Client, names: &[String]) -> Result<u8> {
    let wanted = |n: &str| names.is_empty() || names.iter().any(|x| x == n);
    let mut events = client.events().await?;
    let mut shown_list = false;
    while let Some(event) = events.next().await {
        match event? {
            SessionEvent::Sessions(list) if !shown_list => {
                shown_list = true;
                let list: Vec<&SessionView> = list.iter().filter(|s| wanted(&s.name)).collect();
                if ctx.json {
                    for s in &list {
                        output::json_line(&serde_json::json!({
                            "name": s.name, "agent": s.agent, "state": s.state,
                            "since": s.state_since, "waitingFor": s.waiting_for,
                        }))?;
                    }
                } else {
                    for s in &list {
                        output::say!(
                            "{}  {:<20} {}",
                            clock(),
                            s.name,
                            describe(s.state, s.waiting_for.as_deref())
                        );
                    }
                    if list.is_empty() && names.is_empty() {
                        output::say!("{}  (no sessions yet; waiting for changes)", clock());
                    } else if list.is_empty() {
                        output::say!(
                            "{}  (no session matches {}; waiting for one to appear)",
                            clock(),
                            names.join(", ")
                        );
                    }
                }
            }
            SessionEvent::Sessions(_) => {}
            SessionEvent::State(ev) if wanted(&ev.name) => {
                if ctx.json {
                    output::json_line(&ev)?;
                } else {
                    output::say!(
                        "{}  {:<20} {} → {}",
                        clock(),
                        ev.name,
                        ev.previous,
                        describe(ev.state, ev.waiting_for.as_deref())
                    );
                }
            }
            SessionEvent::State(_) => {}
        }
    }
    bail!("the daemon ended the event stream")
}

fn describe(state: AgentState, waiting_for: Option<&str>) -> String {
    match waiting_for {
        Some(w) if state == AgentState::Waiting => format!("waiting ({w})"),
        _ => state.to_string(),
    }
}

fn clock() -> String {
    let now = llmux_core::time::rfc3339_ms(llmux_core::time::now_ms());
    now.get(11..19).unwrap_or("--:--:--").to_owned()
}

/// `session history NAME`.
pub(crate) async fn history(ctx: &Ctx, client: &Client, name: &str) -> Result<u8> {
    let session = client.session(name).await?;
    let list = client.conversations(name).await?;
    if ctx.json {
        output::json(&list)?;
        return Ok(0);
    }
    if !session.has_history {
        output::say!("llmux does not read {}'s conversations", session.agent);
        return Ok(0);
    }
    if list.is_empty() {
        output::say!("no conversations of {} in {} yet", session.agent, session.cwd_display);
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|c| {
            vec![
                c.id.clone(),
                c.last_message_at.as_deref().map_or_else(|| "-".into(), output::ago),
                c.message_count.to_string(),
                c.title.clone(),
            ]
        })
        .collect();
    output::table(&["ID", "LAST", "MESSAGES", "TITLE"], &rows)?;
    Ok(0)
}

/// `session resume NAME --latest | --conversation ID`.
pub(crate) async fn resume(
    ctx: &Ctx,
    client: &Client,
    name: &str,
    latest: bool,
    conversation: Option<String>,
) -> Result<u8> {
    let id = match conversation {
        Some(id) => id,
        None if latest => match client.conversations(name).await?.into_iter().next() {
            Some(c) => c.id,
            None => bail!("{name} has no past conversation to resume"),
        },
        None => bail!("give --latest or --conversation ID"),
    };
    let session = client.resume(name, &id).await?;
    if ctx.json {
        output::json(&session)?;
    } else {
        output::say!("resumed {} on conversation {id}", session.name);
    }
    Ok(0)
}
