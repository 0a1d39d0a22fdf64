//! Publishing results: turns results files ([`Report`], one per target and
//! profile) into a self-contained HTML page ([`html`]), a Markdown summary
//! for CI ([`markdown`]) and JUnit XML ([`junit`]), all from one [`Results`].
//!
//! Every count and score comes from [`Results`]; the renderers only lay it out.

pub mod html;
pub mod junit;
pub mod markdown;

use std::collections::BTreeMap;

use crate::case::{Catalogue, Level, Profile};
use crate::report::HopRecord;
use crate::report::{Report, ResultRecord};
use crate::verdict::VerdictKind;

/// Why results could not be published.
#[derive(Debug)]
#[non_exhaustive]
pub enum PublishError {
    /// Two results files hold the same target under the same profile.
    DuplicateReport { target: String, profile: Profile },
    /// The page's template did not render.
    Template(minijinja::Error),
    /// The JUnit XML did not serialise.
    Junit(quick_junit::SerializeError),
}

impl std::fmt::Display for PublishError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PublishError::DuplicateReport { target, profile } => write!(
                f,
                "two results files hold target `{target}` under profile {}",
                profile.as_str()
            ),
            PublishError::Template(e) => write!(f, "cannot render the page: {e:#}"),
            PublishError::Junit(e) => write!(f, "cannot write the JUnit XML: {e}"),
        }
    }
}

impl std::error::Error for PublishError {}

/// Results files brought together: which targets, profiles and cases there
/// are, in display order, and the catalogue that explains their rules.
pub struct Results<'a> {
    /// Target names, sorted (the matrix's columns).
    pub targets: Vec<&'a str>,
    /// The profiles some report is for, in [`Profile::ALL`] order.
    pub profiles: Vec<Profile>,
    /// Every case id of any report (the matrix's rows), by area,
    /// requirement, then id.
    pub cases: Vec<CaseRow<'a>>,
    pub catalogue: &'a Catalogue,
    /// Reports by target name and the profile's place in [`Profile::ALL`].
    by_target: BTreeMap<(&'a str, usize), &'a Report>,
}

/// One row of the matrix.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct CaseRow<'a> {
    /// The first segment of the id (`redirect`, `hsts`, `location`).
    pub area: &'a str,
    /// The first requirement the case cites, `""` when it cites none.
    pub requirement: &'a str,
    pub id: &'a str,
    pub level: Level,
}

/// A target's results under one profile, counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tally {
    /// Cases per verdict, every verdict present (zero included), in [`VerdictKind::ALL`] order.
    pub counts: Vec<(VerdictKind, usize)>,
    /// Cases whose level binds as `must` under the profile.
    pub must: Score,
    /// Cases whose level is `should`.
    pub should: Score,
}

/// How many cases of a level pass, of those the target could run: cases the
/// target declares unsupported are left out, an `error` counts against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Score {
    pub passed: usize,
    pub of: usize,
}

impl Score {
    /// The share that passes, in percent; `None` when no case has the level.
    pub fn percent(self) -> Option<f64> {
        (self.of > 0).then(|| self.passed as f64 * 100.0 / self.of as f64)
    }

    /// `87.5%`, or `–` when no case has the level.
    pub fn label(self) -> String {
        match self.percent() {
            Some(p) => format!("{p:.1}%"),
            None => "–".to_owned(),
        }
    }
}

impl<'a> Results<'a> {
    /// Brings reports together; two reports of one target under one profile
    /// are an error (which one to show would be a guess).
    pub fn new(reports: &'a [Report], catalogue: &'a Catalogue) -> Result<Results<'a>, PublishError> {
        let mut by_target = BTreeMap::new();
        let mut rows: BTreeMap<&str, CaseRow> = BTreeMap::new();
        for report in reports {
            let key = (report.target.name.as_str(), rank(report.profile));
            if by_target.insert(key, report).is_some() {
                return Err(PublishError::DuplicateReport {
                    target: report.target.name.clone(),
                    profile: report.profile,
                });
            }
            for record in &report.results {
                let result = &record.result;
                rows.entry(result.id.as_str()).or_insert_with(|| CaseRow {
                    area: area_of(&result.id),
                    requirement: result.requirements.first().map_or("", String::as_str),
                    id: &result.id,
                    level: result.level,
                });
            }
        }
        let mut targets: Vec<&str> = by_target.keys().map(|(name, _)| *name).collect();
        targets.dedup();
        let profiles = Profile::ALL
            .into_iter()
            .filter(|p| by_target.keys().any(|(_, rank_of)| *rank_of == rank(*p)))
            .collect();
        let mut cases: Vec<CaseRow> = rows.into_values().collect();
        cases.sort();
        Ok(Results {
            targets,
            profiles,
            cases,
            catalogue,
            by_target,
        })
    }

    /// The report of `target` under `profile`, if there is one.
    pub fn report(&self, target: &str, profile: Profile) -> Option<&'a Report> {
        self.by_target.get(&(target, rank(profile))).copied()
    }

    /// Every report, by target then profile.
    pub fn reports(&self) -> impl Iterator<Item = &'a Report> + '_ {
        self.by_target.values().copied()
    }

    /// The requirement a result is judged by under `profile`, for a
    /// one-line summary: of its broken expectations' rules (of the case's
    /// requirements when an outcome matched and graded it), the first that
    /// binds strongest under the profile, as the verdict's own line names it.
    pub fn rule_of<'r>(&self, record: &'r ResultRecord, profile: Profile) -> &'r str {
        let result = &record.result;
        let evidence = &result.verdict.evidence;
        let rules: Vec<&str> = if evidence.is_empty() {
            result.requirements.iter().map(String::as_str).collect()
        } else {
            evidence.iter().map(|m| m.rule.as_str()).collect()
        };
        let level = |rule: &str| self.catalogue.get(rule).map(|r| r.level.under(profile));
        let strongest = rules.iter().filter_map(|rule| level(rule)).min();
        rules
            .iter()
            .find(|rule| strongest.is_some() && level(rule) == strongest)
            .or(rules.first())
            .copied()
            .unwrap_or("")
    }
}

