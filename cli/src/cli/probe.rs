//! `hopcheck probe <url>`: the server-side cases (`probes/`) against a
//! server, one line per case, the report written to `DIR/probe-<host>.json`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use hopcheck::case::Catalogue;
use hopcheck::probe::{self, ProbeClient};

use super::print::{errln, outln};
use super::{matches, runtime};

#[derive(clap::Args, Debug)]
pub struct ProbeArgs {
    /// The site probed, `https://host[:port]/`: its host goes in SNI and
    /// Host; each case gives its own path.
    url: String,
    /// Where https requests go, `host:port` (default: the URL's host and port).
    #[arg(long, value_name = "HOST:PORT")]
    connect: Option<String>,
    /// Where plain-http requests go, `host:port` (default: the URL's host,
    /// port 80, unless --connect is given: then http cases need this).
    #[arg(long, value_name = "HOST:PORT")]
    connect_http: Option<String>,
    /// PEM file of the CA certificates to trust (default: the system's).
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,
    /// Folder of probe cases (default: ./probes, else the project's).
    #[arg(long, value_name = "DIR")]
    probes: Option<PathBuf>,
    /// Folder holding requirements.toml (default: ./suites, else the project's).
    #[arg(long, value_name = "DIR")]
    suites: Option<PathBuf>,
    /// Folder for the report (default: ./reports, else the project's).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Time limit for one request (connect, handshake, whole response), in ms.
    #[arg(long, default_value_t = 5_000, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..))]
    timeout_ms: u64,
    /// Only cases whose id contains one of these substrings.
    filters: Vec<String>,
}

pub fn run(args: ProbeArgs) -> Result<ExitCode, String> {
    let base = probe::parse_base(&args.url).map_err(|e| e.to_string())?;
    let host = base.host_str().unwrap_or_default().to_owned();
    let suites = args.suites.clone().unwrap_or_else(|| hopcheck::project_dir("suites"));
    let catalogue = Catalogue::load(&suites.join("requirements.toml")).map_err(|e| e.to_string())?;
    let probes_dir = args.probes.clone().unwrap_or_else(|| hopcheck::project_dir("probes"));
    let suite = probe::load_probes(&probes_dir, &catalogue)
        .map_err(|e| format!("cannot read {}: {e}", probes_dir.display()))?;
    for error in &suite.errors {
        errln!("{error}");
    }
    let cases: Vec<_> = suite
        .cases
        .iter()
        .filter(|case| matches(&case.id, &args.filters))
        .cloned()
        .collect();
    if cases.is_empty() {
        return Err(format!("no probe case in {} matches", probes_dir.display()));
    }
    let tls = probe::tls_config(args.ca.as_deref()).map_err(|e| e.to_string())?;
    let https_port = base.port_or_known_default().unwrap_or(443);
    let (https_address, http_address) = match args.connect {
        Some(connect) => (Some(connect), args.connect_http),
        None => (
            Some(format!("{host}:{https_port}")),
            args.connect_http.or_else(|| Some(format!("{host}:80"))),
        ),
    };
    let client = ProbeClient {
        base,
        https_address,
        http_address,
        tls,
        timeout: Duration::from_millis(args.timeout_ms),
    };
    let report = runtime()?.block_on(probe::probe_all(&client, &catalogue, &cases));
    for result in &report.results {
        let code = result
            .judgement
            .code
            .as_deref()
            .map(|code| format!(" [{code}]"))
            .unwrap_or_default();
        outln!(
            "{:<11} {}{code}: {}",
            result.judgement.kind.as_str(),
            result.id,
            result.judgement.reason
        );
    }
    let counts: Vec<String> = report.counts.iter().map(|(kind, n)| format!("{n} {kind}")).collect();
    let out = args.out.unwrap_or_else(|| hopcheck::project_dir("reports"));
    let path = out.join(format!("probe-{host}.json"));
    report
        .write(&path)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    outln!(
        "{} cases: {}; report {}",
        report.results.len(),
        counts.join(", "),
        path.display()
    );
    Ok(if report.has_failures() || !suite.errors.is_empty() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
