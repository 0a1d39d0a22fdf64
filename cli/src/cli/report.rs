//! `hopcheck report`: results files (`hopcheck run --out DIR`) to
//! `index.html`, `summary.md` and `junit.xml` (see `hopcheck::publish`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use hopcheck::publish::{self, Results};
use hopcheck::report::{write_atomic, Report};

use super::print::errln;
use super::{load, SuiteArgs};

#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// A folder of results files (`*.json` written by `hopcheck run`, or
    /// `*.json.gz`, the same gzipped); give
    /// it once per folder, e.g. one per profile (default: ./reports, else the project's).
    #[arg(long = "in", value_name = "DIR")]
    inputs: Vec<PathBuf>,
    /// Where to write index.html, summary.md and junit.xml (default: the first --in).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    #[command(flatten)]
    suite: SuiteArgs,
}

pub fn run(args: ReportArgs) -> Result<ExitCode, String> {
    let inputs = if args.inputs.is_empty() {
        vec![hopcheck::project_dir("reports")]
    } else {
        args.inputs.clone()
    };
    let mut files = Vec::new();
    for dir in &inputs {
        files.extend(read_folder(dir)?);
    }
    let file_count = files.len();
    // Shards of one run become one report; mismatched suite revisions,
    // overlapping or missing shards and doubled runs are refused here.
    let reports = hopcheck::report::merge(files).map_err(|e| e.to_string())?;
    let suite = load(args.suite.suites.clone())?;
    let results = Results::new(&reports, &suite.catalogue).map_err(|e| e.to_string())?;
    let html = publish::html::html(&results).map_err(|e| e.to_string())?;
    let junit = publish::junit::junit(&results).map_err(|e| e.to_string())?;
    let summary = publish::markdown::markdown(&results);

    let out = args.out.clone().unwrap_or_else(|| inputs[0].clone());
    super::remove_stale_temp_files(&out);
    for (name, bytes) in [
        ("index.html", html.as_bytes()),
        ("summary.md", summary.as_bytes()),
        ("junit.xml", junit.as_slice()),
    ] {
        let path = out.join(name);
        write_atomic(&path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        errln!("wrote {}", path.display());
    }
    errln!(
        "{} results files: {} targets, {} cases",
        file_count,
        results.targets.len(),
        results.cases.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// JSON files beside the results that are not results files: the kill
/// matrix `hopcheck mutants` writes by default, and the results files' own
/// JSON Schema (`reports/schema.json`).
const NOT_RESULTS: [&str; 2] = ["mutants.json", "schema.json"];

/// Every `*.json` and `*.json.gz` directly in `dir` but [`NOT_RESULTS`],
/// read as a results file ([`hopcheck::report::read`], which gunzips the
/// latter), in name order. A folder with none, or a file that is not a
/// results file, is an error naming it.
fn read_folder(dir: &Path) -> Result<Vec<(PathBuf, Report)>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| format!("cannot read {}: {e}", dir.display()))?.path();
        let results_file = path.file_name().and_then(|name| name.to_str()).is_some_and(|name| {
            (name.ends_with(".json") || name.ends_with(".json.gz")) && !NOT_RESULTS.contains(&name)
        });
        if results_file && path.is_file() {
            files.push(path);
        }
    }
    if files.is_empty() {
        return Err(format!(
            "no results files (*.json or *.json.gz) in {}; `hopcheck run --out {}` writes them",
            dir.display(),
            dir.display()
        ));
    }
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let report = hopcheck::report::read(&path).map_err(|e| e.to_string())?;
            Ok((path, report))
        })
        .collect()
}
