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
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, OnceLock};

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
#[include = "addon-web-links/lib/addon-web-links.js"]
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
    /// Its compressed forms, for a compressible type (text, scripts, SVG); `None` for images.
    encoded: Option<Arc<Encoded>>,
}

/// A content coding the daemon stores assets in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    /// `br`
    Brotli,
    /// `gzip`
    Gzip,
}

impl Encoding {
    /// The `Content-Encoding` value.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Encoding::Brotli => "br",
            Encoding::Gzip => "gzip",
        }
    }

    /// What an `Accept-Encoding` header lets us send: brotli over gzip, neither when refused
    /// (`q=0`) or not listed (`*` counts as listing both).
    pub(crate) fn preferred(accept: &str) -> Option<Encoding> {
        let accepts = |name: &str| {
            accept.split(',').any(|item| {
                let mut parts = item.split(';').map(str::trim);
                let coding = parts.next().unwrap_or("");
                let refused = parts.any(|p| {
                    p.strip_prefix("q=")
                        .and_then(|q| q.parse::<f32>().ok())
                        .is_some_and(|q| q <= 0.0)
                });
                (coding.eq_ignore_ascii_case(name) || coding == "*") && !refused
            })
        };
        [Encoding::Brotli, Encoding::Gzip].into_iter().find(|e| accepts(e.name()))
    }
}

/// An asset's brotli and gzip forms, compressed harder than per response. Assets never change
/// while the daemon runs, so each is compressed once, on a background thread, the first time it
/// is asked for (until then, and for daemons whose pages nobody opens, the compression layer
/// does it per response at a fast setting).
#[derive(Debug, Default)]
struct Encoded {
    started: AtomicBool,
    brotli: OnceLock<Bytes>,
    gzip: OnceLock<Bytes>,
}

impl Asset {
    /// The body in `encoding` if it is ready; otherwise starts making it (once) and returns
    /// `None`, for the caller to send the body as it is.
    pub(crate) fn encoded(&self, encoding: Encoding) -> Option<Bytes> {
        let encoded = self.encoded.as_ref()?;
        let ready = match encoding {
            Encoding::Brotli => encoded.brotli.get(),
            Encoding::Gzip => encoded.gzip.get(),
        };
        if ready.is_none() && !encoded.started.swap(true, Ordering::AcqRel) {
            // The thread never ends, so the send cannot fail.
            let _ = compressor().send((encoded.clone(), self.body.clone()));
        }
        ready.cloned()
    }

    /// Whether the asset is worth compressing (text of any kind; not images or fonts).
    pub(crate) fn compressible(&self) -> bool {
        self.encoded.is_some()
    }
}

/// The one thread that compresses assets, in the order they are first asked for: a page's
/// first load asks for several at once, and compressing them all in parallel would take every
/// core from the browser and the requests it is waiting for.
fn compressor() -> &'static Sender<(Arc<Encoded>, Bytes)> {
    static TX: OnceLock<Sender<(Arc<Encoded>, Bytes)>> = OnceLock::new();
    TX.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<(Arc<Encoded>, Bytes)>();
        std::thread::Builder::new()
            .name("llmux-assets".into())
            .spawn(move || {
                for (encoded, body) in rx {
                    let _ = encoded.brotli.set(brotli(&body));
                    let _ = encoded.gzip.set(gzip(&body));
                }
            })
            .expect("spawning the asset compressor thread");
        tx
    })
}

fn brotli(body: &[u8]) -> Bytes {
    // Quality 9 with a 4 MiB window: within a few percent of 11 (the best) in size, at a tenth
    // of its time (xterm.js: ~0.8 s at 11 in a debug build).
    let mut out = brotli::CompressorWriter::new(Vec::with_capacity(body.len() / 3), 4096, 9, 22);
    out.write_all(body).expect("writing to memory");
    Bytes::from(out.into_inner())
}

fn gzip(body: &[u8]) -> Bytes {
    let mut out = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    out.write_all(body).expect("writing to memory");
    Bytes::from(out.finish().expect("writing to memory"))
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
    ("addon-web-links.js", "addon-web-links/lib/addon-web-links.js"),
];

/// Shown instead of xterm.js when `npm ci --prefix web` was never run.
const MISSING_XTERM: &str = "document.addEventListener('DOMContentLoaded',()=>{const p=document.createElement('p');\
p.textContent='The terminal needs xterm.js, which this build does not include: run `npm ci --prefix web` \
in the llmux source tree and rebuild llmux.';p.setAttribute('role','alert');document.body.prepend(p)});";

impl Assets {
    /// Loads the assets from `dir` (a `web/` folder) if given, else from the embedded copies.
    pub(crate) fn load(dir: Option<&Path>) -> Assets {
        // Each file with its SHA-256 when the build computed it: hashing an embedded file here
        // would read all of it, and its pages would stay resident for the daemon's life.
        let mut files: Vec<Found> = Vec::new();
        match dir {
            Some(dir) => {
                collect_dir(&dir.join("static"), &dir.join("static"), &mut files);
                for (name, rel) in VENDOR {
                    if let Ok(data) = std::fs::read(dir.join("node_modules/@xterm").join(rel)) {
                        files.push((format!("/vendor/xterm/{name}"), Cow::Owned(data), None));
                    }
                }
            }
            None => {
                for path in Static::iter() {
                    if let Some(file) = Static::get(&path) {
                        let hash = file.metadata.sha256_hash();
                        files.push((format!("/static/{path}"), file.data, Some(hash)));
                    }
                }
                for (name, rel) in VENDOR {
                    if let Some(file) = Xterm::get(rel) {
                        let hash = file.metadata.sha256_hash();
                        files.push((format!("/vendor/xterm/{name}"), file.data, Some(hash)));
                    }
                }
            }
        }
        let mut assets = Assets::default();
        for (path, data, hash) in files {
            // Embedded files are served from the binary as they are, not copied to the heap.
            let body = match data {
                Cow::Borrowed(data) => Bytes::from_static(data),
                Cow::Owned(data) => Bytes::from(data),
            };
            assets.insert(path, body, hash);
        }
        if !assets.by_path.contains_key("/vendor/xterm/xterm.js") {
            tracing::warn!("xterm.js is not in this build; run `npm ci --prefix web` and rebuild");
            assets.insert(
                "/vendor/xterm/xterm.js".into(),
                Bytes::from_static(MISSING_XTERM.as_bytes()),
                None,
            );
        }
        // The service worker must be served from the root to control the whole origin.
        if let Some(sw) = assets.by_path.get("/static/sw.js").cloned() {
            assets.by_path.insert("/sw.js".into(), sw);
        }
        assets.version_html();
        assets
    }

