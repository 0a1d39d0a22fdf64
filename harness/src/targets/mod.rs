//! Targets: the implementations under test. A target receives a [`Plan`] (the
//! steps of one case and how to reach the origins) and reports what it got.
//!
//! Three kinds: the in-process [`reference::ReferenceAgent`] (and its
//! [`mutant::Mutant`]s), any Rust type implementing [`Target`], and
//! [`driver::DriverTarget`], an external process speaking JSON lines.
//!
//! # Driver protocol
//!
//! One plan per line in (JSON, bodies in base64): the fields of [`Plan`],
//! plus `id`, a number unique among the plans of the run, and `timeout_ms`,
//! the case's time limit (so a driver can give its client a deadline). One
//! answer per line out: `{"id": ID, "steps": [StepResult...],
//! "unsupported": [...]}`, echoing the plan's `id`, one step result per plan
//! step. An answer with no id, another plan's id or a repeated one is an
//! `error` for that case ([`TargetError::WrongAnswerId`]) and the process is
//! replaced. A step's `error` is the **client's** report that the transfer
//! failed (judged like any other behaviour, e.g. curl's exit 47 "Maximum
//! redirects followed"). A driver that cannot carry out or read a step
//! itself (an exception of its own, client output it cannot parse) says so
//! in that step's `driver_error` instead, or in a top-level `driver_error`
//! when it cannot handle the plan at all; either makes the case an `error`
//! ([`TargetError::Driver`]), never the client's `fail`.
//!
//! Each driver runs in a process group of its own; the group is killed
//! (SIGKILL) at a timeout, when the process is replaced, when the target is
//! dropped, and by [`driver::stop_all`]. Its stderr is read while it runs;
//! per plan the first and last 32 KiB are kept, with `[N bytes dropped]`
//! between them.

pub mod driver;
pub mod mutant;
pub mod reference;
pub mod resolve;
pub mod spec;

use std::collections::BTreeSet;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::case::{Feature, Preload, Profile};

/// A boxed future, so that [`Target`] stays object-safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a target is asked to do for one case. This is also the driver
/// protocol's input line (JSON, bodies in base64).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Plan {
    pub case: String,
    pub profile: Profile,
    pub steps: Vec<PlanStep>,
    /// Forward proxy to use for every request: `http://127.0.0.1:PORT`.
    pub proxy: String,
    /// Address to connect to directly instead (curl's `--connect-to`): the
    /// same listener; the logical host travels in SNI and `Host`.
    pub connect_to: SocketAddr,
    /// PEM file of the test CA the client must trust (and nothing else).
    pub ca_file: PathBuf,
    /// A fresh, empty folder for the client's state (HSTS files, cookies).
    pub state_dir: PathBuf,
    /// HSTS hosts to preload before the first step.
    pub preload: Vec<Preload>,
}

/// One request of a plan.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlanStep {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    #[serde(with = "crate::base64_bytes")]
    pub body: Vec<u8>,
    /// Send the body from a stream that cannot be replayed.
    pub streamed: bool,
    pub follow: bool,
    pub delay_ms: u64,
    pub insecure: bool,
}

impl PlanStep {
    /// A request with no headers and no body that follows redirects.
    pub fn new(method: &str, url: &str) -> PlanStep {
        PlanStep {
            method: method.to_owned(),
            url: url.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
            streamed: false,
            follow: true,
            delay_ms: 0,
            insecure: false,
        }
    }
}

/// What the client reported for one step.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepResult {
    /// Final status, when the client got a response it reports as final.
    #[serde(default)]
    pub status: Option<u16>,
    /// Final URL, with the fragment when the client exposes it.
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    #[serde(default, with = "crate::base64_bytes")]
    pub body: Vec<u8>,
    /// The client reported an error instead of a response.
    #[serde(default)]
    pub error: Option<String>,
}

/// The whole answer of a target to one plan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetRun {
    pub steps: Vec<StepResult>,
    /// Features the target declares it lacks for this plan.
    #[serde(default)]
    pub unsupported: BTreeSet<Feature>,
    /// What the target wrote to stderr meanwhile (drivers only).
    #[serde(default)]
    pub stderr: String,
}