/// Where a profile stands in [`Profile::ALL`]: profiles are ordered by it.
fn rank(profile: Profile) -> usize {
    Profile::ALL.iter().position(|p| *p == profile).unwrap_or(usize::MAX)
}

/// Counts a report's verdicts and its per-level scores.
pub fn tally(report: &Report) -> Tally {
    let mut counts: Vec<(VerdictKind, usize)> = VerdictKind::ALL.iter().map(|k| (*k, 0)).collect();
    let (mut must, mut should) = (Score::default(), Score::default());
    for record in &report.results {
        let kind = record.result.verdict.kind;
        if let Some(slot) = counts.iter_mut().find(|(k, _)| *k == kind) {
            slot.1 += 1;
        }
        let score = match record.result.level.under(report.profile) {
            Level::Must => &mut must,
            Level::Should => &mut should,
            _ => continue,
        };
        if kind != VerdictKind::Unsupported {
            score.of += 1;
            score.passed += usize::from(kind == VerdictKind::Pass);
        }
    }
    Tally { counts, must, should }
}

/// The first segment of a case id: `redirect` of `redirect/307/post-keeps-body`.
pub fn area_of(id: &str) -> &str {
    id.split('/').next().unwrap_or(id)
}

/// A hop's body for people, as its results file keeps it (whole, or a
/// length, digest and first bytes: [`crate::report::BodyRecord`]).
pub fn describe_body(hop: &HopRecord) -> String {
    let mut text = hop.body.describe();
    if hop.body_truncated {
        text.push_str(", cut at the origin's body cap");
    }
    text
}

