//! Builds the web UI that the binary embeds.
//!
//! With esbuild installed (`npm ci --prefix web`) and `node` on the PATH, runs `web/build.mjs`,
//! which bundles and minifies the first-party JS and CSS into `$OUT_DIR/web` (same URLs as
//! `web/static`). Without them, or if the bundle fails, the unbundled `web/static` is embedded
//! as it is, with a cargo warning. `LLMUX_WEB_BUNDLE=0` skips the bundler on purpose.
//!
//! A release build (`cargo build --release`, `cargo install`) without `web/node_modules` (so
//! without esbuild and xterm.js) fails with what to run, instead of a binary whose terminal
//! does not work; `LLMUX_WEB_BUNDLE=0` builds it anyway (what `scripts/start` does without npm).
//!
//! Either way, writes `$OUT_DIR/web_embed.rs`: the `RustEmbed` struct for the chosen folder.
//! Reruns when `web/static`, the build script or `web/node_modules` change (rust-embed tracks
//! the files it includes, not new ones).

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest =
        PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    let web = manifest.join("../../web");
    println!("cargo:rerun-if-changed=../../web/static");
    println!("cargo:rerun-if-changed=../../web/build.mjs");
    println!("cargo:rerun-if-changed=../../web/node_modules");
    println!("cargo:rerun-if-env-changed=LLMUX_WEB_BUNDLE");
    require_npm_packages(&web);

    let folder = match bundle(&web, &out.join("web")) {
        Ok(dir) => dir,
        Err(why) => {
            if let Some(why) = why {
                println!("cargo:warning=web UI not bundled ({why}); embedding web/static as it is");
            }
            web.join("static")
        }
    };
    let folder = folder.to_str().expect("a UTF-8 path to the web assets").to_owned();
    let code = format!(
        "/// The first-party web files (bundled by `web/build.mjs`, or `web/static` as it is).\n\
         #[derive(RustEmbed)]\n#[folder = {:?}]\nstruct Static;\n",
        format!("{folder}/")
    );
    std::fs::write(out.join("web_embed.rs"), code).expect("write web_embed.rs");
}

/// In a release build, stops with what to run when `npm ci --prefix web` was not run.
fn require_npm_packages(web: &Path) {
    let release = std::env::var("PROFILE").is_ok_and(|p| p == "release");
    let skip = std::env::var("LLMUX_WEB_BUNDLE").is_ok_and(|v| v == "0");
    let missing: Vec<&str> = ["esbuild/package.json", "@xterm/xterm/lib/xterm.js"]
        .into_iter()
        .filter(|f| !web.join("node_modules").join(f).is_file())
        .collect();
    if release && !skip && !missing.is_empty() {
        eprintln!(
            "error: llmux embeds its web UI, built from npm packages that are not installed \
             (web/node_modules/{} missing).\n\
             Install them first (needs Node.js 18 or newer and npm), then build again:\n\
             \n    npm ci --prefix web --omit=dev\n\n\
             Or build without them (the web UI unminified, its terminal without xterm.js):\n\
             \n    LLMUX_WEB_BUNDLE=0 cargo install --path crates/llmux --locked   (or cargo build …)\n",
            missing.join(", web/node_modules/")
        );
        std::process::exit(1);
    }
}

/// Runs `node web/build.mjs <dir>`; the bundle's folder, or why not (None: skipped on purpose).
fn bundle(web: &Path, dir: &Path) -> Result<PathBuf, Option<String>> {
    if std::env::var("LLMUX_WEB_BUNDLE").is_ok_and(|v| v == "0") {
        return Err(None);
    }
    if !web.join("node_modules/esbuild/package.json").is_file() {
        return Err(Some("esbuild is not installed: run `npm ci --prefix web`".into()));
    }
    let run = Command::new("node")
        .arg(web.join("build.mjs"))
        .arg(dir)
        .env("LLMUX_WEB_BUILD_QUIET", "1")
        .output()
        .map_err(|e| format!("cannot run node: {e}"))?;
    if !run.status.success() {
        let err = String::from_utf8_lossy(&run.stderr);
        let first = err.lines().find(|l| !l.trim().is_empty()).unwrap_or("no message");
        return Err(Some(format!("web/build.mjs failed ({}): {first}", run.status)));
    }
    Ok(dir.to_owned())
}
