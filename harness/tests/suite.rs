//! `cargo test`'s conformance run: one trial per case, named by its id,
//! against the reference user agent (or `HOPCHECK_TARGET`), plus the mutation
//! check that every `must`/`should`/`fetch` case can fail for its own rule.
//! The per-case trials are `hopcheck::conformance`'s, the API a client
//! crate's own `tests/conformance.rs` uses; this file adds the target
//! selection and the whole-suite and mutation trials.
//!
//! Settings: `HOPCHECK_TARGET` (default `reference`), `HOPCHECK_PROFILE`
//! (`rfc9110` or `fetch`; default both) and `HOPCHECK_ALLOW_SKIP=1` (a
//! `HOPCHECK_TARGET` whose programs are missing is skipped instead of failing
//! the run). Against a real target each case is compared with its
//! known-failures entry under each profile and, when both profiles run, with
//! its snapshot. The default run also runs every installed target under
//! `targets/` through the whole suite, under both profiles, with the same
//! comparisons.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use hopcheck::case::{self, Case, Catalogue, Profile};
use hopcheck::conformance::{snapshot, Conformance, Session};
use hopcheck::mutation;
use hopcheck::report::{self, ResultRecord};
use hopcheck::runner::CaseResult;
use hopcheck::targets::resolve::{resolve, Resolved};
use hopcheck::targets::spec::TargetSpec;
use hopcheck::targets::spec::VersionCheck;
use libtest_mimic::{Arguments, Failed, Trial};

/// Each case's own trial checks the reference; this one needs one
/// rule-matched kill per case.
const CHECK: mutation::Options = mutation::Options::UntilRuleMatchedKill;
const MUTANTS_TRIAL: &str = "mutants/every-case-can-fail";
/// Set to `1` to skip (not fail) a `HOPCHECK_TARGET` that is not installed.
const ALLOW_SKIP: &str = "HOPCHECK_ALLOW_SKIP";

fn project(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(name)
}

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let target_name = std::env::var("HOPCHECK_TARGET").unwrap_or_else(|_| "reference".to_owned());
    let resolved = match resolve(&target_name, &project("targets")) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("HOPCHECK_TARGET={target_name}: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(reason) = &resolved.skip {
        // Asked for by name: a target that cannot run fails the run unless
        // the caller says a skip is fine.
        if std::env::var(ALLOW_SKIP).as_deref() != Ok("1") {
            eprintln!("HOPCHECK_TARGET={target_name}: {reason} (set {ALLOW_SKIP}=1 to skip its trials instead)");
            return ExitCode::from(2);
        }
        // The words `hopcheck run` uses for the same skip.
        eprintln!(
            "skipped: {}: {reason}; its trials are ignored ({ALLOW_SKIP}=1)",
            resolved.target.name()
        );
    }
    if resolved.skip.is_none() {
        if let Some(note) = resolved.version_check().note(&target_name) {
            eprintln!("note: {note}");
        }
    }
    let session = match Session::new() {
        Ok(session) => Arc::new(session),
        Err(e) => {
            eprintln!("cannot start the runner: {e}");
            return ExitCode::from(2);
        }
    };
    let conformance = Conformance::for_resolved(&resolved).suites(project("suites"));
    let conformance = if target_name == "reference" {
        conformance.every_case_must_pass()
    } else {
        conformance.snapshots(project("snapshots").join(&target_name))
    };
    let mut trials = match conformance.trials(&args, &session) {
        Ok(trials) => trials,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    if target_name == "reference" {
        match case::load_suite(&project("suites")) {
            Ok(suite) => trials.extend(reference_extras(&session, suite.cases, Arc::new(suite.catalogue))),
            Err(e) => eprintln!("cannot load the suite for the whole-suite trials: {e}"),
        }
    }
    let conclusion = libtest_mimic::run(&args, trials);
    drop(session);
    conclusion.exit_code()
}

