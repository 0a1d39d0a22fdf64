//! The other side of the driver protocol: [`serve`] turns an in-process
//! [`Target`] into a driver program, so a Rust client tested with
//! [`crate::conformance`] in its own `cargo test` also runs under
//! `hopcheck run --target NAME` from a `targets/NAME/target.toml`.

use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::case::Feature;
use crate::targets::{Plan, StepResult, Target, TargetRun};

/// A plan line as a driver reads it.
#[derive(Debug, Deserialize)]
struct IncomingPlan {
    id: u64,
    timeout_ms: u64,
    #[serde(flatten)]
    plan: Plan,
}

/// An answer line as a driver writes it.
#[derive(Debug, Serialize)]
struct OutgoingAnswer<'a> {
    id: u64,
    steps: &'a [StepResult],
    unsupported: Vec<Feature>,
    #[serde(skip_serializing_if = "Option::is_none")]
    driver_error: Option<String>,
}

/// Serve the driver protocol on stdin and stdout with `target`: one plan
/// line in, one answer line out, until stdin ends (exit 0). With the single
/// argument `--version`, print [`Target::version`] and exit, which is what a
/// `target.toml`'s `version_command` can run.
///
/// A plan runs within its `timeout_ms` less a margin (a tenth, at most
/// 500 ms, so the answer arrives before the harness gives up); a plan the target cannot run
/// ([`crate::targets::TargetError`], or a timeout) is answered with a
/// `driver_error`, which the harness judges `error`. A line that is not a
/// plan ends the process with exit 2 and a message on stderr: the harness
/// then reports the case as `error` with that message and starts a fresh
/// process.
///
/// ```no_run
/// # struct MyClient;
/// # impl hopcheck::targets::Target for MyClient {
/// #     fn name(&self) -> &str { "my-client" }
/// #     fn version(&self) -> String { "my-client 0.1.0".into() }
/// #     fn run<'a>(&'a self, _: &'a hopcheck::targets::Plan)
/// #         -> hopcheck::targets::BoxFuture<'a, Result<hopcheck::targets::TargetRun, hopcheck::targets::TargetError>> {
/// #         unimplemented!()
/// #     }
/// # }
/// fn main() -> std::process::ExitCode {
///     hopcheck::targets::driver::serve(MyClient)
/// }
/// ```
pub fn serve<T: Target + 'static>(target: T) -> ExitCode {
    let mut args = std::env::args().skip(1);
    match (args.next().as_deref(), args.next()) {
        (None, _) => {}
        (Some("--version"), None) => return emit(&mut std::io::stdout(), target.version().as_bytes()),
        (Some(other), _) => {
            return complain(&format!(
                "unknown argument `{other}`: a driver reads plans on stdin (or takes `--version`)"
            ))
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => return complain(&format!("cannot start a tokio runtime: {e}")),
    };
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout();
    for line in stdin.lock().lines() {
        let line = match line {
            Ok(line) => line,
            Err(e) => return complain(&format!("cannot read a plan line: {e}")),
        };
        if line.trim().is_empty() {
            continue;
        }
        let incoming: IncomingPlan = match serde_json::from_str(&line) {
            Ok(plan) => plan,
            Err(e) => return complain(&format!("not a plan line: {e}")),
        };
        let limit = answer_within(incoming.timeout_ms);
        let outcome = runtime.block_on(target.run_within(&incoming.plan, limit));
        let answer = answer_line(&target, incoming.id, outcome);
        let code = emit(&mut stdout, &answer);
        if code != ExitCode::SUCCESS {
            return code;
        }
    }
    ExitCode::SUCCESS
}

/// How long a plan may run so that its answer (a `driver_error` when the
/// target overran) still arrives before the harness, whose clock also counts
/// the pipe, kills the process at `timeout_ms`: a tenth less, at most 500 ms.
fn answer_within(timeout_ms: u64) -> Duration {
    Duration::from_millis(timeout_ms - (timeout_ms / 10).min(500))
}

/// The answer line for one plan's outcome.
fn answer_line<T: Target>(target: &T, id: u64, outcome: Result<TargetRun, crate::targets::TargetError>) -> Vec<u8> {
    let mut unsupported = target.unsupported();
    let (steps, driver_error) = match outcome {
        Ok(run) => {
            unsupported.extend(run.unsupported);
            (run.steps, None)
        }
        Err(e) => (Vec::new(), Some(e.to_string())),
    };
    let answer = OutgoingAnswer {
        id,
        steps: &steps,
        unsupported: unsupported.into_iter().collect(),
        driver_error,
    };
    // Plain data (strings, numbers, base64) always serialises.
    serde_json::to_vec(&answer).unwrap_or_else(|e| {
        format!("{{\"id\": {id}, \"steps\": [], \"driver_error\": \"cannot encode the answer: {e}\"}}").into_bytes()
    })
}

/// Write one line and flush it; a closed stdout ends the driver.
fn emit(out: &mut impl Write, line: &[u8]) -> ExitCode {
    let written = out
        .write_all(line)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::from(1),
    }
}

/// A message on stderr and exit 2.
fn complain(message: &str) -> ExitCode {
    let _ = writeln!(std::io::stderr(), "driver: {message}");
    ExitCode::from(2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targets::{BoxFuture, TargetError};

    struct Fixed(Result<TargetRun, TargetError>);

    impl Target for Fixed {
        fn name(&self) -> &str {
            "fixed"
        }
        fn version(&self) -> String {
            "fixed 1".to_owned()
        }
        fn unsupported(&self) -> std::collections::BTreeSet<Feature> {
            [Feature::Hsts].into()
        }
        fn run<'a>(&'a self, _: &'a Plan) -> BoxFuture<'a, Result<TargetRun, TargetError>> {
            Box::pin(async move { self.0.clone() })
        }
    }

    fn answer(target: &Fixed) -> serde_json::Value {
        let line = answer_line(target, 7, target.0.clone());
        serde_json::from_slice(&line).expect("an answer line is JSON")
    }

    #[test]
    fn an_answer_echoes_the_id_and_declares_what_the_target_lacks() {
        let run = TargetRun {
            steps: vec![StepResult {
                status: Some(200),
                ..StepResult::default()
            }],
            ..TargetRun::default()
        };
        let value = answer(&Fixed(Ok(run)));
        assert_eq!(value["id"], 7);
        assert_eq!(value["steps"][0]["status"], 200);
        assert_eq!(value["unsupported"], serde_json::json!(["hsts"]));
        assert!(value.get("driver_error").is_none());
    }

    #[test]
    fn a_plan_ends_before_the_harness_would_kill_the_driver() {
        assert_eq!(answer_within(30_000), Duration::from_millis(29_500));
        assert_eq!(answer_within(1_000), Duration::from_millis(900));
        assert_eq!(answer_within(0), Duration::ZERO);
    }

    #[test]
    fn a_target_error_is_the_drivers_fault() {
        let value = answer(&Fixed(Err(TargetError::Driver {
            step: Some(2),
            message: "cannot build the request".to_owned(),
            stderr: String::new(),
        })));
        assert_eq!(value["id"], 7);
        assert_eq!(value["steps"], serde_json::json!([]));
        let error = value["driver_error"].as_str().expect("a driver_error");
        assert!(
            error.contains("step 2") && error.contains("cannot build the request"),
            "{error}"
        );
    }
}
