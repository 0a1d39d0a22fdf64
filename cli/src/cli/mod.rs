//! Subcommands of the `hopcheck` binary. Only this module prints.

pub mod print;

mod explain;
mod mutants;
mod probe;
mod progress;
mod report;
mod requirements;
mod run;
mod signals;
mod targets;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use hopcheck::case::{self, Profile, Suite};

use self::print::errln;

/// A conformance suite for how HTTP clients follow redirects and apply HSTS.
#[derive(clap::Parser, Debug)]
#[command(name = "hopcheck", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Print every case id, one per line.
    List {
        #[arg(long, value_name = "DIR")]
        suites: Option<PathBuf>,
        /// Only ids containing one of these substrings.
        filters: Vec<String>,
    },
    /// Run the suite against a target and write DIR/<target>.json.
    Run(run::RunArgs),
    /// Run every case against the reference and each mutant; show which mutants kill which case.
    Mutants(mutants::MutantsArgs),
    /// Probe a server: send the server-side cases (probes/) and judge its
    /// redirects and HSTS headers; write DIR/probe-<host>.json.
    Probe(probe::ProbeArgs),
    /// Print a case, its rules, and the transcript of one run.
    Explain(explain::ExplainArgs),
    /// Print the JSON schema of case files (suites/schema.json), or with
    /// --report of results files (reports/schema.json).
    Schema {
        /// The schema of results files instead.
        #[arg(long)]
        report: bool,
    },
    /// Print each requirement with the cases citing it (and their verdicts, given --results).
    Requirements(requirements::RequirementsArgs),
    /// List every target with its client's version, or why it is skipped here.
    Targets(targets::TargetsArgs),
    /// Turn results files into index.html, summary.md and junit.xml.
    Report(report::ReportArgs),
}

/// Options shared by the commands that load a suite.
#[derive(clap::Args, Debug, Clone)]
struct SuiteArgs {
    /// Folder of case files (default: ./suites, else the project's).
    #[arg(long, value_name = "DIR")]
    suites: Option<PathBuf>,
}

/// Which target, judged under which profile.
#[derive(clap::Args, Debug, Clone)]
struct TargetArgs {
    /// `reference`, `reference~<Mutant>`, a target name from targets/, or a path to a target file.
    #[arg(long, default_value = "reference")]
    target: String,
    /// Which spec family judges.
    #[arg(long, value_parser = profile_parser(), default_value_t = Profile::Rfc9110)]
    profile: Profile,
    /// Folder of target definitions (default: ./targets, else the project's).
    #[arg(long, value_name = "DIR")]
    targets: Option<PathBuf>,
}

/// `--profile`: the library's profiles (`Profile::ALL`), as clap's possible
/// values so that `--help` describes each and a typo gets a suggestion.
fn profile_parser() -> impl TypedValueParser<Value = Profile> {
    let values = Profile::ALL.map(|profile| PossibleValue::new(profile.as_str()).help(profile.summary()));
    PossibleValuesParser::new(values).try_map(|name| name.parse::<Profile>())
}

impl TargetArgs {
    fn resolve(&self) -> Result<hopcheck::targets::resolve::Resolved, String> {
        let root = self.targets.clone().unwrap_or_else(|| hopcheck::project_dir("targets"));
        hopcheck::targets::resolve::resolve(&self.target, &root).map_err(|e| e.to_string())
    }
}

pub fn dispatch(cli: Cli) -> Result<ExitCode, String> {
    // More open files, more cases in flight (see `runner::descriptors`); if
    // the limit cannot be raised, the runner fits within the one in force.
    let _ = hopcheck::runner::descriptors::raise_soft_limit();
    match cli.command {
        Command::List { suites, filters } => {
            let suite = load(suites)?;
            let cases = select(&suite, &filters)?;
            for case in &cases {
                // A closed pipe (`hopcheck list | head`) ends the listing quietly.
                if !print::stdout_line(format_args!("{}", case.id)) {
                    break;
                }
            }
            for err in &suite.errors {
                errln!("{err}");
            }
            Ok(if suite.errors.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Run(args) => run::run(args),
        Command::Mutants(args) => mutants::run(args),
        Command::Explain(args) => explain::run(args),
        Command::Probe(args) => probe::run(args),
        Command::Requirements(args) => requirements::run(args),
        Command::Targets(args) => targets::run(args),
        Command::Report(args) => report::run(args),
        Command::Schema { report } => {
            print::stdout_text(&if report {
                hopcheck::report::schema::schema_json()
            } else {
                case::schema::schema_json()
            });
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn load(dir: Option<PathBuf>) -> Result<Suite, String> {
    let dir = dir.unwrap_or_else(|| hopcheck::project_dir("suites"));
    case::load_suite(&dir).map_err(|e| e.to_string())
}

/// The suite's cases whose id matches the filters. Filters that match no
/// case, nor any case file that failed to load, are a usage error: running
/// nothing would overwrite a report with an empty one.
fn select(suite: &Suite, filters: &[String]) -> Result<Vec<case::Case>, String> {
    let cases: Vec<case::Case> = suite
        .cases
        .iter()
        .filter(|c| matches(&c.id, filters))
        .cloned()
        .collect();
    let broken = suite.errors.iter().any(|e| matches(&e.id, filters));
    if cases.is_empty() && !broken {
        return Err(if filters.is_empty() {
            format!("no cases in {}", suite.root.display())
        } else {
            format!(
                "no case id contains {}; `hopcheck list` shows the ids",
                filters
                    .iter()
                    .map(|f| format!("`{f}`"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            )
        });
    }
    Ok(cases)
}

/// libtest-style filtering: no filters keeps everything; else any substring.
fn matches(id: &str, filters: &[String]) -> bool {
    filters.is_empty() || filters.iter().any(|f| id.contains(f.as_str()))
}

/// Remove what writes killed mid-way left in a report folder, saying so;
/// a folder that cannot be read is left for the write to report.
fn remove_stale_temp_files(dir: &std::path::Path) {
    if let Ok(removed) = hopcheck::report::remove_stale_temp_files(dir) {
        for file in removed {
            errln!(
                "removed {}, left by a run that was killed while writing",
                file.display()
            );
        }
    }
}

fn profiles(profile: Option<Profile>) -> Vec<Profile> {
    match profile {
        Some(p) => vec![p],
        None => Profile::ALL.to_vec(),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start tokio: {e}"))
}
