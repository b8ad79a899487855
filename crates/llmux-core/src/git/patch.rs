//! Parsing `git diff` output (the patch format) into files, hunks and lines.
//!
//! Paths come from the unambiguous header lines (`rename from`/`to`, `---`/`+++`), C-unquoted
//! where git quoted them; the `diff --git` line is used only when there are none (a binary
//! or mode-only change). A hunk is read for exactly as many lines as its header counts, so a
//! changed line that looks like a header (`--- x`) is never taken for one.

use llmux_api::{DiffFile, DiffHunk, DiffLine, FileStatus, LineKind};

/// Longest line text kept, in bytes (minified files have lines of megabytes).
pub const MAX_LINE_BYTES: usize = 2000;

/// Parses a patch. Untracked-file diffs (`--no-index` against `/dev/null`) parse the same.
pub fn parse(text: &str) -> Vec<DiffFile> {
    let mut files = Vec::new();
    let mut cur: Option<DiffFile> = None;
    // Lines left in the current hunk: (old, new).
    let mut left = (0u32, 0u32);
    let (mut old_no, mut new_no) = (0u32, 0u32);
    for line in text.split('\n') {
        let Some(file) = cur.as_mut() else {
            if let Some(rest) = line.strip_prefix("diff --git ") {
                cur = Some(new_file(rest));
            }
            continue;
        };
        if left != (0, 0) {
            let (kind, body) = match line.as_bytes().first() {
                Some(b'+') => (LineKind::Add, &line[1..]),
                Some(b'-') => (LineKind::Del, &line[1..]),
                Some(b' ') => (LineKind::Context, &line[1..]),
                Some(b'\\') => continue,
                None => (LineKind::Context, ""),
                Some(_) => {
                    // Not a hunk line: the counts were wrong; leave the hunk.
                    left = (0, 0);
                    header_line(&mut files, &mut cur, line);
                    continue;
                }
            };
            let hunk = file.hunks.last_mut().expect("in a hunk");
            let (old_line, new_line) = match kind {
                LineKind::Add => {
                    file.additions += 1;
                    left.1 = left.1.saturating_sub(1);
                    new_no += 1;
                    (None, Some(new_no - 1))
                }
                LineKind::Del => {
                    file.deletions += 1;
                    left.0 = left.0.saturating_sub(1);
                    old_no += 1;
                    (Some(old_no - 1), None)
                }
                LineKind::Context => {
                    left = (left.0.saturating_sub(1), left.1.saturating_sub(1));
                    old_no += 1;
                    new_no += 1;
                    (Some(old_no - 1), Some(new_no - 1))
                }
            };
            hunk.lines.push(DiffLine { kind, old_line, new_line, text: clip(body) });
            continue;
        }
        if let Some(h) = line.strip_prefix("@@ ").and_then(hunk_header) {
            left = (h.old_lines, h.new_lines);
            (old_no, new_no) = (h.old_start, h.new_start);
            file.hunks.push(h);
            continue;
        }
        header_line(&mut files, &mut cur, line);
    }
    files.extend(cur);
    files
}

/// A line between `diff --git` and the first hunk (or a new `diff --git`).
fn header_line(files: &mut Vec<DiffFile>, cur: &mut Option<DiffFile>, line: &str) {
    if let Some(rest) = line.strip_prefix("diff --git ") {
        files.extend(cur.take());
        *cur = Some(new_file(rest));
        return;
    }
    let Some(file) = cur.as_mut() else { return };
    if line.starts_with("new file mode") {
        file.status = FileStatus::Added;
    } else if line.starts_with("deleted file mode") {
        file.status = FileStatus::Deleted;
    } else if let Some(p) = line.strip_prefix("rename from ") {
        file.old_path = Some(unquote(p));
        file.status = FileStatus::Renamed;
    } else if let Some(p) = line.strip_prefix("rename to ") {
        file.path = unquote(p);
    } else if let Some(p) = line.strip_prefix("copy from ") {
        file.old_path = Some(unquote(p));
        file.status = FileStatus::Copied;
    } else if let Some(p) = line.strip_prefix("copy to ") {
        file.path = unquote(p);
    } else if let Some(p) = line.strip_prefix("--- ") {
        if file.status == FileStatus::Deleted
            && let Some(p) = side(p, "a/")
        {
            file.path = p;
        }
    } else if let Some(p) = line.strip_prefix("+++ ") {
        if let Some(p) = side(p, "b/") {
            file.path = p;
        }
    } else if line.starts_with("Binary files ") || line == "GIT binary patch" {
        file.binary = true;
    }
}

/// A path of a `---`/`+++` line, without its prefix; `None` for `/dev/null`.
fn side(raw: &str, prefix: &str) -> Option<String> {
    let raw = raw.strip_suffix('\t').unwrap_or(raw);
    let path = unquote(raw);
    if path == "/dev/null" {
        return None;
    }
    Some(path.strip_prefix(prefix).map(str::to_owned).unwrap_or(path))
}

fn new_file(rest: &str) -> DiffFile {
    let (old, new) = git_line_paths(rest);
    DiffFile {
        path: new.clone(),
        old_path: (old != new).then_some(old),
        status: FileStatus::Modified,
        binary: false,
        untracked: false,
        additions: 0,
        deletions: 0,
        collapsed: None,
        hunks: Vec::new(),
    }
}

