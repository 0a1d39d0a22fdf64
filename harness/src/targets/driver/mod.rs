//! Driver targets: a long-lived external process, one JSON plan line in,
//! one JSON answer line out (see [`crate::targets`] for the protocol);
//! stderr kept, bounded, for the report.
//!
//! A pool keeps at most N driver processes (N = available parallelism), each
//! handling one plan at a time, each in a process group of its own
//! (see [`stop_all`]). A plan's time limit starts when a process is handed to it:
//! waiting for a free process is not counted. Every plan line carries an id
//! the answer must echo, so an answer is never taken for another plan's. A
//! process that misbehaves in any way (ends, hangs, prints something that is
//! not an answer, answers with another id or the wrong number of steps) is
//! killed with its group and discarded, and so is one that printed more than
//! its answer line (the answer still counts); the next plan starts a fresh one. A driver that reports a
//! fault of its own (`driver_error`, see [`crate::targets`]) stays in the
//! pool, and the case is an `error`.

mod process;
mod protocol;
mod serve;
mod stderr;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::process::Stdio;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use tokio::sync::Semaphore;

use self::process::{DriverProcess, Exchange, MAX_LINE};
use self::protocol::{parse_answer, quote, IdCheck, PlanLine};
use super::spec::TargetSpec;
use super::{BoxFuture, Plan, Target, TargetError, TargetRun};
use crate::case::Feature;

pub use self::process::stop_all;
pub use self::serve::serve;

/// A target played by external driver processes described by a [`TargetSpec`].
pub struct DriverTarget {
    spec: TargetSpec,
    timeout: Duration,
    slots: Semaphore,
    idle: Mutex<Vec<DriverProcess>>,
    /// Whether a process serves plan after plan (else: one plan each).
    reuse: bool,
    version: OnceLock<String>,
}

impl DriverTarget {
    /// How long one plan may take unless [`DriverTarget::with_timeout`] says otherwise.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

    /// A pool of at most `available_parallelism` processes running `spec.command`.
    pub fn new(spec: TargetSpec) -> DriverTarget {
        let processes = std::thread::available_parallelism().map_or(1, |n| n.get());
        DriverTarget {
            spec,
            timeout: DriverTarget::DEFAULT_TIMEOUT,
            slots: Semaphore::new(processes),
            idle: Mutex::new(Vec::new()),
            reuse: true,
            version: OnceLock::new(),
        }
    }

    /// Start a fresh process for every plan and stop it after its answer,
    /// as a driver without a persistent loop would run: what persistent
    /// drivers save is measured against this (`cargo bench --bench drivers`).
    pub fn with_a_process_per_plan(mut self) -> DriverTarget {
        self.reuse = false;
        self
    }

    /// Give up on a plan run with [`Target::run`] (and kill its process)
    /// after `timeout`; [`Target::run_within`] takes its limit instead.
    pub fn with_timeout(mut self, timeout: Duration) -> DriverTarget {
        self.timeout = timeout;
        self
    }

    /// Run at most `processes` (at least 1) driver processes at once.
    pub fn with_max_processes(mut self, processes: usize) -> DriverTarget {
        self.slots = Semaphore::new(processes.max(1));
        self
    }

    pub fn spec(&self) -> &TargetSpec {
        &self.spec
    }

    fn command_line(&self) -> String {
        self.spec.command.join(" ")
    }

