//! `cargo test`'s conformance run: one trial per case, named by its id,
//! against the reference user agent (or `HOPCHECK_TARGET`), plus the mutation
//! check that every `must`/`should`/`fetch` case can fail for its own rule.
//!
//! Settings: `HOPCHECK_TARGET` (default `reference`) and `HOPCHECK_PROFILE`
//! (`rfc9110` or `fetch`; default both for the reference, `rfc9110` otherwise).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};

use hopcheck::case::{self, Case, Catalogue, Profile};
use hopcheck::mutation;
use hopcheck::report::{self, is_failure, ResultRecord};
use hopcheck::runner::{CaseResult, RunConfig, Runner};
use hopcheck::targets::resolve::{resolve, Resolved};
use hopcheck::targets::spec::TargetSpec;
use hopcheck::verdict::{describe_bytes, VerdictKind};
use libtest_mimic::{Arguments, Failed, Trial};

/// Each case's own trial checks the reference; this one needs one
/// rule-matched kill per case.
const CHECK: mutation::Options = mutation::Options::UntilRuleMatchedKill;
const MUTANTS_TRIAL: &str = "mutants/every-case-can-fail";

fn project(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(name)
}

fn runner() -> &'static Arc<Runner> {
    static RUNNER: OnceLock<Arc<Runner>> = OnceLock::new();
    RUNNER.get_or_init(|| Arc::new(Runner::new(RunConfig::default()).expect("the test CA and scratch folder")))
}

/// One runtime for every trial: driver processes and their pipes live on it
/// across trials (a runtime per trial would strand them).
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .expect("a tokio runtime")
        })
        .block_on(future)
}

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let root = project("suites");
    let target_name = std::env::var("HOPCHECK_TARGET").unwrap_or_else(|_| "reference".to_owned());
    let profiles: Vec<Profile> = match std::env::var("HOPCHECK_PROFILE").as_deref() {
        Ok("rfc9110") => vec![Profile::Rfc9110],
        Ok("fetch") => vec![Profile::Fetch],
        Ok(other) => {
            eprintln!("HOPCHECK_PROFILE must be `rfc9110` or `fetch`, not `{other}`");
            return ExitCode::from(2);
        }
        Err(_) if target_name == "reference" => Profile::ALL.to_vec(),
        Err(_) => vec![Profile::Rfc9110],
    };
    let catalogue = match Catalogue::load(&root.join("requirements.toml")) {
        Ok(c) => Arc::new(c),
        Err(e) => {
            return libtest_mimic::run(
                &args,
                vec![Trial::test("suite/catalogue", move || Err(e.rendered.into()))],
            )
            .exit_code()
        }
    };
    let resolved = match resolve(&target_name, &project("targets")) {
        Ok(r) => Arc::new(r),
        Err(e) => {
            eprintln!("HOPCHECK_TARGET={target_name}: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(reason) = &resolved.skip {
        eprintln!("{reason}; its trials are ignored");
    }

    let (cases, errors) = discover(&args, &root, &catalogue);
    let mut trials: Vec<Trial> = errors
        .into_iter()
        .map(|e| {
            Trial::test(e.id.clone(), move || {
                Err(format!("case file error:\n{}", e.rendered).into())
            })
        })
        .collect();
    for case in &cases {
        let (case, catalogue, resolved, profiles) =
            (case.clone(), catalogue.clone(), resolved.clone(), profiles.clone());
        let ignored = resolved.skip.is_some();
        trials.push(
            Trial::test(case.id.clone(), move || {
                run_case(&case, &catalogue, &resolved, &profiles)
            })
            .with_ignored_flag(ignored),
        );
    }
    if target_name == "reference" {
        let cases = Arc::new(cases);
        for name in TargetSpec::available(&project("targets")) {
            let (cases, catalogue) = (cases.clone(), catalogue.clone());
            let resolved = resolve(&name, &project("targets"));
            let ignored = match &resolved {
                Ok(Resolved { skip: Some(reason), .. }) => {
                    eprintln!("{reason}; its known-failures trial is ignored");
                    true
                }
                _ => false,
            };
            let trial = Trial::test(format!("targets/{name}/known-failures-hold"), move || {
                let resolved = resolved.map_err(|e| Failed::from(e.to_string()))?;
                known_failures_hold(&resolved, &cases, &catalogue)
            });
            trials.push(trial.with_ignored_flag(ignored));
        }
        let (catalogue, profiles) = (catalogue.clone(), profiles.clone());
        trials.push(Trial::test(MUTANTS_TRIAL, move || {
            every_case_can_fail(&cases, &catalogue, &profiles)
        }));
    }
    libtest_mimic::run(&args, trials).exit_code()
}

/// Load the cases; under `--exact ID` only that case file is read.
fn discover(args: &Arguments, root: &Path, catalogue: &Catalogue) -> (Vec<Case>, Vec<case::CaseFileError>) {
    if let (true, Some(id)) = (args.exact, args.filter.as_deref()) {
        if root.join(format!("{id}.toml")).is_file() {
            return match case::load_case(root, catalogue, id) {
                Ok(case) => (vec![case], Vec::new()),
                Err(e) => (Vec::new(), vec![e]),
            };
        }
    }
    match case::load_suite(root) {
        Ok(suite) => (suite.cases, suite.errors),
        Err(e) => {
            eprintln!("cannot load {}: {e}", root.display());
            (Vec::new(), Vec::new())
        }
    }
}

/// One case under each profile; fails on an outcome the target's known
/// failures do not predict (for the reference: anything but `pass`).
fn run_case(case: &Case, catalogue: &Catalogue, resolved: &Resolved, profiles: &[Profile]) -> Result<(), Failed> {
    let mut problems = Vec::new();
    for &profile in profiles {
        let result = block_on(runner().run_case(&*resolved.target, case, catalogue, profile));
        let verdict = &result.verdict;
        let listed = resolved.known_failures.reason(&case.id, profile);
        let strict = resolved.target.name() == "reference";
        let unexpected = if strict {
            verdict.kind != VerdictKind::Pass
        } else {
            is_failure(verdict.kind) != listed.is_some()
        };
        if !strict {
            if let Err(diff) = snapshot(resolved.target.name(), &case.id, profile, &result) {
                problems.push(diff);
            }
        }
        if unexpected {
            let mut text = format!("[{}] {}: {}", profile.as_str(), verdict.kind, verdict.detail);
            if let Some(reason) = listed {
                text.push_str(&format!(
                    "\n  listed as a known failure (\"{reason}\") but did not fail"
                ));
            }
            for m in &verdict.evidence {
                text.push_str(&format!("\n  - {m}"));
            }
            if !result.stderr.is_empty() {
                text.push_str(&format!("\n  stderr: {}", result.stderr.trim_end()));
            }
            problems.push(text);
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n").into())
    }
}

/// Compare what a real target did with `snapshots/<target>/<case id>.snap`
/// (`@fetch` appended under the fetch profile). Refresh with
/// `INSTA_UPDATE=always HOPCHECK_TARGET=<target> cargo test`.
fn snapshot(target: &str, id: &str, profile: Profile, result: &CaseResult) -> Result<(), String> {
    let (dir, name) = id.rsplit_once('/').unwrap_or(("", id));
    let name = match profile {
        Profile::Rfc9110 => name.to_owned(),
        Profile::Fetch => format!("{name}@fetch"),
    };
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(project("snapshots").join(target).join(dir));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    let observed = observed(result);
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        settings.bind(|| insta::assert_json_snapshot!(name, observed));
    }))
    .map_err(|_| {
        format!(
            "[{}] the observations differ from snapshots/{target}/{id}.snap",
            profile.as_str()
        )
    })
}

