//! Rate-limit screens: "limit reached, resets at …", read for every agent with a detector.
//!
//! Captured in the lab (issue 19): each real CLI against the mock model
//! (`crates/llmux/tests/fixtures/mock-model`, prompt `please limit N [api]`), which answers
//! HTTP 429 the way each provider does (body and headers: `retry-after`, OpenAI's
//! `x-ratelimit-reset-requests`, Anthropic's `anthropic-ratelimit-*` and unified
//! subscription headers, Gemini's `RESOURCE_EXHAUSTED` with `RetryInfo`, Codex's
//! `usage_limit_reached` with `resets_at`). The screens are in
//! `tests/screens/<agent>/limited-*.txt`:
//! - **Claude Code 2.1.197**, subscription (OAuth) limit: `⎿ You've hit your session limit ·
//!   resets 10:17pm (UTC)` and a `What do you want to do?` choice (`Stop and wait for limit to
//!   reset`); with an API key: `API Error: Request rejected (429) · This request would exceed
//!   your account's rate limit. Please try again later.` (no time: `limited`, reset unknown).
//! - **Codex 0.171**: `■ You've hit your usage limit. Upgrade to Pro (…) or try again at
//!   10:14 PM.` (with a `Switch to …?` prompt first, then idle), and a status line
//!   `⚠ 5h limit: … resets at 22:14`. An API-key 429 (OpenAI `rate_limit_exceeded`) is
//!   retried: `Server is busy, reconnecting 1/5 … last status: 429 Too Many Requests` while
//!   working, no reset shown (stays `working`).
//! - **Gemini CLI 0.61**: a dialog `Usage limit reached for <model>.` / `Access resets at
//!   10:14 PM UTC.` (choices `Switch to …`, `Keep trying`, `Stop`); after `Stop`: `✕ [API
//!   Error: You exceeded your current quota, … Please retry in 7200s. Suggested retry after
//!   7200s.]`. A per-day quota (`…PerDay…` quota id) is retried silently (`Thinking...`).
//! - **OpenCode 1.18**: retries by itself and says so while working: `Rate limit reached for
//!   <model> … [retrying in 1h 59m attempt #1]` (the time is dropped when the line is cut at
//!   120 columns). `limited`, with the reset where shown; it goes on by itself afterwards.
//! - **Qwen Code 0.15.10**: retries silently with backoff (about every 30 s) and shows only
//!   its spinner: nothing limit-like on screen, so it stays `working`.
//!
//! A clock time is the next such time from now, read as UTC (a zone other than UTC/GMT is
//! not converted: on a machine not on UTC such a reset is off by its offset; the state is
//! `limited` all the same, and `resetsAt` says what was read).

/// A limit seen on screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    /// The line that says it (to tell one limit message from the next).
    pub text: String,
    /// When it resets (unix ms), if the screen says.
    pub resets_at: Option<i64>,
    /// The agent says it retries by itself (OpenCode's `[retrying in …]`): its screen is a
    /// working one, and it goes on without being told.
    pub retrying: bool,
}

impl Limit {
    /// Whether this limit makes a screen the detector read as `state` `limited`: an idle or
    /// waiting agent stopped at it; a working one only while it says it retries (else the
    /// message is an old one above new work).
    pub fn applies_to(&self, state: llmux_api::AgentState) -> bool {
        use llmux_api::AgentState::*;
        match state {
            Idle | Waiting | Limited => true,
            Working => self.retrying,
            _ => false,
        }
    }
}

const SIGNS: &[&str] = &[
    "usage limit reached",
    "ve hit your",
    "exceeded your current quota",
    "rate limit reached for",
    "would exceed your account's rate limit",
    "request rejected (429)",
    "limit reached for",
    "hit your usage limit",
    "hit your limit",
    "limit will reset",
    "quota limit reached",
    "5-hour limit reached",
    "weekly limit reached",
];

/// How many non-blank lines at the bottom are searched.
const LAST_LINES: usize = 15;

