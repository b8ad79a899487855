//! `server.uploads:` what people may upload into a session's workspace (issue 19), and the
//! check of one file against it.

use serde::Deserialize;

use crate::error::{Error, Result};

/// Largest file by default: 20 MiB (a phone's screenshot or photo, a log).
const DEFAULT_MAX_BYTES: u64 = 20 * 1024 * 1024;
/// Files a session's uploads folder may hold by default.
const DEFAULT_MAX_FILES: usize = 200;
/// Extensions allowed by default: images agents can read, text, documents.
const DEFAULT_TYPES: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "webp", "pdf", "txt", "md", "markdown", "csv", "tsv", "json",
    "jsonl", "yaml", "yml", "toml", "xml", "html", "css", "log", "diff", "patch", "rs", "py", "js",
    "mjs", "ts", "tsx", "jsx", "go", "java", "kt", "c", "h", "cc", "cpp", "hpp", "rb", "php", "sh",
    "sql", "swift",
];

/// `server.uploads:` as written. Every field is optional; [`UploadLimits`] holds the values
/// in effect.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct UploadsConfig {
    /// Largest file, in bytes (default 20 MiB; 0 turns uploads off).
    pub max_bytes: Option<u64>,
    /// Files a session's uploads folder may hold (default 200).
    pub max_files: Option<usize>,
    /// Extensions allowed, without the dot (default: common images, text, code and PDF).
    pub types: Option<Vec<String>>,
}

/// The upload limits in effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadLimits {
    /// See [`UploadsConfig::max_bytes`].
    pub max_bytes: u64,
    /// See [`UploadsConfig::max_files`].
    pub max_files: usize,
    /// Lower-case extensions allowed.
    pub types: Vec<String>,
}

impl Default for UploadLimits {
    fn default() -> Self {
        UploadsConfig::default().resolve()
    }
}

impl UploadsConfig {
    /// The limits in effect (defaults for what is not set).
    pub fn resolve(&self) -> UploadLimits {
        let types = match &self.types {
            Some(list) => {
                list.iter().map(|t| t.trim_start_matches('.').to_ascii_lowercase()).collect()
            }
            None => DEFAULT_TYPES.iter().map(|t| (*t).to_owned()).collect(),
        };
        UploadLimits {
            max_bytes: self.max_bytes.unwrap_or(DEFAULT_MAX_BYTES),
            max_files: self.max_files.unwrap_or(DEFAULT_MAX_FILES).max(1),
            types,
        }
    }
}

impl UploadLimits {
    /// Refuses a file over the size, of a type not allowed, or whose bytes contradict its
    /// image extension (a `.png` that is not a PNG: the agent would be handed something else).
    pub fn check(&self, ext: &str, body: &[u8]) -> Result<()> {
        if self.max_bytes == 0 {
            return Err(Error::Conflict(
                "uploads are turned off on this daemon (server.uploads.maxBytes: 0)".into(),
            ));
        }
        if body.len() as u64 > self.max_bytes {
            return Err(Error::TooLarge(format!(
                "the file is {} bytes, over this daemon's upload limit of {} bytes \
                 (server.uploads.maxBytes)",
                body.len(),
                self.max_bytes
            )));
        }
        if body.is_empty() {
            return Err(Error::invalid("the file is empty"));
        }
        if !self.types.iter().any(|t| t == ext) {
            return Err(Error::invalid(format!(
                ".{ext} files are not accepted here; allowed: {} (server.uploads.types)",
                self.types.join(", ")
            )));
        }
        let magic: &[&[u8]] = match ext {
            "png" => &[b"\x89PNG\r\n\x1a\n"],
            "jpg" | "jpeg" => &[b"\xff\xd8\xff"],
            "gif" => &[b"GIF87a", b"GIF89a"],
            "webp" => &[b"RIFF"],
            "pdf" => &[b"%PDF-"],
            _ => &[],
        };
        if !magic.is_empty() && !magic.iter().any(|m| body.starts_with(m)) {
            return Err(Error::invalid(format!("the file's contents are not a .{ext} file")));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_refuse_size_type_and_a_lying_extension() {
        let l = UploadsConfig { max_bytes: Some(16), ..Default::default() }.resolve();
        assert!(l.check("txt", b"hello").is_ok());
        assert!(matches!(l.check("txt", &[b'a'; 17]), Err(Error::TooLarge(_))));
        assert!(l.check("exe", b"MZ").is_err());
        assert!(l.check("png", b"not a png").is_err());
        assert!(l.check("png", b"\x89PNG\r\n\x1a\nrest").is_ok());
        assert!(l.check("txt", b"").is_err());
        let off = UploadsConfig { max_bytes: Some(0), ..Default::default() }.resolve();
        assert!(matches!(off.check("txt", b"x"), Err(Error::Conflict(_))));
        let only = UploadsConfig { types: Some(vec![".PNG".into()]), ..Default::default() };
        assert_eq!(only.resolve().types, vec!["png".to_owned()]);
    }
}
