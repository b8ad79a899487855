//! The auth service: sign-in, credentials, and the bookkeeping around them.

mod accounts;
mod isolation;
mod relayed;
mod review;
mod sessions;
mod signin;

pub use isolation::{MAX_ROOTS, MAX_SESSIONS_LIMIT};
pub use sessions::{Attachment, Listing, MAX_WAIT, Prompt, Queued, SHELL, Sessions, Target};
pub use signin::{DEVICE_COOKIE_PREFIX, DEVICE_LIFETIME};

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use llmux_api::{SetupRequest, TokenScope, TokenView, UserView};
use llmux_core::paths::Paths;
use llmux_core::store::Store;

use crate::store::{AuditRecord, AuthStore, BrowserSessionRecord, TokenRecord, UserRecord};
use llmux_core::time::{now_ms, rfc3339_ms};
use tokio::sync::broadcast;

use crate::hashing::{HashPool, Lane};
use crate::secrets::{self, parse_cookie, parse_token, verify_secret};
use crate::throttle::Throttle;
use crate::{Error, Principal, Result, UserPrincipal, Via, password};

/// Absolute lifetime of a browser session.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);
/// A browser session unused this long ends.
pub const SESSION_IDLE: Duration = Duration::from_secs(7 * 24 * 3600);
/// How long the setup token is valid.
pub const SETUP_TTL: Duration = Duration::from_secs(3600);
/// How long a pairing code is valid.
pub const PAIRING_TTL: Duration = Duration::from_secs(5 * 60);
/// `last_used_at` / `last_seen_at` are written at most this often.
const TOUCH_EVERY_MS: i64 = 60_000;

/// A credential that stopped being valid; long-lived connections of its principal close.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revocation {
    /// A token was revoked.
    Token(String),
    /// A browser session ended.
    BrowserSession(String),
    /// A user was deleted (or all their credentials revoked).
    User(String),
}

/// What the daemon found at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bootstrap {
    /// Users exist.
    Ready {
        /// How many.
        users: u64,
    },
    /// No user yet: this one-time token (also written to `file`) lets `/setup` create the first
    /// admin for the next hour.
    Setup {
        /// The setup token.
        token: String,
        /// The 0600 file holding it.
        file: PathBuf,
    },
    /// The first admin was created from `LLMUX_INIT_*`.
    CreatedFromEnv {
        /// Their username.
        username: String,
    },
}

/// A successful sign-in.
#[derive(Debug)]
pub struct Login {
    /// The user.
    pub user: UserView,
    /// A browser session cookie value to set, unless a device token was minted instead.
    pub cookie: Option<String>,
    /// A minted device token (value, record).
    pub token: Option<(String, TokenView)>,
    /// A new device cookie to set (name, value): this browser signed in to this account.
    pub device_cookie: Option<(String, String)>,
}

/// The first admin described by `LLMUX_INIT_USERNAME`, `LLMUX_INIT_NAME`,
/// `LLMUX_INIT_PASSPHRASE`.
#[derive(Clone)]
pub struct InitUser {
    /// Login name.
    pub username: String,
    /// Display name.
    pub name: Option<String>,
    /// Passphrase.
    pub passphrase: String,
}

impl std::fmt::Debug for InitUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InitUser").field("username", &self.username).finish_non_exhaustive()
    }
}

struct Pending {
    hash: String,
    expires: Instant,
}

/// Users, credentials and their rules.
pub struct AuthService {
    store: Arc<Store>,
    throttle: Throttle,
    hashes: HashPool,
    setup: Mutex<Option<Pending>>,
    setup_file: PathBuf,
    pairing: Mutex<HashMap<String, signin::PairingCode>>,
    revocations: broadcast::Sender<Revocation>,
    /// The daemon's layout (default workspaces; the dirs no granted root may expose).
    paths: Paths,
    /// Whether the sandbox for non-admin sessions can run (a seam for tests).
    probe: isolation::Probe,
    creating: isolation::CreationLocks,
}

impl std::fmt::Debug for AuthService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthService").finish_non_exhaustive()
    }
}

impl AuthService {
    /// A service over `store`; the setup token file goes in `state_dir`, whose layout
    /// ([`Paths::in_state_dir`], the same the daemon resolved) places default workspaces and
    /// the runtime dir.
    pub fn new(store: Arc<Store>, state_dir: &std::path::Path) -> Arc<AuthService> {
        Arc::new(AuthService {
            paths: Paths::in_state_dir(state_dir.to_path_buf()),
            probe: isolation::sandbox_probe,
            creating: isolation::CreationLocks::default(),
            store,
            throttle: Throttle::default(),
            hashes: HashPool::for_this_machine(),
            setup: Mutex::new(None),
            setup_file: state_dir.join("setup-token"),
            pairing: Mutex::new(HashMap::new()),
            revocations: broadcast::channel(64).0,
        })
    }

