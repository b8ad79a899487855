//! Fleet hosts on a hub (`/api/hosts`, admins).

use llmux_api::{
    AddHostRequest, EditHostRequest, HostTestResponse, HostView, InstallReport, InstallRequest,
    OkResponse,
};

use crate::{Client, Result, encode_segment};

impl Client {
    /// `GET /api/hosts`.
    pub async fn list_hosts(&self) -> Result<Vec<HostView>> {
        self.get("/api/hosts").await
    }

    /// `POST /api/hosts`.
    pub async fn add_host(&self, req: &AddHostRequest) -> Result<HostView> {
        self.post("/api/hosts", req).await
    }

    /// `PATCH /api/hosts/{name}`.
    pub async fn edit_host(&self, name: &str, req: &EditHostRequest) -> Result<HostView> {
        let path = format!("/api/hosts/{}", encode_segment(name));
        self.call(hyper::Method::PATCH, &path, Some(req)).await
    }

    /// `DELETE /api/hosts/{name}`.
    pub async fn remove_host(&self, name: &str) -> Result<()> {
        self.delete::<OkResponse>(&format!("/api/hosts/{}", encode_segment(name))).await.map(drop)
    }

    /// `POST /api/hosts/{name}/test`.
    pub async fn test_host(&self, name: &str) -> Result<HostTestResponse> {
        self.post(&format!("/api/hosts/{}/test", encode_segment(name)), &()).await
    }

    /// `POST /api/installs`: this hub's llmux put on an SSH target and started there.
    pub async fn install_over_ssh(&self, ssh: &str) -> Result<InstallReport> {
        self.post("/api/installs", &InstallRequest { ssh: ssh.to_owned() }).await
    }

    /// `POST /api/hosts/{name}/upgrade`.
    pub async fn upgrade_host(&self, name: &str) -> Result<InstallReport> {
        self.post(&format!("/api/hosts/{}/upgrade", encode_segment(name)), &()).await
    }
}
