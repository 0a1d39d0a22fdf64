//! The suite in a client crate's own `cargo test`: one libtest trial per
//! case, named by its id, each run under both profiles, each verdict checked
//! against the crate's known-failures file, each case's observations against
//! its snapshot. (Feature `conformance`, on by default.)
//!
//! In the client crate's `Cargo.toml`:
//!
//! ```toml
//! [dev-dependencies]
//! hopcheck = { git = "https://example.org/hopcheck" }  # or a path
//!
//! [[test]]
//! name = "conformance"
//! harness = false
//! ```
//!
//! and its whole `tests/conformance.rs` (this one is `rust-reqwest`'s):
//!
//! ```no_run
//! # mod hopcheck_target_reqwest {
//! #     pub struct Reqwest;
//! #     impl Reqwest { pub fn new() -> Reqwest { Reqwest } }
//! #     impl hopcheck::targets::Target for Reqwest {
//! #         fn name(&self) -> &str { "rust-reqwest" }
//! #         fn version(&self) -> String { "reqwest".into() }
//! #         fn run<'a>(&'a self, _: &'a hopcheck::targets::Plan)
//! #             -> hopcheck::targets::BoxFuture<'a, Result<hopcheck::targets::TargetRun, hopcheck::targets::TargetError>> {
//! #             unimplemented!()
//! #         }
//! #     }
//! # }
//! fn main() -> std::process::ExitCode {
//!     hopcheck::conformance::Conformance::new(hopcheck_target_reqwest::Reqwest::new())
//!         .known_failures(concat!(env!("CARGO_MANIFEST_DIR"), "/known-failures.toml"))
//!         .snapshots(concat!(env!("CARGO_MANIFEST_DIR"), "/../../snapshots/rust-reqwest"))
//!         .run()
//! }
//! ```
//!
//! `cargo test --test conformance` then runs every case; `-- ID` filters as
//! usual. The cases are the suite embedded in hopcheck when it was built
//! ([`crate::case::load_embedded`]), so the crate needs no copy of them and
//! no knowledge of hopcheck's folders; [`Conformance::suites`] names another
//! folder.
//!
//! A trial fails on a verdict the known failures do not predict: an
//! unlisted `fail`, `warn` or `error`, or a listed case whose verdict changed
//! (a listed case that now passes included). A trial
//! `known-failures/every-entry-names-a-case` fails on entries naming no case.
//! Settings: `HOPCHECK_PROFILE=rfc9110|fetch` runs one profile only (then no
//! snapshot is compared); `INSTA_UPDATE=always` rewrites snapshots, `cargo
//! insta review` accepts pending ones.

pub mod snapshot;

use std::future::Future;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use libtest_mimic::{Arguments, Failed, Trial};

use crate::case::{self, Case, Catalogue, Profile, Suite};
use crate::report;
use crate::runner::{CaseResult, RunConfig, Runner, RunnerError};
use crate::targets::resolve::Resolved;
use crate::targets::spec::KnownFailures;
use crate::targets::Target;
use crate::verdict::VerdictKind;

/// The environment variable that picks one profile.
pub const PROFILE_VARIABLE: &str = "HOPCHECK_PROFILE";

/// The trial that checks a known-failures file names only cases of the suite.
pub const STALE_TRIAL: &str = "known-failures/every-entry-names-a-case";

/// The suite's trials against one target.
pub struct Conformance {
    target: Arc<dyn Target>,
    known_failures: KnownSource,
    snapshots: Option<PathBuf>,
    suites: Option<PathBuf>,
    every_case_passes: bool,
    version_note: Option<String>,
    ignored: bool,
}

/// Where the known failures come from.
enum KnownSource {
    None,
    File(PathBuf),
    Loaded(KnownFailures),
}

impl Conformance {
    /// Trials against `target`, with no known failures (every `fail`,
    /// `warn` and `error` fails its trial) and no snapshots until told.
    pub fn new(target: impl Target + 'static) -> Conformance {
        Conformance::for_target(Arc::new(target))
    }

    /// [`Conformance::new`] for a target already shared.
    pub fn for_target(target: Arc<dyn Target>) -> Conformance {
        Conformance {
            target,
            known_failures: KnownSource::None,
            snapshots: None,
            suites: None,
            every_case_passes: false,
            version_note: None,
            ignored: false,
        }
    }