/// The one-character symbol of a verdict, readable without colour.
pub fn symbol(kind: VerdictKind) -> &'static str {
    match kind {
        VerdictKind::Pass => "✓",
        VerdictKind::Fail => "✗",
        VerdictKind::Warn => "!",
        VerdictKind::Info => "i",
        VerdictKind::Unsupported => "–",
        VerdictKind::Error => "E",
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::case::Level;
    use crate::report::{ResultRecord, TargetInfo};
    use crate::runner::CaseResult;
    use crate::verdict::{Mismatch, Verdict};

    /// A result row of `kind` for `id` at `level`, with one hop carrying `header`.
    pub(crate) fn record(id: &str, level: Level, kind: VerdictKind, header: (&str, &str)) -> ResultRecord {
        let mut hop = crate::origin::Hop::attempt(1, crate::case::HopKind::Request, 1);
        hop.scheme = "http".into();
        hop.host = "a.test".into();
        hop.port = 80;
        hop.method = "POST".into();
        hop.path_and_query = "/start".into();
        hop.target = "/start".into();
        hop.status = 307;
        hop.unscripted = false;
        hop.headers = vec![(header.0.into(), header.1.into())];
        hop.body = b"a=1".to_vec();
        let evidence = if kind == VerdictKind::Fail {
            vec![Mismatch {
                hop: Some(2),
                step: None,
                field: "method".into(),
                expected: "POST".into(),
                seen: "GET".into(),
                rule: "RED-307-METHOD".into(),
                section: "RFC 9110 §15.4.8".into(),
            }]
        } else {
            Vec::new()
        };
        ResultRecord::new(
            CaseResult {
                id: id.into(),
                requirements: vec!["RED-307-METHOD".into()],
                level,
                verdict: Verdict {
                    kind,
                    detail: format!("{kind} detail"),
                    outcome: None,
                    evidence,
                },
                hops: vec![hop],
                steps: Vec::new(),
                stderr: String::new(),
                duration_ms: 3,
            },
            None,
        )
    }

    pub(crate) fn report(target: &str, profile: Profile, results: Vec<ResultRecord>) -> Report {
        Report::new(
            "fnv64:0".into(),
            TargetInfo {
                name: target.into(),
                version: format!("{target} 1.0"),
            },
            profile,
            results,
        )
    }

    /// Two targets under both profiles; `bad` fails one MUST and warns one SHOULD.
    pub(crate) fn sample() -> Vec<Report> {
        let rows = |fail: VerdictKind, warn: VerdictKind| {
            vec![
                record("redirect/307/post-keeps-method", Level::Must, fail, ("accept", "*/*")),
                record(
                    "redirect/307/unsupported",
                    Level::Must,
                    VerdictKind::Unsupported,
                    ("a", "b"),
                ),
                record("redirect/301/should", Level::Should, warn, ("a", "b")),
                record("hsts/upgrade/fetch-only", Level::Fetch, VerdictKind::Pass, ("a", "b")),
            ]
        };
        let mut reports = Vec::new();
        for profile in Profile::ALL {
            reports.push(report("good", profile, rows(VerdictKind::Pass, VerdictKind::Pass)));
            reports.push(report("bad", profile, rows(VerdictKind::Fail, VerdictKind::Warn)));
        }
        reports
    }

    #[test]
    fn a_result_is_summed_up_by_the_rule_that_decided_its_verdict() {
        let suite = crate::case::load_embedded().expect("the embedded suite");
        let mut row = record(
            "redirect/loops/endless-chain",
            Level::Should,
            VerdictKind::Fail,
            ("a", "b"),
        );
        // A SHOULD miss first, then a Fetch rule's: under fetch the latter decides.
        let miss = |rule: &str| Mismatch {
            hop: None,
            step: None,
            field: "hops".into(),
            expected: "at most 20 redirects".into(),
            seen: "21".into(),
            rule: rule.into(),
            section: String::new(),
        };
        row.result.verdict.evidence = vec![miss("RED-LOOP"), miss("FET-COUNT")];
        let reports = vec![report("t", Profile::Fetch, vec![row.clone()])];
        let results = Results::new(&reports, &suite.catalogue).expect("results");
        assert_eq!(results.rule_of(&row, Profile::Fetch), "FET-COUNT");
        assert_eq!(results.rule_of(&row, Profile::Rfc9110), "RED-LOOP");
        // An outcome that matched and was graded `fail`: no evidence, the
        // case's requirements decide.
        row.result.verdict.evidence.clear();
        row.result.requirements = vec!["RED-LOOP".into(), "FET-COUNT".into()];
        assert_eq!(results.rule_of(&row, Profile::Fetch), "FET-COUNT");
    }

    #[test]
    fn rows_are_grouped_by_area_then_requirement_and_targets_sorted() {
        let reports = sample();
        let catalogue = Catalogue::default();
        let results = Results::new(&reports, &catalogue).expect("results");
        assert_eq!(results.targets, ["bad", "good"]);
        assert_eq!(results.profiles, Profile::ALL);
        let ids: Vec<&str> = results.cases.iter().map(|c| c.id).collect();
        assert_eq!(
            ids,
            [
                "hsts/upgrade/fetch-only",
                "redirect/301/should",
                "redirect/307/post-keeps-method",
                "redirect/307/unsupported"
            ]
        );
        assert_eq!(results.cases[1].area, "redirect");
        assert_eq!(results.cases[1].requirement, "RED-307-METHOD");
    }

    #[test]
    fn tallies_count_every_verdict_and_score_levels_without_unsupported_cases() {
        let reports = sample();
        let bad = reports
            .iter()
            .find(|r| r.target.name == "bad" && r.profile == Profile::Fetch)
            .expect("bad");
        let tally = tally(bad);
        let count = |k: VerdictKind| tally.counts.iter().find(|(kind, _)| *kind == k).map(|(_, n)| *n);
        assert_eq!(count(VerdictKind::Fail), Some(1));
        assert_eq!(count(VerdictKind::Warn), Some(1));
        assert_eq!(count(VerdictKind::Unsupported), Some(1));
        assert_eq!(count(VerdictKind::Error), Some(0));
        // Under fetch the fetch-level case binds as a MUST: 1 of 2 pass.
        assert_eq!(tally.must, Score { passed: 1, of: 2 });
        assert_eq!(tally.should, Score { passed: 0, of: 1 });
        assert_eq!(tally.must.label(), "50.0%");
        let rfc = reports
            .iter()
            .find(|r| r.target.name == "bad" && r.profile == Profile::Rfc9110)
            .expect("bad");
        assert_eq!(super::tally(rfc).must, Score { passed: 0, of: 1 });
        assert_eq!(Score::default().label(), "–");
    }

    #[test]
    fn two_reports_of_one_target_and_profile_are_refused() {
        let mut reports = sample();
        reports.push(report("good", Profile::Fetch, Vec::new()));
        let catalogue = Catalogue::default();
        let err = Results::new(&reports, &catalogue).err().expect("refused");
        assert!(err.to_string().contains("`good` under profile fetch"), "{err}");
    }
}
