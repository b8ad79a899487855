//! Credentials of the old Node llmux 0.41, brought over by `llmux import llmux-0.41`.
//!
//! - Passphrase hashes `scrypt$<N>$<base64 salt>$<base64 hash>` (r = 8, p = 1): verified at the
//!   user's next sign-in, which then stores an Argon2id hash instead. `N` is bounded
//!   ([`MAX_SCRYPT_N`], the old default) so a crafted hash cannot make a sign-in burn more than
//!   128 MiB and a fraction of a second; salt and hash lengths are bounded too.
//! - Tokens `sas_<id>.<secret>`, stored by 0.41 as base64 SHA-256 of the secret: kept with the
//!   hex SHA-256 our tokens use, under the id `sas_<id>`, and compared in constant time.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use subtle::ConstantTimeEq;

/// What every imported row records as its origin.
pub const ORIGIN: &str = "llmux 0.41";
/// The prefix of an old token and of its id here.
pub const TOKEN_PREFIX: &str = "sas_";
/// The largest scrypt cost accepted: 2^17, what 0.41 always used (128 MiB with r = 8).
pub const MAX_SCRYPT_N: u64 = 1 << 17;
const SCRYPT_R: u32 = 8;
const SCRYPT_P: u32 = 1;
const MAX_SALT: usize = 64;
const MIN_HASH: usize = 16;
const MAX_HASH: usize = 64;
/// Longest old token id and secret accepted (0.41 made 16 and 43 characters).
const MAX_TOKEN_ID: usize = 64;
const MAX_TOKEN_SECRET: usize = 128;

/// A parsed 0.41 passphrase hash.
#[derive(Clone, PartialEq, Eq)]
pub struct ScryptHash {
    log_n: u8,
    salt: Vec<u8>,
    hash: Vec<u8>,
}

impl std::fmt::Debug for ScryptHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScryptHash").field("log_n", &self.log_n).finish_non_exhaustive()
    }
}

/// Whether a stored passphrase hash is a 0.41 one (to be replaced at the next sign-in).
pub fn is_scrypt(stored: &str) -> bool {
    stored.starts_with("scrypt$")
}

impl ScryptHash {
    /// Parses `scrypt$N$salt$hash`; the error says what is wrong, for the import report.
    pub fn parse(stored: &str) -> Result<ScryptHash, String> {
        let parts: Vec<&str> = stored.split('$').collect();
        let [tag, n, salt, hash] = parts[..] else {
            return Err("not of the form scrypt$N$salt$hash".into());
        };
        if tag != "scrypt" {
            return Err(format!(
                "unknown hash algorithm {:?}",
                tag.chars().take(20).collect::<String>()
            ));
        }
        let n: u64 = n
            .parse()
            .ok()
            .filter(|n: &u64| *n >= 2 && n.is_power_of_two())
            .ok_or("the scrypt cost N is not a power of two of at least 2")?;
        if n > MAX_SCRYPT_N {
            return Err(format!(
                "the scrypt cost N = {n} is above the accepted maximum {MAX_SCRYPT_N}"
            ));
        }
        let salt = STANDARD.decode(salt).map_err(|_| "the salt is not base64")?;
        let hash = STANDARD.decode(hash).map_err(|_| "the hash is not base64")?;
        if salt.is_empty() || salt.len() > MAX_SALT {
            return Err(format!("the salt must be 1-{MAX_SALT} bytes"));
        }
        if !(MIN_HASH..=MAX_HASH).contains(&hash.len()) {
            return Err(format!("the hash must be {MIN_HASH}-{MAX_HASH} bytes"));
        }
        Ok(ScryptHash { log_n: n.trailing_zeros() as u8, salt, hash })
    }

    /// Whether `passphrase` matches, compared in constant time.
    pub fn verify(&self, passphrase: &str) -> bool {
        let Ok(params) = scrypt::Params::new(self.log_n, SCRYPT_R, SCRYPT_P) else {
            return false;
        };
        let mut out = vec![0u8; self.hash.len()];
        if scrypt::scrypt(passphrase.as_bytes(), &self.salt, &params, &mut out).is_err() {
            return false;
        }
        out.ct_eq(&self.hash).into()
    }
}

/// Verifies `passphrase` against a stored 0.41 hash; false for anything unparsable.
pub(crate) fn verify_scrypt(passphrase: &str, stored: &str) -> bool {
    ScryptHash::parse(stored).is_ok_and(|h| h.verify(passphrase))
}

fn is_base64url(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether `id` (without the prefix) can be an old token's id.
pub fn valid_token_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_TOKEN_ID && is_base64url(id)
}

/// The id a 0.41 token id is kept under here: `sas_<id>` (never one of ours, which are hex
/// without a prefix).
pub fn token_id(old_id: &str) -> String {
    format!("{TOKEN_PREFIX}{old_id}")
}

