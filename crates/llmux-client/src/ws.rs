//! The terminal WebSocket (`/ws/{name}`) over the Unix socket, `ws://` or `wss://`.
//!
//! Credentials go in the `Authorization` header of the upgrade request, never in the URL.
//! A refused upgrade becomes the same [`Error`] a refused REST call would.

use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, UnixStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::{Client, Error, Result, Transport, encode_segment};

/// Any byte stream a WebSocket can run over.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// An open terminal socket.
pub type Terminal = WebSocketStream<Box<dyn Io>>;

/// How to attach.
#[derive(Debug, Clone, Copy)]
pub struct AttachOptions {
    /// Initial columns.
    pub cols: u16,
    /// Initial rows.
    pub rows: u16,
    /// Lines of scrollback to replay first (0 for none).
    pub history: u32,
    /// View only: the daemon attaches read-only and drops input.
    pub read_only: bool,
    /// Accept any TLS certificate (only for `wss://` to a self-signed test server).
    pub insecure: bool,
}

impl Client {
    /// Opens the terminal of session `name`.
    pub async fn attach(&self, name: &str, opts: AttachOptions) -> Result<Terminal> {
        self.attach_with(name, opts, &[]).await
    }

    /// [`Client::attach`] with extra headers on the upgrade request (a fleet hub's
    /// `X-Llmux-On-Behalf-Of` and `X-Llmux-Act-As`).
    pub async fn attach_with(
        &self,
        name: &str,
        opts: AttachOptions,
        headers: &[(&str, &str)],
    ) -> Result<Terminal> {
        let path = format!(
            "/ws/{}?cols={}&rows={}&history={}&readOnly={}",
            encode_segment(name),
            opts.cols,
            opts.rows,
            opts.history,
            opts.read_only
        );
        let (url, stream): (String, Box<dyn Io>) = match &self.transport {
            Transport::Unix(socket) => {
                let stream = UnixStream::connect(socket).await.map_err(|source| {
                    Error::Unreachable { target: socket.display().to_string(), source }
                })?;
                (format!("ws://localhost{path}"), Box::new(stream))
            }
            Transport::Tcp { base, .. } => {
                let unreachable = |source: std::io::Error| Error::Unreachable {
                    target: base.to_string(),
                    source,
                };
                let tcp = tokio::time::timeout(
                    crate::CONNECT_TIMEOUT,
                    TcpStream::connect((base.host().trim_matches(['[', ']']), base.port())),
                )
                .await
                .map_err(|_| unreachable(std::io::ErrorKind::TimedOut.into()))?
                .map_err(unreachable)?;
                let _ = tcp.set_nodelay(true);
                let http_url = base.join(&path);
                if base.is_https() {
                    let config =
                        if opts.insecure { insecure_config() } else { crate::tls_config()? };
                    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
                    let server_name = rustls::pki_types::ServerName::try_from(
                        base.host().trim_matches(['[', ']']).to_owned(),
                    )
                    .map_err(|e| Error::Protocol(format!("bad TLS server name: {e}")))?;
                    let tls = connector.connect(server_name, tcp).await.map_err(unreachable)?;
                    (http_url.replacen("https://", "wss://", 1), Box::new(tls))
                } else {
                    (http_url.replacen("http://", "ws://", 1), Box::new(tcp))
                }
            }
        };
        let mut request =
            url.as_str().into_client_request().map_err(|e| Error::Protocol(e.to_string()))?;
        if let Some(auth) = &self.auth {
            let mut value = HeaderValue::from_bytes(auth.as_bytes())
                .map_err(|e| Error::Protocol(e.to_string()))?;
            value.set_sensitive(true);
            request.headers_mut().insert("authorization", value);
        }
        for (name, value) in headers {
            let name =
                tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(name.as_bytes())
                    .map_err(|e| Error::Protocol(e.to_string()))?;
            let value = HeaderValue::from_str(value).map_err(|e| Error::Protocol(e.to_string()))?;
            request.headers_mut().insert(name, value);
        }
        match tokio_tungstenite::client_async(request, stream).await {
            Ok((ws, _)) => Ok(ws),
            Err(tokio_tungstenite::tungstenite::Error::Http(res)) => {
                let status = res.status();
                let body = res.body().as_deref().unwrap_or_default();
                Err(self.api_error(
                    hyper::StatusCode::from_u16(status.as_u16())
                        .unwrap_or(hyper::StatusCode::BAD_GATEWAY),
                    body,
                ))
            }
            Err(e) => Err(Error::Protocol(format!("the WebSocket handshake failed: {e}"))),
        }
    }
}

/// A TLS config that accepts any certificate: only behind `--insecure`.
fn insecure_config() -> rustls::ClientConfig {
    #[derive(Debug)]
    struct AcceptAnything(Arc<rustls::crypto::CryptoProvider>);

    impl rustls::client::danger::ServerCertVerifier for AcceptAnything {
        fn verify_server_cert(
            &self,
            _end_entity: &rustls::pki_types::CertificateDer<'_>,
            _intermediates: &[rustls::pki_types::CertificateDer<'_>],
            _server_name: &rustls::pki_types::ServerName<'_>,
            _ocsp_response: &[u8],
            _now: rustls::pki_types::UnixTime,
        ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &rustls::pki_types::CertificateDer<'_>,
            dss: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &rustls::pki_types::CertificateDer<'_>,
            dss: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }

        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }

    let provider = crate::provider();
    rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnything(provider)))
        .with_no_client_auth()
}
