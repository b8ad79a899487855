//! `prompt --wait`: type a prompt, wait until the agent leaves `working`, return its reply.

use std::time::Duration;

use llmux_api::{AgentState, PendingPrompt, TurnPart, TurnRole};
use tokio::time::Instant;

use super::SessionService;
use crate::error::Result;
use crate::validate;

/// How a waited prompt ended.
#[derive(Debug, Clone, PartialEq)]
pub struct WaitOutcome {
    /// The state the agent was left in: `idle`, `waiting`, `exited`, or `working` on timeout.
    pub state: AgentState,
    /// The agent's reply: from its transcript where llmux reads one, else the new pane text.
    pub reply: String,
    /// While `waiting`: what for.
    pub waiting_for: Option<String>,
    /// While `waiting`: the question and its options.
    pub prompt: Option<PendingPrompt>,
    /// The timeout passed before the agent was done.
    pub timed_out: bool,
}

/// How often the waited session's screen is read while a waiter is on it.
const POKE_EVERY: Duration = Duration::from_millis(50);
/// If the agent shows no sign of work this long after Enter, it is taken as done.
const NO_REACTION: Duration = Duration::from_secs(5);

impl SessionService {
    /// Types `prompt` (held while the agent starts, queued behind other senders), then waits
    /// until the agent is `idle`, `waiting` or `exited`, or `timeout` passes.
    pub async fn send_and_wait(
        &self,
        name: &str,
        prompt: &str,
        timeout: Duration,
    ) -> Result<WaitOutcome> {
        validate::prompt(prompt)?;
        let record = self.record(name)?;
        let queue = self.input_lock(name);
        let _turn = queue.lock().await;
        self.ensure_running(name)?;
        let deadline = Instant::now() + timeout;
        self.wait_until_ready(name, timeout.min(self.opts.ready_timeout)).await?;
        let before = self.tmux_of(name).capture(name, 2000).await.unwrap_or_default();
        let start = self.track(name).map_or(0, |t| t.transitions);
        self.type_prompt(name, &record.agent, prompt, true).await?;
        let sent = Instant::now();

        let mut worked = false;
        let mut timed_out = false;
        loop {
            self.poke(name).await;
            let Some(track) = self.track(name) else { break };
            let moved = track.transitions != start;
            match track.state {
                AgentState::Working => worked = true,
                AgentState::Exited => break,
                AgentState::Waiting if worked || moved => break,
                AgentState::Idle if worked || moved => break,
                AgentState::Idle if sent.elapsed() >= NO_REACTION => break,
                _ => {}
            }
            if Instant::now() >= deadline {
                timed_out = true;
                break;
            }
            tokio::time::sleep(POKE_EVERY).await;
        }
        let track = self.track(name);
        let state = track.as_ref().map_or(AgentState::Exited, |t| t.state);
        let reply = self.reply(name, prompt, &before, state).await;
        Ok(WaitOutcome {
            state,
            reply,
            waiting_for: track.as_ref().and_then(|t| t.waiting_for.clone()),
            prompt: track.and_then(|t| t.prompt),
            timed_out,
        })
    }

