//! `hopcheck run`: the suite against one target, written to `DIR/<target>.json`,
//! or with `--shard i/n` one slice of it to `DIR/<target>.shard-<i>-of-<n>.json`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use hopcheck::case::{Level, Suite};
use hopcheck::properties::{run_property, Property, PropertyVerdict};
use hopcheck::report::{self, KnownFailuresVersion, Report, ResultRecord, Shard, TargetInfo};
use hopcheck::runner::{descriptors, CaseResult, RunConfig, Runner};
use hopcheck::targets::resolve::Resolved;
use hopcheck::targets::Target;
use hopcheck::verdict::Verdict;

use super::print::errln;
use super::{load, matches, progress, runtime, select, signals, SuiteArgs, TargetArgs};

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    target: TargetArgs,
    #[command(flatten)]
    suite: SuiteArgs,
    /// Folder for the report (default: ./reports, else the project's).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Time limit for one case, in milliseconds (at least 1).
    #[arg(long, default_value_t = 30_000, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..))]
    timeout_ms: u64,
    /// Cases in flight at once (at least 1; default: four per core). Lowered
    /// when the open-file limit cannot hold that many (see the README).
    #[arg(short = 'j', long, value_name = "N", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    jobs: Option<usize>,
    /// After the suite, also run each property (method and body across 307/308,
    /// Location resolution, Authorization along chains of origins) with N
    /// generated cases against the target. A property that fails counts as
    /// unexpected; its shrunk counterexample goes to stderr as a case file.
    #[arg(long, value_name = "N", default_value_t = 0)]
    properties: u32,
    /// Run only shard I of N (1 <= I <= N): the cases whose id hashes to it
    /// (FNV-1a 64 of the id, modulo N), written to
    /// DIR/<target>.shard-<I>-of-<N>.json. The N files together hold the
    /// cases of a whole run.
    #[arg(long, value_name = "I/N")]
    shard: Option<Shard>,
    /// Only cases whose id contains one of these substrings.
    filters: Vec<String>,
}

