//! The outgoing HTTP client for pushes and webhooks: hyper-util's pooled HTTP/1.1 client over
//! rustls (`ring`), the same stack `llmux-client` uses. Roots: the system store, else Mozilla's.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// How long a connection may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The client type.
pub(crate) type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A client for `http` and `https` URLs.
pub(crate) fn client() -> HttpClient {
    let mut tcp = HttpConnector::new();
    tcp.enforce_http(false);
    tcp.set_connect_timeout(Some(CONNECT_TIMEOUT));
    tcp.set_nodelay(true);
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls_config())
        .https_or_http()
        .enable_http1()
        .wrap_connector(tcp);
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .build(connector)
}

fn tls_config() -> rustls::ClientConfig {
    use hyper_rustls::ConfigBuilderExt;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = || {
        rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions")
    };
    let roots = match builder().with_native_roots() {
        Ok(b) => b,
        Err(_) => builder().with_webpki_roots(),
    };
    roots.with_no_client_auth()
}

/// Sends `req` and reads the response status (the body is drained and dropped) within
/// `timeout`. Errors are text for the log (never containing the URL: push endpoints are
/// capabilities).
pub(crate) async fn send(
    client: &HttpClient,
    req: Request<Full<Bytes>>,
    timeout: Duration,
) -> Result<u16, String> {
    let exchange = async {
        let res = client.request(req).await.map_err(|e| error_chain(&e))?;
        let status = res.status().as_u16();
        // Read (a bounded amount of) the body so the connection can be reused.
        let _ = http_body_util::Limited::new(res.into_body(), 64 * 1024).collect().await;
        Ok(status)
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {} s", timeout.as_secs())))
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut parts = vec![err.to_string()];
    let mut next = err.source();
    while let Some(e) = next {
        parts.push(e.to_string());
        next = e.source();
    }
    parts.join(": ")
}
