//! Managing users, tokens and browser sessions. Every method takes the caller and checks what
//! it may do here, so handlers cannot forget.

use llmux_api::{
    BrowserSessionView, CreateTokenRequest, CreateUserRequest, TokenScope, TokenView,
    UpdateUserRequest, UserView,
};
use llmux_core::store::{DeletedUser, UserSessions};
use llmux_core::time::{now_ms, parse_rfc3339_ms, rfc3339_ms};

use super::isolation::{
    check_max_sessions, check_session_memory, require_memory_cgroups, resolve_roots,
};
use super::{AuthService, Revocation, new_username, token_view, validate_name};
use crate::policy::{Action, require};
use crate::store::{AuthStore, TokenRecord, UserRecord};
use crate::{Error, Principal, Result, Via, password};

fn me(principal: &Principal) -> Result<&str> {
    principal
        .username()
        .ok_or_else(|| Error::Invalid("the local operator has no account; use a user name".into()))
}

impl AuthService {
    /// All users (admins).
    pub async fn list_users(&self, p: &Principal) -> Result<Vec<UserView>> {
        require(p, Action::Administer)?;
        Ok(self.db(|s| s.list_users()).await?.iter().map(|u| self.user_view(u)).collect())
    }

    /// Creates a user (admins and the local operator). A non-admin only where the sandbox for
    /// their sessions can run (409 saying why not, and how to enable it).
    pub async fn create_user(&self, p: &Principal, req: CreateUserRequest) -> Result<UserView> {
        require(p, Action::Administer)?;
        let username = new_username(&req.username)?;
        let name = validate_name(req.name.as_deref().unwrap_or(&req.username))?;
        password::check_new(&req.passphrase)?;
        if !req.admin {
            self.require_sandbox().await?;
        }
        let now = now_ms();
        let record = UserRecord {
            username,
            name,
            passphrase_hash: self.hash(req.passphrase).await?,
            admin: req.admin,
            created_at: now,
            updated_at: now,
            roots: Vec::new(),
            max_sessions: None,
            unix_account: None,
            max_session_memory_mb: None,
        };
        let rec = record.clone();
        self.db(move |s| s.insert_user(&rec)).await?;
        self.end_setup();
        let detail = if record.admin { "admin" } else { "" };
        self.audit(&p.actor(), "user_created", &record.username, detail).await;
        Ok(self.user_view(&record))
    }

    /// Changes a user's name, admin flag, passphrase, granted workspace roots or session limit
    /// (admins). Roots are checked and stored resolved (see `isolation::resolve_roots`);
    /// demoting an admin needs the sandbox (409 as for creating a non-admin).
    pub async fn update_user(
        &self,
        p: &Principal,
        username: &str,
        req: UpdateUserRequest,
    ) -> Result<UserView> {
        require(p, Action::Administer)?;
        let key = username.to_owned();
        let mut user = self
            .db(move |s| s.get_user(&key))
            .await?
            .ok_or_else(|| Error::NotFound(format!("no user named {username:?}")))?;
        if let Some(name) = &req.name {
            user.name = validate_name(name)?;
        }
        let mut changes = Vec::new();
        if let Some(admin) = req.admin {
            changes.push(format!("admin={admin}"));
        }
        if let Some(max) = req.max_sessions {
            user.max_sessions = max.map(check_max_sessions).transpose()?;
            changes.push(match max {
                Some(max) => format!("maxSessions={max}"),
                None => "maxSessions=none".to_owned(),
            });
        }
        if let Some(mb) = req.max_session_memory_mb {
            user.max_session_memory_mb = mb.map(check_session_memory).transpose()?;
            if mb.is_some() {
                require_memory_cgroups().await?;
            }
            changes.push(match mb {
                Some(mb) => format!("maxSessionMemoryMb={mb}"),
                None => "maxSessionMemoryMb=none".to_owned(),
            });
        }
        if req.create_unix_account == Some(true) {
            let name = self.create_unix_account(username).await?;
            changes.push(format!("unixAccount={name} (created)"));
            user.unix_account = Some(name);
        }
        if let Some(account) = req.unix_account.clone() {
            changes.push(format!("unixAccount={}", account.as_deref().unwrap_or("none")));
            user.unix_account = match account {
                Some(name) => Some(self.check_unix_account(username, name).await?),
                None => None,
            };
        }
        if let Some(roots) = &req.roots {
            let (roots, paths) = (roots.clone(), self.paths.clone());
            user.roots = tokio::task::spawn_blocking(move || resolve_roots(&roots, &paths))
                .await
                .map_err(|e| Error::Invalid(format!("cannot check the roots: {e}")))??;
            changes.push(if user.roots.is_empty() {
                "roots=default".to_owned()
            } else {
                format!("roots={}", user.roots.join(":"))
            });
        }
        if req.admin == Some(false) && user.admin {
            self.require_sandbox().await?;
        }
        if let Some(admin) = req.admin {
            user.admin = admin;
        }
        let reset = req.passphrase.is_some();
        if let Some(pass) = req.passphrase {
            password::check_new(&pass)?;
            user.passphrase_hash = self.hash(pass).await?;
        }
        user.updated_at = now_ms();
        let rec = user.clone();
        self.db(move |s| s.update_user(&rec)).await?;
        if reset {
            let key = username.to_owned();
            let ended = self
                .db(move |s| {
                    s.delete_user_login_devices(&key)?;
                    s.delete_user_browser_sessions(&key, None)
                })
                .await?;
            ended.into_iter().for_each(|id| self.revoke(Revocation::BrowserSession(id)));
            self.audit(&p.actor(), "passphrase_changed", username, "reset by admin").await;
        }
        if !changes.is_empty() {
            self.audit(&p.actor(), "user_updated", username, &changes.join(", ")).await;
        }
        Ok(self.user_view(&user))
    }