    /// Trials against a target resolved by name (as `hopcheck run --target`
    /// resolves it): its known failures, a note on failures when its client
    /// is not a version they were made with, and every trial ignored when it
    /// cannot run here.
    pub fn for_resolved(resolved: &Resolved) -> Conformance {
        let mut conformance = Conformance::for_target(resolved.target.clone());
        conformance.known_failures = KnownSource::Loaded(resolved.known_failures.clone());
        if resolved.skip.is_none() {
            conformance.version_note = resolved.version_check().note(resolved.target.name());
        }
        conformance.ignored = resolved.skip.is_some();
        conformance
    }

    /// The target's known-failures file (the format of `targets/*/known-failures.toml`).
    pub fn known_failures(mut self, path: impl Into<PathBuf>) -> Conformance {
        self.known_failures = KnownSource::File(path.into());
        self
    }

    /// Compare each case's observations with `dir/<case id>.snap` when both
    /// profiles run.
    pub fn snapshots(mut self, dir: impl Into<PathBuf>) -> Conformance {
        self.snapshots = Some(dir.into());
        self
    }

    /// Run the cases of this suites folder instead of the embedded suite.
    pub fn suites(mut self, dir: impl Into<PathBuf>) -> Conformance {
        self.suites = Some(dir.into());
        self
    }

    /// Hold the target to `pass` on every case (`info` and `unsupported`
    /// fail too): what the reference user agent is held to.
    pub fn every_case_must_pass(mut self) -> Conformance {
        self.every_case_passes = true;
        self
    }

    /// Run the trials as the test binary's `main` does: arguments from the
    /// command line, results printed by libtest-mimic, the exit code to
    /// return from `main`.
    pub fn run(self) -> ExitCode {
        let args = Arguments::from_args();
        let session = match Session::new() {
            Ok(session) => Arc::new(session),
            Err(e) => {
                let _ = writeln!(std::io::stderr(), "hopcheck: {e}");
                return ExitCode::from(2);
            }
        };
        let trials = match self.trials(&args, &session) {
            Ok(trials) => trials,
            Err(message) => {
                let _ = writeln!(std::io::stderr(), "hopcheck: {message}");
                return ExitCode::from(2);
            }
        };
        let conclusion = libtest_mimic::run(&args, trials);
        drop(session);
        conclusion.exit_code()
    }

    /// The trials, for a test binary that adds trials of its own: one per
    /// case, one per case file that does not load, and the stale-entries
    /// check. Errs (with the sentence to print) on a bad `HOPCHECK_PROFILE`.
    pub fn trials(self, args: &Arguments, session: &Arc<Session>) -> Result<Vec<Trial>, String> {
        let profiles = profiles_from_env()?;
        let (suite, mut trials) = match self.load_suite(args) {
            Ok(loaded) => loaded,
            Err(trial) => return Ok(vec![trial]),
        };
        let known = match &self.known_failures {
            KnownSource::None => KnownFailures::default(),
            KnownSource::Loaded(known) => known.clone(),
            KnownSource::File(path) => match KnownFailures::load(path) {
                Ok(known) => known,
                Err(e) => {
                    let message = e.to_string();
                    trials.push(Trial::test("known-failures", move || Err(message.into())));
                    return Ok(trials);
                }
            },
        };
        let wants_snapshots = self.snapshots.is_some();
        let checks = Arc::new(Checks {
            target: self.target,
            known,
            snapshots: self.snapshots.filter(|_| profiles.len() == Profile::ALL.len()),
            every_case_passes: self.every_case_passes,
            version_note: self.version_note,
            catalogue: suite.catalogue.clone(),
            profiles,
        });
        if wants_snapshots && checks.snapshots.is_none() {
            let _ = writeln!(
                std::io::stderr(),
                "note: snapshots are compared only when both profiles run ({PROFILE_VARIABLE} unset)"
            );
        }
        for case in suite.cases.iter().cloned() {
            let (checks, session) = (checks.clone(), session.clone());
            let trial = Trial::test(case.id.clone(), move || checks.case(&session, &case));
            trials.push(trial.with_ignored_flag(self.ignored));
        }
        let ids: Vec<String> = suite.cases.iter().map(|c| c.id.clone()).collect();
        let stale: Vec<String> = checks
            .known
            .ids()
            .into_iter()
            .filter(|id| ids.binary_search_by(|probe| probe.as_str().cmp(id)).is_err())
            .map(str::to_owned)
            .collect();
        // A single case loaded (`--exact ID`) says nothing about the others;
        // an empty list has nothing to check.
        if suite.errors.is_empty() && ids.len() > 1 && !checks.known.is_empty() {
            let path = checks.known.path.clone();
            trials.push(Trial::test(STALE_TRIAL, move || stale_entries(path.as_deref(), &stale)));
        }
        Ok(trials)
    }

