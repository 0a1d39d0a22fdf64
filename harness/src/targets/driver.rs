//! Driver targets: a long-lived external process, one JSON plan per line in,
//! one JSON [`super::TargetRun`] per line out; stderr kept for the report.
//!
//! A pool keeps at most N driver processes (N = available parallelism), each
//! handling one plan at a time. A plan's time limit starts when a process is
//! handed to it: waiting for a free process is not counted. A process that
//! misbehaves in any way (ends, hangs, prints something that is not an
//! answer, answers the wrong number of steps) is killed and discarded; the
//! next plan starts a fresh one. A driver that reports a fault of its own
//! (`driver_error`, see [`super`]) stays in the pool, and the case is an
//! `error`.

use std::collections::BTreeSet;
use std::io;
use std::os::unix::fs::FileExt as _;
use std::process::Stdio;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::Semaphore;

use serde::Deserialize;

use super::spec::TargetSpec;
use super::{BoxFuture, Plan, StepResult, Target, TargetError, TargetRun};
use crate::case::Feature;

/// Longest answer line accepted (bodies travel base64 inside it).
const MAX_LINE: usize = 256 << 20;
/// Most stderr kept per plan: the end of it, where the error usually is.
const MAX_STDERR: u64 = 64 << 10;
/// Most of an unreadable line quoted in [`TargetError::Garbage`].
const MAX_QUOTED: usize = 4 << 10;
/// How long a driver that closed its stdout gets to exit before it is killed.
const EXIT_GRACE: Duration = Duration::from_secs(2);

