//! What a report keeps of one case's run: the verdict, each hop and each
//! step result, with bodies reduced to what a reader needs ([`BodyRecord`]).
//!
//! These are the report's own types, not the runner's: the runner keeps
//! every byte in memory for the verdict; a results file keeps a body's bytes
//! only when it is small or when a body expectation failed on it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::case::{HopKind, Level};
use crate::origin::{escape_bytes, Arrival, Hop};
use crate::runner::CaseResult;
use crate::targets::StepResult;
use crate::verdict::{Mismatch, Verdict};

/// Bodies up to this many bytes are recorded whole (base64).
pub const INLINE_LIMIT: usize = 1024;
/// How many leading bytes a longer body keeps ([`BodyDigest::head`]).
pub const HEAD_BYTES: usize = 64;
/// At most this many bytes of a longer body are kept when a body expectation
/// failed on it ([`FailedBody::cap`]).
pub const FAILED_BODY_CAP: usize = 64 * 1024;

/// One case's row in a report: the runner's [`CaseResult`] with its bodies
/// recorded as [`BodyRecord`]s.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CaseRecord {
    /// The case id, its path under `suites/` without `.toml`.
    pub id: String,
    pub requirements: Vec<String>,
    pub level: Level,
    /// Flattened: `verdict`, `detail`, `outcome` and `evidence` sit in the row itself.
    #[serde(flatten)]
    pub verdict: Verdict,
    /// What the origins saw, in arrival order.
    pub hops: Vec<HopRecord>,
    /// What the client reported, one per step of the case.
    pub steps: Vec<StepRecord>,
    /// What the target wrote to stderr while running this case.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stderr: String,
    pub duration_ms: u64,
}

/// One attempt an origin saw (the runner's [`Hop`], with its URL spelt out).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HopRecord {
    /// 1-based, in arrival order across the whole case.
    pub index: usize,
    pub kind: HopKind,
    /// Why an attempt did not become a request, for kinds other than `request`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The first line of an unparsable request, escaped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<String>,
    /// `scheme://host[:port]path?query` for a request; for another kind, a
    /// sentence saying what the attempt was ([`Hop::url`]).
    pub url: String,
    /// `http` or `https`, as sniffed on the wire.
    pub scheme: String,
    pub host: String,
    pub port: u16,
    pub arrival: Arrival,
    pub method: String,
    /// The request-target exactly as sent.
    pub target: String,
    /// Header fields in the order received, names lowercased.
    pub headers: Vec<(String, String)>,
    pub body: BodyRecord,
    /// The origin cut the body at its own cap before recording it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub body_truncated: bool,
    /// SNI the client sent, when the hop came over TLS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sni: Option<String>,
    /// Which connection carried it (per listener, from 1).
    pub connection: u64,
    /// Status the origin answered (0 when it answered nothing).
    pub status: u16,
    /// No origin rule matched: the origin answered 404.
    pub unscripted: bool,
}

/// What the client reported for one step.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StepRecord {
    /// Final status, when the client got a response it reports as final.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Final URL, as the client reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    pub body: BodyRecord,
    /// The client reported an error instead of a response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A body as a report keeps it: whole when it is at most 1 KiB
/// ([`INLINE_LIMIT`]), as a base64 string; else its length, SHA-256 and
/// first bytes, as an object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum BodyRecord {
    /// The whole body, base64 (standard alphabet, padded).
    Whole(
        #[serde(with = "crate::base64_bytes")]
        #[schemars(with = "String")]
        Vec<u8>,
    ),
    /// A body longer than 1 KiB.
    Digest(BodyDigest),
}

impl Default for BodyRecord {
    fn default() -> Self {
        BodyRecord::Whole(Vec::new())
    }
}

/// A long body: enough to tell two apart and to see what it starts with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BodyDigest {
    /// Length in bytes.
    pub length: usize,
    /// SHA-256 of the whole body, lowercase hex.
    pub sha256: String,
    /// The first 64 bytes ([`HEAD_BYTES`]), base64.
    #[serde(with = "crate::base64_bytes")]
    #[schemars(with = "String")]
    pub head: Vec<u8>,
    /// Present when a body expectation failed on this body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<FailedBody>,
}

/// The bytes of a long body a body expectation failed on, up to a cap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FailedBody {
    /// The first `min(length, cap)` bytes, base64.
    #[serde(with = "crate::base64_bytes")]
    #[schemars(with = "String")]
    pub bytes: Vec<u8>,
    /// The cap the bytes were cut at (64 KiB, [`FAILED_BODY_CAP`], when written).
    pub cap: usize,
}

