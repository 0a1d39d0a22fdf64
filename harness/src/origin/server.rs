//! The per-case listener: sniffing, TLS, proxying, recording.
//! One socket on 127.0.0.1 serves every virtual host of a case and records each request as a hop.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{header, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::LazyConfigAcceptor;

use super::script::{default_port, split_authority, Logical, Script};
use super::{normalise_host, Arrival, Hop, TestCa};
use crate::case::{CertKind, HostConfig, OriginRule};

/// Guards an origin holds itself to.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// At most this many hops are answered; later requests get 508 and are
    /// not recorded, and [`Origin::hop_cap_reached`] turns true.
    pub max_hops: usize,
    /// Request bodies are recorded up to this many bytes.
    pub body_cap: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_hops: crate::case::validate::MAX_HOPS,
            body_cap: 4 << 20,
        }
    }
}

/// A running origin for one case. Dropping it stops the listener and every
/// connection it accepted.
pub struct Origin {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
}

impl Origin {
    /// Bind `127.0.0.1:0` and serve the script until dropped.
    ///
    /// A script that cannot be served (a rule URL that is not absolute http or
    /// https, a header value with CR or LF, bad base64, a 1xx status) is an
    /// `InvalidInput` error naming the rule.
    pub async fn start(
        rules: Vec<OriginRule>,
        hosts: Vec<HostConfig>,
        ca: Arc<TestCa>,
        limits: Limits,
    ) -> io::Result<Origin> {
        let script = Script::new(&rules)?;
        let certs = hosts
            .into_iter()
            .map(|host| (normalise_host(&host.name), host.cert))
            .collect();
        let listener = TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            script,
            certs,
            ca,
            limits,
            record: Mutex::new(Record::default()),
        });
        let accept = tokio::spawn(accept_loop(listener, shared.clone()));
        Ok(Origin { addr, shared, accept })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The listener as a forward proxy URL, `http://127.0.0.1:PORT`.
    pub fn proxy_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every hop recorded so far, in arrival order.
    pub fn hops(&self) -> Vec<Hop> {
        let record = self.shared.record();
        let mut hops = record.hops.clone();
        // A hop is stored when answered; concurrent connections can finish out of order.
        hops.sort_by_key(|hop| hop.index);
        // Connections still silent come last: nothing followed them.
        for (connection, tunnel) in &record.silent {
            hops.push(silent_hop(hops.len() + 1, *connection, tunnel.as_ref()));
        }
        hops
    }

    /// The client asked for more hops than [`Limits::max_hops`].
    pub fn hop_cap_reached(&self) -> bool {
        self.shared.record().cap_reached
    }
}

impl Drop for Origin {
    fn drop(&mut self) {
        // The accept task owns the JoinSet of connections: dropping it aborts them all.
        self.accept.abort();
    }
}

impl std::fmt::Debug for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Origin")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// What every connection of one origin shares.
struct Shared {
    script: Script,
    /// Certificate kind per normalised host name; absent means valid.
    certs: HashMap<String, CertKind>,
    ca: Arc<TestCa>,
    limits: Limits,
    record: Mutex<Record>,
}

#[derive(Default)]
struct Record {
    /// Hop indexes handed out so far (a hop is numbered when its head arrives).
    numbered: usize,
    hops: Vec<Hop>,
    cap_reached: bool,
    /// Connections that have sent nothing for [`SILENT_AFTER`], by id.
    silent: std::collections::BTreeMap<u64, Option<Tunnel>>,
}

impl Shared {
    fn record(&self) -> MutexGuard<'_, Record> {
        // A panic elsewhere cannot leave a Record half-written in a way that matters.
        self.record.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The next hop index, or `None` once the cap is reached.
    fn number_hop(&self) -> Option<usize> {
        let mut record = self.record();
        if record.numbered >= self.limits.max_hops {
            record.cap_reached = true;
            return None;
        }
        record.numbered += 1;
        Some(record.numbered)
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    let mut next_id = 0u64;
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    // Small answers must not wait for Nagle.
                    let _ = stream.set_nodelay(true);
                    next_id += 1;
                    connections.spawn(serve(shared.clone(), Box::new(stream), Conn::new(next_id)));
                }
                // Transient (aborted handshake, descriptors exhausted): keep accepting.
                Err(_) => tokio::task::yield_now().await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// Byte streams a connection can be served over (TCP, TLS, a CONNECT tunnel).
trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}
type BoxIo = Box<dyn Io>;

