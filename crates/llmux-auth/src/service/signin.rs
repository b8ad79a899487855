//! Signing in with a passphrase, device cookies, and pairing codes.
//!
//! Throttling is per account and per device cookie, never per client address (see
//! [`crate::throttle`]); hashing waits in the [`HashPool`](crate::hashing::HashPool), where a
//! browser with a valid device cookie for the account goes in the trusted lane.

use std::time::Instant;

use llmux_api::{LoginRequest, PairPeekResponse, PairingResponse, TokenScope};
use llmux_core::store::LoginDeviceRecord;
use llmux_core::time::{now_ms, rfc3339_ms};

use super::{AuthService, Login, PAIRING_TTL, validate_username};
use crate::hashing::{Busy, Lane};
use crate::secrets::{self, parse_cookie, verify_secret};
use crate::store::AuthStore;
use crate::throttle::Throttled;
use crate::{Error, Principal, Result, password};

/// Device cookies are named `llmux_device_<username>`, one per account a browser signed in to.
pub const DEVICE_COOKIE_PREFIX: &str = "llmux_device_";
/// How long a device cookie is remembered.
pub const DEVICE_LIFETIME: std::time::Duration = std::time::Duration::from_secs(365 * 24 * 3600);
/// The throttle key of usernames that cannot exist (too long, outside the alphabet): one key
/// for all of them, so they cannot flood the audit log.
const INVALID_NAME_KEY: &str = "invalid-name";
/// The longest user-supplied text written to the audit log for a failed sign-in.
const AUDIT_NAME_CHARS: usize = 40;

/// A pairing code waiting to be redeemed: whose it is, and the rights of what made it.
pub(crate) struct PairingCode {
    username: String,
    scope: TokenScope,
    limit: Option<i64>,
    expires: Instant,
}

fn invalid_credentials() -> Error {
    Error::Unauthenticated("invalid username or passphrase".into())
}

fn invalid_code() -> Error {
    Error::Unauthenticated("invalid or expired pairing code".into())
}

impl From<Throttled> for Error {
    fn from(t: Throttled) -> Error {
        Error::Throttled { retry_after: t.retry_after }
    }
}

impl From<Busy> for Error {
    fn from(_: Busy) -> Error {
        Error::Throttled { retry_after: 1 }
    }
}

/// The login name as typed, trimmed and lower-cased, if it could be a username at all.
pub(crate) fn login_name(raw: &str) -> Option<String> {
    let name = raw.trim();
    if name.len() > 32 {
        return None;
    }
    let name = name.to_ascii_lowercase();
    validate_username(&name).ok().map(|()| name)
}

/// User-supplied text for the audit log: control characters escaped (`\u{1b}`), at most
/// [`AUDIT_NAME_CHARS`] characters in all, a cut marked with `…`.
pub(crate) fn audit_text(raw: &str) -> String {
    let mut out = String::new();
    let mut len = 0;
    for c in raw.chars() {
        let piece: String =
            if c.is_control() { c.escape_unicode().collect() } else { c.to_string() };
        let n = piece.chars().count();
        if len + n > AUDIT_NAME_CHARS {
            out.push('…');
            break;
        }
        out.push_str(&piece);
        len += n;
    }
    out
}

