//! `index.html`: one self-contained page (no network: inline CSS and script,
//! data as JSON in script tags). The template renders the per-target
//! summaries with their SVG charts; a small script builds the matrix from a
//! compact table of verdict codes, and reads a cell's details (rules,
//! expected against seen, the hop transcript) from a per-target blob only
//! when the cell is opened, so 600 cases × 15 targets × 2 profiles stay
//! light.

use std::collections::{BTreeMap, HashMap};

use minijinja::{context, Environment, Value};
use serde::Serialize;

use super::{describe_body, symbol, tally, PublishError, Results};
use crate::report::ResultRecord;
use crate::verdict::VerdictKind;

const TEMPLATE: &str = include_str!("templates/index.html");
const STYLE: &str = include_str!("templates/page.css");
const SCRIPT: &str = include_str!("templates/page.js");

/// The page as HTML text.
pub fn html(results: &Results) -> Result<String, PublishError> {
    let mut env = Environment::new();
    for (name, source) in [("index.html", TEMPLATE), ("page.css", STYLE), ("page.js", SCRIPT)] {
        env.add_template(name, source).map_err(PublishError::Template)?;
    }
    let mut lines = Interner::default();
    let mut blobs = Vec::new();
    let mut summaries = Vec::new();
    for profile in &results.profiles {
        let mut cards = Vec::new();
        for (t, target) in results.targets.iter().enumerate() {
            let Some(report) = results.report(target, *profile) else {
                continue;
            };
            let tally = tally(report);
            let total = report.results.len().max(1);
            let mut x = 0.0;
            let bars: Vec<Value> = tally
                .counts
                .iter()
                .filter(|(_, n)| *n > 0)
                .map(|(kind, n)| {
                    let width = *n as f64 * 100.0 / total as f64;
                    let bar = context! { kind => kind.as_str(), count => n, x => format!("{x:.2}"), width => format!("{width:.2}") };
                    x += width;
                    bar
                })
                .collect();
            let counts: Vec<Value> = tally
                .counts
                .iter()
                .map(|(kind, n)| context! { kind => kind.as_str(), symbol => symbol(*kind), count => n })
                .collect();
            let scores: Vec<Value> = [("MUST", tally.must), ("SHOULD", tally.should)]
                .into_iter()
                .map(|(level, s)| {
                    context! { level, label => s.label(), passed => s.passed, of => s.of,
                    width => format!("{:.2}", s.percent().unwrap_or(0.0)) }
                })
                .collect();
            cards.push(context! {
                name => *target, version => &report.target.version, cases => report.results.len(),
                counts, bars, scores,
            });
            let by_id: HashMap<&str, &ResultRecord> =
                report.results.iter().map(|r| (r.result.id.as_str(), r)).collect();
            let cells: Vec<Option<CellDetail>> = results
                .cases
                .iter()
                .map(|row| by_id.get(row.id).map(|r| CellDetail::new(r, &mut lines)))
                .collect();
            blobs.push(context! { id => format!("cells-{}-{t}", profile.as_str()), json => safe_json(&cells) });
        }
        summaries.push(context! { profile => profile.as_str(), cards });
    }
    let page = page_data(results);
    let verdicts: Vec<Value> = VerdictKind::ALL
        .iter()
        .map(|k| context! { kind => k.as_str(), symbol => symbol(*k) })
        .collect();
    let template = env.get_template("index.html").map_err(PublishError::Template)?;
    template
        .render(context! {
            summaries, verdicts, blobs,
            page => safe_json(&page),
            lines => safe_json(&lines.strings),
        })
        .map_err(PublishError::Template)
}

/// What the script needs to draw the matrix: the rows, the columns, and one
/// verdict code per cell.
#[derive(Serialize)]
struct PageData<'a> {
    profiles: Vec<&'static str>,
    /// `[name, {profile: version}]`.
    targets: Vec<(&'a str, BTreeMap<&'static str, &'a str>)>,
    /// `[id, area, requirement, level]`, in row order.
    cases: Vec<(&'a str, &'a str, &'a str, &'static str)>,
    /// Per profile, per target: one character per case (`p f w i u e`, in
    /// capitals when the target's known-failures file lists the case; `.` none).
    verdicts: BTreeMap<&'static str, Vec<String>>,
    /// The cited requirements: `{id: [level, source, rule, quote]}`.
    rules: BTreeMap<&'a str, (&'static str, &'a str, &'a str, &'a str)>,
    symbols: BTreeMap<char, &'static str>,
}

