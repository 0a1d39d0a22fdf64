//! Setup the benches share: the workspace's folders, the loaded suite, the
//! runtime, a target resolved or skipped, medians and the exit status.
//! Each bench includes it with `mod common;`.

// Each bench uses a part of this module; the rest is dead code in that bench.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use hopcheck::case::{self, Suite};
use hopcheck::targets::resolve::resolve;
use hopcheck::targets::Target;

/// The workspace's root folder (suites/, targets/).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The suite under suites/, loaded.
pub fn suite() -> Suite {
    case::load_suite(&root().join("suites")).expect("the suite loads")
}

/// A whole number from the environment variable `name`, or `default`; at
/// least 1.
pub fn count_from_env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
        .max(1)
}

/// The multi-threaded runtime `hopcheck run` uses.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio")
}

/// The target `name` (the reference, a mutant or a folder under targets/),
/// or `None` with the reason printed: skipped when it is not installed
/// here, counted in `errors` when it cannot be resolved.
pub fn installed_target(name: &str, errors: &mut usize) -> Option<Arc<dyn Target>> {
    let resolved = match resolve(name, &root().join("targets")) {
        Ok(resolved) => resolved,
        Err(e) => {
            println!("{name}: cannot resolve: {e}");
            *errors += 1;
            return None;
        }
    };
    if let Some(reason) = &resolved.skip {
        println!("{name}: skipped: {reason}");
        return None;
    }
    Some(resolved.target)
}

/// Success when no case ended in `error`; otherwise says how many did.
pub fn exit_code(errors: usize) -> ExitCode {
    if errors == 0 {
        ExitCode::SUCCESS
    } else {
        println!("{errors} cases ended in `error`");
        ExitCode::from(1)
    }
}

/// The middle of the times (the upper one of an even count); zero for none.
pub fn median(times: impl IntoIterator<Item = Duration>) -> Duration {
    let mut times: Vec<Duration> = times.into_iter().collect();
    times.sort();
    times.get(times.len() / 2).copied().unwrap_or_default()
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
