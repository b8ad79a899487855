//! Typed calls for accounts, tokens, pairing and the admin views.

use hyper::Method;
use llmux_api::{
    AuditEvent, ChangePassphraseRequest, CreateTokenRequest, CreateTokenResponse,
    CreateUserRequest, LoginRequest, LoginResponse, LogsResponse, OkResponse, PairingResponse,
    ProfileRequest, RenameTokenRequest, RevokedResponse, SettingsResponse, SetupRequest,
    TokenListResponse, TokenResponse, TokenView, UpdateUserRequest, UserDeletedResponse,
    UserResponse, UserView, WhoamiResponse,
};

use http_body_util::BodyExt;

use crate::{Client, LogStream, Result, encode_segment, with_limit};

impl Client {
    /// `POST /api/setup`: create the first admin with the daemon's one-time setup token.
    pub async fn setup(&self, req: &SetupRequest) -> Result<LoginResponse> {
        self.post("/api/setup", req).await
    }

    /// `POST /api/auth/login`. With `deviceName` set, the response carries a new device token
    /// (`token`, shown once, and `tokenInfo`) instead of a browser-session cookie.
    pub async fn login(&self, req: &LoginRequest) -> Result<LoginResponse> {
        self.post("/api/auth/login", req).await
    }

    /// `POST /api/auth/logout`: revokes the credential this client uses.
    pub async fn logout(&self) -> Result<()> {
        self.post::<OkResponse>("/api/auth/logout", &()).await.map(drop)
    }

    /// `GET /api/auth/whoami`.
    pub async fn whoami(&self) -> Result<WhoamiResponse> {
        self.get("/api/auth/whoami").await
    }

    /// `POST /api/pairing`: a one-time code that signs a browser in as the caller, valid for
    /// at most 5 minutes. Open the server's base URL + `path`.
    pub async fn create_pairing(&self) -> Result<PairingResponse> {
        self.post("/api/pairing", &()).await
    }

    /// `POST /api/account/passphrase`: change the caller's own passphrase.
    pub async fn change_passphrase(&self, req: &ChangePassphraseRequest) -> Result<()> {
        self.post::<OkResponse>("/api/account/passphrase", req).await.map(drop)
    }

    /// `POST /api/account/profile`: change the caller's display name.
    pub async fn update_profile(&self, req: &ProfileRequest) -> Result<UserView> {
        Ok(self.post::<UserResponse>("/api/account/profile", req).await?.user)
    }

    /// `GET /api/admin/users`.
    pub async fn list_users(&self) -> Result<Vec<UserView>> {
        self.get("/api/admin/users").await
    }

    /// `POST /api/admin/users`.
    pub async fn create_user(&self, req: &CreateUserRequest) -> Result<UserView> {
        Ok(self.post::<UserResponse>("/api/admin/users", req).await?.user)
    }

    /// `PATCH /api/admin/users/{username}`.
    pub async fn update_user(&self, username: &str, req: &UpdateUserRequest) -> Result<UserView> {
        let path = format!("/api/admin/users/{}", encode_segment(username));
        Ok(self.call::<UserResponse>(Method::PATCH, &path, Some(req)).await?.user)
    }

    /// `DELETE /api/admin/users/{username}[?sessions=transfer&to=USER]`: deletes the user,
    /// revokes their tokens and ends their sessions, or hands them to `transfer_to`.
    pub async fn delete_user(
        &self,
        username: &str,
        transfer_to: Option<&str>,
    ) -> Result<UserDeletedResponse> {
        let mut path = format!("/api/admin/users/{}", encode_segment(username));
        if let Some(to) = transfer_to {
            path.push_str(&format!("?sessions=transfer&to={}", encode_segment(to)));
        }
        self.delete(&path).await
    }

    /// `GET /api/tokens[?all=true]`: the caller's tokens, or (admins) everyone's.
    pub async fn list_tokens(&self, all: bool) -> Result<Vec<TokenView>> {
        let path = if all { "/api/tokens?all=true" } else { "/api/tokens" };
        Ok(self.get::<TokenListResponse>(path).await?.tokens)
    }

    /// `POST /api/tokens`: the response's `value` is the secret, shown this once.
    pub async fn create_token(&self, req: &CreateTokenRequest) -> Result<CreateTokenResponse> {
        self.post("/api/tokens", req).await
    }

    /// `PATCH /api/tokens/{id}`.
    pub async fn rename_token(&self, id: &str, name: &str) -> Result<TokenView> {
        let path = format!("/api/tokens/{}", encode_segment(id));
        let req = RenameTokenRequest { name: name.to_owned() };
        Ok(self.call::<TokenResponse>(Method::PATCH, &path, Some(&req)).await?.token)
    }

    /// `DELETE /api/tokens/{id}`.
    pub async fn revoke_token(&self, id: &str) -> Result<()> {
        self.delete::<OkResponse>(&format!("/api/tokens/{}", encode_segment(id))).await.map(drop)
    }

    /// `DELETE /api/tokens[?username=U]`: revokes every token of `username` (default: the
    /// caller's own).
    pub async fn revoke_tokens(&self, username: Option<&str>) -> Result<RevokedResponse> {
        let path = match username {
            Some(u) => format!("/api/tokens?username={}", encode_segment(u)),
            None => "/api/tokens".to_owned(),
        };
        self.delete(&path).await
    }

    /// `GET /api/settings`: the effective settings and where each came from (admins).
    pub async fn settings(&self) -> Result<SettingsResponse> {
        self.get("/api/settings").await
    }

    /// `GET /api/logs[?limit=N]`: the daemon's recent log, oldest first.
    pub async fn logs(&self, limit: Option<u32>) -> Result<LogsResponse> {
        self.get(&with_limit("/api/logs", limit)).await
    }

    /// `GET /api/logs/stream`: log entries as the daemon writes them (server-sent events).
    pub async fn log_stream(&self) -> Result<LogStream> {
        let accept = [("accept", "text/event-stream")];
        let res = self.request(Method::GET, "/api/logs/stream", None, &accept).await?;
        if !res.status().is_success() {
            let status = res.status();
            let body = res.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
            return Err(self.api_error(status, &body));
        }
        Ok(LogStream::new(res.into_body()))
    }

    /// `GET /api/audit[?limit=N]`: audit events, as the server orders them.
    pub async fn audit(&self, limit: Option<u32>) -> Result<Vec<AuditEvent>> {
        self.get(&with_limit("/api/audit", limit)).await
    }
}
