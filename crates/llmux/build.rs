//! Link options of the `llmux` binary.
//!
//! Release builds for glibc pack their relative relocations (`-z pack-relative-relocs`,
//! `DT_RELR`, glibc ≥ 2.36): a position-independent Rust binary carries one 24-byte
//! relocation per pointer in its read-only data (vtables, string tables), 1.3 MB of them in
//! `llmux`, which the dynamic loader reads at every start and which then stay resident; packed
//! they are a few KB (issue 14, daemon memory). musl reads them too (≥ 1.2.4), but its
//! toolchains are older, so only glibc targets get the flag. Debug builds are left alone.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    if var("PROFILE") == "release"
        && var("CARGO_CFG_TARGET_OS") == "linux"
        && var("CARGO_CFG_TARGET_ENV") == "gnu"
    {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}
