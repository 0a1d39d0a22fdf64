//! `hopcheck report` as a user meets it: results folders in, index.html,
//! summary.md and junit.xml out; a file that is not a results file is a
//! usage error naming it.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const FILTER: &str = "redirect/method-body/307/delete-bytes";

fn hopcheck(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hopcheck"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("hopcheck starts")
}

fn project(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(name)
}

fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

/// Results of the reference and a mutant under `profile` in `dir`.
fn run_both(dir: &Path, profile: &str) {
    let suites = project("suites");
    for target in ["reference", "reference~ChangeMethodOn307"] {
        let out = hopcheck(&[
            "run",
            "--target",
            target,
            "--profile",
            profile,
            "--suites",
            path(&suites),
            "--out",
            path(dir),
            FILTER,
        ]);
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn results_folders_become_a_page_a_summary_and_junit_with_a_suite_per_target_and_profile() {
    let root = tempfile::tempdir().expect("tempdir");
    let (rfc, fetch, site) = (
        root.path().join("rfc9110"),
        root.path().join("fetch"),
        root.path().join("site"),
    );
    run_both(&rfc, "rfc9110");
    run_both(&fetch, "fetch");
    // `hopcheck mutants` writes its kill matrix beside the results by default.
    std::fs::write(rfc.join("mutants.json"), br#"{"mutants": []}"#).expect("write");
    let out = hopcheck(&["report", "--in", path(&rfc), "--in", path(&fetch), "--out", path(&site)]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("4 results files: 2 targets, 2 cases"), "{stderr}");
    for name in ["index.html", "summary.md", "junit.xml"] {
        let meta = std::fs::metadata(site.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(meta.len() > 0, "{name} is empty");
        assert_ne!(
            meta.permissions().mode() & 0o004,
            0,
            "{name} is readable by others (umask 022)"
        );
    }
    let xml = std::fs::read_to_string(site.join("junit.xml")).expect("junit.xml");
    let junit = quick_junit::Report::deserialize_from_str(&xml).expect("junit.xml parses");
    assert_eq!(junit.test_suites.len(), 4);
    let mutant = junit
        .test_suites
        .iter()
        .find(|s| s.name.as_str() == "reference~ChangeMethodOn307 (fetch)")
        .expect("the mutant's suite under fetch");
    assert_eq!((mutant.tests, mutant.failures), (2, 2));
    let summary = std::fs::read_to_string(site.join("summary.md")).expect("summary.md");
    assert!(summary.contains("## Failed MUST cases (4)"), "{summary}");
    let page = std::fs::read_to_string(site.join("index.html")).expect("index.html");
    assert!(page.contains("cells-fetch-1"), "a detail blob per target and profile");
}

#[test]
fn gzipped_results_files_are_read_beside_plain_ones() {
    let root = tempfile::tempdir().expect("tempdir");
    let (results, site) = (root.path().join("results"), root.path().join("site"));
    run_both(&results, "rfc9110");
    // `gzip -n` as reports/publish stores them: the mutant's file becomes
    // `reference~ChangeMethodOn307.json.gz`, the reference's stays plain.
    let gzip = Command::new("gzip")
        .args(["-n", path(&results.join("reference~ChangeMethodOn307.json"))])
        .status()
        .expect("gzip starts");
    assert!(gzip.success());
    let out = hopcheck(&["report", "--in", path(&results), "--out", path(&site)]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("2 results files: 2 targets, 2 cases"), "{stderr}");
    let summary = std::fs::read_to_string(site.join("summary.md")).expect("summary.md");
    assert!(
        summary.contains("ChangeMethodOn307 | 0.1.0 | rfc9110 | 2 | 0 | 2 |"),
        "{summary}"
    );
}

#[test]
fn a_file_that_is_not_a_results_file_is_a_usage_error_naming_it() {
    let root = tempfile::tempdir().expect("tempdir");
    let broken = root.path().join("broken.json");
    std::fs::write(&broken, br#"{"not": "a results file"}"#).expect("write");
    let out = hopcheck(&[
        "report",
        "--in",
        path(root.path()),
        "--out",
        path(&root.path().join("site")),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{}: no `format` key: not a hopcheck results file",
            broken.display()
        )),
        "{stderr}"
    );
    assert!(!root.path().join("site").exists(), "nothing written");
}

#[test]
fn a_folder_without_results_or_with_one_target_twice_is_a_usage_error() {
    let empty = tempfile::tempdir().expect("tempdir");
    let out = hopcheck(&["report", "--in", path(empty.path())]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no results files (*.json or *.json.gz) in"), "{stderr}");

    let root = tempfile::tempdir().expect("tempdir");
    let (a, b) = (root.path().join("a"), root.path().join("b"));
    run_both(&a, "rfc9110");
    std::fs::create_dir_all(&b).expect("mkdir");
    std::fs::copy(a.join("reference.json"), b.join("reference.json")).expect("copy");
    let out = hopcheck(&[
        "report",
        "--in",
        path(&a),
        "--in",
        path(&b),
        "--out",
        path(&root.path().join("site")),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{} and {} both hold reference under rfc9110",
            a.join("reference.json").display(),
            b.join("reference.json").display()
        )),
        "{stderr}"
    );
}

/// The published files are what `hopcheck report` makes of the committed
/// results, and the README's findings table is summary.md's, so neither
/// can go stale unseen after `reports/publish`.
#[test]
fn the_published_summary_and_the_readmes_findings_match_the_committed_results() {
    let out = tempfile::tempdir().expect("tempdir");
    let results = project("reports/results");
    let made = hopcheck(&[
        "report",
        "--in",
        path(&results.join("rfc9110")),
        "--in",
        path(&results.join("fetch")),
        "--out",
        path(out.path()),
    ]);
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let read = |path: PathBuf| std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let summary = read(out.path().join("summary.md"));
    assert!(
        summary == read(project("reports/summary.md")),
        "reports/summary.md is not what the committed results give: run reports/publish"
    );
    let table = summary
        .split("## Rules broken, per target\n\n")
        .nth(1)
        .and_then(|rest| rest.split("\n\n").next())
        .expect("summary.md has the table of rules broken per target")
        .replace("](index.html#", "](reports/index.html#");
    assert!(
        read(project("README.md")).contains(&format!("{table}\n\n")),
        "README.md's \"Published results\" table is not summary.md's: run reports/publish"
    );
}