impl BodyRecord {
    /// Record `bytes`; `expectation_failed` keeps up to [`FAILED_BODY_CAP`]
    /// of a long body.
    pub fn new(bytes: &[u8], expectation_failed: bool) -> BodyRecord {
        if bytes.len() <= INLINE_LIMIT {
            return BodyRecord::Whole(bytes.to_vec());
        }
        let sha256 = Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect();
        BodyRecord::Digest(BodyDigest {
            length: bytes.len(),
            sha256,
            head: bytes[..HEAD_BYTES].to_vec(),
            failed: expectation_failed.then(|| FailedBody {
                bytes: bytes[..bytes.len().min(FAILED_BODY_CAP)].to_vec(),
                cap: FAILED_BODY_CAP,
            }),
        })
    }

    /// The body's length in bytes.
    pub fn len(&self) -> usize {
        match self {
            BodyRecord::Whole(bytes) => bytes.len(),
            BodyRecord::Digest(digest) => digest.length,
        }
    }

    /// Whether the body is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The body for people, on one line: `empty`, `5 bytes: hello`, or
    /// `1048576 bytes, sha256 ab12…, starting: xxxx…`. Bytes outside
    /// printable ASCII are written `\xNN`.
    pub fn describe(&self) -> String {
        match self {
            BodyRecord::Whole(bytes) if bytes.is_empty() => "empty".to_owned(),
            BodyRecord::Whole(bytes) => format!("{} bytes: {}", bytes.len(), escape_bytes(bytes)),
            BodyRecord::Digest(digest) => format!(
                "{} bytes, sha256 {}, starting: {}…",
                digest.length,
                digest.sha256,
                escape_bytes(&digest.head)
            ),
        }
    }
}

impl CaseRecord {
    /// Record `result`, keeping the long bodies its verdict's body
    /// expectations failed on (up to [`FAILED_BODY_CAP`]).
    pub fn new(result: &CaseResult) -> CaseRecord {
        let failed = |at: fn(&Mismatch) -> Option<usize>, index: usize| {
            result
                .verdict
                .evidence
                .iter()
                .any(|m| m.field == "body" && at(m) == Some(index))
        };
        CaseRecord {
            id: result.id.clone(),
            requirements: result.requirements.clone(),
            level: result.level,
            verdict: result.verdict.clone(),
            hops: result
                .hops
                .iter()
                .map(|hop| HopRecord::new(hop, failed(|m| m.hop, hop.index)))
                .collect(),
            steps: result
                .steps
                .iter()
                .enumerate()
                .map(|(i, step)| StepRecord::new(step, failed(|m| m.step, i + 1)))
                .collect(),
            stderr: result.stderr.clone(),
            duration_ms: result.duration_ms,
        }
    }
}

impl HopRecord {
    /// Record `hop`; `body_failed` says a body expectation failed on it.
    pub fn new(hop: &Hop, body_failed: bool) -> HopRecord {
        HopRecord {
            index: hop.index,
            kind: hop.kind,
            reason: hop.reason.clone(),
            raw: hop.raw.clone(),
            url: hop.url(),
            scheme: hop.scheme.clone(),
            host: hop.host.clone(),
            port: hop.port,
            arrival: hop.arrival,
            method: hop.method.clone(),
            target: hop.target.clone(),
            headers: hop.headers.clone(),
            body: BodyRecord::new(&hop.body, body_failed),
            body_truncated: hop.body_truncated,
            sni: hop.sni.clone(),
            connection: hop.connection,
            status: hop.status,
            unscripted: hop.unscripted,
        }
    }
}

