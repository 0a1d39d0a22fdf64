//! `hopcheck requirements`: each requirement of the catalogue with the
//! sentence its level comes from, the cases citing it and, given a results
//! file, each case's verdict.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use hopcheck::case::load::CATALOGUE_FILE;
use hopcheck::trace::{self, Coverage, Results};

use super::print::errln;
use super::{load, SuiteArgs};

#[derive(clap::Args, Debug)]
pub struct RequirementsArgs {
    #[command(flatten)]
    suite: SuiteArgs,
    /// A results JSON written by `hopcheck run` (e.g. reports/reference.json):
    /// show each case's verdict.
    #[arg(long, value_name = "FILE")]
    results: Option<PathBuf>,
}

pub fn run(args: RequirementsArgs) -> Result<ExitCode, String> {
    let suite = load(args.suite.suites.clone())?;
    let catalogue_path = suite.root.join(CATALOGUE_FILE);
    let catalogue_src = std::fs::read_to_string(&catalogue_path)
        .map_err(|e| format!("cannot read {}: {e}", catalogue_path.display()))?;
    let report = match &args.results {
        Some(path) => {
            let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            Some(Results::from_json(&bytes).map_err(|e| format!("{} is not a results file: {e}", path.display()))?)
        }
        None => None,
    };
    let rows = trace::trace(
        &suite.catalogue,
        &trace::file_order(&catalogue_src),
        &suite.cases,
        report.as_ref(),
    );

    let mut out = std::io::stdout().lock();
    if let Some(report) = &report {
        let _ = writeln!(
            out,
            "verdicts of {} ({}) under {}",
            report.target.name,
            report.target.version,
            report.profile.as_str()
        );
    }
    let (mut covered, mut hidden, mut gaps) = (0, 0, 0);
    for row in &rows {
        let mut head = format!("{}  {}  {}", row.id, trace::level_name(row.level), row.source);
        if row.side != "client" {
            head.push_str(&format!("  ({} side)", row.side));
        }
        let mut lines = vec![head, format!("    quote: {}", row.quote)];
        if let Some(why) = &row.why {
            lines.push(format!("    why {}: {why}", trace::level_name(row.level)));
        }
        match &row.coverage {
            Coverage::Cases(cases) => {
                covered += 1;
                for case in cases {
                    let verdict = match (report.is_some(), case.verdict) {
                        (false, _) => String::new(),
                        (true, None) => "  not run".to_owned(),
                        (true, Some(kind)) if case.known_failure => format!("  {kind} (known failure)"),
                        (true, Some(kind)) => format!("  {kind}"),
                    };
                    lines.push(format!("    {}{verdict}", case.id));
                }
            }
            Coverage::NotObservable(reason) => {
                hidden += 1;
                lines.push(format!("    not observable: {reason}"));
            }
            Coverage::NoCase => {
                gaps += 1;
                lines.push("    no case".to_owned());
            }
            other => lines.push(format!("    {other:?}")),
        }
        // A closed pipe (`hopcheck requirements | head`) ends the listing quietly.
        if writeln!(out, "{}", lines.join("\n")).is_err() {
            return Ok(ExitCode::SUCCESS);
        }
    }
    errln!(
        "{} requirements: {covered} cited by cases, {hidden} not observable, {gaps} without a case",
        rows.len()
    );
    for err in &suite.errors {
        errln!("{err}");
    }
    Ok(ExitCode::SUCCESS)
}