pub fn run(args: RunArgs) -> Result<ExitCode, String> {
    let suite = load(args.suite.suites.clone())?;
    let cases: Vec<_> = select(&suite, &args.filters)?
        .into_iter()
        .filter(|case| in_shard(args.shard, &case.id))
        .collect();
    let resolved = args.target.resolve()?;
    if let Some(reason) = &resolved.skip {
        // As `cargo test` ignores its trials: said, not failed, and the
        // last report of the target stays as it was.
        errln!("skipped: {}: {reason}", resolved.target.name());
        return Ok(ExitCode::SUCCESS);
    }
    let out_dir = args.out.clone().unwrap_or_else(|| hopcheck::project_dir("reports"));
    super::remove_stale_temp_files(&out_dir);
    let version_check = resolved.version_check();
    let Resolved {
        target,
        known_failures,
        tested_versions,
        ..
    } = resolved;
    let mut config = RunConfig {
        profile: args.target.profile,
        case_timeout: Duration::from_millis(args.timeout_ms),
        ..RunConfig::default()
    };
    if let Some(jobs) = args.jobs {
        config.parallelism = jobs;
    }
    let rt = runtime()?;
    let runner = Arc::new(Runner::new(config).map_err(|e| e.to_string())?);
    // Straight after the scratch folder exists, so a signal never leaves it behind.
    signals::stop_on_signal(&rt, runner.scratch_dir())?;
    note_lowered_parallelism(&runner);
    let catalogue = Arc::new(suite.catalogue.clone());
    let bar = progress::bar(cases.len(), target.name());
    let results = rt.block_on(
        runner.run_all(target.clone(), &cases, catalogue, args.target.profile, |r| {
            bar.inc(1);
            bar.set_message(r.id.clone());
        }),
    );
    bar.finish_and_clear();

    let mut records: Vec<ResultRecord> = results
        .into_iter()
        .map(|result| {
            let known = known_failures.expected(&result.id, args.target.profile);
            ResultRecord::new(result, known)
        })
        .collect();
    records.extend(case_file_errors(&suite, &args.filters, args.shard));
    records.sort_by(|a, b| a.result.id.cmp(&b.result.id));

    let info = TargetInfo {
        name: target.name().to_owned(),
        version: target.version(),
    };
    let mut report = Report::new(report::suite_revision(&suite), info, args.target.profile, records);
    report.known_failures = KnownFailuresVersion::new(target.name(), &tested_versions, &version_check);
    report.shard = args.shard;
    let path = out_dir.join(Shard::file_name(args.shard, target.name()));
    report
        .write_json(&path)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;

    let listed: Vec<String> = known_failures
        .ids_for(args.target.profile)
        .into_iter()
        .map(str::to_owned)
        .collect();
    // A listed id missing from the suite is stale only when the whole suite
    // the list was made for ran: not with filters, not in a shard, not with
    // a suite of the user's own (`--suites DIR`).
    let check_stale = args.filters.is_empty() && args.shard.is_none() && runs_the_default_suite(&args);
    let unexpected = report::unexpected(&report.results, &listed, check_stale);
    let counts: Vec<String> = report
        .summary
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| format!("{n} {k}"))
        .collect();
    let shard = args.shard.map(|s| format!(", shard {s}")).unwrap_or_default();
    errln!(
        "{} ({}) under {}{shard}: {} cases: {}",
        report.target.name,
        report.target.version,
        args.target.profile.as_str(),
        report.results.len(),
        counts.join(", ")
    );
    if let Some(note) = version_check.note(target.name()) {
        errln!("note: {note}");
    }
    for u in &unexpected {
        errln!("unexpected: {u}");
    }
    let expected_failures = report.results.iter().filter(|r| r.known_failure.is_some()).count();
    if expected_failures > 0 {
        errln!(
            "{expected_failures} known failures (listed with their verdicts and reasons in the target's known-failures file)"
        );
    }
    errln!("report: {}", path.display());
    let failed_properties = run_properties(&args, &*target, &runner, &suite, &rt)?;
    Ok(if unexpected.is_empty() && failed_properties == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Say so when the open-file limit holds fewer cases in flight than asked.
fn note_lowered_parallelism(runner: &Runner) {
    let (asked, allowed) = (runner.config().parallelism, runner.parallelism());
    if allowed < asked {
        let limit = descriptors::soft_limit().map_or_else(|| "unknown".to_owned(), |l| l.to_string());
        errln!(
            "note: {allowed} cases in flight, not {asked}: the open-file limit ({limit}) holds no more \
             ({} descriptors each, {} for the rest)",
            descriptors::PER_CASE,
            descriptors::RESERVED
        );
    }
}

/// Whether `--suites` is absent or names the folder the default would pick.
fn runs_the_default_suite(args: &RunArgs) -> bool {
    let Some(given) = &args.suite.suites else {
        return true;
    };
    let default = hopcheck::project_dir("suites");
    match (std::fs::canonicalize(given), std::fs::canonicalize(&default)) {
        (Ok(given), Ok(default)) => given == default,
        _ => false,
    }
}

/// Run each property with `--properties` samples; the number that failed.
/// A property that could not run is a harness error.
fn run_properties(
    args: &RunArgs,
    target: &dyn Target,
    runner: &Runner,
    suite: &Suite,
    rt: &tokio::runtime::Runtime,
) -> Result<usize, String> {
    if args.properties == 0 {
        return Ok(0);
    }
    let mut failed = 0;
    for property in Property::ALL {
        let outcome = run_property(
            property,
            target,
            runner,
            &suite.catalogue,
            args.target.profile,
            args.properties,
            rt.handle(),
        );
        let name = format!("property {} ({})", property.name(), property.requirements().join(", "));
        match outcome.verdict {
            PropertyVerdict::Held => errln!("{name}: held over {} samples", args.properties),
            PropertyVerdict::Falsified(found) => {
                failed += 1;
                errln!("unexpected: {name}: {}\n{}", found.failure, found.toml);
            }
            PropertyVerdict::Aborted { reason } => return Err(format!("{name} could not run: {reason}")),
            other => return Err(format!("{name}: {other:?}")),
        }
    }
    Ok(failed)
}

/// Whether case `id` runs in `shard` (every case without one).
fn in_shard(shard: Option<Shard>, id: &str) -> bool {
    shard.is_none_or(|s| s.holds(id))
}

/// A report row of verdict `error` for each case file that did not load
/// (in the shard that case would be in).
fn case_file_errors(suite: &Suite, filters: &[String], shard: Option<Shard>) -> Vec<ResultRecord> {
    suite
        .errors
        .iter()
        .filter(|e| matches(&e.id, filters) && in_shard(shard, &e.id))
        .map(|e| {
            let result = CaseResult {
                id: e.id.clone(),
                requirements: Vec::new(),
                level: Level::Info,
                verdict: Verdict::error(format!("case file: {}", e.rendered)),
                hops: Vec::new(),
                steps: Vec::new(),
                stderr: String::new(),
                duration_ms: 0,
            };
            ResultRecord::new(result, None)
        })
        .collect()
}
