//! The daemon's VAPID identity (RFC 8292): a P-256 key made once and kept in the state dir
//! (mode 0600), and the `Authorization: vapid t=…, k=…` header it signs for each push.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hyper::Uri;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use p256::elliptic_curve::sec1::ToEncodedPoint as _;

/// How long a signed JWT is valid (RFC 8292 allows at most 24 h).
const JWT_LIFETIME_SECS: i64 = 12 * 60 * 60;

/// The VAPID key pair.
pub(crate) struct VapidKey {
    signing: SigningKey,
    /// The public key, uncompressed SEC1, base64url (what `applicationServerKey` takes).
    public: String,
}

impl std::fmt::Debug for VapidKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VapidKey").field("public", &self.public).finish_non_exhaustive()
    }
}

impl VapidKey {
    /// Reads the key at `path`, or makes one and writes it there (0600) if there is none.
    pub(crate) fn load_or_create(path: &Path) -> llmux_core::Result<VapidKey> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let bytes = URL_SAFE_NO_PAD.decode(text.trim()).unwrap_or_default();
                VapidKey::from_secret_bytes(&bytes).ok_or_else(|| {
                    llmux_core::Error::invalid(format!(
                        "{} is not a VAPID key; remove it to make a new one (browsers must then \
                         enable notifications again)",
                        path.display()
                    ))
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = VapidKey::generate();
                let secret = URL_SAFE_NO_PAD.encode(key.signing.to_bytes());
                llmux_core::paths::write_private(path, format!("{secret}\n").as_bytes())?;
                tracing::info!(path = %path.display(), "made a VAPID key for Web Push");
                Ok(key)
            }
            Err(e) => Err(llmux_core::Error::io(format!("cannot read {}", path.display()), e)),
        }
    }

    /// A fresh random key.
    pub(crate) fn generate() -> VapidKey {
        loop {
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes).expect("the OS random number generator is available");
            // Out-of-range scalars (probability ~2^-32) are drawn again.
            if let Some(key) = VapidKey::from_secret_bytes(&bytes) {
                return key;
            }
        }
    }

    /// The key whose private scalar is `bytes` (32 bytes, big-endian).
    pub(crate) fn from_secret_bytes(bytes: &[u8]) -> Option<VapidKey> {
        let signing = SigningKey::from_slice(bytes).ok()?;
        let point = signing.verifying_key().as_affine().to_encoded_point(false);
        Some(VapidKey { public: URL_SAFE_NO_PAD.encode(point.as_bytes()), signing })
    }

    /// The public key, base64url of the uncompressed point.
    pub(crate) fn public_key(&self) -> &str {
        &self.public
    }

    /// The `Authorization` header value for a push to `endpoint`: a JWT whose audience is the
    /// endpoint's origin, signed ES256, valid [`JWT_LIFETIME_SECS`] from `now_secs`.
    pub(crate) fn authorization(&self, endpoint: &Uri, subject: &str, now_secs: i64) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"ES256"}"#);
        let claims = serde_json::json!({
            "aud": origin(endpoint),
            "exp": now_secs + JWT_LIFETIME_SECS,
            "sub": subject,
        });
        let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
        let input = format!("{header}.{claims}");
        let signature: Signature = self.signing.sign(input.as_bytes());
        let jwt = format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()));
        format!("vapid t={jwt}, k={}", self.public)
    }
}

/// `scheme://host[:port]` of a URL.
pub(crate) fn origin(uri: &Uri) -> String {
    let scheme = uri.scheme_str().unwrap_or("https");
    let authority = uri.authority().map_or("", |a| a.as_str());
    format!("{scheme}://{authority}")
}

#[cfg(test)]
mod tests {
    use p256::ecdsa::VerifyingKey;
    use p256::ecdsa::signature::Verifier as _;

    use super::*;

    #[test]
    fn the_key_is_made_once_kept_private_and_reloaded() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vapid.key");
        let made = VapidKey::load_or_create(&path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let again = VapidKey::load_or_create(&path).unwrap();
        assert_eq!(made.public_key(), again.public_key());
        assert_eq!(URL_SAFE_NO_PAD.decode(made.public_key()).unwrap().len(), 65);
        std::fs::write(&path, "garbage").unwrap();
        let err = VapidKey::load_or_create(&path).unwrap_err().to_string();
        assert!(err.contains("not a VAPID key"), "{err}");
    }

    #[test]
    fn the_jwt_is_signed_for_the_endpoint_origin() {
        let key = VapidKey::generate();
        let endpoint: Uri = "https://push.example:8443/wpush/v2/abc?x=1".parse().unwrap();
        let value = key.authorization(&endpoint, "mailto:ops@example.com", 1000);
        let (t, k) = value.strip_prefix("vapid t=").unwrap().split_once(", k=").unwrap();
        assert_eq!(k, key.public_key());
        let (input, sig) = t.rsplit_once('.').unwrap();
        let public = VerifyingKey::from_sec1_bytes(&URL_SAFE_NO_PAD.decode(k).unwrap()).unwrap();
        let sig = Signature::from_slice(&URL_SAFE_NO_PAD.decode(sig).unwrap()).unwrap();
        public.verify(input.as_bytes(), &sig).unwrap();
        let (header, claims) = input.split_once('.').unwrap();
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
        assert_eq!(header["alg"], "ES256");
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).unwrap()).unwrap();
        assert_eq!(claims["aud"], "https://push.example:8443");
        assert_eq!(claims["exp"], 1000 + JWT_LIFETIME_SECS);
        assert_eq!(claims["sub"], "mailto:ops@example.com");
    }
}