/// What a snapshot keeps: the verdict, every hop and every step result, with
/// nothing that changes from run to run (ports of the listener, error texts
/// that name them, timings, connection numbers).
fn observed(result: &CaseResult) -> serde_json::Value {
    let hops: Vec<serde_json::Value> = result
        .hops
        .iter()
        .map(|hop| {
            serde_json::json!({
                "request": hop.summary(),
                "arrival": hop.arrival,
                "headers": hop.headers,
                "body": describe_bytes(&hop.body),
                "answered": hop.status,
            })
        })
        .collect();
    let steps: Vec<serde_json::Value> = result
        .steps
        .iter()
        .map(|step| match &step.error {
            Some(_) => serde_json::json!({ "error": true }),
            None => serde_json::json!({ "status": step.status, "url": step.url }),
        })
        .collect();
    serde_json::json!({
        "verdict": result.verdict.kind,
        "outcome": result.verdict.outcome,
        "hops": hops,
        "steps": steps,
    })
}

/// Every case that a `must` or `should` rule governs (a `fetch` rule under
/// fetch) is failed by a mutant that breaks one of the requirements the case
/// cites; a kill by an unrelated mutant does not count. Each case's own trial
/// shows the reference passes it.
fn every_case_can_fail(cases: &[Case], catalogue: &Arc<Catalogue>, profiles: &[Profile]) -> Result<(), Failed> {
    let table = block_on(mutation::analyse(runner(), cases, catalogue, profiles, CHECK, |_| {}));
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

/// A real client's run of the whole suite (rfc9110) fails exactly the cases its
/// known-failures file lists: nothing unlisted fails, nothing listed passes.
fn known_failures_hold(resolved: &Resolved, cases: &[Case], catalogue: &Arc<Catalogue>) -> Result<(), Failed> {
    let profile = Profile::Rfc9110;
    let results = block_on(runner().run_all(resolved.target.clone(), cases, catalogue.clone(), profile, |_| {}));
    let records: Vec<ResultRecord> = results
        .into_iter()
        .map(|result| {
            let known_failure = resolved.known_failures.reason(&result.id, profile).map(str::to_owned);
            ResultRecord { result, known_failure }
        })
        .collect();
    let listed: Vec<String> = resolved
        .known_failures
        .ids_for(profile)
        .into_iter()
        .map(str::to_owned)
        .collect();
    let unexpected = report::unexpected(&records, &listed, true);
    if unexpected.is_empty() {
        Ok(())
    } else {
        let lines: Vec<String> = unexpected.iter().map(ToString::to_string).collect();
        Err(format!(
            "{} unexpected results against {}:\n{}",
            lines.len(),
            resolved.target.name(),
            lines.join("\n")
        )
        .into())
    }
}