    /// Whether the store takes writes (a write rolled back; see `Store::check_writable`).
    pub async fn check_store(&self) -> Result<()> {
        self.db(|s| s.check_writable()).await
    }

    async fn db<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> llmux_core::Result<T> + Send + 'static,
    ) -> Result<T> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|e| {
                Error::Core(llmux_core::Error::io("store task", std::io::Error::other(e)))
            })?
            .map_err(Error::from)
    }

    /// Decides how the first admin comes to exist, if none does.
    pub async fn bootstrap(&self, init: Option<InitUser>) -> Result<Bootstrap> {
        let users = self.db(|s| s.count_users()).await?;
        if users > 0 {
            let _ = std::fs::remove_file(&self.setup_file);
            return Ok(Bootstrap::Ready { users });
        }
        if let Some(mut init) = init {
            init.username = new_username(&init.username)?;
            password::check_new(&init.passphrase)?;
            let record = UserRecord {
                username: init.username.clone(),
                name: init
                    .name
                    .clone()
                    .filter(|n| !n.trim().is_empty())
                    .unwrap_or(init.username.clone()),
                passphrase_hash: self.hash(init.passphrase.clone()).await?,
                admin: true,
                created_at: now_ms(),
                updated_at: now_ms(),
                roots: Vec::new(),
                max_sessions: None,
                unix_account: None,
                max_session_memory_mb: None,
            };
            self.db(move |s| s.insert_first_user(&record)).await?;
            self.end_setup();
            self.audit("local", "user_created", &init.username, "from LLMUX_INIT_USERNAME").await;
            return Ok(Bootstrap::CreatedFromEnv { username: init.username });
        }
        let token = secrets::random_hex(16);
        *self.setup.lock().expect("setup lock") = Some(Pending {
            hash: secrets::sha256_hex(&token),
            expires: Instant::now() + SETUP_TTL,
        });
        llmux_core::paths::write_private(&self.setup_file, format!("{token}\n").as_bytes())?;
        Ok(Bootstrap::Setup { token, file: self.setup_file.clone() })
    }

    /// Whether `/setup` can still create the first admin.
    pub fn setup_pending(&self) -> bool {
        self.setup.lock().expect("setup lock").as_ref().is_some_and(|p| p.expires > Instant::now())
    }

    /// Creates the first admin with the setup token and signs the browser in.
    pub async fn setup(&self, req: SetupRequest, user_agent: &str) -> Result<Login> {
        let valid = {
            let setup = self.setup.lock().expect("setup lock");
            setup.as_ref().is_some_and(|p| {
                p.expires > Instant::now() && verify_secret(req.setup_token.trim(), &p.hash)
            })
        };
        if !valid {
            return Err(Error::Unauthenticated("invalid or expired setup token".into()));
        }
        let username = new_username(&req.username)?;
        let name = validate_name(req.name.as_deref().unwrap_or(&req.username))?;
        password::check_new(&req.passphrase)?;
        let record = UserRecord {
            username,
            name,
            passphrase_hash: self.hash(req.passphrase).await?,
            admin: true,
            created_at: now_ms(),
            updated_at: now_ms(),
            roots: Vec::new(),
            max_sessions: None,
            unix_account: None,
            max_session_memory_mb: None,
        };
        let rec = record.clone();
        if !self.db(move |s| s.insert_first_user(&rec)).await? {
            return Err(Error::Conflict("setup is already complete; sign in instead".into()));
        }
        self.end_setup();
        self.audit(&record.username, "setup", &record.username, "first admin created").await;
        let cookie =
            self.new_browser_session(&record.username, user_agent, TokenScope::Admin, None).await?;
        let device_cookie = Some(self.new_device(&record.username).await?);
        Ok(Login {
            user: self.user_view(&record),
            cookie: Some(cookie),
            token: None,
            device_cookie,
        })
    }

    /// Hashes a new passphrase in the trusted lane of the hashing pool (callers proved who
    /// they are first).
    pub(crate) async fn hash(&self, passphrase: String) -> Result<String> {
        Ok(self.hashes.run(Lane::Trusted, move |m| password::hash_in(m, &passphrase)).await?)
    }

    /// Verifies `passphrase` against `hash` in the trusted lane.
    pub(crate) async fn verify(&self, passphrase: String, hash: String) -> Result<bool> {
        let verify =
            move |m: &mut password::Memory| password::verify_in(m, &passphrase, Some(&hash));
        Ok(self.hashes.run(Lane::Trusted, verify).await?)
    }

    /// Forgets the setup token (a user now exists).
    pub(crate) fn end_setup(&self) {
        *self.setup.lock().expect("setup lock") = None;
        let _ = std::fs::remove_file(&self.setup_file);
    }

    /// Starts a browser session with `scope`, ending no later than `limit` (the end of what
    /// made it, if that ends).
    pub(crate) async fn new_browser_session(
        &self,
        username: &str,
        user_agent: &str,
        scope: TokenScope,
        limit: Option<i64>,
    ) -> Result<String> {
        let secret = secrets::new_cookie();
        let now = now_ms();
        let lifetime_end = now + SESSION_LIFETIME.as_millis() as i64;
        let record = BrowserSessionRecord {
            id: secret.id.clone(),
            username: username.to_owned(),
            secret_hash: secret.hash,
            user_agent: user_agent.chars().take(200).collect(),
            created_at: now,
            last_seen_at: now,
            expires_at: limit.map_or(lifetime_end, |l| l.min(lifetime_end)),
            scope: scope.as_str().to_owned(),
            limit_expires_at: limit,
        };
        self.db(move |s| {
            s.purge_browser_sessions(now)?;
            s.insert_browser_session(&record)
        })
        .await?;
        Ok(secret.value)
    }

    /// Mints a token for `username`; the audit log names `actor` (who asked: `local`, an admin,
    /// the user signing in) as doing it and the owner as its target.
    pub(crate) async fn mint_token(
        &self,
        actor: &str,
        username: &str,
        name: &str,
        scope: TokenScope,
        expires_at: Option<i64>,
    ) -> Result<(String, TokenView)> {
        let secret = secrets::new_token();
        let record = TokenRecord {
            id: secret.id,
            username: username.to_owned(),
            name: name.to_owned(),
            scope: scope.as_str().to_owned(),
            secret_hash: secret.hash,
            created_at: now_ms(),
            expires_at,
            last_used_at: None,
            imported_from: None,
        };
        let rec = record.clone();
        self.db(move |s| s.insert_token(&rec)).await?;
        let detail = format!("token {} {name:?} ({})", record.id, scope.as_str());
        self.audit(actor, "token_created", username, &detail).await;
        Ok((secret.value, token_view(&record)))
    }

    /// Authenticates an `Authorization: Bearer` value.
    pub async fn authenticate_token(&self, value: &str) -> Result<Principal> {
        let invalid = || Error::Unauthenticated("invalid token".into());
        let value = value.trim();
        // Ours (`llmux_<hex id>_<secret>`), or one imported from llmux 0.41 (`sas_<id>.<secret>`,
        // kept under the id `sas_<id>`): the two id forms cannot meet.
        let (id, secret, imported) = match parse_token(value) {
            Some((id, secret)) => (id, secret, false),
            None => {
                let (id, secret) = crate::legacy::parse_token(value).ok_or_else(invalid)?;
                (id, secret, true)
            }
        };
        let key = id.to_owned();
        let token = self.db(move |s| s.get_token(&key)).await?.ok_or_else(invalid)?;
        if !verify_secret(secret, &token.secret_hash) || token.imported_from.is_some() != imported {
            return Err(invalid());
        }
        let now = now_ms();
        if token.expires_at.is_some_and(|e| e <= now) {
            return Err(Error::Unauthenticated("token expired".into()));
        }
        let owner = token.username.clone();
        let user = self.db(move |s| s.get_user(&owner)).await?.ok_or_else(invalid)?;
        if token.last_used_at.is_none_or(|t| now - t >= TOUCH_EVERY_MS) {
            let id = token.id.clone();
            let _ = self.db(move |s| s.touch_token(&id, now)).await;
        }
        let scope = TokenScope::parse(&token.scope).unwrap_or(TokenScope::ReadOnly);
        Ok(Principal::User(UserPrincipal {
            username: user.username,
            name: user.name,
            admin: user.admin,
            via: Via::Token { id: token.id, scope },
            limit: token.expires_at,
            on_behalf_of: None,
            relayed_by: None,
        }))
    }

    /// Authenticates the `llmux_session` cookie.
    pub async fn authenticate_cookie(&self, value: &str) -> Result<Principal> {
        let invalid = || Error::Unauthenticated("your sign-in has ended; sign in again".into());
        let (id, secret) = parse_cookie(value.trim()).ok_or_else(invalid)?;
        let key = id.to_owned();
        let session = self.db(move |s| s.get_browser_session(&key)).await?.ok_or_else(invalid)?;
        if !verify_secret(secret, &session.secret_hash) {
            return Err(invalid());
        }
        let now = now_ms();
        if session.expires_at <= now || now - session.last_seen_at > SESSION_IDLE.as_millis() as i64
        {
            let id = session.id.clone();
            let _ = self.db(move |s| s.delete_browser_session(&id)).await;
            return Err(invalid());
        }
        let owner = session.username.clone();
        let user = self.db(move |s| s.get_user(&owner)).await?.ok_or_else(invalid)?;
        if now - session.last_seen_at >= TOUCH_EVERY_MS {
            let id = session.id.clone();
            let _ = self.db(move |s| s.touch_browser_session(&id, now)).await;
        }
        let scope = TokenScope::parse(&session.scope).unwrap_or(TokenScope::ReadOnly);
        Ok(Principal::User(UserPrincipal {
            username: user.username,
            name: user.name,
            admin: user.admin,
            via: Via::Cookie { session_id: session.id, scope },
            limit: session.limit_expires_at,
            on_behalf_of: None,
            relayed_by: None,
        }))
    }

    /// The llmux user whose mapped Unix account runs as `uid` (a system daemon's users'
    /// socket), as a principal with that user's full rights; `None` when no user maps to it.
    pub async fn principal_for_uid(&self, uid: u32) -> Result<Option<Principal>> {
        let account =
            tokio::task::spawn_blocking(move || llmux_core::sandbox::Account::lookup_uid(uid))
                .await
                .map_err(|e| Error::Invalid(format!("cannot look the account up: {e}")))??;
        let Some(account) = account.filter(|a| a.check_mappable().is_ok()) else {
            return Ok(None);
        };
        let users = self.db(|s| s.list_users()).await?;
        let found = users.into_iter().find(|u| u.unix_account.as_deref() == Some(&account.name));
        Ok(found.map(|u| {
            Principal::User(UserPrincipal {
                username: u.username,
                name: u.name,
                admin: u.admin,
                via: Via::Unix { uid },
                limit: None,
                on_behalf_of: None,
                relayed_by: None,
            })
        }))
    }

    /// Ends the credential the caller used (browser session or token).
    pub async fn logout(&self, principal: &Principal) -> Result<()> {
        let Principal::User(user) = principal else { return Ok(()) };
        match &user.via {
            Via::Cookie { session_id, .. } => {
                let id = session_id.clone();
                self.db(move |s| s.delete_browser_session(&id)).await?;
                self.revoke(Revocation::BrowserSession(session_id.clone()));
            }
            Via::Token { id, .. } => {
                let key = id.clone();
                self.db(move |s| s.delete_token(&key)).await?;
                self.revoke(Revocation::Token(id.clone()));
                self.audit(&user.username, "token_revoked", id, "logout").await;
            }
            // Nothing to end: the kernel vouches for each connection.
            Via::Unix { .. } => return Ok(()),
        }
        self.audit(&user.username, "logout", &user.username, "").await;
        Ok(())
    }

    /// Long-lived connections subscribe here and close when their credential is revoked.
    pub fn subscribe(&self) -> broadcast::Receiver<Revocation> {
        self.revocations.subscribe()
    }

    pub(crate) fn revoke(&self, revocation: Revocation) {
        let _ = self.revocations.send(revocation);
    }

    /// Appends an audit event; a failure to write it is logged, never fatal.
    pub async fn audit(&self, actor: &str, action: &str, target: &str, detail: &str) {
        let record = AuditRecord {
            id: 0,
            ts: now_ms(),
            actor: actor.to_owned(),
            action: action.to_owned(),
            target: target.to_owned(),
            detail: detail.to_owned(),
        };
        if let Err(e) = self.db(move |s| s.insert_audit(&record)).await {
            tracing::error!(error = %e, "cannot write the audit log");
        }
    }

    /// The newest audit events, oldest first.
    pub async fn list_audit(&self, limit: u32) -> Result<Vec<llmux_api::AuditEvent>> {
        let records = self.db(move |s| s.list_audit(limit)).await?;
        Ok(records
            .into_iter()
            .map(|a| llmux_api::AuditEvent {
                id: a.id,
                ts: rfc3339_ms(a.ts),
                actor: a.actor,
                action: a.action,
                target: a.target,
                detail: a.detail,
            })
            .collect())
    }
}

