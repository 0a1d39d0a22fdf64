//! Probe mode against real servers: nginx and Caddy, started on loopback
//! ports with a leaf of the test CA and a configuration written to a temp
//! folder, once good (every probe case passes) and once per bad
//! configuration (exactly its expected verdicts). Besides them, a scripted
//! bad origin in this process, and the bad input every probe must survive.
//!
//! nginx and Caddy come from Debian (`apt-get install -y nginx caddy`);
//! without them these tests fail, unless `HOPCHECK_ALLOW_SKIP=1`.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hopcheck::case::{Catalogue, CertKind};
use hopcheck::origin::TestCa;
use hopcheck::probe::{self, ProbeCase, ProbeClient, ProbeReport};
use hopcheck::verdict::VerdictKind;

const HOST: &str = "site.test";
const STS_GOOD: &str = "max-age=63072000; includeSubDomains; preload";
const REDIRECT_STATUSES: [u16; 5] = [301, 302, 303, 307, 308];

/// A server configuration, good or broken in one way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Config {
    Good,
    NoSts,
    StsOverHttpOnly,
    Found302ForHttps,
    MaxAgeTooLow,
    DuplicateSts,
    RedirectDropsQuery,
    LocationWithRawSpace,
}

const BAD: [Config; 7] = [
    Config::NoSts,
    Config::StsOverHttpOnly,
    Config::Found302ForHttps,
    Config::MaxAgeTooLow,
    Config::DuplicateSts,
    Config::RedirectDropsQuery,
    Config::LocationWithRawSpace,
];

/// Every case not listed passes; these are the others, with their verdicts.
fn expected(config: Config) -> BTreeMap<&'static str, VerdictKind> {
    use VerdictKind::{Fail, Unsupported, Warn};
    // Without a field there is no syntax or max-age to judge.
    let no_field = [
        ("hsts/https/sts-present", Warn),
        ("hsts/https/valid-syntax", Unsupported),
        ("hsts/https/has-max-age", Unsupported),
        ("hsts/https/max-age-above-zero", Unsupported),
        ("preload/max-age-one-year", Warn),
        ("preload/include-subdomains", Warn),
        ("preload/preload-directive", Warn),
    ];
    let list: Vec<(&str, VerdictKind)> = match config {
        Config::Good => vec![],
        Config::NoSts => no_field.to_vec(),
        Config::StsOverHttpOnly => {
            let mut list = no_field.to_vec();
            list.push(("hsts/http/no-sts-over-http", Fail));
            list
        }
        Config::Found302ForHttps => vec![
            ("redirect/http-to-https/is-permanent", Warn),
            ("redirect/non-get/post-gets-307-or-308", Warn),
        ],
        Config::MaxAgeTooLow => vec![("preload/max-age-one-year", Warn)],
        Config::DuplicateSts => vec![("hsts/https/at-most-one-field", Fail)],
        Config::RedirectDropsQuery => vec![("redirect/http-to-https/keeps-query", Warn)],
        Config::LocationWithRawSpace => vec![("location/uri-reference", Fail)],
    };
    list.into_iter().collect()
}

/// The STS fields the https site sends, and those the http site sends.
fn sts_fields(config: Config) -> (Vec<&'static str>, Vec<&'static str>) {
    match config {
        Config::NoSts => (vec![], vec![]),
        Config::StsOverHttpOnly => (vec![], vec![STS_GOOD]),
        Config::MaxAgeTooLow => (vec!["max-age=300; includeSubDomains; preload"], vec![]),
        Config::DuplicateSts => (vec![STS_GOOD, STS_GOOD], vec![]),
        _ => (vec![STS_GOOD], vec![]),
    }
}

fn http_status(config: Config) -> u16 {
    if config == Config::Found302ForHttps {
        302
    } else {
        308
    }
}

fn moved_target(config: Config) -> &'static str {
    if config == Config::LocationWithRawSpace {
        "/a b"
    } else {
        "/target"
    }
}

/// Which web server, and how it is configured and started.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Nginx,
    Caddy,
}