/// Splits an old token `sas_<id>.<secret>` into (our id `sas_<id>`, secret).
pub fn parse_token(value: &str) -> Option<(&str, &str)> {
    let rest = value.strip_prefix(TOKEN_PREFIX)?;
    let (id, secret) = rest.split_once('.')?;
    let ok = valid_token_id(id)
        && !secret.is_empty()
        && secret.len() <= MAX_TOKEN_SECRET
        && is_base64url(secret);
    ok.then(|| (&value[..TOKEN_PREFIX.len() + id.len()], secret))
}

/// The hex SHA-256 we store for a 0.41 `secretHash` (base64 of the 32-byte digest).
pub fn token_hash_hex(secret_hash_b64: &str) -> Result<String, String> {
    let bytes = STANDARD.decode(secret_hash_b64).map_err(|_| "secretHash is not base64")?;
    if bytes.len() != 32 {
        return Err("secretHash is not a SHA-256 digest".into());
    }
    Ok(crate::secrets::hex(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::verify_secret;

    /// A hash of "correct horse" in 0.41's format, with a small N to keep the test fast.
    fn small(n: u32) -> String {
        let salt = [7u8; 16];
        let params = scrypt::Params::new(n.trailing_zeros() as u8, 8, 1).unwrap();
        let mut out = [0u8; 64];
        scrypt::scrypt(b"correct horse", &salt, &params, &mut out).unwrap();
        format!("scrypt${n}${}${}", STANDARD.encode(salt), STANDARD.encode(out))
    }

    #[test]
    fn scrypt_hashes_verify_and_bad_ones_are_refused_with_a_reason() {
        let h = small(1024);
        assert!(verify_scrypt("correct horse", &h));
        assert!(!verify_scrypt("correct horsf", &h));
        assert!(is_scrypt(&h) && !is_scrypt("$argon2id$v=19$…"));
        let bad = |s: &str| ScryptHash::parse(s).unwrap_err();
        assert!(bad("scrypt$1024$abc").contains("form"));
        assert!(bad("bcrypt$1024$AAAA$AAAA").contains("algorithm"));
        assert!(bad("scrypt$1000$AAAA$AAAA").contains("power of two"));
        assert!(bad("scrypt$-8$AAAA$AAAA").contains("power of two"));
        assert!(bad("scrypt$1$AAAA$AAAA").contains("power of two"));
        assert!(bad(&h.replacen("1024", "1048576", 1)).contains("maximum"), "2^20 is refused");
        assert!(bad(&h.replacen("1024", &(1u64 << 40).to_string(), 1)).contains("maximum"));
        assert!(bad(&h.replacen("1024", &"9".repeat(40), 1)).contains("power of two"));
        assert!(bad("scrypt$1024$!!!!$AAAA").contains("salt"));
        assert!(bad(&format!("scrypt$1024$AAAA${}", STANDARD.encode([1u8; 8]))).contains("hash"));
        assert!(!verify_scrypt("correct horse", &h.replacen("1024", "1048576", 1)));
    }

    #[test]
    fn the_largest_accepted_cost_is_the_old_default() {
        // 0.41's own hash of "alice passphrase 1" (N = 2^17), made by its `user create`
        let h = "scrypt$131072$qx4SwaXpzCEiA+2NW8xR8w==$YxVaCDzV9C93NYAWyeaqnt/u6/RLyd6hvJux91yeL7iH2lBgc7jCnTeOMPdVPTWC2FW6M5xf2+SOkfSDD+66fA==";
        assert!(verify_scrypt("alice passphrase 1", h));
        assert!(!verify_scrypt("alice passphrase 2", h));
    }

    #[test]
    fn old_tokens_parse_and_keep_their_hash() {
        // made by 0.41's `token create`; secretHash from its tokens.json
        let value = "sas_uENZnGbqnSEEOoip.eFZJKSLHH_i3RGhBHsHKHEKH4rm91o9SqdWVmrJp02w";
        let (id, secret) = parse_token(value).unwrap();
        assert_eq!(id, "sas_uENZnGbqnSEEOoip");
        assert_eq!(token_id("uENZnGbqnSEEOoip"), id);
        let hex = token_hash_hex("l7+XnRRZJVCqVdDgDuKKcy9SBySEC+JEq9yHa1BiFpE=").unwrap();
        assert!(verify_secret(secret, &hex));
        assert!(!verify_secret("eFZJKSLHH_i3RGhBHsHKHEKH4rm91o9SqdWVmrJp02x", &hex));
        for bad in ["sas_.x", "sas_abc.", "sas_abc", "llmux_abc.def", "sas_a/b.c", "sas_a.b c"] {
            assert!(parse_token(bad).is_none(), "{bad}");
        }
        assert!(parse_token(&format!("sas_{}.x", "a".repeat(65))).is_none());
        assert!(token_hash_hex("AAAA").is_err());
        assert!(token_hash_hex("not base64!").is_err());
    }
}
