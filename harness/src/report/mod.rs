//! Reports: the results file of one target under one profile (a versioned
//! JSON format, [`FORMAT`]), reading and merging such files, and the
//! comparison with a target's known failures.
//!
//! # The format
//!
//! A results file is one [`Report`] as JSON; `reports/schema.json` is its
//! JSON Schema, generated from these types ([`schema::schema_json`],
//! `hopcheck schema --report`). Its top-level keys: `format` (this
//! format's version, [`FORMAT`]; a reader refuses any other), `hopcheck`
//! (the version that wrote it), `suite` (the suite's revision), `target`
//! (`name`, `version`), `profile`, `date` (RFC 3339, UTC), `machine`
//! (hostname, OS, architecture, cores), `shard` (`index`, `count`; only in
//! the file of one shard), `summary` (count per verdict), `known_failures`
//! and `results`, one row per case sorted by id.
//!
//! Bodies are kept small ([`record::BodyRecord`]): a body of at most
//! [`record::INLINE_LIMIT`] bytes (1 KiB) is a base64 string; a longer one
//! is `{length, sha256, head}` with its first [`record::HEAD_BYTES`] bytes,
//! plus `failed: {bytes, cap}` holding up to [`record::FAILED_BODY_CAP`]
//! bytes (64 KiB) when a body expectation failed on that hop or step. The
//! verdict is reached on the whole bytes in memory before anything is
//! written.
//!
//! # Reading results
//!
//! [`read`] loads one file, with errors naming it ([`ReadError`]);
//! [`merge`] groups reports by target and profile and joins shards
//! ([`MergeError`]). In a loaded [`Report`], each row of `results` is a
//! [`ResultRecord`] whose `result` is a [`CaseRecord`]: the verdict is
//! `result.verdict` (kind, detail, evidence), and for each hop of
//! `result.hops` ([`HopRecord`]): `method`, `url` (the full URL, or a
//! sentence saying what an attempt that was no request was), `headers`
//! (name, value pairs in the order received), `status` (what the origin
//! answered) and `body.describe()` (the body in one line for people; its
//! bytes, when kept, through `body`). The client's own results per step are
//! `result.steps` ([`StepRecord`]), alike.
//!
//! # Sharding
//!
//! `hopcheck run --shard i/n` runs the cases [`Shard::holds`]: those whose
//! id's FNV-1a 64 hash is `i - 1` modulo `n`, so a case stays in its shard
//! when others are added or removed. Its file is
//! `<target>.shard-<i>-of-<n>.json` ([`Shard::file_name`]); [`merge`] joins
//! the `n` files into the report an unsharded run would have written.

mod merge;
mod read;
pub mod record;
pub mod schema;
mod write;

use std::collections::BTreeMap;
use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use merge::{merge, MergeError};
pub use read::{read, ReadError};
pub use record::{BodyRecord, CaseRecord, HopRecord, StepRecord};
pub use write::{remove_stale_temp_files, write_atomic};

use crate::case::Profile;
use crate::runner::CaseResult;
use crate::targets::spec::{KnownFailure, VersionCheck};
use crate::verdict::VerdictKind;

/// The version of the results format. Raised whenever a reader of the old
/// format would misread the new one; [`read`] refuses any other.
pub const FORMAT: u32 = 1;

/// One target's results under one profile: `reports/<target>.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Report {
    /// The version of this format ([`FORMAT`]).
    pub format: u32,
    /// hopcheck's version.
    pub hopcheck: String,
    /// The suite's revision (`fnv64:` of its case ids and files); only
    /// results of one revision are compared or merged.
    pub suite: String,
    pub target: TargetInfo,
    pub profile: Profile,
    /// When the run ended, RFC 3339 in UTC.
    pub date: String,
    /// Where it ran.
    pub machine: Machine,
    /// Which slice of the cases this file holds; absent for a whole run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
    /// Count per verdict.
    pub summary: BTreeMap<VerdictKind, usize>,
    /// Which client versions the target's known failures were made with, and
    /// whether this run's version is one of them (absent when the target
    /// declares none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known_failures: Option<KnownFailuresVersion>,
    /// One row per case, sorted by id.
    pub results: Vec<ResultRecord>,
}