/// The limit message near the bottom of `screen`, read at `now` (unix ms), if any.
pub fn read(screen: &str, now: i64) -> Option<Limit> {
    let lines: Vec<&str> = screen.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let bottom = &lines[lines.len().saturating_sub(LAST_LINES)..];
    let at = bottom.iter().rposition(|l| {
        let low = l.to_lowercase();
        SIGNS.iter().any(|s| low.contains(s))
    })?;
    let text = bottom[at].to_owned();
    // the reset is said on that line or the next few
    let tail: String = bottom[at..(at + 4).min(bottom.len())].join(" ").to_lowercase();
    let retrying = tail.contains("[retrying in") || tail.contains("retrying in ");
    Some(Limit { text, resets_at: reset_time(&tail, now, local_offset_secs()), retrying })
}

/// The offset a zone-less clock time is read in. `time` can tell the local offset only in a
/// single-threaded process (its `local-offset` feature refuses otherwise), so: UTC.
fn local_offset_secs() -> i64 {
    0
}

/// The reset time said in `text` (lower case): `resets at 3:15 pm utc`, `reset at 3pm`,
/// `resets 3pm`, `try again at 3:15 pm`, `try again in 2 hours 5 minutes`, `resets in 90s`,
/// `retry in 7200s`, `retrying in 1h 59m`, `retry after 60s`.
fn reset_time(text: &str, now: i64, offset: i64) -> Option<i64> {
    for key in ["resets", "reset", "try again", "retrying", "retry"] {
        let Some(i) = text.find(key) else { continue };
        let rest = text[i + key.len()..].trim_start();
        if let Some(rel) = rest.strip_prefix("in ").or_else(|| rest.strip_prefix("after ")) {
            match relative(rel) {
                Some(ms) => return Some(now + ms),
                None => continue,
            }
        }
        let rest = rest.strip_prefix("at ").unwrap_or(rest);
        if let Some(t) = clock(rest, now, offset) {
            return Some(t);
        }
    }
    None
}

/// `2 hours 5 minutes`, `4 days 19 hours`, `90s`, `3 seconds`, `1h 30m` in milliseconds.
fn relative(text: &str) -> Option<i64> {
    let mut total = 0i64;
    let mut seen = false;
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut i = 0;
    while i < words.len() {
        let w = words[i].trim_end_matches([',', '.']);
        let digits: String = w.chars().take_while(char::is_ascii_digit).collect();
        if digits.is_empty() {
            break;
        }
        let n: i64 = digits.parse().ok()?;
        let mut unit = &w[digits.len()..];
        if unit.is_empty() {
            i += 1;
            unit = words.get(i).map_or("", |u| u.trim_end_matches([',', '.']));
        }
        let ms = match unit {
            u if u.starts_with("ms") => 1,
            u if u.starts_with('d') => 86_400_000,
            u if u.starts_with('h') => 3_600_000,
            u if u.starts_with("min") || u == "m" => 60_000,
            u if u.starts_with('s') => 1_000,
            _ => break,
        };
        total += n * ms;
        seen = true;
        i += 1;
        if words.get(i).is_some_and(|w| *w == "and") {
            i += 1;
        }
    }
    seen.then_some(total)
}

