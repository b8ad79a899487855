//! Random secrets, their hashes, and the token format.
//!
//! A token is `llmux_<id>_<secret>`: a 12-hex-digit public id (to find the record) and 256
//! random bits (64 hex digits). Only the SHA-256 of the secret is stored, and it is compared in
//! constant time. Cookies and pairing codes follow the same pattern.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Prefix of every API token, so leaked tokens are recognisable (and scannable).
pub const TOKEN_PREFIX: &str = "llmux_";

/// `n` random bytes as lower-case hex.
pub fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).expect("the OS random number generator is available");
    hex(&bytes)
}

/// Lower-case hex of `bytes` (core's, here beside the secrets that use it).
pub use llmux_core::hex::encode as hex;

/// Hex SHA-256 of `secret`.
pub fn sha256_hex(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

/// Whether `secret` hashes to `expected_hex`, compared in constant time.
pub fn verify_secret(secret: &str, expected_hex: &str) -> bool {
    sha256_hex(secret).as_bytes().ct_eq(expected_hex.as_bytes()).into()
}

/// A freshly minted token: the id, the whole value (shown once) and the hash to store.
#[derive(Debug)]
pub struct NewSecret {
    /// Public id.
    pub id: String,
    /// The full value handed to the user.
    pub value: String,
    /// What is stored.
    pub hash: String,
}

/// Mints a token value.
pub fn new_token() -> NewSecret {
    let id = random_hex(6);
    let secret = random_hex(32);
    NewSecret { value: format!("{TOKEN_PREFIX}{id}_{secret}"), hash: sha256_hex(&secret), id }
}

/// Splits a token value into (id, secret); `None` if it is not shaped like one.
pub fn parse_token(value: &str) -> Option<(&str, &str)> {
    let rest = value.strip_prefix(TOKEN_PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    let ok = id.len() == 12
        && secret.len() == 64
        && id.bytes().chain(secret.bytes()).all(|b| b.is_ascii_hexdigit());
    ok.then_some((id, secret))
}

/// Mints a browser-session cookie value `<id>.<secret>`.
pub fn new_cookie() -> NewSecret {
    let id = random_hex(9);
    let secret = random_hex(32);
    NewSecret { value: format!("{id}.{secret}"), hash: sha256_hex(&secret), id }
}

/// Splits a cookie value into (id, secret).
pub fn parse_cookie(value: &str) -> Option<(&str, &str)> {
    let (id, secret) = value.split_once('.')?;
    let ok = id.len() == 18
        && secret.len() == 64
        && id.bytes().chain(secret.bytes()).all(|b| b.is_ascii_hexdigit());
    ok.then_some((id, secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_reject_lookalikes() {
        let t = new_token();
        let (id, secret) = parse_token(&t.value).unwrap();
        assert_eq!(id, t.id);
        assert!(verify_secret(secret, &t.hash));
        assert!(!verify_secret("0".repeat(64).as_str(), &t.hash));
        assert!(parse_token("llmux_short_x").is_none());
        assert!(parse_token(&t.value.replace("llmux_", "sas_")).is_none());
        assert_ne!(new_token().value, t.value);
        let c = new_cookie();
        let (cid, cs) = parse_cookie(&c.value).unwrap();
        assert_eq!(cid, c.id);
        assert!(verify_secret(cs, &c.hash));
        assert!(parse_cookie(&t.value).is_none());
    }
}