/// What a connection knows about itself.
#[derive(Debug, Clone)]
struct Conn {
    id: u64,
    /// The `CONNECT` target when serving inside a tunnel.
    tunnel: Option<Tunnel>,
    tls: bool,
    sni: Option<String>,
}

#[derive(Debug, Clone)]
struct Tunnel {
    host: String,
    port: u16,
}

impl Conn {
    fn new(id: u64) -> Conn {
        Conn {
            id,
            tunnel: None,
            tls: false,
            sni: None,
        }
    }
}

/// A `CONNECT` accepted on a connection, waiting for hyper to hand the stream over.
type PendingTunnel = Arc<Mutex<Option<(OnUpgrade, Tunnel)>>>;

/// Sniff, maybe TLS, serve HTTP/1.1; after a `CONNECT`, do it all again inside
/// the tunnel. Boxed because it recurses.
fn serve(shared: Arc<Shared>, io: BoxIo, conn: Conn) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        let Ok((first, io)) = sniff(&shared, io, &conn).await else {
            return;
        };
        let (io, conn) = if first == 0x16 {
            match accept_tls(&shared, io, conn).await {
                Some(accepted) => accepted,
                // The client gave up on the handshake (e.g. it rejected the certificate).
                None => return,
            }
        } else {
            (io, conn)
        };
        let conn = Arc::new(conn);
        let pending: PendingTunnel = Arc::default();
        let service = service_fn({
            let (shared, conn, pending) = (shared.clone(), conn.clone(), pending.clone());
            move |req| handle(shared.clone(), conn.clone(), pending.clone(), req)
        });
        let served = http1::Builder::new()
            .title_case_headers(true)
            .serve_connection(TokioIo::new(io), service)
            .with_upgrades()
            .await;
        if served.is_err() {
            return;
        }
        let tunnel = pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
        let Some((upgrade, tunnel)) = tunnel else {
            return;
        };
        let Ok(upgraded) = upgrade.await else {
            return;
        };
        let inner = Conn {
            id: conn.id,
            tunnel: Some(tunnel),
            tls: false,
            sni: None,
        };
        serve(shared, Box::new(TokioIo::new(upgraded)), inner).await;
    })
}

/// How long a new connection may stay silent before it counts as one where
/// the client waits for the server to speak first (FTP after an `ftp:`
/// Location, say), and how long it is then kept open in case bytes still come
/// (a slow client on a loaded machine), before it is closed.
const SILENT_AFTER: Duration = Duration::from_secs(2);
const SILENT_CLOSE_AFTER: Duration = Duration::from_secs(8);

/// Read the first byte (0x16 opens a TLS handshake) and give back a stream that
/// still yields it: a tunnel's stream cannot be peeked. A connection that
/// stays silent is listed in [`Record::silent`] while it does.
async fn sniff(shared: &Shared, mut io: BoxIo, conn: &Conn) -> io::Result<(u8, BoxIo)> {
    let mut first = [0u8; 1];
    // `read` is cancel-safe: a timed-out read loses no byte.
    let read = match tokio::time::timeout(SILENT_AFTER, io.read(&mut first)).await {
        Ok(read) => read?,
        Err(_) => {
            shared.record().silent.insert(conn.id, conn.tunnel.clone());
            let read = tokio::time::timeout(SILENT_CLOSE_AFTER, io.read(&mut first)).await;
            let Ok(read) = read else {
                // Still silent: it stays listed, and the connection is closed.
                return Err(io::ErrorKind::TimedOut.into());
            };
            shared.record().silent.remove(&conn.id);
            read?
        }
    };
    if read == 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok((
        first[0],
        Box::new(Prefixed {
            first: Some(first[0]),
            inner: io,
        }),
    ))
}

