//! Harness overhead: each case against the reference user agent, timed, next
//! to a bare hyper client and server exchanging the same hops (same methods,
//! bodies, statuses, a fresh connection per hop, TLS where the case uses it)
//! without proxying, sniffing, recording or judging. Prints per-case ratios
//! and the whole suite's wall time, all measured in this one run.
//!
//! `cargo bench -p hopcheck [-- FILTER...]`; `HOPCHECK_BENCH_REPEAT` (default 5).

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{median, ms};
use hopcheck::case::{Case, CertKind, Profile};
use hopcheck::origin::{Hop, TestCa};
use hopcheck::runner::{RunConfig, Runner};
use hopcheck::targets::reference::ReferenceAgent;
use hopcheck::targets::Target;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

fn main() {
    let filters: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let repeat = common::count_from_env("HOPCHECK_BENCH_REPEAT", 5);
    let suite = common::suite();
    let cases: Vec<Case> = suite
        .cases
        .iter()
        .filter(|c| filters.is_empty() || filters.iter().any(|f| c.id.contains(f.as_str())))
        .cloned()
        .collect();
    let catalogue = Arc::new(suite.catalogue.clone());
    let rt = common::runtime();
    let runner = Arc::new(Runner::new(RunConfig::default()).expect("runner"));
    let ca = Arc::new(TestCa::new().expect("test CA"));
    let reference = ReferenceAgent::new();

    // Whole suite, parallel, as `hopcheck run` does it.
    let target: Arc<dyn Target> = Arc::new(ReferenceAgent::new());
    let started = Instant::now();
    let results = rt.block_on(runner.run_all(target, &cases, catalogue.clone(), Profile::Rfc9110, |_| {}));
    let suite_wall = started.elapsed();
    // The same without the cases that wait on purpose (an HSTS entry expiring).
    let busy: Vec<Case> = cases
        .iter()
        .filter(|c| c.file.steps.iter().all(|s| s.delay_ms == 0))
        .cloned()
        .collect();
    let target: Arc<dyn Target> = Arc::new(ReferenceAgent::new());
    let started = Instant::now();
    rt.block_on(runner.run_all(target, &busy, catalogue.clone(), Profile::Rfc9110, |_| {}));
    let busy_wall = started.elapsed();

    println!(
        "{:<58} {:>10} {:>10} {:>7}",
        "case (median of runs)", "harness", "bare", "ratio"
    );
    let (mut sum_harness, mut sum_bare, mut ratios) = (Duration::ZERO, Duration::ZERO, Vec::new());
    let mut skipped_waiting = 0;
    for (case, first) in cases.iter().zip(&results) {
        if first.hops.is_empty() {
            continue;
        }
        // A case that waits on purpose (HSTS expiry) measures its delay, not the harness.
        if case.file.steps.iter().any(|s| s.delay_ms > 0) {
            skipped_waiting += 1;
            continue;
        }
        let harness = median((0..repeat).map(|_| {
            let t = Instant::now();
            rt.block_on(runner.run_case(&reference, case, &catalogue, Profile::Rfc9110));
            t.elapsed()
        }));
        let bare = median((0..repeat).map(|_| {
            let t = Instant::now();
            rt.block_on(bare_exchange(&ca, &first.hops));
            t.elapsed()
        }));
        let ratio = harness.as_secs_f64() / bare.as_secs_f64().max(1e-9);
        println!(
            "{:<58} {:>8.2}ms {:>8.2}ms {:>7.2}",
            case.id,
            ms(harness),
            ms(bare),
            ratio
        );
        sum_harness += harness;
        sum_bare += bare;
        ratios.push(ratio);
    }
    ratios.sort_by(f64::total_cmp);
    let geo = (ratios.iter().map(|r| r.ln()).sum::<f64>() / ratios.len().max(1) as f64).exp();
    println!();
    println!(
        "cases timed: {}, runs each: {repeat} (left out: {skipped_waiting} cases that wait on purpose)",
        ratios.len()
    );
    println!(
        "overhead ratio (harness / bare hyper): total {:.2}, geometric mean {:.2}, median {:.2}, worst {:.2}",
        sum_harness.as_secs_f64() / sum_bare.as_secs_f64().max(1e-9),
        geo,
        ratios.get(ratios.len() / 2).copied().unwrap_or(0.0),
        ratios.last().copied().unwrap_or(0.0)
    );
    println!(
        "whole suite against the reference, {} cases in parallel on {} cores: {:.2} s",
        cases.len(),
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        suite_wall.as_secs_f64()
    );
    println!(
        "the same without the {} cases that wait on purpose: {:.2} s",
        cases.len() - busy.len(),
        busy_wall.as_secs_f64()
    );
}

/// The same hops with nothing but hyper: a server answering the i-th request
/// with the i-th recorded status, and a client sending each recorded request
/// on a fresh connection, over TLS when the hop was https.
async fn bare_exchange(ca: &Arc<TestCa>, hops: &[Hop]) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let statuses: Vec<(u16, bool)> = hops.iter().map(|h| (h.status, h.scheme == "https")).collect();
    let server_ca = ca.clone();
    let server = tokio::spawn(async move {
        for (status, tls) in statuses {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| async move {
                let _ = req.into_body().collect().await;
                let mut resp = hyper::Response::new(Full::new(Bytes::from_static(b"done")));
                *resp.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::OK);
                if (300..400).contains(&status) {
                    resp.headers_mut()
                        .insert("location", hyper::header::HeaderValue::from_static("/next"));
                }
                Ok::<_, hyper::Error>(resp)
            });
            let http = hyper::server::conn::http1::Builder::new();
            if tls {
                let acceptor = tokio_rustls::TlsAcceptor::from(server_ca.server_config("origin.test", CertKind::Valid));
                if let Ok(tls) = acceptor.accept(stream).await {
                    let _ = http.serve_connection(TokioIo::new(tls), service).await;
                }
            } else {
                let _ = http.serve_connection(TokioIo::new(stream), service).await;
            }
        }
    });
    for hop in hops {
        send(ca, addr, hop).await;
    }
    let _ = server.await;
}

async fn send(ca: &Arc<TestCa>, addr: SocketAddr, hop: &Hop) {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let mut req = hyper::Request::builder()
        .method(hop.method.as_str())
        .uri(hop.path_and_query.as_str());
    for (name, value) in &hop.headers {
        req = req.header(name.as_str(), value.as_str());
    }
    let req = req.body(Full::new(Bytes::from(hop.body.clone()))).expect("request");
    if hop.scheme == "https" {
        let connector = tokio_rustls::TlsConnector::from(ca.client_config());
        let name = rustls::pki_types::ServerName::try_from("origin.test").expect("name");
        let tls = connector.connect(name, stream).await.expect("tls");
        exchange(TokioIo::new(tls), req).await;
    } else {
        exchange(TokioIo::new(stream), req).await;
    }
}

async fn exchange<T>(io: T, req: hyper::Request<Full<Bytes>>)
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await.expect("handshake");
    let conn = tokio::spawn(conn);
    if let Ok(resp) = sender.send_request(req).await {
        let _ = resp.into_body().collect().await;
    }
    drop(sender);
    let _ = conn.await;
}
