//! Requirement traceability: for each requirement of the catalogue, the cases
//! that cite it and, given a report, the verdict each case earned.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::case::{Case, Catalogue, Level, Profile};
use crate::report::{Report, TargetInfo};
use crate::verdict::VerdictKind;

/// What traceability reads from a results file: whose results, and each
/// case's verdict. Reads any `hopcheck run` JSON, ignoring the other fields.
#[derive(Debug, Clone, Deserialize)]
pub struct Results {
    pub target: TargetInfo,
    pub profile: Profile,
    pub results: Vec<ResultRow>,
}

/// One case's row of a results file.
#[derive(Debug, Clone, Deserialize)]
pub struct ResultRow {
    pub id: String,
    pub verdict: VerdictKind,
    #[serde(default)]
    pub known_failure: Option<String>,
}

impl Results {
    /// Read a results JSON written by `hopcheck run`.
    pub fn from_json(bytes: &[u8]) -> Result<Results, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// The same view of a report in memory.
    pub fn from_report(report: &Report) -> Results {
        Results {
            target: report.target.clone(),
            profile: report.profile,
            results: report
                .results
                .iter()
                .map(|r| ResultRow {
                    id: r.result.id.clone(),
                    verdict: r.result.verdict.kind,
                    known_failure: r.known_failure.clone(),
                })
                .collect(),
        }
    }
}

/// One requirement and what covers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub id: String,
    pub level: Level,
    /// Where the rule is written, e.g. `RFC 9110 §15.4.8`.
    pub source: String,
    /// Who the rule binds: `client`, `server` (probe mode) or `both`.
    pub side: String,
    /// The sentence of the source that carries the rule.
    pub quote: String,
    /// Where the level comes from when the quote's keyword does not give it.
    pub why: Option<String>,
    pub coverage: Coverage,
}

/// How a requirement is covered.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Coverage {
    /// These cases cite it, sorted by id.
    Cases(Vec<CaseRef>),
    /// No case cites it, and the catalogue says why none can.
    NotObservable(String),
    /// No case cites it and the catalogue gives no reason: a gap.
    NoCase,
}

/// A case citing a requirement, with its result when a report was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseRef {
    pub id: String,
    /// `None` without a report, or when the report has no row for the case.
    pub verdict: Option<VerdictKind>,
    /// The target's known-failures file lists the case.
    pub known_failure: bool,
}

/// The ids of a catalogue file in the order written (`[[requirement]]` tables);
/// empty when the text does not parse (the catalogue loader reports that).
pub fn file_order(catalogue_src: &str) -> Vec<String> {
    #[derive(Deserialize)]
    struct File {
        #[serde(default)]
        requirement: Vec<Entry>,
    }
    #[derive(Deserialize)]
    struct Entry {
        id: String,
    }
    toml::from_str::<File>(catalogue_src)
        .map(|file| file.requirement.into_iter().map(|e| e.id).collect())
        .unwrap_or_default()
}

/// One row per requirement of `catalogue`: first those named in `order`,
/// then any others by id. A case cites a requirement in `requirements` or as
/// the `rule` of one of its expectations.
pub fn trace(catalogue: &Catalogue, order: &[String], cases: &[Case], results: Option<&Results>) -> Vec<Row> {
    let results: BTreeMap<&str, (VerdictKind, bool)> = results
        .map(|r| {
            r.results
                .iter()
                .map(|row| (row.id.as_str(), (row.verdict, row.known_failure.is_some())))
                .collect()
        })
        .unwrap_or_default();
    let mut citing: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for case in cases {
        let mut cited: Vec<&str> = case.citations().collect();
        cited.sort_unstable();
        cited.dedup();
        for id in cited {
            citing.entry(id).or_default().push(&case.id);
        }
    }
    let mut ids: Vec<&str> = order
        .iter()
        .map(String::as_str)
        .filter(|id| catalogue.get(id).is_some())
        .collect();
    let mut rest: Vec<&str> = catalogue
        .requirements
        .keys()
        .map(String::as_str)
        .filter(|id| !ids.contains(id))
        .collect();
    rest.sort_unstable();
    ids.extend(rest);
    ids.dedup();

    ids.into_iter()
        .filter_map(|id| catalogue.get(id))
        .map(|requirement| {
            let mut case_ids = citing.get(requirement.id.as_str()).cloned().unwrap_or_default();
            case_ids.sort_unstable();
            let coverage = if !case_ids.is_empty() {
                Coverage::Cases(
                    case_ids
                        .into_iter()
                        .map(|id| {
                            let found = results.get(id);
                            CaseRef {
                                id: id.to_owned(),
                                verdict: found.map(|(kind, _)| *kind),
                                known_failure: found.is_some_and(|(_, known)| *known),
                            }
                        })
                        .collect(),
                )
            } else if let Some(reason) = &requirement.not_observable {
                Coverage::NotObservable(reason.clone())
            } else {
                Coverage::NoCase
            };
            Row {
                id: requirement.id.clone(),
                level: requirement.level,
                source: requirement.source.clone(),
                side: requirement.side.clone(),
                quote: requirement.quote.clone(),
                why: requirement.why.clone(),
                coverage,
            }
        })
        .collect()
}

/// A level as the catalogue writes it.
pub fn level_name(level: Level) -> &'static str {
    level.as_str()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::case::parse_case;
    use crate::report::ResultRecord;
    use crate::runner::CaseResult;
    use crate::verdict::Verdict;

    const CATALOGUE: &str = r#"