/// The machine a run was made on: what is cheap to read and stays put.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Machine {
    /// Empty when it cannot be read.
    pub hostname: String,
    /// `linux`, `macos`, ... (Rust's `std::env::consts::OS`).
    pub os: String,
    /// `x86_64`, `aarch64`, ... (`std::env::consts::ARCH`).
    pub arch: String,
    /// Cores available to the run.
    pub cores: usize,
}

impl Machine {
    /// The machine this process runs on.
    pub fn current() -> Machine {
        Machine {
            hostname: hostname(),
            os: std::env::consts::OS.to_owned(),
            arch: std::env::consts::ARCH.to_owned(),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

/// gethostname(2), empty when it fails or is not UTF-8.
fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most that.
    let status = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if status != 0 {
        return String::new();
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    String::from_utf8(buf[..end].to_vec()).unwrap_or_default()
}

/// One slice of a run's cases: shard `index` of `count`, 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// Whether case `id` belongs to this shard: its FNV-1a 64 hash modulo
    /// `count` is `index - 1`.
    pub fn holds(&self, id: &str) -> bool {
        crate::verdict::fnv64(id.as_bytes()) % u64::from(self.count) == u64::from(self.index - 1)
    }

    /// `<target>.json`, or `<target>.shard-<i>-of-<n>.json` for a shard.
    pub fn file_name(shard: Option<Shard>, target: &str) -> String {
        match shard {
            None => format!("{target}.json"),
            Some(s) => format!("{target}.shard-{}-of-{}.json", s.index, s.count),
        }
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl std::str::FromStr for Shard {
    type Err = String;

    /// `i/n` with `1 <= i <= n`.
    fn from_str(text: &str) -> Result<Shard, String> {
        let usage = || format!("`{text}` is not a shard: write `i/n`, the i-th of n shards, with 1 <= i <= n");
        let (index, count) = text.split_once('/').ok_or_else(usage)?;
        let index: u32 = index.trim().parse().map_err(|_| usage())?;
        let count: u32 = count.trim().parse().map_err(|_| usage())?;
        if count == 0 || index == 0 || index > count {
            return Err(usage());
        }
        Ok(Shard { index, count })
    }
}

/// The report's `known_failures` object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct KnownFailuresVersion {
    /// The target file's `tested_versions`.
    pub made_with: Vec<String>,
    /// Whether [`TargetInfo::version`] matches one of them.
    pub version_matches: bool,
    /// What to make of a mismatch, in a sentence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl KnownFailuresVersion {
    /// The object for a version check, `None` when the target declares no versions.
    pub fn new(target: &str, made_with: &[String], check: &VersionCheck) -> Option<KnownFailuresVersion> {
        match check {
            VersionCheck::Undeclared => None,
            _ => Some(KnownFailuresVersion {
                made_with: made_with.to_vec(),
                version_matches: *check == VersionCheck::Tested,
                note: check.note(target),
            }),
        }
    }
}

/// The target a report is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TargetInfo {
    pub name: String,
    /// The client's version as the target reports it.
    pub version: String,
}

/// One case's row in a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ResultRecord {
    /// Flattened: the case's fields sit in the row itself.
    #[serde(flatten)]
    pub result: CaseRecord,
    /// The reason the target's known-failures file gives, if it lists this case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known_failure: Option<String>,
    /// The verdict the known-failures file expects, if it lists this case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_verdict: Option<VerdictKind>,
}

impl ResultRecord {
    /// A row for `result`, with the known-failures entry for its case, if any.
    pub fn new(result: CaseResult, known: Option<&KnownFailure>) -> ResultRecord {
        ResultRecord {
            result: CaseRecord::new(&result),
            known_failure: known.map(|k| k.reason.clone()),
            expected_verdict: known.map(|k| k.verdict),
        }
    }
}

impl Report {
    /// A report of `results` made now, on this machine, of the whole suite
    /// (set [`Report::shard`] for a slice).
    pub fn new(suite: String, target: TargetInfo, profile: Profile, results: Vec<ResultRecord>) -> Report {
        Report {
            format: FORMAT,
            hopcheck: env!("CARGO_PKG_VERSION").to_owned(),
            suite,
            target,
            profile,
            date: now_rfc3339(),
            machine: Machine::current(),
            shard: None,
            summary: summary(&results),
            known_failures: None,
            results,
        }
    }

