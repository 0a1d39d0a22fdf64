//! The runner: for each case, start its origin, hand the plan to the target
//! under a time limit, collect the hops and judge them. Cases run in
//! parallel, never more at once than the open-file limit holds
//! ([`descriptors`]): running out of descriptors would make the harness's
//! own failures look like the client's.

pub mod descriptors;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use serde::{Deserialize, Serialize};

use crate::case::{Case, Catalogue, Level, Profile};
use crate::origin::{Hop, Limits, Origin, TestCa};
use crate::targets::{Plan, PlanStep, StepResult, Target, TargetError};
use crate::verdict::{self, Observation, Verdict};

/// How a run is carried out.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub profile: Profile,
    /// Wall-clock limit for one case, steps and delays included.
    pub case_timeout: Duration,
    /// Cases in flight at once, asked for; [`Runner::parallelism`] is what
    /// the open-file limit lets run.
    pub parallelism: usize,
    pub limits: Limits,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            profile: Profile::Rfc9110,
            case_timeout: Duration::from_secs(30),
            parallelism: default_parallelism(),
            limits: Limits::default(),
        }
    }
}

/// Cases in flight by default: four per core. Most of a case is waiting on
/// loopback sockets or deliberate delays, so more cases than cores run.
pub fn default_parallelism() -> usize {
    std::thread::available_parallelism().map_or(8, |n| n.get() * 4)
}

/// The result of one case against one target.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseResult {
    pub id: String,
    pub requirements: Vec<String>,
    pub level: Level,
    /// Flattened: `verdict`, `detail`, `outcome` and `evidence` sit in the row itself.
    #[serde(flatten)]
    pub verdict: Verdict,
    pub hops: Vec<Hop>,
    pub steps: Vec<StepResult>,
    /// What the target wrote to stderr while running this case.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stderr: String,
    pub duration_ms: u64,
}

/// Holds what a run shares between cases: the test CA, its PEM file and a
/// scratch folder for the per-case state folders.
pub struct Runner {
    ca: Arc<TestCa>,
    ca_file: PathBuf,
    scratch: tempfile::TempDir,
    next_state: AtomicU64,
    config: RunConfig,
}

/// Why a runner could not be set up.
#[derive(Debug)]
#[non_exhaustive]
pub enum RunnerError {
    Ca(rcgen::Error),
    Io(std::io::Error),
}

impl std::fmt::Display for RunnerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunnerError::Ca(e) => write!(f, "cannot make the test CA: {e}"),
            RunnerError::Io(e) => write!(f, "cannot prepare the scratch folder: {e}"),
        }
    }
}

impl std::error::Error for RunnerError {}

impl Runner {
    pub fn new(config: RunConfig) -> Result<Runner, RunnerError> {
        let ca = Arc::new(TestCa::new().map_err(RunnerError::Ca)?);
        let scratch = tempfile::Builder::new()
            .prefix("hopcheck-")
            .tempdir()
            .map_err(RunnerError::Io)?;
        let ca_file = scratch.path().join("test-ca.pem");
        ca.write_pem(&ca_file).map_err(RunnerError::Io)?;
        Ok(Runner {
            ca,
            ca_file,
            scratch,
            next_state: AtomicU64::new(1),
            config,
        })
    }

    pub fn config(&self) -> &RunConfig {
        &self.config
    }

    /// The run's scratch folder (the test CA's PEM file and the per-case
    /// state folders), removed when the runner is dropped; a caller exiting
    /// without dropping it (on a signal) removes it itself.
    pub fn scratch_dir(&self) -> &std::path::Path {
        self.scratch.path()
    }

    /// Cases in flight at once: the configured parallelism, lowered to what
    /// the open-file limit holds now ([`descriptors::cases_fitting_now`]).
    pub fn parallelism(&self) -> usize {
        self.config.parallelism.clamp(1, descriptors::cases_fitting_now())
    }

    /// Run one case against `target` under `profile` and judge it.
    pub async fn run_case(
        &self,
        target: &dyn Target,
        case: &Case,
        catalogue: &Catalogue,
        profile: Profile,
    ) -> CaseResult {
        let started = Instant::now();
        let mut result = CaseResult {
            id: case.id.clone(),
            requirements: case.file.requirements.clone(),
            level: verdict::case_level(case, catalogue),
            verdict: Verdict::error("not run"),
            hops: Vec::new(),
            steps: Vec::new(),
            stderr: String::new(),
            duration_ms: 0,
        };
        let declared = target.unsupported();
        let lacking: BTreeSet<_> = case
            .file
            .needs
            .iter()
            .copied()
            .filter(|f| declared.contains(f))
            .collect();
        if !lacking.is_empty() {
            result.verdict = Verdict::unsupported(&lacking);
            return result;
        }
        match self.observe(target, case, profile).await {
            Ok((obs, stderr)) => {
                result.verdict = verdict::judge(case, catalogue, profile, &obs);
                result.hops = obs.hops;
                result.steps = obs.steps;
                result.stderr = stderr;
            }
            Err((verdict, hops, stderr)) => {
                result.verdict = verdict;
                result.hops = hops;
                result.stderr = stderr;
            }
        }
        result.duration_ms = started.elapsed().as_millis() as u64;
        result
    }