    /// Deletes a user with their tokens, browser sessions, push subscriptions and opt-ins, and
    /// ends or hands over their sessions' records, in one transaction (admins; never
    /// oneself, never the last admin). The caller ends or renames the tmux sessions after.
    pub async fn delete_user(
        &self,
        p: &Principal,
        username: &str,
        sessions: UserSessions,
    ) -> Result<DeletedUser> {
        require(p, Action::Administer)?;
        if p.username() == Some(username) {
            return Err(Error::Conflict("you cannot delete your own account".into()));
        }
        if let UserSessions::Transfer(to) = &sessions
            && to == username
        {
            return Err(Error::Invalid("hand the sessions over to another user".into()));
        }
        let key = username.to_owned();
        let mode = sessions.clone();
        let deleted = self.db(move |s| s.delete_user(&key, &mode)).await?;
        self.revoke(Revocation::User(username.to_owned()));
        for id in &deleted.browser_sessions {
            self.revoke(Revocation::BrowserSession(id.clone()));
        }
        let fate = match &sessions {
            UserSessions::End => format!("{} sessions ended", deleted.ended.len()),
            UserSessions::Transfer(to) => {
                format!("{} sessions handed to {to}", deleted.moved.len())
            }
        };
        let detail = format!("{} tokens revoked, {fate}", deleted.tokens);
        self.audit(&p.actor(), "user_deleted", username, &detail).await;
        Ok(deleted)
    }

    /// Changes the caller's passphrase; ends their other browser sessions.
    pub async fn change_passphrase(&self, p: &Principal, old: String, new: String) -> Result<()> {
        require(p, Action::OwnAccount)?;
        let username = me(p)?.to_owned();
        password::check_new(&new)?;
        let key = username.clone();
        let mut user = self
            .db(move |s| s.get_user(&key))
            .await?
            .ok_or_else(|| Error::Unauthenticated("account no longer exists".into()))?;
        if !self.verify(old, user.passphrase_hash.clone()).await? {
            return Err(Error::Forbidden("the current passphrase is not correct".into()));
        }
        user.passphrase_hash = self.hash(new).await?;
        user.updated_at = now_ms();
        let rec = user.clone();
        self.db(move |s| s.update_user(&rec)).await?;
        let keep = match p {
            Principal::User(u) => match &u.via {
                Via::Cookie { session_id, .. } => Some(session_id.clone()),
                Via::Token { .. } | Via::Unix { .. } => None,
            },
            Principal::LocalOperator => None,
        };
        let key = username.clone();
        // Device cookies go too: a browser that knew the old passphrase is no longer trusted
        // past a lockout (this one gets a new cookie at its next sign-in).
        let ended = self
            .db(move |s| {
                s.delete_user_login_devices(&key)?;
                s.delete_user_browser_sessions(&key, keep.as_deref())
            })
            .await?;
        ended.into_iter().for_each(|id| self.revoke(Revocation::BrowserSession(id)));
        self.audit(&username, "passphrase_changed", &username, "").await;
        Ok(())
    }