/// A connection on which the client sent nothing, as a hop of scheme
/// [`super::SILENT_SCHEME`], so that a case sees the client went there.
fn silent_hop(index: usize, connection: u64, tunnel: Option<&Tunnel>) -> Hop {
    let (host, port) = tunnel.map(|t| (t.host.clone(), t.port)).unwrap_or_default();
    Hop {
        index,
        scheme: super::SILENT_SCHEME.to_owned(),
        host,
        port,
        arrival: if tunnel.is_some() {
            Arrival::Connect
        } else {
            Arrival::Direct
        },
        method: String::new(),
        target: String::new(),
        path_and_query: String::new(),
        headers: Vec::new(),
        body: Vec::new(),
        body_truncated: false,
        sni: None,
        connection,
        status: 0,
        unscripted: true,
    }
}

/// Subjects of the leaf for a direct TLS connection without SNI: clients send
/// no SNI for IP literals, and the listener serves both loopback addresses.
const LOOPBACK_SUBJECTS: &str = "127.0.0.1,::1";

/// Choose the certificate from SNI (else the tunnel's host, else both loopback addresses)
/// and the case's host settings, and complete the handshake.
async fn accept_tls(shared: &Shared, io: BoxIo, conn: Conn) -> Option<(BoxIo, Conn)> {
    let start = LazyConfigAcceptor::new(rustls::server::Acceptor::default(), io)
        .await
        .ok()?;
    let sni = start.client_hello().server_name().map(normalise_host);
    let name = match (&sni, &conn.tunnel) {
        (Some(sni), _) => sni.clone(),
        (None, Some(tunnel)) => tunnel.host.clone(),
        (None, None) => LOOPBACK_SUBJECTS.to_owned(),
    };
    let kind = shared.certs.get(&name).copied().unwrap_or_default();
    let config = shared.ca.server_config(&name, kind);
    let stream = start.into_stream(config).await.ok()?;
    Some((Box::new(stream), Conn { tls: true, sni, ..conn }))
}

type Reply = Response<Full<Bytes>>;

async fn handle(
    shared: Arc<Shared>,
    conn: Arc<Conn>,
    pending: PendingTunnel,
    mut req: Request<Incoming>,
) -> Result<Reply, Infallible> {
    if req.method() == Method::CONNECT {
        return Ok(open_tunnel(&pending, &mut req));
    }
    let Some(index) = shared.number_hop() else {
        return Ok(text(
            StatusCode::LOOP_DETECTED,
            format!(
                "hopcheck origin: more than {} requests in this case\n",
                shared.limits.max_hops
            ),
        ));
    };
    let (arrival, scheme, host, port) = identify(&conn, &req);
    let method = req.method().as_str().to_owned();
    let target = req.uri().to_string();
    let path_and_query = match req.uri().path_and_query().map(|pq| pq.as_str()) {
        None | Some("") => "/".to_owned(),
        Some(pq) => pq.to_owned(),
    };
    // HeaderMap yields every value of a name at that name's first place, so
    // repeated names arrive grouped; values are read as UTF-8, lossily.
    let headers = req
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    let (body, body_truncated) = read_capped(req.into_body(), shared.limits.body_cap).await;
    let answer = shared.script.answer(
        &Logical {
            scheme: &scheme,
            host: &host,
            port,
            path_and_query: &path_and_query,
            method: &method,
        },
        index,
    );
    shared.record().hops.push(Hop {
        index,
        scheme,
        host,
        port,
        arrival,
        method,
        target,
        path_and_query,
        headers,
        body,
        body_truncated,
        sni: conn.sni.clone(),
        connection: conn.id,
        status: answer.status.as_u16(),
        unscripted: answer.unscripted,
    });
    let mut reply = Response::new(Full::new(answer.body));
    *reply.status_mut() = answer.status;
    for (name, value) in answer.headers {
        reply.headers_mut().append(name, value);
    }
    Ok(reply)
}

/// Accept `CONNECT host:port`: answer 200 and leave the upgrade for [`serve`].
fn open_tunnel(pending: &PendingTunnel, req: &mut Request<Incoming>) -> Reply {
    let target = req
        .uri()
        .authority()
        .and_then(|authority| split_authority(authority.as_str()))
        .map(|(host, port)| Tunnel {
            host: normalise_host(host),
            port: port.unwrap_or(443),
        });
    let Some(tunnel) = target else {
        return text(
            StatusCode::BAD_REQUEST,
            "hopcheck origin: CONNECT needs host:port\n".to_owned(),
        );
    };
    let upgrade = hyper::upgrade::on(req);
    *pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some((upgrade, tunnel));
    Response::new(Full::new(Bytes::new()))
}

