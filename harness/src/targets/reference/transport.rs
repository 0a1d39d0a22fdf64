//! How the reference agent reaches the origins: one hyper HTTP/1.1 connection
//! per request, through the forward proxy (absolute-form, CONNECT) or connect-to.

use std::convert::Infallible;
use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited, StreamBody};
use hyper::body::Frame;
use hyper_util::rt::TokioIo;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::request_url::{RequestUrl, Scheme};

/// Largest response body read.
const BODY_LIMIT: usize = 64 << 20;
/// Largest CONNECT response head read.
const CONNECT_HEAD_LIMIT: usize = 16 << 10;

/// How requests reach the origins.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Route {
    /// Through the plan's forward proxy: absolute-form for http, `CONNECT` for https.
    #[default]
    Proxy,
    /// Straight to the plan's `connect_to` address; the logical host travels
    /// in SNI and `Host`.
    ConnectTo,
}

/// Why a request got no response.
#[derive(Debug)]
#[non_exhaustive]
pub enum TransportError {
    /// The plan's settings are unusable (CA file, proxy URL).
    Setup(String),
    /// The request cannot be put on the wire (bad method or field).
    BadRequest(String),
    Connect(std::io::Error),
    /// The proxy refused or garbled the CONNECT.
    Tunnel(String),
    /// The TLS handshake failed (certificate verification included).
    Tls(std::io::Error),
    Http(hyper::Error),
    Body(String),
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransportError::Setup(e) => write!(f, "setup: {e}"),
            TransportError::BadRequest(e) => write!(f, "bad request: {e}"),
            TransportError::Connect(e) => write!(f, "connect: {e}"),
            TransportError::Tunnel(e) => write!(f, "tunnel: {e}"),
            TransportError::Tls(e) => write!(f, "tls: {e}"),
            TransportError::Http(e) => write!(f, "http: {e}"),
            TransportError::Body(e) => write!(f, "response body: {e}"),
        }
    }
}

impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TransportError::Connect(e) | TransportError::Tls(e) => Some(e),
            TransportError::Http(e) => Some(e),
            _ => None,
        }
    }
}

impl TransportError {
    /// Whether the harness, not the exchange, failed: the plan it made is
    /// unusable, or this process ran out of descriptors, memory or socket
    /// buffers (EMFILE, ENFILE, ENOMEM, ENOBUFS). Such a failure says nothing
    /// about the client under test.
    pub fn is_harness_fault(&self) -> bool {
        if matches!(self, TransportError::Setup(_)) {
            return true;
        }
        std::error::Error::source(self).is_some_and(crate::exhaustion::ran_out_of_resources)
    }
}

/// One request as it goes on the wire.
#[derive(Debug)]
pub struct WireRequest<'a> {
    pub method: &'a str,
    pub url: &'a RequestUrl,
    /// Path and query as sent (origin-form).
    pub path_and_query: String,
    /// Userinfo to put in an absolute-form target (`user:pass`, without
    /// `@`); only a mutant sets it.
    pub target_userinfo: Option<String>,
    pub host_header: String,
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
    /// Send the body chunked, from a stream of unknown length.
    pub streamed: bool,
    /// Accept any certificate (and report whether it would have verified).
    pub insecure: bool,
}

/// A response as received.
#[derive(Debug, Clone)]
pub struct WireResponse {
    pub status: u16,
    /// Lowercased names, values decoded lossily.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Over TLS: whether the certificate verified against the plan's CA.
    pub verified: Option<bool>,
}