    /// Changes the caller's display name.
    pub async fn update_profile(&self, p: &Principal, name: &str) -> Result<UserView> {
        require(p, Action::OwnAccount)?;
        let username = me(p)?.to_owned();
        let name = validate_name(name)?;
        let key = username.clone();
        let mut user = self
            .db(move |s| s.get_user(&key))
            .await?
            .ok_or_else(|| Error::Unauthenticated("account no longer exists".into()))?;
        user.name = name;
        user.updated_at = now_ms();
        let rec = user.clone();
        self.db(move |s| s.update_user(&rec)).await?;
        Ok(self.user_view(&user))
    }

    /// The caller's tokens, or everyone's for admins with `all`.
    pub async fn list_tokens(&self, p: &Principal, all: bool) -> Result<Vec<TokenView>> {
        require(p, Action::ReadSessions)?;
        // The local operator has no tokens of its own: it sees everyone's.
        let filter = match p.username() {
            Some(me) if !(all && p.is_admin()) => Some(me.to_owned()),
            _ => None,
        };
        let tokens = self.db(move |s| s.list_tokens(filter.as_deref())).await?;
        Ok(tokens.iter().map(token_view).collect())
    }

    /// Mints a token for the caller (or, for admins, for `req.username`).
    pub async fn create_token(
        &self,
        p: &Principal,
        req: CreateTokenRequest,
    ) -> Result<(String, TokenView)> {
        require(p, Action::OwnTokens)?;
        let owner = match &req.username {
            Some(other) if Some(other.as_str()) != p.username() => {
                require(p, Action::Administer)?;
                other.clone()
            }
            Some(other) => other.clone(),
            None => me(p)?.to_owned(),
        };
        let key = owner.clone();
        let user = self
            .db(move |s| s.get_user(&key))
            .await?
            .ok_or_else(|| Error::NotFound(format!("no user named {owner:?}")))?;
        let expires_at = match &req.expires_at {
            Some(text) => {
                let at = parse_rfc3339_ms(text).ok_or_else(|| {
                    Error::Invalid(format!("expiresAt {text:?} is not an RFC 3339 time"))
                })?;
                if at <= now_ms() {
                    return Err(Error::Invalid("expiresAt must be in the future".into()));
                }
                Some(at)
            }
            None => None,
        };
        let scope = req.scope.unwrap_or(TokenScope::User);
        if scope == TokenScope::Admin && !(user.admin && p.is_admin()) {
            return Err(Error::Forbidden(
                "only admins can mint admin tokens, and only for admins".into(),
            ));
        }
        if scope == TokenScope::Hub && !(user.admin && p.is_admin()) {
            return Err(Error::Forbidden(
                "only admins can mint hub tokens, and only for admins".into(),
            ));
        }
        if scope == TokenScope::Metrics && !(user.admin && p.is_admin()) {
            return Err(Error::Forbidden(
                "only admins can mint metrics tokens, and only for admins".into(),
            ));
        }
        // Nothing minted with a credential is wider or longer-lived than that credential.
        p.check_mint(scope, expires_at)?;
        let name = match req.name.as_deref().map(str::trim) {
            Some("") => return Err(Error::Invalid("token name must not be blank".into())),
            Some(name) => validate_name(name)?,
            None => format!("{owner}-{}", &rfc3339_ms(now_ms())[..10]),
        };
        self.mint_token(&p.actor(), &owner, &name, scope, expires_at).await
    }

    async fn visible_token(&self, p: &Principal, id: &str) -> Result<TokenRecord> {
        let key = id.to_owned();
        let token = self.db(move |s| s.get_token(&key)).await?;
        match token {
            Some(t) if p.is_admin() || p.username() == Some(t.username.as_str()) => Ok(t),
            _ => Err(Error::NotFound(format!("no token with id {id:?}"))),
        }
    }