/// The logical arrival, scheme, host and port of a request.
fn identify(conn: &Conn, req: &Request<Incoming>) -> (Arrival, String, String, u16) {
    let sniffed = if conn.tls { "https" } else { "http" };
    if let Some(tunnel) = &conn.tunnel {
        return (Arrival::Connect, sniffed.to_owned(), tunnel.host.clone(), tunnel.port);
    }
    let uri = req.uri();
    if let Some(scheme) = uri.scheme_str() {
        // A forward-proxy request names the URL it wants; that is the logical one.
        let scheme = scheme.to_ascii_lowercase();
        let host = uri.host().map(normalise_host).unwrap_or_default();
        let port = uri.port_u16().unwrap_or_else(|| default_port(&scheme));
        return (Arrival::Absolute, scheme, host, port);
    }
    let from_host = req
        .headers()
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .and_then(split_authority);
    let (host, port) = match (from_host, &conn.sni) {
        (Some((host, port)), _) => (normalise_host(host), port),
        (None, Some(sni)) => (sni.clone(), None),
        // No Host and no SNI: the hop shows an empty host, which no rule matches.
        (None, None) => (String::new(), None),
    };
    (
        Arrival::Direct,
        sniffed.to_owned(),
        host,
        port.unwrap_or_else(|| default_port(sniffed)),
    )
}

/// Read a request body, keeping at most `cap` bytes and draining the rest.
/// A body cut short by the client keeps what arrived.
async fn read_capped(mut body: Incoming, cap: usize) -> (Vec<u8>, bool) {
    let mut kept = Vec::new();
    let mut truncated = false;
    while let Some(Ok(frame)) = body.frame().await {
        if let Ok(data) = frame.into_data() {
            let room = cap.saturating_sub(kept.len());
            if data.len() > room {
                truncated = true;
            }
            kept.extend_from_slice(&data[..data.len().min(room)]);
        }
    }
    (kept, truncated)
}

fn text(status: StatusCode, body: String) -> Reply {
    let mut reply = Response::new(Full::new(Bytes::from(body)));
    *reply.status_mut() = status;
    reply.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    reply
}

/// A stream that yields one already-read byte before the rest.
struct Prefixed {
    first: Option<u8>,
    inner: BoxIo,
}