    /// Start the origin, run the plan, collect. `Err` carries an `error` verdict.
    async fn observe(
        &self,
        target: &dyn Target,
        case: &Case,
        profile: Profile,
    ) -> Result<(Observation, String), (Verdict, Vec<Hop>, String)> {
        let harness_fault = |what: String| (Verdict::error(format!("harness: {what}")), Vec::new(), String::new());
        let steps = plan_steps(case).map_err(harness_fault)?;
        let origin = Origin::start(
            case.file.origin.clone(),
            case.file.hosts.clone(),
            self.ca.clone(),
            self.config.limits,
        )
        .await
        .map_err(|e| harness_fault(format!("origin could not start: {e}")))?;
        let state_dir = self
            .scratch
            .path()
            .join(format!("state-{}", self.next_state.fetch_add(1, Ordering::Relaxed)));
        // Not `create_dir_all`: once the scratch folder is removed (hopcheck
        // stopping on a signal), no case may create it again.
        std::fs::create_dir(&state_dir).map_err(|e| harness_fault(format!("cannot make the state folder: {e}")))?;
        let plan = Plan {
            case: case.id.clone(),
            profile,
            steps,
            proxy: format!("http://{}", origin.addr()),
            connect_to: origin.addr(),
            ca_file: self.ca_file.clone(),
            state_dir: state_dir.clone(),
            preload: case.file.preload.clone(),
        };
        // The target applies the limit (a driver pool from the moment a
        // process takes the plan, not while the plan waits for one).
        let answer = target.run_within(&plan, self.config.case_timeout).await;
        let hops = origin.settled_hops().await;
        let hop_cap = origin.hop_cap_reached().then_some(self.config.limits.max_hops);
        let accept_fault = origin.accept_fault();
        drop(origin);
        let _ = std::fs::remove_dir_all(&state_dir);
        if let Some(fault) = accept_fault {
            let stderr = answer
                .as_ref()
                .map_or_else(|e| e.stderr(), |run| run.stderr.as_str())
                .to_owned();
            let verdict = Verdict::error(format!(
                "harness fault (not the client): the origin could not accept a connection: {fault}"
            ));
            return Err((verdict, hops, stderr));
        }
        let run = match answer {
            Ok(run) => run,
            Err(err) => {
                let stderr = err.stderr().to_owned();
                return Err((Verdict::error(err.to_string()), hops, stderr));
            }
        };
        if run.steps.len() != plan.steps.len() {
            let err = TargetError::WrongStepCount {
                expected: plan.steps.len(),
                got: run.steps.len(),
            };
            return Err((Verdict::error(err.to_string()), hops, run.stderr));
        }
        let mut unsupported = target.unsupported();
        unsupported.extend(run.unsupported.iter().copied());
        Ok((
            Observation {
                hops,
                steps: run.steps,
                hop_cap,
                unsupported,
            },
            run.stderr,
        ))
    }

    /// Run many cases against one target, [`Runner::parallelism`] at a time, each on
    /// its own task; `on_done` sees each result as it completes. Results come
    /// back sorted by id.
    pub async fn run_all(
        self: &Arc<Self>,
        target: Arc<dyn Target>,
        cases: &[Case],
        catalogue: Arc<Catalogue>,
        profile: Profile,
        mut on_done: impl FnMut(&CaseResult),
    ) -> Vec<CaseResult> {
        let tasks = cases.iter().map(|case| {
            let (runner, target, catalogue, case) = (self.clone(), target.clone(), catalogue.clone(), case.clone());
            let id = case.id.clone();
            let task = tokio::spawn(async move { runner.run_case(&*target, &case, &catalogue, profile).await });
            async move {
                task.await.unwrap_or_else(|e| CaseResult {
                    id,
                    requirements: Vec::new(),
                    level: Level::Info,
                    verdict: Verdict::error(format!("harness: the case's task ended abnormally: {e}")),
                    hops: Vec::new(),
                    steps: Vec::new(),
                    stderr: String::new(),
                    duration_ms: 0,
                })
            }
        });
        let mut results: Vec<CaseResult> = stream::iter(tasks)
            .buffer_unordered(self.parallelism())
            .inspect(|r| on_done(r))
            .collect()
            .await;
        results.sort_by(|a, b| a.id.cmp(&b.id));
        results
    }
}

/// The plan's steps from the case's steps.
fn plan_steps(case: &Case) -> Result<Vec<PlanStep>, String> {
    case.file
        .steps
        .iter()
        .enumerate()
        .map(|(i, step)| {
            let body = match &step.body {
                Some(body) => body.bytes().map_err(|e| format!("step {} body: {e}", i + 1))?,
                None => Vec::new(),
            };
            Ok(PlanStep {
                method: step.method.clone(),
                url: step.url.clone(),
                headers: step.headers.clone(),
                body,
                streamed: step.streamed,
                follow: step.follow,
                delay_ms: step.delay_ms,
                insecure: step.insecure,
            })
        })
        .collect()
}
