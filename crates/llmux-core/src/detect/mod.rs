//! What the screen detectors share: read the plain text of a tmux pane and say what the agent
//! does. Each agent's detector is part of its module (`agents/<cli>/screen.rs`), reached
//! through its [`crate::agents::Kind`] (`kind.detect(screen)`).
//!
//! Each detector looks only at the bottom of the screen (the last [`BOTTOM_LINES`] non-blank
//! lines), because Gemini CLI and Qwen Code render inline and leave old dialogs higher up.
//! Matching is plain string search over the lines with box borders stripped, and over all of
//! them joined by single spaces, so a hint that wraps at a narrow width still matches.
//!
//! The `keys` of a [`PromptOption`] are tmux key names that choose it from the screen as it
//! is. Send them **one `send-keys` call per key with a short pause (~200 ms) between them**:
//! Claude Code and Gemini CLI dropped or merged keys sent in one burst (`Down Down Enter`
//! chose the wrong answer in Claude Code), while the same keys sent one by one worked.
//!
//! The patterns come from captures of the real CLIs (see `tests/screens/`), except where a
//! detector's comments say otherwise (Copilot's working and permission screens).

pub mod limit;

use llmux_api::{AgentState, Detection, PendingPrompt, PromptOption};

use crate::agents::Detector;

/// How many non-blank lines at the bottom of the screen a detector looks at.
pub const BOTTOM_LINES: usize = 25;

/// Reads `screen`, the plain text of an agent's visible pane, with `detector`.
pub(crate) fn run(detector: Detector, screen: &str) -> Detection {
    let s = Screen::new(screen);
    // tmux's remain-on-exit line: the process is gone whatever the screen above says.
    if s.lines.iter().rev().take(3).any(|l| l.starts_with("Pane is dead")) {
        return Detection::state(AgentState::Exited);
    }
    detector(&s, screen)
}

/// Characters that draw the sides of boxes; stripped from both ends of a line.
const SIDES: &[char] = &['│', '┃', '║', '╹', '╻', '▕', '▏', '┆', '┊'];

/// Characters a rule or box edge is made of.
const RULE: &str = "─━═▀▄▔▁╭╮╰╯┌┐└┘├┤┬┴┼│┃╹╻╌┄-=_ ";

/// The bottom of a screen, prepared for matching: what a [`Detector`] reads.
#[derive(Debug)]
pub struct Screen<'a> {
    /// The bottom non-blank lines as shown (right-trimmed).
    pub raw: Vec<&'a str>,
    /// The same lines with box sides and surrounding white space stripped.
    pub lines: Vec<String>,
    /// `lines` with inner white space collapsed, joined by single spaces.
    joined: String,
    /// Byte offset in `joined` where each line starts.
    starts: Vec<usize>,
}

impl<'a> Screen<'a> {
    pub(crate) fn new(screen: &'a str) -> Screen<'a> {
        let all: Vec<&str> =
            screen.lines().map(str::trim_end).filter(|l| !l.trim().is_empty()).collect();
        let raw = all[all.len().saturating_sub(BOTTOM_LINES)..].to_vec();
        let lines: Vec<String> = raw.iter().map(|l| clean(l)).collect();
        let mut joined = String::new();
        let mut starts = Vec::with_capacity(lines.len());
        for l in &lines {
            if !joined.is_empty() {
                joined.push(' ');
            }
            starts.push(joined.len());
            for (i, w) in l.split_whitespace().enumerate() {
                if i > 0 {
                    joined.push(' ');
                }
                joined.push_str(w);
            }
        }
        Screen { raw, lines, joined, starts }
    }

    /// Number of lines.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// Whether the screen is blank.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    fn line_of(&self, offset: usize) -> usize {
        self.starts.partition_point(|&s| s <= offset).saturating_sub(1)
    }

    /// Whether `pat` occurs anywhere (it may span wrapped lines).
    pub fn has(&self, pat: &str) -> bool {
        self.joined.contains(pat)
    }

    /// Whether `pat` occurs in the last `n` lines.
    pub fn has_in_last(&self, n: usize, pat: &str) -> bool {
        let from = self.len().saturating_sub(n);
        self.starts.get(from).is_some_and(|&o| self.joined[o..].contains(pat))
    }

    /// The line where the last occurrence of `pat` starts.
    pub fn last(&self, pat: &str) -> Option<usize> {
        self.joined.rfind(pat).map(|o| self.line_of(o))
    }

