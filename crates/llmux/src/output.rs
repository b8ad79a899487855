//! Printing: aligned tables and relative times for people, JSON for scripts.
//!
//! Everything printed for people passes through [`escape`]: names, cwds, env values, audit
//! details and error messages are stored user input, and a control character in one of them
//! would reach the terminal of whoever runs the CLI (an OSC sequence retitles the window, a CR
//! or newline forges a row, a CSI clears the screen). Printers use [`say!`], [`say_err!`],
//! [`table`] or [`text`], never `println!` (clippy enforces it in `cli`). `--json` output is
//! exact JSON: serde escapes control characters there.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::Write;

use anyhow::Result;
use serde::Serialize;

/// Prints one line on stdout, formatted like `println!`, with [`escape`] applied to the whole
/// line (newlines included: a printed field never starts a new line).
macro_rules! say {
    () => { $crate::output::line(&mut std::io::stdout().lock(), "") };
    ($($arg:tt)*) => { $crate::output::line(&mut std::io::stdout().lock(), &format!($($arg)*)) };
}

/// [`say!`] on stderr.
macro_rules! say_err {
    ($($arg:tt)*) => { $crate::output::line(&mut std::io::stderr().lock(), &format!($($arg)*)) };
}

pub(crate) use {say, say_err};

/// Writes `text` and a newline to `out` with every control character escaped. Used by
/// [`say!`]. A closed pipe ends the process quietly and successfully (`llmux session watch |
/// head -3`), as `main` treats it, where `println!` would panic; other write errors are
/// ignored.
pub(crate) fn line(out: &mut impl Write, text: &str) {
    if let Err(e) = writeln!(out, "{}", escape(text, false))
        && e.kind() == std::io::ErrorKind::BrokenPipe
    {
        std::process::exit(0);
    }
}

/// Prints multi-line text (a reply, a pane capture, a log) on stdout: newlines and tabs are
/// kept, every other control character is escaped.
pub(crate) fn text(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", escape(text, true))?;
    Ok(())
}

/// `s` as a terminal shows it harmlessly: C0 controls, DEL, C1 controls (which some terminals
/// act on like ESC sequences) and the bidirectional-text overrides (which reorder what
/// follows on the line) become visible escapes: `\x1b`, `\r`, `\u{9b}`, `\u{202e}`.
/// With `keep_lines`, `\n` and `\t` stay as they are (for multi-line text); otherwise they
/// are escaped too, so the string fills exactly one line or table cell. A backslash is left
/// as it is: the escapes are for reading, not for parsing back (that is what `--json` is for).
/// Borrowed when there is nothing to escape, which is almost always.
pub(crate) fn escape(s: &str, keep_lines: bool) -> Cow<'_, str> {
    let bad = |c: char| {
        let keep = keep_lines && matches!(c, '\n' | '\t');
        !keep && (c.is_control() || is_bidi_control(c))
    };
    if !s.contains(bad) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if !bad(c) {
            out.push(c);
            continue;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0'..='\x7f' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            _ => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
        }
    }
    Cow::Owned(out)
}

/// The invisible marks that reorder or isolate bidirectional text (LRM, RLM, ALM, the
/// embeddings, overrides and isolates): with them a string can display as another one.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{61c}' | '\u{202a}'..='\u{202e}')
        || matches!(c, '\u{2066}'..='\u{2069}')
}

/// Prints `value` as pretty JSON on stdout.
pub(crate) fn json(value: &impl Serialize) -> Result<()> {
    // Serialized first, so that a closed pipe surfaces as an `io::Error` (which `main` treats
    // as success), not wrapped in a serde error.
    let mut text = serde_json::to_vec_pretty(value)?;
    text.push(b'\n');
    std::io::stdout().lock().write_all(&text)?;
    Ok(())
}

/// Prints `value` as one line of JSON (for streams: one event per line).
pub(crate) fn json_line(value: &impl Serialize) -> Result<()> {
    let mut text = serde_json::to_vec(value)?;
    text.push(b'\n');
    let mut out = std::io::stdout().lock();
    out.write_all(&text)?;
    out.flush()?;
    Ok(())
}

/// Prints rows as columns separated by two spaces; the last column is not padded. Every cell
/// is [`escape`]d (newlines too), so a cell can neither break its row nor move the cursor.
pub(crate) fn table(header: &[&str], rows: &[Vec<String>]) -> Result<()> {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|row| row.iter().map(|cell| escape(cell, false).into_owned()).collect())
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = std::io::stdout().lock();
    let line = |cells: Vec<&str>| {
        let last = cells.len().saturating_sub(1);
        let mut s = String::new();
        for (i, cell) in cells.into_iter().enumerate() {
            s.push_str(cell);
            if i < last {
                let pad = widths[i] - cell.chars().count() + 2;
                s.extend(std::iter::repeat_n(' ', pad));
            }
        }
        s
    };
    writeln!(out, "{}", line(header.to_vec()))?;
    for row in &rows {
        writeln!(out, "{}", line(row.iter().map(String::as_str).collect()))?;
    }
    Ok(())
}