    /// Write as pretty JSON to `path` atomically (a temporary file in the
    /// same folder, then a rename), creating the folder if needed.
    pub fn write_json(&self, path: &Path) -> std::io::Result<()> {
        let json = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        write_atomic(path, &json)
    }
}

/// Count per verdict, every verdict present.
fn summary(results: &[ResultRecord]) -> BTreeMap<VerdictKind, usize> {
    let mut summary: BTreeMap<VerdictKind, usize> = VerdictKind::ALL.iter().map(|k| (*k, 0)).collect();
    for r in results {
        *summary.entry(r.result.verdict.kind).or_default() += 1;
    }
    summary
}

/// The current time, RFC 3339 in UTC to the second.
fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    let now = now.replace_nanosecond(0).unwrap_or(now);
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A result that disagrees with the target's known failures.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unexpected {
    /// Got `fail`, `warn` or `error` and is not listed.
    Failed {
        id: String,
        verdict: VerdictKind,
        detail: String,
    },
    /// Listed with one verdict, got another (`pass` included).
    Changed {
        id: String,
        expected: VerdictKind,
        got: VerdictKind,
        detail: String,
        reason: String,
    },
    /// Listed, but no such case is in the suite.
    Stale { id: String },
}

impl std::fmt::Display for Unexpected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unexpected::Failed { id, verdict, detail } => write!(f, "{id}: {verdict}: {detail}"),
            Unexpected::Changed {
                id,
                expected,
                got: VerdictKind::Pass,
                reason,
                ..
            } => write!(
                f,
                "{id}: passed, but the known-failures file expects {expected} (\"{reason}\"); remove the entry"
            ),
            Unexpected::Changed {
                id,
                expected,
                got,
                detail,
                reason,
            } => write!(
                f,
                "{id}: {got}: {detail}; the known-failures file expects {expected} (\"{reason}\")"
            ),
            Unexpected::Stale { id } => write!(f, "{id}: listed in the known-failures file, but no such case ran"),
        }
    }
}

/// Whether a verdict must be listed in a known-failures file to be expected:
/// `fail`, `warn` and `error`.
pub fn is_failure(kind: VerdictKind) -> bool {
    KnownFailure::VERDICTS.contains(&kind)
}

/// Compare one case's verdict with its known-failures entry, if any: an
/// unlisted `fail`/`warn`/`error` and a listed case whose verdict differs
/// from the one recorded are unexpected.
pub fn check(
    id: &str,
    verdict: VerdictKind,
    detail: &str,
    expected: Option<(VerdictKind, &str)>,
) -> Option<Unexpected> {
    match expected {
        None if is_failure(verdict) => Some(Unexpected::Failed {
            id: id.to_owned(),
            verdict,
            detail: detail.to_owned(),
        }),
        Some((expected, reason)) if expected != verdict => Some(Unexpected::Changed {
            id: id.to_owned(),
            expected,
            got: verdict,
            detail: detail.to_owned(),
            reason: reason.to_owned(),
        }),
        _ => None,
    }
}