impl AsyncRead for Prefixed {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if buf.remaining() > 0 {
            if let Some(byte) = self.first.take() {
                buf.put_slice(&[byte]);
                return Poll::Ready(Ok(()));
            }
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Prefixed {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;
    use tokio::net::TcpStream;

    use super::*;
    use crate::case::{Body, Reply as ReplySpec};
    use crate::origin::test_client::{ca, get, raw, request, tls, tunnel, Client};

    fn rule(on: &str, status: u16, headers: &[(&str, &str)], body: &str) -> OriginRule {
        OriginRule {
            on: on.to_owned(),
            method: None,
            reply: ReplySpec {
                status,
                headers: headers
                    .iter()
                    .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                    .collect(),
                body: (!body.is_empty()).then(|| Body::Text(body.to_owned())),
            },
        }
    }

    async fn origin(rules: Vec<OriginRule>) -> Origin {
        Origin::start(rules, vec![], ca(), Limits::default())
            .await
            .expect("origin starts")
    }

    fn only_hop(origin: &Origin) -> Hop {
        let hops = origin.hops();
        assert_eq!(hops.len(), 1, "{hops:#?}");
        hops.into_iter().next().expect("one hop")
    }

    #[tokio::test]
    async fn direct_get_takes_host_and_port_from_host() {
        let origin = origin(vec![rule("http://origin.test:8080/start", 200, &[], "hi")]).await;
        let seen = Client::tcp(origin.addr())
            .await
            .send(get("/start?a=1", "Origin.test:8080"))
            .await;
        assert_eq!(seen.status, 404, "the rule has no query");
        let seen = Client::tcp(origin.addr())
            .await
            .send(get("/start", "origin.test:8080"))
            .await;
        assert_eq!((seen.status, &seen.body[..]), (200, &b"hi"[..]));
        let hops = origin.hops();
        let hop = &hops[1];
        assert_eq!(hop.index, 2);
        assert_eq!(hop.arrival, Arrival::Direct);
        assert_eq!(hop.url(), "http://origin.test:8080/start");
        assert_eq!(hop.target, "/start");
        assert_eq!(hop.method, "GET");
        assert_eq!(hop.sni, None);
        assert_eq!(hop.connection, 2);
        assert_eq!((hop.status, hop.unscripted), (200, false));
        assert_eq!(hop.header_values("host").collect::<Vec<_>>(), ["origin.test:8080"]);
        assert_eq!(hops[0].path_and_query, "/start?a=1");
        assert!(hops[0].unscripted);
    }

    #[rstest]
    #[case::plain("origin.test", "origin.test", 80)]
    #[case::port("origin.test:81", "origin.test", 81)]
    #[case::spelling("Origin.TEST.", "origin.test", 80)]
    #[case::ipv4("127.0.0.1:9", "127.0.0.1", 9)]
    #[case::ipv6("[::1]:8080", "::1", 8080)]
    #[case::ipv6_default_port("[::1]", "::1", 80)]
    #[tokio::test]
    async fn host_fields_are_normalised(#[case] host: &str, #[case] name: &str, #[case] port: u16) {
        let origin = origin(vec![]).await;
        Client::tcp(origin.addr()).await.send(get("/", host)).await;
        let hop = only_hop(&origin);
        assert_eq!((hop.host.as_str(), hop.port), (name, port));
    }

    #[tokio::test]
    async fn absolute_form_is_served_as_a_forward_proxy() {
        let origin = origin(vec![rule("http://origin.test/x?y", 307, &[("Location", "/z")], "")]).await;
        let seen = Client::tcp(origin.addr())
            .await
            .send(get("http://Origin.Test./x?y", "Origin.Test."))
            .await;
        assert_eq!(seen.status, 307);
        assert_eq!(seen.values("location"), [b"/z"]);
        let hop = only_hop(&origin);
        assert_eq!(hop.arrival, Arrival::Absolute);
        assert_eq!(hop.url(), "http://origin.test/x?y");
        assert_eq!(hop.target, "http://Origin.Test./x?y");
        assert_eq!(hop.path_and_query, "/x?y");
    }

    #[tokio::test]
    async fn connect_then_tls_is_https_on_the_connect_port() {
        let origin = origin(vec![rule("https://origin.test/secure", 200, &[], "locked")]).await;
        let stream = tunnel(origin.addr(), "origin.test:443").await;
        let stream = tls(stream, "origin.test").await.expect("the test CA's leaf is trusted");
        let seen = Client::over(stream).await.send(get("/secure", "origin.test")).await;
        assert_eq!((seen.status, &seen.body[..]), (200, &b"locked"[..]));
        let hop = only_hop(&origin);
        assert_eq!(hop.arrival, Arrival::Connect);
        assert_eq!(hop.url(), "https://origin.test/secure");
        assert_eq!(hop.sni.as_deref(), Some("origin.test"));
        assert_eq!(hop.connection, 1);
    }

    #[tokio::test]
    async fn connect_then_plain_http_is_http_whatever_the_port() {
        let origin = origin(vec![rule("http://origin.test:443/", 200, &[], "")]).await;
        let stream = tunnel(origin.addr(), "origin.test:443").await;
        let seen = Client::over(stream).await.send(get("/", "elsewhere.test")).await;
        assert_eq!(seen.status, 200);
        let hop = only_hop(&origin);
        assert_eq!(hop.arrival, Arrival::Connect);
        assert_eq!(
            (hop.scheme.as_str(), hop.host.as_str(), hop.port),
            ("http", "origin.test", 443)
        );
        assert_eq!(hop.sni, None);
    }

    #[tokio::test]
    async fn direct_tls_takes_sni_for_the_certificate_and_host_for_the_port() {
        let origin = origin(vec![rule("https://origin.test:8443/", 204, &[], "")]).await;
        let stream = TcpStream::connect(origin.addr()).await.expect("connect");
        let stream = tls(stream, "origin.test").await.expect("trusted");
        let seen = Client::over(stream).await.send(get("/", "origin.test:8443")).await;
        assert_eq!(seen.status, 204);
        let hop = only_hop(&origin);
        assert_eq!(hop.arrival, Arrival::Direct);
        assert_eq!(hop.url(), "https://origin.test:8443/");
        assert_eq!(hop.sni.as_deref(), Some("origin.test"));
    }

    #[tokio::test]
    async fn direct_tls_without_host_falls_back_to_sni() {
        let origin = origin(vec![rule("https://origin.test/", 200, &[], "")]).await;
        let stream = TcpStream::connect(origin.addr()).await.expect("connect");
        let stream = tls(stream, "origin.test").await.expect("trusted");
        let seen = Client::over(stream).await.send(request("GET", "/", None, b"")).await;
        assert_eq!(seen.status, 200);
        let hop = only_hop(&origin);
        assert_eq!(hop.header_values("host").count(), 0);
        assert_eq!(hop.url(), "https://origin.test/");
    }

    #[tokio::test]
    async fn ipv4_over_tls_without_sni_gets_a_certificate_for_127_0_0_1() {
        let origin = origin(vec![rule("https://127.0.0.1/", 200, &[], "")]).await;
        let stream = TcpStream::connect(origin.addr()).await.expect("connect");
        let stream = tls(stream, "127.0.0.1").await.expect("an IP SAN for 127.0.0.1");
        let seen = Client::over(stream).await.send(get("/", "127.0.0.1")).await;
        assert_eq!(seen.status, 200);
        let hop = only_hop(&origin);
        assert_eq!(hop.url(), "https://127.0.0.1/");
        assert_eq!(hop.sni, None);
    }

    #[tokio::test]
    async fn ipv6_in_a_tunnel_without_sni_gets_a_certificate_for_the_connect_host() {
        let origin = origin(vec![rule("https://[::1]:8443/", 200, &[], "")]).await;
        let stream = tunnel(origin.addr(), "[::1]:8443").await;
        let stream = tls(stream, "::1").await.expect("an IP SAN for ::1");
        let seen = Client::over(stream).await.send(get("/", "[::1]:8443")).await;
        assert_eq!(seen.status, 200);
        assert_eq!(only_hop(&origin).url(), "https://[::1]:8443/");
    }

    /// Why a client rejected the origin's certificate, or `None` when it accepted.
    fn rejection(handshake: &io::Result<impl Sized>) -> Option<&'static str> {
        use rustls::CertificateError as E;
        let err = handshake.as_ref().err()?;
        let tls = err.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>());
        Some(match tls {
            Some(rustls::Error::InvalidCertificate(E::UnknownIssuer)) => "unknown issuer",
            Some(rustls::Error::InvalidCertificate(E::Expired | E::ExpiredContext { .. })) => "expired",
            Some(rustls::Error::InvalidCertificate(E::NotValidForName | E::NotValidForNameContext { .. })) => {
                "wrong name"
            }
            _ => "other",
        })
    }