/// A target played by external driver processes described by a [`TargetSpec`].
pub struct DriverTarget {
    spec: TargetSpec,
    timeout: Duration,
    slots: Semaphore,
    idle: Mutex<Vec<Driver>>,
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
            version: OnceLock::new(),
        }
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
    fn driver(&self) -> Result<Driver, TargetError> {
        loop {
            let idle = self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).pop();
            let Some(mut driver) = idle else {
                return self.spawn();
            };
            // A dead (or unknowable) one is dropped, which reaps it.
            if matches!(driver.child.try_wait(), Ok(None)) {
                return Ok(driver);
            }
        }
    }

    fn spawn(&self) -> Result<Driver, TargetError> {
        let spawn_error = |reason: String| TargetError::Spawn {
            program: self.command_line(),
            reason,
        };
        let program = self
            .spec
            .program()
            .ok_or_else(|| spawn_error("the command is empty".to_owned()))?;
        let (stderr, stderr_stdio) = StderrLog::new().map_err(|e| spawn_error(format!("no file for stderr: {e}")))?;
        let mut child = Command::new(program)
            .args(&self.spec.command[1..])
            .current_dir(&self.spec.dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr_stdio)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| spawn_error(e.to_string()))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(spawn_error("no pipes to the process".to_owned()));
        };
        Ok(Driver {
            child,
            stdin,
            stdout: BufReader::new(stdout),
            stderr,
        })
    }

    fn give_back(&self, driver: Driver) {
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(driver);
    }

    async fn run_plan(&self, plan: &Plan, limit: Duration) -> Result<TargetRun, TargetError> {
        let mut line = serde_json::to_vec(plan).map_err(|e| TargetError::Spawn {
            program: self.command_line(),
            reason: format!("cannot encode the plan: {e}"),
        })?;
        line.push(b'\n');
        // The semaphore is never closed; a permit bounds the live processes.
        let _slot = self.slots.acquire().await.ok();
        // From here on, dropping this future drops `driver`, which kills it.
        // The plan's clock starts now, with a process of its own.
        let mut driver = self.driver()?;
        let answer = match tokio::time::timeout(limit, driver.exchange(&line)).await {
            Err(_elapsed) => {
                return Err(TargetError::Timeout {
                    after_ms: u64::try_from(limit.as_millis()).unwrap_or(u64::MAX),
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
        if let Some(message) = answer.driver_error {
            // The driver said what went wrong and is ready for the next plan.
            self.give_back(driver);
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
        self.give_back(driver);
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

/// One driver process and its pipes.
struct Driver {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    stderr: StderrLog,
}

/// How one request/answer exchange with a driver went.
enum Exchange {
    Answer(Vec<u8>),
    TooLong,
    /// The driver stopped reading or writing: how it showed.
    Ended(&'static str),
}

impl Driver {
    /// Write the plan line and read one line back.
    async fn exchange(&mut self, line: &[u8]) -> Exchange {
        if self.stdin.write_all(line).await.is_err() || self.stdin.flush().await.is_err() {
            return Exchange::Ended("stopped reading its input");
        }
        let mut answer = Vec::new();
        loop {
            let buf = match self.stdout.fill_buf().await {
                Ok(buf) => buf,
                Err(_) => return Exchange::Ended("its output broke"),
            };
            if buf.is_empty() {
                return Exchange::Ended("closed its output");
            }
            if let Some(end) = buf.iter().position(|&b| b == b'\n') {
                answer.extend_from_slice(&buf[..end]);
                self.stdout.consume(end + 1);
                return Exchange::Answer(answer);
            }
            let n = buf.len();
            answer.extend_from_slice(buf);
            self.stdout.consume(n);
            if answer.len() > MAX_LINE {
                return Exchange::TooLong;
            }
        }
    }

    /// How the process ended, waiting a little for it; a process still
    /// running after that is killed.
    async fn exit_status(&mut self, how: &str) -> String {
        match tokio::time::timeout(EXIT_GRACE, self.child.wait()).await {
            Ok(Ok(status)) => status.to_string(),
            Ok(Err(e)) => format!("{how}; its status is unknown: {e}"),
            Err(_) => {
                // Best effort: dropping the process kills it anyway.
                let _ = self.child.start_kill();
                format!("{how} but kept running; killed")
            }
        }
    }
}

/// A driver's stderr, written to an unlinked temporary file. The driver
/// never blocks on it, and whatever it wrote before its answer line is in the
/// file by the time the line arrives, so each plan gets its own text.
struct StderrLog {
    file: std::fs::File,
    /// Bytes already handed out.
    taken: u64,
}

impl StderrLog {
    /// The file is emptied when a take finds it this long; a line written in
    /// that very moment can be lost, so it happens rarely.
    const RECYCLE_AT: u64 = 8 << 20;

    fn new() -> io::Result<(StderrLog, Stdio)> {
        // Append mode, so the driver keeps writing at the end after the file is emptied.
        let file = tempfile::Builder::new()
            .prefix("hopcheck-driver-stderr-")
            .append(true)
            .tempfile()?
            .into_file();
        let child_end = file.try_clone()?;
        Ok((StderrLog { file, taken: 0 }, Stdio::from(child_end)))
    }

    /// Everything written since the last take (its last [`MAX_STDERR`] bytes).
    fn take(&mut self) -> String {
        let len = self.file.metadata().map_or(0, |m| m.len());
        let start = self.taken.max(len.saturating_sub(MAX_STDERR)).min(len);
        let skipped = start - self.taken.min(start);
        let mut bytes = vec![0; usize::try_from(len - start).unwrap_or(0)];
        let read = self.file.read_at(&mut bytes, start).unwrap_or(0);
        bytes.truncate(read);
        self.taken = start + read as u64;
        if self.taken >= StderrLog::RECYCLE_AT && self.file.set_len(0).is_ok() {
            self.taken = 0;
        }
        let text = String::from_utf8_lossy(&bytes);
        if skipped > 0 {
            format!("[{skipped} earlier bytes dropped]\n{text}")
        } else {
            text.into_owned()
        }
    }
}

/// A driver's answer line as written.
#[derive(Debug, Deserialize)]
struct Answer {
    #[serde(default)]
    steps: Vec<AnswerStep>,
    #[serde(default)]
    unsupported: BTreeSet<Feature>,
    /// The driver could not handle the plan at all.
    #[serde(default)]
    driver_error: Option<String>,
}

/// One step of an answer: what the client reported, or the driver's own fault.
#[derive(Debug, Deserialize)]
struct AnswerStep {
    #[serde(flatten)]
    result: StepResult,
    #[serde(default)]
    driver_error: Option<String>,
}

/// A driver's answer line, or why it is not one.
fn parse_answer(line: &[u8]) -> Result<Answer, String> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let text = std::str::from_utf8(line).map_err(|e| format!("not UTF-8: {e}"))?;
    serde_json::from_str(text).map_err(|e| format!("not an answer: {e}"))
}

/// The start of an unreadable line, for the error.
fn quote(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    match text.char_indices().nth(MAX_QUOTED) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.into_owned(),
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

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::case::{Preload, Profile};
    use crate::targets::spec::{KnownFailures, Routing};
    use crate::targets::PlanStep;

    fn fixtures() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/drivers")
    }

    fn fixture(script: &str) -> DriverTarget {
        let dir = fixtures();
        DriverTarget::new(TargetSpec {
            name: "fixture".to_owned(),
            description: format!("tests/fixtures/drivers/{script}"),
            path: dir.join("target.toml"),
            dir,
            command: vec!["python3".to_owned(), script.to_owned()],
            version_command: None,
            tested_versions: Vec::new(),
            requires: vec!["python3".to_owned()],
            unsupported: BTreeSet::from([Feature::StreamedBody]),
            routing: Routing::Proxy,
            known_failures: KnownFailures::default(),
        })
    }

    fn step(method: &str, url: &str) -> PlanStep {
        PlanStep::new(method, url)
    }

    fn plan(case: &str, state_dir: &Path, steps: Vec<PlanStep>) -> Plan {
        Plan {
            case: case.to_owned(),
            profile: Profile::Fetch,
            steps,
            proxy: "http://127.0.0.1:4567".to_owned(),
            connect_to: "127.0.0.1:4567".parse().expect("address"),
            ca_file: state_dir.join("ca.pem"),
            state_dir: state_dir.to_path_buf(),
            preload: vec![Preload {
                host: "origin.test".to_owned(),
                include_subdomains: true,
            }],
        }
    }

    fn simple(case: &str, state_dir: &Path) -> Plan {
        plan(case, state_dir, vec![step("GET", "http://origin.test/")])
    }

    fn header<'a>(result: &'a crate::targets::StepResult, name: &str) -> &'a str {
        result
            .headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {name} header in {:?}", result.headers))
    }

    fn pid(run: &TargetRun) -> u32 {
        header(&run.steps[0], "x-pid").parse().expect("pid")
    }

    #[tokio::test]
    async fn echo_round_trips_the_plan() {
        let state = tempfile::tempdir().expect("tempdir");
        let target = fixture("echo.py");
        let mut post = step("POST", "https://origin.test/form?a=1");
        post.headers = vec![
            ("X-A".to_owned(), "1".to_owned()),
            ("x-a".to_owned(), "2".to_owned()),
            ("Empty".to_owned(), String::new()),
        ];
        post.body = (0..=255u8).chain(0..=255u8).collect();
        post.streamed = true;
        post.follow = false;
        post.delay_ms = 5;
        post.insecure = true;
        let plan = plan(
            "roundtrip",
            state.path(),
            vec![post.clone(), step("GET", "http://origin.test/two")],
        );

        let run = target.run(&plan).await.expect("echo answers");

        assert_eq!(run.steps.len(), 2);
        let first = &run.steps[0];
        assert_eq!(first.status, Some(200));
        assert_eq!(first.url.as_deref(), Some("https://origin.test/form?a=1"));
        assert_eq!(first.headers[..3], post.headers[..]);
        assert_eq!(first.body, post.body);
        assert_eq!(first.error, None);
        let echoed: serde_json::Value = serde_json::from_str(header(first, "x-step")).expect("x-step is JSON");
        assert_eq!(
            echoed,
            serde_json::json!({
                "method": "POST", "url": "https://origin.test/form?a=1", "streamed": true, "follow": false,
                "delay_ms": 5, "insecure": true,
                "plan": {
                    "case": "roundtrip", "profile": "fetch", "proxy": "http://127.0.0.1:4567",
                    "connect_to": "127.0.0.1:4567", "ca_file": state.path().join("ca.pem"),
                    "state_dir": state.path(), "preload": [{"host": "origin.test", "include_subdomains": true}],
                },
            })
        );
        assert_eq!(run.steps[1].url.as_deref(), Some("http://origin.test/two"));
        assert!(run.steps[1].body.is_empty());
        // The driver's declaration adds to the target file's.
        assert_eq!(run.unsupported, BTreeSet::from([Feature::Hsts, Feature::StreamedBody]));
        assert_eq!(target.unsupported(), BTreeSet::from([Feature::StreamedBody]));
        assert_eq!(run.stderr, "echo: plan roundtrip\n");
    }

    #[tokio::test]
    async fn a_process_serves_plan_after_plan() {
        let state = tempfile::tempdir().expect("tempdir");
        let target = fixture("echo.py");
        let one = target.run(&simple("one", state.path())).await.expect("answer");
        let two = target.run(&simple("two", state.path())).await.expect("answer");
        assert_eq!(pid(&one), pid(&two));
        // Each plan gets the stderr written for it only.
        assert_eq!(one.stderr, "echo: plan one\n");
        assert_eq!(two.stderr, "echo: plan two\n");
    }

    #[tokio::test]
    async fn concurrent_plans_share_at_most_n_processes() {
        let state = tempfile::tempdir().expect("tempdir");
        let target = fixture("echo.py").with_max_processes(2);
        let plans: Vec<Plan> = (0..6).map(|i| simple(&format!("p{i}"), state.path())).collect();
        let runs = futures::future::join_all(plans.iter().map(|p| target.run(p))).await;
        let pids: BTreeSet<u32> = runs.iter().map(|r| pid(r.as_ref().expect("answer"))).collect();
        assert!(!pids.is_empty() && pids.len() <= 2, "{pids:?}");
        for (i, run) in runs.iter().enumerate() {
            let run = run.as_ref().expect("answer");
            assert_eq!(run.stderr, format!("echo: plan p{i}\n"));
        }
    }

    /// Two live processes in the pool, so the plan after a failure does not
    /// wait for a process to start.
    async fn warm(target: &DriverTarget, state: &Path) -> BTreeSet<u32> {
        let (a, b) = (simple("warm-a", state), simple("warm-b", state));
        let (a, b) = tokio::join!(target.run(&a), target.run(&b));
        BTreeSet::from([pid(&a.expect("answer")), pid(&b.expect("answer"))])
    }

    #[tokio::test]
    async fn a_hanging_driver_times_out_and_the_next_plan_runs() {
        let state = tempfile::tempdir().expect("tempdir");
        // Only the hanging plan gets a short limit: the others may take
        // their time on a busy machine.
        let target = fixture("faulty.py").with_max_processes(2);
        let warm = warm(&target, state.path()).await;

        let hang = simple("hang", state.path());
        let err = target.run_within(&hang, Duration::from_millis(1500)).await.unwrap_err();
        assert!(
            matches!(&err, TargetError::Timeout { after_ms: 1500, stderr } if stderr == "faulty: plan hang\nfaulty: hanging\n"),
            "{err:?}"
        );

        let next = target.run(&simple("after", state.path())).await.expect("answer");
        assert!(warm.contains(&pid(&next)));
        let hung: u32 = std::fs::read_to_string(state.path().join("pid"))
            .expect("pid file")
            .parse()
            .expect("pid");
        assert_ne!(pid(&next), hung);
        wait_gone(hung).await;
    }

    #[tokio::test]
    async fn a_driver_that_exits_is_crashed_with_its_stderr() {
        let state = tempfile::tempdir().expect("tempdir");
        let target = fixture("faulty.py");
        let before = target.run(&simple("before", state.path())).await.expect("answer");

        let err = target.run(&simple("exit", state.path())).await.unwrap_err();
        let TargetError::Crashed { status, stderr } = &err else {
            panic!("expected Crashed, got {err:?}");
        };
        assert_eq!(status, "exit status: 3");
        assert_eq!(stderr, "faulty: plan exit\nfaulty: dying on purpose\n");
        assert_eq!(err.stderr(), stderr);

        let after = target.run(&simple("after", state.path())).await.expect("answer");
        assert_ne!(pid(&before), pid(&after));
    }

    #[tokio::test]
    async fn a_driver_that_closes_its_output_is_killed() {
        let state = tempfile::tempdir().expect("tempdir");
        let target = fixture("faulty.py");
        let err = target.run(&simple("close", state.path())).await.unwrap_err();
        assert!(
            matches!(&err, TargetError::Crashed { status, .. } if status == "closed its output but kept running; killed"),
            "{err:?}"
        );
        target.run(&simple("after", state.path())).await.expect("answer");
    }

    #[tokio::test]
    async fn long_stderr_keeps_its_end() {
        let state = tempfile::tempdir().expect("tempdir");
        let target = fixture("faulty.py");
        let run = target.run(&simple("chatty", state.path())).await.expect("answer");
        let dropped = "faulty: plan chatty\n".len() + 100_000 + "\nlast line\n".len() - (64 << 10);
        assert!(
            run.stderr
                .starts_with(&format!("[{dropped} earlier bytes dropped]\nxxx")),
            "{:.80}",
            run.stderr
        );
        assert!(run.stderr.ends_with("x\nlast line\n"));
        let next = target.run(&simple("next", state.path())).await.expect("answer");
        assert_eq!(next.stderr, "faulty: plan next\n");
    }

    #[tokio::test]
    async fn garbage_is_reported_with_the_line_and_the_reason() {
        let state = tempfile::tempdir().expect("tempdir");
        let target = fixture("faulty.py");
        let before = target.run(&simple("before", state.path())).await.expect("answer");

        let err = target.run(&simple("garbage", state.path())).await.unwrap_err();
        let TargetError::Garbage { line, reason, stderr } = &err else {
            panic!("expected Garbage, got {err:?}");
        };
        assert_eq!(line, "this is not json");
        assert!(reason.starts_with("not an answer: expected"), "{reason}");
        assert_eq!(stderr, "faulty: plan garbage\nfaulty: about to print garbage\n");

        let after = target.run(&simple("after", state.path())).await.expect("answer");
        assert_ne!(pid(&before), pid(&after));
    }

    #[tokio::test]
    async fn a_wrong_step_count_discards_the_process() {
        let state = tempfile::tempdir().expect("tempdir");
        let target = fixture("faulty.py");
        let before = target.run(&simple("before", state.path())).await.expect("answer");

        let err = target.run(&simple("wrong-count", state.path())).await.unwrap_err();
        assert_eq!(err, TargetError::WrongStepCount { expected: 1, got: 2 });

        let after = target.run(&simple("after", state.path())).await.expect("answer");
        assert_ne!(pid(&before), pid(&after));
    }

    #[tokio::test]
    async fn a_driver_s_own_fault_is_a_driver_error_and_the_process_stays() {
        let state = tempfile::tempdir().expect("tempdir");
        let target = fixture("faulty.py");
        let before = target.run(&simple("before", state.path())).await.expect("answer");

        let err = target.run(&simple("plan-fault", state.path())).await.unwrap_err();
        assert_eq!(
            err,
            TargetError::Driver {
                step: None,
                message: "KeyError: 'steps'".to_owned(),
                stderr: "faulty: plan plan-fault\n".to_owned()
            }
        );
        assert!(err.to_string().contains("not the client"), "{err}");

        let two_steps = plan(
            "step-fault",
            state.path(),
            vec![step("GET", "http://origin.test/"), step("GET", "http://origin.test/2")],
        );
        let err = target.run(&two_steps).await.unwrap_err();
        assert!(
            matches!(&err, TargetError::Driver { step: Some(2), message, .. } if message == "cannot read the client's output"),
            "{err:?}"
        );

        // A driver that says what went wrong is still in step with the harness.
        let after = target.run(&simple("after", state.path())).await.expect("answer");
        assert_eq!(pid(&before), pid(&after));
    }

    /// A target that only implements [`Target::run`]: the default
    /// [`Target::run_within`] times the whole call, waiting included.
    struct TimesTheWholeCall(DriverTarget);

    impl Target for TimesTheWholeCall {
        fn name(&self) -> &str {
            self.0.name()
        }
        fn version(&self) -> String {
            self.0.version()
        }
        fn run<'a>(&'a self, plan: &'a Plan) -> BoxFuture<'a, Result<TargetRun, TargetError>> {
            self.0.run(plan)
        }
    }

    /// Four plans in flight (`-j 4`) on a pool of one process that takes a
    /// second per plan: the last plan waits 3 s for the process, as long as
    /// the limit, and must still get its answer.
    #[tokio::test]
    async fn waiting_for_a_free_process_does_not_count_against_the_limit() {
        let state = tempfile::tempdir().expect("tempdir");
        let limit = Duration::from_secs(3);
        let plans: Vec<Plan> = (0..4).map(|i| simple(&format!("p{i}"), state.path())).collect();

        let target = fixture("slow.py").with_max_processes(1);
        let runs = futures::future::join_all(plans.iter().map(|p| target.run_within(p, limit))).await;
        for (i, run) in runs.iter().enumerate() {
            let run = run.as_ref().unwrap_or_else(|e| panic!("plan {i}: {e}"));
            assert_eq!(run.stderr, format!("slow: plan p{i}\n"));
        }

        // The same plans timed from the call: the last one waits out its
        // limit in the queue, which is what the pool's own clock avoids.
        let whole = TimesTheWholeCall(fixture("slow.py").with_max_processes(1));
        let runs = futures::future::join_all(plans.iter().map(|p| whole.run_within(p, limit))).await;
        assert!(
            matches!(runs.last(), Some(Err(TargetError::Timeout { after_ms: 3000, .. }))),
            "{runs:?}"
        );
    }

    #[tokio::test]
    async fn dropping_a_run_mid_plan_kills_its_process() {
        let state = tempfile::tempdir().expect("tempdir");
        let target = fixture("faulty.py");
        let hang = simple("hang", state.path());
        let pid_file = state.path().join("pid");
        let hung = {
            let mut run = target.run(&hang);
            // Drive the run until the driver has the plan, then drop it.
            loop {
                tokio::select! {
                    result = &mut run => panic!("a hanging driver answered: {result:?}"),
                    () = tokio::time::sleep(Duration::from_millis(20)) => {}
                }
                if let Some(pid) = std::fs::read_to_string(&pid_file)
                    .ok()
                    .and_then(|s| s.parse::<u32>().ok())
                {
                    break pid;
                }
            }
        };
        wait_gone(hung).await;
        let after = target.run(&simple("after", state.path())).await.expect("answer");
        assert_ne!(pid(&after), hung);
    }

    #[tokio::test]
    async fn a_missing_program_is_a_spawn_error() {
        let state = tempfile::tempdir().expect("tempdir");
        let mut spec = fixture("echo.py").spec().clone();
        spec.command = vec!["./no-such-driver".to_owned()];
        let err = DriverTarget::new(spec)
            .run(&simple("x", state.path()))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, TargetError::Spawn { program, .. } if program == "./no-such-driver"),
            "{err:?}"
        );
    }

    #[test]
    fn version_is_the_first_line_of_the_version_command() {
        let mut spec = fixture("echo.py").spec().clone();
        assert_eq!(DriverTarget::new(spec.clone()).version(), "unknown");
        spec.version_command = Some(vec![
            "python3".to_owned(),
            "-c".to_owned(),
            "print('demo 1.2\\nmore')".to_owned(),
        ]);
        let target = DriverTarget::new(spec);
        assert_eq!(target.version(), "demo 1.2");
        assert_eq!(target.name(), "fixture");
    }

    #[test]
    fn answers_are_parsed_without_panicking() {
        assert!(parse_answer(b"{\"steps\": []}\r").is_ok());
        assert!(parse_answer(b"\xff\xfe").unwrap_err().starts_with("not UTF-8"));
        assert!(parse_answer(b"").is_err());
        assert!(parse_answer(b"{\"steps\": [{\"body\": \"not base64!\"}]}").is_err());
        assert!(parse_answer(b"{\"steps\": [{\"status\": 70000}]}").is_err());
        assert_eq!(
            quote("é".repeat(MAX_QUOTED + 5).as_bytes()).chars().count(),
            MAX_QUOTED + 1
        );
    }

    /// The curl target from `targets/curl`, or `None` (and why, printed) when
    /// curl or python3 is not installed here.
    #[allow(clippy::print_stderr)]
    fn curl() -> Option<DriverTarget> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../targets");
        let spec = TargetSpec::find("curl", &root).expect("targets/curl is a valid target");
        let missing = spec.missing_requirements();
        if missing.is_empty() {
            Some(DriverTarget::new(spec))
        } else {
            eprintln!("skipped: not installed here: {}", missing.join(", "));
            None
        }
    }

    fn rule(on: &str, status: u16, headers: &[(&str, &str)], body: Option<&str>) -> crate::case::OriginRule {
        crate::case::OriginRule {
            on: on.to_owned(),
            method: None,
            reply: crate::case::Reply {
                status,
                headers: headers.iter().map(|(n, v)| ((*n).to_owned(), (*v).into())).collect(),
                body: body.map(|b| crate::case::Body::Text(b.to_owned())),
            },
        }
    }

    /// An origin serving `rules`, and a plan reaching it the way the curl target does.
    async fn world(
        rules: Vec<crate::case::OriginRule>,
        steps: Vec<PlanStep>,
        files: &Path,
    ) -> (crate::origin::Origin, Plan) {
        let ca = std::sync::Arc::new(crate::origin::TestCa::new().expect("test CA"));
        let ca_file = files.join("ca.pem");
        ca.write_pem(&ca_file).expect("write CA");
        let state_dir = files.join("state");
        std::fs::create_dir(&state_dir).expect("state folder");
        let origin = crate::origin::Origin::start(rules, Vec::new(), ca, crate::origin::Limits::default())
            .await
            .expect("origin starts");
        let plan = Plan {
            case: "driver/curl".to_owned(),
            profile: Profile::Rfc9110,
            steps,
            proxy: origin.proxy_url(),
            connect_to: origin.addr(),
            ca_file,
            state_dir,
            preload: Vec::new(),
        };
        (origin, plan)
    }

    #[tokio::test]
    async fn curl_keeps_post_and_its_body_across_307() {
        let Some(curl) = curl() else { return };
        let files = tempfile::tempdir().expect("tempdir");
        let rules = vec![
            rule("https://origin.test/start", 307, &[("Location", "/now")], None),
            rule("https://origin.test/now", 200, &[], Some("done")),
        ];
        let mut post = step("POST", "https://origin.test/start");
        post.headers = vec![(
            "Content-Type".to_owned(),
            "application/x-www-form-urlencoded".to_owned(),
        )];
        post.body = b"a=1&b=%00".to_vec();
        let (origin, plan) = world(rules, vec![post], files.path()).await;

        let run = curl.run(&plan).await.expect("curl answers");

        let result = &run.steps[0];
        assert_eq!(result.error, None, "stderr: {}", run.stderr);
        assert_eq!(result.status, Some(200));
        assert_eq!(result.url.as_deref(), Some("https://origin.test/now"));
        assert_eq!(result.body, b"done");
        assert!(result
            .headers
            .iter()
            .any(|(n, v)| n.eq_ignore_ascii_case("content-length") && v == "4"));
        let hops = origin.hops();
        assert_eq!(hops.len(), 2, "{hops:?}");
        for hop in &hops {
            assert_eq!(
                (hop.scheme.as_str(), hop.host.as_str(), hop.port),
                ("https", "origin.test", 443)
            );
            assert_eq!(hop.arrival, crate::origin::Arrival::Direct);
            assert_eq!(hop.method, "POST");
            assert_eq!(hop.body, b"a=1&b=%00");
            assert_eq!(hop.sni.as_deref(), Some("origin.test"));
        }
        assert_eq!(hops[1].target, "/now");
        assert!(run.stderr.contains("$ curl -q"), "{}", run.stderr);
        assert_eq!(run.unsupported, BTreeSet::from([Feature::StreamedBody]));
        assert!(curl.version().starts_with("curl "), "{}", curl.version());
    }

    #[tokio::test]
    async fn curl_keeps_hsts_across_the_steps_of_a_plan() {
        let Some(curl) = curl() else { return };
        let files = tempfile::tempdir().expect("tempdir");
        let sts = [("Strict-Transport-Security", "max-age=600")];
        let rules = vec![
            rule("https://learned.test/", 200, &sts, Some("secure")),
            rule("http://learned.test/again", 200, &[], Some("plain")),
            rule("https://learned.test/again", 200, &[], Some("upgraded")),
            rule("http://sub.preloaded.test/", 200, &[], Some("plain")),
            rule("https://sub.preloaded.test/", 200, &[], Some("upgraded")),
        ];
        let steps = vec![
            step("GET", "https://learned.test/"),
            step("GET", "http://learned.test/again"),
            step("GET", "http://sub.preloaded.test/"),
        ];
        let (origin, mut plan) = world(rules, steps, files.path()).await;
        plan.preload = vec![Preload {
            host: "preloaded.test".to_owned(),
            include_subdomains: true,
        }];

        let run = curl.run(&plan).await.expect("curl answers");

        let bodies: Vec<&[u8]> = run.steps.iter().map(|s| s.body.as_slice()).collect();
        assert_eq!(
            bodies,
            [&b"secure"[..], b"upgraded", b"upgraded"],
            "stderr: {}",
            run.stderr
        );
        let urls: Vec<String> = origin.hops().iter().map(|hop| hop.url()).collect();
        assert_eq!(
            urls,
            [
                "https://learned.test/",
                "https://learned.test/again",
                "https://sub.preloaded.test/"
            ]
        );
    }

    /// Wait until process `pid` no longer runs (gone, or a zombie about to be reaped).
    async fn wait_gone(pid: u32) {
        for _ in 0..1000 {
            match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
                Err(_) => return,
                Ok(stat)
                    if stat
                        .rsplit(')')
                        .next()
                        .is_some_and(|rest| rest.trim_start().starts_with('Z')) =>
                {
                    return
                }
                Ok(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
        panic!("process {pid} still runs");
    }
}
