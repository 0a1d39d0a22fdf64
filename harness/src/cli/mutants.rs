//! `hopcheck mutants`: which mutants kill which case, and whether every
//! `must`/`should`/`fetch` case is killed while the reference passes all.

use std::process::ExitCode;
use std::sync::Arc;

use hopcheck::case::Profile;
use hopcheck::mutation;
use hopcheck::runner::{RunConfig, Runner};
use hopcheck::targets::mutant::Mutant;

use super::{load, profiles, progress, runtime, select, SuiteArgs};

/// The whole table: the reference and every mutant on every case.
const FULL: mutation::Options = mutation::Options {
    with_reference: true,
    first_kill_only: false,
};

#[derive(clap::Args, Debug)]
pub struct MutantsArgs {
    #[command(flatten)]
    suite: SuiteArgs,
    /// Judge under one profile only (default: both).
    #[arg(long, value_enum)]
    profile: Option<Profile>,
    /// Only cases whose id contains one of these substrings.
    filters: Vec<String>,
}

pub fn run(args: MutantsArgs) -> Result<ExitCode, String> {
    let suite = load(args.suite.suites.clone())?;
    for err in &suite.errors {
        eprintln!("{err}");
    }
    let cases = select(&suite, &args.filters);
    let profiles = profiles(args.profile);
    let runner = Arc::new(Runner::new(RunConfig::default()).map_err(|e| e.to_string())?);
    let catalogue = Arc::new(suite.catalogue.clone());
    let bar = progress::bar(cases.len(), "mutants");
    let table = runtime()?.block_on(mutation::analyse(&runner, &cases, &catalogue, &profiles, FULL, |id| {
        bar.inc(1);
        bar.set_message(id.to_owned());
    }));
    bar.finish_and_clear();

    let mut bad = 0;
    for (id, kills) in &table {
        let killers: Vec<String> = kills
            .killed_by
            .iter()
            .map(|(m, ps)| {
                if ps.len() == profiles.len() {
                    m.name()
                } else {
                    let names: Vec<&str> = ps.iter().map(|p| p.as_str()).collect();
                    format!("{} ({})", m.name(), names.join(", "))
                }
            })
            .collect();
        let line = if killers.is_empty() {
            "killed by none".to_owned()
        } else {
            format!("killed by {}", killers.join(", "))
        };
        println!("{id}: {line}");
        if let Some(why) = &kills.broke {
            println!("  error: {why}");
        }
        for (profile, result) in &kills.reference_problems {
            println!(
                "  reference under {}: {}: {}",
                profile.as_str(),
                result.verdict.kind,
                result.verdict.detail
            );
        }
        if !kills.is_ok() {
            bad += 1;
        }
    }
    let unkilled = table
        .values()
        .filter(|k| k.needs_a_kill() && k.killed_by.is_empty())
        .count();
    let reference_failed = table.values().filter(|k| !k.reference_problems.is_empty()).count();
    eprintln!(
        "{} cases, {} mutants: {} must/should/fetch cases killed by none, {} not passed by the reference",
        table.len(),
        Mutant::ALL.len(),
        unkilled,
        reference_failed
    );
    Ok(if bad == 0 && suite.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
