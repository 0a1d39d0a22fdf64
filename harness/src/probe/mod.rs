//! Probe mode: hopcheck as the client, judging a server's redirects and HSTS
//! headers. Owns the server-side cases (`probes/`), the client that sends
//! them, their judgement and the probe report.
//!
//! [`load`] reads `probes/<area>/<name>.toml` (errors located like case
//! files'); [`client`] sends each case's requests to the one address given
//! per scheme, following nothing; [`judge`] turns the answers into a
//! [`VerdictKind`]. RFC checks are graded by the cited requirement's level;
//! the `preload` area checks the HSTS preload list's submission rules, which
//! are no RFC's: a miss there is `warn` with a stable issue code.

pub mod client;
pub mod judge;
pub mod load;

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::case::Catalogue;
use crate::verdict::VerdictKind;

pub use client::{parse_base, tls_config, ProbeClient, ProbeError, SetupError};
pub use judge::{Answer, Check, Judgement};
pub use load::{load_probes, parse_probe, ProbeCase, ProbeRequest, ProbeSuite, Scheme};

/// The `format` of a probe report.
pub const REPORT_FORMAT: &str = "hopcheck-probe/1";

/// One request of a case and what came back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exchange {
    pub method: String,
    pub url: String,
    /// The answer, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<Answer>,
}

/// The result of one probe case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeResult {
    pub id: String,
    pub requirements: Vec<String>,
    #[serde(flatten)]
    pub judgement: Judgement,
    pub exchanges: Vec<Exchange>,
}

/// A probe run, as written to `<out>/probe-<host>.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeReport {
    pub format: String,
    pub url: String,
    pub https_address: Option<String>,
    pub http_address: Option<String>,
    /// How many cases ended with each verdict.
    pub counts: BTreeMap<VerdictKind, usize>,
    pub results: Vec<ProbeResult>,
}

impl ProbeReport {
    /// Whether any case failed or could not be probed (exit status 1).
    pub fn has_failures(&self) -> bool {
        self.results
            .iter()
            .any(|r| matches!(r.judgement.kind, VerdictKind::Fail | VerdictKind::Error))
    }

    /// Write the report as pretty JSON, atomically.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let json = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        crate::report::write_atomic(path, &json)
    }
}

/// Send one case's requests in order and judge the answers. A request that
/// gets no answer ends the case with an `error` verdict naming why.
pub async fn probe_case(client: &ProbeClient, catalogue: &Catalogue, case: &ProbeCase) -> ProbeResult {
    let mut exchanges = Vec::new();
    let mut sent: Vec<(url::Url, Answer)> = Vec::new();
    let mut failure = None;
    for request in &case.file.request {
        let url = client.url_of(request);
        let extra = match (request.conditional, sent.last()) {
            (true, Some((_, previous))) => validators(previous),
            _ => Vec::new(),
        };
        let outcome = client.send(request, &extra).await;
        exchanges.push(Exchange {
            method: request.method.clone(),
            url: url.to_string(),
            answer: outcome.as_ref().ok().cloned(),
        });
        match outcome {
            Ok(answer) => sent.push((url, answer)),
            Err(error) => {
                failure = Some(format!("{} {url}: {error}", request.method));
                break;
            }
        }
    }
    let judgement = match failure {
        Some(reason) => Judgement {
            kind: VerdictKind::Error,
            code: None,
            reason,
        },
        None => judge::judge(case, catalogue, &sent),
    };
    ProbeResult {
        id: case.id.clone(),
        requirements: case.file.requirements.clone(),
        judgement,
        exchanges,
    }
}

/// Probe every case (one after another: a server sees one request at a time)
/// and collect the report.
pub async fn probe_all(client: &ProbeClient, catalogue: &Catalogue, cases: &[ProbeCase]) -> ProbeReport {
    let mut results = Vec::new();
    for case in cases {
        results.push(probe_case(client, catalogue, case).await);
    }
    let mut counts = BTreeMap::new();
    for result in &results {
        *counts.entry(result.judgement.kind).or_insert(0) += 1;
    }
    ProbeReport {
        format: REPORT_FORMAT.to_owned(),
        url: client.base.to_string(),
        https_address: client.https_address.clone(),
        http_address: client.http_address.clone(),
        counts,
        results,
    }
}

/// The conditional request's fields from the previous answer's validators.
fn validators(previous: &Answer) -> Vec<(String, String)> {
    let mut fields = Vec::new();
    if let Some(etag) = previous.values("etag").next() {
        fields.push(("if-none-match".to_owned(), etag.to_owned()));
    }
    if let Some(modified) = previous.values("last-modified").next() {
        fields.push(("if-modified-since".to_owned(), modified.to_owned()));
    }
    fields
}
