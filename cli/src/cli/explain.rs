//! `hopcheck explain <case>`: the case file, the rules it checks, and the
//! transcript of one run (every hop, every step's result, the verdict).

use std::process::ExitCode;

use hopcheck::case::{self, HopKind};
use hopcheck::runner::{RunConfig, Runner};
use hopcheck::verdict::describe_bytes;

use super::print::outln;
use super::{runtime, SuiteArgs, TargetArgs};

#[derive(clap::Args, Debug)]
pub struct ExplainArgs {
    /// The case id, e.g. `redirect/method-body/307/post-text-http`.
    case: String,
    #[command(flatten)]
    target: TargetArgs,
    #[command(flatten)]
    suite: SuiteArgs,
}

pub fn run(args: ExplainArgs) -> Result<ExitCode, String> {
    let root = args
        .suite
        .suites
        .clone()
        .unwrap_or_else(|| hopcheck::project_dir("suites"));
    let catalogue = case::Catalogue::load(&root.join("requirements.toml")).map_err(|e| e.to_string())?;
    let case = case::load_case(&root, &catalogue, &args.case).map_err(|e| e.to_string())?;
    let resolved = args.target.resolve()?;
    if let Some(reason) = resolved.skip {
        return Err(format!("cannot run {}: {reason}", resolved.target.name()));
    }

    outln!("case {} — {}", case.id, case.file.title);
    outln!("file {}", case.path.display());
    // The rules the case cites, then those only an expectation names.
    let mut cited: Vec<&str> = case.file.requirements.iter().map(String::as_str).collect();
    for id in case.outcomes().flat_map(case::Outcome::cited_rules) {
        if !cited.contains(&id) {
            cited.push(id);
        }
    }
    for id in cited {
        match catalogue.get(id) {
            Some(r) => {
                outln!("  {id} [{}] {}: {}", r.level.as_str(), r.source, r.rule);
                outln!("      quote: {}", r.quote);
                if let Some(why) = &r.why {
                    outln!("      why {}: {why}", r.level.as_str());
                }
            }
            None => outln!("  {id} (not in the catalogue)"),
        }
    }
    outln!(
        "\n{}",
        std::fs::read_to_string(&case.path).unwrap_or_default().trim_end()
    );

    let runner = Runner::new(RunConfig::default()).map_err(|e| e.to_string())?;
    let target = resolved.target;
    let result = runtime()?.block_on(runner.run_case(&*target, &case, &catalogue, args.target.profile));
    outln!(
        "\ntranscript against {} under {}:",
        target.name(),
        args.target.profile.as_str()
    );
    for hop in &result.hops {
        let context = format!(
            "[{:?}, connection {}{}]",
            hop.arrival,
            hop.connection,
            hop.sni.as_deref().map(|s| format!(", SNI {s}")).unwrap_or_default(),
        );
        if hop.kind != HopKind::Request {
            // An attempt that never became a request: its summary says what it was.
            outln!("  hop {} {context} {}", hop.index, hop.summary());
            continue;
        }
        outln!(
            "  hop {} {context} {} -> {}{}",
            hop.index,
            hop.summary(),
            hop.status,
            if hop.unscripted { " (unscripted)" } else { "" }
        );
        outln!("      request-target {}", hop.target);
        for (name, value) in &hop.headers {
            outln!("      {name}: {value}");
        }
        outln!("      body: {}", describe_bytes(&hop.body));
    }
    for (i, step) in result.steps.iter().enumerate() {
        match &step.error {
            Some(err) => outln!("  step {}: error: {err}", i + 1),
            None => outln!(
                "  step {}: {} {}",
                i + 1,
                step.status.map(|s| s.to_string()).unwrap_or_else(|| "-".into()),
                step.url.as_deref().unwrap_or("-")
            ),
        }
    }
    if !result.stderr.is_empty() {
        outln!("  stderr:\n{}", result.stderr);
    }
    outln!("\nverdict: {}: {}", result.verdict.kind, result.verdict.detail);
    for m in &result.verdict.evidence {
        outln!("  - {m}");
    }
    Ok(ExitCode::SUCCESS)
}