    /// The suite to run, and one failing trial per case file that does not
    /// load; under `--exact ID` with a suites folder, only that case's file.
    fn load_suite(&self, args: &Arguments) -> Result<(Suite, Vec<Trial>), Trial> {
        let loaded = match (&self.suites, args.exact, args.filter.as_deref()) {
            (Some(root), true, Some(id)) if root.join(format!("{id}.toml")).is_file() => case::load::load_one(root, id),
            (Some(root), _, _) => case::load_suite(root),
            (None, _, _) => case::load_embedded(),
        };
        let suite = loaded.map_err(|e| {
            let message = e.to_string();
            Trial::test("suite", move || Err(message.into()))
        })?;
        let trials = suite
            .errors
            .iter()
            .map(|e| {
                let rendered = e.rendered.clone();
                Trial::test(
                    e.id.clone(),
                    move || Err(format!("case file error:\n{rendered}").into()),
                )
            })
            .collect();
        Ok((suite, trials))
    }
}

/// The profiles `HOPCHECK_PROFILE` asks for: both when unset.
pub fn profiles_from_env() -> Result<Vec<Profile>, String> {
    match std::env::var(PROFILE_VARIABLE) {
        Err(_) => Ok(Profile::ALL.to_vec()),
        Ok(value) => Profile::ALL
            .into_iter()
            .find(|p| p.as_str() == value)
            .map(|p| vec![p])
            .ok_or_else(|| format!("{PROFILE_VARIABLE} must be `rfc9110` or `fetch`, not `{value}`")),
    }
}

fn stale_entries(path: Option<&Path>, stale: &[String]) -> Result<(), Failed> {
    if stale.is_empty() {
        return Ok(());
    }
    let file = path.map_or_else(|| "the known failures".to_owned(), |p| p.display().to_string());
    Err(format!("{file} lists ids that name no case of the suite: {}", stale.join(", ")).into())
}

/// A runtime and a runner shared by every trial of a test binary. Dropping
/// the last reference stops the drivers' process groups and removes the
/// runner's scratch folder (the test CA, the state folders).
pub struct Session {
    runtime: tokio::runtime::Runtime,
    runner: Arc<Runner>,
}

impl Session {
    /// A multi-threaded runtime and a runner with the default settings.
    pub fn new() -> Result<Session, RunnerError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(RunnerError::Io)?;
        let runner = Arc::new(Runner::new(RunConfig::default())?);
        Ok(Session { runtime, runner })
    }

    pub fn runner(&self) -> &Arc<Runner> {
        &self.runner
    }

    /// Run `future` to completion on the session's runtime (driver
    /// processes and their pipes live on it across trials).
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        crate::targets::driver::stop_all();
        let _ = std::fs::remove_dir_all(self.runner.scratch_dir());
    }
}

/// What each case's trial checks.
struct Checks {
    target: Arc<dyn Target>,
    known: KnownFailures,
    snapshots: Option<PathBuf>,
    every_case_passes: bool,
    version_note: Option<String>,
    catalogue: Catalogue,
    profiles: Vec<Profile>,
}

impl Checks {
    /// One case under each profile.
    fn case(&self, session: &Session, case: &Case) -> Result<(), Failed> {
        let results: Vec<(Profile, CaseResult)> = self
            .profiles
            .iter()
            .map(|&profile| {
                let result = session.block_on(session.runner().run_case(&*self.target, case, &self.catalogue, profile));
                (profile, result)
            })
            .collect();
        let mut problems: Vec<String> = results
            .iter()
            .filter_map(|(profile, result)| self.unexpected(*profile, result))
            .collect();
        if let Some(dir) = &self.snapshots {
            if let Err(diff) = snapshot::compare(dir, &case.id, &results) {
                problems.push(diff);
            }
        }
        if problems.is_empty() {
            return Ok(());
        }
        problems.extend(self.version_note.iter().map(|note| format!("note: {note}")));
        Err(problems.join("\n").into())
    }

    /// What is wrong with one result, if anything, with the verdict's evidence.
    fn unexpected(&self, profile: Profile, result: &CaseResult) -> Option<String> {
        let verdict = &result.verdict;
        let problem = if self.every_case_passes {
            (verdict.kind != VerdictKind::Pass).then(|| format!("{}: {}", verdict.kind, verdict.detail))
        } else {
            let expected = self.known.expected(&result.id, profile);
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
}
