//! Passphrase hashing with Argon2id, always on the [`HashPool`](crate::hashing::HashPool)'s
//! few threads, each with its own preallocated Argon2 memory.
//!
//! Parameters follow OWASP's first recommendation (m = 19 MiB, t = 2, p = 1). Unknown usernames
//! are verified against a dummy hash with the same parameters, so the time a login takes does
//! not tell whether the account exists.
//!
//! The memory is the caller's (`hash_password_into_with_memory`), not allocated per hash:
//! with a fixed set of workers the daemon's memory for hashing is `workers × 19 MiB`, however
//! many sign-ins arrive, and nothing is left behind in the allocator's per-thread arenas.

use std::sync::OnceLock;

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{ARGON2ID_IDENT, Algorithm, Argon2, Block, Params, Version};
use subtle::ConstantTimeEq;

use crate::Error;

/// Shortest passphrase accepted.
pub const MIN_PASSPHRASE_LEN: usize = 8;
/// Longest passphrase accepted (hashing cost guard).
pub const MAX_PASSPHRASE_LEN: usize = 1024;
/// The most memory a stored hash may ask for (a foreign hash could name any `m`).
const MAX_BLOCKS: usize = 64 * 1024;
const OUTPUT_LEN: usize = 32;

fn params() -> Params {
    Params::new(19 * 1024, 2, 1, Some(OUTPUT_LEN)).expect("valid Argon2 parameters")
}

/// Blocks of Argon2 memory, one set per hashing thread.
pub(crate) type Memory = Vec<Block>;

/// Checks a new passphrase's length.
pub fn check_new(passphrase: &str) -> Result<(), Error> {
    let len = passphrase.chars().count();
    if len < MIN_PASSPHRASE_LEN {
        return Err(Error::Invalid(format!(
            "passphrase must be at least {MIN_PASSPHRASE_LEN} characters"
        )));
    }
    if passphrase.len() > MAX_PASSPHRASE_LEN {
        return Err(Error::Invalid(format!(
            "passphrase must be at most {MAX_PASSPHRASE_LEN} bytes"
        )));
    }
    Ok(())
}

/// `memory` with at least `blocks` blocks (grown once, then reused).
fn blocks(memory: &mut Memory, blocks: usize) -> &mut [Block] {
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    &mut memory[..blocks]
}

/// Hashes a passphrase into a PHC string, in `memory`.
pub(crate) fn hash_in(memory: &mut Memory, passphrase: &str) -> String {
    let params = params();
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).expect("the OS random number generator is available");
    let mut out = [0u8; OUTPUT_LEN];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(
            passphrase.as_bytes(),
            &salt,
            &mut out,
            blocks(memory, params.block_count()),
        )
        .expect("Argon2 hashing with valid parameters cannot fail");
    PasswordHash {
        algorithm: ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).expect("valid parameters"),
        salt: Some(Salt::new(&salt).expect("16 bytes is a valid salt")),
        hash: Some(Output::new(&out).expect("32 bytes is a valid output")),
    }
    .to_string()
}

/// Whether `passphrase` matches the PHC string `hash` (or an imported 0.41 scrypt hash),
/// computed in `memory`.
fn verify_hash(memory: &mut Memory, passphrase: &str, hash: &str) -> bool {
    if crate::legacy::is_scrypt(hash) {
        return crate::legacy::verify_scrypt(passphrase, hash);
    }
    let Ok(phc) = PasswordHash::new(hash) else { return false };
    let Ok(algorithm) = Algorithm::try_from(phc.algorithm.as_str()) else { return false };
    let Ok(params) = Params::try_from(&phc) else { return false };
    let version = match phc.version.map(Version::try_from) {
        None => Version::V0x13,
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let (Some(salt), Some(expected)) = (&phc.salt, &phc.hash) else { return false };
    if params.block_count() > MAX_BLOCKS {
        return false;
    }
    let mut out = vec![0u8; expected.len()];
    let ok = Argon2::new(algorithm, version, params.clone())
        .hash_password_into_with_memory(
            passphrase.as_bytes(),
            salt,
            &mut out,
            blocks(memory, params.block_count()),
        )
        .is_ok();
    ok && bool::from(out.ct_eq(expected.as_bytes()))
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_in(&mut Vec::new(), "llmux-dummy-passphrase-for-unknown-users"))
}

/// Verifies a passphrase against a stored hash, or against the dummy hash when there is no
/// such user (then always false, after the same work).
pub(crate) fn verify_in(memory: &mut Memory, passphrase: &str, hash: Option<&str>) -> bool {
    match hash {
        Some(hash) => verify_hash(memory, passphrase, hash),
        None => {
            let _ = verify_hash(memory, passphrase, dummy_hash());
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use argon2::password_hash::PasswordHasher;

    use super::*;

    #[test]
    fn hash_and_verify() {
        let mut memory = Vec::new();
        let h = hash_in(&mut memory, "correct horse");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify_in(&mut memory, "correct horse", Some(&h)));
        assert!(!verify_in(&mut memory, "wrong horse", Some(&h)));
        assert!(!verify_in(&mut memory, "anything", None));
        assert!(!verify_in(&mut memory, "anything", Some("not a hash")));
        assert!(check_new("short").is_err());
        assert!(check_new("long enough").is_ok());
    }

    #[test]
    fn hashes_made_by_the_argon2_crate_still_verify() {
        // what earlier versions stored (the crate's own PHC strings)
        let old = Argon2::new(Algorithm::Argon2id, Version::V0x13, params())
            .hash_password(b"old passphrase")
            .unwrap()
            .to_string();
        let mut memory = Vec::new();
        assert!(verify_in(&mut memory, "old passphrase", Some(&old)));
        assert!(!verify_in(&mut memory, "new passphrase", Some(&old)));
    }
}
