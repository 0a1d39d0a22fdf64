//! The `hopcheck` command line: wires loading, running, judging and reporting.
//! Exit codes: 0 nothing unexpected, 1 an unexpected result, 2 usage or harness error;
//! `run` stopped by SIGINT or SIGTERM exits 130 or 143 (see `cli::signals`).

mod cli;

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::dispatch(args) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("hopcheck: {err}");
            ExitCode::from(2)
        }
    }
}
