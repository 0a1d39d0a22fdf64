//! `junit.xml`: one test suite per target and profile, one test case per
//! case. `fail` and `error` are failures and errors, `unsupported` is
//! skipped; `warn` and `info` pass, with the verdict as a property and the
//! detail as system-out, so CI shows them without failing on them.

use std::time::Duration;

use quick_junit::{NonSuccessKind, Property, TestCase, TestCaseStatus, TestSuite};

use super::{area_of, PublishError, Results};
use crate::report::ResultRecord;
use crate::verdict::VerdictKind;

/// The JUnit XML document.
pub fn junit(results: &Results) -> Result<Vec<u8>, PublishError> {
    let mut doc = quick_junit::Report::new("hopcheck");
    for report in results.reports() {
        let name = format!("{} ({})", report.target.name, report.profile.as_str());
        let mut suite = TestSuite::new(name);
        suite.add_property(Property::new("version", report.target.version.as_str()));
        suite.add_property(Property::new("profile", report.profile.as_str()));
        suite.add_test_cases(
            report
                .results
                .iter()
                .map(|record| test_case(record, results.rule_of(record, report.profile))),
        );
        doc.add_test_suite(suite);
    }
    let mut out = Vec::new();
    doc.serialize(&mut out).map_err(PublishError::Junit)?;
    Ok(out)
}

fn test_case(record: &ResultRecord, rule: &str) -> TestCase {
    let result = &record.result;
    let verdict = &result.verdict;
    let mut status = match verdict.kind {
        VerdictKind::Pass | VerdictKind::Warn | VerdictKind::Info => TestCaseStatus::success(),
        VerdictKind::Fail => TestCaseStatus::non_success(NonSuccessKind::Failure),
        VerdictKind::Error => TestCaseStatus::non_success(NonSuccessKind::Error),
        VerdictKind::Unsupported => TestCaseStatus::skipped(),
    };
    if !matches!(status, TestCaseStatus::Success { .. }) {
        status.set_message(verdict.detail.as_str());
        status.set_type(verdict.kind.as_str());
        let evidence: Vec<String> = verdict.evidence.iter().map(ToString::to_string).collect();
        if !evidence.is_empty() {
            status.set_description(evidence.join("\n"));
        }
    }
    let mut case = TestCase::new(result.id.as_str(), status);
    case.set_classname(area_of(&result.id));
    case.set_time(Duration::from_millis(result.duration_ms));
    case.add_property(Property::new("verdict", verdict.kind.as_str()));
    case.add_property(Property::new("rule", rule));
    if let Some(reason) = &record.known_failure {
        case.add_property(Property::new("known-failure", reason.as_str()));
    }
    if matches!(verdict.kind, VerdictKind::Warn | VerdictKind::Info) {
        case.set_system_out(format!("{}: {}", verdict.kind, verdict.detail));
    }
    case
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::Catalogue;
    use crate::publish::tests::sample;

    #[test]
    fn each_target_and_profile_is_a_suite_with_a_case_per_result() {
        let reports = sample();
        let catalogue = Catalogue::default();
        let xml = junit(&Results::new(&reports, &catalogue).expect("results")).expect("xml");
        let text = String::from_utf8(xml).expect("utf-8");
        let doc = quick_junit::Report::deserialize_from_str(&text).expect("parses back");
        assert_eq!(doc.test_suites.len(), 4);
        let bad = doc
            .test_suites
            .iter()
            .find(|s| s.name.as_str() == "bad (fetch)")
            .expect("bad (fetch)");
        assert_eq!((bad.tests, bad.failures, bad.errors, bad.skipped), (4, 1, 0, 1));
        let warned = bad
            .test_cases
            .iter()
            .find(|c| c.name.as_str() == "redirect/301/should")
            .expect("the warned case");
        assert!(matches!(warned.status, TestCaseStatus::Success { .. }));
        assert_eq!(
            warned.system_out.as_ref().map(|s| s.as_str()),
            Some("warn: warn detail")
        );
        assert!(text.contains("RFC 9110 §15.4.8"), "evidence in the failure: {text}");
    }
}