    /// Renames a token (its owner or an admin).
    pub async fn rename_token(&self, p: &Principal, id: &str, name: &str) -> Result<TokenView> {
        require(p, Action::OwnTokens)?;
        let mut token = self.visible_token(p, id).await?;
        token.name = validate_name(name)?;
        let (key, name) = (id.to_owned(), token.name.clone());
        self.db(move |s| s.rename_token(&key, &name)).await?;
        Ok(token_view(&token))
    }

    /// Revokes a token (its owner or an admin); its open connections close.
    pub async fn revoke_token(&self, p: &Principal, id: &str) -> Result<()> {
        require(p, Action::OwnTokens)?;
        let token = self.visible_token(p, id).await?;
        let key = id.to_owned();
        self.db(move |s| s.delete_token(&key)).await?;
        self.revoke(Revocation::Token(id.to_owned()));
        self.audit(&p.actor(), "token_revoked", id, &token.username).await;
        Ok(())
    }

    /// Revokes every token of `username` (default: the caller). Returns how many.
    pub async fn revoke_user_tokens(&self, p: &Principal, username: Option<&str>) -> Result<u64> {
        require(p, Action::OwnTokens)?;
        let owner = match username {
            Some(u) if Some(u) != p.username() => {
                require(p, Action::Administer)?;
                u.to_owned()
            }
            Some(u) => u.to_owned(),
            None => me(p)?.to_owned(),
        };
        let key = owner.clone();
        let ids = self.db(move |s| s.delete_user_tokens(&key)).await?;
        for id in &ids {
            self.revoke(Revocation::Token(id.clone()));
        }
        self.audit(&p.actor(), "token_revoked", &owner, &format!("all {} tokens", ids.len())).await;
        Ok(ids.len() as u64)
    }

    /// The caller's browser sessions.
    pub async fn list_browser_sessions(&self, p: &Principal) -> Result<Vec<BrowserSessionView>> {
        require(p, Action::OwnAccount)?;
        let Some(username) = p.username().map(str::to_owned) else {
            return Ok(Vec::new()); // the local operator has no browser sessions
        };
        let current = match p {
            Principal::User(u) => match &u.via {
                Via::Cookie { session_id, .. } => Some(session_id.clone()),
                Via::Token { .. } | Via::Unix { .. } => None,
            },
            Principal::LocalOperator => None,
        };
        let sessions = self.db(move |s| s.list_browser_sessions(&username)).await?;
        Ok(sessions
            .into_iter()
            .map(|b| BrowserSessionView {
                current: current.as_deref() == Some(b.id.as_str()),
                id: b.id,
                created_at: rfc3339_ms(b.created_at),
                last_seen_at: rfc3339_ms(b.last_seen_at),
                user_agent: b.user_agent,
            })
            .collect())
    }

    /// Ends one of the caller's browser sessions.
    pub async fn end_browser_session(&self, p: &Principal, id: &str) -> Result<()> {
        require(p, Action::OwnAccount)?;
        let username = me(p)?.to_owned();
        let key = id.to_owned();
        match self.db(move |s| s.get_browser_session(&key)).await? {
            Some(b) if b.username == username => {}
            _ => return Err(Error::NotFound(format!("no browser session with id {id:?}"))),
        }
        let key = id.to_owned();
        self.db(move |s| s.delete_browser_session(&key)).await?;
        self.revoke(Revocation::BrowserSession(id.to_owned()));
        Ok(())
    }

    /// The username pairing codes and `whoami` use for the local operator: the first admin.
    pub async fn first_admin(&self) -> Result<String> {
        let users = self.db(|s| s.list_users()).await?;
        if users.is_empty() {
            return Err(Error::Conflict(
                "no user exists yet; create one with `llmux user create NAME --admin`".into(),
            ));
        }
        users.into_iter().find(|u| u.admin).map(|u| u.username).ok_or_else(|| {
            Error::Conflict(
                "no user is an admin; make one with `llmux user set-admin NAME true`".into(),
            )
        })
    }
}