fn page_data<'a>(results: &Results<'a>) -> PageData<'a> {
    let mut verdicts = BTreeMap::new();
    for profile in &results.profiles {
        let per_target = results
            .targets
            .iter()
            .map(|target| {
                let report = results.report(target, *profile);
                let codes: HashMap<&str, char> = report
                    .map(|r| r.results.iter().map(|r| (r.result.id.as_str(), cell_code(r))).collect())
                    .unwrap_or_default();
                results
                    .cases
                    .iter()
                    .map(|row| codes.get(row.id).copied().unwrap_or('.'))
                    .collect()
            })
            .collect();
        verdicts.insert(profile.as_str(), per_target);
    }
    let targets = results
        .targets
        .iter()
        .map(|target| {
            let versions = results
                .profiles
                .iter()
                .filter_map(|p| {
                    results
                        .report(target, *p)
                        .map(|r| (p.as_str(), r.target.version.as_str()))
                })
                .collect();
            (*target, versions)
        })
        .collect();
    let mut rules = BTreeMap::new();
    for report in results.reports() {
        for record in &report.results {
            let cited = record.result.requirements.iter();
            for id in cited.chain(record.result.verdict.evidence.iter().map(|m| &m.rule)) {
                if let Some(req) = results.catalogue.get(id) {
                    rules.insert(
                        req.id.as_str(),
                        (
                            req.level.as_str(),
                            req.source.as_str(),
                            req.rule.as_str(),
                            req.quote.as_str(),
                        ),
                    );
                }
            }
        }
    }
    PageData {
        profiles: results.profiles.iter().map(|p| p.as_str()).collect(),
        targets,
        cases: results
            .cases
            .iter()
            .map(|row| (row.id, row.area, row.requirement, row.level.as_str()))
            .collect(),
        verdicts,
        rules,
        symbols: VerdictKind::ALL.iter().map(|k| (code(*k), symbol(*k))).collect(),
    }
}

/// A broken expectation: `[hop, step, field, expected, seen, rule, section]`.
type EvidenceRow<'a> = (
    Option<usize>,
    Option<usize>,
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    &'a str,
);

/// A hop: `[index, method, url, status, [header line index], body]`.
type HopRow<'a> = (usize, &'a str, String, u16, Vec<usize>, String);

/// One cell's details, kept short: header lines are indices into a table
/// shared by the page (most repeat across cases and targets).
#[derive(Serialize)]
struct CellDetail<'a> {
    /// Verdict, detail, outcome.
    v: &'static str,
    d: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    o: Option<&'a str>,
    /// Requirements the case cites.
    r: &'a [String],
    /// Evidence: `[hop, step, field, expected, seen, rule, section]`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    e: Vec<EvidenceRow<'a>>,
    /// Hops: `[index, method, url, status, [header line index], body]`.
    h: Vec<HopRow<'a>>,
    /// Steps as the client reported them: `[status, url, error]`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    s: Vec<(Option<u16>, Option<&'a str>, Option<&'a str>)>,
    /// The known-failures entry's reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    k: Option<&'a str>,
    /// The target's stderr, cut to its last 2 KiB.
    #[serde(skip_serializing_if = "str::is_empty")]
    x: &'a str,
    /// Milliseconds the case took.
    ms: u64,
}

