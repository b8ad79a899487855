//! The text a terminal would print, from the bytes tmux sends it: escape sequences (CSI,
//! OSC, DCS, charset selections, …) and control characters are dropped, printable bytes kept.
//! Good enough to find typed letters and markers in tmux's redraws, which are full of cursor
//! moves whose final bytes (`H`, `m`, `l`, …) would otherwise look like echoes.

/// A streaming escape-sequence stripper; sequences may span chunks.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum Stripper {
    /// Plain text.
    #[default]
    Ground,
    /// After ESC.
    Escape,
    /// After ESC and an intermediate byte (`ESC ( B`, `ESC # 8`): one more byte.
    EscapeIntermediate,
    /// In `ESC [ … final`.
    Csi,
    /// In an OSC, DCS, SOS, PM or APC string, until BEL or ST.
    String,
    /// ESC inside such a string (the start of ST, `ESC \`).
    StringEscape,
}

impl Stripper {
    /// Appends the printable bytes of `chunk` to `out`.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        for &b in chunk {
            *self = match (*self, b) {
                (Stripper::Ground, 0x1b) => Stripper::Escape,
                (Stripper::Ground, b) => {
                    if b >= 0x20 && b != 0x7f {
                        out.push(b);
                    }
                    Stripper::Ground
                }
                (Stripper::Escape, b'[') => Stripper::Csi,
                (Stripper::Escape, b']' | b'P' | b'X' | b'^' | b'_') => Stripper::String,
                (Stripper::Escape, 0x20..=0x2f) => Stripper::EscapeIntermediate,
                (Stripper::Escape, 0x1b) => Stripper::Escape,
                (Stripper::Escape | Stripper::EscapeIntermediate, _) => Stripper::Ground,
                (Stripper::Csi, 0x40..=0x7e) => Stripper::Ground,
                (Stripper::Csi, 0x1b) => Stripper::Escape,
                (Stripper::Csi, _) => Stripper::Csi,
                (Stripper::String, 0x07) => Stripper::Ground,
                (Stripper::String, 0x1b) => Stripper::StringEscape,
                (Stripper::String, _) => Stripper::String,
                (Stripper::StringEscape, b'\\') => Stripper::Ground,
                (Stripper::StringEscape, _) => Stripper::String,
            };
        }
    }
}

/// Looks for a needle in the printable text of a byte stream, across chunk boundaries.
#[derive(Debug)]
pub struct Finder {
    needle: Vec<u8>,
    vt: Stripper,
    /// The last `needle.len() - 1` bytes of text, then the new chunk's text.
    text: Vec<u8>,
}

impl Finder {
    /// A finder for `needle` (non-empty).
    pub fn new(needle: &str) -> Finder {
        Finder { needle: needle.as_bytes().to_vec(), vt: Stripper::default(), text: Vec::new() }
    }

    /// Feeds a chunk of output; true once the needle has appeared.
    pub fn feed(&mut self, chunk: &[u8]) -> bool {
        self.vt.feed(chunk, &mut self.text);
        let n = self.needle.len();
        if self.text.len() >= n && self.text.windows(n).any(|w| w == self.needle) {
            return true;
        }
        let keep = n.saturating_sub(1).min(self.text.len());
        self.text.drain(..self.text.len() - keep);
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strip(chunks: &[&[u8]]) -> String {
        let mut vt = Stripper::default();
        let mut out = Vec::new();
        for c in chunks {
            vt.feed(c, &mut out);
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn drops_sequences_and_controls() {
        assert_eq!(strip(&[b"\x1b[?25l\x1b[1;5Ha\x1b[m\r\nb\x1b(Bc"]), "abc");
        assert_eq!(strip(&[b"\x1b]0;title\x07x\x1bP1$r\x1b\\y"]), "xy");
        assert_eq!(strip(&[b"\x1b[3", b"8;5;1", b"mz\x1b", b"[Kq"]), "zq");
        assert_eq!(strip(&[b"\x1b7s\x1b8\x1b=t"]), "st");
    }

    #[test]
    fn finds_across_chunks_and_escapes() {
        let mut f = Finder::new("@@END-x1@@");
        assert!(!f.feed(b"lots of text @@EN"));
        assert!(!f.feed(b"D-x"));
        assert!(f.feed(b"\x1b[m1@@\r\n"));
        let mut g = Finder::new("ab");
        assert!(!g.feed(b"a\x1b[1;2H"));
        assert!(g.feed(b"b"));
    }
}