/// Compare results with a known-failures list. `listed` holds every id the
/// list names for this profile; `check_stale` says whether listed ids not
/// among the results are stale (true for an unfiltered run of the suite the
/// list was made for).
pub fn unexpected(results: &[ResultRecord], listed: &[String], check_stale: bool) -> Vec<Unexpected> {
    let mut out: Vec<Unexpected> = results
        .iter()
        .filter_map(|r| {
            let expected = r.expected_verdict.zip(r.known_failure.as_deref());
            check(&r.result.id, r.result.verdict.kind, &r.result.verdict.detail, expected)
        })
        .collect();
    if check_stale {
        for id in listed {
            if !results.iter().any(|r| &r.result.id == id) {
                out.push(Unexpected::Stale { id: id.clone() });
            }
        }
    }
    out
}

/// The suite's fingerprint: FNV-1a 64 over each case's id and file bytes, in id order.
pub fn suite_revision(suite: &crate::case::Suite) -> String {
    let mut all = Vec::new();
    for case in &suite.cases {
        all.extend_from_slice(case.id.as_bytes());
        all.push(0);
        all.extend_from_slice(&std::fs::read(&case.path).unwrap_or_default());
        all.push(0);
    }
    format!("fnv64:{:016x}", crate::verdict::fnv64(&all))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::Level;
    use crate::verdict::Verdict;

    pub(super) fn record(id: &str, kind: VerdictKind, known: Option<(VerdictKind, &str)>) -> ResultRecord {
        let known = known.map(|(verdict, reason)| KnownFailure {
            verdict,
            reason: reason.to_owned(),
        });
        ResultRecord::new(
            CaseResult {
                id: id.into(),
                requirements: vec!["RED-307-METHOD".into()],
                level: Level::Must,
                verdict: Verdict {
                    kind,
                    detail: "d".into(),
                    outcome: None,
                    evidence: Vec::new(),
                },
                hops: Vec::new(),
                steps: Vec::new(),
                stderr: String::new(),
                duration_ms: 1,
            },
            known.as_ref(),
        )
    }

    #[test]
    fn the_results_json_has_the_contract_s_fields_and_reads_back() {
        let report = Report::new(
            "fnv64:0".into(),
            TargetInfo {
                name: "t".into(),
                version: "1".into(),
            },
            Profile::Fetch,
            vec![record("a/b", VerdictKind::Fail, None)],
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("out/t.json");
        report.write_json(&path).expect("written");
        let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
        for key in [
            "format", "hopcheck", "suite", "target", "profile", "date", "machine", "summary", "results",
        ] {
            assert!(json.get(key).is_some(), "{key}");
        }
        assert_eq!(json["target"]["name"], "t");
        assert_eq!(json["profile"], "fetch");
        assert_eq!(json["format"], FORMAT);
        assert!(json.get("shard").is_none(), "a whole run names no shard");
        let date = json["date"].as_str().expect("date");
        assert!(
            date.len() == "2026-01-02T03:04:05Z".len() && date.ends_with('Z'),
            "{date}"
        );
        assert!(json["machine"]["cores"].as_u64().is_some_and(|n| n >= 1));
        assert_eq!(json["machine"]["os"], std::env::consts::OS);
        let row = &json["results"][0];
        for key in ["id", "requirements", "level", "verdict", "detail", "hops"] {
            assert!(row.get(key).is_some(), "{key}");
        }
        assert_eq!(row["verdict"], "fail");
        assert_eq!(json["summary"]["fail"], 1);
        let back: Report = serde_json::from_value(json).expect("reads back");
        assert_eq!(back.results[0].result.verdict.kind, VerdictKind::Fail);
    }

    #[test]
    fn unexpected_names_unlisted_failures_changed_verdicts_and_stale_entries() {
        use VerdictKind::{Error, Fail, Info, Pass, Warn};
        let records = vec![
            record("fails", Fail, None),
            record("warns", Warn, None),
            record("breaks", Error, None),
            record("passes", Pass, None),
            record("notes", Info, None),
            record("listed-fails", Fail, Some((Fail, "why"))),
            record("listed-warns", Warn, Some((Warn, "why"))),
            record("listed-fail-now-warns", Warn, Some((Fail, "why"))),
            record("listed-warn-now-passes", Pass, Some((Warn, "why"))),
            record("listed-fail-now-errors", Error, Some((Fail, "why"))),
        ];
        let listed: Vec<String> = records
            .iter()
            .filter(|r| r.known_failure.is_some())
            .map(|r| r.result.id.clone())
            .chain(["gone".to_owned()])
            .collect();
        let found = unexpected(&records, &listed, true);
        let ids: Vec<&str> = found
            .iter()
            .map(|u| match u {
                Unexpected::Failed { id, .. } | Unexpected::Changed { id, .. } | Unexpected::Stale { id } => {
                    id.as_str()
                }
            })
            .collect();
        assert_eq!(
            ids,
            [
                "fails",
                "warns",
                "breaks",
                "listed-fail-now-warns",
                "listed-warn-now-passes",
                "listed-fail-now-errors",
                "gone"
            ]
        );
        assert!(found[3].to_string().contains("expects fail"), "{}", found[3]);
        assert!(found[4].to_string().contains("passed, but"), "{}", found[4]);
        assert_eq!(
            unexpected(&records, &listed, false).len(),
            6,
            "stale entries are only looked for when asked"
        );
    }

    #[test]
    fn the_report_says_when_the_version_is_not_the_one_the_list_was_made_with() {
        let made_with = vec!["curl 7.88.1".to_owned()];
        let other = VersionCheck::new(&made_with, "curl 8.5.0 (x86_64)");
        let info = KnownFailuresVersion::new("curl", &made_with, &other).expect("declared");
        assert!(!info.version_matches);
        assert!(info.note.as_deref().is_some_and(|n| n.contains("curl 8.5.0")));
        let json = serde_json::to_value(&info).expect("json");
        assert_eq!(json["made_with"][0], "curl 7.88.1");
        let same = VersionCheck::new(&made_with, "curl 7.88.1 (x86_64)");
        let info = KnownFailuresVersion::new("curl", &made_with, &same).expect("declared");
        assert!(info.version_matches && info.note.is_none());
        assert_eq!(KnownFailuresVersion::new("curl", &[], &VersionCheck::Undeclared), None);
    }

    #[test]
    fn shards_parse_from_i_of_n_and_refuse_the_rest() {
        assert_eq!("2/4".parse::<Shard>(), Ok(Shard { index: 2, count: 4 }));
        assert_eq!("1/1".parse::<Shard>(), Ok(Shard { index: 1, count: 1 }));
        for bad in ["0/2", "3/2", "x", "1/0", "0/0", "1/", "/2", "-1/2", "1/2/3", ""] {
            let err = bad.parse::<Shard>().expect_err(bad);
            assert!(err.contains("1 <= i <= n"), "{bad}: {err}");
        }
    }

    #[test]
    fn the_shards_of_a_count_split_the_cases_between_them_without_overlap() {
        let ids: Vec<String> = (0..300).map(|i| format!("area/case-{i}")).collect();
        for count in 1..=5 {
            let shards: Vec<Shard> = (1..=count).map(|index| Shard { index, count }).collect();
            for id in &ids {
                assert_eq!(
                    shards.iter().filter(|s| s.holds(id)).count(),
                    1,
                    "{id} in {count} shards"
                );
            }
            for shard in &shards {
                let held = ids.iter().filter(|id| shard.holds(id)).count();
                assert!(held > 300 / count as usize / 2, "{shard} holds only {held} of 300");
            }
        }
    }

    #[test]
    fn shard_files_are_named_apart_from_the_whole_run() {
        assert_eq!(Shard::file_name(None, "curl"), "curl.json");
        assert_eq!(
            Shard::file_name(Some(Shard { index: 2, count: 4 }), "curl"),
            "curl.shard-2-of-4.json"
        );
    }
}
