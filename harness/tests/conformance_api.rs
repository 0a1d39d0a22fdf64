//! `hopcheck::conformance`, the API a client crate's `tests/conformance.rs`
//! calls, judged by its trials' outcomes: a client that breaks a rule fails
//! the case's trial unless its known failures list that exact verdict; a
//! listed verdict that changed fails; an entry naming no case fails the
//! stale-entries trial; snapshots catch a change in what the client did.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use hopcheck::conformance::{Conformance, Session, STALE_TRIAL};
use hopcheck::targets::mutant::Mutant;
use hopcheck::targets::reference::ReferenceAgent;
use hopcheck::targets::Target;
use libtest_mimic::Arguments;

/// A case that the 307 mutant fails (it turns the PUT into a GET).
const CASE: &str = "redirect/method-body/307/delete-bytes-http";

fn suites() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../suites")
}

fn changes_method_on_307() -> Arc<dyn Target> {
    let mutant = Mutant::from_name("ChangeMethodOn307").expect("the 307 mutant exists");
    Arc::new(ReferenceAgent::with_mutant(mutant))
}

/// Run the trial named `filter`; (passed, failed).
fn outcome(conformance: Conformance, filter: &str) -> (u64, u64) {
    let args = Arguments {
        filter: Some(filter.to_owned()),
        exact: true,
        test_threads: Some(1),
        ..Arguments::default()
    };
    let session = Arc::new(Session::new().expect("a session"));
    let trials = conformance.trials(&args, &session).expect("trials");
    let conclusion = libtest_mimic::run(&args, trials);
    (conclusion.num_passed, conclusion.num_failed)
}

fn known_failures(text: &str) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().expect("a temporary file");
    std::fs::write(file.path(), text).expect("write the known failures");
    file
}

#[test]
fn a_broken_rule_fails_its_case_unless_that_verdict_is_listed() {
    let unlisted = Conformance::for_target(changes_method_on_307()).suites(suites());
    assert_eq!(outcome(unlisted, CASE), (0, 1));

    let listed = known_failures(&format!(
        "[all]\n\"{CASE}\" = {{ verdict = \"fail\", reason = \"sends GET after a 307\" }}\n"
    ));
    let with_list = Conformance::for_target(changes_method_on_307())
        .suites(suites())
        .known_failures(listed.path());
    assert_eq!(outcome(with_list, CASE), (1, 0));

    let wrong_verdict = known_failures(&format!(
        "[all]\n\"{CASE}\" = {{ verdict = \"warn\", reason = \"sends GET after a 307\" }}\n"
    ));
    let changed = Conformance::for_target(changes_method_on_307())
        .suites(suites())
        .known_failures(wrong_verdict.path());
    assert_eq!(outcome(changed, CASE), (0, 1));
}

#[test]
fn a_listed_case_that_now_passes_fails_and_so_does_an_entry_naming_no_case() {
    let list = known_failures(&format!(
        "[all]\n\"{CASE}\" = {{ verdict = \"fail\", reason = \"sends GET after a 307\" }}\n\
         \"redirect/no-such-case\" = {{ verdict = \"fail\", reason = \"gone\" }}\n"
    ));
    let conformance = || {
        Conformance::new(ReferenceAgent::new())
            .suites(suites())
            .known_failures(list.path())
    };
    assert_eq!(outcome(conformance(), CASE), (0, 1));
    assert_eq!(outcome(conformance(), STALE_TRIAL), (0, 1));
}

#[test]
fn the_embedded_suite_runs_when_no_folder_is_named() {
    // Same case, no `.suites(...)`: found in the suite built into the library.
    assert_eq!(outcome(Conformance::for_target(changes_method_on_307()), CASE), (0, 1));
    assert_eq!(outcome(Conformance::new(ReferenceAgent::new()), CASE), (1, 0));
}

#[test]
fn observations_that_differ_from_the_snapshot_fail() {
    let snapshots = tempfile::tempdir().expect("a temporary folder");
    let recorded = snapshots.path().join(format!("{CASE}.snap"));
    // insta reads INSTA_UPDATE once per process; no other test here
    // compares snapshots. `new` writes a missing or differing snapshot as
    // `.snap.new` (and fails), which is what `cargo insta accept` renames.
    std::env::set_var("INSTA_UPDATE", "new");
    let first = Conformance::new(ReferenceAgent::new()).snapshots(snapshots.path());
    assert_eq!(outcome(first, CASE), (0, 1), "no snapshot yet");
    let pending = recorded.with_extension("snap.new");
    std::fs::rename(&pending, &recorded).expect("the pending snapshot was written");

    let same = Conformance::new(ReferenceAgent::new()).snapshots(snapshots.path());
    assert_eq!(outcome(same, CASE), (1, 0));
    // A client that does otherwise, its verdict listed as known, still
    // fails on the snapshot.
    let listed = known_failures(&format!(
        "[all]\n\"{CASE}\" = {{ verdict = \"fail\", reason = \"sends GET after a 307\" }}\n"
    ));
    let differs = Conformance::for_target(changes_method_on_307())
        .known_failures(listed.path())
        .snapshots(snapshots.path());
    assert_eq!(outcome(differs, CASE), (0, 1));
}

#[test]
fn the_readmes_example_is_rust_reqwests_conformance_test() {
    let read = |path: &str| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    let code = read("targets/rust-reqwest/tests/conformance.rs");
    let readme = read("README.md");
    assert!(
        readme.contains(&format!("```rust\n{code}```")),
        "README.md's example under \"Testing your own Rust client\" must be the code of \
         targets/rust-reqwest/tests/conformance.rs:\n{code}"
    );
}