    /// Adds an asset; `sha256` is its body's hash when known, else it is computed.
    fn insert(&mut self, path: String, body: Bytes, sha256: Option<[u8; 32]>) {
        let sha256 = sha256.unwrap_or_else(|| Sha256::digest(&body).into());
        let version = llmux_auth::secrets::hex(&sha256[..8]);
        let content_type = content_type(&path);
        let compressible = content_type.starts_with("text/")
            || content_type.contains("json")
            || content_type.contains("svg");
        let encoded = compressible.then(Arc::default);
        let etag = format!("\"{version}\"");
        self.by_path.insert(path, Asset { etag, version, body, content_type, encoded });
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
            self.insert(path, Bytes::from(text), None);
        }
    }

    /// The asset at a URL path.
    pub(crate) fn get(&self, path: &str) -> Option<&Asset> {
        self.by_path.get(path)
    }

    /// Total bytes of first-party JS and CSS, on-demand pages included (logged at start).
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

/// A file found for an asset: its URL path, its bytes, and their SHA-256 when the build computed
/// it.
type Found = (String, Cow<'static, [u8]>, Option<[u8; 32]>);

fn collect_dir(root: &Path, dir: &Path, out: &mut Vec<Found>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_dir(root, &path, out);
        } else if let (Ok(rel), Ok(data)) = (path.strip_prefix(root), std::fs::read(&path)) {
            out.push((format!("/static/{}", rel.display()), Cow::Owned(data), None));
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

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::time::{Duration, Instant};

    use super::*;

    #[test]
    fn accept_encoding_picks_brotli_then_gzip() {
        let cases = [
            ("gzip, deflate, br, zstd", Some(Encoding::Brotli)),
            ("gzip", Some(Encoding::Gzip)),
            ("BR", Some(Encoding::Brotli)),
            ("br;q=0, gzip;q=0.5", Some(Encoding::Gzip)),
            ("br; q=0.0, gzip; q=0", None),
            ("*", Some(Encoding::Brotli)),
            ("identity", None),
            ("deflate, zstd", None),
            ("", None),
        ];
        for (accept, want) in cases {
            assert_eq!(Encoding::preferred(accept), want, "Accept-Encoding: {accept}");
        }
    }

    /// Polls `asset.encoded(e)` until it is ready (made on a blocking thread).
    async fn ready(asset: &Asset, e: Encoding) -> Bytes {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(body) = asset.encoded(e) {
                return body;
            }
            assert!(Instant::now() < deadline, "{e:?} form never made");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    #[tokio::test]
    async fn text_assets_are_compressed_once_and_decode_to_themselves() {
        let mut assets = Assets::default();
        let text = "body{color:red}\n".repeat(2000);
        assets.insert("/static/a.css".into(), Bytes::from(text.clone()), None);
        assets.insert("/static/icons/a.png".into(), Bytes::from_static(b"\x89PNG...."), None);
        let css = assets.get("/static/a.css").expect("inserted");
        assert!(css.compressible());
        // Not ready on the first ask (the caller sends the body as it is meanwhile).
        assert_eq!(css.encoded(Encoding::Brotli), None);

        let br = ready(css, Encoding::Brotli).await;
        let mut decoded = String::new();
        brotli::Decompressor::new(&br[..], 4096).read_to_string(&mut decoded).expect("brotli");
        assert_eq!(decoded, text);
        assert!(br.len() < text.len() / 10, "compressed: {} of {} bytes", br.len(), text.len());

        let gz = ready(css, Encoding::Gzip).await;
        let mut decoded = String::new();
        flate2::read::GzDecoder::new(&gz[..]).read_to_string(&mut decoded).expect("gzip");
        assert_eq!(decoded, text);
        // The same bytes from then on: made once.
        assert_eq!(css.encoded(Encoding::Brotli).map(|b| b.as_ptr()), Some(br.as_ptr()));

        let png = assets.get("/static/icons/a.png").expect("inserted");
        assert!(!png.compressible());
        assert_eq!(png.encoded(Encoding::Brotli), None);
        assert_eq!(png.encoded(Encoding::Gzip), None);
    }

    /// Embedded files take their hash from the build (so starting does not read them): it must
    /// be the hash of what is served, or `?v=` and the ETag would not change with the file.
    #[test]
    fn every_asset_is_versioned_by_the_hash_of_its_body() {
        let assets = Assets::load(None);
        assert!(
            assets.get("/static/app.js").is_some() || assets.get("/static/index.html").is_some()
        );
        for (path, asset) in &assets.by_path {
            let version = llmux_auth::secrets::hex(&Sha256::digest(&asset.body)[..8]);
            assert_eq!(asset.version, version, "{path}");
            assert_eq!(asset.etag, format!("\"{version}\""), "{path}");
        }
    }
}
