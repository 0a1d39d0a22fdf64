//! The per-case listener: sniffing, TLS, proxying, recording.
//! One socket on 127.0.0.1 serves every virtual host of a case and records
//! each attempt as a hop: requests, silent connections, failed handshakes and
//! unparsable requests.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::LazyConfigAcceptor;

use super::io::{
    first_line, lock, placeholder, BoxIo, HeadBytes, HeadTap, Pending, Prefixed, RawHeads, Unrecorded, Watched,
};
use super::script::{default_port, AnswerBody, Logical, Script};
use super::{normalise_host, unbracket, Arrival, Hop, HopKind, TestCa};
use crate::case::{split_authority, CertKind, HostConfig, OriginRule};

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
            body_cap: crate::case::validate::RECORDED_BODY_CAP,
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

/// How long [`Origin::settled_hops`] waits for attempts still under way (a
/// client that leaves a handshake or a request head half sent).
const SETTLE_LIMIT: Duration = Duration::from_secs(1);
/// How long the listener pauses after failing to accept for want of resources.
const ACCEPT_RETRY: Duration = Duration::from_millis(10);

impl Origin {
    /// Bind `127.0.0.1:0` and serve the script until dropped.
    ///
    /// A script that cannot be served (a rule URL that is not absolute http or
    /// https, a header value with CR, LF or NUL, bad base64, a 1xx status) is
    /// an `InvalidInput` error naming the rule.
    pub async fn start(
        rules: Vec<OriginRule>,
        hosts: Vec<HostConfig>,
        ca: Arc<TestCa>,
        limits: Limits,
    ) -> io::Result<Origin> {
        let script = Script::new(&rules)?;
        let certs: HashMap<String, CertKind> = hosts
            .into_iter()
            .map(|host| (normalise_host(&host.name), host.cert))
            .collect();
        let no_sni_subjects = no_sni_subjects(&script, &certs);
        // Random per origin, so that no byte a script writes can look like a placeholder.
        let marker = script.needs_raw_heads().then(|| {
            let random = std::collections::hash_map::RandomState::new().build_hasher().finish();
            Arc::from(format!("hopcheck-raw-{random:016x}-").into_bytes())
        });
        let listener = TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            script,
            certs,
            no_sni_subjects,
            marker,
            ca,
            limits,
            record: Mutex::new(Record::default()),
            unrecorded: Arc::new(Unrecorded::new()),
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

    /// Every hop, once the attempts under way when the client finished are on
    /// record: a client reports a refused handshake, or the 400 to a request
    /// hyper could not parse, before the origin has recorded it.
    pub async fn settled_hops(&self) -> Vec<Hop> {
        let _ = tokio::time::timeout(SETTLE_LIMIT, self.shared.unrecorded.settled()).await;
        self.hops()
    }

    /// The client asked for more hops than [`Limits::max_hops`].
    pub fn hop_cap_reached(&self) -> bool {
        self.shared.record().cap_reached
    }

    /// Why the origin could not accept a connection for want of its own
    /// resources (e.g. "Too many open files"), if that happened: what the
    /// client then saw says nothing about it.
    pub fn accept_fault(&self) -> Option<String> {
        self.shared.record().accept_fault.clone()
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
    /// Subjects of the leaf for a direct TLS connection without SNI.
    no_sni_subjects: String,
    /// Placeholder marker for reply values hyper cannot carry, when the script has any.
    marker: Option<Arc<[u8]>>,
    ca: Arc<TestCa>,
    limits: Limits,
    record: Mutex<Record>,
    unrecorded: Arc<Unrecorded>,
}

#[derive(Default)]
struct Record {
    /// Hop indexes handed out so far (a hop is numbered when its head arrives).
    numbered: usize,
    hops: Vec<Hop>,
    cap_reached: bool,
    /// The first time accepting a connection failed for want of this
    /// process's own resources (descriptors, memory): a harness fault.
    accept_fault: Option<String>,
    /// Connections that have sent nothing for [`SILENT_AFTER`], by id.
    silent: BTreeMap<u64, Option<Tunnel>>,
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

    /// Record an attempt that never became a request (a failed handshake,
    /// an unparsable head), numbered now; nothing once the cap is reached.
    fn record_attempt(&self, conn: &Conn, kind: HopKind, reason: String, raw: Option<String>) {
        let Some(index) = self.number_hop() else {
            return;
        };
        let (host, port) = match (&conn.tunnel, &conn.sni) {
            (Some(tunnel), _) => (tunnel.host.clone(), tunnel.port),
            (None, Some(sni)) => (sni.clone(), default_port(conn.scheme())),
            (None, None) => (String::new(), default_port(conn.scheme())),
        };
        let mut hop = Hop::attempt(index, kind, conn.id);
        hop.scheme = conn.scheme().to_owned();
        hop.host = host;
        hop.port = port;
        hop.arrival = conn.arrival();
        hop.sni = conn.sni.clone();
        hop.reason = Some(reason);
        hop.raw = raw;
        self.record().hops.push(hop);
    }
}

/// The subjects of the leaf a client gets when it sends no SNI straight to
/// the listener: both loopback addresses (clients send no SNI for IP
/// literals) and every host the script answers whose certificate is valid,
/// so a client that never sends SNI still reaches the host it asked for.
fn no_sni_subjects(script: &Script, certs: &HashMap<String, CertKind>) -> String {
    let mut subjects = vec!["127.0.0.1".to_owned(), "::1".to_owned()];
    for host in script.hosts() {
        let valid = certs.get(host).copied().unwrap_or_default() == CertKind::Valid;
        // A leaf names only what it can encode: ASCII names.
        if valid && host.is_ascii() && !host.contains(',') && !subjects.iter().any(|s| s == host) {
            subjects.push(host.to_owned());
        }
    }
    subjects.join(",")
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
                    let pending = Pending::new(shared.unrecorded.clone());
                    let io = Box::new(Watched { inner: stream, pending: pending.clone() });
                    let conn = Conn::new(next_id, pending.clone());
                    let shared = shared.clone();
                    connections.spawn(async move {
                        serve(shared, io, conn).await;
                        // Whatever this connection sent is on record now.
                        pending.recorded();
                    });
                }
                // Out of descriptors or memory: accept would fail again at once.
                Err(e) if note_accept_fault(&mut shared.record(), &e) => tokio::time::sleep(ACCEPT_RETRY).await,
                // A connection the client aborted before it was accepted.
                Err(_) => tokio::task::yield_now().await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// The fragment (with its `#`) of the request-target in the first line of
/// `head`, the raw bytes of the request hyper parsed as `parsed` (its target
/// without the fragment); `None` when none was sent, or when the line is not
/// that request's.
fn sent_fragment(head: &[u8], parsed: &str) -> Option<String> {
    let end = head.iter().position(|b| *b == b'\n').unwrap_or(head.len());
    let line = head[..end].strip_suffix(b"\r").unwrap_or(&head[..end]);
    let mut parts = line.split(|b| *b == b' ');
    let (_method, raw_target) = (parts.next()?, parts.next()?);
    let hash = raw_target.iter().position(|b| *b == b'#')?;
    let (before, fragment) = raw_target.split_at(hash);
    let before = String::from_utf8_lossy(before);
    // The same request: hyper's target is the raw one up to the `#` (the
    // scheme and host of an absolute form may come back lowercased).
    before
        .eq_ignore_ascii_case(parsed)
        .then(|| String::from_utf8_lossy(fragment).into_owned())
}

/// Whether a failed accept means this process is out of descriptors or
/// memory; if so the first such error is kept in `record` (the case cannot be
/// judged: the client's connection waits unaccepted in the backlog).
fn note_accept_fault(record: &mut Record, err: &io::Error) -> bool {
    if !err
        .raw_os_error()
        .is_some_and(crate::exhaustion::is_resource_exhaustion)
    {
        return false;
    }
    record.accept_fault.get_or_insert_with(|| err.to_string());
    true
}

/// What a connection knows about itself.
#[derive(Debug, Clone)]
struct Conn {
    id: u64,
    /// The `CONNECT` target when serving inside a tunnel.
    tunnel: Option<Tunnel>,
    tls: bool,
    /// The server name the client sent, as sent.
    sni: Option<String>,
    pending: Arc<Pending>,
}

#[derive(Debug, Clone)]
struct Tunnel {
    /// As the client wrote it in `CONNECT` (IPv6 without brackets).
    host: String,
    port: u16,
}

impl Conn {
    fn new(id: u64, pending: Arc<Pending>) -> Conn {
        Conn {
            id,
            tunnel: None,
            tls: false,
            sni: None,
            pending,
        }
    }

    /// What was sniffed: `https` once TLS was seen, else `http`.
    fn scheme(&self) -> &'static str {
        if self.tls {
            "https"
        } else {
            "http"
        }
    }

    fn arrival(&self) -> Arrival {
        if self.tunnel.is_some() {
            Arrival::Connect
        } else {
            Arrival::Direct
        }
    }
}

/// A `CONNECT` accepted on a connection, waiting for hyper to hand the stream over.
type PendingTunnel = Arc<Mutex<Option<(OnUpgrade, Tunnel)>>>;

/// What one HTTP/1.1 connection shares with its service.
struct Served {
    conn: Conn,
    /// The raw head of the request being read.
    head: HeadBytes,
    /// Requests (CONNECT included) hyper handed to the service.
    requests: AtomicUsize,
}

/// Sniff, maybe TLS, serve HTTP/1.1; after a `CONNECT`, do it all again inside
/// the tunnel. Boxed because it recurses.
fn serve(shared: Arc<Shared>, io: BoxIo, conn: Conn) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        let Ok((first, io)) = sniff(&shared, io, &conn).await else {
            return;
        };
        let (io, conn) = if first == 0x16 {
            match accept_tls(&shared, io, conn).await {
                Ok(accepted) => accepted,
                Err((conn, reason)) => {
                    shared.record_attempt(&conn, HopKind::TlsFailed, reason, None);
                    return;
                }
            }
        } else {
            (io, conn)
        };
        let head = HeadBytes::default();
        let io: BoxIo = Box::new(HeadTap {
            inner: io,
            head: head.clone(),
        });
        let io: BoxIo = match &shared.marker {
            Some(marker) => Box::new(RawHeads::new(io, marker.clone())),
            None => io,
        };
        let served = Arc::new(Served {
            conn,
            head,
            requests: AtomicUsize::new(0),
        });
        let pending: PendingTunnel = Arc::default();
        let service = service_fn({
            let (shared, served, pending) = (shared.clone(), served.clone(), pending.clone());
            move |req| handle(shared.clone(), served.clone(), pending.clone(), req)
        });
        let outcome = http1::Builder::new()
            .title_case_headers(true)
            .serve_connection(TokioIo::new(io), service)
            .with_upgrades()
            .await;
        let conn = &served.conn;
        let head = std::mem::take(&mut *lock(&served.head));
        match outcome {
            Err(err) if err.is_parse() || (err.is_incomplete_message() && !head.is_empty()) => {
                // hyper answered 400 (or the client stopped mid-head): the
                // bytes were an attempt all the same.
                let reason = if err.is_incomplete_message() {
                    "the connection closed before the request head was complete".to_owned()
                } else {
                    format!("hyper could not parse the request: {err}")
                };
                shared.record_attempt(conn, HopKind::Unparsable, reason, Some(first_line(&head)));
                return;
            }
            _ if conn.tls && served.requests.load(Ordering::Acquire) == 0 && head.is_empty() => {
                let reason =
                    "the handshake completed, then the client closed the connection without a request".to_owned();
                shared.record_attempt(conn, HopKind::TlsFailed, reason, None);
                return;
            }
            Err(_) => return,
            Ok(()) => {}
        }
        let tunnel = pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
        let Some((upgrade, tunnel)) = tunnel else {
            return;
        };
        let Ok(upgraded) = upgrade.await else {
            return;
        };
        let inner = Conn {
            tunnel: Some(tunnel),
            tls: false,
            sni: None,
            ..conn.clone()
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

/// A connection on which the client sent nothing, as a hop of kind
/// [`HopKind::Silent`], so that a case sees the client went there.
fn silent_hop(index: usize, connection: u64, tunnel: Option<&Tunnel>) -> Hop {
    let mut hop = Hop::attempt(index, HopKind::Silent, connection);
    if let Some(tunnel) = tunnel {
        hop.host = tunnel.host.clone();
        hop.port = tunnel.port;
        hop.arrival = Arrival::Connect;
    }
    hop
}

/// Choose the certificate from SNI (else the tunnel's host, else every host
/// the case serves) and the case's host settings, and complete the handshake.
/// `Err` carries why the handshake failed, with the SNI when it was read.
async fn accept_tls(shared: &Shared, io: BoxIo, conn: Conn) -> Result<(BoxIo, Conn), (Conn, String)> {
    let start = match LazyConfigAcceptor::new(rustls::server::Acceptor::default(), io).await {
        Ok(start) => start,
        Err(err) => return Err((Conn { tls: true, ..conn }, format!("no usable ClientHello: {err}"))),
    };
    let sni = start.client_hello().server_name().map(str::to_owned);
    let name = match (&sni, &conn.tunnel) {
        (Some(sni), _) => normalise_host(sni),
        (None, Some(tunnel)) => normalise_host(&tunnel.host),
        (None, None) => shared.no_sni_subjects.clone(),
    };
    let kind = shared.certs.get(&name).copied().unwrap_or_default();
    let config = shared.ca.server_config(&name, kind);
    let conn = Conn { tls: true, sni, ..conn };
    match start.into_stream(config).await {
        Ok(stream) => Ok((Box::new(stream), conn)),
        Err(err) => Err((conn, format!("the handshake failed: {err}"))),
    }
}

type Reply = Response<AnswerBody>;

async fn handle(
    shared: Arc<Shared>,
    served: Arc<Served>,
    pending: PendingTunnel,
    mut req: Request<Incoming>,
) -> Result<Reply, Infallible> {
    served.requests.fetch_add(1, Ordering::AcqRel);
    let conn = &served.conn;
    if req.method() == Method::CONNECT {
        lock(&served.head).clear();
        let reply = open_tunnel(&pending, &mut req);
        // A CONNECT is no hop; what comes through the tunnel will be.
        conn.pending.recorded();
        return Ok(reply);
    }
    let Some(index) = shared.number_hop() else {
        lock(&served.head).clear();
        conn.pending.recorded();
        return Ok(text(
            StatusCode::LOOP_DETECTED,
            format!(
                "hopcheck origin: more than {} requests in this case\n",
                shared.limits.max_hops
            ),
        ));
    };
    let (arrival, scheme, host, port) = identify(conn, &req);
    // `Uri::host` leaves userinfo out; the authority as sent keeps it.
    let userinfo = req
        .uri()
        .authority()
        .and_then(|authority| authority.as_str().rsplit_once('@'))
        .map(|(userinfo, _host)| userinfo.to_owned());
    let method = req.method().as_str().to_owned();
    let mut target = req.uri().to_string();
    let path_and_query = match req.uri().path_and_query().map(|pq| pq.as_str()) {
        None | Some("") => "/".to_owned(),
        Some(pq) => pq.to_owned(),
    };
    // `http::Uri` drops a fragment without a word; a client that sends one
    // on the wire must be seen doing so (LOC-FRAG-WIRE). The script still
    // answers by path and query: a server never sees a fragment.
    let fragment = sent_fragment(&lock(&served.head), &target).unwrap_or_default();
    target.push_str(&fragment);
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
    // The request is read whole: the next bytes are the next request's head.
    lock(&served.head).clear();
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
    let mut hop = Hop::attempt(index, HopKind::Request, conn.id);
    hop.scheme = scheme;
    hop.host = host;
    hop.port = port;
    hop.userinfo = userinfo;
    hop.arrival = arrival;
    hop.method = method;
    hop.target = target;
    hop.path_and_query = path_and_query + &fragment;
    hop.headers = headers;
    hop.body = body;
    hop.body_truncated = body_truncated;
    hop.sni = conn.sni.clone();
    hop.status = answer.status.as_u16();
    hop.unscripted = answer.unscripted;
    shared.record().hops.push(hop);
    conn.pending.recorded();
    let mut reply = Response::new(answer.body);
    *reply.status_mut() = answer.status;
    for (name, value) in answer.headers {
        let value = match (HeaderValue::from_maybe_shared(value.clone()), &shared.marker) {
            (Ok(value), _) => value,
            // hyper refuses control characters: a placeholder stands in, and
            // RawHeads writes the bytes themselves.
            (Err(_), Some(marker)) => match HeaderValue::from_bytes(&placeholder(marker, &value)) {
                Ok(value) => value,
                Err(_) => continue,
            },
            // Script::needs_raw_heads said no value needs one.
            (Err(_), None) => continue,
        };
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
            host: unbracket(host).to_owned(),
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
    Response::new(AnswerBody::from(Bytes::new()))
}

/// The logical arrival, scheme, host (as the client spelt it) and port of a request.
fn identify(conn: &Conn, req: &Request<Incoming>) -> (Arrival, String, String, u16) {
    let sniffed = conn.scheme();
    if let Some(tunnel) = &conn.tunnel {
        return (Arrival::Connect, sniffed.to_owned(), tunnel.host.clone(), tunnel.port);
    }
    let uri = req.uri();
    if let Some(scheme) = uri.scheme_str() {
        // A forward-proxy request names the URL it wants; that is the logical one.
        let scheme = scheme.to_ascii_lowercase();
        let host = uri.host().map(unbracket).unwrap_or_default().to_owned();
        let port = uri.port_u16().unwrap_or_else(|| default_port(&scheme));
        return (Arrival::Absolute, scheme, host, port);
    }
    let from_host = req
        .headers()
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .and_then(split_authority);
    let (host, port) = match (from_host, &conn.sni) {
        (Some((host, port)), _) => (unbracket(host).to_owned(), port),
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
    let mut reply = Response::new(AnswerBody::from(Bytes::from(body)));
    *reply.status_mut() = status;
    reply.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    reply
}

#[cfg(test)]
mod tests {
    use rstest::rstest;
    use tokio::net::TcpStream;

    use tokio::io::AsyncWriteExt;

    use super::*;
    use crate::case::{Body, Reply as ReplySpec};
    use crate::origin::test_client::{ca, get, raw, request, tls, tunnel, Client};

    #[test]
    fn running_out_of_descriptors_on_accept_is_noted_as_the_origin_s_fault() {
        let mut record = Record::default();
        let aborted = io::Error::from_raw_os_error(libc::ECONNABORTED);
        assert!(!note_accept_fault(&mut record, &aborted));
        assert_eq!(record.accept_fault, None, "a client's aborted connection is no fault");
        for errno in [libc::EMFILE, libc::ENFILE, libc::ENOMEM, libc::ENOBUFS] {
            assert!(note_accept_fault(&mut record, &io::Error::from_raw_os_error(errno)));
        }
        let first = io::Error::from_raw_os_error(libc::EMFILE).to_string();
        assert_eq!(record.accept_fault, Some(first), "the first fault is kept");
    }

    fn rule(on: &str, status: u16, headers: &[(&str, &str)], body: &str) -> OriginRule {
        OriginRule {
            on: on.to_owned(),
            method: None,
            reply: ReplySpec {
                status,
                headers: headers.iter().map(|(n, v)| ((*n).to_owned(), (*v).into())).collect(),
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
    async fn a_cycle_reply_goes_out_whole_with_its_length() {
        let len = (1 << 20) + 3;
        let mut reply = rule("http://origin.test/big", 200, &[], "");
        reply.reply.body = Some(Body::Cycle { cycle: len });
        let origin = origin(vec![reply]).await;
        let seen = Client::tcp(origin.addr()).await.send(get("/big", "origin.test")).await;
        assert_eq!(seen.values("content-length"), [len.to_string().as_bytes()]);
        assert_eq!(seen.body, Body::Cycle { cycle: len }.bytes().expect("cycle"));
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
    #[case::spelling("Origin.TEST.", "Origin.TEST.", 80)]
    #[case::ipv4("127.0.0.1:9", "127.0.0.1", 9)]
    #[case::ipv6("[::1]:8080", "::1", 8080)]
    #[case::ipv6_default_port("[::1]", "::1", 80)]
    #[tokio::test]
    async fn host_fields_are_recorded_as_sent(#[case] host: &str, #[case] name: &str, #[case] port: u16) {
        let origin = origin(vec![]).await;
        Client::tcp(origin.addr()).await.send(get("/", host)).await;
        let hop = only_hop(&origin);
        assert_eq!((hop.host.as_str(), hop.port), (name, port));
    }

    #[tokio::test]
    async fn a_trailing_dot_is_recorded_as_sent_and_routed_like_the_name() {
        let origin = origin(vec![rule("http://h.test/", 200, &[], "h")]).await;
        let seen = Client::tcp(origin.addr()).await.send(get("/", "h.test.")).await;
        assert_eq!((seen.status, &seen.body[..]), (200, &b"h"[..]));
        let hop = only_hop(&origin);
        assert_eq!(hop.host, "h.test.");
        assert_eq!(hop.url(), "http://h.test./");
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
        assert_eq!(
            hop.url(),
            "http://Origin.Test./x?y",
            "routed normalised, recorded as sent"
        );
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

    /// Hops once every attempt under way is on record.
    async fn settled_only_hop(origin: &Origin) -> Hop {
        let hops = origin.settled_hops().await;
        assert_eq!(hops.len(), 1, "{hops:#?}");
        hops.into_iter().next().expect("one hop")
    }

    #[tokio::test]
    async fn a_refused_handshake_is_a_hop_with_its_sni_and_reason() {
        let hosts = vec![HostConfig {
            name: "bad.test".to_owned(),
            cert: CertKind::Untrusted,
        }];
        let origin = Origin::start(
            vec![rule("https://bad.test/", 200, &[], "")],
            hosts,
            ca(),
            Limits::default(),
        )
        .await
        .expect("origin starts");
        let stream = tunnel(origin.addr(), "Bad.Test:443").await;
        assert!(tls(stream, "bad.test").await.is_err(), "the client refuses the leaf");
        let hop = settled_only_hop(&origin).await;
        assert_eq!(hop.kind, HopKind::TlsFailed);
        assert_eq!(hop.sni.as_deref(), Some("bad.test"));
        assert_eq!(
            (hop.scheme.as_str(), hop.host.as_str(), hop.port),
            ("https", "Bad.Test", 443)
        );
        assert_eq!(hop.arrival, Arrival::Connect);
        let reason = hop.reason.as_deref().unwrap_or_default();
        assert!(reason.contains("alert"), "the client's alert is the reason: {reason}");
        assert!(hop.url().contains("SNI bad.test"), "{}", hop.url());
    }

    #[tokio::test]
    async fn a_hello_that_is_not_tls_is_a_failed_handshake() {
        let origin = origin(vec![]).await;
        // A handshake record holding an empty ClientHello: rustls refuses it.
        let seen = raw(origin.addr(), b"\x16\x03\x01\x00\x04\x01\x00\x00\x00").await;
        assert!(!seen.starts_with(b"HTTP/"), "no HTTP answer to a handshake");
        let hop = settled_only_hop(&origin).await;
        assert_eq!(hop.kind, HopKind::TlsFailed);
        assert_eq!(hop.sni, None);
        assert!(hop.reason.is_some());
    }

    #[tokio::test]
    async fn a_handshake_without_sni_gets_a_leaf_naming_the_case_s_hosts() {
        let origin = origin(vec![rule("https://origin.test/", 200, &[], "named")]).await;
        let mut config = (*ca().client_config()).clone();
        config.enable_sni = false;
        let stream = TcpStream::connect(origin.addr()).await.expect("connect");
        let name = rustls::pki_types::ServerName::try_from("origin.test").expect("name");
        let stream = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, stream)
            .await
            .expect("the no-SNI leaf names origin.test");
        let seen = Client::over(stream).await.send(get("/", "origin.test")).await;
        assert_eq!((seen.status, &seen.body[..]), (200, &b"named"[..]));
        let hop = only_hop(&origin);
        assert_eq!((hop.kind, hop.sni.as_deref()), (HopKind::Request, None));
        assert_eq!(hop.url(), "https://origin.test/");
    }

    #[rstest]
    #[case::control_byte(b"GET /a\x01b HTTP/1.1\r\nHost: h.test\r\n\r\n".as_slice(), "GET /a\\x01b HTTP/1.1")]
    #[case::space(b"GET /a b HTTP/1.1\r\nHost: h.test\r\n\r\n".as_slice(), "GET /a b HTTP/1.1")]
    #[case::obs_text(b"GET /caf\xe9 HTTP/1.1\r\nHost: h.test\r\n\r\n".as_slice(), "GET /caf\\xE9 HTTP/1.1")]
    #[tokio::test]
    async fn an_unparsable_request_is_a_hop_with_its_raw_first_line(#[case] sent: &[u8], #[case] line: &str) {
        let origin = origin(vec![rule("http://h.test/*", 200, &[], "")]).await;
        let seen = raw(origin.addr(), sent).await;
        assert!(seen.starts_with(b"HTTP/1.1 400"), "{}", String::from_utf8_lossy(&seen));
        let hop = settled_only_hop(&origin).await;
        assert_eq!(hop.kind, HopKind::Unparsable);
        assert_eq!(hop.raw.as_deref(), Some(line));
        assert!(hop.reason.as_deref().is_some_and(|r| r.contains("parse")), "{hop:?}");
    }

    #[rstest]
    #[case::origin_form(b"GET /a?q#frag HTTP/1.1\r\nHost: h.test\r\nConnection: close\r\n\r\n".as_slice(), "/a?q#frag", "http://h.test/a?q#frag")]
    #[case::empty(b"GET /a# HTTP/1.1\r\nHost: h.test\r\nConnection: close\r\n\r\n".as_slice(), "/a#", "http://h.test/a#")]
    #[case::absolute_form(
        b"GET http://u:p@h.test/a#frag HTTP/1.1\r\nHost: h.test\r\nConnection: close\r\n\r\n".as_slice(),
        "http://u:p@h.test/a#frag",
        "http://u:p@h.test/a#frag"
    )]
    #[case::userinfo_without_fragment(
        b"GET http://u@h.test/a HTTP/1.1\r\nHost: h.test\r\nConnection: close\r\n\r\n".as_slice(),
        "http://u@h.test/a",
        "http://u@h.test/a"
    )]
    #[tokio::test]
    async fn a_fragment_or_userinfo_sent_in_the_request_target_is_recorded(
        #[case] sent: &[u8],
        #[case] target: &str,
        #[case] url: &str,
    ) {
        let origin = origin(vec![rule("http://h.test/*", 200, &[], "ok")]).await;
        let seen = raw(origin.addr(), sent).await;
        assert!(seen.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&seen));
        let hop = settled_only_hop(&origin).await;
        assert_eq!((hop.target.as_str(), hop.url()), (target, url.to_owned()));
    }

    #[test]
    fn a_first_line_of_another_request_gives_no_fragment() {
        assert_eq!(sent_fragment(b"GET /b#f HTTP/1.1\r\n", "/a"), None);
        assert_eq!(sent_fragment(b"GET /a HTTP/1.1\r\n", "/a"), None);
        assert_eq!(sent_fragment(b"", "/a"), None);
        assert_eq!(
            sent_fragment(b"GET HTTP://H.test/a#f HTTP/1.1", "http://h.test/a").as_deref(),
            Some("#f")
        );
    }

    #[tokio::test]
    async fn an_unparsable_second_request_keeps_its_own_first_line() {
        let origin = origin(vec![rule("http://h.test/*", 200, &[], "ok")]).await;
        let mut stream = TcpStream::connect(origin.addr()).await.expect("connect");
        let first = b"POST /one HTTP/1.1\r\nHost: h.test\r\nContent-Length: 3\r\n\r\nabc";
        stream.write_all(first).await.expect("write");
        let mut answer = [0u8; 256];
        let n = stream.read(&mut answer).await.expect("first answer");
        assert!(answer[..n].starts_with(b"HTTP/1.1 200"));
        stream.write_all(b"GET /t\x7fo HTTP/1.1\r\n\r\n").await.expect("write");
        let mut rest = Vec::new();
        let _ = stream.read_to_end(&mut rest).await;
        let hops = origin.settled_hops().await;
        assert_eq!(hops.len(), 2, "{hops:#?}");
        assert_eq!((hops[0].kind, hops[0].body.as_slice()), (HopKind::Request, &b"abc"[..]));
        assert_eq!(hops[1].kind, HopKind::Unparsable);
        assert_eq!(hops[1].raw.as_deref(), Some("GET /t\\x7Fo HTTP/1.1"));
    }

    #[tokio::test]
    async fn control_bytes_and_obs_text_in_a_location_are_written_raw() {
        let mut latin = rule("http://h.test/latin", 302, &[], "");
        latin.reply.headers = vec![(
            "Location".to_owned(),
            crate::case::FieldValue::Base64 {
                base64: "L2NhZuk=".to_owned(), // "/caf" 0xE9
            },
        )];
        let origin = origin(vec![
            rule(
                "http://h.test/ctl",
                302,
                &[("Location", "/a\u{1}b\u{7f}/{next}"), ("X-Ok", "plain")],
                "",
            ),
            latin,
        ])
        .await;
        let seen = raw(
            origin.addr(),
            b"GET /ctl HTTP/1.1\r\nHost: h.test\r\n\r\nGET /latin HTTP/1.1\r\nHost: h.test\r\nConnection: close\r\n\r\n",
        )
        .await;
        for part in [
            b"Location: /a\x01b\x7f/2\r\nX-Ok: plain\r\n".as_slice(),
            b"Location: /caf\xe9\r\n".as_slice(),
        ] {
            assert!(
                seen.windows(part.len()).any(|w| w == part),
                "{:?} not in {:?}",
                part.escape_ascii().to_string(),
                seen.escape_ascii().to_string()
            );
        }
        assert!(!seen.windows(13).any(|w| w == b"hopcheck-raw-"), "no placeholder left");
        assert_eq!(origin.hops().len(), 2);
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
        assert_eq!(hop.kind, HopKind::Silent);
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