impl WireResponse {
    /// Values of every field named `name` (lowercase), in order.
    pub fn values(&self, name: &str) -> Vec<String> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

/// Connections for one plan; the TLS configurations are built once.
pub struct Transport {
    route: Route,
    proxy: (String, u16),
    connect_to: SocketAddr,
    strict: Arc<ClientConfig>,
    lenient: Arc<ClientConfig>,
    verifier: Arc<WebPkiServerVerifier>,
}

impl Transport {
    pub fn new(route: Route, proxy: &str, connect_to: SocketAddr, ca_file: &Path) -> Result<Transport, TransportError> {
        let proxy_url = url::Url::parse(proxy).map_err(|e| TransportError::Setup(format!("proxy `{proxy}`: {e}")))?;
        let proxy_host = proxy_url
            .host_str()
            .ok_or_else(|| TransportError::Setup(format!("proxy `{proxy}` has no host")))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let proxy_port = proxy_url.port_or_known_default().unwrap_or(80);

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        let certs = CertificateDer::pem_file_iter(ca_file)
            .map_err(|e| TransportError::Setup(format!("CA file {}: {e}", ca_file.display())))?;
        for cert in certs {
            let cert = cert.map_err(|e| TransportError::Setup(format!("CA file {}: {e}", ca_file.display())))?;
            roots
                .add(cert)
                .map_err(|e| TransportError::Setup(format!("CA certificate: {e}")))?;
        }
        let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .map_err(|e| TransportError::Setup(format!("verifier: {e}")))?;
        let config = |verifier: Arc<dyn ServerCertVerifier>| -> Result<Arc<ClientConfig>, TransportError> {
            let mut config = ClientConfig::builder_with_provider(provider.clone())
                .with_safe_default_protocol_versions()
                .map_err(|e| TransportError::Setup(format!("TLS: {e}")))?
                .dangerous()
                .with_custom_certificate_verifier(verifier)
                .with_no_client_auth();
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            Ok(Arc::new(config))
        };
        let strict = config(verifier.clone())?;
        let lenient = config(Arc::new(AcceptAnyCertificate {
            inner: verifier.clone(),
        }))?;
        Ok(Transport {
            route,
            proxy: (proxy_host, proxy_port),
            connect_to,
            strict,
            lenient,
            verifier,
        })
    }

    /// Make one request on a fresh connection and read the whole response.
    pub async fn send(&self, request: &WireRequest<'_>) -> Result<WireResponse, TransportError> {
        let url = request.url;
        let mut tcp = match self.route {
            Route::Proxy => TcpStream::connect((self.proxy.0.as_str(), self.proxy.1)).await,
            Route::ConnectTo => TcpStream::connect(self.connect_to).await,
        }
        .map_err(TransportError::Connect)?;
        // Headers and body go out in separate writes; never wait for an ACK between them.
        tcp.set_nodelay(true).map_err(TransportError::Connect)?;
        match url.scheme {
            Scheme::Http => {
                let target = match self.route {
                    Route::Proxy => {
                        let userinfo = request
                            .target_userinfo
                            .as_ref()
                            .map(|u| format!("{u}@"))
                            .unwrap_or_default();
                        format!("http://{userinfo}{}{}", url.host_header(), request.path_and_query)
                    }
                    Route::ConnectTo => request.path_and_query.clone(),
                };
                let response = exchange(tcp, request, &target).await?;
                Ok(response)
            }
            Scheme::Https => {
                if self.route == Route::Proxy {
                    let port = url.port_or_default();
                    open_tunnel(&mut tcp, &format!("{}:{port}", url.host)).await?;
                }
                let (tls, verified) = self.handshake(tcp, &url.host, request.insecure).await?;
                let mut response = exchange(tls, request, &request.path_and_query).await?;
                response.verified = Some(verified);
                Ok(response)
            }
        }
    }

    /// TLS with SNI = host (rustls sends none for IP literals).
    async fn handshake(
        &self,
        tcp: TcpStream,
        host: &str,
        insecure: bool,
    ) -> Result<(tokio_rustls::client::TlsStream<TcpStream>, bool), TransportError> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let name = ServerName::try_from(bare.to_owned())
            .map_err(|e| TransportError::BadRequest(format!("server name `{bare}`: {e}")))?;
        let config = if insecure { &self.lenient } else { &self.strict };
        let tls = TlsConnector::from(config.clone())
            .connect(name.clone(), tcp)
            .await
            .map_err(TransportError::Tls)?;
        let verified = !insecure || {
            let (_, connection) = tls.get_ref();
            match connection.peer_certificates() {
                Some([leaf, intermediates @ ..]) => self
                    .verifier
                    .verify_server_cert(leaf, intermediates, &name, &[], UnixTime::now())
                    .is_ok(),
                _ => false,
            }
        };
        Ok((tls, verified))
    }
}

