//! Persistent drivers against a process per case, and whole-suite wall time
//! per target.
//!
//! 1. The same cases, one at a time, against `python-requests` twice in one
//!    run: through its persistent driver (one process answers plan after
//!    plan), and with a fresh driver process per case (Python start and
//!    `import requests` every time). Prints both per-case medians and their
//!    ratio (the goal: persistent at most 10 ms, at least 20 times faster).
//! 2. The whole suite under rfc9110 at the default parallelism against every
//!    installed target, printing each wall time.
//!
//! `cargo bench -p hopcheck --bench drivers`; `HOPCHECK_BENCH_CASES` (default
//! 60) is how many cases the comparison takes (every n-th case of the suite
//! that the target supports, so every area is in it). A target not installed
//! is skipped with its reason.

mod common;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{median, ms};
use hopcheck::case::{Case, Catalogue, Profile};
use hopcheck::runner::{RunConfig, Runner};
use hopcheck::targets::driver::DriverTarget;
use hopcheck::targets::spec::TargetSpec;
use hopcheck::targets::Target;
use hopcheck::verdict::VerdictKind;

/// The library target the comparison uses.
const COMPARED: &str = "python-requests";

fn main() -> ExitCode {
    let sample_size = common::count_from_env("HOPCHECK_BENCH_CASES", 60);
    let targets_root = common::root().join("targets");
    let suite = common::suite();
    let catalogue = Arc::new(suite.catalogue.clone());
    let rt = common::runtime();
    let runner = Arc::new(Runner::new(RunConfig::default()).expect("runner"));

    let mut errors = 0;
    match TargetSpec::find(COMPARED, &targets_root) {
        Ok(spec) if !spec.missing_requirements().is_empty() => {
            println!(
                "{COMPARED}: skipped: not installed here: {}",
                spec.missing_requirements().join(", ")
            );
        }
        Ok(spec) => {
            let persistent = DriverTarget::new(spec.clone());
            let sample = sample(&suite.cases, &persistent, sample_size);
            let per_process = DriverTarget::new(spec).with_a_process_per_plan();
            let (warm, warm_errors) = one_at_a_time(&rt, &runner, &persistent, &sample, &catalogue);
            let (cold, cold_errors) = one_at_a_time(&rt, &runner, &per_process, &sample, &catalogue);
            errors += warm_errors + cold_errors;
            let (warm, cold) = (median(warm), median(cold));
            println!(
                "{COMPARED} ({}), {} cases one at a time: per-case median {:.1} ms with the persistent driver, \
                 {:.1} ms with a process per case: {:.1}x faster",
                persistent.version(),
                sample.len(),
                ms(warm),
                ms(cold),
                cold.as_secs_f64() / warm.as_secs_f64().max(1e-9)
            );
        }
        Err(e) => println!("{COMPARED}: {e}"),
    }

    let mut names = vec!["reference".to_owned()];
    names.extend(TargetSpec::available(&targets_root));
    for name in names {
        let Some(target) = common::installed_target(&name, &mut errors) else {
            continue;
        };
        let started = Instant::now();
        let results = rt.block_on(runner.run_all(
            target.clone(),
            &suite.cases,
            catalogue.clone(),
            Profile::Rfc9110,
            |_| {},
        ));
        let failed = results.iter().filter(|r| r.verdict.kind == VerdictKind::Error).count();
        errors += failed;
        println!(
            "{name} ({}): whole suite ({} cases, rfc9110, {} in flight): {:.1} s{}",
            target.version(),
            results.len(),
            runner.parallelism(),
            started.elapsed().as_secs_f64(),
            if failed > 0 {
                format!(", {failed} errors")
            } else {
                String::new()
            }
        );
    }
    common::exit_code(errors)
}

/// Every n-th case of the suite that `target` supports, `size` of them.
fn sample(cases: &[Case], target: &dyn Target, size: usize) -> Vec<Case> {
    let lacking = target.unsupported();
    let supported: Vec<&Case> = cases
        .iter()
        .filter(|c| c.file.needs.iter().all(|f| !lacking.contains(f)))
        .collect();
    let step = (supported.len() / size).max(1);
    supported.into_iter().step_by(step).take(size).cloned().collect()
}

/// Run `cases` one after another; each case's wall time, and how many ended
/// in `error`.
fn one_at_a_time(
    rt: &tokio::runtime::Runtime,
    runner: &Runner,
    target: &dyn Target,
    cases: &[Case],
    catalogue: &Catalogue,
) -> (Vec<Duration>, usize) {
    let mut times = Vec::with_capacity(cases.len());
    let mut errors = 0;
    for case in cases {
        let started = Instant::now();
        let result = rt.block_on(runner.run_case(target, case, catalogue, Profile::Rfc9110));
        times.push(started.elapsed());
        if result.verdict.kind == VerdictKind::Error {
            println!("  error: {}: {}", result.id, result.verdict.detail);
            errors += 1;
        }
    }
    (times, errors)
}