impl AuthService {
    /// Checks a username and passphrase. `device_cookies` are the request's
    /// `llmux_device_<username>` cookies as (username, value): one valid for this account
    /// lets the attempt past the account's lockout (only its own limit applies) and into the
    /// trusted hashing lane.
    pub async fn login(
        &self,
        req: LoginRequest,
        device_cookies: &[(String, String)],
        user_agent: &str,
    ) -> Result<Login> {
        // A device token's name is shown in token lists and the audit log: the rules of every
        // other name (no control characters), checked before any work.
        let device_name = match req.device_name.as_deref().map(str::trim) {
            Some(d) if !d.is_empty() => Some(super::validate_name(d)?),
            _ => None,
        };
        let Some(username) = login_name(&req.username) else {
            // It cannot exist, so there is nothing to hide by hashing: refuse at once, under
            // one shared throttle key so the audit log gets only a few of these.
            let _attempt = self.throttle.begin(INVALID_NAME_KEY, Instant::now())?;
            let target = audit_text(&req.username);
            self.audit("-", "login_failed", &target, "not a valid username").await;
            return Err(invalid_credentials());
        };
        let device = self.valid_device(&username, device_cookies).await?;
        let (key, lane) = match &device {
            Some(id) => (format!("dev:{id}"), Lane::Trusted),
            None => (format!("acct:{username}"), Lane::Open),
        };
        let attempt = self.throttle.begin(&key, Instant::now())?;
        let name = username.clone();
        let user = self.db(move |s| s.get_user(&name)).await?;
        let hash = user.as_ref().map(|u| u.passphrase_hash.clone());
        let passphrase = req.passphrase;
        // A hash imported from llmux 0.41 (scrypt) is replaced by Argon2id on the sign-in that
        // proves the passphrase, in the same job: the passphrase goes to the pool once.
        let verified = self
            .hashes
            .run(lane, move |memory| {
                let ok = password::verify_in(memory, &passphrase, hash.as_deref());
                let upgrade = (ok && hash.as_deref().is_some_and(crate::legacy::is_scrypt))
                    .then(|| password::hash_in(memory, &passphrase));
                (ok, upgrade)
            })
            .await;
        let user = match (verified, user) {
            (Err(busy), _) => {
                attempt.cancel();
                return Err(busy.into());
            }
            (Ok((true, upgrade)), Some(user)) => {
                if let Some(new) = upgrade {
                    self.upgrade_hash(&user.username, &user.passphrase_hash, new).await;
                }
                user
            }
            _ => {
                drop(attempt);
                let detail = if device.is_some() { "with a device cookie" } else { "" };
                self.audit("-", "login_failed", &username, detail).await;
                return Err(invalid_credentials());
            }
        };
        attempt.succeed();
        match device_name {
            Some(device_name) => {
                // The passphrase is the root credential: the device token gets the account's
                // full rights and no inherited end.
                let scope = if user.admin { TokenScope::Admin } else { TokenScope::User };
                let (value, token) = self
                    .mint_token(&user.username, &user.username, &device_name, scope, None)
                    .await?;
                let detail = format!("device token {}", token.id);
                self.audit(&user.username, "login", &user.username, &detail).await;
                Ok(Login {
                    user: self.user_view(&user),
                    cookie: None,
                    token: Some((value, token)),
                    device_cookie: None,
                })
            }
            None => {
                let cookie = self
                    .new_browser_session(&user.username, user_agent, TokenScope::Admin, None)
                    .await?;
                let device_cookie = match device {
                    Some(_) => None,
                    None => Some(self.new_device(&user.username).await?),
                };
                self.audit(&user.username, "login", &user.username, "browser").await;
                Ok(Login {
                    user: self.user_view(&user),
                    cookie: Some(cookie),
                    token: None,
                    device_cookie,
                })
            }
        }
    }