[[requirement]]
id = "Z-FIRST"
level = "must"
source = "RFC 1 §1"
rule = "Written first."
quote = "It MUST."

[[requirement]]
id = "A-CITED-BY-RULE"
level = "should"
source = "RFC 1 §2"
rule = "Cited only by an expectation's rule."
quote = "It SHOULD."

[[requirement]]
id = "M-HIDDEN"
level = "may"
source = "RFC 1 §3"
rule = "Cannot be seen."
quote = "It MAY."
not_observable = "Happens inside the client."

[[requirement]]
id = "B-GAP"
level = "fetch"
source = "Fetch"
rule = "Nobody checks this."
quote = "Return a network error."
why = "WHATWG algorithm steps are requirements."
"#;

    fn case(id: &str, requirements: &str, rule: Option<&str>, catalogue: &Catalogue) -> Case {
        let rule = rule.map(|r| format!("rule = \"{r}\"\n")).unwrap_or_default();
        let src = format!(
            "title = \"t\"\nrequirements = {requirements}\n[[step]]\nurl = \"http://origin.test/\"\n\
             [expect]\n{rule}hops = 1\n[[expect.hop]]\nindex = 1\nmethod = \"GET\"\n"
        );
        parse_case(id, Path::new("case.toml"), &src, catalogue).expect("test case loads")
    }

    fn result(id: &str, verdict: Verdict) -> ResultRecord {
        let result = CaseResult {
            id: id.to_owned(),
            requirements: Vec::new(),
            level: Level::Must,
            verdict,
            hops: Vec::new(),
            steps: Vec::new(),
            stderr: String::new(),
            duration_ms: 0,
        };
        ResultRecord::new(result, None)
    }

    #[test]
    fn rows_follow_the_file_and_list_citing_cases_with_verdicts() {
        let catalogue = Catalogue::parse(Path::new("requirements.toml"), CATALOGUE).expect("catalogue");
        let order = file_order(CATALOGUE);
        assert_eq!(order, ["Z-FIRST", "A-CITED-BY-RULE", "M-HIDDEN", "B-GAP"]);
        let cases = vec![
            case("b/second", "[\"Z-FIRST\"]", None, &catalogue),
            case("a/first", "[\"Z-FIRST\"]", Some("A-CITED-BY-RULE"), &catalogue),
        ];
        let mut failed = result("b/second", Verdict::error("x"));
        failed.result.verdict.kind = VerdictKind::Fail;
        failed.known_failure = Some("a known bug".to_owned());
        let report = Report::new(
            "fnv64:0".to_owned(),
            TargetInfo {
                name: "t".to_owned(),
                version: "1".to_owned(),
            },
            Profile::Rfc9110,
            vec![result("a/first", Verdict::error("broke")), failed],
        );

        let json = serde_json::to_vec(&report).expect("report as JSON");
        let results = Results::from_json(&json).expect("a report reads back as results");
        assert_eq!(results.results.len(), Results::from_report(&report).results.len());
        let rows = trace(&catalogue, &order, &cases, Some(&results));
        let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, order);
        assert_eq!(rows[0].level, Level::Must);
        assert_eq!(rows[0].source, "RFC 1 §1");
        assert_eq!(
            rows[0].coverage,
            Coverage::Cases(vec![
                CaseRef {
                    id: "a/first".to_owned(),
                    verdict: Some(VerdictKind::Error),
                    known_failure: false,
                },
                CaseRef {
                    id: "b/second".to_owned(),
                    verdict: Some(VerdictKind::Fail),
                    known_failure: true,
                },
            ])
        );
        assert_eq!(
            rows[1].coverage,
            Coverage::Cases(vec![CaseRef {
                id: "a/first".to_owned(),
                verdict: Some(VerdictKind::Error),
                known_failure: false,
            }])
        );
        assert_eq!(
            rows[2].coverage,
            Coverage::NotObservable("Happens inside the client.".to_owned())
        );
        assert_eq!(rows[3].coverage, Coverage::NoCase);
    }

    #[test]
    fn without_a_report_no_verdicts_and_unordered_ids_come_last() {
        let catalogue = Catalogue::parse(Path::new("requirements.toml"), CATALOGUE).expect("catalogue");
        let cases = vec![case("only", "[\"B-GAP\", \"B-GAP\"]", Some("B-GAP"), &catalogue)];
        let rows = trace(&catalogue, &["M-HIDDEN".to_owned()], &cases, None);
        let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["M-HIDDEN", "A-CITED-BY-RULE", "B-GAP", "Z-FIRST"]);
        assert_eq!(
            rows[2].coverage,
            Coverage::Cases(vec![CaseRef {
                id: "only".to_owned(),
                verdict: None,
                known_failure: false,
            }])
        );
        assert_eq!(rows[3].coverage, Coverage::NoCase);
    }

    #[test]
    fn the_real_catalogue_is_traced_in_file_order() {
        let root = crate::project_dir("suites");
        let src = std::fs::read_to_string(root.join("requirements.toml")).expect("catalogue file");
        let catalogue = Catalogue::parse(&root.join("requirements.toml"), &src).expect("catalogue");
        let order = file_order(&src);
        let rows = trace(&catalogue, &order, &[], None);
        assert_eq!(rows.len(), catalogue.requirements.len());
        assert_eq!(rows.first().map(|r| r.id.as_str()), order.first().map(String::as_str));
    }
}