    /// The line where the last occurrence of any of `pats` starts.
    pub fn last_of(&self, pats: &[&str]) -> Option<usize> {
        pats.iter().filter_map(|p| self.last(p)).max()
    }
}

/// A line with box sides and surrounding white space (including U+00A0) removed.
fn clean(line: &str) -> String {
    line.trim_matches(|c: char| c.is_whitespace() || SIDES.contains(&c)).to_owned()
}

/// Whether a cleaned line is only a rule or box edge.
pub(crate) fn is_rule(line: &str) -> bool {
    !line.is_empty() && line.chars().all(|c| RULE.contains(c))
}

/// One numbered option read from the screen.
#[derive(Debug)]
pub(crate) struct Opt {
    /// The line it is on.
    pub line: usize,
    /// The label, white space collapsed.
    pub label: String,
    /// Whether a cursor marker is in front of it.
    pub selected: bool,
}

/// The last list `1. … 2. … 3. …` in lines `from..to`, markers (`❯`, `›`, `●`) noted.
/// Lines that are not options (descriptions, rules, wrapped labels) are skipped.
pub(crate) fn numbered_options(s: &Screen, from: usize, to: usize, markers: &[char]) -> Vec<Opt> {
    let mut opts: Vec<Opt> = Vec::new();
    for i in from..to.min(s.len()) {
        let mut t = s.lines[i].as_str();
        let mut selected = false;
        if let Some(c) = t.chars().next().filter(|c| markers.contains(c)) {
            selected = true;
            t = t[c.len_utf8()..].trim_start();
        }
        let digits = t.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 2 || !t[digits..].starts_with(". ") {
            continue;
        }
        let Ok(num) = t[..digits].parse::<usize>() else { continue };
        let label = t[digits + 2..].split_whitespace().collect::<Vec<_>>().join(" ");
        if label.is_empty() {
            continue;
        }
        if num == 1 {
            opts.clear();
        } else if num != opts.len() + 1 {
            continue;
        }
        opts.push(Opt { line: i, label, selected });
    }
    opts
}

/// Keys that move the cursor from option `from` to option `to` and press Enter.
pub(crate) fn nav_keys(from: usize, to: usize) -> Vec<String> {
    let (key, n) = if to >= from { ("Down", to - from) } else { ("Up", from - to) };
    let mut keys = vec![key.to_owned(); n];
    keys.push("Enter".to_owned());
    keys
}

/// Options of a cursor-driven list: keys are arrows relative to the marked option (the first
/// one when none is marked, which is where these lists open).
pub(crate) fn nav_options(opts: &[Opt]) -> Vec<PromptOption> {
    let cur = opts.iter().position(|o| o.selected).unwrap_or(0);
    opts.iter()
        .enumerate()
        .map(|(i, o)| PromptOption {
            label: o.label.clone(),
            selected: i == cur,
            keys: nav_keys(cur, i),
        })
        .collect()
}

/// The question of a list: the nearest line ending in `?` within `reach` lines above line
/// `first`, else the first sentence ending in `?` there, else the nearest non-rule line.
pub(crate) fn question_above(s: &Screen, first: usize, reach: usize) -> String {
    let lo = first.saturating_sub(reach);
    let above = || (lo..first).rev().map(|i| s.lines[i].as_str());
    above()
        .find(|l| l.ends_with('?'))
        .or_else(|| above().find_map(|l| l.find("? ").map(|q| &l[..=q])))
        .or_else(|| above().find(|l| !is_rule(l)))
        .map(collapse)
        .unwrap_or_default()
}

/// White space collapsed to single spaces.
pub(crate) fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A waiting detection.
pub(crate) fn waiting(
    what: String,
    question: String,
    detail: String,
    options: Vec<PromptOption>,
) -> Detection {
    Detection {
        state: AgentState::Waiting,
        waiting_for: Some(what),
        prompt: Some(PendingPrompt { question, detail, options }),
    }
}

/// `permission` or `permission: <what>`.
pub(crate) fn permission_for(what: &str) -> String {
    let what = collapse(what);
    if what.is_empty() { "permission".to_owned() } else { format!("permission: {what}") }
}

/// A detection with only a state.
pub(crate) fn state(st: AgentState) -> Detection {
    Detection::state(st)
}
