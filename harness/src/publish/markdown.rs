//! `summary.md`: GitHub-flavoured Markdown for a CI step summary: each
//! target's counts and scores per profile, the rules each target breaks
//! (linked to a cell of `index.html`), then the failed MUST cases.

use std::fmt::Write as _;

use super::{tally, Results};
use crate::verdict::VerdictKind;

/// At most this many failed cases are listed: a step summary is capped
/// (1 MiB on GitHub), and past a screenful the page is the better view.
const MAX_FAILURES: usize = 200;

/// The summary as Markdown text.
pub fn markdown(results: &Results) -> String {
    let mut out = String::from("# hopcheck results\n\n");
    out.push_str("| target | version | profile | cases |");
    for kind in VerdictKind::ALL {
        let _ = write!(out, " {} {kind} |", super::symbol(kind));
    }
    out.push_str(" MUST | SHOULD |\n|---|---|---|--:|");
    out.push_str(&"--:|".repeat(VerdictKind::ALL.len() + 2));
    out.push('\n');
    for report in results.reports() {
        let t = tally(report);
        let _ = write!(
            out,
            "| {} | {} | {} | {} |",
            cell(&report.target.name),
            cell(&report.target.version),
            report.profile.as_str(),
            report.results.len()
        );
        for (_, n) in &t.counts {
            let _ = write!(out, " {n} |");
        }
        let _ = writeln!(out, " {} | {} |", score(t.must), score(t.should));
    }
    out.push_str("\nMUST and SHOULD: the share of that level's cases that pass, of those the target supports.\n");
    out.push_str(&rules_broken(results));

    let failed: Vec<_> = results
        .reports()
        .flat_map(|report| {
            report
                .results
                .iter()
                .filter(|r| r.result.verdict.kind == VerdictKind::Fail)
                .map(move |r| (report, r))
        })
        .collect();
    let _ = writeln!(out, "\n## Failed MUST cases ({})\n", failed.len());
    if failed.is_empty() {
        out.push_str("None.\n");
        return out;
    }
    out.push_str("| case | target | profile | rule |\n|---|---|---|---|\n");
    for (report, record) in failed.iter().take(MAX_FAILURES) {
        let rule_id = results.rule_of(record, report.profile);
        let rule = match results.catalogue.get(rule_id) {
            Some(req) => format!("{} ({}): {}", cell(rule_id), cell(&req.source), cell(&req.rule)),
            None => cell(rule_id),
        };
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {rule} |",
            record.result.id.replace('`', "'"),
            cell(&report.target.name),
            report.profile.as_str()
        );
    }
    if failed.len() > MAX_FAILURES {
        let _ = writeln!(out, "\n… and {} more: see `index.html`.", failed.len() - MAX_FAILURES);
    }
    out
}

/// The heading of the per-target table of broken rules (the README's
/// "Published results" copies the table under it).
pub const RULES_HEADING: &str = "## Rules broken, per target";

/// Per target and profile, the rules of its failing cases (the rule that
/// decided each verdict, [`Results::rule_of`]) with how many cases fail on
/// each, most first, each linked to the first such case's cell in
/// `index.html`.
fn rules_broken(results: &Results) -> String {
    let mut out = format!("\n{RULES_HEADING}\n\n| target |");
    for profile in &results.profiles {
        let _ = write!(out, " `{}` |", profile.as_str());
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(results.profiles.len()));
    out.push('\n');
    for target in &results.targets {
        let _ = write!(out, "| {} |", cell(target));
        for &profile in &results.profiles {
            let mut rules: Vec<(&str, usize, &str)> = Vec::new();
            let report = results.report(target, profile);
            let mut failed: Vec<_> = report
                .map(|r| {
                    r.results
                        .iter()
                        .filter(|r| r.result.verdict.kind == VerdictKind::Fail)
                        .collect()
                })
                .unwrap_or_default();
            failed.sort_by(|a, b| a.result.id.cmp(&b.result.id));
            for record in failed {
                let rule = results.rule_of(record, profile);
                match rules.iter_mut().find(|(r, _, _)| *r == rule) {
                    Some((_, n, _)) => *n += 1,
                    None => rules.push((rule, 1, &record.result.id)),
                }
            }
            rules.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
            let listed: Vec<String> = rules
                .iter()
                .map(|(rule, n, id)| {
                    let link = format!("{}/{}/{}", profile.as_str(), percent(target, false), percent(id, true));
                    format!("[{}](index.html#{link}) {n}", cell(rule))
                })
                .collect();
            let text = match (report, listed.is_empty()) {
                (None, _) => "not run".to_owned(),
                (Some(_), true) => "none".to_owned(),
                (Some(_), false) => listed.join(", "),
            };
            let _ = write!(out, " {text} |");
        }
        out.push('\n');
    }
    out
}