/// `^[a-z0-9_-]{1,32}$`.
/// A new account's username as typed: trimmed and lower-cased, as sign-in reads it, so a name
/// that signs in is a name that can be created (`Alice` becomes `alice`), then checked.
pub(crate) fn new_username(raw: &str) -> Result<String> {
    let name = raw.trim().to_ascii_lowercase();
    validate_username(&name).map_err(|_| {
        Error::Invalid(format!(
            "invalid username {raw:?}: use 1-32 letters, digits, '_' or '-' (letters are \
             stored lower-case)"
        ))
    })?;
    Ok(name)
}

/// A username: 1-32 lower-case letters, digits, `_` or `-`.
pub fn validate_username(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 32
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "invalid username {name:?}: use 1-32 lower-case letters, digits, '_' or '-'"
        )))
    }
}

/// A display name: trimmed, 1-100 characters, no control characters; returns it trimmed.
pub fn validate_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(Error::Invalid(
            "name must be 1-100 characters without control characters".into(),
        ));
    }
    Ok(name.to_owned())
}

impl AuthService {
    /// A user as the API shows it: with the roots their confined sessions get (granted, or
    /// the default workspace).
    pub(crate) fn user_view(&self, u: &UserRecord) -> UserView {
        UserView {
            username: u.username.clone(),
            name: u.name.clone(),
            admin: u.admin,
            created_at: rfc3339_ms(u.created_at),
            roots: u.granted_roots(&self.paths).iter().map(|p| p.display().to_string()).collect(),
            max_sessions: u.max_sessions,
            unix_account: u.unix_account.clone(),
            max_session_memory_mb: u.max_session_memory_mb,
        }
    }
}