/// `CONNECT authority` on the proxy connection; returns once the tunnel is open.
async fn open_tunnel(tcp: &mut TcpStream, authority: &str) -> Result<(), TransportError> {
    let head = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n");
    tcp.write_all(head.as_bytes()).await.map_err(TransportError::Connect)?;
    // Read byte by byte: nothing after the head may be taken from the tunnel.
    let mut answer = Vec::new();
    while !answer.ends_with(b"\r\n\r\n") {
        if answer.len() > CONNECT_HEAD_LIMIT {
            return Err(TransportError::Tunnel("CONNECT answer too long".to_owned()));
        }
        let byte = tcp.read_u8().await.map_err(TransportError::Connect)?;
        answer.push(byte);
    }
    let text = String::from_utf8_lossy(&answer);
    let status_line = text.lines().next().unwrap_or_default();
    let status = status_line.split(' ').nth(1).unwrap_or_default();
    if status.len() == 3 && status.starts_with('2') {
        Ok(())
    } else {
        Err(TransportError::Tunnel(format!("proxy answered `{status_line}`")))
    }
}

/// One HTTP/1.1 exchange on `io`.
async fn exchange<IO>(io: IO, request: &WireRequest<'_>, target: &str) -> Result<WireResponse, TransportError>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let http_request = build(request, target)?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(TransportError::Http)?;
    tokio::spawn(async move {
        // The connection ends when the sender is dropped or the peer closes;
        // its errors surface through `send_request`.
        let _ = connection.await;
    });
    let response = sender.send_request(http_request).await.map_err(TransportError::Http)?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = Limited::new(response.into_body(), BODY_LIMIT)
        .collect()
        .await
        .map_err(|e| TransportError::Body(e.to_string()))?
        .to_bytes()
        .to_vec();
    Ok(WireResponse {
        status,
        headers,
        body,
        verified: None,
    })
}

fn build(request: &WireRequest<'_>, target: &str) -> Result<http::Request<BoxBody<Bytes, Infallible>>, TransportError> {
    let bad = |e: &dyn fmt::Display| TransportError::BadRequest(e.to_string());
    let method = http::Method::from_bytes(request.method.as_bytes()).map_err(|e| bad(&e))?;
    let mut builder = http::Request::builder()
        .method(method.clone())
        .uri(target)
        .header(http::header::HOST, &request.host_header);
    for (name, value) in request.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let bytes = Bytes::copy_from_slice(request.body);
    let body = if request.streamed {
        // A stream of unknown length: hyper frames it chunked.
        let frames = futures::stream::iter([Ok::<_, Infallible>(Frame::data(bytes))]);
        StreamBody::new(frames).boxed()
    } else {
        let carries_body = !request.body.is_empty() || matches!(method.as_str(), "POST" | "PUT" | "PATCH");
        if carries_body {
            builder = builder.header(http::header::CONTENT_LENGTH, request.body.len());
        }
        Full::new(bytes).boxed()
    };
    builder.body(body).map_err(|e| bad(&e))
}

/// Accepts any certificate but still checks handshake signatures; whether the
/// certificate would have verified is asked afterwards.
#[derive(Debug)]
struct AcceptAnyCertificate {
    inner: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_out_of_descriptors_or_memory_is_the_harness_s_fault() {
        for errno in [libc::EMFILE, libc::ENFILE, libc::ENOMEM, libc::ENOBUFS] {
            let err = TransportError::Connect(std::io::Error::from_raw_os_error(errno));
            assert!(err.is_harness_fault(), "{err}");
        }
        let wrapped = std::io::Error::other(std::io::Error::from_raw_os_error(libc::EMFILE));
        assert!(TransportError::Tls(wrapped).is_harness_fault());
        assert!(TransportError::Setup("CA file: gone".to_owned()).is_harness_fault());
    }

    #[test]
    fn a_refused_or_garbled_exchange_is_the_client_s_to_report() {
        let refused = TransportError::Connect(std::io::Error::from_raw_os_error(libc::ECONNREFUSED));
        assert!(!refused.is_harness_fault());
        assert!(!TransportError::Tunnel("proxy answered `HTTP/1.1 502`".to_owned()).is_harness_fault());
        assert!(!TransportError::Tls(std::io::Error::other("bad certificate")).is_harness_fault());
        assert!(!TransportError::Body("length limit exceeded".to_owned()).is_harness_fault());
    }
}
