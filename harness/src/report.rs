//! Reports: the results JSON of one target (the CLI contract's format), the
//! comparison with a target's known failures, and atomic writing.
//!
//! A report is written to `.<name>.hopcheck-tmp-<pid>-<random>` in the same
//! folder, then renamed over `<name>`. A process killed mid-write leaves that
//! file behind; [`remove_stale_temp_files`] removes those whose process is gone.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::case::Profile;
use crate::runner::CaseResult;
use crate::targets::spec::{KnownFailure, VersionCheck};
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
    /// Which client versions the target's known failures were made with, and
    /// whether this run's version is one of them (absent when the target
    /// declares none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known_failures: Option<KnownFailuresVersion>,
    pub results: Vec<ResultRecord>,
}

/// The report's `known_failures` object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    /// The verdict the known-failures file expects, if it lists this case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_verdict: Option<VerdictKind>,
}

impl ResultRecord {
    /// A row for `result`, with the known-failures entry for its case, if any.
    pub fn new(result: CaseResult, known: Option<&KnownFailure>) -> ResultRecord {
        ResultRecord {
            result,
            known_failure: known.map(|k| k.reason.clone()),
            expected_verdict: known.map(|k| k.verdict),
        }
    }
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

/// Marks hopcheck's temporary files: `.<name>` + this + `<pid>-<random>`.
const TEMP_MARK: &str = ".hopcheck-tmp-";

/// Write `bytes` to `path` so that readers see the old file or the new one,
/// never a part. The file is readable as the umask allows (0644 under the
/// usual 022), like any file the user creates.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = folder_of(path);
    std::fs::create_dir_all(dir)?;
    let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}{TEMP_MARK}{}-", std::process::id()))
        .permissions(std::fs::Permissions::from_mode(0o666))
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.write_all(b"\n")?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// The folder a file `path` goes in (`.` for a bare name).
fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// Remove the temporary files [`write_atomic`] left in `dir` when its process
/// was killed: those whose process is no longer running. Files of a running
/// process (another `hopcheck` writing there now) and anything not named by
/// [`write_atomic`] are left alone. Returns the files removed; a missing
/// folder has none.
pub fn remove_stale_temp_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut removed = Vec::new();
    for entry in entries {
        let entry = entry?;
        let Some(pid) = temp_file_owner(&entry.file_name().to_string_lossy()) else {
            continue;
        };
        if !process_is_running(pid) && entry.file_type()?.is_file() {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => removed.push(entry.path()),
                // Another run cleaned it up meanwhile.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    removed.sort();
    Ok(removed)
}

/// The pid in a name `.<name>.hopcheck-tmp-<pid>-<random>`, if it is one.
fn temp_file_owner(file_name: &str) -> Option<u32> {
    let (before, after) = file_name.rsplit_once(TEMP_MARK)?;
    let (pid, random) = after.split_once('-')?;
    let named = before.len() > 1 && before.starts_with('.');
    let pid_ok = !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit());
    (named && pid_ok && !random.is_empty()).then(|| pid.parse().ok())?
}

/// Whether process `pid` exists (signal 0 checks without sending anything;
/// EPERM means it exists under another user).
fn process_is_running(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: kill with signal 0 only checks for existence and permission.
    let alive = unsafe { libc::kill(pid, 0) } == 0;
    alive || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
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

    fn record(id: &str, kind: VerdictKind, known: Option<(VerdictKind, &str)>) -> ResultRecord {
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
    fn temp_files_are_named_after_the_report_and_their_process() {
        assert_eq!(temp_file_owner(".curl.json.hopcheck-tmp-4242-a1B2c3"), Some(4242));
        for other in [
            ".tmpA1b2C3",
            "curl.json",
            ".hopcheck-tmp-4242-a1",
            ".curl.json.hopcheck-tmp--a1",
            ".curl.json.hopcheck-tmp-42x-a1",
            ".curl.json.hopcheck-tmp-4242-",
        ] {
            assert_eq!(temp_file_owner(other), None, "{other}");
        }
    }

    #[test]
    fn stale_temp_files_of_ended_processes_are_removed_and_nothing_else() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut ended = std::process::Command::new("true").spawn().expect("spawn true");
        let ended_pid = ended.id();
        ended.wait().expect("wait");
        let stale = dir.path().join(format!(".t.json{TEMP_MARK}{ended_pid}-abc123"));
        let live = dir
            .path()
            .join(format!(".t.json{TEMP_MARK}{}-abc123", std::process::id()));
        let foreign = dir.path().join(".tmpAbC123");
        let report = dir.path().join("t.json");
        for file in [&stale, &live, &foreign, &report] {
            std::fs::write(file, b"{").expect("write");
        }
        let removed = remove_stale_temp_files(dir.path()).expect("cleanup");
        assert_eq!(removed, std::slice::from_ref(&stale));
        assert!(!stale.exists());
        assert!(live.exists() && foreign.exists() && report.exists());
        assert_eq!(
            remove_stale_temp_files(&dir.path().join("absent")).expect("no folder"),
            Vec::<PathBuf>::new()
        );
    }

    #[test]
    fn a_written_report_leaves_no_temp_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        write_atomic(&dir.path().join("t.json"), b"{}").expect("written");
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .expect("read_dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["t.json"]);
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
}