/// Beside the reference's own trials: every installed target's whole suite
/// as recorded, and the mutation check.
fn reference_extras(session: &Arc<Session>, cases: Vec<Case>, catalogue: Arc<Catalogue>) -> Vec<Trial> {
    let cases = Arc::new(cases);
    // The trials' own check of the setting has already refused a bad value.
    let profiles = hopcheck::conformance::profiles_from_env().unwrap_or_else(|_| Profile::ALL.to_vec());
    let mut trials = Vec::new();
    for name in TargetSpec::available(&project("targets")) {
        let (cases, catalogue, session) = (cases.clone(), catalogue.clone(), session.clone());
        let resolved = resolve(&name, &project("targets"));
        let ignored = match &resolved {
            Ok(Resolved { skip: Some(reason), .. }) => {
                eprintln!("skipped: {name}: {reason}; its known-failures and snapshots trial is ignored");
                true
            }
            _ => false,
        };
        let trial = Trial::test(format!("targets/{name}/known-failures-and-snapshots"), move || {
            let resolved = resolved.map_err(|e| Failed::from(e.to_string()))?;
            whole_suite_as_recorded(&session, &resolved, &cases, &catalogue)
        });
        trials.push(trial.with_ignored_flag(ignored));
    }
    let session = session.clone();
    trials.push(Trial::test(MUTANTS_TRIAL, move || {
        every_case_can_fail(&session, &cases, &catalogue, &profiles)
    }));
    trials
}

/// Every case that a `must` or `should` rule governs (a `fetch` rule under
/// fetch) is failed by a mutant that breaks one of the requirements the case
/// cites; a kill by an unrelated mutant does not count. Each case's own trial
/// shows the reference passes it.
fn every_case_can_fail(
    session: &Session,
    cases: &[Case],
    catalogue: &Arc<Catalogue>,
    profiles: &[Profile],
) -> Result<(), Failed> {
    let table = session.block_on(mutation::analyse(
        session.runner(),
        cases,
        catalogue,
        profiles,
        CHECK,
        |_| {},
    ));
    let mut problems = Vec::new();
    for (id, kills) in &table {
        if let Some(why) = &kills.broke {
            problems.push(format!("{id}: {why}"));
        }
        if kills.lacks_a_kill() {
            let tried: Vec<String> = kills.rule_matched.iter().map(|m| m.name()).collect();
            problems.push(format!(
                "{id}: no mutant of its own rules fails it (tried: {})",
                if tried.is_empty() {
                    "none".to_owned()
                } else {
                    tried.join(", ")
                }
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("{} problems:\n{}", problems.len(), problems.join("\n")).into())
    }
}

/// A real client's run of the whole suite under both profiles gets exactly
/// the verdicts its known-failures file records (nothing unlisted fails or
/// warns, no listed verdict changed, no listed id is stale), and does what
/// its snapshots recorded.
fn whole_suite_as_recorded(
    session: &Session,
    resolved: &Resolved,
    cases: &[Case],
    catalogue: &Arc<Catalogue>,
) -> Result<(), Failed> {
    let mut by_case: std::collections::BTreeMap<String, Vec<(Profile, CaseResult)>> = Default::default();
    let mut lines = Vec::new();
    for profile in Profile::ALL {
        let results = session.block_on(session.runner().run_all(
            resolved.target.clone(),
            cases,
            catalogue.clone(),
            profile,
            |_| {},
        ));
        let records: Vec<ResultRecord> = results
            .iter()
            .map(|result| {
                let known = resolved.known_failures.expected(&result.id, profile);
                ResultRecord::new(result.clone(), known)
            })
            .collect();
        let listed: Vec<String> = resolved
            .known_failures
            .ids_for(profile)
            .into_iter()
            .map(str::to_owned)
            .collect();
        for u in report::unexpected(&records, &listed, true) {
            lines.push(format!("[{}] {u}", profile.as_str()));
        }
        for result in results {
            by_case.entry(result.id.clone()).or_default().push((profile, result));
        }
    }
    for (id, results) in &by_case {
        if let Err(diff) = snapshot::compare(&project("snapshots").join(resolved.target.name()), id, results) {
            lines.push(diff);
        }
    }
    if lines.is_empty() {
        return Ok(());
    }
    let version = match resolved.version_check() {
        VersionCheck::Untested { .. } => resolved
            .version_check()
            .note(resolved.target.name())
            .map(|note| format!("\nnote: {note}"))
            .unwrap_or_default(),
        _ => String::new(),
    };
    Err(format!(
        "{} unexpected results against {}:\n{}{version}",
        lines.len(),
        resolved.target.name(),
        lines.join("\n")
    )
    .into())
}