    /// Stores the Argon2id hash `new` in place of the imported hash `old` (unless the
    /// passphrase changed meanwhile). A failure is logged: the old hash still works.
    async fn upgrade_hash(&self, username: &str, old: &str, new: String) {
        let (name, old_hash) = (username.to_owned(), old.to_owned());
        match self.db(move |s| s.replace_passphrase_hash(&name, &old_hash, &new)).await {
            Ok(true) => {
                self.audit(
                    username,
                    "passphrase_upgraded",
                    username,
                    "scrypt (llmux 0.41) to Argon2id",
                )
                .await;
            }
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(username, error = %e, "cannot replace an imported passphrase hash")
            }
        }
    }

    /// The id of the request's device cookie for `username`, if it has a valid one.
    async fn valid_device(
        &self,
        username: &str,
        cookies: &[(String, String)],
    ) -> Result<Option<String>> {
        let Some((_, value)) = cookies.iter().find(|(u, _)| u == username) else {
            return Ok(None);
        };
        let Some((id, secret)) = parse_cookie(value.trim()) else { return Ok(None) };
        let (id, secret) = (id.to_owned(), secret.to_owned());
        let key = id.clone();
        let record = self.db(move |s| s.get_login_device(&key)).await?;
        Ok(record
            .filter(|d| {
                d.username == username
                    && d.expires_at > now_ms()
                    && verify_secret(&secret, &d.secret_hash)
            })
            .map(|_| id))
    }

    /// Mints a device cookie for `username`: (cookie name, value).
    pub(crate) async fn new_device(&self, username: &str) -> Result<(String, String)> {
        let secret = secrets::new_cookie();
        let now = now_ms();
        let record = LoginDeviceRecord {
            id: secret.id,
            username: username.to_owned(),
            secret_hash: secret.hash,
            created_at: now,
            expires_at: now + DEVICE_LIFETIME.as_millis() as i64,
        };
        self.db(move |s| s.insert_login_device(&record)).await?;
        Ok((format!("{DEVICE_COOKIE_PREFIX}{username}"), secret.value))
    }

    /// Mints a one-time pairing code that signs a browser in as the caller (the local
    /// operator pairs as the first admin), with no more rights than the caller's credential
    /// and ending no later; valid for [`PAIRING_TTL`] at most.
    pub async fn create_pairing(&self, p: &Principal) -> Result<PairingResponse> {
        let username = match p.username() {
            Some(u) => u.to_owned(),
            None => self.first_admin().await?,
        };
        let (scope, limit) = (p.scope(), p.limit());
        let now_ms = now_ms();
        let ttl_ms = limit.map_or(PAIRING_TTL.as_millis() as i64, |l| {
            (l - now_ms).clamp(0, PAIRING_TTL.as_millis() as i64)
        });
        let code = secrets::random_hex(16);
        let now = Instant::now();
        let expires = now + std::time::Duration::from_millis(ttl_ms as u64);
        {
            let mut pairing = self.pairing.lock().expect("pairing lock");
            pairing.retain(|_, c| c.expires > now);
            let entry = PairingCode { username: username.clone(), scope, limit, expires };
            pairing.insert(secrets::sha256_hex(&code), entry);
        }
        self.audit(&p.actor(), "pairing_created", &username, scope.as_str()).await;
        Ok(PairingResponse {
            path: format!("/pair#code={code}"),
            code,
            expires_at: rfc3339_ms(now_ms + ttl_ms),
            url: None,
            qr_svg: None,
        })
    }

    /// Whose sign-in a pairing code carries, without using it up.
    pub async fn peek_pairing(&self, code: &str) -> Result<PairPeekResponse> {
        let (username, scope) = {
            let pairing = self.pairing.lock().expect("pairing lock");
            match pairing.get(&secrets::sha256_hex(code.trim())) {
                Some(c) if c.expires > Instant::now() => (c.username.clone(), c.scope),
                _ => return Err(invalid_code()),
            }
        };
        let key = username.clone();
        let user = self.db(move |s| s.get_user(&key)).await?.ok_or_else(invalid_code)?;
        Ok(PairPeekResponse { username: user.username, name: user.name, scope, signed_in_as: None })
    }

    /// Trades a pairing code (once) for a browser session with the code's rights.
    pub async fn redeem_pairing(&self, code: &str, user_agent: &str) -> Result<Login> {
        self.redeem_pairing_at(code, user_agent, Instant::now()).await
    }

    /// [`AuthService::redeem_pairing`] as of `now` (tests move the clock).
    pub(crate) async fn redeem_pairing_at(
        &self,
        code: &str,
        user_agent: &str,
        now: Instant,
    ) -> Result<Login> {
        // Removed whatever happens next: a code works once, even a wrong attempt's.
        let entry =
            self.pairing.lock().expect("pairing lock").remove(&secrets::sha256_hex(code.trim()));
        let Some(code) = entry.filter(|c| c.expires > now) else {
            return Err(invalid_code());
        };
        let key = code.username.clone();
        let user = self.db(move |s| s.get_user(&key)).await?.ok_or_else(invalid_code)?;
        let cookie =
            self.new_browser_session(&code.username, user_agent, code.scope, code.limit).await?;
        let detail = format!("pairing code ({})", code.scope.as_str());
        self.audit(&code.username, "login", &code.username, &detail).await;
        Ok(Login {
            user: self.user_view(&user),
            cookie: Some(cookie),
            token: None,
            device_cookie: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_names_are_normalised_or_refused() {
        assert_eq!(login_name("  Alice "), Some("alice".into()));
        assert_eq!(login_name("a".repeat(32).as_str()), Some("a".repeat(32)));
        assert_eq!(login_name(&"a".repeat(33)), None);
        assert_eq!(login_name("al\u{1b}]0;x\u{7}ice"), None);
        assert_eq!(login_name("ålice"), None);
        assert_eq!(login_name(""), None);
    }

    #[test]
    fn audit_text_is_short_and_escaped() {
        assert_eq!(audit_text("bob"), "bob");
        assert_eq!(audit_text("a\u{1b}[2Jb\nc"), "a\\u{1b}[2Jb\\u{a}c");
        let long = audit_text(&"x".repeat(400_000));
        assert_eq!(long.chars().count(), AUDIT_NAME_CHARS + 1);
        assert!(long.ends_with('…'));
        let escapes = audit_text(&"\u{7}".repeat(100));
        assert!(escapes.chars().count() <= AUDIT_NAME_CHARS + 1, "{escapes}");
    }
}
