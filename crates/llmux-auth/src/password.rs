//! Passphrase hashing with Argon2id, on a blocking thread so logins never stall the daemon.
//!
//! Parameters follow OWASP's first recommendation (m = 19 MiB, t = 2, p = 1). Unknown usernames
//! are verified against a dummy hash with the same parameters, so the time a login takes does
//! not tell whether the account exists.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, PasswordHash, Version};

use crate::Error;

/// Shortest passphrase accepted.
pub const MIN_PASSPHRASE_LEN: usize = 8;
/// Longest passphrase accepted (hashing cost guard).
pub const MAX_PASSPHRASE_LEN: usize = 1024;

fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid Argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

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

fn hash_blocking(passphrase: &str) -> String {
    argon2()
        .hash_password(passphrase.as_bytes())
        .expect("Argon2 hashing with valid parameters cannot fail")
        .to_string()
}

fn verify_blocking(passphrase: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => argon2().verify_password(passphrase.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_blocking("llmux-dummy-passphrase-for-unknown-users"))
}

/// Hashes a passphrase (Argon2id PHC string) off the async runtime.
pub async fn hash(passphrase: String) -> String {
    tokio::task::spawn_blocking(move || hash_blocking(&passphrase))
        .await
        .expect("the hashing task does not panic")
}

/// Verifies a passphrase against a stored hash, or against the dummy hash when there is no
/// such user (then always false, after the same work).
pub async fn verify(passphrase: String, hash: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || match hash {
        Some(hash) => verify_blocking(&passphrase, &hash),
        None => {
            let _ = verify_blocking(&passphrase, dummy_hash());
            false
        }
    })
    .await
    .expect("the verification task does not panic")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_and_verify() {
        let h = hash("correct horse".into()).await;
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify("correct horse".into(), Some(h.clone())).await);
        assert!(!verify("wrong horse".into(), Some(h)).await);
        assert!(!verify("anything".into(), None).await);
        assert!(check_new("short").is_err());
        assert!(check_new("long enough").is_ok());
    }
}
