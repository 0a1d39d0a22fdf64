//! `hopcheck targets`: every target hopcheck knows, with its client's version
//! or why it is skipped here — never left out silently.

use std::path::PathBuf;
use std::process::ExitCode;

use hopcheck::targets::resolve::resolve;
use hopcheck::targets::spec::{Routing, TargetSpec, VersionCheck};

use super::print::{errln, outln};

#[derive(clap::Args, Debug)]
pub struct TargetsArgs {
    /// Folder of target definitions (default: ./targets, else the project's).
    #[arg(long, value_name = "DIR")]
    targets: Option<PathBuf>,
}

/// One line per target: name, then its client version and routing, or
/// `skipped: <reason>`, or the error that makes its target file unusable.
/// Exit 1 when a target file does not load.
pub fn run(args: TargetsArgs) -> Result<ExitCode, String> {
    let root = args.targets.unwrap_or_else(|| hopcheck::project_dir("targets"));
    let mut broken = 0;
    outln!("reference\tbuilt in (hopcheck {})", env!("CARGO_PKG_VERSION"));
    for name in TargetSpec::available(&root) {
        let loaded = TargetSpec::find(&name, &root).map(|spec| (spec.routing, resolve(&name, &root)));
        let (routing, resolved) = match loaded {
            Ok((routing, Ok(resolved))) => (routing, resolved),
            Ok((_, Err(e))) => {
                broken += 1;
                outln!("{name}\tunusable: {e}");
                continue;
            }
            Err(e) => {
                broken += 1;
                outln!("{name}\tunusable: see below");
                errln!("{e}");
                continue;
            }
        };
        if let Some(reason) = &resolved.skip {
            outln!("{name}\tskipped: {reason}");
            continue;
        }
        let routing = match routing {
            Routing::Proxy => "proxy",
            Routing::ConnectTo => "connect-to",
        };
        let tested = match resolved.version_check() {
            VersionCheck::Untested { .. } => " (not a version its known failures were made with)",
            _ => "",
        };
        outln!("{name}\t{}{tested}; routing: {routing}", resolved.target.version());
    }
    Ok(if broken == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
