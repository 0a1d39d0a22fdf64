//! Merging results files: one report per target and profile, the shards of
//! a run joined into the report a whole run would have written.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{summary, Report, Shard};
use crate::case::Profile;

/// Why results files cannot be merged. Each names the files concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MergeError {
    /// Two files come from different revisions of the suite.
    SuiteRevisions {
        first: PathBuf,
        first_revision: String,
        other: PathBuf,
        other_revision: String,
    },
    /// Two whole (unsharded) runs of the same target under the same profile.
    TwoRuns {
        target: String,
        profile: Profile,
        files: [PathBuf; 2],
    },
    /// A whole run and a shard of the same target under the same profile.
    RunAndShard {
        target: String,
        profile: Profile,
        files: [PathBuf; 2],
    },
    /// Shards of the same target and profile split the cases differently
    /// (`i/3` beside `j/4`).
    ShardCounts {
        target: String,
        profile: Profile,
        files: [PathBuf; 2],
    },
    /// The same shard twice.
    SameShard {
        target: String,
        profile: Profile,
        shard: Shard,
        files: [PathBuf; 2],
    },
    /// Some shards of a count are absent.
    MissingShards {
        target: String,
        profile: Profile,
        count: u32,
        missing: Vec<u32>,
        present: Vec<PathBuf>,
    },
    /// A case is in two shards.
    Overlap {
        target: String,
        profile: Profile,
        id: String,
        files: [PathBuf; 2],
    },
}

impl std::fmt::Display for MergeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MergeError::SuiteRevisions {
                first,
                first_revision,
                other,
                other_revision,
            } => write!(
                f,
                "{} is of suite revision {other_revision}, but {} is of {first_revision}; \
                 run every target with the same suite",
                other.display(),
                first.display()
            ),
            MergeError::TwoRuns { target, profile, files } => write!(
                f,
                "{} and {} both hold {target} under {profile}; keep one",
                files[0].display(),
                files[1].display()
            ),
            MergeError::RunAndShard { target, profile, files } => write!(
                f,
                "{} is a whole run of {target} under {profile}, {} a shard of one; keep the run or the shards",
                files[0].display(),
                files[1].display()
            ),
            MergeError::ShardCounts { target, profile, files } => write!(
                f,
                "{} and {} are shards of {target} under {profile} of different counts; shard every part the same way",
                files[0].display(),
                files[1].display()
            ),
            MergeError::SameShard {
                target,
                profile,
                shard,
                files,
            } => write!(
                f,
                "{} and {} are both shard {shard} of {target} under {profile}; keep one",
                files[0].display(),
                files[1].display()
            ),
            MergeError::MissingShards {
                target,
                profile,
                count,
                missing,
                present,
            } => {
                let missing: Vec<String> = missing.iter().map(|i| format!("{i}/{count}")).collect();
                let present: Vec<String> = present.iter().map(|p| p.display().to_string()).collect();
                write!(
                    f,
                    "{target} under {profile}: shard {} missing (present: {})",
                    missing.join(", "),
                    present.join(", ")
                )
            }
            MergeError::Overlap {
                target,
                profile,
                id,
                files,
            } => write!(
                f,
                "{id} is in both {} and {} ({target} under {profile}); shards must not overlap",
                files[0].display(),
                files[1].display()
            ),
        }
    }
}

impl std::error::Error for MergeError {}

/// Group `files` by target and profile and merge each group into one
/// report: a whole run as it is, the `n` shards of a run joined (rows
/// sorted by id, summary recounted, `shard` removed, the date of the
/// latest shard, the rest from shard 1). Every file must be of one suite
/// revision. The reports come sorted by target, then profile name.
pub fn merge(files: Vec<(PathBuf, Report)>) -> Result<Vec<Report>, MergeError> {
    if let Some((first_path, first)) = files.first() {
        if let Some((other_path, other)) = files.iter().find(|(_, r)| r.suite != first.suite) {
            return Err(MergeError::SuiteRevisions {
                first: first_path.clone(),
                first_revision: first.suite.clone(),
                other: other_path.clone(),
                other_revision: other.suite.clone(),
            });
        }
    }
    let mut groups: BTreeMap<(String, &str), Vec<(PathBuf, Report)>> = BTreeMap::new();
    for (path, report) in files {
        groups
            .entry((report.target.name.clone(), report.profile.as_str()))
            .or_default()
            .push((path, report));
    }
    groups.into_values().map(merge_group).collect()
}

