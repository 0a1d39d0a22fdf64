//! Reports: the results JSON of one target (the CLI contract's format), the
//! comparison with a target's known failures, and atomic writing.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::case::Profile;
use crate::runner::CaseResult;
use crate::verdict::VerdictKind;

/// One target's results under one profile: `reports/<target>.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// hopcheck's version.
    pub hopcheck: String,
    /// Fingerprint of the suite's files (`fnv64:` of ids and contents).
    pub suite: String,
    pub target: TargetInfo,
    pub profile: Profile,
    /// Count per verdict.
    pub summary: BTreeMap<VerdictKind, usize>,
    pub results: Vec<ResultRecord>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TargetInfo {
    pub name: String,
    pub version: String,
}

/// One case's row in a report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResultRecord {
    #[serde(flatten)]
    pub result: CaseResult,
    /// The reason the target's known-failures file gives, if it lists this case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known_failure: Option<String>,
}

impl Report {
    pub fn new(suite: String, target: TargetInfo, profile: Profile, results: Vec<ResultRecord>) -> Report {
        let mut summary: BTreeMap<VerdictKind, usize> = VerdictKind::ALL.iter().map(|k| (*k, 0)).collect();
        for r in &results {
            *summary.entry(r.result.verdict.kind).or_default() += 1;
        }
        Report {
            hopcheck: env!("CARGO_PKG_VERSION").to_owned(),
            suite,
            target,
            profile,
            summary,
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

/// Write `bytes` to `path` so that readers see the old file or the new one, never a part.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.write_all(b"\n")?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// A result that disagrees with the target's known failures.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unexpected {
    /// Failed (or broke) and is not listed.
    Failed {
        id: String,
        verdict: VerdictKind,
        detail: String,
    },
    /// Listed as a known failure but passed.
    Passed { id: String, reason: String },
    /// Listed, but no such case was run.
    Stale { id: String },
}

impl std::fmt::Display for Unexpected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unexpected::Failed { id, verdict, detail } => write!(f, "{id}: {verdict}: {detail}"),
            Unexpected::Passed { id, reason } => {
                write!(
                    f,
                    "{id}: passed, but the known-failures file lists it (\"{reason}\"); remove the entry"
                )
            }
            Unexpected::Stale { id } => write!(f, "{id}: listed in the known-failures file, but no such case ran"),
        }
    }
}

/// Whether a verdict counts as a failure for exit codes and known-failure lists.
pub fn is_failure(kind: VerdictKind) -> bool {
    matches!(kind, VerdictKind::Fail | VerdictKind::Error)
}

/// Compare results with a known-failures list. `listed` holds every id the
/// list names for this profile; `all_cases_ran` says whether ids not among
/// the results are stale (true for an unfiltered run).
pub fn unexpected(results: &[ResultRecord], listed: &[String], all_cases_ran: bool) -> Vec<Unexpected> {
    let mut out = Vec::new();
    for r in results {
        let failed = is_failure(r.result.verdict.kind);
        match (&r.known_failure, failed) {
            (None, true) => out.push(Unexpected::Failed {
                id: r.result.id.clone(),
                verdict: r.result.verdict.kind,
                detail: r.result.verdict.detail.clone(),
            }),
            (Some(reason), false) => out.push(Unexpected::Passed {
                id: r.result.id.clone(),
                reason: reason.clone(),
            }),
            _ => {}
        }
    }
    if all_cases_ran {
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

    fn record(id: &str, kind: VerdictKind, known_failure: Option<&str>) -> ResultRecord {
        ResultRecord {
            result: CaseResult {
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
            known_failure: known_failure.map(str::to_owned),
        }
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
        for key in ["hopcheck", "suite", "target", "profile", "results"] {
            assert!(json.get(key).is_some(), "{key}");
        }
        assert_eq!(json["target"]["name"], "t");
        assert_eq!(json["profile"], "fetch");
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
    fn unexpected_names_unlisted_failures_listed_passes_and_stale_entries() {
        let records = vec![
            record("fails", VerdictKind::Fail, None),
            record("listed-fails", VerdictKind::Fail, Some("why")),
            record("listed-passes", VerdictKind::Pass, Some("why")),
            record("warns", VerdictKind::Warn, None),
        ];
        let listed = vec!["listed-fails".to_owned(), "listed-passes".to_owned(), "gone".to_owned()];
        let found = unexpected(&records, &listed, true);
        let ids: Vec<String> = found
            .iter()
            .map(|u| match u {
                Unexpected::Failed { id, .. } | Unexpected::Passed { id, .. } | Unexpected::Stale { id } => id.clone(),
            })
            .collect();
        assert_eq!(ids, ["fails", "listed-passes", "gone"]);
        assert_eq!(
            unexpected(&records, &listed, false).len(),
            2,
            "a filtered run does not flag stale entries"
        );
    }
}