impl StepRecord {
    /// Record `step`; `body_failed` says a body expectation failed on it.
    pub fn new(step: &StepResult, body_failed: bool) -> StepRecord {
        StepRecord {
            status: step.status,
            url: step.url.clone(),
            headers: step.headers.clone(),
            body: BodyRecord::new(&step.body, body_failed),
            error: step.error.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::VerdictKind;

    fn mismatch(hop: Option<usize>, step: Option<usize>, field: &str) -> Mismatch {
        Mismatch {
            hop,
            step,
            field: field.into(),
            expected: "e".into(),
            seen: "s".into(),
            rule: "R".into(),
            section: "§".into(),
        }
    }

    fn result(body: &[u8], evidence: Vec<Mismatch>) -> CaseResult {
        let mut hop = Hop::attempt(1, HopKind::Request, 1);
        hop.body = body.to_vec();
        let second = Hop {
            index: 2,
            ..hop.clone()
        };
        CaseResult {
            id: "a/b".into(),
            requirements: Vec::new(),
            level: Level::Must,
            verdict: Verdict {
                kind: VerdictKind::Fail,
                detail: "d".into(),
                outcome: None,
                evidence,
            },
            hops: vec![hop, second],
            steps: vec![StepResult {
                body: body.to_vec(),
                ..StepResult::default()
            }],
            stderr: String::new(),
            duration_ms: 1,
        }
    }

    #[test]
    fn small_bodies_are_kept_whole_and_long_ones_as_length_digest_and_head() {
        let small = BodyRecord::new(&[7; INLINE_LIMIT], false);
        assert_eq!(small, BodyRecord::Whole(vec![7; INLINE_LIMIT]));
        let long = vec![b'x'; 1 << 20];
        let BodyRecord::Digest(digest) = BodyRecord::new(&long, false) else {
            panic!("a 1 MiB body is recorded as a digest");
        };
        assert_eq!(digest.length, 1 << 20);
        assert_eq!(digest.head, vec![b'x'; HEAD_BYTES]);
        assert_eq!(digest.sha256.len(), 64);
        assert_eq!(digest.failed, None);
        let json = serde_json::to_string(&BodyRecord::Digest(digest)).expect("json");
        assert!(json.len() < 300, "{json}");
        assert_eq!(
            serde_json::from_str::<BodyRecord>(&json).expect("reads back").len(),
            1 << 20
        );
    }

    #[test]
    fn the_digest_is_the_sha256_of_the_whole_body() {
        let BodyRecord::Digest(digest) = BodyRecord::new(&[b'a'; 2000], false) else {
            panic!("long body");
        };
        // head -c 2000 /dev/zero | tr '\0' 'a' | sha256sum
        assert_eq!(
            digest.sha256,
            "c4a700f85b7e9e5cdbdc51170409ee2ad48bebe2f2f0957a067937531a0a3c42"
        );
        let other = BodyRecord::new(&[b'b'; 2000], false);
        assert!(matches!(other, BodyRecord::Digest(d) if d.sha256 != digest.sha256));
    }

    #[test]
    fn a_long_body_a_body_expectation_failed_on_is_kept_up_to_the_cap() {
        let long = vec![b'y'; FAILED_BODY_CAP * 2];
        let record = CaseRecord::new(&result(&long, vec![mismatch(Some(2), None, "body")]));
        let kept = |body: &BodyRecord| match body {
            BodyRecord::Digest(d) => d.failed.as_ref().map(|f| (f.bytes.len(), f.cap)),
            BodyRecord::Whole(_) => panic!("long body"),
        };
        assert_eq!(kept(&record.hops[0].body), None, "hop 1 passed its body check");
        assert_eq!(kept(&record.hops[1].body), Some((FAILED_BODY_CAP, FAILED_BODY_CAP)));
        assert_eq!(kept(&record.steps[0].body), None);

        let record = CaseRecord::new(&result(&long, vec![mismatch(None, Some(1), "body")]));
        assert_eq!(kept(&record.steps[0].body), Some((FAILED_BODY_CAP, FAILED_BODY_CAP)));
        assert_eq!(kept(&record.hops[1].body), None);

        let record = CaseRecord::new(&result(&long, vec![mismatch(Some(1), None, "method")]));
        assert_eq!(kept(&record.hops[0].body), None, "only body expectations keep bytes");
    }

    #[test]
    fn a_record_reads_back_as_written_and_describes_its_bodies() {
        let record = CaseRecord::new(&result(b"hi\n", Vec::new()));
        let json = serde_json::to_value(&record).expect("json");
        assert_eq!(json["hops"][0]["body"], "aGkK");
        assert_eq!(json["verdict"], "fail");
        let back: CaseRecord = serde_json::from_value(json).expect("reads back");
        assert_eq!(back, record);
        assert_eq!(back.hops[0].body.describe(), "3 bytes: hi\\x0A");
        assert_eq!(BodyRecord::default().describe(), "empty");
        let long = BodyRecord::new(&[b'z'; 5000], false).describe();
        assert!(
            long.starts_with("5000 bytes, sha256 ") && long.contains("starting: zzz"),
            "{long}"
        );
    }
}