    /// The reply to `prompt`: the assistant's text after the last user turn of the live
    /// transcript, else the pane text that came after the prompt.
    async fn reply(&self, name: &str, prompt: &str, before: &str, state: AgentState) -> String {
        if let Ok(record) = self.record(name)
            && self.kind_of(&record.agent).has_history()
        {
            // The transcript may land a moment after the screen shows the answer.
            let until = Instant::now() + Duration::from_millis(1500);
            loop {
                match self.transcript_reply(name, prompt) {
                    FromTranscript::Reply(text) => return text,
                    FromTranscript::NoTranscript => break,
                    FromTranscript::Pending => {}
                }
                if Instant::now() >= until || state != AgentState::Idle {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        let after = self.tmux_of(name).capture(name, 2000).await.unwrap_or_default();
        pane_reply(before, &after, prompt)
    }

    fn transcript_reply(&self, name: &str, prompt: &str) -> FromTranscript {
        let Ok(record) = self.record(name) else { return FromTranscript::NoTranscript };
        // Never another owner's conversation in the same cwd.
        let Some(transcript) = self.own_transcript(&record) else {
            return FromTranscript::NoTranscript;
        };
        let first = prompt.lines().next().unwrap_or_default().trim();
        let Some(user) = transcript.turns.iter().rposition(|t| {
            t.role == TurnRole::User
                && t.parts
                    .iter()
                    .any(|p| matches!(p, TurnPart::Text { text, .. } if text.contains(first)))
        }) else {
            return FromTranscript::Pending;
        };
        let text: Vec<&str> = transcript.turns[user + 1..]
            .iter()
            .filter(|t| t.role == TurnRole::Assistant)
            .flat_map(|t| t.parts.iter())
            .filter_map(|p| match p {
                TurnPart::Text { text, .. } => Some(text.trim()),
                _ => None,
            })
            .filter(|t| !t.is_empty())
            .collect();
        if text.is_empty() {
            FromTranscript::Pending
        } else {
            FromTranscript::Reply(text.join("\n\n"))
        }
    }
}

/// What the live transcript says about a reply.
enum FromTranscript {
    /// There is no transcript to read (yet): use the pane.
    NoTranscript,
    /// There is one, without the reply yet: it may be a moment behind the screen.
    Pending,
    /// The assistant's text after the prompt.
    Reply(String),
}

/// The new pane text: what `after` has between the part it shares with `before` at the top
/// (earlier output) and at the bottom (the agent's unchanged composer and footer), from the
/// line after the prompt's echo, blank edges trimmed.
pub(crate) fn pane_reply(before: &str, after: &str, prompt: &str) -> String {
    let old: Vec<&str> = before.lines().map(str::trim_end).collect();
    let new: Vec<&str> = after.lines().map(str::trim_end).collect();
    let top = old.iter().zip(&new).take_while(|(a, b)| a == b).count();
    let bottom = old
        .iter()
        .rev()
        .zip(new.iter().rev())
        .take_while(|(a, b)| a == b)
        .count()
        .min(new.len() - top);
    let region = &new[top..new.len() - bottom];
    // TUIs that redraw push every frame into the scrollback: the last echo is the one
    // right above the reply.
    let first = prompt.lines().next().unwrap_or_default().trim();
    let start = region.iter().rposition(|l| is_echo(l, first)).map_or(0, |i| i + 1);
    let tail = &region[start..];
    let from = tail.iter().position(|l| !l.trim().is_empty()).unwrap_or(tail.len());
    let to = tail.iter().rposition(|l| !l.trim().is_empty()).map_or(from, |i| i + 1);
    tail[from..to].join("\n")
}

/// Whether `line` is a composer's echo of a prompt starting with `first`: a prompt marker
/// (`>`, `›`, `❯`), possibly inside a box, then the text.
fn is_echo(line: &str, first: &str) -> bool {
    let line = line.trim_start_matches([' ', '│', '┃', '\u{a0}']);
    let Some(rest) = line.strip_prefix(['>', '›', '❯']) else { return false };
    !first.is_empty() && rest.trim_start_matches([' ', '\u{a0}']).starts_with(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reply_is_what_follows_the_prompt_echo() {
        // an append-style agent: the prompt line grows, output follows
        let before = "PROMPT[0]: x\n> ";
        let after = "PROMPT[0]: x\n> say hello\nPROMPT[1]: say hello\n> ";
        assert_eq!(pane_reply(before, after, "say hello"), "PROMPT[1]: say hello");
        // a redrawing agent: history above, the same composer below, the reply between
        let chrome = "───\n>   Type your message\n───\n  ? for shortcuts";
        let before = format!("logo\n  > old\n  ✦ old reply\n{chrome}");
        let after = format!(
            "logo\n  > old\n  ✦ old reply\n  > say hello\n  ✦ Hello there.\n    More.\n{chrome}"
        );
        assert_eq!(pane_reply(&before, &after, "say hello"), "  ✦ Hello there.\n    More.");
        assert_eq!(pane_reply("a\nb", "a\nb\nc\n", "not shown"), "c");
        // every redrawn frame in the scrollback; a reply that quotes the prompt
        let after = format!(
            "{before}\n  > say hello\n  ⠋ Thinking\n{chrome}\n  > say hello\n  ✦ You said say hello\n{chrome}"
        );
        assert_eq!(pane_reply(&before, &after, "say hello"), "  ✦ You said say hello");
    }
}
