//! Re-embeds the web assets when files are added under `web/` (rust-embed tracks the files it
//! includes, not new ones), e.g. after `npm ci --prefix web`.
fn main() {
    println!("cargo:rerun-if-changed=../../web/static");
    println!("cargo:rerun-if-changed=../../web/node_modules/@xterm/xterm/lib");
    println!("cargo:rerun-if-changed=../../web/node_modules/@xterm/addon-fit/lib");
}