impl<'a> CellDetail<'a> {
    fn new(record: &'a ResultRecord, lines: &mut Interner) -> CellDetail<'a> {
        let result = &record.result;
        let verdict = &result.verdict;
        CellDetail {
            v: verdict.kind.as_str(),
            d: &verdict.detail,
            o: verdict.outcome.as_deref(),
            r: &result.requirements,
            e: verdict
                .evidence
                .iter()
                .map(|m| (m.hop, m.step, &*m.field, &*m.expected, &*m.seen, &*m.rule, &*m.section))
                .collect(),
            h: result
                .hops
                .iter()
                .map(|hop| {
                    let headers = hop
                        .headers
                        .iter()
                        .map(|(n, v)| lines.intern(format!("{n}: {v}")))
                        .collect();
                    (
                        hop.index,
                        hop.method.as_str(),
                        hop.url.clone(),
                        hop.status,
                        headers,
                        describe_body(hop),
                    )
                })
                .collect(),
            s: result
                .steps
                .iter()
                .map(|s| (s.status, s.url.as_deref(), s.error.as_deref()))
                .collect(),
            k: record.known_failure.as_deref(),
            x: tail(&result.stderr, 2048),
            ms: result.duration_ms,
        }
    }
}

/// The last `max` bytes of `text` or fewer, cut at a character boundary.
fn tail(text: &str, max: usize) -> &str {
    let mut start = text.len().saturating_sub(max);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

/// Strings kept once, referred to by index.
#[derive(Default)]
struct Interner {
    strings: Vec<String>,
    index: HashMap<String, usize>,
}

impl Interner {
    fn intern(&mut self, text: String) -> usize {
        if let Some(i) = self.index.get(&text) {
            return *i;
        }
        self.strings.push(text.clone());
        self.index.insert(text, self.strings.len() - 1);
        self.strings.len() - 1
    }
}

/// A cell's verdict code, a capital when the case is a known failure.
fn cell_code(record: &ResultRecord) -> char {
    let code = code(record.result.verdict.kind);
    if record.known_failure.is_some() {
        code.to_ascii_uppercase()
    } else {
        code
    }
}

fn code(kind: VerdictKind) -> char {
    match kind {
        VerdictKind::Pass => 'p',
        VerdictKind::Fail => 'f',
        VerdictKind::Warn => 'w',
        VerdictKind::Info => 'i',
        VerdictKind::Unsupported => 'u',
        VerdictKind::Error => 'e',
    }
}

/// JSON for a `<script type="application/json">`: `<`, `>` and `&` written
/// as `\u` escapes, so no string in it can close the script element.
fn safe_json(value: &impl Serialize) -> Value {
    let json = serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned());
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    Value::from_safe_string(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::{Catalogue, Level, Profile};
    use crate::publish::tests::{record, report, sample};

    fn page(reports: &[crate::report::Report]) -> String {
        let catalogue = crate::case::load_embedded().expect("suite").catalogue;
        html(&Results::new(reports, &catalogue).expect("results")).expect("page")
    }

    #[test]
    fn the_page_is_self_contained_and_carries_every_cell() {
        let text = page(&sample());
        for external in ["src=", "href=\"http", "@import", "url("] {
            assert!(!text.contains(external), "{external}");
        }
        // Two targets under two profiles: four detail blobs, and the codes.
        for id in ["cells-rfc9110-0", "cells-rfc9110-1", "cells-fetch-0", "cells-fetch-1"] {
            assert!(text.contains(&format!("id=\"{id}\"")), "{id}");
        }
        assert!(text.contains(r#""fetch":["pwfu","pppu"]"#), "bad, then good, by row");
        assert!(text.contains("RED-307-METHOD"));
    }

    #[test]
    fn summaries_show_counts_scores_and_a_bar_per_verdict() {
        let text = page(&sample());
        assert!(text.contains("<svg"), "a chart");
        assert!(text.contains("50.0%"), "bad's MUST score under fetch");
        assert!(text.contains("aria-label=\"fail: 1\""), "{text}");
    }

    #[test]
    fn hostile_case_data_is_escaped() {
        let hostile = "</script><script>alert(1)</script>";
        let mut reports = vec![report(
            "evil<img src=x>",
            Profile::Rfc9110,
            vec![record("a/<b>", Level::Must, VerdictKind::Fail, ("x-evil", hostile))],
        )];
        reports[0].target.version = hostile.to_owned();
        let catalogue = Catalogue::default();
        let text = html(&Results::new(&reports, &catalogue).expect("results")).expect("page");
        assert!(!text.contains("<script>alert"), "raw script in the page");
        assert!(!text.contains("<img"), "raw tag in the page");
        assert!(text.contains("\\u003c/script\\u003e"), "escaped in the JSON");
        assert!(text.contains("evil&lt;img src=x&gt;"), "escaped in the HTML");
        assert_eq!(text.matches("</script>").count(), text.matches("<script").count());
    }

    #[test]
    fn a_known_failure_s_code_is_a_capital() {
        let mut known = record("a/b", Level::Must, VerdictKind::Fail, ("a", "b"));
        assert_eq!(cell_code(&known), 'f');
        known.known_failure = Some("listed".into());
        assert_eq!(cell_code(&known), 'F');
    }

    #[test]
    fn header_lines_are_kept_once() {
        let mut interner = Interner::default();
        assert_eq!(interner.intern("a: b".into()), 0);
        assert_eq!(interner.intern("c: d".into()), 1);
        assert_eq!(interner.intern("a: b".into()), 0);
        assert_eq!(interner.strings, ["a: b", "c: d"]);
        assert_eq!(tail("héllo", 4), "llo");
    }
}
