//! Test-only clients for origin tests: hyper's client connection over TCP, a
//! CONNECT tunnel or TLS, plus a raw socket for checking bytes on the wire.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::TestCa;

/// One CA for every test of the process, as one CA serves a whole run.
pub(crate) fn ca() -> Arc<TestCa> {
    static CA: OnceLock<Arc<TestCa>> = OnceLock::new();
    CA.get_or_init(|| Arc::new(TestCa::new().expect("test CA"))).clone()
}

/// A response as the client saw it.
#[derive(Debug)]
pub(crate) struct Seen {
    pub status: u16,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn values(&self, name: &str) -> Vec<&[u8]> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
            .collect()
    }
}

/// An HTTP/1.1 client connection (keep-alive) over any stream.
pub(crate) struct Client {
    sender: http1::SendRequest<Full<Bytes>>,
}

impl Client {
    pub async fn over<I>(io: I) -> Client
    where
        I: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        let (sender, conn) = http1::handshake(TokioIo::new(io)).await.expect("client handshake");
        tokio::spawn(conn);
        Client { sender }
    }

    pub async fn tcp(addr: SocketAddr) -> Client {
        Client::over(TcpStream::connect(addr).await.expect("connect")).await
    }

    /// Send a request; `Err` when the connection broke.
    pub async fn try_send(&mut self, req: Request<Full<Bytes>>) -> Result<Seen, hyper::Error> {
        let res = self.sender.send_request(req).await?;
        let status = res.status().as_u16();
        let headers = res
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
            .collect();
        let body = res.into_body().collect().await?.to_bytes().to_vec();
        Ok(Seen { status, headers, body })
    }

    pub async fn send(&mut self, req: Request<Full<Bytes>>) -> Seen {
        self.try_send(req).await.expect("response")
    }
}

/// A request with `target` as the request-target and, when given, a `Host` field.
pub(crate) fn request(method: &str, target: &str, host: Option<&str>, body: &[u8]) -> Request<Full<Bytes>> {
    let mut builder = Request::builder().method(method).uri(target);
    if let Some(host) = host {
        builder = builder.header("Host", host);
    }
    builder
        .body(Full::new(Bytes::copy_from_slice(body)))
        .expect("test request")
}

pub(crate) fn get(target: &str, host: &str) -> Request<Full<Bytes>> {
    request("GET", target, Some(host), b"")
}

/// Open a TCP connection and ask for `CONNECT authority`; the stream is the tunnel.
pub(crate) async fn tunnel(addr: SocketAddr, authority: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let ask = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n");
    stream.write_all(ask.as_bytes()).await.expect("write CONNECT");
    // Byte by byte, so nothing after the head is taken from the tunnel.
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(stream.read_u8().await.expect("CONNECT answer"));
    }
    assert!(head.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&head));
    stream
}

/// A TLS client handshake trusting only the test CA; `name` is a DNS name
/// (sent as SNI) or an IP literal (no SNI).
pub(crate) async fn tls<I>(io: I, name: &str) -> std::io::Result<TlsStream<I>>
where
    I: AsyncRead + AsyncWrite + Unpin,
{
    let name = ServerName::try_from(name.to_owned()).expect("server name");
    TlsConnector::from(ca().client_config()).connect(name, io).await
}

/// Send raw bytes and read everything until the origin closes.
pub(crate) async fn raw(addr: SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(bytes).await.expect("write");
    let mut seen = Vec::new();
    stream.read_to_end(&mut seen).await.expect("read");
    seen
}