/// `text` for a link's fragment, as the page reads it back (each part
/// URI-decoded): bytes other than letters, digits and `-._~` (and `/` when
/// `keep_slash`: a case id's path) percent-encoded.
fn percent(text: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || (keep_slash && b == b'/') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn score(score: super::Score) -> String {
    match score.percent() {
        Some(_) => format!("{} ({}/{})", score.label(), score.passed, score.of),
        None => score.label(),
    }
}

/// Text made safe for a table cell: one line, no column breaks, no HTML or
/// emphasis the text did not mean.
fn cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' | '\r' | '\t' => out.push(' '),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '|' | '\\' | '*' | '_' | '`' | '[' | ']' | '#' | '~' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::{Catalogue, Profile};
    use crate::publish::tests::{record, report, sample};

    #[test]
    fn the_summary_scores_each_target_per_profile_and_lists_failed_must_cases() {
        let reports = sample();
        let catalogue = crate::case::load_embedded().expect("suite").catalogue;
        let text = markdown(&Results::new(&reports, &catalogue).expect("results"));
        assert!(
            text.contains("| bad | bad 1.0 | fetch | 4 | 1 | 1 | 1 | 0 | 1 | 0 | 50.0% (1/2) | 0.0% (0/1) |"),
            "{text}"
        );
        assert!(
            text.contains("| good | good 1.0 | rfc9110 | 4 | 3 | 0 | 0 | 0 | 1 | 0 | 100.0% (1/1) | 100.0% (1/1) |"),
            "{text}"
        );
        assert!(text.contains("## Failed MUST cases (2)"), "{text}");
        assert!(
            text.contains(
                "| bad | [RED-307-METHOD](index.html#rfc9110/bad/redirect/307/post-keeps-method) 1 \
                 | [RED-307-METHOD](index.html#fetch/bad/redirect/307/post-keeps-method) 1 |\n| good | none | none |"
            ),
            "{text}"
        );
        let rule = &catalogue.get("RED-307-METHOD").expect("in the catalogue").rule;
        assert!(
            text.contains("| `redirect/307/post-keeps-method` | bad | rfc9110 | RED-307-METHOD (")
                && text.contains(&cell(rule)),
            "{text}"
        );
    }

    #[test]
    fn hostile_names_cannot_break_the_table() {
        let reports = vec![report(
            "evil|<b>x</b>\nnext",
            Profile::Rfc9110,
            vec![record("a/b", crate::case::Level::Must, VerdictKind::Pass, ("a", "b"))],
        )];
        let catalogue = Catalogue::default();
        let text = markdown(&Results::new(&reports, &catalogue).expect("results"));
        assert!(text.contains("| evil\\|&lt;b&gt;x&lt;/b&gt; next |"), "{text}");
        assert!(text.contains("None."), "{text}");
        assert_eq!(
            percent("evil|<b>x</b>\nnext", false),
            "evil%7C%3Cb%3Ex%3C%2Fb%3E%0Anext"
        );
        assert_eq!(percent("a/b c", true), "a/b%20c");
    }
}
