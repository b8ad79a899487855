//! The web assets: first-party files and xterm.js from `web/node_modules/`, embedded in release
//! builds (read from disk in debug builds). The first-party files are `web/static/` bundled and
//! minified by `web/build.mjs` (run by `build.rs` into `$OUT_DIR/web`, same URLs), or
//! `web/static/` as it is when esbuild is not installed; `$LLMUX_WEB_DIR` serves `<dir>/static`
//! unbundled from disk instead.
//!
//! Loaded once at start into memory with a content hash each: responses carry an `ETag`, and
//! `index.html`'s `/static/…` references get `?v=<hash>` so those URLs can be cached for a year.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;

use bytes::Bytes;
use rust_embed::RustEmbed;
use sha2::{Digest, Sha256};

// `struct Static`, written by build.rs: the bundle's folder, or `web/static/`.
include!(concat!(env!("OUT_DIR"), "/web_embed.rs"));

#[derive(RustEmbed)]
#[folder = "../../web/node_modules/@xterm/"]
#[include = "xterm/lib/xterm.js"]
#[include = "xterm/css/xterm.css"]
#[include = "addon-fit/lib/addon-fit.js"]
#[allow_missing = true]
struct Xterm;

/// One asset in memory.
#[derive(Debug, Clone)]
pub(crate) struct Asset {
    /// The bytes.
    pub body: Bytes,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// Quoted ETag (first 16 hex digits of SHA-256).
    pub etag: String,
    /// The hash alone, for `?v=`.
    pub version: String,
}

/// Every asset by URL path (`/static/app.js`, `/vendor/xterm/xterm.js`, `/sw.js`).
#[derive(Debug, Default)]
pub(crate) struct Assets {
    by_path: HashMap<String, Asset>,
}

/// Where vendor files live inside `node_modules/@xterm`, by URL name.
const VENDOR: &[(&str, &str)] = &[
    ("xterm.js", "xterm/lib/xterm.js"),
    ("xterm.css", "xterm/css/xterm.css"),
    ("addon-fit.js", "addon-fit/lib/addon-fit.js"),
];

/// Shown instead of xterm.js when `npm ci --prefix web` was never run.
const MISSING_XTERM: &str = "document.addEventListener('DOMContentLoaded',()=>{const p=document.createElement('p');\
p.textContent='The terminal needs xterm.js, which this build does not include: run `npm ci --prefix web` \
in the llmux source tree and rebuild llmux.';p.setAttribute('role','alert');document.body.prepend(p)});";

impl Assets {
    /// Loads the assets from `dir` (a `web/` folder) if given, else from the embedded copies.
    pub(crate) fn load(dir: Option<&Path>) -> Assets {
        let mut files: Vec<(String, Cow<'static, [u8]>)> = Vec::new();
        match dir {
            Some(dir) => {
                collect_dir(&dir.join("static"), &dir.join("static"), &mut files);
                for (name, rel) in VENDOR {
                    if let Ok(data) = std::fs::read(dir.join("node_modules/@xterm").join(rel)) {
                        files.push((format!("/vendor/xterm/{name}"), Cow::Owned(data)));
                    }
                }
            }
            None => {
                for path in Static::iter() {
                    if let Some(file) = Static::get(&path) {
                        files.push((format!("/static/{path}"), file.data));
                    }
                }
                for (name, rel) in VENDOR {
                    if let Some(file) = Xterm::get(rel) {
                        files.push((format!("/vendor/xterm/{name}"), file.data));
                    }
                }
            }
        }
        let mut assets = Assets::default();
        for (path, data) in files {
            assets.insert(path, Bytes::from(data.into_owned()));
        }
        if !assets.by_path.contains_key("/vendor/xterm/xterm.js") {
            tracing::warn!("xterm.js is not in this build; run `npm ci --prefix web` and rebuild");
            assets.insert(
                "/vendor/xterm/xterm.js".into(),
                Bytes::from_static(MISSING_XTERM.as_bytes()),
            );
        }
        // The service worker must be served from the root to control the whole origin.
        if let Some(sw) = assets.by_path.get("/static/sw.js").cloned() {
            assets.by_path.insert("/sw.js".into(), sw);
        }
        assets.version_html();
        assets
    }

    fn insert(&mut self, path: String, body: Bytes) {
        let version = crate::web::hex(&Sha256::digest(&body)[..8]);
        let content_type = content_type(&path);
        self.by_path
            .insert(path, Asset { etag: format!("\"{version}\""), version, body, content_type });
    }

    /// Rewrites `"/static/<file>"` references in HTML files to carry `?v=<hash>`.
    fn version_html(&mut self) {
        let versions: Vec<(String, String)> = self
            .by_path
            .iter()
            .filter(|(p, _)| p.starts_with("/static/") || p.starts_with("/vendor/"))
            .map(|(p, a)| (p.clone(), a.version.clone()))
            .collect();
        let html: Vec<String> =
            self.by_path.keys().filter(|p| p.ends_with(".html")).cloned().collect();
        for path in html {
            let mut text = String::from_utf8_lossy(&self.by_path[&path].body).into_owned();
            for (asset, version) in &versions {
                text = text.replace(&format!("\"{asset}\""), &format!("\"{asset}?v={version}\""));
            }
            self.insert(path, Bytes::from(text));
        }
    }

    /// The asset at a URL path.
    pub(crate) fn get(&self, path: &str) -> Option<&Asset> {
        self.by_path.get(path)
    }

    /// Total bytes of first-party JS and CSS (the budget the UI keeps under 100 KB).
    pub(crate) fn first_party_js_css_bytes(&self) -> usize {
        self.by_path
            .iter()
            .filter(|(p, _)| {
                p.starts_with("/static/") && (p.ends_with(".js") || p.ends_with(".css"))
            })
            .map(|(_, a)| a.body.len())
            .sum()
    }
}

fn collect_dir(root: &Path, dir: &Path, out: &mut Vec<(String, Cow<'static, [u8]>)>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_dir(root, &path, out);
        } else if let (Ok(rel), Ok(data)) = (path.strip_prefix(root), std::fs::read(&path)) {
            out.push((format!("/static/{}", rel.display()), Cow::Owned(data)));
        }
    }
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}