/// The two paths of `diff --git a/OLD b/NEW`, for changes without `---`/`+++` lines.
fn git_line_paths(rest: &str) -> (String, String) {
    if rest.starts_with('"') {
        // Quoted: `"a/x y" "b/x y"` or a mix.
        let (first, tail) = split_quoted(rest);
        let second = tail.trim_start();
        let second = if second.starts_with('"') { split_quoted(second).0 } else { second.into() };
        return (strip(&first, "a/"), strip(&second, "b/"));
    }
    // Unquoted and unchanged name: "a/P b/P", so the halves have the same length.
    let n = rest.len();
    if n >= 5 && (n - 5).is_multiple_of(2) {
        let p = (n - 5) / 2;
        if rest.is_char_boundary(2 + p) && rest.is_char_boundary(5 + p) {
            let (a, b) = (&rest[2..2 + p], &rest[5 + p..]);
            if a == b && &rest[2 + p..5 + p] == " b/" {
                return (a.to_owned(), b.to_owned());
            }
        }
    }
    match rest.split_once(" b/") {
        Some((a, b)) => (strip(a, "a/"), b.to_owned()),
        None => (rest.to_owned(), rest.to_owned()),
    }
}

fn strip(p: &str, prefix: &str) -> String {
    p.strip_prefix(prefix).unwrap_or(p).to_owned()
}

/// The first C-quoted string of `s` (unquoted) and what follows it.
fn split_quoted(s: &str) -> (String, &str) {
    let bytes = s.as_bytes();
    let mut i = 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return (unquote(&s[..=i]), &s[i + 1..]),
            _ => i += 1,
        }
    }
    (unquote(s), "")
}

/// Undoes git's C-style quoting of a path (`"tab\there"`, octal bytes for the rest).
pub fn unquote(s: &str) -> String {
    let Some(inner) = s.strip_prefix('"').and_then(|s| s.strip_suffix('"')) else {
        return s.to_owned();
    };
    let mut out = Vec::with_capacity(inner.len());
    let b = inner.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' || i + 1 == b.len() {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let c = b[i + 1];
        i += 2;
        out.push(match c {
            b'n' => b'\n',
            b't' => b'\t',
            b'r' => b'\r',
            b'a' => 7,
            b'b' => 8,
            b'f' => 12,
            b'v' => 11,
            b'0'..=b'7' => {
                let start = i - 1;
                let mut end = i;
                while end < b.len() && end < start + 3 && (b'0'..=b'7').contains(&b[end]) {
                    end += 1;
                }
                i = end;
                u8::from_str_radix(&inner[start..end], 8).unwrap_or(b'?')
            }
            other => other,
        });
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn clip(text: &str) -> String {
    if text.len() <= MAX_LINE_BYTES {
        return text.to_owned();
    }
    let mut end = MAX_LINE_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// `-A,B +C,D @@ name` (after the leading `@@ `).
fn hunk_header(rest: &str) -> Option<DiffHunk> {
    let (ranges, _) = rest.split_once(" @@")?;
    let (old, new) = ranges.split_once(' ')?;
    let range = |r: &str, sign: char| -> Option<(u32, u32)> {
        let r = r.strip_prefix(sign)?;
        Some(match r.split_once(',') {
            Some((s, n)) => (s.parse().ok()?, n.parse().ok()?),
            None => (r.parse().ok()?, 1),
        })
    };
    let (old_start, old_lines) = range(old, '-')?;
    let (new_start, new_lines) = range(new, '+')?;
    Some(DiffHunk {
        header: format!("@@ {rest}"),
        old_start,
        old_lines,
        new_start,
        new_lines,
        lines: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_adds_deletes_renames_binary() {
        let text = "diff --git a/src/a.rs b/src/a.rs\nindex 1..2 100644\n--- a/src/a.rs\n+++ b/src/a.rs\n@@ -1,3 +1,3 @@ fn main\n one\n-two\n+deux\n three\n\
diff --git a/new.txt b/new.txt\nnew file mode 100644\n--- /dev/null\n+++ b/new.txt\n@@ -0,0 +1 @@\n+--- not a header\n\
diff --git a/gone.txt b/gone.txt\ndeleted file mode 100644\n--- a/gone.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-bye\n\\ No newline at end of file\n\
diff --git a/old name.txt b/new name.txt\nsimilarity index 100%\nrename from old name.txt\nrename to new name.txt\n\
diff --git a/img.png b/img.png\nindex 1..2 100644\nBinary files a/img.png and b/img.png differ\n\
diff --git \"a/t\\tab\" \"b/t\\tab\"\nnew file mode 100644\nindex 0..1\n";
        let files = parse(text);
        assert_eq!(files.len(), 6, "{files:#?}");
        let a = &files[0];
        assert_eq!(
            (a.path.as_str(), a.status, a.additions, a.deletions),
            ("src/a.rs", FileStatus::Modified, 1, 1)
        );
        assert_eq!(a.hunks[0].lines[1].kind, LineKind::Del);
        assert_eq!(a.hunks[0].lines[1].old_line, Some(2));
        assert_eq!(a.hunks[0].lines[2].new_line, Some(2));
        assert_eq!(a.hunks[0].header, "@@ -1,3 +1,3 @@ fn main");
        assert_eq!(files[1].status, FileStatus::Added);
        assert_eq!(files[1].hunks[0].lines[0].text, "--- not a header");
        assert_eq!(
            (files[2].path.as_str(), files[2].status, files[2].deletions),
            ("gone.txt", FileStatus::Deleted, 1)
        );
        assert_eq!(files[3].status, FileStatus::Renamed);
        assert_eq!(files[3].path, "new name.txt");
        assert_eq!(files[3].old_path.as_deref(), Some("old name.txt"));
        assert!(files[4].binary);
        assert_eq!(files[4].path, "img.png");
        assert_eq!(files[5].path, "t\tab");
    }

    #[test]
    fn unquotes_octal_utf8() {
        assert_eq!(unquote("\"caf\\303\\251\""), "café");
        assert_eq!(unquote("plain"), "plain");
        assert_eq!(unquote("\"q\\\"x\""), "q\"x");
    }
}
