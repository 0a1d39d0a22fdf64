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
