//! The outgoing HTTP client for pushes and webhooks: hyper-util's pooled HTTP/1.1 client over
//! rustls (`ring`), the same stack `llmux-client` uses. Roots: the system store, else Mozilla's.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::dns::{GaiResolver, Name};
use hyper_util::rt::TokioExecutor;

/// How long a connection may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The client type.
pub(crate) type HttpClient = Client<HttpsConnector<HttpConnector<Resolver>>, Full<Bytes>>;

/// The system resolver, optionally keeping only public addresses.
#[derive(Debug, Clone)]
pub(crate) struct Resolver {
    system: GaiResolver,
    public_only: bool,
}

impl tower::Service<Name> for Resolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = std::io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.system.poll_ready(cx)
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let found = self.system.call(name);
        let public_only = self.public_only;
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                found.await?.filter(|a| !public_only || is_public(a.ip())).collect();
            if addrs.is_empty() {
                return Err(std::io::Error::other("the host has no public address"));
            }
            Ok(addrs.into_iter())
        })
    }
}

/// Whether `ip` is on the public internet: not loopback, private, link-local, shared
/// (100.64/10, which holds tailnet addresses), documentation, multicast or reserved.
pub(crate) fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (RFC 6598)
        || (a == 198 && (b == 18 || b == 19)) // benchmarking (RFC 2544)
        || (a == 192 && b == 0 && ip.octets()[2] == 0) // IETF protocol assignments
        || a >= 240) // reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local
        || (first & 0xffc0) == 0xfe80 // link-local
        || (first == 0x2001 && ip.segments()[1] == 0x0db8) // documentation
        || (first == 0x0064 && ip.segments()[1] == 0xff9b)) // NAT64 (maps to IPv4 anywhere)
}

/// A client made on its first request: its TLS roots (the system's store, ~100 KB of heap per
/// client) are read then, off the runtime, so a daemon that sends no push and no webhook never
/// holds them (issue 14, daemon memory).
#[derive(Debug)]
pub(crate) struct LazyClient {
    public_only: bool,
    client: tokio::sync::OnceCell<HttpClient>,
}

impl LazyClient {
    /// A client for `http` and `https` URLs; with `public_only`, names resolving only to
    /// non-public addresses cannot be reached (IP literals are for the caller to check).
    pub(crate) fn new(public_only: bool) -> LazyClient {
        LazyClient { public_only, client: tokio::sync::OnceCell::new() }
    }

    async fn get(&self) -> Result<&HttpClient, String> {
        let public_only = self.public_only;
        self.client
            .get_or_try_init(|| async move {
                tokio::task::spawn_blocking(move || client(public_only))
                    .await
                    .map_err(|e| format!("making the HTTP client: {e}"))
            })
            .await
    }
}

fn client(public_only: bool) -> HttpClient {
    let resolver = Resolver { system: GaiResolver::new(), public_only };
    let mut tcp = HttpConnector::new_with_resolver(resolver);
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
    client: &LazyClient,
    req: Request<Full<Bytes>>,
    timeout: Duration,
) -> Result<u16, String> {
    let exchange = async {
        let client = client.get().await?;
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