    #[rstest]
    #[case::valid(CertKind::Valid, None)]
    #[case::untrusted(CertKind::Untrusted, Some("unknown issuer"))]
    #[case::expired(CertKind::Expired, Some("expired"))]
    #[case::wrong_name(CertKind::WrongName, Some("wrong name"))]
    #[tokio::test]
    async fn clients_trusting_the_test_ca_accept_only_valid_leaves(
        #[case] kind: CertKind,
        #[case] rejected: Option<&str>,
    ) {
        let hosts = vec![HostConfig {
            name: "Origin.Test".to_owned(),
            cert: kind,
        }];
        let origin = Origin::start(vec![], hosts, ca(), Limits::default())
            .await
            .expect("origin starts");
        let stream = tunnel(origin.addr(), "origin.test:443").await;
        assert_eq!(rejection(&tls(stream, "origin.test").await), rejected);
        // Another host of the same case keeps a valid certificate.
        let stream = tunnel(origin.addr(), "other.test:443").await;
        assert_eq!(rejection(&tls(stream, "other.test").await), None);
    }

    #[tokio::test]
    async fn reply_headers_go_out_in_order_title_cased_and_byte_exact() {
        let odd = "/caf\u{e9} a\\b\tc";
        let origin = origin(vec![rule(
            "http://h.test/",
            302,
            &[("set-cookie", "a=1"), ("location", odd), ("set-cookie", "b=2")],
            "",
        )])
        .await;
        let seen = raw(
            origin.addr(),
            b"GET / HTTP/1.1\r\nHost: h.test\r\nConnection: close\r\n\r\n",
        )
        .await;
        let location = format!("Location: {odd}\r\n");
        for part in [
            b"Set-Cookie: a=1\r\nSet-Cookie: b=2\r\n".as_slice(),
            location.as_bytes(),
        ] {
            assert!(
                seen.windows(part.len()).any(|w| w == part),
                "{:?} not in {:?}",
                String::from_utf8_lossy(part),
                String::from_utf8_lossy(&seen)
            );
        }
    }

