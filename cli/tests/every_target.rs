//! `hopcheck run --target NAME` as a user runs it after `targets/install`,
//! for every target under `targets/`, under both profiles: it must exit 0
//! (every verdict the one the target's known-failures file records) and
//! write a report holding a result per case run. A target whose client is
//! not installed is reported and its trial ignored.
//!
//! It runs two areas of the suite per target (the status-code and the HSTS
//! upgrade cases: fails, warns and unsupported features for most clients);
//! the whole suite per target, with snapshots, is the library's trial
//! `targets/<name>/known-failures-and-snapshots` (`harness/tests/suite.rs`).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use hopcheck::case::Profile;
use hopcheck::report::Report;
use hopcheck::targets::resolve::{resolve, Resolved};
use hopcheck::targets::spec::TargetSpec;
use libtest_mimic::{Arguments, Failed, Trial};

/// The case filters each run takes.
const AREAS: [&str; 2] = ["redirect/status", "hsts/upgrade"];

fn project(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(name)
}

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let targets = project("targets");
    let trials = TargetSpec::available(&targets)
        .into_iter()
        .map(|name| {
            let ignored = match resolve(&name, &targets) {
                Ok(Resolved { skip: Some(reason), .. }) => {
                    eprintln!("skipped: {name}: {reason}; its `hopcheck run` trial is ignored");
                    true
                }
                _ => false,
            };
            let trial_name = format!("targets/{name}/hopcheck-run");
            Trial::test(trial_name, move || runs_as_recorded(&name)).with_ignored_flag(ignored)
        })
        .collect();
    libtest_mimic::run(&args, trials).exit_code()
}

fn runs_as_recorded(name: &str) -> Result<(), Failed> {
    let out = tempfile::tempdir().map_err(|e| e.to_string())?;
    for profile in Profile::ALL {
        let dir = out.path().join(profile.as_str());
        let output = Command::new(env!("CARGO_BIN_EXE_hopcheck"))
            .args(["run", "--target", name, "--profile", profile.as_str(), "--out"])
            .arg(&dir)
            .args(AREAS)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot start hopcheck: {e}"))?;
        let said = String::from_utf8_lossy(&output.stderr);
        if !output.status.success() {
            return Err(format!(
                "`hopcheck run --target {name} --profile {profile}` ended with {}:\n{said}",
                output.status
            )
            .into());
        }
        let path = dir.join(format!("{name}.json"));
        let text = std::fs::read(&path).map_err(|e| format!("no report at {}: {e}\n{said}", path.display()))?;
        let report: Report =
            serde_json::from_slice(&text).map_err(|e| format!("{} is not a report: {e}", path.display()))?;
        let runs_only_its_areas = report
            .results
            .iter()
            .all(|r| AREAS.iter().any(|area| r.result.id.starts_with(area)));
        if report.target.name != name || report.profile != profile || report.results.is_empty() || !runs_only_its_areas
        {
            return Err(format!(
                "{} holds {} results of `{}` under {} (expected the {} cases of {name} under {profile})",
                path.display(),
                report.results.len(),
                report.target.name,
                report.profile,
                AREAS.join(" and "),
            )
            .into());
        }
    }
    Ok(())
}