/// Merge the files of one target and profile.
fn merge_group(mut group: Vec<(PathBuf, Report)>) -> Result<Report, MergeError> {
    // Whole runs first, then shards by index: errors name files in that order.
    group.sort_by_key(|(path, report)| (report.shard, path.clone()));
    let (first_path, first) = &group[0];
    let (target, profile) = (first.target.name.clone(), first.profile);
    let pair = |a: &Path, b: &Path| [a.to_owned(), b.to_owned()];
    let Some(count) = first.shard.map(|s| s.count) else {
        return match group.get(1) {
            None => Ok(group.remove(0).1),
            Some((other, report)) if report.shard.is_none() => Err(MergeError::TwoRuns {
                target,
                profile,
                files: pair(first_path, other),
            }),
            Some((other, _)) => Err(MergeError::RunAndShard {
                target,
                profile,
                files: pair(first_path, other),
            }),
        };
    };
    for window in group.windows(2) {
        let [(a_path, a), (b_path, b)] = window else { continue };
        let (Some(a_shard), Some(b_shard)) = (a.shard, b.shard) else {
            continue;
        };
        if a_shard.count != b_shard.count {
            return Err(MergeError::ShardCounts {
                target,
                profile,
                files: pair(a_path, b_path),
            });
        }
        if a_shard == b_shard {
            return Err(MergeError::SameShard {
                target,
                profile,
                shard: a_shard,
                files: pair(a_path, b_path),
            });
        }
    }
    let missing: Vec<u32> = (1..=count)
        .filter(|index| !group.iter().any(|(_, r)| r.shard.map(|s| s.index) == Some(*index)))
        .collect();
    if !missing.is_empty() {
        return Err(MergeError::MissingShards {
            target,
            profile,
            count,
            missing,
            present: group.into_iter().map(|(path, _)| path).collect(),
        });
    }
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (at, (path, report)) in group.iter().enumerate() {
        for row in &report.results {
            if let Some(before) = seen.insert(row.result.id.clone(), at) {
                return Err(MergeError::Overlap {
                    target,
                    profile,
                    id: row.result.id.clone(),
                    files: pair(&group[before].0, path),
                });
            }
        }
    }
    let latest = group.iter().map(|(_, r)| r.date.clone()).max().unwrap_or_default();
    // `group` is never empty: each was made from one file at least.
    let mut merged = group.remove(0).1;
    for (_, part) in group {
        merged.results.extend(part.results);
    }
    merged.results.sort_by(|a, b| a.result.id.cmp(&b.result.id));
    merged.summary = summary(&merged.results);
    merged.shard = None;
    merged.date = latest;
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::super::tests::record;
    use super::super::TargetInfo;
    use super::*;
    use crate::verdict::VerdictKind;

    fn report(target: &str, profile: Profile, shard: Option<(u32, u32)>, ids: &[&str]) -> Report {
        let mut report = Report::new(
            "fnv64:1".into(),
            TargetInfo {
                name: target.into(),
                version: "1".into(),
            },
            profile,
            ids.iter().map(|id| record(id, VerdictKind::Pass, None)).collect(),
        );
        report.shard = shard.map(|(index, count)| Shard { index, count });
        report
    }

    fn file(name: &str, report: Report) -> (PathBuf, Report) {
        (PathBuf::from(name), report)
    }

    fn shard(i: u32, n: u32, ids: &[&str]) -> (PathBuf, Report) {
        file(
            &format!("t.shard-{i}-of-{n}.json"),
            report("t", Profile::Rfc9110, Some((i, n)), ids),
        )
    }

    fn names(err: &MergeError) -> String {
        err.to_string()
    }

    #[test]
    fn shards_merge_into_the_whole_run_and_whole_runs_stay_as_they_are() {
        let whole = report("u", Profile::Fetch, None, &["a", "b"]);
        let merged = merge(vec![
            shard(2, 3, &["b", "e"]),
            file("u.json", whole.clone()),
            shard(1, 3, &["d", "a"]),
            shard(3, 3, &[]),
        ])
        .expect("merged");
        assert_eq!(merged.len(), 2);
        assert_eq!(merged[0].target.name, "t");
        let ids: Vec<&str> = merged[0].results.iter().map(|r| r.result.id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "d", "e"]);
        assert_eq!(merged[0].summary[&VerdictKind::Pass], 4);
        assert_eq!(merged[0].shard, None);
        assert_eq!(merged[1], whole);
        assert_eq!(merge(Vec::new()).expect("nothing"), Vec::new());
    }

    #[test]
    fn overlapping_shards_are_refused_naming_the_case_and_both_files() {
        let err = merge(vec![shard(1, 2, &["a", "b"]), shard(2, 2, &["b"])]).expect_err("overlap");
        assert!(matches!(&err, MergeError::Overlap { id, .. } if id == "b"), "{err:?}");
        let shown = names(&err);
        assert!(
            shown.contains("t.shard-1-of-2.json") && shown.contains("t.shard-2-of-2.json"),
            "{shown}"
        );
    }

    #[test]
    fn a_missing_shard_is_named() {
        let err = merge(vec![shard(1, 3, &["a"]), shard(3, 3, &["c"])]).expect_err("missing");
        assert!(
            matches!(&err, MergeError::MissingShards { missing, count: 3, .. } if missing == &[2]),
            "{err:?}"
        );
        let shown = names(&err);
        assert!(
            shown.contains("shard 2/3 missing") && shown.contains("t.shard-3-of-3.json"),
            "{shown}"
        );
    }

    #[test]
    fn shards_of_different_counts_are_refused() {
        let err = merge(vec![shard(1, 2, &["a"]), shard(2, 3, &["b"])]).expect_err("counts");
        assert!(matches!(err, MergeError::ShardCounts { .. }), "{err:?}");
        assert!(names(&err).contains("t.shard-2-of-3.json"), "{err}");
    }

    #[test]
    fn the_same_shard_twice_is_refused() {
        let mut again = shard(1, 2, &["c"]);
        again.0 = PathBuf::from("elsewhere/t.shard-1-of-2.json");
        let err = merge(vec![shard(1, 2, &["a"]), again, shard(2, 2, &["b"])]).expect_err("twice");
        assert!(matches!(err, MergeError::SameShard { .. }), "{err:?}");
        assert!(names(&err).contains("elsewhere/t.shard-1-of-2.json"), "{err}");
    }

    #[test]
    fn another_suite_revision_is_refused_naming_both_files() {
        let mut other = file("v.json", report("v", Profile::Rfc9110, None, &["a"]));
        other.1.suite = "fnv64:2".into();
        let err =
            merge(vec![file("u.json", report("u", Profile::Rfc9110, None, &["a"])), other]).expect_err("revisions");
        assert!(matches!(err, MergeError::SuiteRevisions { .. }), "{err:?}");
        let shown = names(&err);
        assert!(
            shown.contains("v.json") && shown.contains("u.json") && shown.contains("fnv64:2"),
            "{shown}"
        );
    }

    #[test]
    fn two_whole_runs_of_one_target_and_profile_are_refused_and_a_run_beside_its_shards_too() {
        let run = |name: &str| file(name, report("t", Profile::Rfc9110, None, &["a"]));
        let err = merge(vec![run("a/t.json"), run("b/t.json")]).expect_err("two runs");
        assert!(matches!(err, MergeError::TwoRuns { .. }), "{err:?}");
        assert!(
            names(&err).contains("a/t.json") && names(&err).contains("b/t.json"),
            "{err}"
        );
        let err = merge(vec![run("t.json"), shard(1, 1, &["b"])]).expect_err("run and shard");
        assert!(matches!(err, MergeError::RunAndShard { .. }), "{err:?}");
        let other_profile = file("f/t.json", report("t", Profile::Fetch, None, &["a"]));
        assert_eq!(
            merge(vec![run("t.json"), other_profile]).expect("two profiles").len(),
            2
        );
    }
}