/// Why a target gave no usable answer. Each of these is an `error` verdict,
/// never the target's `fail`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TargetError {
    /// The target did not answer within the case's time limit.
    Timeout { after_ms: u64, stderr: String },
    /// The target process could not be started.
    Spawn { program: String, reason: String },
    /// The target process exited or closed its output.
    Crashed { status: String, stderr: String },
    /// The target printed something that is not an answer.
    Garbage {
        line: String,
        reason: String,
        stderr: String,
    },
    /// The target answered for a different number of steps than asked.
    WrongStepCount { expected: usize, got: usize },
    /// A driver's answer did not carry the id of the plan it was given:
    /// none (`got` is `None`), another id as written, or (`repeated`) the id
    /// of a plan the same process had already answered. The process was out
    /// of step with the harness and was replaced.
    WrongAnswerId {
        expected: u64,
        got: Option<String>,
        repeated: bool,
        stderr: String,
    },
    /// A driver reported a fault of its own (not of the client) for the
    /// plan (`step` is `None`) or for step `step` (1-based).
    Driver {
        step: Option<usize>,
        message: String,
        stderr: String,
    },
    /// The harness could not carry out the plan (`step` is `None`) or step
    /// `step` (1-based) with its own resources: descriptors or memory ran
    /// out, or the plan it made was unusable.
    Harness { step: Option<usize>, reason: String },
}

impl std::fmt::Display for TargetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TargetError::Timeout { after_ms, .. } => {
                write!(f, "target did not answer within the case's time limit of {after_ms} ms")
            }
            TargetError::Spawn { program, reason } => write!(f, "could not start `{program}`: {reason}"),
            TargetError::Crashed { status, .. } => write!(f, "target process ended: {status}"),
            TargetError::Garbage { line, reason, .. } => {
                write!(f, "target printed an unreadable answer ({reason}): {line:.200}")
            }
            TargetError::WrongStepCount { expected, got } => {
                write!(f, "target answered {got} steps, {expected} were asked")
            }
            TargetError::WrongAnswerId {
                expected, got: None, ..
            } => write!(
                f,
                "the driver's answer carries no id (plan id `{expected}` was asked); the driver was restarted"
            ),
            TargetError::WrongAnswerId {
                expected,
                got: Some(got),
                repeated,
                ..
            } => {
                write!(f, "the driver answered plan id `{expected}` with id `{got}`")?;
                if *repeated {
                    write!(f, ", the id of a plan it had already answered (a repeated answer)")?;
                }
                write!(f, "; the driver was restarted")
            }
            TargetError::Driver {
                step: Some(step),
                message,
                ..
            } => write!(f, "the driver failed at step {step} (not the client): {message}"),
            TargetError::Driver {
                step: None, message, ..
            } => {
                write!(f, "the driver could not handle the plan (not the client): {message}")
            }
            TargetError::Harness {
                step: Some(step),
                reason,
            } => {
                write!(f, "harness fault at step {step} (not the client): {reason}")
            }
            TargetError::Harness { step: None, reason } => write!(f, "harness fault (not the client): {reason}"),
        }
    }
}

impl std::error::Error for TargetError {}

impl TargetError {
    /// The target's stderr, for the report.
    pub fn stderr(&self) -> &str {
        match self {
            TargetError::Timeout { stderr, .. }
            | TargetError::Crashed { stderr, .. }
            | TargetError::Garbage { stderr, .. }
            | TargetError::WrongAnswerId { stderr, .. }
            | TargetError::Driver { stderr, .. } => stderr,
            _ => "",
        }
    }
}

/// An implementation under test.
pub trait Target: Send + Sync {
    /// Stable name: the report file name and the snapshot folder.
    fn name(&self) -> &str;
    /// Version string of the implementation, for the report.
    fn version(&self) -> String;
    /// Features the target lacks, known before any plan runs.
    fn unsupported(&self) -> BTreeSet<Feature> {
        BTreeSet::new()
    }
    /// Run every step of the plan in one client session.
    fn run<'a>(&'a self, plan: &'a Plan) -> BoxFuture<'a, Result<TargetRun, TargetError>>;

    /// [`Target::run`] within the case's time limit `limit`. By default the
    /// clock runs for the whole call; a target that queues plans (a driver
    /// pool waiting for a free process) overrides this to start the clock
    /// only when the plan's work starts, so waiting is not counted.
    fn run_within<'a>(&'a self, plan: &'a Plan, limit: Duration) -> BoxFuture<'a, Result<TargetRun, TargetError>> {
        Box::pin(async move {
            match tokio::time::timeout(limit, self.run(plan)).await {
                Ok(answer) => answer,
                Err(_elapsed) => Err(TargetError::Timeout {
                    after_ms: u64::try_from(limit.as_millis()).unwrap_or(u64::MAX),
                    stderr: String::new(),
                }),
            }
        })
    }
}