    /// An idle process that is still alive, or a fresh one.
    fn driver(&self) -> Result<DriverProcess, TargetError> {
        loop {
            let idle = self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).pop();
            let Some(mut driver) = idle else {
                return DriverProcess::spawn(&self.spec).map_err(|reason| TargetError::Spawn {
                    program: self.command_line(),
                    reason,
                });
            };
            // A dead one is dropped, which kills its group and reaps it.
            if driver.is_running() {
                return Ok(driver);
            }
        }
    }

    fn give_back(&self, driver: DriverProcess) {
        if !self.reuse {
            // Dropping it kills its process group.
            return;
        }
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(driver);
    }

    async fn run_plan(&self, plan: &Plan, limit: Duration) -> Result<TargetRun, TargetError> {
        let id = protocol::next_plan_id();
        let timeout_ms = u64::try_from(limit.as_millis()).unwrap_or(u64::MAX);
        let line = PlanLine { id, timeout_ms, plan }
            .encode()
            .map_err(|e| TargetError::Spawn {
                program: self.command_line(),
                reason: format!("cannot encode the plan: {e}"),
            })?;
        // The semaphore is never closed; a permit bounds the live processes.
        let _slot = self.slots.acquire().await.ok();
        // From here on, dropping this future drops `driver`, which kills its group.
        // The plan's clock starts now, with a process of its own.
        let mut driver = self.driver()?;
        let answer = match tokio::time::timeout(limit, driver.exchange(id, &line)).await {
            Err(_elapsed) => {
                return Err(TargetError::Timeout {
                    after_ms: timeout_ms,
                    stderr: driver.stderr.take(),
                })
            }
            Ok(Exchange::Ended(how)) => {
                let status = driver.exit_status(how).await;
                return Err(TargetError::Crashed {
                    status,
                    stderr: driver.stderr.take(),
                });
            }
            Ok(Exchange::TooLong) => {
                return Err(TargetError::Garbage {
                    line: String::new(),
                    reason: format!("answer line longer than {MAX_LINE} bytes"),
                    stderr: driver.stderr.take(),
                })
            }
            Ok(Exchange::Answer(answer)) => answer,
        };
        let stderr = driver.stderr.take();
        let answer = match parse_answer(&answer) {
            Ok(answer) => answer,
            Err(reason) => {
                return Err(TargetError::Garbage {
                    line: quote(&answer),
                    reason,
                    stderr,
                })
            }
        };
        match answer.check_id(id) {
            IdCheck::Matches => {}
            IdCheck::Missing => {
                return Err(TargetError::WrongAnswerId {
                    expected: id,
                    got: None,
                    repeated: false,
                    stderr,
                })
            }
            IdCheck::Other { written, number } => {
                return Err(TargetError::WrongAnswerId {
                    expected: id,
                    got: Some(written),
                    repeated: number.is_some_and(|n| driver.was_given(n)),
                    stderr,
                })
            }
        }
        // More output than the answer line: the next plan would read it.
        let in_step = !driver.has_unread_output();
        if let Some(message) = answer.driver_error {
            // The driver said what went wrong and is ready for the next plan.
            if in_step {
                self.give_back(driver);
            }
            return Err(TargetError::Driver {
                step: None,
                message,
                stderr,
            });
        }
        if answer.steps.len() != plan.steps.len() {
            return Err(TargetError::WrongStepCount {
                expected: plan.steps.len(),
                got: answer.steps.len(),
            });
        }
        if in_step {
            self.give_back(driver);
        }
        let fault = answer
            .steps
            .iter()
            .enumerate()
            .find_map(|(i, step)| step.driver_error.clone().map(|message| (i + 1, message)));
        if let Some((step, message)) = fault {
            return Err(TargetError::Driver {
                step: Some(step),
                message,
                stderr,
            });
        }
        let mut unsupported = answer.unsupported;
        unsupported.extend(self.spec.unsupported.iter().copied());
        Ok(TargetRun {
            steps: answer.steps.into_iter().map(|step| step.result).collect(),
            unsupported,
            stderr,
        })
    }
}

impl Target for DriverTarget {
    fn name(&self) -> &str {
        &self.spec.name
    }

    /// The first line `version_command` prints, run once; "unknown" and why otherwise.
    fn version(&self) -> String {
        self.version.get_or_init(|| client_version(&self.spec)).clone()
    }

    fn unsupported(&self) -> BTreeSet<Feature> {
        self.spec.unsupported.clone()
    }

    fn run<'a>(&'a self, plan: &'a Plan) -> BoxFuture<'a, Result<TargetRun, TargetError>> {
        Box::pin(self.run_plan(plan, self.timeout))
    }

    fn run_within<'a>(&'a self, plan: &'a Plan, limit: Duration) -> BoxFuture<'a, Result<TargetRun, TargetError>> {
        Box::pin(self.run_plan(plan, limit))
    }
}

/// The first line `version_command` prints.
fn client_version(spec: &TargetSpec) -> String {
    let Some(argv) = spec.version_command.as_ref().filter(|argv| !argv.is_empty()) else {
        return "unknown".to_owned();
    };
    let program = if argv[0].contains('/') {
        spec.dir.join(&argv[0])
    } else {
        argv[0].clone().into()
    };
    let output = std::process::Command::new(program)
        .args(&argv[1..])
        .current_dir(&spec.dir)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output();
    match output {
        Ok(output) => match String::from_utf8_lossy(&output.stdout).lines().next().map(str::trim) {
            Some(line) if !line.is_empty() => line.to_owned(),
            _ => format!("unknown (`{}` printed nothing, {})", argv.join(" "), output.status),
        },
        Err(e) => format!("unknown (cannot run `{}`: {e})", argv.join(" ")),
    }
}
