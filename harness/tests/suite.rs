//! `cargo test`'s conformance run: one trial per case, named by its id,
//! against the reference user agent (or `HOPCHECK_TARGET`), plus the mutation
//! check that every `must`/`should`/`fetch` case can fail for its own rule.
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
use std::sync::{Arc, OnceLock};

use hopcheck::case::{self, Case, Catalogue, Profile};
use hopcheck::mutation;
use hopcheck::report::{self, ResultRecord};
use hopcheck::runner::{CaseResult, RunConfig, Runner};
use hopcheck::targets::resolve::{resolve, Resolved};
use hopcheck::targets::spec::TargetSpec;
use hopcheck::targets::spec::VersionCheck;
use hopcheck::verdict::{describe_bytes, VerdictKind};
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

/// One runner for every trial; its scratch folder is removed by [`finish`].
static RUNNER: OnceLock<Arc<Runner>> = OnceLock::new();

fn runner() -> &'static Arc<Runner> {
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
        Err(_) => Profile::ALL.to_vec(),
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
    if target_name != "reference" && profiles.len() < Profile::ALL.len() {
        eprintln!("note: snapshots are compared only when both profiles run (HOPCHECK_PROFILE unset)");
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
                    eprintln!("skipped: {name}: {reason}; its known-failures and snapshots trial is ignored");
                    true
                }
                _ => false,
            };
            let trial = Trial::test(format!("targets/{name}/known-failures-and-snapshots"), move || {
                let resolved = resolved.map_err(|e| Failed::from(e.to_string()))?;
                whole_suite_as_recorded(&resolved, &cases, &catalogue)
            });
            trials.push(trial.with_ignored_flag(ignored));
        }
        let (catalogue, profiles) = (catalogue.clone(), profiles.clone());
        trials.push(Trial::test(MUTANTS_TRIAL, move || {
            every_case_can_fail(&cases, &catalogue, &profiles)
        }));
    }
    let conclusion = libtest_mimic::run(&args, trials);
    finish();
    conclusion.exit_code()
}

/// Statics are never dropped: stop the driver processes (their whole process
/// groups) and remove the runner's scratch folder by hand, so a test run
/// leaves nothing of its own behind.
fn finish() {
    hopcheck::targets::driver::stop_all();
    if let Some(runner) = RUNNER.get() {
        let _ = std::fs::remove_dir_all(runner.scratch_dir());
    }
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
/// failures do not predict (for the reference: anything but `pass`), and,
/// for a real target run under both profiles, on observations that differ
/// from its snapshot.
fn run_case(case: &Case, catalogue: &Catalogue, resolved: &Resolved, profiles: &[Profile]) -> Result<(), Failed> {
    let results: Vec<(Profile, CaseResult)> = profiles
        .iter()
        .map(|&profile| {
            let result = block_on(runner().run_case(&*resolved.target, case, catalogue, profile));
            (profile, result)
        })
        .collect();
    let mut problems: Vec<String> = results
        .iter()
        .filter_map(|(profile, result)| as_recorded(resolved, *profile, result))
        .collect();
    if resolved.target.name() != "reference" && results.len() == Profile::ALL.len() {
        if let Err(diff) = snapshot(resolved.target.name(), &case.id, &results) {
            problems.push(diff);
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        if let Some(note) = resolved.version_check().note(resolved.target.name()) {
            problems.push(format!("note: {note}"));
        }
        Err(problems.join("\n").into())
    }
}

/// What is wrong with one result, if anything: for the reference anything but
/// `pass`; for another target a verdict its known-failures file does not
/// predict (an unlisted `fail`/`warn`/`error`, or a listed case whose verdict
/// changed).
fn as_recorded(resolved: &Resolved, profile: Profile, result: &CaseResult) -> Option<String> {
    let verdict = &result.verdict;
    let expected = resolved.known_failures.expected(&result.id, profile);
    let problem = if resolved.target.name() == "reference" {
        (verdict.kind != VerdictKind::Pass).then(|| format!("{}: {}", verdict.kind, verdict.detail))
    } else {
        report::check(
            &result.id,
            verdict.kind,
            &verdict.detail,
            expected.map(|k| (k.verdict, k.reason.as_str())),
        )
        .map(|u| u.to_string())
    }?;
    let mut text = format!("[{}] {problem}", profile.as_str());
    for m in &verdict.evidence {
        text.push_str(&format!("\n  - {m}"));
    }
    if !result.stderr.is_empty() {
        text.push_str(&format!("\n  stderr: {}", result.stderr.trim_end()));
    }
    Some(text)
}

/// Compare what a real target did under both profiles with
/// `snapshots/<target>/<case id>.snap`: the rfc9110 observations, plus a
/// `fetch` object holding only what differs under fetch (usually the verdict
/// and outcome; nothing when the profiles agree). Refresh with
/// `INSTA_UPDATE=always HOPCHECK_TARGET=<target> cargo test`.
fn snapshot(target: &str, id: &str, results: &[(Profile, CaseResult)]) -> Result<(), String> {
    let (dir, name) = id.rsplit_once('/').unwrap_or(("", id));
    let by_profile = |wanted: Profile| {
        results
            .iter()
            .find(|(profile, _)| *profile == wanted)
            .map(|(_, result)| observed(result))
    };
    let (Some(mut recorded), Some(fetch)) = (by_profile(Profile::Rfc9110), by_profile(Profile::Fetch)) else {
        return Err(format!("{id}: a snapshot needs both profiles' results"));
    };
    if let (Some(base), Some(fetch)) = (recorded.as_object_mut(), fetch.as_object()) {
        let differs: serde_json::Map<String, serde_json::Value> = fetch
            .iter()
            .filter(|(key, value)| base.get(*key) != Some(value))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        if !differs.is_empty() {
            base.insert("fetch".to_owned(), serde_json::Value::Object(differs));
        }
    }
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(project("snapshots").join(target).join(dir));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        settings.bind(|| insta::assert_json_snapshot!(name, recorded));
    }))
    .map_err(|_| format!("the observations differ from snapshots/{target}/{id}.snap"))
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
                "headers": without_versions(&hop.headers),
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

/// The request headers with the client's version taken out of `User-Agent`
/// (`curl/7.88.1` is kept as `curl/[version]`): snapshots record what a
/// client does, and must not change with each release of it.
fn without_versions(headers: &[(String, String)]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            if !name.eq_ignore_ascii_case("user-agent") {
                return (name.clone(), value.clone());
            }
            let tokens: Vec<String> = value
                .split(' ')
                .map(|token| match token.split_once('/') {
                    Some((product, version)) if version.starts_with(|c: char| c.is_ascii_digit()) => {
                        format!("{product}/[version]")
                    }
                    _ => token.to_owned(),
                })
                .collect();
            (name.clone(), tokens.join(" "))
        })
        .collect()
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

/// A real client's run of the whole suite under both profiles gets exactly
/// the verdicts its known-failures file records (nothing unlisted fails or
/// warns, no listed verdict changed, no listed id is stale), and does what
/// its snapshots recorded.
fn whole_suite_as_recorded(resolved: &Resolved, cases: &[Case], catalogue: &Arc<Catalogue>) -> Result<(), Failed> {
    let mut by_case: std::collections::BTreeMap<String, Vec<(Profile, CaseResult)>> = Default::default();
    let mut lines = Vec::new();
    for profile in Profile::ALL {
        let results = block_on(runner().run_all(resolved.target.clone(), cases, catalogue.clone(), profile, |_| {}));
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
        if let Err(diff) = snapshot(resolved.target.name(), id, results) {
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
