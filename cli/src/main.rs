//! The `hopcheck` command line (crate `hopcheck-cli`): wires the `hopcheck`
//! library's loading, running, judging and reporting.
//! Exit codes: 0 nothing unexpected (or the target skipped: not installed
//! here), 1 an unexpected result, 2 usage or harness error; `run` stopped by
//! SIGINT or SIGTERM exits 130 or 143 (see `cli::signals`).

// All printing goes through `cli::print`, which survives a closed stdout or stderr.
#![deny(clippy::print_stdout, clippy::print_stderr)]

mod cli;

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::dispatch(args) {
        Ok(code) => code,
        Err(err) => {
            cli::print::stderr_line(format_args!("hopcheck: {err}"));
            ExitCode::from(2)
        }
    }
}
