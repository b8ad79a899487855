//! Printing: aligned tables and relative times for people, JSON for scripts.

use std::io::Write;

use anyhow::Result;
use serde::Serialize;

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

/// Prints rows as columns separated by two spaces; the last column is not padded.
pub(crate) fn table(header: &[&str], rows: &[Vec<String>]) -> Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
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
    for row in rows {
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

/// One log line: `<ts>  <LEVEL>  <text>`, the level padded to 5.
pub(crate) fn log_line(entry: &llmux_core::api::LogEntry) -> String {
    format!("{}  {:<5}  {}", entry.ts, entry.level.to_ascii_uppercase(), entry.text)
}

#[cfg(test)]
mod tests {
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
