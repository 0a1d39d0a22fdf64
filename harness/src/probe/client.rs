//! The probe's HTTP/1.1 client: one request per connection, to the address
//! given for its scheme and to no other, the URL's host in SNI and Host,
//! nothing followed, every exchange bounded by a timeout.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;

use super::judge::Answer;
use super::load::{ProbeRequest, Scheme};

/// The bundle read for the system's roots when no CA file is given
/// (`SSL_CERT_FILE` overrides it, as for OpenSSL).
const SYSTEM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";
/// A response's content is read up to this size; more is cut off unread.
const BODY_LIMIT: usize = 1 << 20;

/// Why one exchange gave no response to judge.
#[derive(Debug)]
#[non_exhaustive]
pub enum ProbeError {
    /// No address was given for this scheme.
    NoAddress(Scheme),
    /// The TCP connection failed.
    Connect { address: String, source: std::io::Error },
    /// The TLS handshake failed.
    Tls(std::io::Error),
    /// The answer was not an HTTP/1.1 response (or the connection broke).
    Http(hyper::Error),
    /// No complete response within the timeout.
    Timeout(Duration),
}

impl std::fmt::Display for ProbeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProbeError::NoAddress(scheme) => write!(
                f,
                "no address to send {} requests to (give --connect{})",
                scheme.as_str(),
                if *scheme == Scheme::Http { "-http" } else { "" }
            ),
            ProbeError::Connect { address, source } => write!(f, "cannot connect to {address}: {source}"),
            ProbeError::Tls(e) => write!(f, "TLS handshake failed: {e}"),
            ProbeError::Http(e) => write!(f, "no HTTP response: {e}"),
            ProbeError::Timeout(limit) => write!(f, "no complete response within {} ms", limit.as_millis()),
        }
    }
}

impl std::error::Error for ProbeError {}

/// Why the client could not be set up.
#[derive(Debug)]
#[non_exhaustive]
pub enum SetupError {
    /// The CA file cannot be read or holds no certificate.
    CaFile { path: std::path::PathBuf, reason: String },
    /// The probed URL is not `https://host[:port]/...`.
    Url(String),
}

impl std::fmt::Display for SetupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SetupError::CaFile { path, reason } => write!(f, "CA file {}: {reason}", path.display()),
            SetupError::Url(reason) => f.write_str(reason),
        }
    }
}

impl std::error::Error for SetupError {}

/// The probed site's URL, which must be `https://host[:port]/...`.
pub fn parse_base(text: &str) -> Result<url::Url, SetupError> {
    let base = url::Url::parse(text).map_err(|e| SetupError::Url(format!("`{text}` is not a URL: {e}")))?;
    match (base.scheme(), base.host_str()) {
        ("https", Some(_)) => Ok(base),
        _ => Err(SetupError::Url(format!("`{text}` is not an https://host/ URL"))),
    }
}

/// Where and how to probe.
#[derive(Clone)]
pub struct ProbeClient {
    /// The probed site, e.g. `https://site.test/`: its host goes in SNI and Host.
    pub base: url::Url,
    /// Where https requests go (`host:port`).
    pub https_address: Option<String>,
    /// Where http requests go (`host:port`).
    pub http_address: Option<String>,
    pub tls: Arc<rustls::ClientConfig>,
    /// Per exchange: connect, handshake, response head and content.
    pub timeout: Duration,
}