/// "just now", "5m ago", "3h ago", "2d ago" for an RFC 3339 time.
pub(crate) fn ago(rfc3339: &str) -> String {
    let Some(then) = llmux_core::time::parse_rfc3339_ms(rfc3339) else {
        return "-".to_owned();
    };
    let secs = (llmux_core::time::now_ms() - then).max(0) / 1000;
    match secs {
        0..60 => "just now".to_owned(),
        60..3600 => format!("{}m ago", secs / 60),
        3600..86400 => format!("{}h ago", secs / 3600),
        _ => format!("{}d ago", secs / 86400),
    }
}

/// "in 5m", "in 3h", "in 29d" for a future RFC 3339 time; "expired" for a past one.
pub(crate) fn until(rfc3339: &str) -> String {
    let Some(then) = llmux_core::time::parse_rfc3339_ms(rfc3339) else {
        return "-".to_owned();
    };
    let secs = (then - llmux_core::time::now_ms()) / 1000;
    match secs {
        ..=0 => "expired".to_owned(),
        1..60 => "in <1m".to_owned(),
        60..3600 => format!("in {}m", secs / 60),
        3600..86400 => format!("in {}h", secs / 3600),
        _ => format!("in {}d", secs / 86400),
    }
}

/// `text` as a QR code drawn with Unicode half blocks (two rows per line), light on dark so it
/// scans from a terminal with a dark background.
pub(crate) fn qr(text: &str) -> Result<String> {
    use qrcode::render::unicode::Dense1x2;
    let code = qrcode::QrCode::new(text.as_bytes())?;
    Ok(code
        .render::<Dense1x2>()
        .dark_color(Dense1x2::Light)
        .light_color(Dense1x2::Dark)
        .quiet_zone(true)
        .build())
}

/// One log line: `<ts>  <LEVEL>  <text>`, the level padded to 5, [`escape`]d (a log message
/// may quote what a client sent).
pub(crate) fn log_line(entry: &llmux_api::LogEntry) -> String {
    let line = format!("{}  {:<5}  {}", entry.ts, entry.level.to_ascii_uppercase(), entry.text);
    escape(&line, false).into_owned()
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn control_characters_are_shown_not_obeyed() {
        // OSC title, CSI clear, CR, a fake row, C1 CSI, DEL, NUL, a right-to-left override.
        let hostile =
            "bob\x1b]0;pwned\x07\x1b[2J\rroot\n2  admin  login\u{9b}31m\x7f\0\u{202e}gpj.exe";
        let one = escape(hostile, false);
        assert_eq!(
            one,
            "bob\\x1b]0;pwned\\x07\\x1b[2J\\rroot\\n2  admin  login\\u{9b}31m\\x7f\\x00\\u{202e}gpj.exe"
        );
        assert!(!one.contains(|c: char| c.is_control()), "{one}");
        let lines = escape("a\tb\nc\x1bd", true);
        assert_eq!(lines, "a\tb\nc\\x1bd");
        assert_eq!(escape("a\tb", false), "a\\tb");
    }

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        for s in ["", "héllo wörld ✓ ▸ ⚠ — 日本", "C:\\path\\x1b (a backslash stays)"] {
            assert!(matches!(escape(s, false), std::borrow::Cow::Borrowed(b) if b == s));
        }
    }

    #[test]
    fn relative_times_in_the_future() {
        let in_ms = |ms: i64| llmux_core::time::rfc3339_ms(llmux_core::time::now_ms() + ms);
        assert_eq!(super::until(&in_ms(-1000)), "expired");
        assert_eq!(super::until(&in_ms(90 * 60 * 1000)), "in 1h");
        assert_eq!(super::until(&in_ms(30 * 86_400_000 + 5000)), "in 30d");
        assert_eq!(super::until("garbage"), "-");
    }

    #[test]
    fn qr_codes_are_half_block_art() {
        let art = super::qr("http://localhost:3001/pair#code=abc").unwrap();
        let lines: Vec<&str> = art.lines().collect();
        assert!(
            lines.len() > 10 && lines.iter().all(|l| l.chars().count() == lines[0].chars().count())
        );
        assert!(art.chars().all(|c| " ▀▄█\n".contains(c)), "{art}");
    }
}