/// `3:15 pm utc`, `3pm (europe/berlin)`, `15:15` → the next such time after `now` (one in
/// the current minute is now).
fn clock(text: &str, now: i64, offset: i64) -> Option<i64> {
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    if i == 0 || i > 2 {
        return None;
    }
    let mut hour: i64 = text[..i].parse().ok()?;
    let mut minute = 0i64;
    let mut rest = &text[i..];
    if let Some(r) = rest.strip_prefix(':') {
        let m: String = r.chars().take_while(char::is_ascii_digit).collect();
        if m.len() != 2 {
            return None;
        }
        minute = m.parse().ok()?;
        rest = &r[2..];
    }
    let rest = rest.trim_start();
    let (pm, am) = (
        rest.starts_with("pm") || rest.starts_with("p.m"),
        rest.starts_with("am") || rest.starts_with("a.m"),
    );
    if pm || am {
        if !(1..=12).contains(&hour) {
            return None;
        }
        hour %= 12;
        if pm {
            hour += 12;
        }
    } else if rest.starts_with(':')
        || i == 1 && !rest.is_empty() && !rest.starts_with(['(', 'u', 'g', '.'])
    {
        return None;
    }
    if hour > 23 || minute > 59 {
        return None;
    }
    let zone = rest.trim_start_matches(['a', 'p', 'm', '.']).trim_start().trim_start_matches('(');
    let offset = if zone.starts_with("utc") || zone.starts_with("gmt") { 0 } else { offset };
    let day = 86_400_000i64;
    let local_now = now + offset * 1000;
    let midnight = local_now.div_euclid(day) * day;
    let mut t = midnight + (hour * 3600 + minute * 60) * 1000;
    // A time within the last minute is this one (a reset shown to the minute, now), not
    // tomorrow's.
    if t <= local_now - 60_000 {
        t += day;
    }
    Some(t - offset * 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-12-04T12:00:00Z
    const NOON: i64 = 1_764_849_600_000;
    const H: i64 = 3_600_000;

    #[test]
    fn gemini_dialog() {
        let screen = "╭──────╮\n│ Usage limit reached for gemini-2.5-pro. │\n│ Access resets at 3:15 PM UTC. │\n│ /stats model for usage details │\n";
        let l = read(screen, NOON).unwrap();
        assert!(l.text.contains("Usage limit reached"));
        assert_eq!(l.resets_at, Some(NOON + 3 * H + 15 * 60_000));
    }

    #[test]
    fn relative_and_clock_forms() {
        let r = |t: &str| reset_time(t, NOON, 0);
        assert_eq!(r("try again in 2 hours 5 minutes."), Some(NOON + 2 * H + 5 * 60_000));
        assert_eq!(r("try again in 3 seconds."), Some(NOON + 3_000));
        assert_eq!(r("resets in 90s"), Some(NOON + 90_000));
        assert_eq!(r("try again in 4 days 19 hours"), Some(NOON + 4 * 24 * H + 19 * H));
        assert_eq!(r("your limit will reset at 3pm (europe/berlin)."), Some(NOON + 3 * H));
        assert_eq!(r("resets 3pm"), Some(NOON + 3 * H));
        assert_eq!(r("try again at 9:30 am."), Some(NOON + 21 * H + 30 * 60_000), "tomorrow");
        assert_eq!(r("resets at 12:00 pm utc"), Some(NOON), "this minute: now, not tomorrow");
        assert_eq!(r("resets at 11:59 am utc"), Some(NOON - 60_000 + 24 * H), "past: tomorrow");
        assert_eq!(r("resets at 12:00 am utc"), Some(NOON + 12 * H));
        // in another zone offset (UTC+1): 3pm local is 14:00Z
        assert_eq!(reset_time("resets 3pm", NOON, 3600), Some(NOON + 2 * H));
        assert_eq!(reset_time("resets 3pm utc", NOON, 3600), Some(NOON + 3 * H));
        assert_eq!(r("resets soon"), None);
        assert_eq!(r("please retry in 7200s. suggested retry after 7200s."), Some(NOON + 2 * H));
        assert_eq!(r("[retrying in 1h 59m attempt #1]"), Some(NOON + H + 59 * 60_000));
        assert_eq!(r("[retrying in attempt #1]"), None);
        assert_eq!(r("please try again later."), None);
        assert_eq!(
            r("you've hit your session limit · resets 10:17pm (utc)"),
            Some(NOON + 617 * 60_000)
        );
    }

    #[test]
    fn who_is_limited() {
        use llmux_api::AgentState::*;
        let stopped =
            read("⎿  You've hit your session limit · resets 10:17pm (UTC)\n❯\n", NOON).unwrap();
        assert!(!stopped.retrying && stopped.applies_to(Idle) && !stopped.applies_to(Working));
        let retrying =
            read("⬝⬝Rate limit reached for m (… [retrying in 2m attempt #1] esc interrupt", NOON)
                .unwrap();
        assert!(retrying.retrying && retrying.applies_to(Working));
        assert_eq!(retrying.resets_at, Some(NOON + 120_000));
    }

    #[test]
    fn no_limit_no_reading() {
        assert_eq!(read("> hello\n✦ Reply to: hello\n", NOON), None);
        let l = read("You've hit your usage limit. Upgrade to Pro.\n", NOON).unwrap();
        assert_eq!(l.resets_at, None);
    }
}