impl ProbeClient {
    /// The URL request `request` is for.
    pub fn url_of(&self, request: &ProbeRequest) -> url::Url {
        let mut url = self.base.clone();
        // Both schemes are special, so the change always succeeds; http
        // goes to its default port (where it listens is `http_address`).
        let _ = url.set_scheme(request.scheme.as_str());
        if request.scheme == Scheme::Http {
            let _ = url.set_port(None);
        }
        let (path, query) = match request.path.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (request.path.as_str(), None),
        };
        url.set_path(path);
        url.set_query(query);
        url
    }

    /// Send `request` (with `extra` header fields) and read the whole response.
    pub async fn send(&self, request: &ProbeRequest, extra: &[(String, String)]) -> Result<Answer, ProbeError> {
        match tokio::time::timeout(self.timeout, self.exchange(request, extra)).await {
            Ok(result) => result,
            Err(_) => Err(ProbeError::Timeout(self.timeout)),
        }
    }

    async fn exchange(&self, request: &ProbeRequest, extra: &[(String, String)]) -> Result<Answer, ProbeError> {
        let address = match request.scheme {
            Scheme::Https => self.https_address.as_ref(),
            Scheme::Http => self.http_address.as_ref(),
        }
        .ok_or(ProbeError::NoAddress(request.scheme))?;
        let tcp = TcpStream::connect(address)
            .await
            .map_err(|source| ProbeError::Connect {
                address: address.clone(),
                source,
            })?;
        let url = self.url_of(request);
        let host = url.host_str().unwrap_or_default().to_owned();
        let authority = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.clone(),
        };
        let wire = build(request, &authority, extra);
        match request.scheme {
            Scheme::Http => round_trip(TokioIo::new(tcp), wire).await,
            Scheme::Https => {
                let name = ServerName::try_from(host)
                    .map_err(|e| ProbeError::Tls(std::io::Error::new(std::io::ErrorKind::InvalidInput, e)))?;
                let tls = tokio_rustls::TlsConnector::from(self.tls.clone())
                    .connect(name, tcp)
                    .await
                    .map_err(ProbeError::Tls)?;
                round_trip(TokioIo::new(tls), wire).await
            }
        }
    }
}

fn build(request: &ProbeRequest, authority: &str, extra: &[(String, String)]) -> http::Request<Full<Bytes>> {
    let mut builder = http::Request::builder()
        .method(request.method.as_str())
        .uri(request.path.as_str())
        .header(http::header::HOST, authority)
        .header(
            http::header::USER_AGENT,
            concat!("hopcheck-probe/", env!("CARGO_PKG_VERSION")),
        );
    for (name, value) in request.headers.iter().chain(extra) {
        builder = builder.header(name.as_str(), value.as_str());
    }
    // The loader checked method, path and headers; a failure here would be
    // a bug, answered by a request without them rather than a panic.
    builder
        .body(Full::new(Bytes::from(request.body.clone())))
        .unwrap_or_else(|_| http::Request::new(Full::new(Bytes::new())))
}

async fn round_trip<S>(io: TokioIo<S>, request: http::Request<Full<Bytes>>) -> Result<Answer, ProbeError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(ProbeError::Http)?;
    let driver = tokio::spawn(connection);
    let result = async {
        let response = sender.send_request(request).await.map_err(ProbeError::Http)?;
        let (parts, body) = response.into_parts();
        // The content is read to its end (a response that never ends times
        // out) but not kept: no check judges it.
        let _ = Limited::new(body, BODY_LIMIT).collect().await;
        let headers = parts
            .headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        Ok(Answer {
            status: parts.status.as_u16(),
            headers,
        })
    }
    .await;
    driver.abort();
    result
}

/// A client config trusting the certificates of `ca_file`, or the system
/// bundle when none is given (ring provider, ALPN `http/1.1`).
pub fn tls_config(ca_file: Option<&std::path::Path>) -> Result<Arc<rustls::ClientConfig>, SetupError> {
    let system = std::env::var_os("SSL_CERT_FILE").map_or_else(|| SYSTEM_BUNDLE.into(), std::path::PathBuf::from);
    let path = ca_file.map_or(system, std::path::Path::to_path_buf);
    let ca_error = |reason: String| SetupError::CaFile {
        path: path.clone(),
        reason,
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&path)
        .map_err(|e| ca_error(e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| ca_error(e.to_string()))?;
    let mut roots = rustls::RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(ca_error("no usable certificate".to_owned()));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ca_error(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
