//! `hopcheck mutants`: the kill matrix (every case against the reference and
//! every mutant), written as JSON; exit 1 when a case that must be able to
//! fail has no rule-matched kill or the reference fails anything.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use hopcheck::case::Profile;
use hopcheck::mutation::{self, Matrix};
use hopcheck::runner::{RunConfig, Runner};

use super::print::{errln, outln};
use super::{load, profile_parser, profiles, progress, runtime, select, SuiteArgs};

#[derive(clap::Args, Debug)]
pub struct MutantsArgs {
    #[command(flatten)]
    suite: SuiteArgs,
    /// Judge under one profile only (default: both).
    #[arg(long, value_parser = profile_parser())]
    profile: Option<Profile>,
    /// Where to write the kill matrix (default: reports/mutants.json).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Only cases whose id contains one of these substrings.
    filters: Vec<String>,
}

pub fn run(args: MutantsArgs) -> Result<ExitCode, String> {
    let suite = load(args.suite.suites.clone())?;
    let cases = select(&suite, &args.filters)?;
    for err in &suite.errors {
        errln!("{err}");
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| hopcheck::project_dir("reports").join("mutants.json"));
    let out_dir = out.parent().filter(|dir| !dir.as_os_str().is_empty());
    super::remove_stale_temp_files(out_dir.unwrap_or(std::path::Path::new(".")));
    let profiles = profiles(args.profile);
    let runner = Arc::new(Runner::new(RunConfig::default()).map_err(|e| e.to_string())?);
    let catalogue = Arc::new(suite.catalogue.clone());
    let bar = progress::bar(cases.len(), "mutants");
    let options = mutation::Options::Matrix;
    let table = runtime()?.block_on(mutation::analyse(
        &runner,
        &cases,
        &catalogue,
        &profiles,
        options,
        |id| {
            bar.inc(1);
            bar.set_message(id.to_owned());
        },
    ));
    bar.finish_and_clear();

    let matrix = Matrix::new(&table, &profiles);
    let json = serde_json::to_vec_pretty(&matrix).map_err(|e| e.to_string())?;
    hopcheck::report::write_atomic(&out, &json).map_err(|e| format!("cannot write {}: {e}", out.display()))?;

    let mut bad = 0;
    for (id, kills) in &table {
        let mut problems = Vec::new();
        if let Some(why) = &kills.broke {
            problems.push(format!("  error: {why}"));
        }
        for (profile, result) in &kills.reference_problems {
            problems.push(format!(
                "  reference under {}: {}: {}",
                profile.as_str(),
                result.verdict.kind,
                result.verdict.detail
            ));
        }
        if kills.lacks_a_kill() {
            let others: Vec<String> = kills.killers().map(|m| m.name()).collect();
            let others = if others.is_empty() {
                "none".to_owned()
            } else {
                others.join(", ")
            };
            problems.push(format!(
                "  no mutant of its own rules fails it (killed by: {others}; its rules' mutants: {})",
                names(&kills.rule_matched)
            ));
        }
        if !problems.is_empty() {
            bad += 1;
            outln!("{id}:\n{}", problems.join("\n"));
        }
    }

    outln!("{:<36} {:>12} {:>8}", "mutant", "rule-matched", "all");
    for row in &matrix.mutants {
        outln!("{:<36} {:>12} {:>8}", row.name, row.rule_matched_kills, row.kills);
    }
    let unkilled = table.values().filter(|k| k.lacks_a_kill()).count();
    let reference_failed = table.values().filter(|k| !k.reference_problems.is_empty()).count();
    errln!(
        "{} cases, {} mutants: {} cases needing a kill have no rule-matched kill, {} not passed by the reference; \
         kill matrix in {}",
        table.len(),
        matrix.mutants.len(),
        unkilled,
        reference_failed,
        out.display()
    );
    Ok(if bad == 0 && suite.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn names(mutants: &[hopcheck::targets::mutant::Mutant]) -> String {
    if mutants.is_empty() {
        return "none".to_owned();
    }
    mutants.iter().map(|m| m.name()).collect::<Vec<_>>().join(", ")
}