impl Kind {
    fn program(self) -> &'static str {
        match self {
            Kind::Nginx => "nginx",
            Kind::Caddy => "caddy",
        }
    }

    fn config(self, config: Config, dir: &Path, http: u16, https: u16) -> String {
        let d = dir.display();
        let (https_sts, http_sts) = sts_fields(config);
        match self {
            Kind::Nginx => {
                let header = |fields: &[&str]| {
                    fields
                        .iter()
                        .map(|v| format!("    add_header Strict-Transport-Security \"{v}\" always;\n"))
                        .collect::<String>()
                };
                let uri = if config == Config::RedirectDropsQuery {
                    "$uri"
                } else {
                    "$request_uri"
                };
                let statuses: String = REDIRECT_STATUSES
                    .iter()
                    .map(|s| format!("    location = /status/{s} {{ return {s} /target; }}\n"))
                    .collect();
                format!(
                    "master_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
                     events {{ worker_connections 64; }}\n\
                     http {{\n  access_log off;\n  client_body_temp_path {d}/tmp;\n  proxy_temp_path {d}/tmp;\n  \
                     fastcgi_temp_path {d}/tmp;\n  uwsgi_temp_path {d}/tmp;\n  scgi_temp_path {d}/tmp;\n  \
                     server {{\n    listen 127.0.0.1:{http};\n    server_name {HOST};\n{}    \
                     location / {{ return {} https://$host{uri}; }}\n  }}\n  \
                     server {{\n    listen 127.0.0.1:{https} ssl;\n    server_name {HOST};\n    \
                     ssl_certificate {d}/cert.pem;\n    ssl_certificate_key {d}/key.pem;\n    root {d}/www;\n{}{}    \
                     location = /moved {{ return 301 \"{}\"; }}\n  }}\n}}\n",
                    header(&http_sts),
                    http_status(config),
                    header(&https_sts),
                    statuses,
                    moved_target(config),
                )
            }
            Kind::Caddy => {
                let header = |fields: &[&str]| {
                    fields
                        .iter()
                        .enumerate()
                        .map(|(i, v)| {
                            // `+` adds a field line instead of replacing the first.
                            let add = if i == 0 { "" } else { "+" };
                            format!("  header {add}Strict-Transport-Security \"{v}\"\n")
                        })
                        .collect::<String>()
                };
                let uri = if config == Config::RedirectDropsQuery {
                    "{path}"
                } else {
                    "{uri}"
                };
                let statuses: String = REDIRECT_STATUSES
                    .iter()
                    .map(|s| format!("  redir /status/{s} /target {s}\n"))
                    .collect();
                format!(
                    "{{\n  admin off\n  auto_https disable_redirects\n  skip_install_trust\n  \
                     http_port {http}\n  https_port {https}\n  storage file_system {d}/storage\n}}\n\
                     http://{HOST}:{http} {{\n  bind 127.0.0.1\n{}  redir https://{{host}}{uri} {}\n}}\n\
                     https://{HOST}:{https} {{\n  bind 127.0.0.1\n  tls {d}/cert.pem {d}/key.pem\n{}{}  \
                     redir /moved \"{}\" 301\n  root * {d}/www\n  file_server\n}}\n",
                    header(&http_sts),
                    http_status(config),
                    header(&https_sts),
                    statuses,
                    moved_target(config),
                )
            }
        }
    }

    fn command(self, binary: &Path, dir: &Path) -> Command {
        let mut command = Command::new(binary);
        match self {
            Kind::Nginx => {
                command
                    .arg("-p")
                    .arg(dir)
                    .arg("-e")
                    .arg(dir.join("error.log"))
                    .arg("-c")
                    .arg(dir.join("server.conf"))
                    .args(["-g", "daemon off;"]);
            }
            Kind::Caddy => {
                command
                    .arg("run")
                    .arg("--config")
                    .arg(dir.join("server.conf"))
                    .args(["--adapter", "caddyfile"])
                    .env("HOME", dir)
                    .env("XDG_DATA_HOME", dir.join("data"))
                    .env("XDG_CONFIG_HOME", dir.join("config"));
            }
        }
        command
    }
}

/// The server's program, or `None` when it is not installed (the test
/// fails then, unless `HOPCHECK_ALLOW_SKIP=1`).
fn find_binary(kind: Kind) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/usr/bin".into()])
        .map(|dir| dir.join(kind.program()))
        .find(|candidate| candidate.is_file())
}

fn binary_or_skip(kind: Kind) -> Option<PathBuf> {
    match find_binary(kind) {
        Some(binary) => Some(binary),
        None if std::env::var("HOPCHECK_ALLOW_SKIP").as_deref() == Ok("1") => {
            eprintln!(
                "skipped: {} is not installed (apt-get install -y nginx caddy); HOPCHECK_ALLOW_SKIP=1",
                kind.program()
            );
            None
        }
        None => panic!(
            "{} is not installed: run `apt-get install -y nginx caddy` (or set HOPCHECK_ALLOW_SKIP=1 to skip)",
            kind.program()
        ),
    }
}

/// A running server; killed and reaped when dropped, also on a failed assert.
struct Server {
    child: Child,
    http: u16,
    https: u16,
    dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn start(kind: Kind, binary: &Path, config: Config, ca: &TestCa) -> Server {
    // A port taken between choosing and binding makes the start fail; try again.
    for _ in 0..3 {
        let dir = tempfile::tempdir().expect("temp dir");
        let (http, https) = (free_port(), free_port());
        let (cert, key) = ca.leaf_pem(HOST).expect("leaf");
        std::fs::write(dir.path().join("cert.pem"), cert).expect("cert");
        std::fs::write(dir.path().join("key.pem"), key).expect("key");
        std::fs::create_dir_all(dir.path().join("www")).expect("www");
        std::fs::create_dir_all(dir.path().join("tmp")).expect("tmp");
        std::fs::write(dir.path().join("www/index.html"), "<p>hello</p>\n").expect("index");
        std::fs::write(
            dir.path().join("server.conf"),
            kind.config(config, dir.path(), http, https),
        )
        .expect("conf");
        let log = std::fs::File::create(dir.path().join("output.log")).expect("log");
        let child = kind
            .command(binary, dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start the server");
        let mut server = Server {
            child,
            http,
            https,
            dir,
        };
        if wait_ready(&mut server) {
            return server;
        }
    }
    panic!(
        "{} did not start with {config:?} (see its output.log above)",
        kind.program()
    );
}

fn wait_ready(server: &mut Server) -> bool {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = server.child.try_wait() {
            let log = std::fs::read_to_string(server.dir.path().join("output.log")).unwrap_or_default();
            eprintln!("server exited early:\n{log}");
            return false;
        }
        let up = |port: u16| TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], port))).is_ok();
        if up(server.http) && up(server.https) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

fn catalogue() -> Catalogue {
    Catalogue::load(&hopcheck::project_dir("suites").join("requirements.toml")).expect("catalogue")
}

fn cases(catalogue: &Catalogue) -> Vec<ProbeCase> {
    let suite = probe::load_probes(&hopcheck::project_dir("probes"), catalogue).expect("probes");
    assert!(suite.errors.is_empty(), "{:#?}", suite.errors);
    suite.cases
}

fn client(ca: &TestCa, https: u16, http: u16) -> ProbeClient {
    let ca_file = tempfile::NamedTempFile::new().expect("ca file");
    ca.write_pem(ca_file.path()).expect("write ca");
    ProbeClient {
        base: probe::parse_base(&format!("https://{HOST}/")).expect("base"),
        https_address: Some(format!("127.0.0.1:{https}")),
        http_address: Some(format!("127.0.0.1:{http}")),
        tls: probe::tls_config(Some(ca_file.path())).expect("tls"),
        timeout: Duration::from_secs(5),
    }
}

fn not_passed(report: &ProbeReport) -> BTreeMap<String, VerdictKind> {
    report
        .results
        .iter()
        .filter(|r| r.judgement.kind != VerdictKind::Pass)
        .map(|r| (r.id.clone(), r.judgement.kind))
        .collect()
}

fn describe(report: &ProbeReport) -> String {
    report
        .results
        .iter()
        .filter(|r| r.judgement.kind != VerdictKind::Pass)
        .map(|r| format!("{} {}: {}\n", r.judgement.kind, r.id, r.judgement.reason))
        .collect()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Probes `kind` under the good and every bad configuration, asserting each
/// yields exactly its expected verdicts, and that no server process is left.
fn probe_every_config(kind: Kind) {
    let Some(binary) = binary_or_skip(kind) else {
        return;
    };
    let ca = TestCa::new().expect("ca");
    let catalogue = catalogue();
    let cases = cases(&catalogue);
    let mut dirs = Vec::new();
    for config in std::iter::once(Config::Good).chain(BAD) {
        let server = start(kind, &binary, config, &ca);
        dirs.push(server.dir.path().to_owned());
        let report = runtime().block_on(probe::probe_all(
            &client(&ca, server.https, server.http),
            &catalogue,
            &cases,
        ));
        let want: BTreeMap<String, VerdictKind> = expected(config)
            .into_iter()
            .map(|(id, kind)| (id.to_owned(), kind))
            .collect();
        assert_eq!(
            not_passed(&report),
            want,
            "{} with {config:?}:\n{}",
            kind.program(),
            describe(&report)
        );
        drop(server);
    }
    for dir in dirs {
        let left = Command::new("pgrep")
            .args(["-f", &dir.display().to_string()])
            .output()
            .expect("pgrep");
        assert!(
            left.stdout.is_empty(),
            "processes left: {}",
            String::from_utf8_lossy(&left.stdout)
        );
        assert!(!dir.exists(), "{} left behind", dir.display());
    }
}

#[test]
fn nginx_passes_good_and_fails_each_bad_configuration_exactly() {
    probe_every_config(Kind::Nginx);
}

#[test]
fn caddy_passes_good_and_fails_each_bad_configuration_exactly() {
    probe_every_config(Kind::Caddy);
}

/// A scripted bad origin: every response wrong in the ways no bad server
/// configuration above shows (no Location, userinfo, another host, two
/// broken STS fields, a 304 without the 200's fields).
mod scripted {
    use std::convert::Infallible;

    use bytes::Bytes;
    use http_body_util::Full;
    use hyper::{Request, Response};
    use hyper_util::rt::TokioIo;
    use tokio::net::TcpListener;

    use super::*;

    fn answer(https: bool, request: &Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
        let path = request.uri().path();
        let mut response = Response::builder();
        let status: u16 = if !https {
            response = response.header("location", "http://other.test/elsewhere");
            if request.method() == hyper::Method::POST {
                302
            } else {
                301
            }
        } else if let Some(code) = path.strip_prefix("/status/") {
            // A redirect status without the Location it should carry.
            code.parse().unwrap_or(500)
        } else if path == "/moved" {
            response = response.header("location", "https://user@site.test/target");
            301
        } else if path == "/index.html" && request.headers().contains_key("if-none-match") {
            304
        } else {
            response = response
                .header("etag", "\"v1\"")
                .header("cache-control", "max-age=60")
                .header("strict-transport-security", "max-age=0")
                .header("strict-transport-security", "max-age=1; max-age=2");
            200
        };
        response
            .status(status)
            .body(Full::new(Bytes::new()))
            .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
    }

    /// Serves until the task is dropped; returns the bound port.
    pub async fn serve(tls: Option<Arc<rustls::ServerConfig>>) -> (u16, tokio::task::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else { return };
                let tls = tls.clone();
                tokio::spawn(async move {
                    let https = tls.is_some();
                    let service = hyper::service::service_fn(move |request| async move {
                        Ok::<_, Infallible>(answer(https, &request))
                    });
                    let builder = hyper::server::conn::http1::Builder::new();
                    match tls {
                        Some(config) => {
                            if let Ok(stream) = tokio_rustls::TlsAcceptor::from(config).accept(tcp).await {
                                let _ = builder.serve_connection(TokioIo::new(stream), service).await;
                            }
                        }
                        None => {
                            let _ = builder.serve_connection(TokioIo::new(tcp), service).await;
                        }
                    }
                });
            }
        });
        (port, task)
    }
}

/// Each probe case shown able to fail: some bad configuration above
/// expects a miss of it (checked against nginx and Caddy by the tests
/// above), or the scripted bad origin makes it miss here.
#[test]
fn every_probe_case_misses_under_some_bad_server() {
    let ca = TestCa::new().expect("ca");
    let catalogue = catalogue();
    let cases = cases(&catalogue);
    let report = runtime().block_on(async {
        let (https, https_task) = scripted::serve(Some(ca.server_config(HOST, CertKind::Valid))).await;
        let (http, http_task) = scripted::serve(None).await;
        let report = probe::probe_all(&client(&ca, https, http), &catalogue, &cases).await;
        https_task.abort();
        http_task.abort();
        report
    });
    let missed = |kind: VerdictKind| matches!(kind, VerdictKind::Fail | VerdictKind::Warn | VerdictKind::Info);
    let mut shown: BTreeSet<String> = report
        .results
        .iter()
        .filter(|r| missed(r.judgement.kind))
        .map(|r| r.id.clone())
        .collect();
    for config in BAD {
        shown.extend(
            expected(config)
                .into_iter()
                .filter(|(_, kind)| missed(*kind))
                .map(|(id, _)| id.to_owned()),
        );
    }
    let never: Vec<&str> = cases
        .iter()
        .map(|c| c.id.as_str())
        .filter(|id| !shown.contains(*id))
        .collect();
    assert!(
        never.is_empty(),
        "never shown to fail: {never:?}\nscripted:\n{}",
        describe(&report)
    );
}

/// Bad input ends a case with `error` and its reason, within the timeout.
#[test]
fn unreachable_tls_failure_garbage_and_endless_answers_are_errors() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let ca = TestCa::new().expect("ca");
    let catalogue = catalogue();
    let cases: Vec<ProbeCase> = cases(&catalogue)
        .into_iter()
        .filter(|c| c.id == "hsts/https/sts-present")
        .collect();
    runtime().block_on(async {
        // Answers with `reply`, then keeps the connection open without a word more.
        async fn stub(reply: &'static [u8]) -> u16 {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let port = listener.local_addr().expect("addr").port();
            tokio::spawn(async move {
                while let Ok((mut tcp, _)) = listener.accept().await {
                    tokio::spawn(async move {
                        let mut buf = [0u8; 4096];
                        let _ = tcp.read(&mut buf).await;
                        let _ = tcp.write_all(reply).await;
                        tokio::time::sleep(Duration::from_secs(30)).await;
                    });
                }
            });
            port
        }
        let closed = free_port();
        let garbage = stub(b"SSH-2.0-OpenSSH_9.2\r\n").await;
        let endless = stub(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npartial").await;
        let mut plain_client = client(&ca, garbage, garbage);
        // The garbage stub over TLS: a failed handshake.
        let tls_report = probe::probe_all(&plain_client, &catalogue, &cases).await;
        assert_error(&tls_report, "TLS handshake failed");
        plain_client.https_address = Some(format!("127.0.0.1:{closed}"));
        assert_error(
            &probe::probe_all(&plain_client, &catalogue, &cases).await,
            "cannot connect",
        );
        plain_client.https_address = None;
        assert_error(&probe::probe_all(&plain_client, &catalogue, &cases).await, "no address");

        // Plain-HTTP cases against the stubs: garbage and a body that never ends.
        let http_case: Vec<ProbeCase> = super_cases(&catalogue, "hsts/http/no-sts-over-http");
        let mut client = client(&ca, garbage, garbage);
        client.timeout = Duration::from_millis(500);
        assert_error(
            &probe::probe_all(&client, &catalogue, &http_case).await,
            "no HTTP response",
        );
        client.http_address = Some(format!("127.0.0.1:{endless}"));
        // The reason names the request's own limit: the probe gave up on the
        // endless body, it did not wait for an end that never comes.
        assert_error(
            &probe::probe_all(&client, &catalogue, &http_case).await,
            "no complete response within 500 ms",
        );
    });
}

fn super_cases(catalogue: &Catalogue, id: &str) -> Vec<ProbeCase> {
    cases(catalogue).into_iter().filter(|c| c.id == id).collect()
}

fn assert_error(report: &ProbeReport, reason: &str) {
    let result = &report.results[0];
    assert_eq!(result.judgement.kind, VerdictKind::Error, "{result:#?}");
    assert!(result.judgement.reason.contains(reason), "{}", result.judgement.reason);
    assert!(report.has_failures());
}