    #[tokio::test]
    async fn duplicate_reply_headers_reach_a_client_in_order() {
        let origin = origin(vec![rule(
            "http://h.test/",
            200,
            &[("Link", "<a>"), ("Link", "<b>"), ("Link", "<c>")],
            "",
        )])
        .await;
        let seen = Client::tcp(origin.addr()).await.send(get("/", "h.test")).await;
        assert_eq!(seen.values("link"), [b"<a>", b"<b>", b"<c>"]);
    }

    #[tokio::test]
    async fn request_headers_are_recorded_lowercase_with_repeats_grouped() {
        let origin = origin(vec![]).await;
        let seen = raw(
            origin.addr(),
            b"GET / HTTP/1.1\r\nHost: h.test\r\nX-A: 1\r\nAccept: */*\r\nX-A: 2\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert!(seen.starts_with(b"HTTP/1.1 404"));
        let hop = only_hop(&origin);
        let names: Vec<_> = hop.headers.iter().map(|(n, v)| format!("{n}={v}")).collect();
        assert_eq!(
            names,
            ["host=h.test", "x-a=1", "x-a=2", "accept=*/*", "connection=close"]
        );
    }

    #[tokio::test]
    async fn unscripted_requests_get_404_naming_the_url_and_are_recorded() {
        let origin = origin(vec![rule("http://h.test/a", 200, &[], "")]).await;
        let seen = Client::tcp(origin.addr())
            .await
            .send(request("DELETE", "/b", Some("h.test:81"), b""))
            .await;
        assert_eq!(seen.status, 404);
        assert_eq!(
            seen.body,
            b"hopcheck origin: no rule answers DELETE http://h.test:81/b\n"
        );
        let hop = only_hop(&origin);
        assert!(hop.unscripted);
        assert_eq!(hop.status, 404);
    }

    #[tokio::test]
    async fn a_silent_connection_is_recorded_and_closed() {
        use tokio::io::AsyncReadExt as _;
        let origin = origin(vec![rule("http://h.test/a", 200, &[], "")]).await;
        let mut stream = TcpStream::connect(origin.addr()).await.expect("connect");
        // The client waits for a greeting, as an FTP client does; the origin
        // gives up after SILENT_AFTER + SILENT_CLOSE_AFTER and closes without a byte.
        let mut buf = [0u8; 16];
        let read = stream.read(&mut buf).await.unwrap_or(0);
        assert_eq!(read, 0, "the origin says nothing and closes");
        let hop = only_hop(&origin);
        assert_eq!(hop.scheme, crate::origin::SILENT_SCHEME);
        assert!(hop.unscripted);
        assert!(hop.url().contains("sent nothing"));
    }

    #[tokio::test]
    async fn a_slow_first_byte_is_served_and_not_counted_as_silent() {
        let origin = origin(vec![rule("http://h.test/a", 200, &[], "")]).await;
        let stream = TcpStream::connect(origin.addr()).await.expect("connect");
        tokio::time::sleep(SILENT_AFTER + Duration::from_millis(500)).await;
        assert_eq!(origin.hops().len(), 1, "listed as silent while it is");
        let seen = Client::over(stream).await.send(get("/a", "h.test")).await;
        assert_eq!(seen.status, 200);
        let hop = only_hop(&origin);
        assert_eq!(hop.url(), "http://h.test/a");
    }

    #[tokio::test]
    async fn the_hop_cap_answers_508_and_records_nothing_more() {
        let limits = Limits {
            max_hops: 2,
            ..Limits::default()
        };
        let loop_rule = rule("http://h.test/*", 302, &[("Location", "/{next}")], "");
        let origin = Origin::start(vec![loop_rule], vec![], ca(), limits)
            .await
            .expect("origin starts");
        let mut client = Client::tcp(origin.addr()).await;
        let mut statuses = vec![];
        for _ in 0..3 {
            statuses.push(client.send(get("/", "h.test")).await.status);
        }
        assert_eq!(statuses, [302, 302, 508]);
        assert_eq!(origin.hops().len(), 2);
        assert!(origin.hop_cap_reached());
    }

    #[tokio::test]
    async fn the_hop_cap_is_not_reached_at_the_cap() {
        let limits = Limits {
            max_hops: 1,
            ..Limits::default()
        };
        let origin = Origin::start(vec![], vec![], ca(), limits)
            .await
            .expect("origin starts");
        Client::tcp(origin.addr()).await.send(get("/", "h.test")).await;
        assert!(!origin.hop_cap_reached());
    }

    #[rstest]
    #[case::under(b"abc".as_slice(), b"abc".as_slice(), false)]
    #[case::at(b"abcd".as_slice(), b"abcd".as_slice(), false)]
    #[case::over(b"abcdefgh".as_slice(), b"abcd".as_slice(), true)]
    #[tokio::test]
    async fn bodies_are_recorded_up_to_the_cap(#[case] sent: &[u8], #[case] kept: &[u8], #[case] truncated: bool) {
        let limits = Limits {
            body_cap: 4,
            ..Limits::default()
        };
        let origin = Origin::start(vec![rule("http://h.test/up", 201, &[], "")], vec![], ca(), limits)
            .await
            .expect("origin starts");
        let mut client = Client::tcp(origin.addr()).await;
        let seen = client.send(request("POST", "/up", Some("h.test"), sent)).await;
        assert_eq!(seen.status, 201);
        let hop = only_hop(&origin);
        assert_eq!((hop.body.as_slice(), hop.body_truncated), (kept, truncated));
        // The rest was drained: the connection still serves.
        assert_eq!(client.send(get("/up", "h.test")).await.status, 201);
    }

    #[tokio::test]
    async fn prefix_rules_and_templates_number_each_hop() {
        let origin = origin(vec![rule(
            "http://h.test/step/*",
            302,
            &[("Location", "/step/{next}")],
            "hop {hop}",
        )])
        .await;
        let mut client = Client::tcp(origin.addr()).await;
        let first = client.send(get("/step/", "h.test")).await;
        let second = client.send(get("/step/2?x", "h.test")).await;
        assert_eq!(
            (first.values("location"), &first.body[..]),
            (vec![&b"/step/2"[..]], &b"hop 1"[..])
        );
        assert_eq!(
            (second.values("location"), &second.body[..]),
            (vec![&b"/step/3"[..]], &b"hop 2"[..])
        );
        let hops = origin.hops();
        assert_eq!(
            hops.iter().map(|h| (h.index, h.connection)).collect::<Vec<_>>(),
            [(1, 1), (2, 1)]
        );
    }

    #[tokio::test]
    async fn an_unusable_script_is_an_error_not_a_panic() {
        let bad = rule("http://h.test/", 302, &[("Location", "/a\r\nX: y")], "");
        let err = Origin::start(vec![bad], vec![], ca(), Limits::default())
            .await
            .expect_err("CR LF cannot be sent");
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }

    #[tokio::test]
    async fn dropping_the_origin_closes_its_connections() {
        let origin = origin(vec![rule("http://h.test/", 200, &[], "")]).await;
        let mut client = Client::tcp(origin.addr()).await;
        assert_eq!(client.send(get("/", "h.test")).await.status, 200);
        drop(origin);
        assert!(client.try_send(get("/", "h.test")).await.is_err());
    }
}