pub(crate) fn token_view(t: &TokenRecord) -> TokenView {
    TokenView {
        id: t.id.clone(),
        username: t.username.clone(),
        name: t.name.clone(),
        scope: TokenScope::parse(&t.scope).unwrap_or(TokenScope::ReadOnly),
        created_at: rfc3339_ms(t.created_at),
        expires_at: t.expires_at.map(rfc3339_ms),
        last_used_at: t.last_used_at.map(rfc3339_ms),
        imported_from: t.imported_from.clone(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use llmux_api::{CreateUserRequest, LoginRequest};

    use super::*;

    async fn service_with_admin() -> (Arc<AuthService>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let auth = AuthService::new(Arc::new(Store::open_in_memory().unwrap()), dir.path());
        let req = CreateUserRequest {
            username: "root".into(),
            name: None,
            passphrase: "long passphrase".into(),
            admin: true,
        };
        auth.create_user(&Principal::LocalOperator, req).await.unwrap();
        (auth, dir)
    }

    #[tokio::test]
    async fn pairing_codes_expire_after_five_minutes_and_work_once() {
        let (auth, _dir) = service_with_admin().await;
        let fresh = auth.create_pairing(&Principal::LocalOperator).await.unwrap();
        let stale = auth.create_pairing(&Principal::LocalOperator).await.unwrap();
        assert_eq!(auth.peek_pairing(&fresh.code).await.unwrap().username, "root");
        assert!(auth.peek_pairing("nope").await.is_err());
        let later = Instant::now() + PAIRING_TTL + Duration::from_secs(1);
        assert!(matches!(
            auth.redeem_pairing_at(&stale.code, "ua", later).await,
            Err(Error::Unauthenticated(_))
        ));
        // expired codes are gone for good, even if the clock were turned back
        assert!(auth.redeem_pairing(&stale.code, "ua").await.is_err());
        let login = auth.redeem_pairing(&fresh.code, "ua").await.unwrap();
        assert!(login.cookie.is_some());
        assert!(auth.redeem_pairing(&fresh.code, "ua").await.is_err(), "single use");
        assert!(fresh.expires_at > llmux_core::time::rfc3339_ms(llmux_core::time::now_ms()));
    }

    #[tokio::test]
    async fn unknown_users_cost_the_same_work_as_wrong_passphrases() {
        let (auth, _dir) = service_with_admin().await;
        let attempt = |user: &str| LoginRequest {
            username: user.into(),
            passphrase: "wrong passphrase".into(),
            device_name: None,
        };
        // warm up the dummy hash
        let _ = auth.login(attempt("ghost0"), &[], "ua").await;
        let time = |user: &'static str| {
            let auth = auth.clone();
            async move {
                let start = Instant::now();
                let _ = auth.login(attempt(user), &[], "ua").await;
                start.elapsed()
            }
        };
        let known = time("root").await;
        let unknown = time("ghost").await;
        // both ran Argon2; a missing user must not answer in a fraction of the time
        assert!(unknown * 3 > known, "unknown {unknown:?} vs known {known:?}");
    }
}
